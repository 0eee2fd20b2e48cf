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
from make_fixtures import synthetic_lr

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
                    dt = {"uint8": "u1", "float32": "<f4"}[e["dtype"]]
                    arrs[e["name"]] = np.fromfile(os.path.join(folder, e["file"]), dt).reshape(e["shape"])
                np.testing.assert_array_equal(arrs["input"], synthetic_lr())
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


if __name__ == "__main__":
    unittest.main()
