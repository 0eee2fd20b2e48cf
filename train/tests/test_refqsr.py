"""RefQSR (refqsr_train/refqsr.py, intsim RefQSR path, export, train_refqsr.py)."""
import csv
import os
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

import os as _os
import sys as _sys
_sys.path.insert(0, _os.path.dirname(_os.path.abspath(__file__)))
from _util import TRAIN, DATA, HAVE_DATA  # noqa: F401
from refqsr_train import refqsr as R
from refqsr_train import safetensors_io
from refqsr_train.exporting import export_model, load_checkpoint_model
from refqsr_train.intsim import IntSim, ClustSim
from refqsr_train.models import SRResNet
from refqsr_train.quant import quantize_srresnet
from refqsr_train.clustblock import ClustBlock
from make_fixtures import tiny_refqsr, tiny_clustblock, synthetic_lr
import train_qat


def img(h, w, seed, n=1):
    return torch.from_numpy(np.stack([synthetic_lr(h, w, seed=seed + k) for k in range(n)])).permute(0, 3, 1, 2).float()


class TestRefER(unittest.TestCase):
    def test_soft_argmax_matches_hard(self):
        g = torch.Generator().manual_seed(0)
        checked = 0
        for bits in (3, 4, 5, 4, 5, 6):
            qmax = 2 ** (bits - 1) - 1
            # separable: each pooled query vector equals one reference vector (unique maximum)
            n, c, hr, wr = 2, 8, 3, 4
            cr = torch.randint(-qmax, qmax + 1, (n, c, hr, wr), generator=g).float()
            cr[:, 0] = qmax  # no zero vectors
            perm = torch.randperm(hr * wr, generator=g)[:6]
            cq = cr.flatten(2)[:, :, perm].reshape(n, c, 2, 3)
            e = R.cost_volume(cq, cr)
            best = e.max(2, keepdim=True).values
            second = torch.where(e == best, torch.full_like(e, -1e9), e).max(2).values
            if ((best[..., 0] - second) <= 0).any():
                continue
            ps, _ = R.match_positions(cq / qmax, cr / qmax, True, bits)
            ph, idx = R.match_positions(cq / qmax, cr / qmax, False, bits)
            self.assertTrue(torch.allclose(ps, ph, atol=1e-3), bits)
            self.assertTrue((idx == e.argmax(2)).all())
            checked += 1
        self.assertGreater(checked, 0)

    def test_hard_argmax_ties_lowest(self):
        e = torch.tensor([[[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0]]])
        self.assertEqual(R.first_argmax(e).tolist(), [[1, 0]])

    def test_warp_zero_flow_is_identity(self):
        fr = torch.randn(2, 5, 7, 9)
        out = R.warp_reference(fr, torch.zeros(2, 2, 7, 9))
        self.assertTrue(torch.equal(out, fr))

    def test_warp_matches_grid_sample(self):
        g = torch.Generator().manual_seed(1)
        fr = torch.randn(2, 5, 7, 9, generator=g)
        flow = torch.randn(2, 2, 6, 8, generator=g) * 3  # some taps outside: read 0
        ys, xs = torch.meshgrid(torch.arange(6.0), torch.arange(8.0), indexing="ij")
        grid = torch.stack([(xs + flow[:, 0]) * 2 / 8 - 1, (ys + flow[:, 1]) * 2 / 6 - 1], -1)
        ref = F.grid_sample(fr, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        np.testing.assert_allclose(R.warp_reference(fr, flow).numpy(), ref.numpy(), atol=1e-5)
        # integer displacement = shifted copy
        out = R.warp_reference(fr, torch.stack([torch.full((7, 9), 2.0), torch.full((7, 9), -1.0)])[None].expand(2, 2, 7, 9))
        self.assertTrue(torch.equal(out[:, :, 1:, :7], fr[:, :, :-1, 2:]))
        self.assertTrue((out[:, :, 0] == 0).all() and (out[:, :, :, 7:] == 0).all())

    def test_flow_upsampling(self):
        pos = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])  # 1x2 pooled query grid, both match (1, 0)
        fl = R.displacement_flow(pos, 1, 2, 3, 6)
        self.assertEqual(tuple(fl.shape), (1, 2, 3, 6))
        self.assertTrue((fl[0, 1] == 0).all())
        # d = (1, 0) at the two pooled positions; src = (x + 0.5) / 3 - 0.5 clamped at 0
        np.testing.assert_allclose(fl[0, 0, 0].numpy(), [3, 3, 2, 1, 0, 0], atol=1e-6)

    def _one_hot_feature(self, c=16, hp=3, wp=4):
        f = torch.zeros(1, c, 3 * hp, 3 * wp)
        for k in range(hp * wp):
            y, x = divmod(k, wp)
            f[0, k, 3 * y:3 * y + 3, 3 * x:3 * x + 3] = 1.0 + 0.1 * k
        return f

    def test_refer_identity_when_query_is_reference(self):
        for meth in ("ddtb", "pams"):
            torch.manual_seed(0)
            blk = R.ReferBlock(16, meth, 8, 4)
            f = self._one_hot_feature()
            if meth == "ddtb":
                for q in (blk.q1, blk.q2):
                    q.alpha_l.data.fill_(-0.7)
                    q.alpha_u.data.fill_(1.3)
            for train in (False, True):
                blk.train(train)
                with torch.no_grad():
                    out = blk(f, f.clone())
                self.assertTrue(torch.equal(out, f), (meth, train))
                self.assertTrue((blk.last[1] == 0).all())
            blk.eval()
            blk(f, f)
            self.assertEqual(blk.last[0].tolist(), [list(range(12))])

    def test_detach_match(self):
        # --detach-match: the soft-argmax flow carries no gradient; the warp still gives the
        # reference feature one, and the forward is unchanged
        torch.manual_seed(0)
        blk = R.ReferBlock(8, "ddtb", 4, 3).train()
        fq0, fr0 = torch.randn(2, 8, 9, 9), torch.randn(2, 8, 9, 9)
        outs = []
        for detach in (False, True):
            blk.detach_match = detach
            fq, fr = fq0.clone().requires_grad_(), fr0.clone().requires_grad_()
            out = blk(fq, fr)
            self.assertEqual(blk.last[1].requires_grad, not detach)
            out.square().sum().backward()
            self.assertGreater(fr.grad.abs().sum().item(), 0)
            outs.append((out.detach(), fq.grad, fr.grad))
        self.assertTrue(torch.equal(outs[0][0], outs[1][0]))
        self.assertFalse(torch.equal(outs[0][2], outs[1][2]))

    def test_small_patch_passes_through(self):
        blk = R.ReferBlock(4, "pams", 8, 4).eval()
        fq = torch.randn(1, 4, 2, 7)
        self.assertTrue(torch.equal(blk(fq, torch.randn(1, 4, 6, 6)), fq))


