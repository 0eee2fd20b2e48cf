"""Where a RefQSR model's query patches lose PSNR: for every query patch of an evaluation
set (tiled and paired as the engine does, SPEC 4 and 5), the Y-PSNR of its HR patch against
the ground truth through four paths of the same model (the trainer's fake-quant forward,
hard argmax):

  baseline   the reference path on the query patch: every block at b_high, i.e. what the
             baseline model gives there
  high-end   the query path's low blocks, then the replaced last blocks themselves at b_high
             (no RefER): what RefER has to beat to earn its place
  refer      the query path as shipped: low blocks, then RefER with the paired reference
  refer-self RefER with the query patch's own b_high features as its "reference" (the best
             reference there could be), matched as usual
  refer-self-aligned  the same with the flow forced to zero (each position warps its own
             position: perfect alignment, whatever the b_low matching finds)

  /usr/bin/python3 train/query_path_ablation.py train/runs/ddtb-refqsr-4-3 [--set Kodak24]
      [--patch 72] [--tau 0.5] [--match-range R]

--match-range measures the model with its RefER matching quantized on [-R, R] instead of
its own range (1.0, SPEC 4; train_refqsr --match-range), without retraining.

PSNR is over all query patches together (one MSE, no border shave: each patch is run as an
image of its own), and the mean of the per-patch values.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refqsr_train import refqsr as R  # noqa: E402
from refqsr_train.data import load_val_set  # noqa: E402
from refqsr_train.metrics import rgb_to_y  # noqa: E402
from train_refqsr import load_clustblock  # noqa: E402

PATHS = ("baseline", "high-end", "refer", "refer-self", "refer-self-aligned")


@torch.no_grad()
def high_end(model, x):
    """Low blocks 1 .. first RefER block - 1, then the replaced blocks at b_high."""
    h, y = model.query_low_path(x)
    for j in model.refer_blocks:
        y = model.body[j](y)
    return model._tail(h, y)[0]


def _zero_flow(fq, fr):
    return torch.zeros(fq.shape[0], 2, fq.shape[2], fq.shape[3], dtype=fq.dtype), None


@torch.no_grad()
def query_paths(model, xq, xr):
    base, _, keep_self = model.forward_ref(xq)
    keep_ref = model.forward_ref(xr)[2]
    out = {
        "baseline": base,
        "high-end": high_end(model, xq),
        "refer": model.forward_query(xq, keep_ref)[0],
        "refer-self": model.forward_query(xq, keep_self)[0],
    }
    for blk in model.refer.values():
        blk.flow = _zero_flow   # the instance attribute shadows ReferBlock.flow
    try:
        out["refer-self-aligned"] = model.forward_query(xq, keep_self)[0]
    finally:
        for blk in model.refer.values():
            del blk.flow
    return out


def query_patches(clust, set_name, patch, tau, data=None):
    """([(query LR patch, its reference's LR patch, the query's HR patch) for every query
    patch of an evaluation set], number of patches), tiled (SPEC 5) and paired (SPEC 4) as
    the engine does."""
    out, patches = [], 0
    for hr, lr in load_val_set(set_name, 4, data):
        h, w = lr.shape[:2]
        ts = R.tiles(h, w, patch)
        x = torch.from_numpy(np.ascontiguousarray(lr)).permute(2, 0, 1)[None].float()
        pats = [x[:, :, y0:y1, x0:x1] for (y0, y1, x0, x1) in ts]
        with torch.no_grad():
            logits = np.concatenate([clust(p).float().numpy() for p in pats])
        ref = R.cluster(logits, tau)
        patches += len(ts)
        for i in R.roles(ref)[1]:
            y0, y1, x0, x1 = ts[i]
            out.append((pats[i], pats[int(ref[i])], hr[4 * y0:4 * y1, 4 * x0:4 * x1]))
    return out, patches


def sq_errors(sr, hr_patch):
    a = rgb_to_y(sr[0].clamp(0, 255).round().permute(1, 2, 0).numpy().astype(np.uint8))
    b = rgb_to_y(hr_patch)
    d = (a - b) ** 2
    return float(d.sum()), d.size


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="a RefQSR run folder (latest.pt, clustblock.pt)")
    ap.add_argument("--set", default="Kodak24")
    ap.add_argument("--patch", type=int, default=72)
    ap.add_argument("--tau", type=float, default=None, help="default: the model's")
    ap.add_argument("--data", default=None, help="default: ../shared/data")
    ap.add_argument("--match-range", type=float, default=None, help="default: the model's (1.0, SPEC 4)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    st = torch.load(os.path.join(a.run, "latest.pt"), map_location="cpu")
    model = R.refqsr_from_state(st["model"], st["quant"], st["refqsr"]).eval()
    if a.match_range is not None:
        model.set_match_range(a.match_range)
    clust, _ = load_clustblock(os.path.join(a.run, "clustblock.pt"), "cpu")
    tau = model.refqsr["tau"] if a.tau is None else a.tau
    sums = {p: [0.0, 0] for p in PATHS}
    per_patch = {p: [] for p in PATHS}
    pairs, patches = query_patches(clust, a.set, a.patch, tau, a.data)
    queries = len(pairs)
    for xq, xr, hr_patch in pairs:
        for p, sr in query_paths(model, xq, xr).items():
            se, n = sq_errors(sr, hr_patch)
            sums[p][0] += se
            sums[p][1] += n
            per_patch[p].append(10 * np.log10(255.0 ** 2 / (se / n)))
    print(f"{os.path.basename(os.path.normpath(a.run))}: {a.set} at {a.patch} px, {queries} query patches of {patches}, "
          f"matching range {model.refer[str(model.refer_blocks[0])].match_range}")
    base = 10 * np.log10(255.0 ** 2 / (sums["baseline"][0] / sums["baseline"][1]))
    for p in PATHS:
        psnr = 10 * np.log10(255.0 ** 2 / (sums[p][0] / sums[p][1]))
        print(f"  {p:<18}  {psnr:.3f} dB ({psnr - base:+.3f} vs baseline), mean per patch {np.mean(per_patch[p]):.3f} dB")


if __name__ == "__main__":
    main()
