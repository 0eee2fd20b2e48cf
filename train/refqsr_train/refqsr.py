"""RefQSR SRResNet for training (SPEC section 4, docs/refqsr.md).

One set of float master weights, two paths:

  reference: the ordinary quantized SRResNet (weights and activations at b_high, the
             `body.{i}.q{k}` quantizers, DDTB gates as configured); the inputs of the
             RefER blocks (`refer_blocks`, e.g. 14 and 15) are kept.
  query:     block 0 as the reference path; blocks 1 .. refer_blocks[0]-1 with weights
             at b_medium and the `body.{i}.qlow{k}` activation quantizers at b_low (never
             gated); blocks `refer_blocks` replaced by RefER blocks `refer.{j}` that take
             the query feature and the paired reference's input to block j.
Head, body end, upsampler and tail are FP32 for both.

Parameter names are the tensor names of docs/refqsr.md (`body.{i}.qlow{k}.alpha*`,
`refer.{j}.conv{k}.weight`, `refer.{j}.q{k}.alpha*`, `refer.{j}.act.weight`), so export
is a dump plus the `w_range` tensors.

RefER (docs/refqsr.md, "RefER block"): L2 normalise (float64 sum of squares), 3x3/3
average pool (float64 sum / 9), b_low symmetric quantization on [-1, 1] (STE), cost
volume, soft-argmax (temperature 1000) in training / hard argmax (lowest index on ties)
in eval, displacement flow in pooled units, bilinear upsample (align_corners=False) x3,
backward bilinear warp of the reference (taps outside read 0), then
`Fq + QConv2(PReLU(QConv1(Fq - Fw)))` with both convs at b_high.

The warp is written out (4 taps, pixel coordinates) instead of calling grid_sample, so
that the training forward, the integer simulation and the engine use the same float32
operations (grid_sample's normalise/unnormalise of coordinates adds roundings; a zero
flow is exactly the identity here). `warp_reference` equals
`grid_sample(align_corners=True, padding_mode="zeros")` up to those roundings.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .models import SRResNet
from .quant import ActQuant, WeightQuant, fake_quant, quantize_srresnet, _init_from_calib

TEMPERATURE = 1000.0


def b_medium_of(b_high, b_low):
    return int(round((b_high + b_low) / 2))  # Python round() is half to even


def refqsr_config(b_high, b_low, tau=0.5, refer_blocks=(14, 15)):
    return {"b_high": int(b_high), "b_low": int(b_low), "b_medium": b_medium_of(b_high, b_low),
            "tau": float(tau), "refer_blocks": [int(j) for j in refer_blocks]}


# ------------------------------------------------------------------ RefER pieces

def normalise(x):
    """x / max(||x||_c, 1e-12) per position; the sum of squares in float64, sqrt in
    float64, rounded once to float32; the division in float32."""
    n = torch.sqrt((x.double() ** 2).sum(dim=1, keepdim=True)).float()
    return x / torch.clamp_min(n, 1e-12)


def pool3(x):
    """3x3 stride-3 average pool (floor), sum of the 9 values in float64 / 9, rounded
    once to float32."""
    return F.avg_pool2d(x.double(), 3, 3).float()


def quant_unit(x, bits, match_range=1.0):
    """b-bit symmetric quantization on [-1, 1] (PAMS with alpha 1), STE; returns
    code / qmax. match_range r != 1 (an experiment, not SPEC 4 and not in the engine):
    quantize x / r instead, i.e. the range [-r, r], still returning code / qmax."""
    one = torch.ones(1, dtype=x.dtype, device=x.device)
    return fake_quant(x if match_range == 1.0 else x / match_range, "pams", bits, -one, one)


def pooled_grid(h, w, device):
    """[h*w, 2] (x, y) pooled coordinates in row-major order."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1).float()


def cost_volume(cq, cr):
    """cq [N, C, hq, wq], cr [N, C, hr, wr] -> E [N, hq*wq, hr*wr]."""
    return torch.bmm(cq.flatten(2).transpose(1, 2), cr.flatten(2))


