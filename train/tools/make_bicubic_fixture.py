"""Writes tests/fixtures/bicubic/synthetic_61x47.bin for the C# MatlabBicubic identity test.

Run with a Python that has numpy (here: /usr/bin/python3) from the repository root:
    /usr/bin/python3 train/tools/make_bicubic_fixture.py

The source image is synthetic (sin/cos patterns, a hard-edged block that makes the
bicubic overshoot past 0 and 255, and seeded noise), so no data set file is involved.

Layout (all int32 little-endian, pixels HxWx3 row-major uint8):
    width, height, source pixels,
    then three sections, each `width, height, pixels`:
      1. LR x4: imresize(crop_to_multiple(src, 4), 1/4)
      2. LR x3: imresize(crop_to_multiple(src, 3), 1/3)
      3. section 1 upscaled x4: imresize(lr4, 4)  (no antialiasing path)
"""
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from refqsr_train.imresize import crop_to_multiple, imresize_uint8  # noqa: E402

WIDTH, HEIGHT = 61, 47


def synthetic_image():
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    r = 128 + 100 * np.sin(x * 0.31) * np.cos(y * 0.17)
    g = 128 + 110 * np.cos(x * 0.07 + y * 0.23)
    b = 128 + 90 * np.sin((x - y) * 0.45)
    img = np.stack([r, g, b], axis=-1)
    # hard edges: a black and a white block, so that cubic overshoot hits the clamp
    img[10:25, 20:33, :] = 0.0
    img[30:40, 5:18, :] = 255.0
    rng = np.random.default_rng(20240607)
    img += rng.integers(-12, 13, size=img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def section(img):
    h, w = img.shape[:2]
    return struct.pack("<ii", w, h) + img.tobytes()


def main():
    src = synthetic_image()
    lr4 = imresize_uint8(crop_to_multiple(src, 4), 1.0 / 4)
    lr3 = imresize_uint8(crop_to_multiple(src, 3), 1.0 / 3)
    up4 = imresize_uint8(lr4, 4.0)
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    out = os.path.join(root, "tests", "fixtures", "bicubic", "synthetic_61x47.bin")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "wb") as f:
        f.write(section(src) + section(lr4) + section(lr3) + section(up4))
    print(out, "lr4", lr4.shape, "lr3", lr3.shape, "up4", up4.shape)


if __name__ == "__main__":
    main()
