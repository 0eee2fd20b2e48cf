import csv
import os
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

import os as _os
import sys as _sys
_sys.path.insert(0, _os.path.dirname(_os.path.abspath(__file__)))
from _util import TRAIN, DATA, HAVE_DATA
from refqsr_train.models import SRResNet
from refqsr_train.quant import quantize_srresnet
from refqsr_train.clustblock import ClustBlock
from refqsr_train.imresize import imresize_uint8, imresize_float, contributions
from refqsr_train import safetensors_io
import train_qat


def batch(seed, n=4, p=12):
    g = torch.Generator().manual_seed(seed)
    hr = F.avg_pool2d(torch.rand(n, 3, 4 * p, 4 * p, generator=g) * 255, 5, 1, 2)
    lr = F.avg_pool2d(hr, 4)
    return lr, hr


class TestShapes(unittest.TestCase):
    def test_srresnet(self):
        m = SRResNet(8, 2)
        y, f = m(torch.rand(2, 3, 10, 7) * 255, return_feat=True)
        self.assertEqual(tuple(y.shape), (2, 3, 40, 28))
        self.assertEqual(tuple(f.shape), (2, 8, 10, 7))
        self.assertEqual(len(SRResNet().body), 16)

    def test_clustblock(self):
        m = ClustBlock(classes=10)
        self.assertEqual(tuple(m(torch.rand(3, 3, 48, 48) * 255).shape), (3, 10))
        self.assertEqual(tuple(m(torch.rand(1, 3, 96, 72) * 255).shape), (1, 10))
        x = torch.rand(2, 3, 48, 48) * 255
        m.calibrate([x])
        self.assertEqual(m.q1.range.tolist(), [x.min().item(), x.max().item()])
        self.assertEqual(m.q2.range[0].item(), 0.0)  # after ReLU
        m.set_quantized(True)
        with torch.no_grad():
            yq, y = m(x), None
            m.set_quantized(False)
            y = m(x)
        self.assertLess((yq - y).abs().max().item(), 0.05 * y.abs().max().item() + 1e-3)
        names = set(m.state_dict())
        self.assertTrue({"q1.range", "q4.range", "conv1.bias", "fc.weight"} <= names)
        from refqsr_train.exporting import clustblock_tensors, clustblock_config
        t = clustblock_tensors(m)
        self.assertEqual(set(t), {f"conv{i}.{s}" for i in (1, 2, 3) for s in ("weight", "bias", "w_range")}
                         | {"fc.weight", "fc.bias", "fc.w_range"} | {f"q{i}.range" for i in (1, 2, 3, 4)})
        self.assertEqual(t["conv1.weight"].shape, (64, 3, 3, 3))
        self.assertEqual(t["conv3.weight"].shape, (32, 64, 3, 3))
        self.assertEqual(clustblock_config(m)["classes"], 10)


