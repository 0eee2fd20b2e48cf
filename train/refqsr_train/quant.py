"""Fake-quant modules for SRResNet QAT (DDTB and PAMS), exactly the formulas of
docs/integer-arithmetic.md, with straight-through estimators.

A quantizer is (lo, hi, s, zp, qlo, qhi):

  DDTB  s = (2^b - 1) / (hi - lo)   zp = round(s*lo) + 2^(b-1)   codes -2^(b-1) .. 2^(b-1)-1
  PAMS  s = (2^(b-1) - 1) / hi      zp = 0                       codes -(2^(b-1)-1) .. 2^(b-1)-1

  code = clamp(round(clip(x, lo, hi)*s - zp), qlo, qhi),  x_hat = (code + zp) / s

All of it in float32, one rounding per operation, round half to even (torch.round).
Note: `python_scalar / tensor` in PyTorch is computed as `tensor.reciprocal() * scalar`
(two roundings), so every division below is written tensor / tensor.

Gradients (one fused autograd node, _FakeQuantFn): round() is the identity (STE); the
gradient goes to x inside [lo, hi] and to the bound that clipped it outside (PACT / DDTB
style), so a learned bound gets the summed gradient of the values it clipped; s and zp
are constants in backward.  Weight ranges are computed from the detached float weights every forward
(DDTB: 1st/99th percentile with torch.quantile; PAMS: max |w|).
"""
import math
import weakref

import torch
import torch.nn as nn
import torch.nn.functional as F


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.round(x)  # half to even

    @staticmethod
    def backward(ctx, g):
        return g


def round_ste(x):
    return _RoundSTE.apply(x)


def _clip(x, lo, hi):
    return torch.minimum(torch.maximum(x, lo), hi)


def qparams(method, bits, lo, hi, ste=True):
    """(s, zp, qlo, qhi) for float32 tensors lo, hi (any broadcastable shape)."""
    rnd = round_ste if ste else torch.round
    if method == "ddtb":
        s = torch.full_like(hi, float(2 ** bits - 1)) / (hi - lo)
        zp = rnd(s * lo) + float(2 ** (bits - 1))
        return s, zp, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if method == "pams":
        qmax = 2 ** (bits - 1) - 1
        s = torch.full_like(hi, float(qmax)) / hi
        return s, torch.zeros_like(s), -qmax, qmax
    raise ValueError(method)


def quant_codes(x, lo, hi, s, zp, qlo, qhi):
    """Integer codes (as float tensor), STE through round."""
    return torch.clamp(round_ste(_clip(x, lo, hi) * s - zp), qlo, qhi)


class _FakeQuantFn(torch.autograd.Function):
    """x_hat = (clamp(round(clip(x, lo, hi)*s - zp), qlo, qhi) + zp) / s in one node.
    Backward (STE): dx = g inside [lo, hi], 0 outside; dlo = sum of g where x < lo,
    dhi = sum of g where x > hi (summed to the bound's shape: [1] or [N,1,1,1]).
    Only two boolean masks are kept for backward."""

    @staticmethod
    def forward(ctx, x, lo, hi, s, zp, qlo, qhi):
        below, above = x < lo, x > hi
        code = torch.clamp(torch.round(torch.minimum(torch.maximum(x, lo), hi) * s - zp), qlo, qhi)
        ctx.save_for_backward(below, above)
        ctx.shapes = (lo.shape, hi.shape)
        ctx.needs = (ctx.needs_input_grad[1], ctx.needs_input_grad[2])
        return (code + zp) / s

    @staticmethod
    def backward(ctx, g):
        below, above = ctx.saved_tensors
        gx = g.masked_fill(below | above, 0.0)
        glo = (g * below).sum_to_size(ctx.shapes[0]) if ctx.needs[0] else None
        ghi = (g * above).sum_to_size(ctx.shapes[1]) if ctx.needs[1] else None
        return gx, glo, ghi, None, None, None, None


