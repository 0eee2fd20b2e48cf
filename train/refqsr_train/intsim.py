"""Integer simulation of a quantized SRResNet from an exported model file, step by step
as docs/integer-arithmetic.md says (the reference the C# engine is checked against).

- activation codes are integers: `code = clamp(round(clip(x, lo, hi)*s - zp), qlo, qhi)`,
  stored as `a = code - qlo` (uint8), with `za = qlo + zp`;
- weight codes from the float master and `w_range`: `w = code` (int8), `zw = zp`;
- the conv is `total = sum_V (a + za)(w + zw)` (= acc + zw*sum a + za*sum w + za*zw*|V|),
  computed as a float64 conv2d of integers, which is exact (|total| << 2^53);
- `y = (float32)total * (1f / (s_a * s_w))`, then BN as `y*bn_a + bn_b`, PReLU, skip add,
  all float32, one rounding per operation.
The FP32 parts (head, body end, upsampler, tail) use PyTorch float32 convs; their BN is
the same `y*bn_a + bn_b` form.

    sim = IntSim.load("model.safetensors")
    hr, rec = sim.forward(lr_nchw_float, record=[0, 15, 30])
    rec["codes"][15]  -> uint8 [N, C, H, W];  rec["g"][k] -> gate output [N, 2] (gated k)
"""
import numpy as np
import torch
import torch.nn.functional as F

from . import safetensors_io

F32 = torch.float32


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def qparams32(method, bits, lo, hi):
    """(s, zp, qlo, qhi) exactly as the table of integer-arithmetic.md, float32."""
    if method == "ddtb":
        s = torch.full_like(hi, float(2 ** bits - 1)) / (hi - lo)
        zp = torch.round(s * lo) + float(2 ** (bits - 1))
        return s, zp, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    qmax = 2 ** (bits - 1) - 1
    s = torch.full_like(hi, float(qmax)) / hi
    return s, torch.zeros_like(s), -qmax, qmax


def codes32(x, lo, hi, s, zp, qlo, qhi):
    return torch.clamp(torch.round(torch.minimum(torch.maximum(x, lo), hi) * s - zp), qlo, qhi)


def bn_affine(t, prefix):
    """bn_a = gamma / sqrt(var + 1e-5), bn_b = beta - mean*bn_a, float32."""
    g, b = t[prefix + ".weight"], t[prefix + ".bias"]
    m, v = t[prefix + ".running_mean"], t[prefix + ".running_var"]
    a = g / torch.sqrt(v + torch.tensor(1e-5, dtype=F32))
    return a, b - m * a


def _bn(y, ab):
    a, b = ab
    return y * a.view(1, -1, 1, 1) + b.view(1, -1, 1, 1)


def _prelu(y, slope):
    return torch.where(y > 0, y, slope * y)


