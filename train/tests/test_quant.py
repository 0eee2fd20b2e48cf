import unittest

import numpy as np
import torch

import os as _os
import sys as _sys
_sys.path.insert(0, _os.path.dirname(_os.path.abspath(__file__)))
from _util import TRAIN  # noqa: F401
from refqsr_train.quant import (qparams, fake_quant, quant_codes, weight_range, WeightQuant, ActQuant,
                                round_ste, quantize_srresnet, quantizer_modules)
from refqsr_train.models import SRResNet


def t(v):
    return torch.tensor([float(v)], dtype=torch.float32)


class TestFormulas(unittest.TestCase):
    def test_round_half_even(self):
        x = torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5])
        self.assertEqual(torch.round(x).tolist(), [-2, -2, -0, 0, 2, 2, 4])
        self.assertEqual(round_ste(x).tolist(), [-2, -2, -0, 0, 2, 2, 4])

    def test_ddtb_params_hand(self):
        # b = 4, lo = -1, hi = 2: s = 15/3 = 5, zp = round(-5) + 8 = 3, codes -8..7
        s, zp, qlo, qhi = qparams("ddtb", 4, t(-1), t(2))
        self.assertEqual((s.item(), zp.item(), qlo, qhi), (5.0, 3.0, -8, 7))
        x = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.1, 0.3, 1.0, 2.0, 9.0])
        codes = quant_codes(x, t(-1), t(2), s, zp, qlo, qhi)
        # round(5*clip(x) - 3): -8, -8, round(-5.5)=-6, -3, round(-2.5)=-2, round(-1.5)=-2, 2, 7, 7
        self.assertEqual(codes.tolist(), [-8, -8, -6, -3, -2, -2, 2, 7, 7])
        xh = fake_quant(x, "ddtb", 4, t(-1), t(2))
        np.testing.assert_array_equal(xh.numpy(), ((codes + 3) / 5).numpy())
        self.assertEqual(xh[3].item(), 0.0)  # zero is exact

    def test_ddtb_zero_point_rounds(self):
        # b = 8, lo = -0.3, hi = 1.0: s = 255/1.3, zp = round(s*lo) + 128
        lo, hi = t(-0.3), t(1.0)
        s, zp, qlo, qhi = qparams("ddtb", 8, lo, hi)
        s32 = np.float32(255.0) / (np.float32(1.0) - np.float32(-0.3))
        self.assertEqual(s.item(), float(s32))
        self.assertEqual(zp.item(), float(np.round(np.float32(s32 * np.float32(-0.3)))) + 128)
        self.assertEqual((qlo, qhi), (-128, 127))
        self.assertEqual(zp.item(), 69.0)  # round(-58.846) + 128

    def test_pams_hand(self):
        # b = 4: qmax = 7, alpha = 2: s = 3.5
        s, zp, qlo, qhi = qparams("pams", 4, t(-2), t(2))
        self.assertEqual((s.item(), zp.item(), qlo, qhi), (3.5, 0.0, -7, 7))
        x = torch.tensor([-5.0, -1.0, 0.0, 1.0 / 7, 3.0 / 7, 2.0, 3.0])
        codes = quant_codes(x, t(-2), t(2), s, zp, qlo, qhi)
        # round(3.5*x): -7, round(-3.5)=-4, 0, round(0.5)=0, round(1.5)=2, 7, 7
        self.assertEqual(codes.tolist(), [-7, -4, 0, 0, 2, 7, 7])
        xh = fake_quant(x, "pams", 4, t(-2), t(2))
        np.testing.assert_array_equal(xh.numpy(), (codes / 3.5).numpy())

    def test_pams_2bit_is_ternary(self):
        xh = fake_quant(torch.linspace(-3, 3, 31), "pams", 2, t(-1), t(1))
        self.assertEqual(sorted(set(xh.tolist())), [-1.0, 0.0, 1.0])

    def test_bits_range(self):
        for b in range(2, 9):
            x = torch.linspace(-5, 5, 1001)
            for m in ("ddtb", "pams"):
                lo, hi = (t(-1.3), t(2.1)) if m == "ddtb" else (t(-2.1), t(2.1))
                s, zp, qlo, qhi = qparams(m, b, lo, hi)
                c = quant_codes(x, lo, hi, s, zp, qlo, qhi)
                self.assertGreaterEqual(c.min().item(), qlo)
                self.assertLessEqual(c.max().item(), qhi)
                self.assertLessEqual(len(set(c.tolist())), 2 ** b)

    def test_float32_division_order(self):
        # s must be one float32 division (not reciprocal-then-multiply)
        for lo, hi in [(-0.37, 1.91), (-1.1, 0.7), (0.0, 3.3)]:
            s, _, _, _ = qparams("ddtb", 8, t(lo), t(hi))
            ref = np.float32(255.0) / (np.float32(hi) - np.float32(lo))
            self.assertEqual(s.item(), float(ref))
            s, _, _, _ = qparams("pams", 6, t(-hi), t(hi))
            self.assertEqual(s.item(), float(np.float32(31.0) / np.float32(hi)))

    def test_ste_gradients(self):
        x = torch.tensor([-3.0, -0.5, 0.2, 1.7, 4.0], requires_grad=True)
        q = ActQuant("ddtb", 4, 1)
        q.alpha_l.data.fill_(-1.0)
        q.alpha_u.data.fill_(2.0)
        q(x).sum().backward()
        self.assertEqual(x.grad.tolist(), [0.0, 1.0, 1.0, 1.0, 0.0])
        self.assertIsNotNone(q.alpha_l.grad)
        self.assertIsNotNone(q.alpha_u.grad)
        # the clipped values pass their gradient to the bound that clipped them
        self.assertGreater(q.alpha_u.grad.item(), 0.5)
        self.assertGreater(q.alpha_l.grad.item(), 0.5)
        p = ActQuant("pams", 4, 1)
        p.alpha.data.fill_(1.0)
        y = torch.tensor([-3.0, 0.3, 5.0], requires_grad=True)
        p(y).sum().backward()
        self.assertEqual(y.grad.tolist(), [0.0, 1.0, 0.0])

    def test_weight_ranges(self):
        torch.manual_seed(0)
        w = torch.randn(64, 64, 3, 3)
        lo, hi = weight_range(w, "ddtb")
        flat = np.sort(w.numpy().ravel().astype(np.float64))
        n = flat.size
        for p, v in ((0.01, lo), (0.99, hi)):  # linear interpolation (numpy's default)
            self.assertAlmostEqual(v.item(), float(np.quantile(flat, p)), places=5)
        lo, hi = weight_range(w, "pams")
        self.assertEqual(hi.item(), w.abs().max().item())
        self.assertEqual(lo.item(), -w.abs().max().item())
        for m in ("ddtb", "pams"):
            for b in (2, 4, 8):
                wq = WeightQuant(m, b)(w)
                self.assertLessEqual(len(torch.unique(wq)), 2 ** b)
        self.assertEqual(n, 36864)

    def test_gate_scales_bounds(self):
        torch.manual_seed(0)
        q = ActQuant("ddtb", 4, 8, gated=True)
        q.eval()
        torch.nn.init.normal_(q.gate.conv2.weight, std=1.0)
        x = torch.randn(3, 8, 5, 6) * torch.tensor([1.0, 3.0, 0.3])[:, None, None, None]
        lo, hi = q.bounds(x)
        self.assertEqual(tuple(lo.shape), (3, 1, 1, 1))
        g = q.last_g
        self.assertTrue(((g > 0) & (g < 2)).all())
        np.testing.assert_array_equal(lo.flatten().detach().numpy(), (q.alpha_l * g[:, 0]).detach().numpy())
        q.train()
        x.requires_grad_(True)
        (q(x) * torch.randn(x.shape)).sum().backward()
        for p in (q.alpha_l, q.alpha_u, q.gate.conv2.weight, q.gate.conv1.weight, q.gate.q_in.alpha_u):
            self.assertIsNotNone(p.grad)
            self.assertTrue(torch.isfinite(p.grad).all())
        self.assertGreater(q.gate.conv2.weight.grad.abs().sum().item(), 0)
        self.assertEqual(x.grad.shape, x.shape)

    def test_fused_matches_unfused_forward(self):
        torch.manual_seed(2)
        x = torch.randn(4, 3, 5, 5) * 3
        for m, lo, hi in (("ddtb", t(-1.7), t(2.9)), ("pams", t(-2.2), t(2.2))):
            for b in (2, 5, 8):
                s, zp, qlo, qhi = qparams(m, b, lo, hi, ste=False)
                ref = (quant_codes(x, lo, hi, s, zp, qlo, qhi) + zp) / s
                np.testing.assert_array_equal(fake_quant(x, m, b, lo, hi).numpy(), ref.numpy())


