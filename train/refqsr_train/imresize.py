"""MATLAB-compatible bicubic imresize (SPEC section 6).

Keys cubic (a = -0.5); when downscaling the kernel is widened by 1/scale
(antialiasing); symmetric boundary handling. Computed in float64 with the taps
accumulated in a fixed order (height pass first, then width), and rounded half away
from zero (MATLAB's uint8 conversion) once at the end, so that the C# engine (RefQsr.Engine.Imaging.MatlabBicubic)
produces identical bytes from the same uint8 image.
"""
import math
import numpy as np


def _cubic(x):
    ax = abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    if ax <= 1.0:
        return 1.5 * ax3 - 2.5 * ax2 + 1.0
    if ax <= 2.0:
        return -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    return 0.0


def contributions(in_len, out_len, scale):
    """Per output index: (input indices, weights) exactly as MATLAB's contributions()."""
    kernel_width = 4.0
    antialias = scale < 1.0
    if antialias:
        kernel_width = kernel_width / scale
    taps = int(math.ceil(kernel_width)) + 2
    indices = np.zeros((out_len, taps), dtype=np.int64)
    weights = np.zeros((out_len, taps), dtype=np.float64)
    for i in range(out_len):
        x = (i + 1) / scale + 0.5 * (1.0 - 1.0 / scale)
        left = int(math.floor(x - kernel_width / 2.0))
        row_w = []
        for k in range(taps):
            j = left + k
            d = x - j
            w = scale * _cubic(scale * d) if antialias else _cubic(d)
            row_w.append(w)
        total = 0.0
        for w in row_w:
            total += w
        for k in range(taps):
            j = left + k - 1  # zero-based
            # symmetric padding (mirror, edge repeated)
            period = 2 * in_len
            m = j % period
            if m >= in_len:
                m = period - 1 - m
            indices[i, k] = m
            weights[i, k] = row_w[k] / total
    return indices, weights


def _resize_axis(img, axis, out_len, scale):
    in_len = img.shape[axis]
    idx, w = contributions(in_len, out_len, scale)
    x = np.moveaxis(img, axis, 0)
    out = np.zeros((out_len,) + x.shape[1:], dtype=np.float64)
    # sequential accumulation over taps (same order as the engine), zero weights skipped
    for k in range(idx.shape[1]):
        wk = w[:, k]
        nz = wk != 0.0
        if not nz.any():
            continue
        contrib = wk.reshape((-1,) + (1,) * (x.ndim - 1)) * x[idx[:, k]]
        contrib[~nz] = 0.0
        out += contrib
    return np.moveaxis(out, 0, axis)


def imresize_uint8(img, scale):
    """img: HxWxC uint8 array; scale e.g. 0.25. Returns uint8, MATLAB-rounded."""
    h, w = img.shape[:2]
    oh, ow = int(math.ceil(h * scale)), int(math.ceil(w * scale))
    x = img.astype(np.float64)
    x = _resize_axis(x, 0, oh, scale)
    x = _resize_axis(x, 1, ow, scale)
    return np.floor(np.clip(x, 0.0, 255.0) + 0.5).astype(np.uint8)


def imresize_float(img, scale):
    """Float64 result without rounding (used for bicubic upscaling baselines)."""
    h, w = img.shape[:2]
    oh, ow = int(math.ceil(h * scale)), int(math.ceil(w * scale))
    x = img.astype(np.float64)
    x = _resize_axis(x, 0, oh, scale)
    return _resize_axis(x, 1, ow, scale)


def crop_to_multiple(img, scale):
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]
