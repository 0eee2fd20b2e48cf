"""ClustBlock (SPEC section 4): an 8-bit texture classifier over LR patches.

  conv3x3 3->64 stride 3, no padding -> ReLU -> conv3x3 64->64 pad 1 -> ReLU
  -> conv3x3 64->32 pad 1 -> ReLU -> global average pool -> FC 32->C

Input RGB 0..255 (no normalisation). Padding of conv2/conv3 is 1 (zero padding, a
real 0 as in the SR convs), chosen here since the SPEC is silent.

8-bit quantization (asymmetric, the DDTB form of docs/integer-arithmetic.md with
b = 8): each of the 4 layers quantizes its input with a fixed range `q{k}.range`
= [min, max] observed on training patches (calibration), and its weight with
`w_range` = [min(w), max(w)] recomputed from the float weight each forward.
  y = conv(x_hat, w_hat) + bias   (bias float32, added after the dequantized conv)
The GAP is a float32 mean (sum in float64 / (H*W), rounded to float32) and its output is
the FC layer's input (q4).
"""
import csv
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .quant import fake_quant, sample_mean_f64


def minmax_range(w):
    w = w.detach()
    return w.min(), w.max()


class RangeQuant(nn.Module):
    """8-bit asymmetric activation quantizer with a fixed [min, max] range buffer."""

    def __init__(self, bits=8):
        super().__init__()
        self.bits = bits
        self.register_buffer("range", torch.tensor([0.0, 1.0]))
        self.enabled = False
        self.calibrating = False
        self._seen = False

    def forward(self, x):
        if self.calibrating:
            with torch.no_grad():
                lo, hi = x.min(), x.max()
                if self._seen:
                    lo, hi = torch.minimum(lo, self.range[0]), torch.maximum(hi, self.range[1])
                self.range.copy_(torch.stack([lo, hi]))
                self._seen = True
            return x
        if not self.enabled:
            return x
        return fake_quant(x, "ddtb", self.bits, self.range[0:1], self.range[1:2])


class ClustBlock(nn.Module):
    def __init__(self, classes=10, bits=8):
        super().__init__()
        self.classes, self.bits = classes, bits
        self.conv1 = nn.Conv2d(3, 64, 3, stride=3, padding=0)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 32, 3, padding=1)
        self.fc = nn.Linear(32, classes)
        self.q1, self.q2, self.q3, self.q4 = (RangeQuant(bits) for _ in range(4))
        with torch.no_grad():  # input is 0..255: shrink the first layer's init
            self.conv1.weight.mul_(1.0 / 128.0)
        self.quantized = False

    def set_quantized(self, on):
        self.quantized = on
        for q in (self.q1, self.q2, self.q3, self.q4):
            q.enabled = on

    def _w(self, w):
        if not self.quantized:
            return w
        lo, hi = minmax_range(w)
        return fake_quant(w, "ddtb", self.bits, lo.view(1), hi.view(1))

    def forward(self, x):
        x = F.relu(F.conv2d(self.q1(x), self._w(self.conv1.weight), self.conv1.bias, stride=3))
        x = F.relu(F.conv2d(self.q2(x), self._w(self.conv2.weight), self.conv2.bias, padding=1))
        x = F.relu(F.conv2d(self.q3(x), self._w(self.conv3.weight), self.conv3.bias, padding=1))
        v = sample_mean_f64(x)
        return F.linear(self.q4(v), self._w(self.fc.weight), self.fc.bias)

    @torch.no_grad()
    def calibrate(self, batches):
        """min/max of each layer's input over `batches` (FP32 forward)."""
        qs = (self.q1, self.q2, self.q3, self.q4)
        was_q = self.quantized
        self.set_quantized(False)
        for q in qs:
            q.calibrating, q._seen = True, False
        for x in batches:
            self(x)
        for q in qs:
            q.calibrating = False
        self.set_quantized(was_q)


# ----------------------------------------------------------------------------- data

def load_dtd(root, val_every=5, limit_per_class=0, scales=(0.5, 1 / 3, 0.25), cache_dir=None):
    """Returns (class_names, train list of (img, label), val list) where img is a list of
    uint8 HxWx3 LR-like versions (MATLAB bicubic downscales by `scales`).
    Split: per class, sorted by path, every `val_every`-th image (index % val_every ==
    val_every - 1) is validation."""
    from .data import load_rgb
    from .imresize import imresize_uint8
    rows = list(csv.DictReader(open(os.path.join(root, "labels.csv"))))
    names = sorted({r["class"] for r in rows})
    by = {c: sorted(r["path"] for r in rows if r["class"] == c) for c in names}
    cache = {}
    cp = None
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        cp = os.path.join(cache_dir, f"dtd_{'_'.join('%.4f' % s for s in scales)}.npz")
        if os.path.exists(cp):
            z = np.load(cp, allow_pickle=True)
            cache = dict(zip(z["keys"], z["imgs"]))
    if limit_per_class:
        val_every = max(2, min(val_every, limit_per_class))
    dirty = False
    train, val = [], []
    for li, c in enumerate(names):
        paths = by[c][:limit_per_class] if limit_per_class else by[c]
        for j, p in enumerate(paths):
            vers = []
            for s in scales:
                key = f"{p}@{s:.4f}"
                if key not in cache:
                    cache[key] = imresize_uint8(load_rgb(os.path.join(root, "images", p)), s)
                    dirty = True
                vers.append(cache[key])
            (val if j % val_every == val_every - 1 else train).append((vers, li))
    if cp and dirty:
        keys = sorted(cache)
        arr = np.empty(len(keys), dtype=object)
        for i, k in enumerate(keys):
            arr[i] = cache[k]
        np.savez(cp, keys=np.array(keys), imgs=arr)
    return names, train, val


class TextureSampler:
    def __init__(self, items, seed=0):
        self.items = items
        self.rng = np.random.default_rng(seed)

    def batch(self, n, p):
        xs = np.empty((n, p, p, 3), np.uint8)
        ys = np.empty(n, np.int64)
        for k in range(n):
            while True:
                vers, lab = self.items[self.rng.integers(len(self.items))]
                img = vers[self.rng.integers(len(vers))]
                if min(img.shape[:2]) >= p:
                    break
            y = self.rng.integers(0, img.shape[0] - p + 1)
            x = self.rng.integers(0, img.shape[1] - p + 1)
            c = img[y:y + p, x:x + p]
            t = self.rng.integers(0, 8)
            if t & 1:
                c = c[:, ::-1]
            if t & 2:
                c = c[::-1]
            if t & 4:
                c = c.transpose(1, 0, 2)
            xs[k], ys[k] = c, lab
        return xs, ys


def val_patches(items, p=48, per_image=4):
    """Deterministic validation patches from the smallest (x1/4) version: the four
    corner-ish crops of a centred 2p x 2p window (fewer if the image is small)."""
    xs, ys = [], []
    for vers, lab in items:
        img = vers[-1]
        h, w = img.shape[:2]
        if min(h, w) < p:
            continue
        cy, cx = (h - p) // 2, (w - p) // 2
        offs = [(0, 0), (-p // 2, -p // 2), (-p // 2, p // 2), (p // 2, -p // 2), (p // 2, p // 2)][:per_image]
        for dy, dx in offs:
            y, x = min(max(cy + dy, 0), h - p), min(max(cx + dx, 0), w - p)
            xs.append(img[y:y + p, x:x + p])
            ys.append(lab)
    return np.stack(xs), np.array(ys, np.int64)