def match_positions(cq, cr, soft, bits, temperature=TEMPERATURE):
    """cq, cr: dequantized codes (code / qmax). Matched reference position (x, y) per
    pooled query position [N, hq*wq, 2] and the hard argmax indices [N, hq*wq] (None when
    soft). Soft: softmax(temperature * E_float) with E_float the float dot product of the
    dequantized codes. Hard: argmax of the exact integer E (codes recovered as
    round(x * qmax), dot products in float64: exact), lowest index on ties."""
    grid = pooled_grid(cr.shape[2], cr.shape[3], cq.device)
    if soft:
        p = torch.softmax(temperature * cost_volume(cq, cr), dim=2)
        return p @ grid, None
    qmax = float(2 ** (bits - 1) - 1)
    e = cost_volume(torch.round(cq.detach() * qmax).double(), torch.round(cr.detach() * qmax).double())
    idx = first_argmax(e)
    return grid[idx], idx


def first_argmax(e):
    """argmax over the last dim, ties to the lowest index (explicitly)."""
    m = e.max(dim=-1, keepdim=True).values
    n = e.shape[-1]
    ar = torch.arange(n, device=e.device).expand_as(e)
    return torch.where(e == m, ar, torch.full_like(ar, n)).min(dim=-1).values


def upsample_bilinear(d, h, w):
    """Bilinear upsampling with align_corners=False written out in float32 (the formula of
    PyTorch's CPU upsample_bilinear2d), so the engine can repeat it operation by
    operation: scale = in/out; src = max(scale*(dst + 0.5) - 0.5, 0); i0 = floor(src);
    i1 = i0 + (i0 < in - 1); l1 = src - i0; l0 = 1 - l1;
    out = ly0*(lx0*d[y0,x0] + lx1*d[y0,x1]) + ly1*(lx0*d[y1,x0] + lx1*d[y1,x1])."""
    hi, wi = d.shape[2], d.shape[3]

    def axis(n_in, n_out):
        scale = torch.tensor(n_in, dtype=torch.float32) / n_out
        src = torch.clamp_min(scale * (torch.arange(n_out, dtype=torch.float32) + 0.5) - 0.5, 0.0)
        i0 = torch.floor(src).long()
        i1 = i0 + (i0 < n_in - 1).long()
        l1 = src - i0.float()
        return i0.to(d.device), i1.to(d.device), (1.0 - l1).to(d.device), l1.to(d.device)

    y0, y1, ly0, ly1 = axis(hi, h)
    x0, x1, lx0, lx1 = axis(wi, w)
    top = lx0 * d[:, :, y0][:, :, :, x0] + lx1 * d[:, :, y0][:, :, :, x1]
    bot = lx0 * d[:, :, y1][:, :, :, x0] + lx1 * d[:, :, y1][:, :, :, x1]
    return ly0[:, None] * top + ly1[:, None] * bot


def displacement_flow(pos, hq, wq, h, w):
    """pos [N, hq*wq, 2] matched positions -> pixel displacement [N, 2, h, w] (u, v):
    d = pos - own position (pooled units), bilinear upsample (align_corners=False) to
    h x w, times 3."""
    n = pos.shape[0]
    own = pooled_grid(hq, wq, pos.device)
    d = (pos - own).transpose(1, 2).reshape(n, 2, hq, wq)
    return upsample_bilinear(d, h, w) * 3.0


def warp_reference(fr, flow):
    """Backward bilinear warp: out(y, x) = bilinear(fr, x + u, y + v), taps outside fr
    read 0. fr [N, C, Hr, Wr], flow [N, 2, H, W] -> [N, C, H, W]. Float32 operations:
    sx = x + u, x0 = floor(sx), x1 = x0 + 1, weights (x1 - sx), (sx - x0) (same for y),
    out = F00*(wx0*wy0) + F01*(wx1*wy0) + F10*(wx0*wy1) + F11*(wx1*wy1), summed in that order
    (the order of PyTorch's CPU grid_sample: nw, ne, sw, se)."""
    n, c, hr, wr = fr.shape
    h, w = flow.shape[2], flow.shape[3]
    dev = fr.device
    ys, xs = torch.meshgrid(torch.arange(h, device=dev, dtype=fr.dtype), torch.arange(w, device=dev, dtype=fr.dtype),
                            indexing="ij")
    sx = xs + flow[:, 0]
    sy = ys + flow[:, 1]
    x0, y0 = torch.floor(sx), torch.floor(sy)
    x1, y1 = x0 + 1, y0 + 1
    wx0, wx1 = x1 - sx, sx - x0
    wy0, wy1 = y1 - sy, sy - y0
    flat = fr.reshape(n, c, hr * wr)
    out = None
    for xi, yi, wt in ((x0, y0, wx0 * wy0), (x1, y0, wx1 * wy0), (x0, y1, wx0 * wy1), (x1, y1, wx1 * wy1)):
        valid = (xi >= 0) & (xi <= wr - 1) & (yi >= 0) & (yi <= hr - 1)
        idx = (yi.clamp(0, hr - 1) * wr + xi.clamp(0, wr - 1)).long().reshape(n, 1, h * w).expand(n, c, h * w)
        v = torch.gather(flat, 2, idx).reshape(n, c, h, w)
        v = v * torch.where(valid, wt, torch.zeros_like(wt)).unsqueeze(1)
        out = v if out is None else out + v
    return out


