"""Reference PSNR/SSIM values for the C# ImageQualityTests (SPEC section 6).

Run once with a Python that has numpy:  /usr/bin/python3 train/tools/ssim_reference.py
and paste the printed numbers into tests/RefQsr.Engine.Tests/Metrics/ImageQualityTests.cs.

SSIM is computed as BasicSR's calculate_ssim(test_y_channel=True) / Wang et al.'s
ssim_index: Y with the +16 offset, Gaussian 11x11 window (sigma 1.5, normalised like
cv2.getGaussianKernel), direct 2-D filtering over the valid region only, C1 = (0.01*255)^2,
C2 = (0.03*255)^2, mean of the map. The images are integer formulas that the C# test
rebuilds exactly (no data set file involved).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from refqsr_train.metrics import psnr_y, rgb_to_y  # noqa: E402

WIDTH, HEIGHT = 40, 32


def image_pair():
    y, x, c = np.meshgrid(np.arange(HEIGHT), np.arange(WIDTH), np.arange(3), indexing="ij")
    a = (x * x * 3 + y * 7 + c * 50 + (x * y) % 13 * 5) % 256
    b = np.clip(a + ((x * 31 + y * 17 + c * 7) % 9 - 4) * 12, 0, 255)
    return a.astype(np.uint8), b.astype(np.uint8)


def gaussian_window(size=11, sigma=1.5):
    x = np.arange(size, dtype=np.float64) - size // 2
    k = np.exp(-(x * x) / (2 * sigma * sigma))
    k /= k.sum()
    return np.outer(k, k)


def filter_valid(img, window):
    patches = np.lib.stride_tricks.sliding_window_view(img, window.shape)
    return np.einsum("ijkl,kl->ij", patches, window)


def ssim_y(sr, hr, shave):
    a = rgb_to_y(sr)
    b = rgb_to_y(hr)
    if shave:
        a = a[shave:-shave, shave:-shave]
        b = b[shave:-shave, shave:-shave]
    c1 = (0.01 * 255) ** 2
    c2 = (0.03 * 255) ** 2
    w = gaussian_window()
    mu1, mu2 = filter_valid(a, w), filter_valid(b, w)
    s11 = filter_valid(a * a, w) - mu1 * mu1
    s22 = filter_valid(b * b, w) - mu2 * mu2
    s12 = filter_valid(a * b, w) - mu1 * mu2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1 * mu1 + mu2 * mu2 + c1) * (s11 + s22 + c2))
    return float(m.mean())


def main():
    a, b = image_pair()
    print(f"psnr_y shave 4: {psnr_y(b, a, 4):.12f}")
    print(f"ssim_y shave 4: {ssim_y(b, a, 4):.12f}")
    print(f"ssim_y shave 0: {ssim_y(b, a, 0):.12f}")


if __name__ == "__main__":
    main()
