"""PSNR / SSIM on Y as in SPEC section 6."""
import numpy as np


def rgb_to_y(img):
    img = img.astype(np.float64)
    return (65.738 * img[..., 0] + 129.057 * img[..., 1] + 25.064 * img[..., 2]) / 256.0 + 16.0


def psnr_y(sr, hr, shave):
    a = rgb_to_y(sr)[shave:-shave, shave:-shave]
    b = rgb_to_y(hr)[shave:-shave, shave:-shave]
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)
