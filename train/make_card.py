"""Model card for a shipped model: weights/<name>.md (+ <name>-curve.png).

  /usr/bin/python3 train/make_card.py NAME --run train/runs/<stage> [--eval out/eval] [--note TEXT]

Reads the model file's config/provenance (weights/NAME.safetensors), the run's log.csv and
curve.png, and the `refqsr eval --json` results written by scripts/eval-models.sh.
"""
import argparse
import csv
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refqsr_train import safetensors_io  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--run", required=True)
    ap.add_argument("--eval", default=os.path.join(ROOT, "out", "eval"))
    ap.add_argument("--note", default="")
    ap.add_argument("--patch", type=int, default=96, help="LR patch size the --eval results were measured with")
    a = ap.parse_args(argv)
    wdir = os.path.join(ROOT, "weights")
    model = os.path.join(wdir, a.name + ".safetensors")
    _, cfg, _ = safetensors_io.load(model)
    train = cfg.get("train", {})
    rows = []
    log = os.path.join(a.run, "log.csv")
    if os.path.exists(log):
        with open(log) as f:
            rows = list(csv.DictReader(f))
    curve = os.path.join(a.run, "curve.png")
    lines = [f"# {a.name}", ""]
    if cfg.get("network") == "clustblock":
        lines.append(f"ClustBlock texture classifier, {cfg.get('classes')} classes, 8-bit (SPEC §4).")
    else:
        q = cfg.get("quantizer", "none")
        desc = "FP32" if q == "none" else f"{q.upper()} w{cfg['w_bits']}a{cfg['a_bits']}"
        if cfg.get("refqsr"):
            r = cfg["refqsr"]
            desc += f", RefQSR {r['b_high']}-{r['b_low']} (queries: b_medium {r['b_medium']} weights, RefER in blocks {r['refer_blocks']})"
        lines.append(f"SRResNet x{cfg['scale']}, {cfg['blocks']} blocks, {cfg['channels']} channels, {desc} (SPEC §2–3).")
    lines += ["", "## Training", "",
              f"- data: {train.get('data', '?')}",
              f"- stage: `{train.get('stage', '?')}`, steps: {train.get('steps', '?')}, wall time: {train.get('wall_hours', '?')} h"
              + (f" on {train['device']}" if train.get('device') else " on the 2-core CPU machine"),
              f"- initialised from: {train.get('init', 'scratch')}" if cfg.get("network") != "clustblock" else
              f"- validation accuracy: FP32 {train.get('val_acc_fp32', '?')}, 8-bit {train.get('val_acc_q8', '?')}",
              f"- run folder: `{os.path.relpath(a.run, ROOT)}` (log.csv, resumable checkpoint)"]
    if train.get("weight_average"):
        w = train["weight_average"]
        lines.append(f"- weights: the run's exponential moving average of its weights (decay {w['decay']}, "
                     f"{w['updates']} updates; `{train.get('checkpoint', 'ema.pt')}`), which its last "
                     "validation scored above its last weights")
    if rows:
        last = rows[-1]
        lines.append(f"- last logged validation (step {last.get('step')}): "
                     + ", ".join(f"{k} {float(v):.3f}" for k, v in last.items() if k.startswith(("psnr", "val", "ema")) and v))
    if a.note:
        lines += ["", a.note]
    if cfg.get("network") != "clustblock":
        lines += ["", "## Measured by the engine", "",
                  "`refqsr eval --data ../shared/data/<set> --model " + a.name
                  + (f" --patch {a.patch}" if a.patch != 96 else "") + f" --json` (x4, Y channel, {a.patch}-px patches):", "",
                  "| set | PSNR | SSIM | BitOPs (G, mean) | FQR |", "|---|---|---|---|---|"]
        for s in ("Set5", "Set14", "BSD100", "Kodak24"):
            p = os.path.join(a.eval, f"{a.name}-{s}.json")
            if os.path.exists(p):
                r = json.load(open(p))
                lines.append(f"| {s} | {r['psnr']:.3f} | {r['ssim']:.4f} | {r['bitops_g']:.3f} | {r['fqr']:.2f} |")
    if os.path.exists(curve):
        shutil.copyfile(curve, os.path.join(wdir, a.name + "-curve.png"))
        lines += ["", f"![training curve]({a.name}-curve.png)"]
    with open(os.path.join(wdir, a.name + ".md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", os.path.join(wdir, a.name + ".md"))


if __name__ == "__main__":
    main()
