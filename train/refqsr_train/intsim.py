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

RefQSR models (config `refqsr`, docs/refqsr.md): `forward` / `references` is the
reference path; `query(x, fr, rec)` the query path (block 0 at b_high, blocks
1 .. refer_blocks[0]-1 with b_medium weight codes and the qlow quantizers at b_low, RefER
blocks with the integer cost volume, hard argmax (lowest index on ties), displacement
flow, warp and two b_high integer convs); `run_patches` the whole per-image schedule with
`ClustSim` (8-bit integer ClustBlock) and the float64 clustering.
"""
import numpy as np
import torch
import torch.nn.functional as F

from . import safetensors_io

F32 = torch.float32


def _fma32(p, a):
    """float32 fma: p + a rounded once to float32, for float64 tensors holding exact values (p
    a product of two float32s, exact in float64; a a float32). The float64 sum, its error
    (TwoSum), rounding to odd, then to float32: correct by Boldo and Melquiond (2008), as
    kernels/RefQsr.Kernels/ExactFma.cs."""
    s = p + a
    bb = s - p
    e = (p - (s - bb)) + (a - bb)
    bits = s.view(torch.int64)
    odd_needed = (e != 0) & ((bits & 1) == 0)
    toward_e = torch.where((e > 0) == (s > 0), 1, -1)
    return torch.where(odd_needed, bits + toward_e, bits).view(torch.float64).to(F32)


def conv_fma_chain(x, w, pad):
    """The engine's direct FP32 conv bit for bit (FloatConv2d's broadcast kernels, every vector
    width): each output an FMA chain from +0 over the taps in (ky, kx, ci) order, the zero
    padding included. PyTorch's float32 conv sums in an order of its own that depends on the
    machine and the build; the head conv feeds the first quantizer, and quantized layers
    amplify last-bit differences (a fixture made on an AVX2 machine with Debian's PyTorch had
    6% of block 7's codes differ, against 0 with this), so the reference computes it the
    engine's way. x: NCHW float32, w: [out, in, k, k] float32, no bias."""
    n, cin, h, wd = x.shape
    cout, k = w.shape[0], w.shape[2]
    xp = F.pad(x.to(F32), (pad, pad, pad, pad)).double()
    w64 = w.to(F32).double()
    acc = torch.zeros(n, cout, h, wd, dtype=torch.float64)
    for ky in range(k):
        for kx in range(k):
            for ci in range(cin):
                p = xp[:, ci:ci + 1, ky:ky + h, kx:kx + wd] * w64[:, ci, ky, kx].view(1, cout, 1, 1)
                acc = _fma32(p, acc).double()
    return acc.to(F32)


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
        self.rq = config.get("refqsr")
        if self.rq:  # RefQSR: query-path weight codes (b_medium) and the RefER convs (b_high)
            self.bl, self.bm = int(self.rq["b_low"]), int(self.rq["b_medium"])
            assert int(self.rq["b_high"]) == self.wb == self.ab
            self.refer_blocks = [int(j) for j in self.rq["refer_blocks"]]
            for i in range(1, self.refer_blocks[0]):
                for k in (1, 2):
                    name = f"body.{i}.conv{k}"
                    self.wcodes[name + "@medium"] = self._wcode(name, self.bm)
            for j in self.refer_blocks:
                for k in (1, 2):
                    name = f"refer.{j}.conv{k}"
                    self.wcodes[name] = self._wcode(name, self.wb)

    def _wcode(self, name, bits):
        w, r = self.t[name + ".weight"], self.t[name + ".w_range"]
        lo, hi = r[0:1], r[1:2]
        s, zp, qlo, qhi = qparams32(self.method, bits, lo, hi)
        return codes32(w, lo, hi, s, zp, qlo, qhi).to(torch.int8), zp, s

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
    def forward(self, x, record=(), keep=()):
        """x: NCHW float32 0..255. Returns (HR float32 before clamp, record dict).
        keep: block indices whose input is kept in rec["block_in"] (a RefQSR reference's
        features for the RefER blocks). For a RefQSR model this is the reference path."""
        t = self.t
        x = x.to(F32)
        rec = {"codes": {}, "g": {}, "x": {}, "block_in": {}}
        h = _prelu(conv_fma_chain(x, t["head.weight"], 4), t["head_act.weight"])
        y = h
        for i in range(self.blocks):
            if i in keep:
                rec["block_in"][i] = y
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
        return self._tail(h, y), rec

    def _tail(self, h, y):
        """FP32 body end (+ global skip), upsampler, tail."""
        t = self.t
        f = h + _bn(F.conv2d(y, t["body_end.conv.weight"], padding=1), self.bn["body_end.bn"])
        u = f
        for j in range(2):
            u = _prelu(F.pixel_shuffle(F.conv2d(u, t[f"up.{j}.conv.weight"], padding=1), 2), t[f"up.{j}.act.weight"])
        return F.conv2d(u, t["tail.weight"], padding=4)

    # ------------------------------------------------------------------ RefQSR
    def act_quant_plain(self, x, prefix, bits):
        """Never-gated activation quantizer `prefix` (qlow / RefER) at `bits`:
        (a uint8, za [N], s_a [N])."""
        n = x.shape[0]
        if self.method == "pams":
            al = self.t[prefix + ".alpha"]
            lo, hi = -al, al
        else:
            lo, hi = self.t[prefix + ".alpha_l"], self.t[prefix + ".alpha_u"]
        lo, hi = lo.expand(n).contiguous(), hi.expand(n).contiguous()
        s, zp, qlo, qhi = qparams32(self.method, bits, lo, hi)
        v4 = lambda z: z.view(n, 1, 1, 1)  # noqa: E731
        code = codes32(x, v4(lo), v4(hi), v4(s), v4(zp), qlo, qhi)
        return (code - qlo).to(torch.uint8), zp + qlo, s

    def references(self, x):
        """Reference path of a RefQSR model: (HR, {j: input of block j})."""
        hr, rec = self.forward(x, keep=tuple(self.refer_blocks))
        return hr, rec["block_in"]

    def refer(self, fq, fr, j, rec=None):
        """RefER block j (docs/refqsr.md), integer cost volume + hard argmax + warp +
        the two b_high integer convs. rec (dict) gets codes/x of refer.{j}.q{k}, the
        pooled query/reference codes and the argmax (flat pooled reference index per
        pooled query position, row-major)."""
        from .refqsr import normalise, pool3, displacement_flow, warp_reference, pooled_grid
        t = self.t
        n = fq.shape[0]
        if min(fq.shape[2], fq.shape[3], fr.shape[2], fr.shape[3]) < 3:
            return fq
        qmax = 2 ** (self.bl - 1) - 1
        one = torch.ones(1, dtype=F32)
        s_u = torch.full_like(one, float(qmax)) / one

        def unit_codes(f):
            return codes32(pool3(normalise(f)), -one, one, s_u, torch.zeros_like(one), -qmax, qmax).to(torch.int64)
        cq, cr = unit_codes(fq), unit_codes(fr)
        e = torch.bmm(cq.flatten(2).transpose(1, 2), cr.flatten(2))  # exact integers
        en = e.numpy()
        idx = torch.from_numpy(np.argmax(en, axis=2))  # numpy: first maximum
        pos = pooled_grid(cr.shape[2], cr.shape[3], fq.device)[idx]
        flow = displacement_flow(pos, cq.shape[2], cq.shape[3], fq.shape[2], fq.shape[3])
        fw = warp_reference(fr, flow)
        z = fq - fw
        if rec is not None:
            rec[f"refer.{j}.pooled_q"] = cq.numpy().astype(np.int8)
            rec[f"refer.{j}.pooled_r"] = cr.numpy().astype(np.int8)
            rec[f"refer.{j}.argmax"] = idx.numpy().astype(np.int32)
            rec[f"refer.{j}.flow"] = flow.numpy().copy()
        for k in (1, 2):
            prefix = f"refer.{j}.q{k}"
            a, za, s_a = self.act_quant_plain(z, prefix, self.wb)
            if rec is not None:
                rec[prefix + ".x"] = z.numpy().copy()
                rec[prefix + ".codes"] = a.numpy().copy()
            c = self.qconv(a, za, s_a, f"refer.{j}.conv{k}")
            z = _prelu(c, t[f"refer.{j}.act.weight"]) if k == 1 else c
        return fq + z

    @torch.no_grad()
    def query(self, x, fr, rec=None):
        """Query path of a RefQSR model; fr = {j: the reference's input to block j}
        (batch aligned with x). rec (dict) gets `body.{i}.qlow{k}.x/.codes` and the RefER
        records. Returns HR (float32, before clamp)."""
        assert self.rq, "not a RefQSR model"
        t = self.t
        x = x.to(F32)
        h = _prelu(conv_fma_chain(x, t["head.weight"], 4), t["head_act.weight"])
        y = h
        for i in range(self.refer_blocks[0]):
            inp = y
            for k in (1, 2):
                src = y if k == 1 else z
                if i == 0:
                    a, za, s_a, _ = self.act_quant(src, k - 1)
                    name = f"body.0.conv{k}"
                else:
                    prefix = f"body.{i}.qlow{k}"
                    a, za, s_a = self.act_quant_plain(src, prefix, self.bl)
                    if rec is not None:
                        rec[prefix + ".x"] = src.numpy().copy()
                        rec[prefix + ".codes"] = a.numpy().copy()
                    name = f"body.{i}.conv{k}@medium"
                c = self.qconv(a, za, s_a, name)
                if k == 1:
                    z = _prelu(_bn(c, self.bn[f"body.{i}.bn1"]), t[f"body.{i}.act.weight"])
                else:
                    y = inp + _bn(c, self.bn[f"body.{i}.bn2"])
        for j in self.refer_blocks:
            y = self.refer(y, fr[j], j, rec)
        return self._tail(h, y)

    def run_patches(self, patches, clust, rec_query=None):
        """RefQSR on a list of LR patches (each [1, 3, h, w] float 0..255, one image):
        ClustBlock logits (ClustSim), clustering (tau from the config), references, then
        queries. Returns (HR list, logits [N, C], ref [N]). rec_query: {patch index: dict}
        for the queries to record."""
        from .refqsr import cluster, roles
        logits = np.concatenate([clust.forward(p).numpy() for p in patches])
        ref = cluster(logits, float(self.rq["tau"]))
        refs, qs = roles(ref)
        hrs, keep = [None] * len(patches), {}
        for i in refs:
            hrs[i], keep[i] = self.references(patches[i])
        for i in qs:
            rec = None if rec_query is None else rec_query.get(i)
            hrs[i] = self.query(patches[i], keep[int(ref[i])], rec)
        return hrs, logits, ref


class ClustSim:
    """8-bit integer ClustBlock (docs/refqsr.md "ClustBlock"): each layer's input
    quantized (DDTB formula, 8 bits) over q{n}.range, weights over w_range, integer dot
    product with zero-point corrections (as float64 conv of integers: exact), then
    (float)total * (1/(s_a*s_w)) + bias in float32; ReLU; GAP = float64 sum / count ->
    float32."""

    def __init__(self, tensors, config):
        assert config["network"] == "clustblock"
        self.bits = int(config.get("a_bits", 8))
        self.t = {k: _t(v) for k, v in tensors.items()}

    @classmethod
    def load(cls, path):
        tensors, cfg, _ = safetensors_io.load(path)
        return cls(tensors, cfg)

    def _layer(self, x, qname, lname, stride=1, pad=0):
        t, b = self.t, self.bits
        lo, hi = t[qname + ".range"][0:1], t[qname + ".range"][1:2]
        s_a, zp_a, qlo, qhi = qparams32("ddtb", b, lo, hi)
        a = codes32(x, lo, hi, s_a, zp_a, qlo, qhi) - qlo  # 0 .. 255
        za = zp_a + qlo
        wl, wh = t[lname + ".w_range"][0:1], t[lname + ".w_range"][1:2]
        s_w, zw, wqlo, wqhi = qparams32("ddtb", b, wl, wh)
        wc = codes32(t[lname + ".weight"], wl, wh, s_w, zw, wqlo, wqhi)
        aa = a.double() + za.double()
        ww = wc.double() + zw.double()
        if x.dim() == 4:
            total = F.conv2d(aa, ww, stride=stride, padding=pad)
            bias = t[lname + ".bias"].view(1, -1, 1, 1)
        else:
            total = F.linear(aa, ww)
            bias = t[lname + ".bias"]
        inv = torch.ones_like(s_a) / (s_a * s_w)
        return total.to(F32) * inv + bias

    @torch.no_grad()
    def forward(self, x):
        """x [N, 3, h, w] float 0..255 -> logits [N, C] float32."""
        x = x.to(F32)
        y = torch.relu(self._layer(x, "q1", "conv1", stride=3))
        y = torch.relu(self._layer(y, "q2", "conv2", pad=1))
        y = torch.relu(self._layer(y, "q3", "conv3", pad=1))
        n, c, h, w = y.shape
        v = (y.double().sum(dim=(2, 3)) / float(h * w)).to(F32)
        return self._layer(v, "q4", "fc")