class ReferBlock(nn.Module):
    """RefER block: parameters conv1.weight, conv2.weight (no bias), act.weight (PReLU),
    q1, q2 (activation quantizers at b_high, never gated). Weights at b_high."""

    def __init__(self, ch, method, b_high, b_low):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.act = nn.PReLU(1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.q1 = ActQuant(method, b_high, ch)
        self.q2 = ActQuant(method, b_high, ch)
        self.wq = WeightQuant(method, b_high)
        self.b_low = b_low
        self.temperature = TEMPERATURE
        self.soft = None  # None: soft-argmax in training mode, hard argmax in eval
        # True: no gradient through the matching into the features (train_refqsr
        # --detach-match); the warp still passes its gradient to the reference feature
        self.detach_match = False
        # SPEC 4 quantizes the pooled unit vectors on [-1, 1]; another range is an
        # experiment of the trainer (train_refqsr --match-range), which export refuses
        self.match_range = 1.0
        self.last = None  # (idx or None, flow) of the last forward, for tests / fixtures

    def flow(self, fq, fr):
        """Pixel displacement [N, 2, H, W] and hard indices, or (None, None) when a
        feature is smaller than 3 px (no pooled grid)."""
        if min(fq.shape[2], fq.shape[3], fr.shape[2], fr.shape[3]) < 3:
            return None, None
        if self.detach_match:
            fq, fr = fq.detach(), fr.detach()
        pq = quant_unit(pool3(normalise(fq)), self.b_low, self.match_range)
        pr = quant_unit(pool3(normalise(fr)), self.b_low, self.match_range)
        soft = self.training if self.soft is None else self.soft
        pos, idx = match_positions(pq, pr, soft, self.b_low, self.temperature)
        return displacement_flow(pos, pq.shape[2], pq.shape[3], fq.shape[2], fq.shape[3]), idx

    def forward(self, fq, fr):
        flow, idx = self.flow(fq, fr)
        self.last = (idx, flow)
        if flow is None:
            return fq
        fw = warp_reference(fr, flow)
        y = F.conv2d(self.q1(fq - fw), self.wq(self.conv1.weight), padding=1)
        y = self.act(y)
        y = F.conv2d(self.q2(y), self.wq(self.conv2.weight), padding=1)
        return fq + y


# ------------------------------------------------------------------ the network

class RefQSRNet(SRResNet):
    """Quantized SRResNet (reference path = the QAT model) + query path. Build with
    `build_refqsr` (from a QAT model / state) or `refqsr_from_state`."""

    def setup_refqsr(self, method, b_high, b_low, gated, tau=0.5, refer_blocks=None):
        if refer_blocks is None:
            refer_blocks = [self.blocks - 2, self.blocks - 1]
        refer_blocks = [int(j) for j in refer_blocks]
        assert refer_blocks == list(range(refer_blocks[0], self.blocks)) and refer_blocks[0] >= 2, \
            "refer_blocks must be the last blocks of the body (and leave block 0 and one low block)"
        quantize_srresnet(self, method, b_high, b_high, gated=gated)
        self.refqsr = refqsr_config(b_high, b_low, tau, refer_blocks)
        bm = self.refqsr["b_medium"]
        self.wq_medium = WeightQuant(method, bm)
        dev = self.head.weight.device
        for i in range(1, refer_blocks[0]):
            blk = self.body[i]
            blk.qlow1 = ActQuant(method, b_low, self.channels).to(dev)
            blk.qlow2 = ActQuant(method, b_low, self.channels).to(dev)
        self.refer = nn.ModuleDict({str(j): ReferBlock(self.channels, method, b_high, b_low).to(dev)
                                    for j in refer_blocks})
        return self

    def set_match_range(self, r):
        """The RefER matching's quantization range [-r, r] (1.0 = SPEC 4; other values are
        a trainer experiment, kept in the config as refqsr["match_range"])."""
        r = float(r)
        if not r > 0:
            raise ValueError(f"match range must be > 0, got {r}")
        for blk in self.refer.values():
            blk.match_range = r
        if r == 1.0:
            self.refqsr.pop("match_range", None)
        else:
            self.refqsr["match_range"] = r
        return self

    @property
    def refer_blocks(self):
        return self.refqsr["refer_blocks"]

    def low_quantizers(self):
        return [q for i in range(1, self.refer_blocks[0]) for q in (self.body[i].qlow1, self.body[i].qlow2)]

    def refer_quantizers(self):
        return [q for j in self.refer_blocks for q in (self.refer[str(j)].q1, self.refer[str(j)].q2)]

    def _tail(self, h, y):
        f = h + self.body_end(y)
        u = f
        for up in self.up:
            u = up(u)
        return self.tail(u), f

    def _reference_blocks(self, h, stop):
        """Reference-path blocks [0, stop) from the head output h: (their output,
        {j: input of block j} for the RefER blocks j < stop)."""
        y, keep = h, {}
        for i in range(stop):
            if i in self.refer_blocks:
                keep[i] = y
            y = self.body[i](y)
        return y, keep

    def forward_ref(self, x):
        """Reference path: (HR, body feature, {j: input of block j})."""
        h = self.head_act(self.head(x))
        y, keep = self._reference_blocks(h, len(self.body))
        out, f = self._tail(h, y)
        return out, f, keep

    def reference_inputs(self, x):
        """Only the reference path's inputs to the RefER blocks ({j: input of block j}, the
        same tensors as forward_ref's): without the last block, the body end, the upsampler
        and the tail, which the queries do not need."""
        last = self.refer_blocks[-1]
        y, keep = self._reference_blocks(self.head_act(self.head(x)), last)
        keep[last] = y
        return keep

    def _low_block(self, blk, x):
        y = F.conv2d(blk.qlow1(x), self.wq_medium(blk.conv1.weight), padding=1)
        y = blk.act(blk.bn1(y))
        y = F.conv2d(blk.qlow2(y), self.wq_medium(blk.conv2.weight), padding=1)
        return x + blk.bn2(y)

    def query_low_path(self, x):
        """The query path up to the first RefER block: (head output, input of the first
        RefER block) after block 0 at b_high and the low blocks."""
        h = self.head_act(self.head(x))
        y = self.body[0](h)
        for i in range(1, self.refer_blocks[0]):
            y = self._low_block(self.body[i], y)
        return h, y

    def forward_query(self, x, fr):
        """Query path; fr = {j: the paired references' inputs to block j} (batch aligned
        with x). Returns (HR, body feature)."""
        h, y = self.query_low_path(x)
        for j in self.refer_blocks:
            y = self.refer[str(j)](y, fr[j])
        return self._tail(h, y)

    def forward_pair(self, xr, xq, ref_index=None):
        """References xr [R, ...] then queries xq [Q, ...]; query k uses reference
        ref_index[k] (default k). Returns (sr_ref, f_ref, sr_q, f_q)."""
        sr_r, f_r, keep = self.forward_ref(xr)
        if ref_index is not None:
            keep = {j: v[ref_index] for j, v in keep.items()}
        sr_q, f_q = self.forward_query(xq, keep)
        return sr_r, f_r, sr_q, f_q

    def freeze_bn(self):
        """Training mode with BN on its running statistics (this stage's choice: the two
        paths share the BN layers, and the engine uses the running statistics)."""
        self.train()
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self


def build_refqsr(channels, blocks, method, b_high, b_low, gated, tau=0.5, refer_blocks=None):
    m = RefQSRNet(channels=channels, blocks=blocks)
    return m.setup_refqsr(method, b_high, b_low, gated, tau, refer_blocks)


def refqsr_from_state(sd, quant, refqsr):
    """RefQSRNet matching a train_refqsr state_dict (quant = {method, gated, ...},
    refqsr = the config block)."""
    channels = sd["head.weight"].shape[0]
    blocks = len({k.split(".")[1] for k in sd if k.startswith("body.") and k.endswith(".conv1.weight")})
    m = build_refqsr(channels, blocks, quant["method"], refqsr["b_high"], refqsr["b_low"], quant["gated"],
                     refqsr.get("tau", 0.5), refqsr["refer_blocks"])
    m.set_match_range(refqsr.get("match_range", 1.0))
    m.load_state_dict(sd)
    return m


def refqsr_from_qat(sd, quant, b_low, tau=0.5, refer_blocks=None):
    """RefQSRNet from a train_qat state_dict (its W/A bits = b_high; the gated quantizers
    kept). The qlow and RefER parameters are left at their defaults: initialise them with
    `init_refer_convs` and `calibrate_query`."""
    assert quant["w_bits"] == quant["a_bits"], "RefQSR needs a QAT model with w_bits == a_bits (= b_high)"
    channels = sd["head.weight"].shape[0]
    blocks = len({k.split(".")[1] for k in sd if k.startswith("body.") and k.endswith(".conv1.weight")})
    m = build_refqsr(channels, blocks, quant["method"], quant["a_bits"], b_low, quant["gated"], tau, refer_blocks)
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert not unexpected, unexpected
    assert all(".qlow" in k or k.startswith("refer.") for k in missing), missing
    return m


# ------------------------------------------------------------------ initialisation

@torch.no_grad()
def init_refer_convs(model, mode="block", scale=0.1, seed=0):
    """mode 'block': RefER j's conv1 = block j's conv1 with its BN1 scale folded in,
    PReLU slope = block j's, conv2 = `scale` x block j's conv2 with its BN2 scale folded
    (so a fresh RefER adds 10 % of a ResBlock branch applied to Fq - Fw: nearly the
    identity, with useful gradients). mode 'zero': both convs ~ N(0, 1e-3) (nearly the
    identity as well, but slow to start: each conv's gradient is scaled by the other)."""
    g = torch.Generator().manual_seed(seed)
    for j in model.refer_blocks:
        rb, blk = model.refer[str(j)], model.body[j]
        if mode == "block":
            a1 = blk.bn1.weight / torch.sqrt(blk.bn1.running_var + blk.bn1.eps)
            a2 = blk.bn2.weight / torch.sqrt(blk.bn2.running_var + blk.bn2.eps)
            rb.conv1.weight.copy_(blk.conv1.weight * a1.view(-1, 1, 1, 1))
            rb.conv2.weight.copy_(blk.conv2.weight * a2.view(-1, 1, 1, 1) * scale)
            rb.act.weight.copy_(blk.act.weight)
        elif mode == "zero":
            for conv in (rb.conv1, rb.conv2):
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g).to(conv.weight.device) * 1e-3)
        else:
            raise ValueError(mode)


