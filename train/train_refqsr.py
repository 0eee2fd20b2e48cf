"""Stage 3: RefQSR training (SPEC 4 "Training", docs/refqsr.md) from a trained DDTB/PAMS
QAT checkpoint and the FP32 teacher, with reference/query pairs mined by the trained
ClustBlock. Resumable.

  /usr/bin/python3 train/train_refqsr.py --init train/runs/ddtb-w8a8/best.pt --method ddtb \
      --b-high 8 --b-low 4 --clustblock train/runs/clustblock/latest.pt \
      --out train/runs/refqsr-ddtb-8-4 --minutes 120 [--resume]

Model: refqsr_train/refqsr.py (shared float master weights; reference path = the QAT model
at b_high; query path with b_medium weights, qlow activation quantizers at b_low and RefER
blocks replacing the last two ResBlocks). Initialisation (fresh start):
  - everything of the QAT model (weights, BN, PReLU, bounds, DDTB gates) from --init;
  - RefER convs from the replaced ResBlocks (--refer-init block: conv1 = block j's conv1
    with its BN1 scale folded in, PReLU slope of block j, conv2 = 0.1 x block j's conv2
    with its BN2 scale folded in), or --refer-init zero (N(0, 1e-3));
  - qlow (b_low) and RefER (b_high) activation bounds by calibration (model in eval mode,
    --calib-batches pair batches, the tails of quant.py: 1 % below 6 bits, else 0.1 %).
Pairs: refqsr.PairMiner (per image --candidates random 48 px LR patches, ClustBlock
logits (8-bit fake-quant), the clustering of docs/refqsr.md; each query with its
reference, cosine >= tau), --batch pairs (16) per step.
--train query freezes everything the reference path uses (refqsr.freeze_shared): only the
qlow bounds and the RefER blocks learn, so the reference path stays exactly the --init QAT
model and the RefQSR model differs from its baseline in its queries alone.
Loss = L1(SR_ref, HR_ref) + L1(SR_q, HR_q) + at_weight * (AT_ref + AT_q), AT against the
frozen FP32 teacher on the body feature after the global skip (train_qat.at_loss).
With --train query the reference terms give no gradient (nothing trainable is on the
reference path), so they are not computed: the step runs the reference path only up to
the RefER blocks' inputs and the teacher on the queries only, about a third less work per
step for the same gradients (step_loss); log.csv's loss is then L1_q + at_weight * AT_q and
its l1_ref / at_ref columns are empty from the step a run trains query-only (before
2026-11-29 they were computed and logged).
Adam (0.9, 0.999, 1e-8), lr 1e-4 weights, 1e-2 quantizer bounds, halved at --first-decay
and every --decay-every steps after. BN on its running statistics (frozen statistics,
affine trained). Soft-argmax (temperature 1000) in training, hard argmax in validation.
Validation: full RefQSR patch inference (refqsr.infer_image, --val-patch px, CADyQ tiling
and merge) on --val-sets, PSNR-Y, plus the fraction of query patches.
Files in --out as train_qat.py: latest.pt (+ quant, refqsr config), latest_opt.pt,
teacher.pt, clustblock.pt (the ClustBlock used, written once), best.pt, log.csv,
curve.png, threads.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refqsr_train.models import SRResNet  # noqa: E402
from refqsr_train.data import load_train_pairs, cached_val_set  # noqa: E402
from refqsr_train.clustblock import ClustBlock  # noqa: E402
from refqsr_train.metrics import psnr_y  # noqa: E402
from refqsr_train import common  # noqa: E402
from refqsr_train import refqsr as R  # noqa: E402
from train_qat import at_loss, build_optimizer, lr_at, warmup_factor  # noqa: E402


def load_clustblock(path, dev):
    st = torch.load(path, map_location=dev)
    cb = st["clustblock"]
    m = ClustBlock(classes=cb["classes"], bits=cb.get("bits", 8))
    m.load_state_dict(st["model"])
    m.set_quantized(bool(cb.get("calibrated", False)))
    return m.to(dev).eval(), st


def frozen_teacher(state_dict, channels, blocks, dev="cpu"):
    """The FP32 SRResNet teacher from its state_dict, in eval mode, with no gradients."""
    teacher = SRResNet(channels, blocks).to(dev)
    teacher.load_state_dict(state_dict)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def step_loss(model, teacher, xr, yr, xq, yq, at_weight, query_only, terms="both"):
    """One step's loss and its parts. query_only: only the query terms (the reference
    terms' gradient is zero when the reference path is frozen), from the reference path's
    RefER inputs alone; the teacher gives only its body feature (its HR output is never
    used). terms ("both", "ref", "query"; --loss): which output's terms the loss sums when
    every part is computed (the others are still logged): the paper's loss is "both", the
    other two are ablations of joint training."""
    if query_only:
        with torch.no_grad():
            keep = model.reference_inputs(xr)
            tq = teacher.features(xq)[1]
        sr_q, f_q = model.forward_query(xq, keep)
        parts = {"l1_q": F.l1_loss(sr_q, yq), "at_q": at_loss(f_q, tq)}
        return parts["l1_q"] + at_weight * parts["at_q"], parts
    with torch.no_grad():
        tr = teacher.features(xr)[1]
        tq = teacher.features(xq)[1]
    sr_r, f_r, sr_q, f_q = model.forward_pair(xr, xq)
    parts = {"l1_ref": F.l1_loss(sr_r, yr), "l1_q": F.l1_loss(sr_q, yq),
             "at_ref": at_loss(f_r, tr), "at_q": at_loss(f_q, tq)}
    ref = parts["l1_ref"] + at_weight * parts["at_ref"]
    query = parts["l1_q"] + at_weight * parts["at_q"]
    return {"both": ref + query, "ref": ref, "query": query}[terms], parts


@torch.no_grad()
def validate(model, clust, dev, a):
    sets = [s for s in a.val_sets.split(",") if s]
    was = model.training
    model.eval()
    res, nq, npat = {}, 0, 0
    for s in sets:
        vals = []
        for hr, lr in cached_val_set(s, 4, a.val_data):
            sr, q, n = R.infer_image(model, clust, lr, a.val_patch, device=dev)
            vals.append(psnr_y(sr, hr, 4))
            nq, npat = nq + q, npat + n
        res[s] = float(np.mean(vals))
    model.train(was)
    model.freeze_bn()
    return res, nq / max(npat, 1)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--init", default=None, help="QAT checkpoint (train_qat latest.pt / best.pt) with w_bits = a_bits = b_high")
    ap.add_argument("--teacher", default=None, help="FP32 teacher (default: teacher.pt next to --init)")
    ap.add_argument("--clustblock", default="train/runs/clustblock/latest.pt")
    ap.add_argument("--method", choices=["ddtb", "pams"], default=None, help="must match --init (checked)")
    ap.add_argument("--b-high", type=int, default=None, help="must match --init's bits (default: them)")
    ap.add_argument("--b-low", type=int, default=4)
    ap.add_argument("--tau", type=float, default=0.5)
    ap.add_argument("--refer-blocks", default=None, help="default: the last two blocks (14,15)")
    ap.add_argument("--refer-init", choices=["block", "zero"], default="block")
    ap.add_argument("--train", choices=["all", "query"], default=None,
                    help="all: every parameter (SPEC 4); query: only the query path's own ones (qlow bounds, "
                         "RefER), the reference path stays the --init model (default: all, or the run's own on --resume)")
    ap.add_argument("--loss", choices=["both", "ref", "query"], default=None,
                    help="ablation of joint training: sum only the reference or only the query terms (all logged); "
                         "default both, or the resumed run's")
    ap.add_argument("--detach-match", choices=["on", "off"], default=None,
                    help="on: no gradient through the RefER soft-argmax matching into the features (default off, "
                         "or the resumed run's)")
    ap.add_argument("--match-range", type=float, default=None,
                    help="experiment, not SPEC 4: quantize the RefER matching's pooled unit vectors on [-R, R] "
                         "instead of [-1, 1] (kept on resume; such a model cannot be exported)")
    ap.add_argument("--out", default="train/runs/refqsr")
    ap.add_argument("--minutes", type=float, default=0)
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16, help="pairs per batch")
    ap.add_argument("--patch", type=int, default=48, help="LR patch size")
    ap.add_argument("--candidates", type=int, default=16, help="candidate patches per image for pair mining")
    ap.add_argument("--per-image", type=int, default=4, help="at most this many pairs from one image")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--lr-q", type=float, default=1e-2)
    ap.add_argument("--at-weight", type=float, default=1000.0)
    ap.add_argument("--warmup", type=int, default=0,
                    help="steps of linear learning-rate warm-up whenever Adam starts fresh (0: none)")
    ap.add_argument("--first-decay", type=int, default=15000)
    ap.add_argument("--decay-every", type=int, default=10000)
    ap.add_argument("--calib-batches", type=int, default=4)
    ap.add_argument("--val-every", type=int, default=500)
    ap.add_argument("--val-patch", type=int, default=48, help="patch size of the validation inference")
    ap.add_argument("--ckpt-minutes", type=float, default=5)
    ap.add_argument("--data", default=None)
    ap.add_argument("--val-data", default=None)
    ap.add_argument("--val-sets", default="Set5,Set14")
    ap.add_argument("--no-val", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)

    os.makedirs(a.out, exist_ok=True)
    dev = common.pick_device(a.device)
    common.speed_up_cpu()
    common.apply_thread_control(a.out, a.threads)
    torch.manual_seed(a.seed)
    ckpt = os.path.join(a.out, "latest.pt")
    opt_ckpt = os.path.join(a.out, "latest_opt.pt")
    teacher_ckpt = os.path.join(a.out, "teacher.pt")
    clust_ckpt = os.path.join(a.out, "clustblock.pt")
    resume = a.resume and os.path.exists(ckpt)
    st = torch.load(ckpt, map_location=dev) if resume else None

    cache = os.path.join(os.path.dirname(os.path.abspath(a.out)), ".cache")
    hrs, lrs = load_train_pairs(a.data, cache_dir=cache)

    if resume:
        tst = torch.load(teacher_ckpt, map_location=dev)
        clust, _ = load_clustblock(clust_ckpt, dev)
        model = R.refqsr_from_state(st["model"], st["quant"], st["refqsr"]).to(dev)
        init, clust_init = st.get("init"), st.get("clustblock_init")
    else:
        if not a.init:
            sys.exit("--init QAT checkpoint required (or --resume with an existing latest.pt)")
        qst = torch.load(a.init, map_location="cpu")
        quant = qst["quant"]
        if a.method and a.method != quant["method"]:
            sys.exit(f"--method {a.method} but {a.init} is {quant['method']}")
        if a.b_high and a.b_high != quant["a_bits"]:
            sys.exit(f"--b-high {a.b_high} but {a.init} is W{quant['w_bits']}A{quant['a_bits']}")
        tpath = a.teacher or os.path.join(os.path.dirname(a.init), "teacher.pt")
        tst = torch.load(tpath, map_location="cpu")
        tst = {"teacher": tst.get("teacher", tst.get("model")), "init": tst.get("init", tpath)}
        refer = [int(s) for s in a.refer_blocks.split(",")] if a.refer_blocks else None
        model = R.refqsr_from_qat(qst["model"], quant, a.b_low, a.tau, refer).to(dev)
        clust, cst = load_clustblock(a.clustblock, dev)
        common.save_checkpoint(clust_ckpt, **{k: v for k, v in cst.items() if k != "opt"})
        init, clust_init = os.path.abspath(a.init), os.path.abspath(a.clustblock)
    teacher = frozen_teacher(tst["teacher"], model.channels, model.blocks, dev)
    for p in clust.parameters():
        p.requires_grad_(False)

    if a.match_range is not None:   # before calibration: the matching moves the RefER inputs
        model.set_match_range(a.match_range)
    step, best, wall = 0, -1.0, 0.0
    if not resume:
        R.init_refer_convs(model, a.refer_init, seed=a.seed)
        cal = R.PairMiner(hrs, lrs, clust, a.tau, candidates=a.candidates, per_image=a.per_image,
                          seed=a.seed + 12345, device=dev)
        pairs = []
        for _ in range(a.calib_batches):
            lr_r, _, lr_q, _ = cal.batch(a.batch, a.patch)
            pairs.append((common.to_tensor(lr_r, dev), common.to_tensor(lr_q, dev)))
        R.calibrate_query(model, pairs)
        print("calibrated qlow / RefER bounds on", len(pairs), "pair batches")
    qc, rc = model.quant_config, model.refqsr
    run_args = (st.get("args") or {}) if resume else {}   # options a resumed run keeps unless given
    prev_train = run_args.get("train")
    a.train = a.train or prev_train or "all"
    a.loss = a.loss or run_args.get("loss") or "both"
    a.detach_match = a.detach_match or run_args.get("detach_match") or "off"
    for blk in model.refer.values():
        blk.detach_match = a.detach_match == "on"
    if a.train == "query" and a.loss == "ref":
        sys.exit("--loss ref with --train query would train nothing: the query-only step has no reference terms")
    if a.train == "query":
        print("query-only training:", len(R.freeze_shared(model)), "parameter tensors trainable; the reference path is frozen")
    opt = build_optimizer(model, a.lr, a.lr_q)
    fresh_from = 0   # the step Adam started fresh at (None: its state was loaded)
    if resume:
        step, best, wall = st["step"], st.get("best", -1.0), st.get("wall", 0.0)
        fresh_from = step
        ost = torch.load(opt_ckpt, map_location=dev) if os.path.exists(opt_ckpt) else None
        if ost is not None and ost["step"] == step:
            opt.load_state_dict(ost["opt"])
            fresh_from = None
        if fresh_from is not None:
            print("warning: no optimizer state for this step; Adam restarts")
        elif prev_train and prev_train != a.train:
            # the newly trainable parameters have no Adam moments: their first steps are fresh ones
            fresh_from = step
            print(f"--train {prev_train} -> {a.train}: Adam starts fresh for the newly trainable parameters")
        print(f"resumed at step {step} (best {best:.3f}, {wall/3600:.2f} h so far)")
    del st
    miner = R.PairMiner(hrs, lrs, clust, rc["tau"], candidates=a.candidates, per_image=a.per_image,
                        seed=a.seed + step, device=dev)
    print(f"{len(lrs)} training images, device {dev}, threads {torch.get_num_threads()}, {qc}, refqsr {rc}")
    log = common.CsvLog(os.path.join(a.out, "log.csv"),
                        ["step", "loss", "l1_ref", "l1_q", "at_ref", "at_q", "lr", "psnr_set5", "psnr_set14",
                         "query_frac", "hours"])
    timer = common.Timer(a.minutes)
    # a query-only step computes no reference terms: their columns read NaN
    running = common.RunningMeans("loss", "l1_ref", "l1_q", "at_ref", "at_q")

    def checkpoint():
        if not os.path.exists(teacher_ckpt):
            common.save_checkpoint(teacher_ckpt, teacher=teacher.state_dict(), init=tst.get("init"))
        common.save_checkpoint(opt_ckpt, opt=opt.state_dict(), step=step)
        common.save_checkpoint(ckpt, model=model.state_dict(), step=step, best=best, wall=wall + timer.elapsed(),
                               args=vars(a), quant=qc, refqsr=rc, init=init, clustblock_init=clust_init,
                               device=str(dev))

    periodic = common.PeriodicCheckpoint(checkpoint, a.ckpt_minutes)

    def report():
        nonlocal best
        m = running.means()
        if a.no_val:
            v, qf = {"Set5": float("nan"), "Set14": float("nan")}, float("nan")
        else:
            vv, qf = validate(model, clust, dev, a)
            sets = [s for s in a.val_sets.split(",") if s]
            v = {"Set5": vv[sets[0]], "Set14": vv[sets[1]] if len(sets) > 1 else float("nan")}
        hours = (wall + timer.elapsed()) / 3600
        lr_now = opt.param_groups[0]["lr"]
        log.write(step=step, lr=lr_now, psnr_set5=v["Set5"], psnr_set14=v["Set14"], query_frac=qf, hours=hours,
                  **m)
        print(f"step {step} loss {m['loss']:.3f} (l1 ref {m['l1_ref']:.3f} q {m['l1_q']:.3f}, "
              f"at ref {m['at_ref']:.2e} q {m['at_q']:.2e}) lr {lr_now:.1e} "
              f"Set5 {v['Set5']:.3f} Set14 {v['Set14']:.3f} queries {qf:.2f} ({hours:.2f} h) "
              f"mining {miner.stats}", flush=True)
        if not a.no_val and v["Set5"] > best:
            best = v["Set5"]
            torch.save({"model": model.state_dict(), "quant": qc, "refqsr": rc, "step": step, "psnr": v,
                        "init": init, "clustblock_init": clust_init, "query_frac": qf,
                        "wall": wall + timer.elapsed(), "args": vars(a)}, os.path.join(a.out, "best.pt"))
        log.plot(os.path.join(a.out, "curve.png"), ("l1_q", "psnr_set5", "psnr_set14", "query_frac"))

    model.freeze_bn()
    while True:
        if timer.done() or (a.max_steps and step >= a.max_steps):
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, g["base"], a.first_decay, a.decay_every) * warmup_factor(step, fresh_from, a.warmup)
        lr_r, hr_r, lr_q, hr_q = miner.batch(a.batch, a.patch)
        xr, yr = common.to_tensor(lr_r, dev), common.to_tensor(hr_r, dev)
        xq, yq = common.to_tensor(lr_q, dev), common.to_tensor(hr_q, dev)
        loss, parts = step_loss(model, teacher, xr, yr, xq, yq, a.at_weight, a.train == "query", a.loss)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        R.clamp_all_bounds(model)
        step += 1
        running.add(loss=loss.item(), **{k: v.item() for k, v in parts.items()})
        common.end_of_step(step, a, periodic,
                           step % a.val_every == 0 or (a.max_steps and step == a.max_steps and a.no_val), report)
    checkpoint()
    print(f"stopped at step {step}")


if __name__ == "__main__":
    main()
