"""Minimal safetensors reader/writer (numpy only) for the engine's model files.

Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, raw little-endian
tensor data. `__metadata__` holds string values only; the engine's model config is
stored as a JSON string under "config" (docs/weights-format.md).
"""
import json
import struct
import numpy as np

FORMAT = "refqsr"
FORMAT_VERSION = "1"
_DTYPES = {"F32": np.float32, "F64": np.float64, "I8": np.int8, "U8": np.uint8,
           "I16": np.int16, "I32": np.int32, "I64": np.int64}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def save(path, tensors, config):
    """tensors: dict name -> numpy array; written in sorted name order."""
    header = {"__metadata__": {"format": FORMAT, "format_version": FORMAT_VERSION,
                               "config": json.dumps(config, sort_keys=True)}}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        dt = _NAMES[a.dtype]
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)  # align data to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def load(path):
    """Returns (tensors dict, config dict, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        s, e = info["data_offsets"]
        dt = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(data[base + s: base + e], dtype=dt).reshape(info["shape"]).copy()
    return out, json.loads(meta.get("config", "{}")), meta