class TestClustering(unittest.TestCase):
    def test_hand_made_logits(self):
        v = np.array([[5, 0, 0], [4, 0.5, 0], [0, 6, 0], [0, 5, 0.2], [0, 0, 3], [-1, -1, -1]], np.float32)
        ref = R.cluster(v, 0.5)
        # M = A A'^T picks, per row, the patch with the most peaked logits of the same class
        a = np.exp(v.astype(np.float64)); a /= a.sum(1, keepdims=True)
        b = np.exp(v.astype(np.float64)); b /= b.sum(0, keepdims=True)
        m = a @ b.T
        self.assertEqual(ref[:5].tolist(), [0, 0, 2, 2, 4])
        self.assertEqual(int(np.argmax(m[5])), 4)  # argmax of M is patch 4 ...
        self.assertEqual(int(ref[5]), 5)            # ... but cos(V5, V4) < tau: own reference
        refs, qs = R.roles(ref)
        self.assertEqual((refs, qs), ([0, 2, 4, 5], [1, 3]))
        self.assertEqual(R.cluster(v, 1.01).tolist(), list(range(6)))  # tau above 1: all references

    def test_pairing_counts(self):
        # one 28x18 LR image at 12 px is six patches (3 rows x 2 columns); a stand-in
        # ClustBlock returns the hand-made logits above in tile order
        import pairing_stats
        v = np.array([[5, 0, 0], [4, 0.5, 0], [0, 6, 0], [0, 5, 0.2], [0, 0, 3], [-1, -1, -1]], np.float32)
        rows = iter(v)
        c = pairing_stats.pairing_counts(lambda patch: torch.from_numpy(next(rows))[None], [np.zeros((28, 18, 3), np.uint8)], 12, 0.5)
        self.assertEqual(c, dict(images=1, patches=6, queries=2, self_pick=3, picked_other=3, tau_rejected=1, mutual=0))

    def test_query_path_ablation_high_end(self):
        # "high-end" is the query path with each RefER block standing in for the block it
        # replaced at b_high: build that with forward_query's own machinery and compare
        import query_path_ablation as A
        m = tiny_refqsr("ddtb", 8, 4, seed=5).eval()
        x = torch.from_numpy(synthetic_lr(14, 13, seed=2)).permute(2, 0, 1)[None].float()

        class Replaced(torch.nn.Module):
            def __init__(self, blk):
                super().__init__()
                self.blk = blk

            def forward(self, fq, fr):
                return self.blk(fq)

        paths = A.query_paths(m, x, x)
        self.assertEqual(set(paths), set(A.PATHS))
        self.assertTrue(torch.equal(paths["baseline"], m.forward_ref(x)[0]))
        self.assertTrue(torch.equal(paths["refer"], paths["refer-self"]))   # its own patch as the reference
        self.assertFalse(torch.equal(paths["high-end"], paths["baseline"]))  # the low blocks differ
        keep = m.forward_ref(x)[2]
        m.refer = torch.nn.ModuleDict({str(j): Replaced(m.body[j]) for j in m.refer_blocks})
        with torch.no_grad():
            expected = m.forward_query(x, keep)[0]
        self.assertTrue(torch.equal(A.high_end(m, x), expected))

    def test_ties_lowest_index(self):
        v = np.ones((3, 4), np.float32)
        self.assertEqual(R.cluster(v, 0.5).tolist(), [0, 0, 0])

    def test_tiles(self):
        self.assertEqual(R.tile_starts(28, 12), [(0, 12), (6, 18), (12, 28)])
        self.assertEqual(R.tile_starts(10, 12), [(0, 10)])
        self.assertEqual(R.tile_starts(96, 96), [(0, 96)])
        self.assertEqual(R.tile_starts(200, 96), [(0, 96), (90, 200)])


