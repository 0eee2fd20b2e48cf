"""RefQsr.Engine from Python: numpy arrays in and out, through the C library (librefqsr,
docs/c-api.md) with ctypes. Needs numpy and librefqsr.so; `dotnet publish src/RefQsr.Native ...`
puts this file beside the library.

    import numpy as np, refqsr
    model = refqsr.Model("weights/srresnet-ddtb-w8a8.safetensors")
    # RefQSR models also take their ClustBlock:
    # refqsr.Model("weights/srresnet-ddtb-refqsr-8-4.safetensors", clustblock="weights/clustblock-8bit.safetensors")
    hr = model.upscale(lr)      # lr: uint8 (H, W, 3) RGB; hr: uint8 (4H, 4W, 3)

Failures raise RefQsrError with the library's status and message. The library is found at
`library=`, else $REFQSR_LIBRARY, else beside this file, else on the loader's search path.
"""
import ctypes
import ctypes.util
import math
import os
import sys

import numpy as np

ABI_VERSION = 1
STATUS_NAMES = {1: "invalid argument", 2: "bad model", 3: "model arithmetic", 4: "out of memory", 5: "cancelled", 6: "internal"}

_PROGRESS = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p)


class _Options(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("patch_size", ctypes.c_int32), ("full_image", ctypes.c_int32),
                ("threads", ctypes.c_int32), ("set_tau", ctypes.c_int32), ("tau", ctypes.c_double),
                ("progress", _PROGRESS), ("progress_user", ctypes.c_void_p)]


class _Stats(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("patches", ctypes.c_int32), ("giga_bitops", ctypes.c_double),
                ("fqr", ctypes.c_double), ("reference_ratio", ctypes.c_double), ("seconds", ctypes.c_double)]


class RefQsrError(Exception):
    """A failed call: `status` is the refqsr_status (REFQSR_BAD_MODEL = 2, ...), the text its message."""

    def __init__(self, status, message):
        super().__init__(f"{message} ({STATUS_NAMES.get(status, status)})")
        self.status = status


def _library_path(path):
    name = {"win32": "librefqsr.dll", "darwin": "librefqsr.dylib"}.get(sys.platform, "librefqsr.so")
    beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    found = path or os.environ.get("REFQSR_LIBRARY") or (beside if os.path.exists(beside) else ctypes.util.find_library("refqsr"))
    if not found:
        raise OSError(f"librefqsr not found: pass library=, set REFQSR_LIBRARY, or put {name} beside refqsr.py")
    return found


def _load_library(path=None):
    c = _library_path(path)
    lib = ctypes.CDLL(c)
    lib.refqsr_abi_version.restype = ctypes.c_int32
    if lib.refqsr_abi_version() != ABI_VERSION:
        raise OSError(f"{c} has ABI version {lib.refqsr_abi_version()}, this module needs {ABI_VERSION}")
    lib.refqsr_last_error.restype = ctypes.c_char_p
    lib.refqsr_model_load.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.refqsr_model_free.argtypes = [ctypes.c_void_p]
    lib.refqsr_model_scale.argtypes = [ctypes.c_void_p]
    lib.refqsr_model_describe.argtypes = [ctypes.c_void_p]
    lib.refqsr_model_describe.restype = ctypes.c_char_p
    lib.refqsr_upscale.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_size_t,
                                   ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(_Options), ctypes.POINTER(_Stats)]
    return lib


class Model:
    """A loaded model. One Model serves concurrent upscale calls from many threads."""

    def __init__(self, path, clustblock=None, library=None):
        self._lib = _load_library(library)
        self._handle = ctypes.c_void_p()
        self._check(self._lib.refqsr_model_load(os.fsencode(path), None if clustblock is None else os.fsencode(clustblock),
                                                ctypes.byref(self._handle)))
        self.scale = self._lib.refqsr_model_scale(self._handle)
        self.description = self._lib.refqsr_model_describe(self._handle).decode()
        self.last_stats = None

    def _check(self, status):
        if status != 0:
            raise RefQsrError(status, self._lib.refqsr_last_error().decode())

    def upscale(self, image, patch_size=0, full_image=False, threads=0, tau=None, progress=None):
        """image: uint8 array (H, W, 3), RGB; rows may be padded (any row stride), pixels packed.
        Returns the (scale H, scale W, 3) uint8 output; `last_stats` then holds patches,
        giga_bitops, fqr, reference_ratio (NaN for plain models) and seconds. progress(done,
        total) is called after each patch from a worker thread; a true result cancels."""
        if self._handle is None:
            raise RefQsrError(1, "the model is closed")
        a = np.asarray(image)
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"image must be uint8 of shape (H, W, 3), got {a.dtype} {a.shape}")
        if a.strides[1:] != (3, 1) or a.strides[0] < 3 * a.shape[1]:
            a = np.ascontiguousarray(a)
        h, w = a.shape[:2]
        out = np.empty((self.scale * h, self.scale * w, 3), np.uint8)
        options = _Options(struct_size=ctypes.sizeof(_Options), patch_size=patch_size, full_image=int(full_image),
                           threads=threads, set_tau=int(tau is not None), tau=0.0 if tau is None else tau)
        raised = []
        if progress is not None:
            def call(done, total, _user):
                try:
                    return 1 if progress(done, total) else 0
                except BaseException as e:   # an exception must not unwind into C: cancel, re-raise after
                    raised.append(e)
                    return 1
            options.progress = _PROGRESS(call)
        stats = _Stats(struct_size=ctypes.sizeof(_Stats))
        status = self._lib.refqsr_upscale(self._handle, a.ctypes.data, w, h, a.strides[0], out.ctypes.data, out.strides[0],
                                          ctypes.byref(options), ctypes.byref(stats))
        if raised:
            raise raised[0]
        self._check(status)
        self.last_stats = {k: getattr(stats, k) for k in ("patches", "giga_bitops", "fqr", "reference_ratio", "seconds")}
        if math.isnan(self.last_stats["reference_ratio"]):
            self.last_stats["reference_ratio"] = None
        return out

    def close(self):
        if self._handle is not None:
            self._lib.refqsr_model_free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_handle", None) is not None:
            self.close()