@torch.no_grad()
def calibrate_query(model, pairs):
    """Initialise the qlow (b_low) and RefER (b_high) activation bounds like
    quantize_srresnet does (model in eval mode, those quantizers pass their input through
    and record it; tails 1 % below 6 bits, 0.1 % from 6 bits). pairs: iterable of
    (x_ref, x_query) batches (query k paired with reference k)."""
    qs = model.low_quantizers() + model.refer_quantizers()
    for q in qs:
        q.calib = []
    was = model.training
    model.eval()
    for xr, xq in pairs:
        model.forward_pair(xr, xq)
    model.train(was)
    for q in qs:
        stats, q.calib = q.calib, None
        if stats:
            _init_from_calib(q, stats)


@torch.no_grad()
def is_query_only_param(name):
    """The parameters only the query path uses: the b_low activation bounds of the low blocks
    (body.{i}.qlow{k}.*) and the RefER blocks (refer.*). Everything else (the float master
    weights, BN, PReLU, the b_high bounds and gates) is shared with the reference path."""
    return ".qlow" in name or name.startswith("refer.")


def freeze_shared(model):
    """Query-only training: freeze everything the reference path uses, so the reference path
    stays exactly the QAT model it was initialised from (a RefQSR model then differs from its
    baseline only in its queries). Returns the names left trainable."""
    trainable = []
    for n, p in model.named_parameters():
        p.requires_grad_(is_query_only_param(n))
        if p.requires_grad:
            trainable.append(n)
    return trainable


