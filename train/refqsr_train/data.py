"""Training and validation data (SPEC section 6 degradation)."""
import os
import hashlib
import numpy as np
from PIL import Image

from .imresize import imresize_uint8, crop_to_multiple

SHARED = os.environ.get("REFQSR_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
DATA = os.path.join(SHARED, "data")
TRAIN_DIRS = ["T91/HR", "BSD200/HR"]


def load_rgb(path):
    with Image.open(path) as im:
        return np.array(im.convert("RGB"))


def list_images(folder):
    exts = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(exts))


def make_pair(hr, scale=4):
    hr = crop_to_multiple(hr, scale)
    return hr, imresize_uint8(hr, 1.0 / scale)


def _cache_path(cache_dir, key):
    return os.path.join(cache_dir, hashlib.sha1(key.encode()).hexdigest()[:16] + ".npz")


def load_train_pairs(data_root=None, scale=4, extra_scales=(), cache_dir=None, min_lr=48):
    """All (HR, LR) uint8 pairs of the 291 set, optionally with down-scaled HR copies."""
    root = data_root or DATA
    # data_root may be a flat folder (the GPU machine gets a copy of the images)
    dirs = [os.path.join(root, d) for d in TRAIN_DIRS if os.path.isdir(os.path.join(root, d))] or [root]
    files = [f for d in dirs for f in list_images(d)]
    key = "|".join(files) + f"|{scale}|{extra_scales}"
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        cp = _cache_path(cache_dir, key)
        if os.path.exists(cp):
            z = np.load(cp, allow_pickle=True)
            return list(z["hr"]), list(z["lr"])
    hrs, lrs = [], []
    for f in files:
        img = load_rgb(f)
        for s in (1.0,) + tuple(extra_scales):
            src = img if s == 1.0 else imresize_uint8(img, s)
            hr, lr = make_pair(src, scale)
            if min(lr.shape[:2]) < min_lr:
                continue
            hrs.append(hr)
            lrs.append(lr)
    if cache_dir:
        np.savez(cp, hr=np.array(hrs, dtype=object), lr=np.array(lrs, dtype=object))
    return hrs, lrs


class PatchSampler:
    """Random LR/HR crops with flips and 90-degree rotations, sampled by image area."""

    def __init__(self, hrs, lrs, scale=4, seed=0):
        self.hrs, self.lrs, self.scale = hrs, lrs, scale
        area = np.array([l.shape[0] * l.shape[1] for l in lrs], dtype=np.float64)
        self.p = area / area.sum()
        self.rng = np.random.default_rng(seed)

    def batch(self, n, lr_patch):
        s = self.scale
        lr_b = np.empty((n, lr_patch, lr_patch, 3), np.uint8)
        hr_b = np.empty((n, lr_patch * s, lr_patch * s, 3), np.uint8)
        for k in range(n):
            i = self.rng.choice(len(self.lrs), p=self.p)
            lr, hr = self.lrs[i], self.hrs[i]
            y = self.rng.integers(0, lr.shape[0] - lr_patch + 1)
            x = self.rng.integers(0, lr.shape[1] - lr_patch + 1)
            l = lr[y:y + lr_patch, x:x + lr_patch]
            h = hr[y * s:(y + lr_patch) * s, x * s:(x + lr_patch) * s]
            t = self.rng.integers(0, 8)
            if t & 1:
                l, h = l[:, ::-1], h[:, ::-1]
            if t & 2:
                l, h = l[::-1], h[::-1]
            if t & 4:
                l, h = l.transpose(1, 0, 2), h.transpose(1, 0, 2)
            lr_b[k], hr_b[k] = l, h
        return lr_b, hr_b


def load_val_set(name, scale=4, data_root=None):
    folder = os.path.join(data_root or DATA, name, "HR")
    return [make_pair(load_rgb(f), scale) for f in list_images(folder)]


_VAL = {}


def cached_val_set(name, scale=4, data_root=None):
    """load_val_set, loaded once per process for each folder (the trainers validate every few
    hundred steps); keyed by the folder, so two data roots never share a set's images."""
    key = (os.path.abspath(os.path.join(data_root or DATA, name, "HR")), scale)
    if key not in _VAL:
        _VAL[key] = load_val_set(name, scale, data_root)
    return _VAL[key]
