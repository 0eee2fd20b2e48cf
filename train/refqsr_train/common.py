"""Shared training utilities: device/threads, checkpoints, CSV logs, validation."""
import csv
import os
import time
import numpy as np
import torch

from .data import cached_val_set
from .metrics import psnr_y
from .plot import plot_log


def pick_device(name="auto"):
    dev = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name)
    if dev.type == "cuda":
        # training batches keep one shape, so cuDNN's autotuner picks each conv's fastest
        # algorithm once and keeps it (validation images add one tuning per new size). Set in
        # the 17th session without a GPU to measure it on: compare steps/s in stdout.log
        # with earlier sessions' logs
        torch.backends.cudnn.benchmark = True
    return dev


def speed_up_cpu():
    """Denormal floats slow CPU convolutions down by a quarter or more (measured here);
    flushing them to zero changes nothing a PSNR can see."""
    torch.set_flush_denormal(True)


def apply_thread_control(run_dir, default):
    """A file <run_dir>/threads (an integer) changes the thread count of a running job,
    so a long CPU training can yield a core while the engine builds."""
    n = default
    p = os.path.join(run_dir, "threads")
    if os.path.exists(p):
        try:
            n = max(1, int(open(p).read().strip()))
        except ValueError:
            pass
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def to_tensor(batch_uint8, device):
    """NHWC uint8 -> NCHW float 0..255. On the CPU also in NCHW memory order: the permuted
    NHWC view is channels-last, which PyTorch's CPU convolutions then keep through the whole
    network at less than half the speed: a 16-crop 48-px FP32 SRResNet step took 2.25x as
    long, 29.4 s against 13.1 s on one thread (`train/tools/layout_time.py`, AMD EPYC,
    PyTorch 1.13, 2026-11-29). On CUDA it stays channels-last, the layout the H200's step
    rates were measured with."""
    t = torch.from_numpy(np.ascontiguousarray(batch_uint8)).to(device).permute(0, 3, 1, 2).float()
    return t.contiguous() if t.device.type == "cpu" else t


def to_image(t):
    """1x3xHxW float -> HxWx3 uint8, clamped and rounded (SPEC 6)."""
    return t[0].detach().clamp(0, 255).round().byte().permute(1, 2, 0).cpu().numpy()


class CsvLog:
    """A CSV log that a resumed run appends to. A run resumed with more columns than its
    log has (a newer trainer) rewrites the log once with the new header, the old rows
    keeping their values and leaving the new columns empty; columns the log has and the
    trainer no longer writes stay."""

    def __init__(self, path, fields):
        self.path, self.fields = path, list(fields)
        if not os.path.exists(path):
            with open(path, "w", newline="") as f:
                csv.DictWriter(f, self.fields).writeheader()
            return
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            old, rows = list(reader.fieldnames or []), list(reader)
        merged = old + [k for k in self.fields if k not in old]
        if merged != old:
            tmp = path + ".tmp"
            with open(tmp, "w", newline="") as f:
                w = csv.DictWriter(f, merged, extrasaction="ignore")
                w.writeheader()
                w.writerows(rows)
            os.replace(tmp, path)
        self.fields = merged

    def write(self, **row):
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.fields).writerow({k: row.get(k, "") for k in self.fields})

    def plot(self, png, keys):
        try:
            plot_log(self.path, png, keys)
        except Exception as e:  # a plot must never kill a long run
            print("plot failed:", e)


@torch.no_grad()
def validate(model, device, sets=("Set5", "Set14"), scale=4, data_root=None):
    was = model.training
    model.eval()
    res = {}
    for s in sets:
        vals = []
        for hr, lr in cached_val_set(s, scale, data_root):
            sr = to_image(model(to_tensor(lr[None], device)))
            vals.append(psnr_y(sr, hr, scale))
        res[s] = float(np.mean(vals))
    model.train(was)
    return res


class RunningMeans:
    """Per-step values summed between two log lines: `add(loss=..., l1=...)` each step,
    `means()` at a log line gives their averages (NaN for a key never added since the last
    one, e.g. a loss term the training mode does not compute) and starts over."""

    def __init__(self, *keys):
        self.keys = keys
        self._reset()

    def _reset(self):
        self.sums = dict.fromkeys(self.keys, 0.0)
        self.counts = dict.fromkeys(self.keys, 0)

    def add(self, **values):
        for k, v in values.items():
            self.sums[k] += float(v)
            self.counts[k] += 1

    def means(self):
        m = {k: self.sums[k] / self.counts[k] if self.counts[k] else float("nan") for k in self.keys}
        self._reset()
        return m


def end_of_step(step, a, periodic, report_due, report):
    """The end of a training step, alike in every stage: every 50 steps the thread count from
    <out>/threads (apply_thread_control); when a report is due, `report()` (validate, log,
    plot) and a checkpoint; otherwise a checkpoint only once --ckpt-minutes have passed."""
    if step % 50 == 0:
        apply_thread_control(a.out, a.threads)
    if report_due:
        report()
        periodic.now()
    else:
        periodic.maybe()


class PeriodicCheckpoint:
    """Calls `save` now (`now()`) or when `minutes` have passed since the last save
    (`maybe()`): long runs are interrupted, so they checkpoint often."""

    def __init__(self, save, minutes):
        self.save, self.every, self.last = save, minutes * 60.0, time.time()

    def now(self):
        self.save()
        self.last = time.time()

    def maybe(self):
        if time.time() - self.last > self.every:
            self.now()


def fp32_model_path(run_dir):
    """The FP32 run's checkpoint that the later stages use (export, QAT --init, the teachers):
    <run>/ema.pt, the weight average of train_fp32.py --ema, when it is of latest.pt's step
    and the run's last validation that scored both found it better on Set5 + Set14;
    otherwise <run>/latest.pt."""
    latest, ema = os.path.join(run_dir, "latest.pt"), os.path.join(run_dir, "ema.pt")
    if not os.path.exists(ema):
        return latest
    step = lambda p: torch.load(p, map_location="cpu").get("step")  # noqa: E731
    if step(ema) != step(latest):
        return latest
    rows = []
    log = os.path.join(run_dir, "log.csv")
    if os.path.exists(log):
        with open(log, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get("ema_set5") and r.get("psnr_set5")]
    if not rows:
        return latest
    r = rows[-1]
    better = float(r["ema_set5"]) + float(r["ema_set14"]) > float(r["psnr_set5"]) + float(r["psnr_set14"])
    return ema if better else latest


def save_checkpoint(path, **state):
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


class Timer:
    def __init__(self, minutes):
        self.t0 = time.time()
        self.limit = minutes * 60.0 if minutes else None

    def elapsed(self):
        return time.time() - self.t0

    def done(self):
        return self.limit is not None and self.elapsed() >= self.limit