class TestFrozenWeightQuant(unittest.TestCase):
    def test_a_frozen_weight_is_quantized_once_and_again_when_it_changes(self):
        torch.manual_seed(0)
        for method in ("ddtb", "pams"):
            wq = WeightQuant(method, 6)
            w = torch.nn.Parameter(torch.randn(8, 8, 3, 3) * 0.1)
            trained = wq(w)   # requires grad: quantized every call, never cached
            self.assertTrue(trained.requires_grad)
            self.assertEqual(wq._frozen, {})
            w.requires_grad_(False)
            first = wq(w)
            self.assertTrue(torch.equal(first, trained.detach()))
            self.assertIs(wq(w), first)   # reused
            other = torch.randn(8, 8, 3, 3) * 0.1   # another frozen tensor through the same module (wq_medium)
            self.assertTrue(torch.equal(wq(other), fake_quant(other, method, 6, *weight_range(other, method))))
            self.assertIs(wq(w), first)
            with torch.no_grad():
                w.mul_(2)   # in place: the version counter moves
            again = wq(w)
            self.assertIsNot(again, first)
            self.assertTrue(torch.equal(again, fake_quant(w, method, 6, *weight_range(w, method))))


class TestInstall(unittest.TestCase):
    def test_quantize_srresnet(self):
        torch.manual_seed(0)
        m = SRResNet(channels=8, blocks=5).eval()
        calib = [torch.rand(3, 3, 12, 12) * 255 * torch.tensor([1.0, 0.2, 0.6])[:, None, None, None]]
        quantize_srresnet(m, "ddtb", 4, 4, calib=calib)
        self.assertEqual(len(m.quant_config["gated"]), 1)  # round(10% of 10)
        var = m.range_variation
        self.assertEqual(m.quant_config["gated"], [int(np.argmax(var))])
        names = set(n for n, _ in m.named_parameters())
        self.assertIn("body.0.q1.alpha_l", names)
        self.assertIn("body.4.q2.alpha_u", names)
        k = m.quant_config["gated"][0]
        pre = f"body.{k // 2}.q{k % 2 + 1}.gate."
        for n in ("q_in.alpha_l", "q_mid.alpha_u", "conv1.weight", "bn.weight", "conv2.weight", "conv2.bias"):
            self.assertIn(pre + n, names)
        for q in quantizer_modules(m):
            self.assertLess(q.alpha_l.item(), q.alpha_u.item())
        self.assertEqual(m(calib[0][:1]).shape, (1, 3, 48, 48))
        p = SRResNet(channels=8, blocks=2).eval()
        quantize_srresnet(p, "pams", 8, 6, calib=calib)
        self.assertEqual(p.quant_config["gated"], [])
        for q in quantizer_modules(p):
            self.assertGreater(q.alpha.item(), 0)
        self.assertEqual(set(n for n, _ in p.named_parameters()) - set(n for n, _ in SRResNet(8, 2).named_parameters()),
                         {f"body.{i}.q{k}.alpha" for i in range(2) for k in (1, 2)})


if __name__ == "__main__":
    unittest.main()
