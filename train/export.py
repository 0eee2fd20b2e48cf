"""Checkpoint -> engine model file (.safetensors, docs/weights-format.md), optionally an
ONNX file of the FP32 SRResNet.

  /usr/bin/python3 train/export.py CKPT OUT.safetensors [--onnx OUT.onnx] [--data TEXT]

CKPT is a latest.pt / best.pt of train_fp32.py, train_qat.py, train_refqsr.py or
train_clustblock.py; the kind (fp32, ddtb, pams, clustblock; a RefQSR model is its method
with the config's `refqsr` block) is read from the checkpoint. The config's `train`
field records the provenance (stage, steps, wall hours, data, source checkpoint).
ONNX: input `lr` NCHW float 0..255 with dynamic H/W, output `hr`, opset 13 (FP32 only;
torch.onnx.export needs no `onnx` Python package).
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refqsr_train.exporting import load_checkpoint_model, export_model  # noqa: E402

DEFAULT_DATA = {
    "fp32": "T91+BSD200 (291 set), LR = MATLAB bicubic x4",
    "ddtb": "T91+BSD200 (291 set), LR = MATLAB bicubic x4",
    "pams": "T91+BSD200 (291 set), LR = MATLAB bicubic x4",
    "clustblock": "DTD_subset (10 classes), MATLAB bicubic downscales x1/2, x1/3, x1/4",
}


def provenance(kind, st, ckpt_path, data=None):
    args = st.get("args") or {}
    wall = st.get("wall")
    info = {
        "stage": "train_refqsr" if st.get("refqsr") else
                 {"fp32": "train_fp32", "clustblock": "train_clustblock"}.get(kind, "train_qat"),
        "steps": int(st.get("step", 0)),
        "wall_hours": None if wall is None else round(wall / 3600.0, 4),
        "data": data or DEFAULT_DATA[kind],
        "checkpoint": os.path.basename(ckpt_path),
    }
    if st.get("device") or args.get("device"):
        info["device"] = str(st.get("device") or args["device"])
    if st.get("ema"):
        # train_fp32.py --ema: these are the run's weight average, not its last weights
        info["weight_average"] = {"decay": st["ema"]["decay"], "updates": int(st["ema"]["updates"])}
    for k in ("init", "best", "psnr", "val_acc_fp32", "val_acc_q8", "class_names", "clustblock_init"):
        if k in st and st[k] is not None:
            v = st[k]
            info[k] = os.path.basename(v) if k in ("init", "clustblock_init") else v
    return info


def export_onnx(model, path):
    model = model.cpu().eval()
    x = torch.rand(1, 3, 24, 20) * 255.0
    torch.onnx.export(model, x, path, opset_version=13, input_names=["lr"], output_names=["hr"],
                      dynamic_axes={"lr": {2: "h", 3: "w"}, "hr": {2: "h4", 3: "w4"}},
                      do_constant_folding=True)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("out", help="output .safetensors")
    ap.add_argument("--onnx", default=None, help="also write the FP32 SRResNet as ONNX")
    ap.add_argument("--data", default=None, help="provenance text for the data")
    a = ap.parse_args(argv)
    model, kind, st = load_checkpoint_model(a.ckpt)
    model.eval()
    try:
        t, cfg = export_model(model, a.out, provenance(kind, st, a.ckpt, a.data))
    except ValueError as e:   # a model the engine cannot run (nothing written)
        sys.exit(f"{a.ckpt}: {e}")
    n = sum(v.size for v in t.values())
    print(f"{kind}: wrote {a.out} ({len(t)} tensors, {n} values)")
    if a.onnx:
        if kind != "fp32":
            sys.exit("--onnx is for the FP32 SRResNet only")
        export_onnx(model, a.onnx)
        print(f"wrote {a.onnx}")


if __name__ == "__main__":
    main()
