import json
import os
import struct
import tempfile
import unittest

import numpy as np
import torch

import os as _os
import sys as _sys
_sys.path.insert(0, _os.path.dirname(_os.path.abspath(__file__)))
from _util import TRAIN  # noqa: F401
from refqsr_train import safetensors_io
from refqsr_train.models import SRResNet
from refqsr_train.quant import quantize_srresnet, quantizer_modules, qparams, weight_range
from refqsr_train.exporting import export_model, srresnet_from_state, load_checkpoint_model, check_engine_values, srresnet_tensors
from refqsr_train.intsim import IntSim
from make_fixtures import tiny_model, synthetic_lr, make


def fake_quant_codes(model, x):
    """Codes a = code - qlo of every activation quantizer in the fake-quant forward."""
    qs = quantizer_modules(model)
    out = {}

    def hook(k):
        def f(mod, inp, _):
            xi = inp[0]
            lo, hi = mod.bounds(xi)
            s, zp, qlo, qhi = qparams(mod.method, mod.bits, lo, hi)
            c = torch.clamp(torch.round(torch.minimum(torch.maximum(xi, lo), hi) * s - zp), qlo, qhi)
            out[k] = (c - qlo).to(torch.uint8).numpy()
        return f
    hs = [q.register_forward_hook(hook(k)) for k, q in enumerate(qs)]
    with torch.no_grad():
        y = model(x)
    for h in hs:
        h.remove()
    return y, out


