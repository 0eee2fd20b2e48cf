"""How the two halves of the joint RefQSR loss (SPEC 4: reference terms L1_ref + 1000 AT_ref,
query terms L1_q + 1000 AT_q) pull on the parameters both paths share, i.e. what
`train_refqsr.py --train all` adds to query-only training. For --batches mined pair batches
it prints, per parameter group, the mean per-batch gradient norm of each half and their
cosine (dot products summed over the batches), and per body block the two norms of its
conv weights; with --matching both, once with the gradient through the RefER soft-argmax
matching and once with it detached (train_refqsr --detach-match on).

  /usr/bin/python3 train/gradient_conflict.py train/runs/ddtb-refqsr-4-3 [--batches 4]
      [--matching both|on|off] [--threads 2] [--sign-step]

--sign-step: a fresh Adam state's first step moves every parameter by its learning rate
(train_refqsr: 1e-4, bounds 1e-2) in the sign of its gradient; this applies that step along
the loss's summed gradient to one parameter group at a time and prints the change of the
mean reference and query L1 on two held-out batches (which group makes the first-step shock).

RUN is a train_refqsr run folder (latest.pt, teacher.pt, clustblock.pt). The model is in
training mode with BN frozen, as train_refqsr trains it (soft-argmax matching).
"""
import argparse
import collections
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refqsr_train import common  # noqa: E402
from refqsr_train import refqsr as R  # noqa: E402
from refqsr_train.data import load_train_pairs  # noqa: E402
from train_refqsr import frozen_teacher, load_clustblock, step_loss  # noqa: E402

GROUPS = ("body convs", "bn", "prelu", "bounds", "gates", "head conv", "body-end conv", "upsampler convs",
          "tail conv")


def group_of(name):
    """The parameter group of a shared parameter's name (GROUPS); "query path" for the
    query path's own (qlow bounds, RefER), which this tool leaves out."""
    if R.is_query_only_param(name):
        return "query path"
    if ".gate." in name:
        return "gates"
    if name.endswith((".alpha", ".alpha_l", ".alpha_u")):
        return "bounds"
    if ".bn" in name:
        return "bn"
    if ".act." in name or name.startswith("head_act."):
        return "prelu"
    if name.startswith("body.") and ".conv" in name:
        return "body convs"
    return {"head": "head conv", "body_end": "body-end conv", "up": "upsampler convs",
            "tail": "tail conv"}[name.split(".")[0]]


def shared_params(model):
    """[(name, parameter)] that both paths use: everything but refqsr.is_query_only_param."""
    return [(n, p) for n, p in model.named_parameters() if not R.is_query_only_param(n)]


def term_gradients(model, teacher, batches, at_weight=1000.0):
    """Per-batch gradients of the reference terms and of the query terms on the shared
    parameters (everything but refqsr.is_query_only_param). batches: (xr, yr, xq, yq)
    tensors. Returns {"groups": {group: (|g_ref|, |g_q|, cos)}, "blocks": {i: (|g_ref|,
    |g_q|)}} with norms the mean per-batch norm (root of summed squares / batches)."""
    shared = shared_params(model)
    params = [p for _, p in shared]
    sums = collections.defaultdict(lambda: [0.0, 0.0, 0.0])   # key -> [rr, qq, rq]

    def grads(loss):
        g = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        return [torch.zeros_like(p) if x is None else x for p, x in zip(params, g)]

    for xr, yr, xq, yq in batches:
        _, parts = step_loss(model, teacher, xr, yr, xq, yq, at_weight, False, "both")
        g_ref = grads(parts["l1_ref"] + at_weight * parts["at_ref"])
        g_q = grads(parts["l1_q"] + at_weight * parts["at_q"])
        for (n, _), a, b in zip(shared, g_ref, g_q):
            keys = [group_of(n)]
            if keys[0] == "body convs":
                keys.append(int(n.split(".")[1]))
            for k in keys:
                s = sums[k]
                s[0] += float((a * a).sum())
                s[1] += float((b * b).sum())
                s[2] += float((a * b).sum())
    nb = len(batches)
    groups = {k: (v[0] ** 0.5 / nb, v[1] ** 0.5 / nb, v[2] / max((v[0] * v[1]) ** 0.5, 1e-30))
              for k, v in sums.items() if isinstance(k, str)}
    blocks = {k: (v[0] ** 0.5 / nb, v[1] ** 0.5 / nb) for k, v in sorted((k, v) for k, v in sums.items()
                                                                        if isinstance(k, int))}
    return {"groups": groups, "blocks": blocks}


