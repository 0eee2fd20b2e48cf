"""Does the weight average need BatchNorm statistics of its own? ema.pt averages the BN
running statistics along with the weights (refqsr_train/averaging.py), although those were
measured with the trained weights, not the averaged ones. This measures the alternative:
statistics recomputed for the averaged weights (BN in training mode, cumulative average over
N batches of training patches, no gradient), validated on Set5 / Set14 beside the averaged
ones.

  /usr/bin/python3 train/tools/bn_recalibration.py [CHECKPOINT] [N ...] [--threads T]
  (default train/runs/srresnet-fp32/ema.pt, N = 25 100, one thread)
"""
import argparse
import copy
import os
import sys
import time

import torch

TRAIN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TRAIN)
from refqsr_train.models import SRResNet  # noqa: E402
from refqsr_train.data import load_train_pairs, PatchSampler  # noqa: E402
from refqsr_train import common  # noqa: E402


def recalibrated(model, sampler, batches, batch=16, patch=48):
    r = copy.deepcopy(model)
    for m in r.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None   # a cumulative average over the batches, not an EMA
    r.train()
    with torch.no_grad():
        for _ in range(batches):
            lr_b, _ = sampler.batch(batch, patch)
            r(common.to_tensor(lr_b, "cpu"))
    return r.eval()


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint", nargs="?", default=os.path.join(TRAIN, "runs", "srresnet-fp32", "ema.pt"))
    ap.add_argument("batches", nargs="*", type=int, default=[25, 100])
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    st = torch.load(a.checkpoint, map_location="cpu")
    model = SRResNet()
    model.load_state_dict(st["model"])
    base = common.validate(model, "cpu")
    print(f"{a.checkpoint} (step {st.get('step')}): BN statistics as saved: Set5 {base['Set5']:.3f} Set14 {base['Set14']:.3f}", flush=True)
    hrs, lrs = load_train_pairs(None, cache_dir=os.path.join(TRAIN, "runs", ".cache"))
    for n in a.batches:
        t = time.time()
        v = common.validate(recalibrated(model, PatchSampler(hrs, lrs, seed=123), n), "cpu")
        print(f"recomputed over {n} batches of 16: Set5 {v['Set5']:.3f} ({v['Set5'] - base['Set5']:+.3f}) "
              f"Set14 {v['Set14']:.3f} ({v['Set14'] - base['Set14']:+.3f}), {time.time() - t:.0f} s", flush=True)


if __name__ == "__main__":
    main()