class TestSteps(unittest.TestCase):
    def _fit(self, model, steps, lr=1e-3, teacher=None):
        torch.manual_seed(0)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=lr)
        x, y = batch(0)
        losses = []
        for _ in range(steps):
            out, f = model(x, return_feat=True)
            loss = F.l1_loss(out, y)
            if teacher is not None:
                with torch.no_grad():
                    _, ft = teacher(x, return_feat=True)
                loss = loss + 1000 * train_qat.at_loss(f, ft)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    def test_fp32_steps_reduce_loss(self):
        torch.manual_seed(0)
        losses = self._fit(SRResNet(8, 1), 25)
        self.assertLess(losses[-1], 0.7 * losses[0])

    def test_qat_steps_reduce_loss(self):
        torch.manual_seed(0)
        teacher = SRResNet(8, 2)
        self._fit(teacher, 15)
        teacher.eval()
        for meth in ("ddtb", "pams"):
            s = SRResNet(8, 2)
            s.load_state_dict(teacher.state_dict())
            quantize_srresnet(s, meth, 4, 4, calib=[batch(1)[0]], n_gated=1)
            losses = self._fit(s, 15, lr=1e-3, teacher=teacher)
            self.assertLess(losses[-1], losses[0], meth)

    def test_attention_transfer(self):
        f = torch.randn(2, 4, 3, 5)
        a = train_qat.attention(f)
        self.assertEqual(tuple(a.shape), (2, 15))
        np.testing.assert_allclose(a.norm(dim=1).numpy(), [1, 1], rtol=1e-6)
        ref = (f ** 2).mean(1).flatten(1)
        np.testing.assert_allclose(a.numpy(), (ref / ref.norm(dim=1, keepdim=True)).numpy(), rtol=1e-6)
        self.assertEqual(train_qat.at_loss(f, f).item(), 0.0)
        self.assertAlmostEqual(train_qat.at_loss(f, 3 * f).item(), 0.0, places=12)  # scale invariant

    def test_lr_schedule(self):
        self.assertEqual(train_qat.lr_at(0, 1e-4, 10, 5), 1e-4)
        self.assertEqual(train_qat.lr_at(10, 1e-4, 10, 5), 5e-5)
        self.assertEqual(train_qat.lr_at(15, 1e-4, 10, 5), 2.5e-5)

    def test_warmup_factor(self):
        self.assertEqual(train_qat.warmup_factor(100, None, 20), 1.0)     # Adam state loaded: no warm-up
        self.assertEqual(train_qat.warmup_factor(100, 100, 0), 1.0)       # --warmup 0
        self.assertEqual(train_qat.warmup_factor(100, 100, 20), 1 / 20)   # first step after a fresh start
        self.assertEqual(train_qat.warmup_factor(109, 100, 20), 10 / 20)
        self.assertEqual(train_qat.warmup_factor(119, 100, 20), 1.0)
        self.assertEqual(train_qat.warmup_factor(500, 100, 20), 1.0)

    def test_running_means(self):
        from refqsr_train.common import RunningMeans
        r = RunningMeans("loss", "l1_ref")
        r.add(loss=1.0, l1_ref=4.0)
        r.add(loss=2.0)   # a step that computes no reference term
        m = r.means()
        self.assertEqual(m["loss"], 1.5)
        self.assertEqual(m["l1_ref"], 4.0)
        m = r.means()     # a log line starts the sums over
        self.assertTrue(np.isnan(m["loss"]) and np.isnan(m["l1_ref"]))
        r.add(loss=3.0)
        self.assertEqual(r.means()["loss"], 3.0)
        self.assertTrue(np.isnan(RunningMeans("x").means()["x"]))


class TestImresize(unittest.TestCase):
    def test_shapes_and_constant(self):
        img = np.full((17, 22, 3), 77, np.uint8)
        out = imresize_uint8(img, 0.25)
        self.assertEqual(out.shape, (5, 6, 3))
        self.assertTrue((out == 77).all())

    def test_linear_ramp_interior(self):
        # cubic convolution reproduces linear functions; x1/4 samples the ramp at 4i + 1.5
        ramp = np.tile(np.arange(64, dtype=np.float64)[None, :, None] * 3.0, (8, 1, 1))
        out = imresize_float(ramp, 0.25)
        self.assertEqual(out.shape, (2, 16, 1))
        np.testing.assert_allclose(out[0, 3:-3, 0], 3.0 * (4 * np.arange(3, 13) + 1.5), atol=1e-9)

    def test_kernel_weights(self):
        idx, w = contributions(16, 4, 0.25)
        self.assertEqual(w.shape[1], 18)  # ceil(4/0.25) + 2 taps, MATLAB's layout
        np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-12)
        np.testing.assert_allclose(w[1], w[2], atol=1e-12)  # shift invariant away from borders
        idx2, w2 = contributions(10, 40, 4.0)  # upscaling: 6 taps, Keys kernel
        self.assertEqual(w2.shape[1], 6)
        self.assertTrue((idx2 >= 0).all() and (idx2 < 10).all())

    def test_matlab_half_rounding(self):
        # uint8 conversion rounds half away from zero (MATLAB), e.g. a 2x2 -> 1x1 box of 0/1
        img = np.array([[[0], [1]], [[1], [0]]], np.uint8)
        self.assertEqual(int(imresize_uint8(img, 0.5)[0, 0, 0]), 1)  # mean 0.5 -> 1


def write_scene(path, size, seed):
    """A smooth synthetic RGB image (no third-party data) for the command-line tests."""
    from PIL import Image
    g = torch.Generator().manual_seed(seed)
    x = F.avg_pool2d(torch.rand(1, 3, size + 8, size + 8, generator=g), 9, 1, 0)[0]
    x = (x - x.min()) / (x.max() - x.min()) * 255
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(x.permute(1, 2, 0).round().byte().numpy()).save(path)


