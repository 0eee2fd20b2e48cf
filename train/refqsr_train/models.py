"""SRResNet x4 exactly as SPEC section 2. Parameter names are the tensor names of the
engine's model files (docs/weights-format.md), so export is a rename-free dump.

Activation quantizers are plugged in through `make_act_quant(block_index, which)`;
the FP32 model uses identities.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ResBlock(nn.Module):
    def __init__(self, ch, q1=None, q2=None, wq1=None, wq2=None):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.act = nn.PReLU(1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)
        # activation quantizers (identity for FP32); weight quantizers are functions
        self.q1 = q1 if q1 is not None else nn.Identity()
        self.q2 = q2 if q2 is not None else nn.Identity()
        self.wq = None  # callable(weight) -> fake-quantized weight, or None

    def _w(self, conv):
        return conv.weight if self.wq is None else self.wq(conv.weight)

    def forward(self, x):
        y = F.conv2d(self.q1(x), self._w(self.conv1), padding=1)
        y = self.act(self.bn1(y))
        y = F.conv2d(self.q2(y), self._w(self.conv2), padding=1)
        return x + self.bn2(y)


class ConvBN(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(ch)

    def forward(self, x):
        return self.bn(self.conv(x))


class UpStage(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch * 4, 3, padding=1, bias=False)
        self.act = nn.PReLU(1)

    def forward(self, x):
        return self.act(F.pixel_shuffle(self.conv(x), 2))


class SRResNet(nn.Module):
    def __init__(self, channels=64, blocks=16, scale=4):
        super().__init__()
        assert scale == 4, "x4 only for now"
        self.channels, self.blocks, self.scale = channels, blocks, scale
        self.head = nn.Conv2d(3, channels, 9, padding=4, bias=False)
        self.head_act = nn.PReLU(1)
        self.body = nn.ModuleList([ResBlock(channels) for _ in range(blocks)])
        self.body_end = ConvBN(channels)
        self.up = nn.ModuleList([UpStage(channels), UpStage(channels)])
        self.tail = nn.Conv2d(channels, 3, 9, padding=4, bias=False)

    def features(self, x):
        """Returns (head output, body output after the global skip)."""
        h = self.head_act(self.head(x))
        y = h
        for blk in self.body:
            y = blk(y)
        return h, h + self.body_end(y)

    def forward(self, x, return_feat=False):
        _, f = self.features(x)
        y = f
        for u in self.up:
            y = u(y)
        out = self.tail(y)
        return (out, f) if return_feat else out


def model_config(model, quantizer="none", w_bits=32, a_bits=32, extra=None):
    cfg = {
        "network": "srresnet",
        "scale": model.scale,
        "channels": model.channels,
        "blocks": model.blocks,
        "quantizer": quantizer,
        "w_bits": w_bits,
        "a_bits": a_bits,
    }
    if extra:
        cfg.update(extra)
    return cfg
