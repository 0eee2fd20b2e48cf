import os
import sys

TRAIN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TRAIN not in sys.path:
    sys.path.insert(0, TRAIN)

import torch  # noqa: E402

torch.set_num_threads(1)
DATA = os.environ.get("REFQSR_DATA", os.path.join(TRAIN, "..", "..", "shared", "data"))
HAVE_DATA = os.path.isdir(os.path.join(DATA, "Set5", "HR"))