def clamp_all_bounds(model):
    """DDTB alpha_u >= alpha_l + 1e-3, PAMS alpha >= 1e-3 for every activation quantizer
    (reference, gates, qlow, RefER)."""
    for m in model.modules():
        if isinstance(m, ActQuant):
            if m.method == "ddtb":
                m.alpha_u.data = torch.maximum(m.alpha_u.data, m.alpha_l.data + 1e-3)
            else:
                m.alpha.data.clamp_(min=1e-3)


# ------------------------------------------------------------------ clustering

def cluster(logits, tau=0.5):
    """docs/refqsr.md "Clustering": logits V [N, C] (float32) -> ref [N] int (numpy).
    A = softmax over classes, A' = softmax over patches, M = A A'^T, ref(i) = argmax_j
    M[i, j] (lowest j on ties); cos(V[i], V[ref(i)]) < tau -> ref(i) = i. float64."""
    v = np.asarray(logits, dtype=np.float32).astype(np.float64)
    a = np.exp(v - v.max(axis=1, keepdims=True))
    a /= a.sum(axis=1, keepdims=True)
    b = np.exp(v - v.max(axis=0, keepdims=True))
    b /= b.sum(axis=0, keepdims=True)
    m = a @ b.T
    ref = np.argmax(m, axis=1)  # first maximum
    nrm = np.sqrt((v * v).sum(axis=1))
    for i in range(len(ref)):
        j = ref[i]
        den = nrm[i] * nrm[j]
        cos = float(v[i] @ v[j]) / den if den > 0 else 0.0
        if cos < tau:
            ref[i] = i
    return ref.astype(np.int64)


