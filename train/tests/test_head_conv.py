"""intsim.conv_fma_chain, the head conv in the engine's FMA order: each fma correctly
rounded, the conv within float rounding of PyTorch's, and bit for bit the engine's head
output as a committed fixture recorded it."""
import os
import random
import unittest
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F

import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _util import TRAIN  # noqa: E402
from refqsr_train import safetensors_io  # noqa: E402
from refqsr_train.intsim import _fma32, conv_fma_chain, _prelu  # noqa: E402

ROOT = os.path.dirname(TRAIN)


def round_to_float32(q):
    """The float32 nearest the rational q, ties to even."""
    c = np.float32(float(q))
    best = None
    for cand in (np.nextafter(c, np.float32(-np.inf)), c, np.nextafter(c, np.float32(np.inf))):
        d = abs(Fraction(float(cand)) - q)
        even = (int(np.array(cand).view(np.int32)) & 1) == 0
        if best is None or d < best[0] or (d == best[0] and even):
            best = (d, cand)
    return best[1]


class TestHeadConv(unittest.TestCase):
    def test_fma_is_correctly_rounded(self):
        rng = random.Random(7)
        a, b, c = [], [], []
        for i in range(3000):
            x = np.float32(rng.uniform(-4, 4))
            y = np.float32(rng.uniform(-4, 4))
            if i % 2:
                # c just off -x*y: cancellation, where a rounded product would be wrong
                z = np.float32(-(float(x) * float(y)) * (1 + rng.uniform(-1e-6, 1e-6)))
            else:
                z = np.float32(rng.uniform(-8, 8))
            a.append(x), b.append(y), c.append(z)
        # (2^-24 + 2^-47)(1 - 2^-23) + (1 + 2^-23) is 2^-70 below a float32 midpoint, which a
        # float64 sum rounds onto, and then ties to the even float32 above: the wrong one
        a.append(np.float32(2.0 ** -24 + 2.0 ** -47)), b.append(np.float32(1 - 2.0 ** -23)), c.append(np.float32(1 + 2.0 ** -23))
        a, b, c = (np.array(v, np.float32) for v in (a, b, c))
        got = _fma32(torch.from_numpy(a).double() * torch.from_numpy(b).double(), torch.from_numpy(c).double()).numpy()
        want = np.array([round_to_float32(Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))) for x, y, z in zip(a, b, c)],
                        np.float32)
        self.assertTrue(np.array_equal(got.view(np.int32), want.view(np.int32)))
        # a plain float64 sum rounded twice gets the built case wrong
        twice = (a.astype(np.float64) * b + c).astype(np.float32)
        self.assertEqual(want[-1], np.float32(1 + 2.0 ** -23))
        self.assertNotEqual(twice[-1], want[-1])

    def test_conv_is_pytorchs_up_to_rounding(self):
        g = torch.Generator().manual_seed(3)
        x = torch.rand(1, 3, 9, 11, generator=g) * 255
        w = torch.randn(8, 3, 5, 5, generator=g) * 0.05
        ours, theirs = conv_fma_chain(x, w, 2), F.conv2d(x, w, padding=2)
        self.assertEqual(ours.shape, theirs.shape)
        self.assertLess(float((ours - theirs).abs().max()), 1e-3)

    def test_engine_head_output_bit_for_bit(self):
        # x_q0 of a committed fixture is the engine's head output (`refqsr parity` reports it
        # bit for bit equal); PyTorch's float32 conv differs from it in most values here
        fx = os.path.join(ROOT, "tests", "fixtures", "srresnet-ddtb-w8a8")
        t, cfg, _ = safetensors_io.load(os.path.join(ROOT, "weights", "srresnet-ddtb-w8a8.safetensors"))
        lr = np.fromfile(os.path.join(fx, "input.u8"), np.uint8).reshape(20, 24, 3)
        x = torch.from_numpy(lr).permute(2, 0, 1)[None].float()
        head = _prelu(conv_fma_chain(x, torch.from_numpy(t["head.weight"]), 4), torch.from_numpy(t["head_act.weight"]))
        want = np.fromfile(os.path.join(fx, "x_q0.f32"), np.float32).reshape(head.shape)
        self.assertTrue(np.array_equal(head.numpy().view(np.int32), want.view(np.int32)))


if __name__ == "__main__":
    unittest.main()