class TestExport(unittest.TestCase):
    def test_safetensors_roundtrip_and_config(self):
        m = tiny_model("ddtb", 4, 4, seed=3)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.safetensors")
            t, cfg = export_model(m, p, {"steps": 7})
            t2, cfg2, meta = safetensors_io.load(p)
            self.assertEqual(meta["format"], "refqsr")
            self.assertEqual(meta["format_version"], "1")
            self.assertEqual(cfg2, json.loads(json.dumps(cfg)))
            self.assertEqual(set(t), set(t2))
            for k in t:
                self.assertEqual(t2[k].dtype, np.float32)
                np.testing.assert_array_equal(t[k], t2[k])
            # header rules of weights-format.md
            with open(p, "rb") as f:
                raw = f.read()
            (n,) = struct.unpack("<Q", raw[:8])
            hdr = json.loads(raw[8:8 + n])
            spans = sorted(v["data_offsets"] for k, v in hdr.items() if k != "__metadata__")
            self.assertEqual(spans[0][0], 0)
            for a, b in zip(spans, spans[1:]):
                self.assertEqual(a[1], b[0])
            self.assertEqual(8 + n + spans[-1][1], len(raw))
            for k, v in hdr.items():
                if k != "__metadata__":
                    self.assertEqual(set(v), {"dtype", "shape", "data_offsets"})
        self.assertEqual(cfg["quantizer"], "ddtb")
        self.assertEqual((cfg["w_bits"], cfg["a_bits"], cfg["channels"], cfg["blocks"]), (4, 4, 16, 4))
        self.assertEqual(cfg["ddtb_gated"], m.quant_config["gated"])
        self.assertIsNone(cfg["refqsr"])
        self.assertEqual(cfg["train"], {"steps": 7})
        self.assertFalse(any(k.endswith("num_batches_tracked") for k in t))
        # expected tensor set: FP32 names + w_range + bounds + gate
        fp = set(k for k in SRResNet(16, 4).state_dict() if not k.endswith("num_batches_tracked"))
        extra = set(t) - fp
        want = {f"body.{i}.conv{k}.w_range" for i in range(4) for k in (1, 2)}
        want |= {f"body.{i}.q{k}.alpha_{s}" for i in range(4) for k in (1, 2) for s in "lu"}
        g = m.quant_config["gated"][0]
        pre = f"body.{g // 2}.q{g % 2 + 1}.gate."
        want |= {pre + n for n in ("q_in.alpha_l", "q_in.alpha_u", "q_mid.alpha_l", "q_mid.alpha_u", "conv1.weight",
                                   "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "conv2.weight",
                                   "conv2.bias")}
        self.assertEqual(extra, want)
        self.assertEqual(t[pre + "conv1.weight"].shape, (32, 16, 1, 1))
        self.assertEqual(t[pre + "conv2.weight"].shape, (2, 32, 1, 1))
        # w_range is exactly what the training forward computes
        lo, hi = weight_range(m.body[1].conv2.weight, "ddtb")
        np.testing.assert_array_equal(t["body.1.conv2.w_range"], np.array([lo.item(), hi.item()], np.float32))
        # reload -> identical forward
        sd = {k: torch.from_numpy(v) for k, v in t.items() if not k.endswith("w_range")}
        for k, v in m.state_dict().items():
            if k.endswith("num_batches_tracked"):
                sd[k] = v
        m2 = srresnet_from_state(sd, m.quant_config).eval()
        x = torch.from_numpy(synthetic_lr()).permute(2, 0, 1)[None].float()
        with torch.no_grad():
            np.testing.assert_array_equal(m(x).numpy(), m2(x).numpy())

    def test_export_refuses_values_the_engine_refuses(self):
        cases = [("body.1.bn2.running_var", lambda v: v.fill_(-1.0), "variance is negative"),
                 ("body.0.q1.alpha_l", lambda v: v.fill_(1e4), "quantizer range"),
                 ("head.weight", lambda v: v.view(-1)[5].fill_(float("nan")), "non-finite")]
        for name, edit, message in cases:
            m = tiny_model("ddtb", 4, 4, seed=3)
            with torch.no_grad():
                edit(dict(m.named_parameters(), **dict(m.named_buffers()))[name])
            with tempfile.TemporaryDirectory() as d:
                p = os.path.join(d, "m.safetensors")
                with self.assertRaisesRegex(ValueError, message):
                    export_model(m, p)
                self.assertFalse(os.path.exists(p))
        m = tiny_model("pams", 8, 8, seed=3)
        with torch.no_grad():
            m.body[0].q2.alpha.fill_(0.0)
        with self.assertRaisesRegex(ValueError, "body.0.q2.alpha"):
            check_engine_values(srresnet_tensors(m))

    def test_fp32_export_from_checkpoint_and_onnx(self):
        torch.manual_seed(0)
        m = SRResNet(8, 2)
        with tempfile.TemporaryDirectory() as d:
            ck = os.path.join(d, "latest.pt")
            torch.save({"model": m.state_dict(), "step": 5, "wall": 36.0, "args": {}}, ck)
            model, kind, st = load_checkpoint_model(ck)
            self.assertEqual(kind, "fp32")
            import export
            p = os.path.join(d, "fp32.safetensors")
            export.main([ck, p, "--onnx", os.path.join(d, "m.onnx")])
            t, cfg, _ = safetensors_io.load(p)
            self.assertEqual((cfg["quantizer"], cfg["w_bits"], cfg["a_bits"]), ("none", 32, 32))
            self.assertEqual(cfg["train"]["steps"], 5)
            self.assertAlmostEqual(cfg["train"]["wall_hours"], 0.01)
            self.assertNotIn("ddtb_gated", cfg)
            self.assertEqual(set(t), set(k for k in m.state_dict() if not k.endswith("num_batches_tracked")))
            with open(os.path.join(d, "m.onnx"), "rb") as f:
                onnx = f.read()
            self.assertGreater(len(onnx), 10000)
            for s in (b"lr", b"hr", b"h4", b"w4"):  # dynamic H/W dimension names
                self.assertIn(s, onnx)


