"""ClustBlock (SPEC 4): texture classifier on DTD_subset, then 8-bit min/max calibration
and a short quantization-aware fine-tune. Resumable.

  /usr/bin/python3 train/train_clustblock.py --out train/runs/clustblock --threads 1 [--resume]

Phases (by step count, so a resume continues where it stopped):
  1. steps [0, --fp32-steps): FP32, cross-entropy, Adam lr --lr, halved at 50% and 75%;
  2. at --fp32-steps: calibrate q1..q4 ranges = min/max of each layer's input over
     --calib-batches training batches (all patch sizes);
  3. steps [--fp32-steps, +--qat-steps): 8-bit fake-quant fine-tune (activation ranges
     fixed, weight ranges min/max of the float weights each forward), lr --qat-lr.
Data: labels.csv classes (count from the data), per class every 5th image (sorted) is
validation; each image is MATLAB-bicubic downscaled x1/2, x1/3, x1/4 (LR-like) and
random crops of 48/64/96 px (one size per batch) with flips/rotations are the inputs
(0..255). Validation: 5 fixed 48 px crops per val image from the x1/4 version.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refqsr_train.clustblock import ClustBlock, load_dtd, TextureSampler, val_patches  # noqa: E402
from refqsr_train import common  # noqa: E402
from refqsr_train.data import DATA  # noqa: E402


def to_t(xs, dev):
    return torch.from_numpy(np.ascontiguousarray(xs)).to(dev).permute(0, 3, 1, 2).float()


@torch.no_grad()
def accuracy(model, xs, ys, dev, bs=128):
    was = model.training
    model.eval()
    ok = 0
    for i in range(0, len(xs), bs):
        ok += (model(to_t(xs[i:i + bs], dev)).argmax(1).cpu().numpy() == ys[i:i + bs]).sum()
    model.train(was)
    return float(ok) / max(len(xs), 1)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="train/runs/clustblock")
    ap.add_argument("--data", default=None, help="DTD_subset folder (labels.csv, images/)")
    ap.add_argument("--minutes", type=float, default=0)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (all phases)")
    ap.add_argument("--fp32-steps", type=int, default=6000)
    ap.add_argument("--qat-steps", type=int, default=600)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--patches", default="48,64,96", help="crop sizes (one per batch)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--qat-lr", type=float, default=1e-4)
    ap.add_argument("--calib-batches", type=int, default=12)
    ap.add_argument("--val-every", type=int, default=250)
    ap.add_argument("--ckpt-minutes", type=float, default=3)
    ap.add_argument("--limit-per-class", type=int, default=0, help="(smoke tests) images per class")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)

    os.makedirs(a.out, exist_ok=True)
    dev = common.pick_device(a.device)
    common.apply_thread_control(a.out, a.threads)
    torch.manual_seed(a.seed)
    root = a.data or os.path.join(DATA, "DTD_subset")
    cache = os.path.join(os.path.dirname(os.path.abspath(a.out)), ".cache")
    t0 = time.time()
    names, train, val = load_dtd(root, limit_per_class=a.limit_per_class, cache_dir=cache)
    print(f"{len(names)} classes, {len(train)} train / {len(val)} val images ({time.time()-t0:.0f} s to load)")
    vx, vy = val_patches(val, 48, 5)
    sizes = [int(s) for s in a.patches.split(",")]

    model = ClustBlock(classes=len(names)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    step, wall, calibrated = 0, 0.0, False
    acc32 = accq = None
    ckpt = os.path.join(a.out, "latest.pt")
    if a.resume and os.path.exists(ckpt):
        st = torch.load(ckpt, map_location=dev)
        model.load_state_dict(st["model"])
        calibrated = st["clustblock"]["calibrated"]
        model.set_quantized(calibrated)
        if calibrated:
            opt = torch.optim.Adam(model.parameters(), lr=a.qat_lr)
        opt.load_state_dict(st["opt"])
        step, wall = st["step"], st.get("wall", 0.0)
        acc32, accq = st.get("val_acc_fp32"), st.get("val_acc_q8")
        print(f"resumed at step {step}, calibrated={calibrated}")
    rng_sizes = np.random.default_rng(a.seed + 7 + step)
    sampler = TextureSampler(train, seed=a.seed + step)
    log = common.CsvLog(os.path.join(a.out, "log.csv"), ["step", "loss", "train_acc", "val_acc", "lr", "quantized", "hours"])
    timer = common.Timer(a.minutes)
    running = common.RunningMeans("loss", "acc")
    total = a.fp32_steps + a.qat_steps

    def checkpoint():
        common.save_checkpoint(ckpt, model=model.state_dict(), opt=opt.state_dict(), step=step,
                               wall=wall + timer.elapsed(), args=vars(a), class_names=names, device=str(dev),
                               val_acc_fp32=acc32, val_acc_q8=accq,
                               clustblock={"classes": len(names), "bits": 8, "calibrated": calibrated})

    periodic = common.PeriodicCheckpoint(checkpoint, a.ckpt_minutes)

    def report():
        nonlocal acc32, accq
        va = accuracy(model, vx, vy, dev)
        if calibrated:
            accq = va
        else:
            acc32 = va
        m = running.means()
        hours = (wall + timer.elapsed()) / 3600
        log.write(step=step, loss=m["loss"], train_acc=m["acc"], val_acc=va, lr=lr,
                  quantized=int(calibrated), hours=hours)
        print(f"step {step} loss {m['loss']:.3f} train acc {m['acc']:.3f} val acc {va:.3f} "
              f"{'8-bit' if calibrated else 'fp32'} ({hours*60:.1f} min)", flush=True)
        log.plot(os.path.join(a.out, "curve.png"), ("loss", "train_acc", "val_acc"))

    model.train()
    while True:
        if step >= a.fp32_steps and not calibrated:
            acc32 = accuracy(model, vx, vy, dev)
            cal = TextureSampler(train, seed=a.seed + 999)
            model.calibrate([to_t(cal.batch(a.batch, sizes[i % len(sizes)])[0], dev) for i in range(a.calib_batches)])
            model.set_quantized(True)
            calibrated = True
            accq = accuracy(model, vx, vy, dev)
            print(f"calibrated: val acc FP32 {acc32:.3f}, 8-bit PTQ {accq:.3f}; ranges",
                  [[round(v, 3) for v in q.range.tolist()] for q in (model.q1, model.q2, model.q3, model.q4)])
            opt = torch.optim.Adam(model.parameters(), lr=a.qat_lr)
            checkpoint()
        if timer.done() or (a.max_steps and step >= a.max_steps) or step >= total:
            break
        if calibrated:
            lr = a.qat_lr
        else:
            lr = a.lr * (0.5 if step >= a.fp32_steps // 2 else 1.0) * (0.5 if step >= 3 * a.fp32_steps // 4 else 1.0)
        for g in opt.param_groups:
            g["lr"] = lr
        xs, ys = sampler.batch(a.batch, sizes[rng_sizes.integers(len(sizes))])
        logits = model(to_t(xs, dev))
        y = torch.from_numpy(ys).to(dev)
        loss = F.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        running.add(loss=loss.item(), acc=(logits.argmax(1) == y).float().mean().item())
        common.end_of_step(step, a, periodic, step % a.val_every == 0 or step == total, report)
    checkpoint()
    print(f"stopped at step {step} (calibrated={calibrated}, val acc fp32 {acc32}, 8-bit {accq})")


if __name__ == "__main__":
    main()
