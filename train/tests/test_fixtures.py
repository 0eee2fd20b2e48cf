"""The committed fixtures (tests/fixtures/tiny-*) still agree with intsim / the FP32 forward."""
import json
import os
import unittest

import numpy as np
import torch

import os as _os
import sys as _sys
_sys.path.insert(0, _os.path.dirname(_os.path.abspath(__file__)))
from _util import TRAIN
from refqsr_train import safetensors_io
from refqsr_train.intsim import IntSim
from refqsr_train.exporting import srresnet_from_state
from make_fixtures import synthetic_lr, REFQSR_IMAGE, REFQSR_PATCH
from refqsr_train.intsim import ClustSim
from refqsr_train import refqsr as R

FIX = os.path.join(TRAIN, "..", "tests", "fixtures")
NAMES = sorted(d for d in os.listdir(FIX) if d.startswith("tiny-")) if os.path.isdir(FIX) else []


@unittest.skipUnless(NAMES, "no tests/fixtures/tiny-*")
class TestCommittedFixtures(unittest.TestCase):
    def test_fixtures(self):
        for name in NAMES:
            with self.subTest(name=name):
                folder = os.path.join(FIX, name)
                with open(os.path.join(folder, "manifest.json")) as f:
                    man = json.load(f)
                arrs = {}
                for e in man["files"]:
                    dt = {"uint8": "u1", "float32": "<f4", "int32": "<i4", "int8": "i1"}[e["dtype"]]
                    arrs[e["name"]] = np.fromfile(os.path.join(folder, e["file"]), dt).reshape(e["shape"])
                rq = man.get("kind") == "refqsr"
                want = synthetic_lr(*REFQSR_IMAGE, seed=4321) if rq else synthetic_lr()
                np.testing.assert_array_equal(arrs["input"], want)
                t, cfg, _ = safetensors_io.load(os.path.join(folder, man["model"]))
                x = torch.from_numpy(arrs["input"]).permute(2, 0, 1)[None].float()
                if cfg["quantizer"] == "none":
                    with torch.no_grad():
                        hr = srresnet_from_state({k: torch.from_numpy(v) for k, v in t.items()}).eval()(x)
                else:
                    hr, rec = IntSim(t, cfg).forward(x, record=man["recorded_quantizers"])
                    for k in man["recorded_quantizers"]:
                        np.testing.assert_array_equal(rec["codes"][k], arrs[f"codes_q{k}"])
                np.testing.assert_allclose(hr.numpy(), arrs["hr"], rtol=1e-4, atol=1e-3)
                if rq:
                    self._refqsr(folder, man, arrs, IntSim(t, cfg), x)

    def _refqsr(self, folder, man, arrs, sim, x):
        csim = ClustSim.load(os.path.join(folder, man["clustblock_model"]))
        ts = R.tiles(x.shape[2], x.shape[3], REFQSR_PATCH)
        self.assertEqual([list(p) for p in ts], man["patches"])
        pats = [x[:, :, y0:y1, x0:x1] for (y0, y1, x0, x1) in ts]
        qi = man["query"]
        rec = {}
        hrs, logits, ref = sim.run_patches(pats, csim, rec_query={qi: rec})
        np.testing.assert_allclose(logits, arrs["logits"], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(ref, arrs["ref"])
        for name, a in arrs.items():
            if name.startswith("query_codes_"):
                np.testing.assert_array_equal(rec[name[len("query_codes_"):] + ".codes"], a)
            elif name.startswith("query_argmax_"):
                np.testing.assert_array_equal(rec[name[len("query_argmax_"):] + ".argmax"], a)
        np.testing.assert_allclose(hrs[qi].numpy(), arrs["query_hr"], rtol=1e-4, atol=1e-3)


if __name__ == "__main__":
    unittest.main()
