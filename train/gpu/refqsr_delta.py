"""Packs a RefQSR run into what differs from its QAT baseline, and rebuilds the run from it.

The GPU machine returns at most 64 MiB per call. A RefQSR checkpoint is a whole SRResNet
(6.5 MiB), but a query-only run (`train_refqsr.py --train query`) changes only its qlow
bounds and RefER blocks (about 0.6 MiB); everything else is its QAT baseline, which comes
back anyway. So train/gpu/session.sh returns each RefQSR run as a delta against the QAT
checkpoint it started from, and this script puts the run folder back together here.

  python3 train/gpu/refqsr_delta.py pack RUN QAT_LATEST.pt OUT.delta.pt
  python3 train/gpu/refqsr_delta.py pack-runs WORK DEST   # every WORK/<m>-refqsr-<h>-<l> against
                                                          # WORK/<m>-w<h>a<h>/latest.pt, to DEST/<run>.delta.pt
  python3 train/gpu/refqsr_delta.py unpack OUT.delta.pt --qat train/runs/ddtb-w8a8/latest.pt \
      --teacher train/runs/srresnet-fp32/latest.pt --clustblock train/runs/clustblock/latest.pt \
      --out train/runs/ddtb-refqsr-8-4

pack keeps every tensor of RUN/latest.pt that is new or differs from the QAT model (a
joint run thus keeps them all, which is still correct, only larger), the run's metadata,
latest_opt.pt, log.csv, and fingerprints of the QAT model and of the teacher in
RUN/teacher.pt. unpack refuses a QAT checkpoint or teacher whose fingerprint differs, and
writes RUN's latest.pt (the full state, checked by loading it into a RefQSRNet),
latest_opt.pt, log.csv, curve.png, teacher.pt and clustblock.pt as train_refqsr.py would.
"""
import argparse
import hashlib
import os
import sys

import torch

TRAIN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TRAIN)
from refqsr_train import common  # noqa: E402
from refqsr_train import refqsr as R  # noqa: E402
from refqsr_train.plot import plot_log  # noqa: E402

FORMAT = "refqsr-delta-1"