class TestFp32CommandLine(unittest.TestCase):
    def test_validation_sets_cached_per_folder(self):
        # the trainers load a validation set once per process; a set of the same name from
        # another data root (a test's synthetic one, a GPU copy) is another set
        from refqsr_train.data import cached_val_set
        with tempfile.TemporaryDirectory() as d:
            write_scene(os.path.join(d, "a", "Set5", "HR", "x.png"), 64, 1)
            write_scene(os.path.join(d, "b", "Set5", "HR", "x.png"), 48, 2)
            a = cached_val_set("Set5", 4, os.path.join(d, "a"))
            b = cached_val_set("Set5", 4, os.path.join(d, "b"))
            self.assertEqual((a[0][0].shape, b[0][0].shape), ((64, 64, 3), (48, 48, 3)))
            self.assertIs(cached_val_set("Set5", 4, os.path.join(d, "a")), a)

    def test_train_validate_resume(self):
        # the FP32 stage is the one a GPU session runs first; its loop, validation, best.pt
        # and resume (Adam state from latest_opt.pt) on synthetic images
        import train_fp32
        with tempfile.TemporaryDirectory() as d:
            train, val, out = (os.path.join(d, n) for n in ("train", "val", "run"))
            for i in range(2):
                write_scene(os.path.join(train, f"t{i}.png"), 200, i)
            write_scene(os.path.join(val, "Set5", "HR", "a.png"), 64, 10)
            write_scene(os.path.join(val, "Set14", "HR", "b.png"), 48, 11)
            com = ["--out", out, "--batch", "2", "--patch", "12", "--early-patch", "8", "--early-steps", "1",
                   "--threads", "1", "--data", train, "--val-data", val, "--val-every", "2"]
            train_fp32.main(com + ["--max-steps", "2"])
            train_fp32.main(com + ["--resume", "--max-steps", "4"])
            st = torch.load(os.path.join(out, "latest.pt"))
            self.assertEqual(st["step"], 4)
            opt = torch.load(os.path.join(out, "latest_opt.pt"))
            steps = {float(v["step"]) for v in opt["state"].values()}
            self.assertEqual(steps, {4.0})   # Adam's moments carried over the resume, not restarted
            best = torch.load(os.path.join(out, "best.pt"))
            self.assertIn(best["step"], (2, 4))
            self.assertAlmostEqual(best["psnr"]["Set5"], st["best"], places=6)
            with open(os.path.join(out, "log.csv")) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual([r["step"] for r in rows], ["2", "4"])
            for r in rows:
                self.assertTrue(np.isfinite([float(r[k]) for k in ("loss", "psnr_set5", "psnr_set14")]).all())
                self.assertGreater(float(r["psnr_set5"]), 5.0)

    def test_weight_average_is_written_validated_and_resumed(self):
        # --ema: ema.pt holds the average in latest.pt's layout, the log gets its validation,
        # and a resume continues the same average
        import train_fp32
        with tempfile.TemporaryDirectory() as d:
            train, val, out = (os.path.join(d, n) for n in ("train", "val", "run"))
            write_scene(os.path.join(train, "t.png"), 200, 0)
            write_scene(os.path.join(val, "Set5", "HR", "a.png"), 64, 10)
            write_scene(os.path.join(val, "Set14", "HR", "b.png"), 48, 11)
            com = ["--out", out, "--batch", "2", "--patch", "12", "--early-steps", "0", "--threads", "1",
                   "--data", train, "--val-data", val, "--val-every", "2", "--ema", "0.5"]
            train_fp32.main(com + ["--max-steps", "2"])
            e2 = torch.load(os.path.join(out, "ema.pt"))
            self.assertEqual((e2["step"], e2["ema"]["updates"]), (2, 2))
            train_fp32.main(com + ["--resume", "--max-steps", "3"])
            e3 = torch.load(os.path.join(out, "ema.pt"))
            self.assertEqual(e3["ema"]["updates"], 3)
            # the third update is avg = d * avg + (1 - d) * weights with d = min(0.5, 4/13)
            w3 = torch.load(os.path.join(out, "latest.pt"))["model"]
            d3 = 4 / 13
            k = "body.0.conv1.weight"
            torch.testing.assert_close(e3["model"][k], d3 * e2["model"][k] + (1 - d3) * w3[k])
            self.assertFalse(torch.equal(e3["model"][k], w3[k]))
            self.assertEqual(e3["model"]["body.0.bn1.num_batches_tracked"], w3["body.0.bn1.num_batches_tracked"])
            # the average is a model checkpoint: the exporter takes it
            from refqsr_train.exporting import load_checkpoint_model
            model, kind, _ = load_checkpoint_model(os.path.join(out, "ema.pt"))
            self.assertEqual(kind, "fp32")
            with open(os.path.join(out, "log.csv")) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual([r["step"] for r in rows], ["2"])
            self.assertGreater(float(rows[0]["ema_set5"]), 5.0)
            # an ema.pt from another step than latest.pt is not continued
            st = torch.load(os.path.join(out, "latest.pt"))
            st["step"] = 7
            torch.save(st, os.path.join(out, "latest.pt"))
            train_fp32.main(com + ["--resume", "--max-steps", "8"])
            self.assertEqual(torch.load(os.path.join(out, "ema.pt"))["ema"]["updates"], 1)

    def test_weight_average_warms_up_and_leaves_the_model_alone(self):
        from refqsr_train.averaging import WeightAverage
        m = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 1), torch.nn.BatchNorm2d(1))
        with torch.no_grad():
            m[0].weight.fill_(1.0)
        avg = WeightAverage(m, 0.9)
        with torch.no_grad():
            m[0].weight.fill_(3.0)
        m[1].num_batches_tracked.fill_(5)
        avg.update()   # d = 2/11
        self.assertAlmostEqual(avg.model[0].weight.item(), 2 / 11 * 1.0 + 9 / 11 * 3.0, places=6)
        self.assertEqual(m[0].weight.item(), 3.0)
        self.assertEqual(avg.model[1].num_batches_tracked.item(), 5)
        for _ in range(200):
            avg.update()
        self.assertEqual(avg.current_decay(), 0.9)
        self.assertFalse(avg.model[0].weight.requires_grad)
        with self.assertRaises(ValueError):
            WeightAverage(m, 1.0)

    def test_fp32_model_is_the_better_validated_of_weights_and_average(self):
        from refqsr_train.common import fp32_model_path
        with tempfile.TemporaryDirectory() as d:
            latest, ema = os.path.join(d, "latest.pt"), os.path.join(d, "ema.pt")
            torch.save({"step": 10}, latest)
            self.assertEqual(fp32_model_path(d), latest)          # no average
            torch.save({"step": 10}, ema)
            self.assertEqual(fp32_model_path(d), latest)          # no validation of it
            def log(*rows):
                with open(os.path.join(d, "log.csv"), "w") as f:
                    f.write("step,psnr_set5,psnr_set14,ema_set5,ema_set14\n" + "".join(r + "\n" for r in rows))
            log("5,30.0,27.0,,", "10,30.0,27.0,30.1,26.95")
            self.assertEqual(fp32_model_path(d), ema)             # 57.05 > 57.0
            log("5,30.0,27.0,31.0,28.0", "10,30.0,27.0,29.9,27.05", "12,30.5,27.5,,")
            self.assertEqual(fp32_model_path(d), latest)          # the last row that scored both
            log("10,30.0,27.0,30.1,27.1")
            torch.save({"step": 9}, ema)
            self.assertEqual(fp32_model_path(d), latest)          # an average of another step

    def test_cpu_batches_are_nchw_in_memory(self):
        # a channels-last input halves the speed of every CPU convolution after it
        from refqsr_train.common import to_tensor
        b = np.arange(2 * 5 * 4 * 3, dtype=np.uint8).reshape(2, 5, 4, 3)
        t = to_tensor(b, torch.device("cpu"))
        self.assertEqual(t.shape, (2, 3, 5, 4))
        self.assertTrue(t.is_contiguous())
        self.assertEqual(t[1, 2, 3, 1].item(), float(b[1, 3, 1, 2]))

    def test_curve_draws_a_group_of_columns_in_one_panel(self):
        from refqsr_train.plot import plot_log
        from PIL import Image
        with tempfile.TemporaryDirectory() as d:
            p, png = os.path.join(d, "log.csv"), os.path.join(d, "c.png")
            with open(p, "w") as f:
                f.write("step,loss,psnr,ema\n1,5,20,\n2,4,21,\n3,3,22,22.5\n")
            plot_log(p, png, ("loss", ("psnr", "ema"), "missing"))
            img = Image.open(png).convert("RGB")
            self.assertEqual(img.size, (900, 2 * 260))          # two panels: the empty column has none
            # the single averaged point is drawn (a dot in the second series' colour)
            px = [img.getpixel((x, y)) for x in range(850, 900) for y in range(260, 520)]
            self.assertIn((30, 150, 60), px)

    def test_csv_log_gains_columns_on_resume(self):
        from refqsr_train.common import CsvLog
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "log.csv")
            CsvLog(p, ["step", "loss"]).write(step=1, loss=2.5)
            log = CsvLog(p, ["step", "loss", "ema"])
            log.write(step=2, loss=1.5, ema=9)
            with open(p) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual(rows, [{"step": "1", "loss": "2.5", "ema": ""}, {"step": "2", "loss": "1.5", "ema": "9"}])
            CsvLog(p, ["step", "loss"]).write(step=3, loss=1.0)   # an older trainer keeps the column
            with open(p) as f:
                self.assertEqual(list(csv.DictReader(f))[-1], {"step": "3", "loss": "1.0", "ema": ""})


