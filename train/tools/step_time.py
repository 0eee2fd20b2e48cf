"""Times a query-only RefQSR training step against a joint one on the same model and data
(train_refqsr.step_loss with query_only True / False, forward + backward, no optimizer
update so both modes see the same weights), alternating the two so that a noisy machine
slows both alike. train/README.md's step-rate figure comes from this.

  /usr/bin/python3 train/tools/step_time.py train/runs/ddtb-refqsr-8-4 [--steps 8] [--threads 1]

The run's latest.pt and teacher.pt are loaded and its shared weights frozen as
`--train query` does (so the joint step also profits from WeightQuant's cache of frozen
weights; before 2026-11-29 a step recomputed them and ran the teacher's tail too, which
made the old step slower still). The pair batches are random crops of uniform noise:
the step's cost does not depend on the pixels.
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from refqsr_train import refqsr as R  # noqa: E402
from train_refqsr import frozen_teacher, step_loss  # noqa: E402


def load_run(run):
    st = torch.load(os.path.join(run, "latest.pt"), map_location="cpu")
    model = R.refqsr_from_state(st["model"], st["quant"], st["refqsr"])
    R.freeze_shared(model)
    model.train()
    model.freeze_bn()
    tst = torch.load(os.path.join(run, "teacher.pt"), map_location="cpu")
    return model, frozen_teacher(tst["teacher"], model.channels, model.blocks)


def timed_step(model, teacher, batch, query_only):
    xr, yr, xq, yq = batch
    t0 = time.perf_counter()
    loss, _ = step_loss(model, teacher, xr, yr, xq, yq, 1000.0, query_only)
    model.zero_grad(set_to_none=True)
    loss.backward()
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("run", help="a train_refqsr.py --out folder (latest.pt, teacher.pt)")
    ap.add_argument("--steps", type=int, default=8, help="timed steps of each mode (after one warm-up each)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--patch", type=int, default=48)
    a = ap.parse_args(argv)
    if a.steps < 1:
        ap.error("--steps must be at least 1")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model, teacher = load_run(a.run)
    p, s = a.patch, 4 * a.patch
    batch = (torch.rand(a.batch, 3, p, p), torch.rand(a.batch, 3, s, s),
             torch.rand(a.batch, 3, p, p), torch.rand(a.batch, 3, s, s))
    timed_step(model, teacher, batch, True)
    timed_step(model, teacher, batch, False)
    query, joint = [], []
    for _ in range(a.steps):
        query.append(timed_step(model, teacher, batch, True))
        joint.append(timed_step(model, teacher, batch, False))
    q, j = statistics.median(query), statistics.median(joint)
    ratios = sorted(jj / qq for qq, jj in zip(query, joint))
    print(f"{a.run}: {a.batch} pairs of {p}-px crops, {a.threads} thread(s), {a.steps} steps of each")
    print(f"  query-only step  median {q:.2f} s")
    print(f"  joint step       median {j:.2f} s")
    print(f"  joint / query-only: {j / q:.2f}x (per-turn ratios {ratios[0]:.2f}-{ratios[-1]:.2f})")


if __name__ == "__main__":
    main()