def fingerprint(state):
    """sha256 over the names, dtypes, shapes and bytes of a state_dict's tensors."""
    if not any(torch.is_tensor(v) for v in state.values()):
        raise ValueError("no tensors to fingerprint (not a state_dict?)")
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k]
        if not torch.is_tensor(t):
            continue
        t = t.detach().cpu().contiguous()
        h.update(k.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def _load(path):
    return torch.load(path, map_location="cpu")


def _model_state(ckpt):
    """The model state_dict of a train_fp32 / train_qat / train_refqsr checkpoint or of a
    teacher.pt."""
    for key in ("model", "teacher"):
        if key in ckpt:
            return ckpt[key]
    return ckpt


def pack(run, qat_path, out):
    st = _load(os.path.join(run, "latest.pt"))
    base = _model_state(_load(qat_path))
    sd = st["model"]
    delta = {k: v for k, v in sd.items() if k not in base or not torch.equal(v.cpu(), base[k].cpu())}
    teacher = _load(os.path.join(run, "teacher.pt"))["teacher"]
    opt_path, log_path = os.path.join(run, "latest_opt.pt"), os.path.join(run, "log.csv")
    bundle = {
        "format": FORMAT,
        "run": os.path.basename(os.path.normpath(run)),
        "delta": delta,
        "keys": list(sd.keys()),
        "meta": {k: v for k, v in st.items() if k != "model"},
        "qat_fingerprint": fingerprint(base),
        "teacher_fingerprint": fingerprint(teacher),
        "opt": _load(opt_path) if os.path.exists(opt_path) else None,
        "log_csv": open(log_path).read() if os.path.exists(log_path) else None,
    }
    common.save_checkpoint(out, **bundle)
    return len(delta), len(sd)


def pack_runs(work, dest):
    """Packs every RefQSR run folder in work (<method>-refqsr-<high>-<low> with latest.pt and
    teacher.pt) against its QAT run <method>-w<high>a<high> beside it; one failing run
    (say, a checkpoint being replaced) does not stop the others."""
    os.makedirs(dest, exist_ok=True)
    packed = []
    for run in sorted(os.listdir(work)):
        parts = run.split("-")
        folder = os.path.join(work, run)
        if len(parts) != 4 or parts[1] != "refqsr" or not os.path.exists(os.path.join(folder, "latest.pt")):
            continue
        method, _, high, _ = parts
        qat = os.path.join(work, f"{method}-w{high}a{high}", "latest.pt")
        try:
            tmp = os.path.join(dest, run + ".delta.pt")
            pack(folder, qat, tmp)
            packed.append(run)
        except Exception as e:   # noqa: BLE001 - report and go on with the next run
            print(f"{run}: not packed: {e}", file=sys.stderr)
    return packed


def unpack(bundle_path, qat_path, teacher_paths, clustblock_path, out):
    """teacher_paths: one FP32 checkpoint or teacher.pt, or several candidates, of which the
    first whose fingerprint is the run's teacher's is taken (the FP32 model of today, the QAT
    run's teacher and the RefQSR run's own teacher.pt can each be the one the run was trained
    with, depending on which stages the GPU session ran)."""
    b = _load(bundle_path)
    if b.get("format") != FORMAT:
        sys.exit(f"{bundle_path}: not a {FORMAT} bundle")
    base = _model_state(_load(qat_path))
    if fingerprint(base) != b["qat_fingerprint"]:
        sys.exit(f"{qat_path} is not the QAT model {b['run']} started from (fingerprints differ)")
    teacher_path, teacher = None, None
    candidates = [teacher_paths] if isinstance(teacher_paths, str) else list(teacher_paths)
    for p in candidates:
        if os.path.exists(p) and fingerprint(_model_state(_load(p))) == b["teacher_fingerprint"]:
            teacher_path, teacher = p, _model_state(_load(p))
            break
    if teacher is None:
        sys.exit(f"{' nor '.join(candidates)} is {b['run']}'s teacher (fingerprints differ)")
    missing = [k for k in b["keys"] if k not in b["delta"] and k not in base]
    if missing:
        sys.exit(f"{qat_path} lacks {len(missing)} tensors of {b['run']}, e.g. {missing[0]}")
    sd = {k: b["delta"][k] if k in b["delta"] else base[k] for k in b["keys"]}
    meta = b["meta"]
    R.refqsr_from_state(sd, meta["quant"], meta["refqsr"])   # strict load: every tensor fits
    os.makedirs(out, exist_ok=True)
    common.save_checkpoint(os.path.join(out, "latest.pt"), model=sd, **meta)
    if b["opt"] is not None:
        common.save_checkpoint(os.path.join(out, "latest_opt.pt"), **b["opt"])
    common.save_checkpoint(os.path.join(out, "teacher.pt"), teacher=teacher, init=os.path.abspath(teacher_path))
    cst = _load(clustblock_path)
    common.save_checkpoint(os.path.join(out, "clustblock.pt"), **{k: v for k, v in cst.items() if k != "opt"})
    if b["log_csv"] is not None:
        log = os.path.join(out, "log.csv")
        with open(log, "w") as f:
            f.write(b["log_csv"])
        try:
            plot_log(log, os.path.join(out, "curve.png"), ("l1_q", "psnr_set5", "psnr_set14", "query_frac"))
        except Exception as e:   # the checkpoint matters, the plot does not
            print("plot failed:", e)
    return meta.get("step")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("run")
    p.add_argument("qat")
    p.add_argument("out")
    pr = sub.add_parser("pack-runs")
    pr.add_argument("work")
    pr.add_argument("dest")
    u = sub.add_parser("unpack")
    u.add_argument("bundle")
    u.add_argument("--qat", required=True)
    u.add_argument("--teacher", required=True, action="append",
                   help="the FP32 checkpoint the QAT model was trained from; repeated: candidates, "
                        "the first with the run's teacher's fingerprint is taken")
    u.add_argument("--clustblock", default=os.path.join(TRAIN, "runs", "clustblock", "latest.pt"))
    u.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    if a.cmd == "pack-runs":
        print("packed:", " ".join(pack_runs(a.work, a.dest)) or "none")
    elif a.cmd == "pack":
        n, total = pack(a.run, a.qat, a.out)
        print(f"{a.out}: {n} of {total} tensors differ from {a.qat}")
    else:
        step = unpack(a.bundle, a.qat, a.teacher, a.clustblock, a.out)
        print(f"{a.out}: rebuilt at step {step}")


if __name__ == "__main__":
    main()