def fake_quant(x, method, bits, lo, hi):
    """Fake-quantized x (value exactly (code + zp) / s of integer-arithmetic.md)."""
    with torch.no_grad():
        s, zp, qlo, qhi = qparams(method, bits, lo.detach(), hi.detach(), ste=False)
    return _FakeQuantFn.apply(x, lo, hi, s, zp, qlo, qhi)


# ----------------------------------------------------------------------------- weights

def weight_range(w, method):
    """(lo, hi) float32 scalars (0-d tensors) from the float master weight (detached)."""
    w = w.detach().reshape(-1)
    if method == "ddtb":
        q = torch.quantile(w, torch.tensor([0.01, 0.99], dtype=w.dtype, device=w.device))
        return q[0], q[1]
    if method == "pams":
        m = w.abs().max()
        return -m, m
    raise ValueError(method)


class WeightQuant(nn.Module):
    """Per-tensor weight fake-quant; no parameters (state_dict unchanged). A weight that
    does not require grad (frozen: query-only RefQSR training, the teacher-free eval) is
    quantized once and the result reused until the tensor changes (its version counter or
    storage): the DDTB range is a percentile, a sort of the whole tensor on every forward."""

    def __init__(self, method, bits):
        super().__init__()
        self.method, self.bits = method, bits
        self._frozen = {}   # id(w) -> (weakref to w, (data_ptr, version, ..), fake-quantized w); not state

    def forward(self, w):
        if w.requires_grad:
            lo, hi = weight_range(w, self.method)
            return fake_quant(w, self.method, self.bits, lo, hi)
        # the weak reference tells a live tensor from a new one that got a dead one's id
        key = (w.data_ptr(), w._version, w.device, w.dtype, tuple(w.shape))
        hit = self._frozen.get(id(w))
        if hit is None or hit[0]() is not w or hit[1] != key:
            lo, hi = weight_range(w, self.method)
            hit = (weakref.ref(w), key, fake_quant(w, self.method, self.bits, lo, hi).detach())
            self._frozen[id(w)] = hit
        return hit[2]

    def extra_repr(self):
        return f"{self.method}, w_bits={self.bits}"


# ------------------------------------------------------------------------- activations

def sample_mean_f64(x):
    """Per-sample channel means: sum accumulated in float64, / (H*W) in float64, then
    rounded to float32 (integer-arithmetic.md, DDTB gate step 1). Returns [N, C]."""
    n, c, h, w = x.shape
    return (x.sum(dim=(2, 3), dtype=torch.float64) / float(h * w)).float()


class DynamicGate(nn.Module):
    """DDTB dynamic gate: GAP -> 2-bit DDTB quant -> 1x1 conv C->32 (no bias) -> BN -> ReLU
    -> 2-bit DDTB quant -> 1x1 conv 32->2 (bias) -> 2*sigmoid. Returns g [N, 2]."""

    def __init__(self, channels, hidden=32):
        super().__init__()
        self.q_in = ActQuant("ddtb", 2, channels)
        self.conv1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.bn = nn.BatchNorm2d(hidden)
        self.q_mid = ActQuant("ddtb", 2, hidden)
        self.conv2 = nn.Conv2d(hidden, 2, 1, bias=True)
        nn.init.normal_(self.conv2.weight, std=0.01)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x):
        v = sample_mean_f64(x)[:, :, None, None]
        h = F.relu(self.bn(self.conv1(self.q_in(v))))
        return 2.0 * torch.sigmoid(self.conv2(self.q_mid(h)))[:, :, 0, 0]


def _tails(flat, ps):
    """Order statistics at fractions ps (k = round(p*n), clamped to 1..n), O(n) each."""
    n = flat.numel()
    out = [flat.kthvalue(min(max(int(round(p * n)), 1), n)).values for p in ps]
    return torch.stack(out).cpu()


