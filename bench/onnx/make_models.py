"""ONNX models for the side-by-side comparison with ONNX Runtime (bench `compare`).

  /usr/bin/python3 bench/onnx/make_models.py --fp32 weights/srresnet-fp32.safetensors \
      --w8a8 weights/srresnet-ddtb-w8a8.safetensors --out bench/onnx/models

Writes (no `onnx` package needed: torch.onnx with custom symbolics):
  conv_fp32.onnx      one 3x3 64->64 Conv on 1x64x96x96 (FP32)
  conv_qlinear.onnx   the same conv as QLinearConv, u8 activations x s8 weights
  conv_weights.bin    its float weights [64,64,3,3] and int8 codes (so both engines run
                      the same numbers)
  srresnet_fp32.onnx  the FP32 SRResNet x4 (input NCHW float 0..255, dynamic H/W)
  srresnet_qdq.onnx   the w8a8 network as ORT's int8 path wants it: BN folded into each
                      quantized conv (per-channel symmetric int8 weights), QuantizeLinear /
                      DequantizeLinear around every such conv's input AND output (u8,
                      ranges from the model's DDTB bounds for inputs and from a calibration
                      pass for outputs), so ORT fuses each into QLinearConv. It differs
                      from our integer network: per-channel weights with BN folded (ours:
                      per-tensor, BN after the conv), output re-quantized to u8 (ours: FP32
                      until the next conv's quantizer), no dynamic gate.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "train"))
from refqsr_train import safetensors_io  # noqa: E402
from refqsr_train.models import SRResNet  # noqa: E402


def load_srresnet(path):
    t, cfg, _ = safetensors_io.load(path)
    m = SRResNet(cfg["channels"], cfg["blocks"], cfg["scale"])
    sd = m.state_dict()
    for k in sd:
        if k in t:
            sd[k] = torch.from_numpy(t[k])
    m.load_state_dict(sd)
    return m.eval(), t, cfg


class QLinearConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, xs, xz, ws, wz, ys, yz):
        return torch.zeros(x.shape[0], w.shape[0], x.shape[2], x.shape[3], dtype=torch.uint8)

    @staticmethod
    def symbolic(g, x, w, xs, xz, ws, wz, ys, yz):
        return g.op("QLinearConv", x, xs, xz, w, ws, wz, ys, yz, pads_i=[1, 1, 1, 1], kernel_shape_i=[3, 3])


class QdqConv(torch.autograd.Function):
    """x -> Q/DQ (u8) -> Conv(DQ(int8 per-channel weights)) + bias -> Q/DQ (u8)."""

    @staticmethod
    def forward(ctx, x, wq, wscale, bias, xs, xz, ys, yz):
        w = wq.float() * wscale[:, None, None, None]
        xq = torch.clamp(torch.round(x / xs) + xz.float(), 0, 255)
        y = F.conv2d((xq - xz.float()) * xs, w, bias, padding=1)
        yq = torch.clamp(torch.round(y / ys) + yz.float(), 0, 255)
        return (yq - yz.float()) * ys

    @staticmethod
    def symbolic(g, x, wq, wscale, bias, xs, xz, ys, yz):
        zero8 = g.op("Constant", value_t=torch.zeros(wq.type().sizes()[0], dtype=torch.int8))
        xdq = g.op("DequantizeLinear", g.op("QuantizeLinear", x, xs, xz), xs, xz)
        wdq = g.op("DequantizeLinear", wq, wscale, zero8, axis_i=0)
        y = g.op("Conv", xdq, wdq, bias, pads_i=[1, 1, 1, 1], kernel_shape_i=[3, 3])
        return g.op("DequantizeLinear", g.op("QuantizeLinear", y, ys, yz), ys, yz)


def u8_params(lo, hi):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    s = max(hi - lo, 1e-8) / 255.0
    return torch.tensor(s, dtype=torch.float32), torch.tensor(int(round(-lo / s)), dtype=torch.uint8)


class QdqSRResNet(torch.nn.Module):
    def __init__(self, fp, t, cfg, calib):
        super().__init__()
        self.fp = fp
        self.convs = []
        outs = self._calibrate(calib)
        for i, blk in enumerate(fp.body):
            for k, (conv, bn) in enumerate(((blk.conv1, blk.bn1), (blk.conv2, blk.bn2)), start=1):
                a = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
                w = conv.weight.detach() * a[:, None, None, None]
                bias = (bn.bias - bn.running_mean * a).detach()
                ws = w.abs().amax(dim=(1, 2, 3)) / 127.0
                wq = torch.clamp(torch.round(w / ws[:, None, None, None]), -127, 127).to(torch.int8)
                p = f"body.{i}.q{k}."
                lo = float(t[p + "alpha_l"][0]) if p + "alpha_l" in t else -float(t[p + "alpha"][0])
                hi = float(t[p + "alpha_u"][0]) if p + "alpha_u" in t else float(t[p + "alpha"][0])
                xs, xz = u8_params(lo, hi)
                ys, yz = u8_params(*outs[(i, k)])
                self.convs.append((wq, ws, bias, xs, xz, ys, yz))

    @torch.no_grad()
    def _calibrate(self, x):
        ranges = {}
        h = self.fp.head_act(self.fp.head(x))
        y = h
        for i, blk in enumerate(self.fp.body):
            z = blk.bn1(blk.conv1(y))
            ranges[(i, 1)] = (float(z.min()), float(z.max()))
            z2 = blk.bn2(blk.conv2(blk.act(z)))
            ranges[(i, 2)] = (float(z2.min()), float(z2.max()))
            y = y + z2
        return ranges

    def forward(self, x):
        fp = self.fp
        h = fp.head_act(fp.head(x))
        y = h
        for i, blk in enumerate(fp.body):
            c1, c2 = self.convs[2 * i], self.convs[2 * i + 1]
            z = blk.act(QdqConv.apply(y, *c1))
            y = y + QdqConv.apply(z, *c2)
        y = h + fp.body_end(y)
        for u in fp.up:
            y = u(y)
        return fp.tail(y)


def synthetic(h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    img = torch.stack([128 + 90 * torch.sin(xx / 5 + c) * torch.cos(yy / 7) for c in range(3)])
    return torch.clamp(img + 10 * torch.randn(3, h, w, generator=g), 0, 255)[None]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fp32", required=True)
    ap.add_argument("--w8a8", required=True)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "onnx", "models"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(0)

    w = torch.randn(64, 64, 3, 3) * 0.05
    ws = float(w.abs().max()) / 127.0
    wq = torch.clamp(torch.round(w / ws), -127, 127).to(torch.int8)
    with open(os.path.join(a.out, "conv_weights.bin"), "wb") as f:
        f.write(w.numpy().astype("<f4").tobytes())
        f.write(wq.numpy().astype(np.int8).tobytes())
    conv = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False).eval()
    conv.weight.data = w
    torch.onnx.export(conv, torch.rand(1, 64, 96, 96), os.path.join(a.out, "conv_fp32.onnx"), opset_version=13,
                      input_names=["x"], output_names=["y"])

    class QL(torch.nn.Module):
        def forward(self, x):
            return QLinearConv.apply(x, wq, torch.tensor(0.02), torch.tensor(128, dtype=torch.uint8), torch.tensor(ws),
                                     torch.tensor(0, dtype=torch.int8), torch.tensor(0.5), torch.tensor(128, dtype=torch.uint8))
    torch.onnx.export(QL(), torch.zeros(1, 64, 96, 96, dtype=torch.uint8), os.path.join(a.out, "conv_qlinear.onnx"),
                      opset_version=13, input_names=["x"], output_names=["y"])

    dyn = {"lr": {2: "h", 3: "w"}, "hr": {2: "h4", 3: "w4"}}
    fp, _, _ = load_srresnet(a.fp32)
    torch.onnx.export(fp, synthetic(24, 20), os.path.join(a.out, "srresnet_fp32.onnx"), opset_version=13,
                      input_names=["lr"], output_names=["hr"], dynamic_axes=dyn)
    q8, t8, cfg8 = load_srresnet(a.w8a8)
    qdq = QdqSRResNet(q8, t8, cfg8, synthetic(96, 96, 1)).eval()
    torch.onnx.export(qdq, synthetic(24, 20), os.path.join(a.out, "srresnet_qdq.onnx"), opset_version=13,
                      input_names=["lr"], output_names=["hr"], dynamic_axes=dyn)
    print("wrote", sorted(os.listdir(a.out)))


if __name__ == "__main__":
    main()
