"""An exponential moving average of a model's weights (Polyak averaging).

At a constant learning rate Adam leaves the latest weights noisy: each step moves them by
about lr in every coordinate. The average over the last ~1/(1 - decay) steps is a smoother
model that costs nothing to train. The trainer validates both and says which is better;
`ema.pt` beside `latest.pt` holds the average in the same checkpoint layout, so every tool
that takes a model checkpoint (export, --init, fixtures) takes it too.
"""
import copy

import torch


class WeightAverage:
    """Averages parameters and floating-point buffers (BatchNorm's running statistics,
    which belong to the weights they were measured with); integer buffers are copied. The
    decay warms up as (1 + n) / (10 + n) over the first updates, so a fresh average follows
    the weights closely instead of remembering where it started."""

    def __init__(self, model, decay, averaged=None, updates=0):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        if averaged is not None:
            self.model.load_state_dict(averaged)
            self.updates = int(updates)
        self._pairs(model)

    def _pairs(self, model):
        # state_dict tensors share storage with the modules', so in-place updates of these
        # lists update the models; the lists are built once
        src, dst = model.state_dict(), self.model.state_dict()
        if src.keys() != dst.keys():
            raise ValueError("the averaged model and the trained one have different tensors")
        keys = list(src)
        self._src_f = [src[k] for k in keys if src[k].is_floating_point()]
        self._dst_f = [dst[k] for k in keys if dst[k].is_floating_point()]
        self._src_i = [src[k] for k in keys if not src[k].is_floating_point()]
        self._dst_i = [dst[k] for k in keys if not dst[k].is_floating_point()]

    def current_decay(self):
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self):
        self.updates += 1
        d = self.current_decay()
        torch._foreach_mul_(self._dst_f, d)
        torch._foreach_add_(self._dst_f, self._src_f, alpha=1.0 - d)
        for t, s in zip(self._dst_i, self._src_i):
            t.copy_(s)