class TestRefQSRModel(unittest.TestCase):
    def test_export_roundtrip_and_intsim(self):
        for meth, bh, bl in (("ddtb", 8, 4), ("pams", 4, 2)):
            with self.subTest(method=meth):
                m = tiny_refqsr(meth, bh, bl, seed=3)
                with tempfile.TemporaryDirectory() as d:
                    p = os.path.join(d, "m.safetensors")
                    t, cfg = export_model(m, p, {"steps": 1})
                    t2, cfg2, _ = safetensors_io.load(p)
                    ck = os.path.join(d, "latest.pt")
                    torch.save({"model": m.state_dict(), "quant": m.quant_config, "refqsr": m.refqsr, "step": 1}, ck)
                    m2, kind, _ = load_checkpoint_model(ck)
                self.assertEqual(kind, meth)
                self.assertEqual(cfg2["refqsr"], {"b_high": bh, "b_low": bl, "b_medium": {8: 6, 4: 3}[bh],
                                                  "tau": 0.5, "refer_blocks": [2, 3]})
                self.assertEqual((cfg2["w_bits"], cfg2["a_bits"], cfg2["quantizer"]), (bh, bh, meth))
                base = set(SRResNet(16, 4).state_dict())
                base = {k for k in base if not k.endswith("num_batches_tracked")}
                bnames = ("alpha_l", "alpha_u") if meth == "ddtb" else ("alpha",)
                want = {f"body.{i}.conv{k}.w_range" for i in range(4) for k in (1, 2)}
                want |= {f"body.{i}.q{k}.{b}" for i in range(4) for k in (1, 2) for b in bnames}
                want |= {f"body.1.qlow{k}.{b}" for k in (1, 2) for b in bnames}
                for j in (2, 3):
                    want |= {f"refer.{j}.conv{k}.{s}" for k in (1, 2) for s in ("weight", "w_range")}
                    want |= {f"refer.{j}.q{k}.{b}" for k in (1, 2) for b in bnames}
                    want.add(f"refer.{j}.act.weight")
                extra = {k for k in set(t2) - base if ".gate." not in k}
                self.assertEqual(extra, want)
                self.assertEqual(t2["refer.2.conv1.weight"].shape, (16, 16, 3, 3))
                self.assertEqual(t2["body.1.qlow2." + bnames[0]].shape, (1,))
                xr, xq = img(14, 13, 50), img(12, 12, 60)
                with torch.no_grad():
                    a = m.forward_pair(xr, xq)
                    b = m2.eval().forward_pair(xr, xq)
                for u, v in zip(a, b):
                    self.assertTrue(torch.equal(u, v))
                # integer simulation == fake-quant eval forward (hard argmax)
                sim = IntSim(t2, cfg2)
                hr_r, keep = sim.references(xr)
                rec = {}
                hr_q = sim.query(xq, keep, rec)
                self.assertLess((hr_r - a[0]).abs().max().item(), 1e-3)
                self.assertLess((hr_q - a[2]).abs().max().item(), 1e-3)
                for j in (2, 3):
                    np.testing.assert_array_equal(rec[f"refer.{j}.argmax"], m.refer[str(j)].last[0].numpy())

    def test_clustsim_matches_fake_quant(self):
        cb = tiny_clustblock(seed=2)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "cb.safetensors")
            export_model(cb, p)
            cs = ClustSim.load(p)
        x = img(13, 17, 70, n=3)
        with torch.no_grad():
            y = cb(x)
        np.testing.assert_allclose(cs.forward(x).numpy(), y.numpy(), rtol=1e-4, atol=1e-4)

    def test_training_steps_reduce_loss(self):
        torch.manual_seed(0)
        teacher = SRResNet(8, 4).eval()
        s = SRResNet(8, 4)
        s.load_state_dict(teacher.state_dict())
        x = img(12, 12, 80, n=4)
        quantize_srresnet(s, "ddtb", 8, 8, calib=[x], n_gated=1)
        m = R.refqsr_from_qat(s.state_dict(), s.quant_config, 4, 0.5, [2, 3])
        R.init_refer_convs(m)
        xr, xq = img(12, 12, 90, n=4), img(12, 12, 94, n=4)
        yr, yq = F.interpolate(xr, scale_factor=4, mode="bicubic"), F.interpolate(xq, scale_factor=4, mode="bicubic")
        R.calibrate_query(m, [(xr, xq)])
        opt = train_qat.build_optimizer(m, 1e-3, 1e-2)
        m.freeze_bn()
        losses = []
        for _ in range(12):
            with torch.no_grad():
                _, tr = teacher(xr, return_feat=True)
                _, tq = teacher(xq, return_feat=True)
            sr_r, f_r, sr_q, f_q = m.forward_pair(xr, xq)
            loss = F.l1_loss(sr_r, yr) + F.l1_loss(sr_q, yq) + 1000 * (train_qat.at_loss(f_r, tr) + train_qat.at_loss(f_q, tq))
            opt.zero_grad()
            loss.backward()
            opt.step()
            R.clamp_all_bounds(m)
            losses.append(loss.item())
        self.assertLess(losses[-1], 0.8 * losses[0])
        self.assertIsNotNone(m.refer["2"].conv1.weight.grad)
        self.assertNotEqual(m.body[1].qlow1.alpha_u.grad.item(), 0.0)

    def test_query_only_training_keeps_the_reference_path(self):
        torch.manual_seed(0)
        s = SRResNet(8, 4)
        x = img(12, 12, 80, n=2)
        quantize_srresnet(s, "ddtb", 8, 8, calib=[x], n_gated=1)
        m = R.refqsr_from_qat(s.state_dict(), s.quant_config, 4, 0.5, [2, 3])
        R.init_refer_convs(m)
        xr, xq = img(12, 12, 90, n=2), img(12, 12, 94, n=2)
        R.calibrate_query(m, [(xr, xq)])
        trainable = R.freeze_shared(m)
        self.assertIn("body.1.qlow1.alpha_u", trainable)
        self.assertIn("refer.2.conv1.weight", trainable)
        self.assertNotIn("body.1.conv1.weight", trainable)
        self.assertNotIn("body.1.q1.alpha_u", trainable)
        before = {n: p.detach().clone() for n, p in m.named_parameters()}
        m.freeze_bn()   # as train_refqsr: BN on its running statistics
        with torch.no_grad():
            ref_before = m.forward_pair(xr, xq)[0]
        opt = train_qat.build_optimizer(m, 1e-3, 1e-2)
        yq = F.interpolate(xq, scale_factor=4, mode="bicubic")
        for _ in range(3):
            _, _, sr_q, _ = m.forward_pair(xr, xq)
            loss = F.l1_loss(sr_q, yq)
            opt.zero_grad()
            loss.backward()
            opt.step()
            R.clamp_all_bounds(m)
        for n, p in m.named_parameters():
            if n in trainable:
                continue
            self.assertTrue(torch.equal(before[n], p.detach()), f"{n} changed")
        self.assertFalse(torch.equal(before["refer.2.conv1.weight"], m.refer["2"].conv1.weight.detach()))
        with torch.no_grad():
            self.assertTrue(torch.equal(ref_before, m.forward_pair(xr, xq)[0]))

    def test_query_only_step_gives_the_full_loss_gradients(self):
        # train_refqsr.step_loss with --train query skips the reference terms, the reference
        # path after the RefER inputs and the teacher's tail: the trainable parameters must
        # get the same gradients as from the full loss
        import train_refqsr
        m, teacher, xr, yr, xq, yq = tiny_refqsr_and_pair()
        trainable = R.freeze_shared(m)
        m.freeze_bn()
        with torch.no_grad():
            keep = m.forward_ref(xr)[2]
            fast = m.reference_inputs(xr)
        self.assertEqual(sorted(keep), sorted(fast))
        for j in keep:
            self.assertTrue(torch.equal(keep[j], fast[j]), f"input of block {j}")
        grads = []
        for query_only in (False, True):
            m.zero_grad(set_to_none=True)
            loss, parts = train_refqsr.step_loss(m, teacher, xr, yr, xq, yq, 1000.0, query_only)
            self.assertEqual(query_only, "l1_ref" not in parts)
            loss.backward()
            grads.append({n: p.grad.clone() for n, p in m.named_parameters() if n in trainable and p.grad is not None})
        self.assertIn("refer.2.conv1.weight", grads[1])
        self.assertIn("body.1.qlow1.alpha_u", grads[1])
        self.assertEqual(sorted(grads[0]), sorted(grads[1]))
        for n in grads[0]:
            self.assertTrue(torch.allclose(grads[0][n], grads[1][n], rtol=1e-5, atol=1e-12), n)
        self.assertTrue(any(g.abs().sum() > 0 for g in grads[1].values()))

    def test_loss_terms_ablation(self):
        # --loss ref / query (joint-training ablations) sum one output's terms of the same
        # forward: the reference terms give the RefER blocks and qlow bounds no gradient
        import train_refqsr
        m, teacher, xr, yr, xq, yq = tiny_refqsr_and_pair()
        m.freeze_bn()
        losses, grads = {}, {}
        for terms in ("both", "ref", "query"):
            m.zero_grad(set_to_none=True)
            torch.manual_seed(1)
            loss, p = train_refqsr.step_loss(m, teacher, xr, yr, xq, yq, 1000.0, False, terms)
            self.assertEqual(sorted(p), ["at_q", "at_ref", "l1_q", "l1_ref"])
            loss.backward()
            losses[terms] = (loss.item(), p)
            grads[terms] = {n: q.grad.clone() for n, q in m.named_parameters() if q.grad is not None}
        p = losses["both"][1]
        self.assertAlmostEqual(losses["ref"][0], (p["l1_ref"] + 1000 * p["at_ref"]).item(), places=5)
        self.assertAlmostEqual(losses["query"][0], (p["l1_q"] + 1000 * p["at_q"]).item(), places=5)
        self.assertAlmostEqual(losses["both"][0], losses["ref"][0] + losses["query"][0], places=4)
        self.assertFalse(any(n.startswith("refer.") or ".qlow" in n for n in grads["ref"]))
        self.assertIn("refer.2.conv1.weight", grads["query"])
        self.assertIn("body.1.conv1.weight", grads["query"])   # shared weights learn from the queries too
        for n, g in grads["both"].items():
            want = grads["ref"].get(n, torch.zeros_like(g)) + grads["query"].get(n, torch.zeros_like(g))
            # float32 sums in another order: equal to a millionth of the largest gradient
            self.assertLessEqual((g - want).abs().max().item(), 1e-6 * max(g.abs().max().item(), 1e-3), n)

    def test_match_range_experiment(self):
        # --match-range r: codes of x / r on [-1, 1] (by hand for one vector); 1.0 is SPEC 4
        # and changes nothing; the range survives a state round trip, and export refuses it
        x = torch.tensor([0.05, -0.12, 0.3, 0.9])
        self.assertEqual((R.quant_unit(x, 3) * 3).round().tolist(), [0.0, -0.0, 1.0, 3.0])
        self.assertEqual((R.quant_unit(x, 3, 0.4) * 3).round().tolist(), [0.0, -1.0, 2.0, 3.0])
        m, teacher, xr, yr, xq, yq = tiny_refqsr_and_pair()
        m.eval()
        with torch.no_grad():
            base = m.forward_pair(xr, xq)[2]
            m.set_match_range(1.0)
            self.assertNotIn("match_range", m.refqsr)
            self.assertTrue(torch.equal(base, m.forward_pair(xr, xq)[2]))
            m.set_match_range(0.25)
            narrow = m.forward_pair(xr, xq)[2]
        self.assertFalse(torch.equal(base, narrow))   # the matching changed
        self.assertEqual(m.refqsr["match_range"], 0.25)
        m2 = R.refqsr_from_state(m.state_dict(), m.quant_config, m.refqsr).eval()
        self.assertTrue(all(b.match_range == 0.25 for b in m2.refer.values()))
        with torch.no_grad():
            self.assertTrue(torch.equal(narrow, m2.forward_pair(xr, xq)[2]))
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(ValueError, "SPEC 4"):
                export_model(m, os.path.join(d, "m.safetensors"))
            import export
            ck = os.path.join(d, "latest.pt")
            torch.save({"model": m.state_dict(), "quant": m.quant_config, "refqsr": m.refqsr, "step": 3}, ck)
            with self.assertRaisesRegex(SystemExit, "SPEC 4"):
                export.main([ck, os.path.join(d, "m.safetensors")])
            self.assertFalse(os.path.exists(os.path.join(d, "m.safetensors")))
        with self.assertRaises(ValueError):
            m.set_match_range(0.0)

    def test_matching_stats(self):
        # matching_stats.match_stats on features with known codes: one-hot unit vectors
        # (distinct per position) match themselves exactly; at 2 bits on [-1, 1] pooled
        # components under 0.5 all quantize to 0 and every position ties with every other
        import matching_stats as M
        n, c, h, w = 1, 16, 3, 4
        u = torch.zeros(n, c, h, w)
        for k in range(h * w):
            u[0, k, k // w, k % w] = 1.0
        s = M.match_stats(u, u, u, 3, 1.0)
        self.assertEqual((s["nonzero"], s["tied"], s["#tied"], s["self"]), (1 / c, 0.0, 1.0, 1.0))
        self.assertAlmostEqual(s["cos"], 1.0)
        self.assertAlmostEqual(s["cos mean"], 1.0 / (h * w))
        small = u * 0.4 + 0.01
        s = M.match_stats(small, small, small, 2, 1.0)
        self.assertEqual((s["nonzero"], s["tied"], s["#tied"]), (0.0, 1.0, float(h * w)))
        self.assertEqual(s["self"], 1.0 / (h * w))   # ties go to index 0: only position 0 "matches itself"
        s = M.match_stats(small, small, small, 2, 0.5)   # on [-0.5, 0.5] the 0.41s become code 1
        self.assertEqual((s["tied"], s["self"]), (0.0, 1.0))

    def test_gradient_conflict(self):
        # gradient_conflict.term_gradients: the query terms never reach the last block (RefER
        # replaces it on the query path), the reference terms reach every block; the group
        # norms are those of torch.autograd.grad on the same terms
        import gradient_conflict as G
        m, teacher, xr, yr, xq, yq = tiny_refqsr_and_pair()
        m.freeze_bn()
        r = G.term_gradients(m, teacher, [(xr, yr, xq, yq)])
        self.assertEqual(sorted(r["blocks"]), [0, 1, 2, 3])
        self.assertEqual(r["blocks"][3][1], 0.0)
        self.assertTrue(all(gr > 0 for gr, _ in r["blocks"].values()))
        self.assertGreater(r["blocks"][1][1], 0.0)
        self.assertEqual(set(r["groups"]) - set(G.GROUPS), set())
        import train_refqsr
        _, p = train_refqsr.step_loss(m, teacher, xr, yr, xq, yq, 1000.0, False)
        convs = [q for n, q in m.named_parameters() if G.group_of(n) == "body convs"]
        g = torch.autograd.grad(p["l1_q"] + 1000 * p["at_q"], convs, allow_unused=True)
        want = sum(float((x * x).sum()) for x in g if x is not None) ** 0.5
        self.assertAlmostEqual(r["groups"]["body convs"][1], want, delta=1e-5 * want)
        self.assertLessEqual(abs(r["groups"]["body convs"][2]), 1.0 + 1e-6)
        # --sign-step: one group stepped at a time, every parameter restored afterwards
        before = {n: q.detach().clone() for n, q in m.named_parameters()}
        eff = G.sign_step_effects(m, teacher, [(xr, yr, xq, yq)], [(xr, yr, xq, yq)])
        self.assertEqual(set(eff), {"body convs", "bn", "prelu", "bounds", "gates", "head conv", "body-end conv",
                                    "upsampler convs", "tail conv"})
        self.assertTrue(any(dr != 0.0 for dr, _ in eff.values()))
        for n, q in m.named_parameters():
            self.assertTrue(torch.equal(before[n], q), n)

    def test_pair_miner(self):
        cb = tiny_clustblock(seed=0)
        lrs = [synthetic_lr(40, 50, seed=s) for s in (1, 2)]
        hrs = [np.repeat(np.repeat(l, 4, 0), 4, 1) for l in lrs]
        miner = R.PairMiner(hrs, lrs, cb, 0.5, candidates=8, seed=0)
        lr_r, hr_r, lr_q, hr_q = miner.batch(5, 16)
        self.assertEqual(lr_r.shape, (5, 16, 16, 3))
        self.assertEqual(hr_q.shape, (5, 64, 64, 3))
        with torch.no_grad():
            v = torch.cat([cb(torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float())
                           for a in (lr_r, lr_q)]).numpy().astype(np.float64)
        cos = (v[:5] * v[5:]).sum(1) / np.linalg.norm(v[:5], axis=1) / np.linalg.norm(v[5:], axis=1)
        self.assertTrue((cos >= 0.5 - 1e-4).all())  # flips/rotations can move logits a little


def tiny_refqsr_and_pair():
    """A calibrated 8-channel, 4-block DDTB RefQSR 8-4 model (RefER in blocks 2, 3), an
    untrained teacher, and one batch of two reference / query pairs with bicubic HR."""
    torch.manual_seed(0)
    s = SRResNet(8, 4)
    quantize_srresnet(s, "ddtb", 8, 8, calib=[img(12, 12, 80, n=2)], n_gated=1)
    teacher = SRResNet(8, 4).eval()
    m = R.refqsr_from_qat(s.state_dict(), s.quant_config, 4, 0.5, [2, 3])
    R.init_refer_convs(m)
    xr, xq = img(12, 12, 90, n=2), img(12, 12, 94, n=2)
    yr, yq = F.interpolate(xr, scale_factor=4, mode="bicubic"), F.interpolate(xq, scale_factor=4, mode="bicubic")
    R.calibrate_query(m, [(xr, xq)])
    return m, teacher, xr, yr, xq, yq


def write_tiny_qat_and_clustblock(d):
    """A tiny PAMS w4a4 QAT checkpoint (qat.pt), its FP32 teacher and a tiny ClustBlock
    (cb.pt) in folder d, as train_refqsr.py --init expects them."""
    torch.manual_seed(0)
    t = SRResNet(8, 4)
    torch.save({"teacher": t.state_dict()}, os.path.join(d, "teacher.pt"))
    s = SRResNet(8, 4)
    s.load_state_dict(t.state_dict())
    quantize_srresnet(s, "pams", 4, 4, calib=[img(16, 16, 3, n=2)])
    torch.save({"model": s.state_dict(), "quant": s.quant_config, "step": 1}, os.path.join(d, "qat.pt"))
    cb = tiny_clustblock()
    torch.save({"model": cb.state_dict(), "clustblock": {"classes": 10, "bits": 8, "calibrated": True}},
               os.path.join(d, "cb.pt"))


@unittest.skipUnless(HAVE_DATA, "needs ../shared/data")
class TestRefQSRCommandLine(unittest.TestCase):
    def test_train_resume_export(self):
        import train_refqsr
        import export
        with tempfile.TemporaryDirectory() as d:
            write_tiny_qat_and_clustblock(d)
            out = os.path.join(d, "run")
            com = ["--out", out, "--batch", "2", "--patch", "16", "--calib-batches", "1", "--threads", "1",
                   "--data", os.path.join(DATA, "Set5", "HR"), "--val-data", DATA, "--val-sets", "Set5",
                   "--val-every", "2"]
            train_refqsr.main(["--init", os.path.join(d, "qat.pt"), "--clustblock", os.path.join(d, "cb.pt"),
                               "--method", "pams", "--b-low", "2", "--refer-blocks", "2,3", "--max-steps", "2"] + com)
            train_refqsr.main(["--resume", "--max-steps", "3", "--no-val"] + com)
            st = torch.load(os.path.join(out, "latest.pt"))
            self.assertEqual(st["step"], 3)
            self.assertEqual(st["refqsr"]["b_medium"], 3)
            self.assertTrue(os.path.exists(os.path.join(out, "best.pt")))
            p = os.path.join(d, "rq.safetensors")
            export.main([os.path.join(out, "latest.pt"), p])
            tt, cfg, _ = safetensors_io.load(p)
            self.assertEqual(cfg["train"]["stage"], "train_refqsr")
            self.assertEqual(cfg["refqsr"]["refer_blocks"], [2, 3])
            self.assertIn("refer.3.conv2.w_range", tt)

    def test_gpu_delta_round_trip(self):
        # train/gpu/session.sh returns a query-only run as its difference to the QAT model
        # (train/gpu/refqsr_delta.py); unpacked here it must be the run itself, and resume
        import train_refqsr
        sys.path.insert(0, os.path.join(TRAIN, "gpu"))
        import refqsr_delta
        with tempfile.TemporaryDirectory() as d:
            write_tiny_qat_and_clustblock(d)
            out = os.path.join(d, "run")
            com = ["--batch", "2", "--patch", "16", "--calib-batches", "1", "--threads", "1", "--no-val",
                   "--data", os.path.join(DATA, "Set5", "HR")]
            train_refqsr.main(["--init", os.path.join(d, "qat.pt"), "--clustblock", os.path.join(d, "cb.pt"),
                               "--method", "pams", "--b-low", "3", "--refer-blocks", "2,3", "--train", "query",
                               "--max-steps", "2", "--out", out] + com)
            bundle = os.path.join(d, "run.delta.pt")
            n, total = refqsr_delta.pack(out, os.path.join(d, "qat.pt"), bundle)
            delta = torch.load(bundle)["delta"]
            self.assertEqual(len(delta), n)
            self.assertTrue(0 < n < total)
            self.assertTrue(all(R.is_query_only_param(k) for k in delta), list(delta))

            back = os.path.join(d, "back")
            step = refqsr_delta.unpack(bundle, os.path.join(d, "qat.pt"), os.path.join(d, "teacher.pt"),
                                       os.path.join(d, "cb.pt"), back)
            self.assertEqual(step, 2)
            a, b = torch.load(os.path.join(out, "latest.pt")), torch.load(os.path.join(back, "latest.pt"))
            self.assertEqual(list(a["model"]), list(b["model"]))
            for k in a["model"]:
                self.assertTrue(torch.equal(a["model"][k], b["model"][k]), k)
            self.assertEqual({k: v for k, v in a.items() if k != "model"}, {k: v for k, v in b.items() if k != "model"})
            for f in ("latest_opt.pt", "teacher.pt", "clustblock.pt", "log.csv"):
                self.assertTrue(os.path.exists(os.path.join(back, f)), f)
            train_refqsr.main(["--resume", "--max-steps", "3", "--out", back] + com)
            self.assertEqual(torch.load(os.path.join(back, "latest.pt"))["step"], 3)
            with open(os.path.join(back, "log.csv")) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual([r["step"] for r in rows], ["2", "3"])
            for r in rows:   # a query-only step computes the query terms alone
                self.assertTrue(np.isfinite([float(r[k]) for k in ("loss", "l1_q", "at_q")]).all())
                self.assertTrue(np.isnan([float(r[k]) for k in ("l1_ref", "at_ref")]).all())
            # joint training resumed from the query-only run: its Adam state has no moments for
            # the shared weights, whose first steps are fresh ones, so the warm-up starts there
            train_refqsr.main(["--resume", "--train", "all", "--warmup", "2", "--max-steps", "4", "--out", back] + com)
            with open(os.path.join(back, "log.csv")) as f:
                last = list(csv.DictReader(f))[-1]
            self.assertEqual(last["step"], "4")
            self.assertAlmostEqual(float(last["lr"]), 0.5e-4)   # step 3 -> 4, the first of two warm-up steps
            self.assertTrue(np.isfinite(float(last["l1_ref"])))

            # a different QAT model or teacher is refused
            other = os.path.join(d, "other")
            os.makedirs(other)
            torch.manual_seed(1)
            torch.save({"teacher": SRResNet(8, 4).state_dict()}, os.path.join(other, "teacher.pt"))
            with self.assertRaises(SystemExit):
                refqsr_delta.unpack(bundle, os.path.join(d, "qat.pt"), os.path.join(other, "teacher.pt"),
                                    os.path.join(d, "cb.pt"), os.path.join(d, "x"))
            # of several candidates the one with the teacher's fingerprint is taken
            refqsr_delta.unpack(bundle, os.path.join(d, "qat.pt"),
                                [os.path.join(other, "teacher.pt"), os.path.join(d, "missing.pt"), os.path.join(d, "teacher.pt")],
                                os.path.join(d, "cb.pt"), os.path.join(d, "z"))
            self.assertEqual(torch.load(os.path.join(d, "z", "teacher.pt"))["init"], os.path.abspath(os.path.join(d, "teacher.pt")))
            qat = torch.load(os.path.join(d, "qat.pt"))
            qat["model"]["head.weight"] = qat["model"]["head.weight"] + 1
            torch.save(qat, os.path.join(other, "qat.pt"))
            with self.assertRaises(SystemExit):
                refqsr_delta.unpack(bundle, os.path.join(other, "qat.pt"), os.path.join(d, "teacher.pt"),
                                    os.path.join(d, "cb.pt"), os.path.join(d, "y"))


if __name__ == "__main__":
    unittest.main()