def roles(ref):
    """(references sorted, queries sorted) from ref: references = every ref(i)."""
    refs = sorted(set(int(r) for r in ref))
    qs = [i for i in range(len(ref)) if i not in set(refs)]
    return refs, qs


def tile_starts(n, p):
    """SPEC 5: starts range(0, n - p + 1, p - 6); the last patch stretches to the border.
    Returns [(start, end)]; one patch when n < p."""
    if n <= p:
        return [(0, n)]
    s = list(range(0, n - p + 1, p - 6))
    return [(a, a + p) for a in s[:-1]] + [(s[-1], n)]


def tiles(h, w, p):
    """[(y0, y1, x0, x1)] row-major (SPEC 5)."""
    return [(y0, y1, x0, x1) for (y0, y1) in tile_starts(h, p) for (x0, x1) in tile_starts(w, p)]


@torch.no_grad()
def infer_image(model, clust, lr, p=48, tau=None, device="cpu"):
    """Patch-wise RefQSR inference of one LR image (HWC uint8) with the fake-quant model in
    eval mode (hard argmax): ClustBlock logits, clustering, references first, then queries;
    merge as SPEC 5 (each HR patch clamped and rounded, 3 LR px trimmed on interior
    sides). Returns (HR uint8 HWC, number of queries, number of patches)."""
    tau = model.refqsr["tau"] if tau is None else tau
    h, w = lr.shape[:2]
    ts = tiles(h, w, p)
    x = torch.from_numpy(np.ascontiguousarray(lr)).permute(2, 0, 1)[None].float().to(device)
    pats = [x[:, :, y0:y1, x0:x1] for (y0, y1, x0, x1) in ts]
    logits = np.concatenate([clust(pt).float().cpu().numpy() for pt in pats])
    ref = cluster(logits, tau)
    refs, qs = roles(ref)
    out = np.zeros((h * 4, w * 4, 3), np.uint8)
    keep = {}
    hrs = {}
    for i in refs:
        sr, _, kp = model.forward_ref(pats[i])
        keep[i], hrs[i] = kp, sr
    for i in qs:
        sr, _ = model.forward_query(pats[i], keep[int(ref[i])])
        hrs[i] = sr
    ys = sorted({t[0] for t in ts})
    xs = sorted({t[2] for t in ts})
    for i, (y0, y1, x0, x1) in enumerate(ts):
        img = hrs[i][0].clamp(0, 255).round().byte().permute(1, 2, 0).cpu().numpy()
        ty0 = y0 + (3 if y0 != ys[0] else 0)
        ty1 = y1 - (3 if y0 != ys[-1] else 0)
        tx0 = x0 + (3 if x0 != xs[0] else 0)
        tx1 = x1 - (3 if x0 != xs[-1] else 0)
        out[4 * ty0:4 * ty1, 4 * tx0:4 * tx1] = img[4 * (ty0 - y0):4 * (ty1 - y0), 4 * (tx0 - x0):4 * (tx1 - x0)]
    return out, len(qs), len(ts)


