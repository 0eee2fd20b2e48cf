"""Why a RefQSR run has as many queries as it has: for every evaluation image, tile the LR
image as the engine does (SPEC 5), run the ClustBlock on each patch and the clustering of
SPEC 4, and count what each patch's argmax did.

  /usr/bin/python3 train/pairing_stats.py [--sets Kodak24,BSD100] [--patch 72] [--tau 0.5]
      [--clustblock train/runs/clustblock/latest.pt]

Per set: patches, patches per image, queries; of the patches, how many picked themselves
(argmax of M on the diagonal), picked another patch, were sent back to themselves by tau,
or picked a patch that picked them (both then stay references). Only images with more
than one patch can have queries.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refqsr_train import refqsr as R  # noqa: E402
from refqsr_train.data import load_val_set  # noqa: E402
from train_refqsr import load_clustblock  # noqa: E402


def pairing_counts(clust, lrs, patch, tau):
    c = dict(images=0, patches=0, queries=0, self_pick=0, picked_other=0, tau_rejected=0, mutual=0)
    for lr in lrs:
        h, w = lr.shape[:2]
        ts = R.tiles(h, w, patch)
        x = torch.from_numpy(np.ascontiguousarray(lr)).permute(2, 0, 1)[None].float()
        with torch.no_grad():
            v = np.concatenate([clust(x[:, :, y0:y1, x0:x1]).float().numpy() for (y0, y1, x0, x1) in ts])
        argmax = R.cluster(v, tau=-2.0)   # cosine is never below -2: the argmax alone
        ref = R.cluster(v, tau=tau)
        c["images"] += 1
        c["patches"] += len(ts)
        c["queries"] += len(R.roles(ref)[1])
        for i, j in enumerate(int(a) for a in argmax):
            if j == i:
                c["self_pick"] += 1
                continue
            c["picked_other"] += 1
            if int(ref[i]) == i:
                c["tau_rejected"] += 1
            elif int(argmax[j]) == i:
                c["mutual"] += 1
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="Kodak24,BSD100")
    ap.add_argument("--patch", type=int, default=72)
    ap.add_argument("--tau", type=float, default=0.5)
    ap.add_argument("--clustblock", default="train/runs/clustblock/latest.pt")
    ap.add_argument("--data", default=None, help="default: ../shared/data")
    a = ap.parse_args()
    torch.set_num_threads(1)
    clust, _ = load_clustblock(a.clustblock, "cpu")
    for name in a.sets.split(","):
        lrs = [lr for _, lr in load_val_set(name, 4, a.data)]
        c = pairing_counts(clust, lrs, a.patch, a.tau)
        n = c["patches"]
        print(f"{name} at {a.patch} px, tau {a.tau}: {n} patches ({n / c['images']:.1f} per image), "
              f"{c['queries']} queries ({c['queries'] / n:.1%}); argmax picked itself {c['self_pick']} "
              f"({c['self_pick'] / n:.0%}), another patch {c['picked_other']} (of which {c['tau_rejected']} "
              f"sent back by tau, {c['mutual']} mutual)")


if __name__ == "__main__":
    main()