@unittest.skipUnless(HAVE_DATA, "needs ../shared/data")
class TestCommandLines(unittest.TestCase):
    def test_qat_and_export_cli(self):
        import export
        with tempfile.TemporaryDirectory() as d:
            init = os.path.join(d, "fp32.pt")
            torch.manual_seed(0)
            torch.save({"model": SRResNet(8, 2).state_dict(), "step": 1}, init)
            out = os.path.join(d, "qat")
            common = ["--out", out, "--batch", "2", "--patch", "16", "--calib-batches", "1", "--no-val",
                      "--threads", "1", "--channels", "8", "--blocks", "2",
                      "--data", os.path.join(DATA, "Set5", "HR")]
            train_qat.main(["--init", init, "--method", "ddtb", "--w-bits", "4", "--a-bits", "3", "--max-steps", "2"] + common)
            train_qat.main(["--resume", "--max-steps", "3"] + common)
            st = torch.load(os.path.join(out, "latest.pt"))
            self.assertEqual(st["step"], 3)
            self.assertEqual(st["quant"]["a_bits"], 3)
            p = os.path.join(d, "q.safetensors")
            export.main([os.path.join(out, "latest.pt"), p])
            t, cfg, _ = safetensors_io.load(p)
            self.assertEqual((cfg["quantizer"], cfg["w_bits"], cfg["a_bits"]), ("ddtb", 4, 3))
            self.assertEqual(cfg["train"]["steps"], 3)
            self.assertEqual(len(cfg["ddtb_gated"]), 1)
            self.assertIn("body.1.conv2.w_range", t)
            with open(os.path.join(out, "log.csv")) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual([r["step"] for r in rows], ["2", "3"])   # --no-val logs at --max-steps
            for r in rows:
                self.assertTrue(np.isfinite([float(r[k]) for k in ("loss", "l1", "at")]).all())
                self.assertAlmostEqual(float(r["loss"]), float(r["l1"]) + 1000 * float(r["at"]), places=4)

    def test_clustblock_cli(self):
        import train_clustblock
        import export
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "cb")
            args = ["--out", out, "--limit-per-class", "2", "--fp32-steps", "3", "--qat-steps", "2",
                    "--batch", "4", "--patches", "48", "--calib-batches", "1", "--val-every", "100",
                    "--data", os.path.join(DATA, "DTD_subset")]
            train_clustblock.main(args + ["--max-steps", "4"])
            train_clustblock.main(args + ["--resume"])
            st = torch.load(os.path.join(out, "latest.pt"))
            self.assertEqual(st["step"], 5)
            self.assertTrue(st["clustblock"]["calibrated"])
            p = os.path.join(d, "cb.safetensors")
            export.main([os.path.join(out, "latest.pt"), p])
            t, cfg, _ = safetensors_io.load(p)
            self.assertEqual((cfg["network"], cfg["classes"]), ("clustblock", 10))
            self.assertEqual(t["q1.range"].shape, (2,))


if __name__ == "__main__":
    unittest.main()