# ------------------------------------------------------------------ training pairs

class PairMiner:
    """Training pairs (SPEC 4 "Training"): per image, `candidates` random p x p LR patches
    (with their HR), ClustBlock logits, the clustering of docs/refqsr.md within the image;
    every query i (not itself a reference) gives the pair (query i, reference ref(i)),
    whose cosine similarity is >= tau by construction. At most `per_image` pairs per
    image; images are drawn by area until the batch is full. Both patches of a pair get
    the same random flip/rotation."""

    def __init__(self, hrs, lrs, clust, tau=0.5, scale=4, candidates=16, per_image=4, seed=0, device="cpu"):
        self.hrs, self.lrs, self.clust, self.tau, self.s = hrs, lrs, clust, tau, scale
        self.k, self.per_image, self.dev = candidates, per_image, device
        area = np.array([l.shape[0] * l.shape[1] for l in lrs], dtype=np.float64)
        self.p = area / area.sum()
        self.rng = np.random.default_rng(seed)
        self.stats = {"images": 0, "empty": 0, "pairs": 0}

    @torch.no_grad()
    def _image_pairs(self, i, p):
        lr, hr = self.lrs[i], self.hrs[i]
        ys = self.rng.integers(0, lr.shape[0] - p + 1, self.k)
        xs = self.rng.integers(0, lr.shape[1] - p + 1, self.k)
        cand = np.stack([lr[y:y + p, x:x + p] for y, x in zip(ys, xs)])
        t = torch.from_numpy(cand).to(self.dev).permute(0, 3, 1, 2).float()
        ref = cluster(self.clust(t).float().cpu().numpy(), self.tau)
        _, qs = roles(ref)
        self.stats["images"] += 1
        if not qs:
            self.stats["empty"] += 1
        qs = list(self.rng.permutation(qs))[:self.per_image]
        s = self.s
        out = []
        for q in qs:
            r = int(ref[q])
            pair = []
            for k in (q, r):
                y, x = ys[k], xs[k]
                pair.append((lr[y:y + p, x:x + p], hr[y * s:(y + p) * s, x * s:(x + p) * s]))
            out.append(pair)
        return out

    def batch(self, n, p):
        """(lr_ref, hr_ref, lr_q, hr_q) uint8 NHWC, n pairs."""
        pairs = []
        tries = 0
        while len(pairs) < n:
            i = self.rng.choice(len(self.lrs), p=self.p)
            got = self._image_pairs(i, p)
            tries += 1
            if not got and tries > 50 * n:
                raise RuntimeError("no pairs found: is the ClustBlock model / tau sensible?")
            pairs += got
        pairs = pairs[:n]
        self.stats["pairs"] += n
        out = [np.empty((n, p, p, 3), np.uint8), np.empty((n, p * self.s, p * self.s, 3), np.uint8),
               np.empty((n, p, p, 3), np.uint8), np.empty((n, p * self.s, p * self.s, 3), np.uint8)]
        for k, ((lq, hq), (lr_, hr_)) in enumerate(pairs):
            t = self.rng.integers(0, 8)
            arrs = [lr_, hr_, lq, hq]
            for a_i, a in enumerate(arrs):
                if t & 1:
                    a = a[:, ::-1]
                if t & 2:
                    a = a[::-1]
                if t & 4:
                    a = a.transpose(1, 0, 2)
                out[a_i][k] = a
        return tuple(out)
