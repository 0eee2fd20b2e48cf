"""The Python module (src/RefQsr.Native/python/refqsr.py) against the C library it wraps
(scripts/check-native-lib.sh runs it):

  python3 refqsr_python_test.py LIBDIR IN.rgb WIDTH HEIGHT PLAIN_EXPECTED.rgb

LIBDIR is the publish folder (librefqsr.so and refqsr.py). Checks: the plain model's output
equals PLAIN_EXPECTED.rgb (the C program's) also from a row-padded view, stats, a RefQSR
model with its ClustBlock and tau, errors as RefQsrError with the status, a progress callback
that cancels or raises, and a closed model."""
import sys
import threading

import numpy as np

libdir, in_path, expected_path = sys.argv[1], sys.argv[2], sys.argv[5]
w, h = int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, libdir)
import refqsr  # noqa: E402

fails = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + "python: " + what)
    if not cond:
        fails.append(what)


lr = np.fromfile(in_path, np.uint8).reshape(h, w, 3)
expected = np.fromfile(expected_path, np.uint8).reshape(4 * h, 4 * w, 3)
with refqsr.Model("weights/srresnet-ddtb-w4a4.safetensors") as m:
    check(m.scale == 4 and "DDTB w4a4" in m.description, f"model {m.description}, x{m.scale}")
    check(np.array_equal(m.upscale(lr), expected), "the C program's bytes")
    check(m.last_stats["patches"] == 6 and m.last_stats["reference_ratio"] is None, f"stats {m.last_stats}")
    padded = np.zeros((h, w + 7, 3), np.uint8)
    padded[:, :w] = lr
    check(np.array_equal(m.upscale(padded[:, :w], threads=1), expected), "a row-padded view, one thread")
    try:
        m.upscale(lr, patch_size=5)
        check(False, "patch size 5 refused")
    except refqsr.RefQsrError as e:
        check(e.status == 1 and "patch size" in str(e), f"patch size 5 refused: {e}")
    seen = []
    try:
        m.upscale(lr, patch_size=48, threads=1, progress=lambda d, t: seen.append(t) or True)
        check(False, "progress cancels")
    except refqsr.RefQsrError as e:
        check(e.status == 5 and seen and seen[0] > 1, f"progress cancels ({e})")
    try:
        m.upscale(lr, progress=lambda d, t: 1 / 0)
        check(False, "an exception in the callback")
    except ZeroDivisionError:
        check(True, "an exception in the callback cancels the run and is raised")
    outs = [None, None]
    threads = [threading.Thread(target=lambda i=i: outs.__setitem__(i, m.upscale(lr, threads=1))) for i in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    check(all(np.array_equal(o, expected) for o in outs), "two Python threads on one model")
try:
    m.upscale(lr)
    check(False, "a closed model")
except refqsr.RefQsrError as e:
    check(e.status == 1, f"a closed model: {e}")
try:
    refqsr.Model("weights/no-such-model.safetensors")
    check(False, "a missing model")
except refqsr.RefQsrError as e:
    check(e.status == 2 and "no-such-model" in str(e), f"a missing model: {e}")
rq = refqsr.Model("weights/srresnet-ddtb-refqsr-8-4.safetensors", clustblock="weights/clustblock-8bit.safetensors")
rq.upscale(lr)
ratio = rq.last_stats["reference_ratio"]
rq.upscale(lr, tau=1.0)   # no cosine exceeds 1: every patch its own reference
check(ratio is not None and ratio < 1 and rq.last_stats["reference_ratio"] == 1, f"RefQSR pairing {ratio}, with tau 1: {rq.last_stats['reference_ratio']}")
rq.close()
sys.exit(1 if fails else 0)
