"""What the RefER matching (SPEC 4: per-position L2 normalise, 3x3 stride-3 average pool,
b_low symmetric quantization on [-1, 1], argmax over the cost volume, ties to the lowest
index) sees on an evaluation set's query patches, for each RefER block of a RefQSR model:

  nonzero    share of the query's pooled codes that are not 0
  tied       share of pooled query positions whose maximum of E is reached by more than
             one reference position (the argmax then takes the lowest index)
  #tied      mean number of reference positions at the maximum
  self       share of positions matched to themselves when the query is matched against
             its own b_high features (the best reference; 1.0 would be perfect alignment)
  cos        mean float cosine of the matched reference position (pooled, unquantized),
             beside the best one and the mean over all positions

  /usr/bin/python3 train/matching_stats.py train/runs/ddtb-refqsr-4-3 [--set Kodak24]
      [--patch 72] [--bits 2,3,4] [--ranges 1,0.5,0.3]

--bits and --ranges measure other b_low / quantization ranges on the same features (the
model's RefER blocks are not retrained: this is about the matching alone).
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refqsr_train import refqsr as R  # noqa: E402
from query_path_ablation import query_patches  # noqa: E402
from train_refqsr import load_clustblock  # noqa: E402


def pooled_units(f):
    """The matching's float input: pooled per-position unit vectors [N, C, h, w]."""
    return R.pool3(R.normalise(f))


def match_stats(uq, ur, uself, bits, match_range):
    """Statistics (module docstring) for pooled float features of the query uq, its
    reference ur and its own b_high features uself, at b_low = bits on [-r, r]."""
    qmax = 2 ** (bits - 1) - 1

    def codes(u):
        return torch.round(R.quant_unit(u, bits, match_range) * qmax).double()

    cq, cr = codes(uq), codes(ur)
    e = R.cost_volume(cq, cr)
    top = e.max(dim=-1, keepdim=True).values
    ties = (e == top).sum(dim=-1)
    idx = R.first_argmax(e)
    fq, fr = uq.flatten(2).double(), ur.flatten(2).double()
    cos = torch.bmm(fq.transpose(1, 2), fr) / (fq.norm(dim=1).unsqueeze(2) * fr.norm(dim=1).unsqueeze(1)).clamp_min(1e-12)
    own = R.first_argmax(R.cost_volume(cq, codes(uself)))
    return {"nonzero": float((cq != 0).double().mean()), "tied": float((ties > 1).double().mean()),
            "#tied": float(ties.double().mean()),
            "self": float((own == torch.arange(own.shape[-1])).double().mean()),
            "cos": float(cos.gather(-1, idx.unsqueeze(-1)).mean()), "cos best": float(cos.max(-1).values.mean()),
            "cos mean": float(cos.mean())}


@torch.no_grad()
def refer_inputs(model, xq, xr):
    """{j: (query feature entering RefER block j, the reference's input to block j, the
    query's own b_high input to block j)} along the query path as shipped (hard argmax)."""
    keep_r = model.forward_ref(xr)[2]
    keep_s = model.forward_ref(xq)[2]
    y = model.query_low_path(xq)[1]
    out = {}
    for j in model.refer_blocks:
        out[j] = (y, keep_r[j], keep_s[j])
        y = model.refer[str(j)](y, keep_r[j])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="a RefQSR run folder (latest.pt, clustblock.pt)")
    ap.add_argument("--set", default="Kodak24")
    ap.add_argument("--patch", type=int, default=72)
    ap.add_argument("--bits", default=None, help="comma-separated b_low values (default: the model's)")
    ap.add_argument("--ranges", default="1", help="comma-separated quantization ranges r ([-r, r]; 1 = SPEC 4)")
    ap.add_argument("--data", default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    st = torch.load(os.path.join(a.run, "latest.pt"), map_location="cpu")
    model = R.refqsr_from_state(st["model"], st["quant"], st["refqsr"]).eval()
    clust, _ = load_clustblock(os.path.join(a.run, "clustblock.pt"), "cpu")
    pairs, patches = query_patches(clust, a.set, a.patch, model.refqsr["tau"], a.data)
    feats = {j: ([], [], []) for j in model.refer_blocks}
    for xq, xr, _ in pairs:
        for j, fs in refer_inputs(model, xq, xr).items():
            for acc, f in zip(feats[j], fs):
                acc.append(pooled_units(f))
    bits = [int(b) for b in a.bits.split(",")] if a.bits else [model.refqsr["b_low"]]
    ranges = [float(r) for r in a.ranges.split(",")]
    print(f"{os.path.basename(os.path.normpath(a.run))} (b_low {model.refqsr['b_low']}): {a.set} at {a.patch} px, "
          f"{len(pairs)} query patches of {patches}")
    for j in model.refer_blocks:
        u = torch.cat([x.flatten() for x in feats[j][0]]).abs()
        print(f"block {j}: query's pooled unit-vector components |x| mean {float(u.mean()):.3f}, "
              f"99th percentile {float(torch.quantile(u[::max(1, u.numel() // 1000000)], 0.99)):.3f}")
    print(f"{'block':>5} {'b_low':>5} {'range':>5} {'nonzero':>8} {'tied':>6} {'#tied':>6} {'self':>6} "
          f"{'cos':>6} {'best':>6} {'mean':>6}")
    for j in model.refer_blocks:
        for b in bits:
            for r in ranges:
                rows = [match_stats(uq, ur, us, b, r) for uq, ur, us in zip(*feats[j])]
                m = {k: np.mean([row[k] for row in rows]) for k in rows[0]}   # mean over query patches
                print(f"{j:>5} {b:>5} {r:>5} {m['nonzero']:8.3f} {m['tied']:6.3f} {m['#tied']:6.1f} {m['self']:6.3f} "
                      f"{m['cos']:6.3f} {m['cos best']:6.3f} {m['cos mean']:6.3f}")


if __name__ == "__main__":
    main()
