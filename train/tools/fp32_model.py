"""Prints the FP32 run's checkpoint that the later stages use: its weight average
(ema.pt) or its latest weights (latest.pt), whichever its last validation scored higher
(refqsr_train.common.fp32_model_path). For the shell scripts that export the FP32 model
and start QAT and RefQSR runs from it.

  /usr/bin/python3 train/tools/fp32_model.py [RUN]     (default train/runs/srresnet-fp32)
"""
import os
import sys

TRAIN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TRAIN)
from refqsr_train.common import fp32_model_path  # noqa: E402

if __name__ == "__main__":
    run = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TRAIN, "runs", "srresnet-fp32")
    if not os.path.exists(os.path.join(run, "latest.pt")):
        sys.exit(f"{run}: no latest.pt (not a train_fp32.py run folder)")
    print(fp32_model_path(run))