class IntSim:
    def __init__(self, tensors, config):
        self.cfg = config
        assert config["network"] == "srresnet"
        self.method = config["quantizer"]
        assert self.method in ("ddtb", "pams"), "intsim is for quantized SRResNets"
        self.wb, self.ab = int(config["w_bits"]), int(config["a_bits"])
        self.blocks = int(config["blocks"])
        self.gated = set(config.get("ddtb_gated", []) or [])
        self.t = {k: _t(v) for k, v in tensors.items()}
        t = self.t
        self.bn = {}
        for i in range(self.blocks):
            for k in (1, 2):
                self.bn[f"body.{i}.bn{k}"] = bn_affine(t, f"body.{i}.bn{k}")
        self.bn["body_end.bn"] = bn_affine(t, "body_end.bn")
        # weight codes per conv
        self.wcodes = {}
        for i in range(self.blocks):
            for k in (1, 2):
                name = f"body.{i}.conv{k}"
                w = t[name + ".weight"]
                r = t[name + ".w_range"]
                lo, hi = r[0:1], r[1:2]
                s, zp, qlo, qhi = qparams32(self.method, self.wb, lo, hi)
                code = codes32(w, lo, hi, s, zp, qlo, qhi)
                self.wcodes[name] = (code.to(torch.int8), zp, s)
        for qk in self.gated:
            i, k = divmod(qk, 2)
            self.bn[f"body.{i}.q{k + 1}.gate.bn"] = bn_affine(t, f"body.{i}.q{k + 1}.gate.bn")

    @classmethod
    def load(cls, path):
        tensors, cfg, _ = safetensors_io.load(path)
        return cls(tensors, cfg)

    # ------------------------------------------------------------------ pieces
    def _ddtb_xhat(self, x, prefix, bits):
        lo, hi = self.t[prefix + ".alpha_l"], self.t[prefix + ".alpha_u"]
        s, zp, qlo, qhi = qparams32("ddtb", bits, lo, hi)
        return (codes32(x, lo, hi, s, zp, qlo, qhi) + zp) / s

    def gate(self, x, prefix):
        """g [N, 2] of the DDTB gate at `prefix` (e.g. body.3.q1)."""
        n, c, h, w = x.shape
        v = (x.to(torch.float64).sum(dim=(2, 3)) / float(h * w)).to(F32)
        vh = self._ddtb_xhat(v, prefix + ".gate.q_in", 2)
        # dot products in float64, rounded once: independent of summation order
        z = F.linear(vh.double(), self.t[prefix + ".gate.conv1.weight"][:, :, 0, 0].double()).to(F32)
        a, b = self.bn[prefix + ".gate.bn"]
        hdn = torch.relu(z * a + b)
        hh = self._ddtb_xhat(hdn, prefix + ".gate.q_mid", 2)
        o = F.linear(hh.double(), self.t[prefix + ".gate.conv2.weight"][:, :, 0, 0].double()).to(F32)
        o = o + self.t[prefix + ".gate.conv2.bias"]
        return (2.0 / (1.0 + torch.exp(-o.double()))).to(F32)

    def act_quant(self, x, qk):
        """Returns (a uint8 [N,C,H,W], za [N] float, s_a [N] float32, g or None)."""
        i, k = divmod(qk, 2)
        prefix = f"body.{i}.q{k + 1}"
        n = x.shape[0]
        g = None
        if self.method == "pams":
            al = self.t[prefix + ".alpha"]
            lo, hi = -al, al
        else:
            lo, hi = self.t[prefix + ".alpha_l"], self.t[prefix + ".alpha_u"]
            if qk in self.gated:
                g = self.gate(x, prefix)
                lo, hi = lo * g[:, 0], hi * g[:, 1]
        lo = lo.expand(n).contiguous()
        hi = hi.expand(n).contiguous()
        s, zp, qlo, qhi = qparams32(self.method, self.ab, lo, hi)
        v4 = lambda z: z.view(n, 1, 1, 1)  # noqa: E731
        code = codes32(x, v4(lo), v4(hi), v4(s), v4(zp), qlo, qhi)
        a = (code - qlo).to(torch.uint8)
        return a, zp + qlo, s, g

    def qconv(self, a, za, s_a, name):
        """The integer conv of integer-arithmetic.md; returns float32 y."""
        wc, zw, s_w = self.wcodes[name]
        n = a.shape[0]
        aa = a.to(torch.float64) + za.to(torch.float64).view(n, 1, 1, 1)
        ww = wc.to(torch.float64) + zw.to(torch.float64)
        total = F.conv2d(aa, ww, padding=1)  # exact integers in float64
        inv = torch.ones_like(s_a) / (s_a * s_w)  # float32: product, reciprocal
        return total.to(F32) * inv.view(n, 1, 1, 1)

    # ------------------------------------------------------------------ forward
    @torch.no_grad()
    def forward(self, x, record=()):
        """x: NCHW float32 0..255. Returns (HR float32 before clamp, record dict)."""
        t = self.t
        x = x.to(F32)
        rec = {"codes": {}, "g": {}, "x": {}}
        h = _prelu(F.conv2d(x, t["head.weight"], padding=4), t["head_act.weight"])
        y = h
        for i in range(self.blocks):
            inp = y
            for k in (1, 2):
                qk = 2 * i + k - 1
                a, za, s_a, g = self.act_quant(y if k == 1 else z, qk)
                if qk in record:
                    rec["codes"][qk] = a.numpy().copy()
                    rec["x"][qk] = (y if k == 1 else z).numpy().copy()
                    if g is not None:
                        rec["g"][qk] = g.numpy().copy()
                c = self.qconv(a, za, s_a, f"body.{i}.conv{k}")
                if k == 1:
                    z = _prelu(_bn(c, self.bn[f"body.{i}.bn1"]), t[f"body.{i}.act.weight"])
                else:
                    y = inp + _bn(c, self.bn[f"body.{i}.bn2"])
        f = h + _bn(F.conv2d(y, t["body_end.conv.weight"], padding=1), self.bn["body_end.bn"])
        u = f
        for j in range(2):
            u = _prelu(F.pixel_shuffle(F.conv2d(u, t[f"up.{j}.conv.weight"], padding=1), 2), t[f"up.{j}.act.weight"])
        out = F.conv2d(u, t["tail.weight"], padding=4)
        return out, rec