@torch.no_grad()
def held_out_l1(model, teacher, batches):
    """Mean (L1_ref, L1_q) over batches, training mode (soft matching), no gradient."""
    tot = [0.0, 0.0]
    for xr, yr, xq, yq in batches:
        _, p = step_loss(model, teacher, xr, yr, xq, yq, 1000.0, False)
        tot[0] += float(p["l1_ref"]) / len(batches)
        tot[1] += float(p["l1_q"]) / len(batches)
    return tot


def sign_step_effects(model, teacher, batches, held, lr=1e-4, lr_bounds=1e-2):
    """{group: (change of L1_ref, change of L1_q)} on `held` after one sign step of the summed
    gradient (the paper's loss over `batches`) applied to that group's shared parameters
    alone; the parameters are restored afterwards."""
    shared = shared_params(model)
    grads = [torch.zeros_like(p) for _, p in shared]
    for xr, yr, xq, yq in batches:
        loss, _ = step_loss(model, teacher, xr, yr, xq, yq, 1000.0, False)
        for g, x in zip(grads, torch.autograd.grad(loss, [p for _, p in shared], allow_unused=True)):
            if x is not None:
                g += x
    base = held_out_l1(model, teacher, held)
    out = {}
    for grp in GROUPS:
        members = [(p, g, lr_bounds if grp == "bounds" else lr) for (n, p), g in zip(shared, grads) if group_of(n) == grp]
        if not members:
            continue
        saved = [p.detach().clone() for p, _, _ in members]
        with torch.no_grad():
            for p, g, step in members:
                p -= step * torch.sign(g)
        after = held_out_l1(model, teacher, held)
        with torch.no_grad():
            for (p, _, _), s in zip(members, saved):
                p.copy_(s)
        out[grp] = (after[0] - base[0], after[1] - base[1])
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--patch", type=int, default=48)
    ap.add_argument("--matching", choices=["both", "on", "off"], default="both",
                    help="off: gradient through the soft-argmax matching; on: detached; both: each")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--data", default=None)
    ap.add_argument("--sign-step", action="store_true", help="which group's first Adam step costs most (see above)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    st = torch.load(os.path.join(a.run, "latest.pt"), map_location="cpu")
    model = R.refqsr_from_state(st["model"], st["quant"], st["refqsr"])
    tst = torch.load(os.path.join(a.run, "teacher.pt"), map_location="cpu")
    teacher = frozen_teacher(tst["teacher"], model.channels, model.blocks)
    clust, _ = load_clustblock(os.path.join(a.run, "clustblock.pt"), "cpu")
    cache = os.path.join(os.path.dirname(os.path.abspath(a.run)), ".cache")
    hrs, lrs = load_train_pairs(a.data, cache_dir=cache)
    miner = R.PairMiner(hrs, lrs, clust, model.refqsr["tau"], candidates=16, per_image=4, seed=a.seed, device="cpu")
    batches = [tuple(common.to_tensor(x, "cpu") for x in miner.batch(a.batch, a.patch)) for _ in range(a.batches)]
    model.freeze_bn()
    if a.sign_step:
        held = [tuple(common.to_tensor(x, "cpu") for x in miner.batch(a.batch, a.patch)) for _ in range(2)]
        print(f"{a.run} (step {st['step']}): one sign step per group, gradient of {a.batches} batches; "
              "change of the mean L1 on 2 held-out batches")
        for k, (dr, dq) in sign_step_effects(model, teacher, batches, held).items():
            print(f"{k:18s} L1_ref {dr:+.4f}  L1_q {dq:+.4f}")
        return
    print(f"{a.run} (step {st['step']}): {a.batches} batches of {a.batch} pairs")
    for detach in {"both": (False, True), "off": (False,), "on": (True,)}[a.matching]:
        for blk in model.refer.values():
            blk.detach_match = detach
        r = term_gradients(model, teacher, batches)
        print(f"\nmatching {'detached' if detach else 'with its gradient'}")
        print(f"{'group':18s} {'|g_ref|':>10s} {'|g_query|':>10s} {'cos':>7s}")
        for k in GROUPS:
            if k in r["groups"]:
                gr, gq, c = r["groups"][k]
                print(f"{k:18s} {gr:10.3e} {gq:10.3e} {c:7.3f}")
        print("body block conv weights |g_ref| / |g_query|: "
              + " ".join(f"{i}:{gr:.2f}/{gq:.2f}" for i, (gr, gq) in r["blocks"].items()))


if __name__ == "__main__":
    main()
