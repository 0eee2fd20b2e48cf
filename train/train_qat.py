"""Stage 2: quantization-aware training of SRResNet x4 (DDTB or PAMS), from an FP32
checkpoint, with attention-transfer distillation from the frozen FP32 teacher. Resumable.

  /usr/bin/python3 train/train_qat.py --init train/runs/srresnet-fp32/best.pt \
      --method ddtb --w-bits 4 --a-bits 4 --out train/runs/ddtb-w4a4 --minutes 60 [--resume]

Loss = L1(SR, HR) + 1000 * MSE(AT(student body feature), AT(teacher body feature)),
AT(f) = normalize(flatten(mean_c(f^2))), on the body output after the global skip
(SPEC 4). Adam (0.9, 0.999, 1e-8), lr 1e-4 for weights, 1e-2 for quantizer bounds, both
halved at --first-decay and every --decay-every steps after it.

Bounds are initialised by calibration of the FP32 model on --calib-batches batches of
training patches (refqsr_train/quant.py); DDTB's 3 gated quantizers are chosen there
too unless --gated is given. The teacher weights are stored in <out>/teacher.pt, so a
resume does not depend on the --init file (which may still be changing).
Checkpoints <out>/latest.pt (model, step, quantizer config) + <out>/latest_opt.pt (Adam)
every --ckpt-minutes and at each validation (each file < 16 MiB), <out>/best.pt
(best Set5 PSNR), <out>/log.csv and <out>/curve.png; <out>/threads changes the thread
count of a running job.
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refqsr_train.models import SRResNet  # noqa: E402
from refqsr_train.data import load_train_pairs, PatchSampler  # noqa: E402
from refqsr_train.quant import quantize_srresnet, is_bound_param, quantizer_modules  # noqa: E402
from refqsr_train import common  # noqa: E402


def lr_at(step, base, first_decay, every):
    if step < first_decay:
        return base
    return base * 0.5 ** (1 + (step - first_decay) // every)


def warmup_factor(step, fresh_from, warmup):
    """Learning-rate factor of a linear warm-up over the first `warmup` steps after Adam
    started fresh at step `fresh_from` (None: it did not): Adam's first step moves every
    weight by the full learning rate in the sign of its gradient, which cost the shipped
    DDTB 4 about 4.5 dB on Set5 at 1e-4 (recovered within ~60 steps; whether warming up
    helps over 80 steps was not shown: docs/results.md, "Joint training, measured")."""
    if fresh_from is None or warmup <= 0:
        return 1.0
    return min(1.0, (step - fresh_from + 1) / warmup)


def attention(f):
    """AT(f) = normalize(flatten(mean_c(f^2))), per sample."""
    return F.normalize(f.pow(2).mean(dim=1).flatten(1), dim=1)


def at_loss(fs, ft):
    return (attention(fs) - attention(ft)).pow(2).mean()


def load_state(path, dev):
    st = torch.load(path, map_location=dev)
    return st["model"] if "model" in st else st


@torch.no_grad()
def clamp_bounds(model):
    for q in quantizer_modules(model):
        mods = [q] + ([q.gate.q_in, q.gate.q_mid] if q.gate is not None else [])
        for m in mods:
            if m.method == "ddtb":
                m.alpha_u.data = torch.maximum(m.alpha_u.data, m.alpha_l.data + 1e-3)
            else:
                m.alpha.data.clamp_(min=1e-3)


def build_optimizer(model, lr, lr_q):
    bounds = [p for n, p in model.named_parameters() if is_bound_param(n)]
    rest = [p for n, p in model.named_parameters() if not is_bound_param(n)]
    return torch.optim.Adam([{"params": rest, "lr": lr, "base": lr}, {"params": bounds, "lr": lr_q, "base": lr_q}],
                            betas=(0.9, 0.999), eps=1e-8)


def validate(model, dev, a):
    """{"Set5": psnr, "Set14": psnr} keys kept for the log: the first of --val-sets is
    logged as psnr_set5 and picks best.pt, the second as psnr_set14."""
    sets = [s for s in a.val_sets.split(",") if s]
    v = common.validate(model, dev, sets=tuple(sets), data_root=a.val_data)
    return {"Set5": v[sets[0]], "Set14": v[sets[1]] if len(sets) > 1 else float("nan")}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--init", default=None, help="FP32 checkpoint (train_fp32 latest.pt / best.pt)")
    ap.add_argument("--method", choices=["ddtb", "pams"], default="ddtb")
    ap.add_argument("--w-bits", type=int, default=4)
    ap.add_argument("--a-bits", type=int, default=4)
    ap.add_argument("--gated", default=None, help="DDTB: comma-separated quantizer indices (default: calibrate)")
    ap.add_argument("--out", default="train/runs/qat")
    ap.add_argument("--minutes", type=float, default=0, help="time budget (0 = unlimited)")
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--patch", type=int, default=48, help="LR patch size")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--lr-q", type=float, default=1e-2, help="learning rate of the quantizer bounds")
    ap.add_argument("--at-weight", type=float, default=1000.0)
    ap.add_argument("--warmup", type=int, default=0,
                    help="steps of linear learning-rate warm-up whenever Adam starts fresh (0: none)")
    ap.add_argument("--first-decay", type=int, default=15000)
    ap.add_argument("--decay-every", type=int, default=10000)
    ap.add_argument("--calib-batches", type=int, default=4)
    ap.add_argument("--val-every", type=int, default=500)
    ap.add_argument("--ckpt-minutes", type=float, default=5)
    ap.add_argument("--data", default=None, help="folder holding T91/HR and BSD200/HR (default ../shared/data)")
    ap.add_argument("--val-data", default=None)
    ap.add_argument("--val-sets", default="Set5,Set14", help="validation sets under --val-data (first one picks best.pt)")
    ap.add_argument("--no-val", action="store_true", help="skip Set5/Set14 validation (smoke tests)")
    ap.add_argument("--extra-scales", default="")
    ap.add_argument("--channels", type=int, default=64, help="(tests only) SRResNet width")
    ap.add_argument("--blocks", type=int, default=16, help="(tests only) SRResNet depth")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)

    os.makedirs(a.out, exist_ok=True)
    dev = common.pick_device(a.device)
    common.apply_thread_control(a.out, a.threads)
    torch.manual_seed(a.seed)
    ckpt = os.path.join(a.out, "latest.pt")
    opt_ckpt = os.path.join(a.out, "latest_opt.pt")
    teacher_ckpt = os.path.join(a.out, "teacher.pt")
    resume = a.resume and os.path.exists(ckpt)
    st = torch.load(ckpt, map_location=dev) if resume else None

    extra = tuple(float(s) for s in a.extra_scales.split(",") if s)
    cache = os.path.join(os.path.dirname(os.path.abspath(a.out)), ".cache")
    hrs, lrs = load_train_pairs(a.data, extra_scales=extra, cache_dir=cache)

    teacher = SRResNet(a.channels, a.blocks).to(dev)
    student = SRResNet(a.channels, a.blocks).to(dev)
    if resume:
        teacher.load_state_dict(torch.load(teacher_ckpt, map_location=dev)["teacher"])
        quantize_srresnet(student, st["quant"]["method"], st["quant"]["w_bits"], st["quant"]["a_bits"],
                          gated=st["quant"]["gated"])
        student.load_state_dict(st["model"])
        init = st.get("init")
    else:
        if not a.init:
            sys.exit("--init FP32 checkpoint required (or --resume with an existing latest.pt)")
        sd = load_state(a.init, dev)
        teacher.load_state_dict(sd)
        student.load_state_dict(sd)
        init = os.path.abspath(a.init)
        cal = PatchSampler(hrs, lrs, seed=a.seed + 12345)
        calib = [common.to_tensor(cal.batch(a.batch, a.patch)[0], dev) for _ in range(a.calib_batches)]
        gated = [int(s) for s in a.gated.split(",")] if a.gated else None
        quantize_srresnet(student, a.method, a.w_bits, a.a_bits, gated=gated, calib=calib)
        print("quantizers:", student.quant_config)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    qc = student.quant_config

    opt = build_optimizer(student, a.lr, a.lr_q)
    step, best, wall = 0, -1.0, 0.0
    fresh_from = 0   # the step Adam started fresh at (None: its state was loaded)
    if resume:
        step, best, wall = st["step"], st.get("best", -1.0), st.get("wall", 0.0)
        fresh_from = step
        ost = torch.load(opt_ckpt, map_location=dev) if os.path.exists(opt_ckpt) else None
        if ost is not None and ost["step"] == step:
            opt.load_state_dict(ost["opt"])
            fresh_from = None
        else:
            print("warning: no optimizer state for this step; Adam restarts")
        print(f"resumed at step {step} (best Set5 {best:.3f}, {wall/3600:.2f} h so far)")
    del st
    sampler = PatchSampler(hrs, lrs, seed=a.seed + step)
    print(f"{len(lrs)} training images, device {dev}, threads {torch.get_num_threads()}, {qc}")
    log = common.CsvLog(os.path.join(a.out, "log.csv"),
                        ["step", "loss", "l1", "at", "lr", "psnr_set5", "psnr_set14", "hours"])
    timer = common.Timer(a.minutes)
    running = common.RunningMeans("loss", "l1", "at")

    def checkpoint():
        # three files, each small enough (< 16 MiB) to come back from the GPU machine:
        # teacher.pt (once), latest_opt.pt (Adam state), latest.pt (model + progress)
        if not os.path.exists(teacher_ckpt):
            common.save_checkpoint(teacher_ckpt, teacher=teacher.state_dict(), init=init)
        common.save_checkpoint(opt_ckpt, opt=opt.state_dict(), step=step)
        common.save_checkpoint(ckpt, model=student.state_dict(), step=step, best=best,
                               wall=wall + timer.elapsed(), args=vars(a), quant=qc, init=init, device=str(dev))

    periodic = common.PeriodicCheckpoint(checkpoint, a.ckpt_minutes)

    def report():
        nonlocal best
        m = running.means()
        v = {"Set5": float("nan"), "Set14": float("nan")} if a.no_val else validate(student, dev, a)
        hours = (wall + timer.elapsed()) / 3600
        lr_now = opt.param_groups[0]["lr"]
        log.write(step=step, lr=lr_now, psnr_set5=v["Set5"], psnr_set14=v["Set14"], hours=hours, **m)
        print(f"step {step} loss {m['loss']:.3f} (l1 {m['l1']:.3f} at {m['at']:.2e}) lr {lr_now:.1e} "
              f"Set5 {v['Set5']:.3f} Set14 {v['Set14']:.3f} ({hours:.2f} h)", flush=True)
        if not a.no_val and v["Set5"] > best:
            best = v["Set5"]
            torch.save({"model": student.state_dict(), "quant": qc, "step": step, "psnr": v, "init": init,
                        "wall": wall + timer.elapsed(), "args": vars(a)}, os.path.join(a.out, "best.pt"))
        log.plot(os.path.join(a.out, "curve.png"), ("loss", "at", "psnr_set5", "psnr_set14"))

    student.train()
    while True:
        if timer.done() or (a.max_steps and step >= a.max_steps):
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, g["base"], a.first_decay, a.decay_every) * warmup_factor(step, fresh_from, a.warmup)
        lr_b, hr_b = sampler.batch(a.batch, a.patch)
        x, y = common.to_tensor(lr_b, dev), common.to_tensor(hr_b, dev)
        with torch.no_grad():
            ft = teacher.features(x)[1]   # only the body feature: the teacher's HR output is never used
        sr, fs = student(x, return_feat=True)
        l1 = F.l1_loss(sr, y)
        at = at_loss(fs, ft)
        loss = l1 + a.at_weight * at
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        clamp_bounds(student)
        step += 1
        running.add(loss=loss.item(), l1=l1.item(), at=at.item())
        common.end_of_step(step, a, periodic,
                           step % a.val_every == 0 or (a.max_steps and step == a.max_steps and a.no_val), report)
    checkpoint()
    print(f"stopped at step {step}")


if __name__ == "__main__":
    main()