class ActQuant(nn.Module):
    """Activation fake-quant. DDTB: parameters alpha_l, alpha_u [1] (+ optional gate);
    PAMS: alpha [1]. In calibration mode (self.calib is a list) it passes x through and
    records statistics of its input."""

    def __init__(self, method, bits, channels=64, gated=False):
        super().__init__()
        self.method, self.bits = method, bits
        if method == "ddtb":
            self.alpha_l = nn.Parameter(torch.tensor([-1.0]))
            self.alpha_u = nn.Parameter(torch.tensor([1.0]))
        elif method == "pams":
            self.alpha = nn.Parameter(torch.tensor([1.0]))
        else:
            raise ValueError(method)
        self.gate = DynamicGate(channels) if gated else None
        self.calib = None
        self.last_g = None  # gate output of the last forward (for tests / fixtures)

    def bounds(self, x):
        """(lo, hi): shape [1], or [N,1,1,1] when gated."""
        if self.method == "pams":
            return -self.alpha, self.alpha
        if self.gate is None:
            return self.alpha_l, self.alpha_u
        g = self.gate(x)
        self.last_g = g.detach()
        n = x.shape[0]
        return self.alpha_l * g[:, 0].view(n, 1, 1, 1), self.alpha_u * g[:, 1].view(n, 1, 1, 1)

    def forward(self, x):
        if self.calib is not None:
            self._record(x)
            return x
        lo, hi = self.bounds(x)
        return fake_quant(x, self.method, self.bits, lo, hi)

    @torch.no_grad()
    def _record(self, x):
        xf = x.detach().float()
        flat = xf.reshape(-1)
        if flat.numel() > (1 << 20):  # deterministic random subsample keeps this fast
            g = torch.Generator(device="cpu").manual_seed(len(self.calib))
            idx = torch.randint(0, flat.numel(), (1 << 20,), generator=g).to(flat.device)
            flat = flat[idx]
        self.calib.append({
            "q": _tails(flat, (0.001, 0.01, 0.99, 0.999)),
            "qabs": _tails(flat.abs(), (0.99, 0.999)),
            "smin": xf.amin(dim=(1, 2, 3)).cpu(),
            "smax": xf.amax(dim=(1, 2, 3)).cpu(),
            "v": sample_mean_f64(xf).cpu() if xf.dim() == 4 else None,
        })

    def extra_repr(self):
        return f"{self.method}, a_bits={self.bits}, gated={self.gate is not None}"


# ------------------------------------------------------------------- install on a model

def quantizer_modules(model):
    """The 2*blocks activation quantizers in engine order (index 2*block + conv-1)."""
    out = []
    for blk in model.body:
        out += [blk.q1, blk.q2]
    return out


def _tail(bits):
    """Tail probability used to initialise activation bounds from calibration."""
    return 0.001 if bits >= 6 else 0.01


def _init_from_calib(q, stats):
    t = _tail(q.bits)
    qi = {0.001: (0, 3), 0.01: (1, 2)}[t]
    lo = float(torch.stack([s["q"][qi[0]] for s in stats]).mean())
    hi = float(torch.stack([s["q"][qi[1]] for s in stats]).mean())
    if q.method == "ddtb":
        if hi - lo < 1e-3:
            hi = lo + 1e-3
        q.alpha_l.data.fill_(lo)
        q.alpha_u.data.fill_(hi)
    else:
        a = float(torch.stack([s["qabs"][0 if t == 0.01 else 1] for s in stats]).mean())
        q.alpha.data.fill_(max(a, 1e-3))


def range_variation(stats):
    """Coefficient of variation (std / mean) of the per-sample range max - min."""
    r = torch.cat([s["smax"] - s["smin"] for s in stats]).double()
    return float(r.std() / r.mean().clamp_min(1e-12)) if r.numel() > 1 else 0.0