class TestIntSim(unittest.TestCase):
    def _agree(self, m, x, max_mismatch=2e-3):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.safetensors")
            export_model(m, p)
            sim = IntSim.load(p)
        y_fq, codes_fq = fake_quant_codes(m, x)
        y_int, rec = sim.forward(x, record=list(codes_fq))
        n_bad = n_all = 0
        for k, c in codes_fq.items():
            diff = np.abs(c.astype(int) - rec["codes"][k].astype(int))
            self.assertLessEqual(diff.max(), 1, f"quantizer {k}")
            n_bad += int((diff != 0).sum())
            n_all += diff.size
        self.assertLessEqual(n_bad / n_all, max_mismatch)
        err = (y_fq - y_int).abs()
        scale = y_fq.abs().max().item()
        self.assertLess(err.mean().item(), 1e-3 * scale)
        return n_bad / n_all, err.max().item()

    def test_tiny_models_agree(self):
        x = torch.from_numpy(np.stack([synthetic_lr(), synthetic_lr(seed=5)])).permute(0, 3, 1, 2).float()
        for i, (meth, wb, ab) in enumerate([("ddtb", 4, 4), ("ddtb", 8, 8), ("pams", 8, 8), ("pams", 3, 2),
                                            ("ddtb", 2, 3)]):
            with self.subTest(method=meth, w=wb, a=ab):
                r = self._agree(tiny_model(meth, wb, ab, seed=10 + i), x)
                if os.environ.get("VERBOSE"):
                    print(meth, wb, ab, "code mismatch fraction %.2e, HR max abs diff %.3g" % r)

    def test_full_size_ddtb_agrees(self):
        torch.manual_seed(1)
        m = SRResNet().eval()
        with torch.no_grad():
            for blk in m.body:
                blk.bn2.weight.mul_(0.2)
        calib = [torch.from_numpy(np.stack([synthetic_lr(24, 24, seed=s) for s in range(4)])).permute(0, 3, 1, 2).float()]
        quantize_srresnet(m, "ddtb", 4, 4, calib=calib)
        self.assertEqual(len(m.quant_config["gated"]), 3)
        x = torch.from_numpy(synthetic_lr()).permute(2, 0, 1)[None].float()
        r = self._agree(m, x)
        if os.environ.get("VERBOSE"):
            print("full-size ddtb w4a4: code mismatch fraction %.2e, HR max abs diff %.3g" % r)

    def test_integer_conv_identity(self):
        # the float64 conv of (a+za)(w+zw) equals acc + zw*sum a + za*sum w + za*zw*|V|
        rng = np.random.default_rng(0)
        a = torch.from_numpy(rng.integers(0, 16, (1, 4, 5, 6))).double()
        w = torch.from_numpy(rng.integers(-8, 8, (3, 4, 3, 3))).double()
        za, zw = -5.0, 3.0
        tot = torch.nn.functional.conv2d(a + za, w + zw, padding=1)
        acc = torch.nn.functional.conv2d(a, w, padding=1)
        suma = torch.nn.functional.conv2d(a, torch.ones(3, 4, 3, 3, dtype=torch.float64), padding=1)
        ones = torch.ones_like(a)
        sumw = torch.nn.functional.conv2d(ones, w, padding=1)
        nv = torch.nn.functional.conv2d(ones, torch.ones(3, 4, 3, 3, dtype=torch.float64), padding=1)
        np.testing.assert_array_equal(tot.numpy(), (acc + zw * suma + za * sumw + za * zw * nv).numpy())

    def test_make_fixtures(self):
        m = tiny_model("ddtb", 4, 4, seed=1)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "tiny.safetensors")
            export_model(m, p)
            folder = make(p, d, "tiny", layers=[0, 3, 6])
            with open(os.path.join(folder, "manifest.json")) as f:
                man = json.load(f)
            total = 0
            for e in man["files"]:
                fn = os.path.join(folder, e["file"])
                a = np.fromfile(fn, dtype={"uint8": "u1", "float32": "<f4"}[e["dtype"]])
                self.assertEqual(a.size, int(np.prod(e["shape"])))
                total += os.path.getsize(fn)
            self.assertLess(total, 1 << 20)
            names = {e["name"] for e in man["files"]}
            self.assertTrue({"input", "hr", "hr_u8", "codes_q0", "codes_q3", "codes_q6", "x_q0"} <= names)
            lr = np.fromfile(os.path.join(folder, "input.u8"), np.uint8).reshape(20, 24, 3)
            np.testing.assert_array_equal(lr, synthetic_lr())


if __name__ == "__main__":
    unittest.main()
