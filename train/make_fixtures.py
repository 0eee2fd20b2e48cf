"""Test fixtures for the C# engine: for one exported model, the integer-simulation
(refqsr_train/intsim.py) results on a synthetic LR input.

  /usr/bin/python3 train/make_fixtures.py weights/ddtb-w4a4.safetensors [--name NAME]
      [--out tests/fixtures] [--layers 0,15,30] [--copy-model]
  /usr/bin/python3 train/make_fixtures.py --tiny      # small random models + fixtures
  /usr/bin/python3 train/make_fixtures.py --tiny-refqsr   # tiny RefQSR + ClustBlock fixtures (README)

Writes <out>/<name>/ with raw little-endian files and manifest.json:
  input.u8      uint8  [H, W, 3] (HWC) synthetic LR image, H=20, W=24, made by code
                (gradients + edges + seeded noise; never from the data sets)
  x_qK.f32      float32 [1, C, H, W]  the FP32 input of activation quantizer K
  codes_qK.u8   uint8   [1, C, H, W]  its codes a = code - qlo (K = 2*block + conv-1)
  g_qK.f32      float32 [1, 2]        DDTB gate output (g_l, g_u) of gated quantizer K
  hr.f32        float32 [1, 3, 4H, 4W] HR output before clamp/round
  hr_u8.u8      uint8   [4H, 4W, 3]  HR clamped and rounded (half to even)
For FP32 models only input, hr.f32 and hr_u8.u8 (PyTorch float32 forward).
--tiny builds random-weight SRResNets (16 channels, 4 blocks; BN statistics, PReLU
slopes and gates randomised, bounds calibrated on other synthetic images), exports them
as model.safetensors into their fixture folder (copied with --copy-model otherwise) and
writes the fixtures: small models that exercise every code path of the engine.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refqsr_train import safetensors_io  # noqa: E402
from refqsr_train.intsim import IntSim, ClustSim  # noqa: E402
from refqsr_train.clustblock import ClustBlock  # noqa: E402
from refqsr_train import refqsr as R  # noqa: E402
from refqsr_train.exporting import srresnet_from_state, export_model  # noqa: E402
from refqsr_train.models import SRResNet  # noqa: E402
from refqsr_train.quant import quantize_srresnet  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def synthetic_lr(h=20, w=24, seed=1234):
    """Smooth gradients + hard edges + seeded noise, uint8 HWC."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    img[..., 0] = 30 + 200 * xx / max(w - 1, 1)
    img[..., 1] = 220 - 180 * yy / max(h - 1, 1)
    img[..., 2] = 128 + 90 * np.sin(2 * np.pi * (xx + 0.5 * yy) / 11.0)
    # a bright rectangle with sharp edges, a dark diagonal line, a checker patch
    y0, y1, x0, x1 = h // 4, h // 4 + h // 3, w // 2, w // 2 + w // 3
    img[y0:y1, x0:x1] = [245, 240, 60]
    img[np.abs(xx - yy - 2) < 0.8] = [10, 20, 15]
    ch = ((xx.astype(int) // 2 + yy.astype(int) // 2) % 2).astype(bool) & (yy >= h - 6) & (xx < 8)
    img[ch] = [255, 255, 255]
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _write(folder, name, arr, layout, desc, entries):
    arr = np.ascontiguousarray(arr)
    arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    ext = {np.dtype("uint8"): "u8", np.dtype("float32"): "f32", np.dtype("int32"): "i32",
           np.dtype("int8"): "i8"}[np.dtype(arr.dtype.str.lstrip("<>|="))]
    fn = f"{name}.{ext}"
    with open(os.path.join(folder, fn), "wb") as f:
        f.write(arr.tobytes())
    entries.append({"name": name, "file": fn,
                    "dtype": {"u8": "uint8", "f32": "float32", "i32": "int32", "i8": "int8"}[ext],
                    "shape": list(arr.shape), "layout": layout, "description": desc})


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def make(model_path, out_dir, name, layers=None, copy_model=False, note=None, lr=None, extra=None):
    """extra: callable(folder, entries, manifest) adding more arrays (RefQSR fixtures)."""
    tensors, cfg, _ = safetensors_io.load(model_path)
    assert cfg["network"] == "srresnet", "fixtures are for SRResNet models"
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    lr = synthetic_lr() if lr is None else lr
    x = torch.from_numpy(lr).permute(2, 0, 1)[None].float()
    entries = []
    _write(folder, "input", lr, "HWC", "synthetic LR input (uint8 RGB)", entries)
    blocks = int(cfg["blocks"])
    gated = []
    if cfg["quantizer"] == "none":
        sd = {k: torch.from_numpy(v) for k, v in tensors.items()}
        model = srresnet_from_state(sd).eval()
        with torch.no_grad():
            hr = model(x)
        recorded = []
    else:
        if layers is None:
            layers = [0, 2 * (blocks // 2 - 1) + 1, 2 * (blocks - 1)]
        gated = sorted(cfg.get("ddtb_gated") or [])
        recorded = sorted(set(layers) | set(gated))
        hr, rec = IntSim(tensors, cfg).forward(x, record=recorded)
        for k in recorded:
            b, c = divmod(k, 2)
            where = f"activation quantizer {k} (block {b}, q{c + 1})"
            if k in layers:
                _write(folder, f"x_q{k}", rec["x"][k], "NCHW", f"FP32 input of {where}", entries)
            _write(folder, f"codes_q{k}", rec["codes"][k], "NCHW", f"codes a = code - qlo of {where}", entries)
            if k in rec["g"]:
                _write(folder, f"g_q{k}", rec["g"][k], "N2", f"DDTB gate output (g_l, g_u) of {where}", entries)
    hr = hr.detach().float()
    _write(folder, "hr", hr.numpy(), "NCHW", "HR output before clamp (float32)", entries)
    hr8 = hr[0].clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    _write(folder, "hr_u8", hr8, "HWC", "HR output clamped to 0..255 and rounded half to even", entries)
    mfile = os.path.basename(model_path)
    if copy_model:
        if os.path.abspath(model_path) != os.path.abspath(os.path.join(folder, "model.safetensors")):
            shutil.copyfile(model_path, os.path.join(folder, "model.safetensors"))
        mfile = "model.safetensors"
    manifest = {
        "model": mfile,
        "model_in_folder": bool(copy_model),
        "model_sha256": sha256(model_path),
        "config": cfg,
        "input_size": {"h": int(lr.shape[0]), "w": int(lr.shape[1])},
        "inference": "full image (one patch), zero padding",
        "recorded_quantizers": recorded,
        "ddtb_gated": gated,
        "byte_order": "little-endian",
        "files": entries,
        "generator": "train/make_fixtures.py (codes and HR of quantized models from refqsr_train/intsim.py, "
                     "docs/integer-arithmetic.md; FP32 models from the PyTorch float32 forward)",
        "expectations": "integer codes match exactly (the head conv, the only FP32 conv before a quantizer, is "
                        "summed in the engine's FMA order: intsim.conv_fma_chain); hr.f32 to about 1e-3 relative "
                        "(the FP32 convs after the body sum in PyTorch's order).",
    }
    if note:
        manifest["note"] = note
    if extra is not None:
        extra(folder, entries, manifest)
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    total = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    print(f"{folder}: {len(entries)} arrays, {total / 1024:.0f} KiB")
    return folder


# ----------------------------------------------------------------------- tiny models

def tiny_model(method, w_bits, a_bits, seed=0, channels=16, blocks=4):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    m = SRResNet(channels=channels, blocks=blocks)
    with torch.no_grad():
        for name, mod in m.named_modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                c = mod.num_features
                mod.weight.copy_(0.5 + torch.rand(c, generator=g))
                mod.bias.copy_(torch.randn(c, generator=g) * 0.2)
                mod.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
                mod.running_var.copy_(0.5 + torch.rand(c, generator=g) * 2)
            elif isinstance(mod, torch.nn.PReLU):
                mod.weight.fill_(float(torch.rand(1, generator=g) * 0.5 - 0.1))
        for blk in m.body:  # keep the residual branch moderate
            blk.bn2.weight.mul_(0.3)
    m.eval()
    if method == "none":
        return m
    calib = [torch.from_numpy(np.stack([synthetic_lr(32, 32, seed=100 + 10 * seed + i) for i in range(4)])).permute(0, 3, 1, 2).float()]
    quantize_srresnet(m, method, w_bits, a_bits, calib=calib, n_gated=1)
    with torch.no_grad():
        for blk in m.body:
            for q in (blk.q1, blk.q2):
                if q.gate is not None:  # make the gate matter
                    q.gate.conv2.weight.copy_(torch.randn(q.gate.conv2.weight.shape, generator=g) * 0.8)
                    q.gate.conv2.bias.copy_(torch.tensor([0.3, -0.2]))
    return m.eval()


TINY = [("tiny-fp32", "none", 32, 32), ("tiny-ddtb-w4a4", "ddtb", 4, 4), ("tiny-ddtb-w8a8", "ddtb", 8, 8),
        ("tiny-pams-w8a8", "pams", 8, 8), ("tiny-pams-w3a2", "pams", 3, 2)]


def make_tiny(out_dir):
    for i, (name, method, wb, ab) in enumerate(TINY):
        m = tiny_model(method, wb, ab, seed=i)
        folder = os.path.join(out_dir, name)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "model.safetensors")
        export_model(m, path, {"stage": "make_fixtures --tiny", "steps": 0, "seed": i,
                               "data": "random weights, bounds calibrated on synthetic images"})
        make(path, out_dir, name, layers=[0, 3, 6] if method != "none" else None, copy_model=True,
             note="random-weight model for arithmetic tests only (16 channels, 4 blocks)")


# ------------------------------------------------------------------ tiny RefQSR

TINY_REFQSR = [("ddtb", 8, 4), ("pams", 4, 2)]
REFQSR_IMAGE = (28, 31)  # synthetic LR size: 12 px tiles (step 6), the last row/column stretched
REFQSR_PATCH = 12


def tiny_clustblock(seed=0, classes=10):
    """Random-weight ClustBlock, 8-bit ranges calibrated on synthetic patches."""
    torch.manual_seed(seed)
    cb = ClustBlock(classes=classes)
    imgs = [synthetic_lr(24, 24, seed=500 + 10 * seed + i) for i in range(8)]
    cb.calibrate([torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float()])
    cb.set_quantized(True)
    return cb.eval()


def tiny_refqsr(method, b_high, b_low, seed=0):
    """tiny_model (16 channels, 4 blocks, W = A = b_high) + RefQSR with refer_blocks [2, 3]:
    RefER convs from blocks 2 and 3 (scale 0.5, so they matter), random PReLU slopes,
    qlow / RefER bounds calibrated on synthetic reference/query pairs."""
    q = tiny_model(method, b_high, b_high, seed=seed)
    m = R.refqsr_from_qat(q.state_dict(), q.quant_config, b_low, 0.5, [2, 3])
    R.init_refer_convs(m, "block", scale=0.5)
    g = torch.Generator().manual_seed(seed + 77)
    with torch.no_grad():
        for j in m.refer_blocks:
            m.refer[str(j)].act.weight.fill_(float(torch.rand(1, generator=g) * 0.5 - 0.1))
    pairs = []
    for i in range(2):
        a = torch.from_numpy(np.stack([synthetic_lr(16, 16, seed=300 + 2 * i + k) for k in range(3)]))
        b = torch.from_numpy(np.stack([synthetic_lr(16, 16, seed=400 + 2 * i + k) for k in range(3)]))
        pairs.append((a.permute(0, 3, 1, 2).float(), b.permute(0, 3, 1, 2).float()))
    R.calibrate_query(m, pairs)
    return m.eval()


def make_tiny_refqsr(out_dir, configs=TINY_REFQSR):
    for i, (method, bh, bl) in enumerate(configs):
        name = f"tiny-refqsr-{method}-{bh}-{bl}"
        folder = os.path.join(out_dir, name)
        os.makedirs(folder, exist_ok=True)
        m = tiny_refqsr(method, bh, bl, seed=10 + i)
        mpath = os.path.join(folder, "model.safetensors")
        export_model(m, mpath, {"stage": "make_fixtures --tiny-refqsr", "steps": 0, "seed": 10 + i,
                                "data": "random weights, bounds calibrated on synthetic images"})
        cb = tiny_clustblock(seed=i)
        cpath = os.path.join(folder, "clustblock.safetensors")
        export_model(cb, cpath, {"stage": "make_fixtures --tiny-refqsr", "steps": 0, "seed": i,
                                 "data": "random weights, ranges calibrated on synthetic images"})
        h, w = REFQSR_IMAGE
        lr = synthetic_lr(h, w, seed=4321)
        make(mpath, out_dir, name, layers=[3], copy_model=True, lr=lr, extra=refqsr_extra(mpath, cpath, lr),
             note="random-weight RefQSR model (16 channels, 4 blocks, refer_blocks [2, 3]) and random ClustBlock, "
                  "for arithmetic tests only")


def make_refqsr(model_path, clust_path, out_dir, name, layers=None, seeds=range(4321, 4371)):
    """A RefQSR fixture for a trained RefQSR model and its ClustBlock, which `refqsr parity`
    checks: both copied into the folder, on the first synthetic REFQSR_IMAGE (noise seeds
    `seeds`) where the ClustBlock pairs some patch as a query."""
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    cpath = os.path.join(folder, "clustblock.safetensors")
    if os.path.abspath(clust_path) != os.path.abspath(cpath):
        shutil.copyfile(clust_path, cpath)
    csim = ClustSim.load(cpath)
    tau = float(safetensors_io.load(model_path)[1]["refqsr"]["tau"])
    h, w = REFQSR_IMAGE
    for seed in seeds:
        lr = synthetic_lr(h, w, seed=seed)
        x = torch.from_numpy(lr).permute(2, 0, 1)[None].float()
        logits = np.concatenate([csim.forward(x[:, :, y0:y1, x0:x1]).numpy() for (y0, y1, x0, x1) in R.tiles(h, w, REFQSR_PATCH)])
        if R.roles(R.cluster(logits, tau))[1]:
            break
    else:
        raise SystemExit(f"{clust_path}: on none of the {len(seeds)} synthetic images tried does it pair a query patch (tau {tau})")
    return make(model_path, out_dir, name, layers=layers, copy_model=True, lr=lr, extra=refqsr_extra(model_path, cpath, lr),
                note=f"RefQSR fixture of {os.path.basename(model_path)} with {os.path.basename(clust_path)}, "
                     f"synthetic image seed {seed}")


def refqsr_extra(mpath, cpath, lr):
    """make()'s `extra` for a RefQSR model: the ClustBlock logits of every patch, the chosen
    references, and one query patch through its low-bit blocks and RefER (a query whose
    reference differs in size where there is one)."""
    def extra(folder, entries, manifest):
        t, cfg, _ = safetensors_io.load(mpath)
        sim = IntSim(t, cfg)
        csim = ClustSim.load(cpath)
        ts = R.tiles(lr.shape[0], lr.shape[1], REFQSR_PATCH)
        x = torch.from_numpy(lr).permute(2, 0, 1)[None].float()
        pats = [x[:, :, y0:y1, x0:x1] for (y0, y1, x0, x1) in ts]
        logits = np.concatenate([csim.forward(p).numpy() for p in pats])
        ref = R.cluster(logits, float(cfg["refqsr"]["tau"]))
        refs, qs = R.roles(ref)
        assert qs, "no query patch: change the seed"
        size = lambda k: (ts[k][1] - ts[k][0], ts[k][3] - ts[k][2])  # noqa: E731
        diff = [k for k in qs if size(k) != size(int(ref[k]))]
        qi = (diff or qs)[0]
        ri = int(ref[qi])
        rec = {}
        hrs, logits2, ref2 = sim.run_patches(pats, csim, rec_query={qi: rec})
        assert (ref2 == ref).all()
        _write(folder, "logits", logits.astype(np.float32), "NC", "ClustBlock logits of each patch (8-bit integer "
               "ClustBlock, docs/refqsr.md)", entries)
        _write(folder, "ref", ref.astype(np.int32), "N", "chosen reference ref(i) of each patch (clustering, tau)",
               entries)
        j0 = cfg["refqsr"]["refer_blocks"][0]
        for key in ("body.1.qlow1", f"refer.{j0}.q1"):
            _write(folder, f"query_x_{key}", rec[key + ".x"], "NCHW", f"query patch: FP32 input of {key}", entries)
            _write(folder, f"query_codes_{key}", rec[key + ".codes"], "NCHW",
                   f"query patch: codes a = code - qlo of {key}", entries)
        for j in cfg["refqsr"]["refer_blocks"]:
            _write(folder, f"query_argmax_refer.{j}", rec[f"refer.{j}.argmax"], "N,Pq",
                   f"query patch, RefER block {j}: argmax reference position (flat row-major pooled index) "
                   "per pooled query position (row-major)", entries)
            _write(folder, f"query_flow_refer.{j}", rec[f"refer.{j}.flow"], "N2HW",
                   f"query patch, RefER block {j}: pixel displacement (u, v) after the x3 upsampling", entries)
        hq = hrs[qi].float()
        _write(folder, "query_hr", hq.numpy(), "NCHW", "HR output of the query patch before clamp", entries)
        _write(folder, "query_hr_u8", hq[0].clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).numpy(), "HWC",
               "HR output of the query patch, clamped and rounded half to even", entries)
        manifest.update({
            "kind": "refqsr",
            "clustblock_model": "clustblock.safetensors",
            "clustblock_sha256": sha256(cpath),
            "clustblock_config": safetensors_io.load(cpath)[1],
            "patch_size": REFQSR_PATCH,
            "patches": [list(p) for p in ts],
            "patches_note": "[y0, y1, x0, x1) LR pixels, SPEC 5 tiling (starts range(0, H - p + 1, p - 6), the last "
                            "row/column stretched to the border); each patch runs as an image of its own",
            "references": refs,
            "queries": qs,
            "query": qi,
            "query_reference": ri,
            "refqsr_expectations": "logits to ~1e-5 relative, ref / argmax / codes identical (ties in the cost "
                                   "volume go to the lowest index), query_hr like hr. input/codes_qK/hr are "
                                   "the full image through the reference path (an ordinary b_high SRResNet).",
        })

    return extra


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?")
    ap.add_argument("--name", default=None, help="fixture folder name (default: model file stem)")
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures"))
    ap.add_argument("--layers", default=None, help="activation quantizer indices, e.g. 0,15,30")
    ap.add_argument("--copy-model", action="store_true")
    ap.add_argument("--clustblock", default=None, help="a RefQSR model's ClustBlock: a RefQSR fixture (copies both models)")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--tiny-refqsr", action="store_true", help="tiny random RefQSR models + ClustBlock fixtures")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    if a.tiny:
        make_tiny(a.out)
    if a.tiny_refqsr:
        make_tiny_refqsr(a.out)
    if a.model:
        name = a.name or os.path.splitext(os.path.basename(a.model))[0]
        layers = [int(s) for s in a.layers.split(",")] if a.layers else None
        if a.clustblock:
            make_refqsr(a.model, a.clustblock, a.out, name, layers)
        else:
            make(a.model, a.out, name, layers, a.copy_model)
    if not a.tiny and not a.tiny_refqsr and not a.model:
        ap.error("give a model file, --tiny or --tiny-refqsr")


if __name__ == "__main__":
    main()