@torch.no_grad()
def _calibrate_gate(gate, v):
    """v: [M, C] per-sample channel means of the quantizer input (FP32 model).
    q_in = [min v, max v]; conv1 (random init) rescaled so that its output has unit RMS
    over the calibration samples (BN left at mean 0 / var 1 / identity affine);
    q_mid = [0, 99th percentile of ReLU(BN(.))]; conv2 ~ N(0, 0.01), bias 0 => g ~ 1."""
    gate.q_in.alpha_l.data.fill_(float(v.min()))
    gate.q_in.alpha_u.data.fill_(float(max(v.max(), v.min() + 1e-3)))
    dev = gate.conv1.weight.device
    was = gate.training
    gate.eval()
    z = gate.conv1(gate.q_in(v.to(dev)[:, :, None, None]))
    rms = float(z.pow(2).mean().sqrt())
    if rms > 0:
        gate.conv1.weight.mul_(1.0 / rms)
    h = F.relu(gate.bn(gate.conv1(gate.q_in(v.to(dev)[:, :, None, None]))))
    gate.q_mid.alpha_l.data.fill_(0.0)
    gate.q_mid.alpha_u.data.fill_(float(max(torch.quantile(h.reshape(-1), 0.99), 1e-2)))
    gate.train(was)


def quantize_srresnet(model, method, w_bits, a_bits, gated=None, calib=None, n_gated=None):
    """Installs fake quantizers on the 2*blocks ResBlock convs of `model` (in place).

    method: 'ddtb' | 'pams'; w_bits, a_bits: 2..8.
    gated: DDTB only, list of quantizer indices (2*block + conv-1) with a dynamic gate;
           None = choose the n_gated (default round(10%) of 2*blocks, at least 1) whose
           per-sample input range (max - min) has the largest coefficient of variation
           over the calibration samples.
    calib: iterable of input batches (NCHW float 0..255) run through the FP32 model (in
           eval mode) to initialise the bounds; None leaves the defaults (use it when a
           checkpoint's state_dict will be loaded next).
    Sets model.quant_config = {"method", "w_bits", "a_bits", "gated"}.
    """
    assert method in ("ddtb", "pams") and 2 <= w_bits <= 8 and 2 <= a_bits <= 8
    nq = 2 * len(model.body)
    ch = model.channels
    if method == "pams":
        gated = []
    if n_gated is None:
        n_gated = max(1, int(round(0.1 * nq)))
    dev = next(model.parameters()).device
    stats = None
    if calib is not None:
        # FP32 pass with recording pass-through quantizers
        for blk in model.body:
            blk.wq = None
            blk.q1 = ActQuant(method, a_bits, ch).to(dev)
            blk.q2 = ActQuant(method, a_bits, ch).to(dev)
        qs = quantizer_modules(model)
        for q in qs:
            q.calib = []
        was = model.training
        model.eval()
        with torch.no_grad():
            for x in calib:
                model(x.to(dev))
        model.train(was)
        stats = [q.calib for q in qs]
        for q in qs:
            q.calib = None
        if gated is None:
            var = [range_variation(s) for s in stats]
            order = sorted(range(nq), key=lambda i: -var[i])
            gated = sorted(order[:n_gated])
            model.range_variation = var
    elif gated is None:
        raise ValueError("gated=None needs calibration data")
    gated = sorted(int(i) for i in gated)
    for i, blk in enumerate(model.body):
        blk.q1 = ActQuant(method, a_bits, ch, gated=(2 * i) in gated).to(dev)
        blk.q2 = ActQuant(method, a_bits, ch, gated=(2 * i + 1) in gated).to(dev)
        blk.wq = WeightQuant(method, w_bits)
    if stats is not None:
        for k, q in enumerate(quantizer_modules(model)):
            _init_from_calib(q, stats[k])
            if q.gate is not None:
                _calibrate_gate(q.gate, torch.cat([s["v"] for s in stats[k]]))
    model.train(model.training)  # new modules follow the model's train/eval mode
    model.quant_config = {"method": method, "w_bits": w_bits, "a_bits": a_bits, "gated": gated}
    return model


def is_bound_param(name):
    """Quantizer bounds (trained with the larger learning rate)."""
    return name.endswith(".alpha") or name.endswith(".alpha_l") or name.endswith(".alpha_u")
