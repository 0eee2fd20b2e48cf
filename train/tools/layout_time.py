"""Times an FP32 SRResNet training step (forward, L1, backward, Adam) with the input batch
in NCHW memory order against the same batch as a permuted NHWC view (channels-last strides,
which is what permuting the trainers' NHWC uint8 batches gives), alternating the two so
that a noisy machine slows both alike. refqsr_train.common.to_tensor's choice for the CPU
comes from this.

  /usr/bin/python3 train/tools/layout_time.py [--steps 4] [--threads 2] [--batch 16] [--patch 48]
  /usr/bin/python3 train/tools/layout_time.py --refqsr train/runs/ddtb-refqsr-8-4 [...]

With --refqsr RUN the step is a query-only RefQSR step of that run instead (forward and
backward as train/tools/step_time.py times it, no optimizer update), on pairs of crops.
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refqsr_train.models import SRResNet  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4, help="timed steps of each layout (after one warm-up each)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--patch", type=int, default=48)
    ap.add_argument("--refqsr", default=None, help="a train_refqsr.py run folder: time its query-only step")
    a = ap.parse_args(argv)
    if a.steps < 1:
        ap.error("--steps must be at least 1")
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    p, s = a.patch, 4 * a.patch
    views = [(torch.rand(a.batch, n, n, 3) * 255).permute(0, 3, 1, 2) for n in (p, s) * (2 if a.refqsr else 1)]
    inputs = {"NCHW": tuple(t.contiguous() for t in views), "NHWC view": tuple(views)}
    if a.refqsr:
        from step_time import load_run, timed_step
        model, teacher = load_run(a.refqsr)

        def step(*batch):
            return timed_step(model, teacher, batch, True)
        what = f"query-only RefQSR step of {a.refqsr}, {a.batch} pairs"
    else:
        model = SRResNet()
        opt = torch.optim.Adam(model.parameters(), lr=1e-6)

        def step(x, y):
            t0 = time.perf_counter()
            loss = F.l1_loss(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return time.perf_counter() - t0
        what = f"FP32 SRResNet step, {a.batch} crops"

    times = {k: [] for k in inputs}
    for k, batch in inputs.items():
        step(*batch)
    for _ in range(a.steps):
        for k, batch in inputs.items():
            times[k].append(step(*batch))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{what} of {p} px, {a.threads} thread(s), {a.steps} steps of each, PyTorch {torch.__version__}")
    for k, m in med.items():
        print(f"  {k:10s} median {m:.2f} s  ({', '.join(f'{t:.2f}' for t in times[k])})")
    print(f"  NHWC view / NCHW: {med['NHWC view'] / med['NCHW']:.2f}x")


if __name__ == "__main__":
    main()
