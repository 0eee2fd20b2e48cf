"""Checkpoint -> engine model file (docs/weights-format.md)."""
import re

import numpy as np
import torch

from . import safetensors_io
from .models import SRResNet, model_config
from .quant import quantize_srresnet, weight_range
from .clustblock import ClustBlock, minmax_range


def _np(sd):
    return {k: v.detach().cpu().float().numpy().astype(np.float32)
            for k, v in sd.items() if not k.endswith("num_batches_tracked")}


def srresnet_from_state(sd, quant=None):
    """Builds an SRResNet (optionally with quantizers) matching a state_dict."""
    channels = sd["head.weight"].shape[0]
    blocks = len({k.split(".")[1] for k in sd if re.match(r"body\.\d+\.conv1\.weight$", k)})
    model = SRResNet(channels=channels, blocks=blocks)
    if quant:
        quantize_srresnet(model, quant["method"], quant["w_bits"], quant["a_bits"], gated=quant["gated"])
    model.load_state_dict(sd)
    return model


def srresnet_tensors(model):
    """Engine tensors of an SRResNet: the state_dict (no num_batches_tracked) plus, for
    quantized models, body.{i}.conv{k}.w_range = the float32 [lo, hi] that the training
    forward's weight quantizer computes (quant.weight_range, on CPU)."""
    model = model.cpu()
    t = _np(model.state_dict())
    qc = getattr(model, "quant_config", None)
    if qc:
        for i, blk in enumerate(model.body):
            for k, conv in ((1, blk.conv1), (2, blk.conv2)):
                lo, hi = weight_range(conv.weight, qc["method"])
                t[f"body.{i}.conv{k}.w_range"] = torch.stack([lo, hi]).numpy().astype(np.float32)
        if getattr(model, "refqsr", None):  # RefER convs: refer.{j}.conv{k}.w_range
            for j in model.refer_blocks:
                for k in (1, 2):
                    conv = getattr(model.refer[str(j)], f"conv{k}")
                    lo, hi = weight_range(conv.weight, qc["method"])
                    t[f"refer.{j}.conv{k}.w_range"] = torch.stack([lo, hi]).numpy().astype(np.float32)
    return t


def srresnet_config(model, train_info=None):
    qc = getattr(model, "quant_config", None)
    rq = getattr(model, "refqsr", None)
    if rq and rq.get("match_range", 1.0) != 1.0:
        raise ValueError(f"this RefQSR model matches on the range [-{rq['match_range']}, {rq['match_range']}] "
                         "(train_refqsr --match-range, an experiment): the engine implements SPEC 4's [-1, 1] only")
    if qc:
        extra = {"refqsr": dict(rq) if rq else None}
        if qc["method"] == "ddtb":
            extra["ddtb_gated"] = list(qc["gated"])
        cfg = model_config(model, qc["method"], qc["w_bits"], qc["a_bits"], extra)
    else:
        cfg = model_config(model, extra={"refqsr": None})
    cfg["train"] = train_info or {}
    return cfg


def clustblock_tensors(model):
    model = model.cpu()
    t = _np({k: v for k, v in model.state_dict().items()})
    for name in ("conv1", "conv2", "conv3", "fc"):
        lo, hi = minmax_range(getattr(model, name).weight)
        t[f"{name}.w_range"] = torch.stack([lo, hi]).numpy().astype(np.float32)
    return t


def clustblock_config(model, train_info=None):
    return {"network": "clustblock", "classes": model.classes, "quantizer": "ddtb",
            "w_bits": model.bits, "a_bits": model.bits, "train": train_info or {}}


def check_engine_values(t):
    """Raises ValueError naming the tensor where a value would make the engine refuse the
    file at load (src/RefQsr.Engine: non-finite values, a negative batch-norm variance, a
    quantizer range that is empty or too narrow for 8-bit codes), so a diverged run fails
    here, before a model file is written."""
    tiny = np.float32(255 / np.finfo(np.float32).max)
    for name, v in t.items():
        if not np.all(np.isfinite(v)):
            raise ValueError(f"tensor '{name}': holds a non-finite value")
        if name.endswith("running_var") and np.any(v < 0):
            raise ValueError(f"tensor '{name}': a variance is negative ({v.min()})")
        if name.endswith(("w_range", ".range")) and not (v[1] - v[0] > tiny):
            raise ValueError(f"tensor '{name}': [{v[0]}, {v[1]}] is not a usable range")
        if name.endswith(".alpha") and not (v.reshape(-1)[0] > tiny):
            raise ValueError(f"tensor '{name}': quantizer bound {v.reshape(-1)[0]} must be positive")
        if name.endswith("alpha_l"):
            lo, hi = v.reshape(-1)[0], t[name[:-1] + "u"].reshape(-1)[0]
            if not (hi - lo > tiny):
                raise ValueError(f"tensors '{name}' and '{name[:-1]}u': quantizer range [{lo}, {hi}] is empty")


def export_model(model, path, train_info=None):
    if isinstance(model, ClustBlock):
        t, cfg = clustblock_tensors(model), clustblock_config(model, train_info)
    else:
        t, cfg = srresnet_tensors(model), srresnet_config(model, train_info)
    check_engine_values(t)
    safetensors_io.save(path, t, cfg)
    return t, cfg


def load_checkpoint_model(path):
    """(model, kind, ckpt dict) from a train_fp32 / train_qat / train_refqsr / train_clustblock .pt
    (kind of a RefQSR checkpoint: its method, ddtb or pams)."""
    st = torch.load(path, map_location="cpu")
    if "clustblock" in st:
        cb = st["clustblock"]
        model = ClustBlock(classes=cb["classes"], bits=cb.get("bits", 8))
        model.load_state_dict(st["model"])
        model.set_quantized(bool(cb.get("calibrated", False)))
        return model, "clustblock", st
    quant = st.get("quant")
    if st.get("refqsr"):
        from .refqsr import refqsr_from_state
        return refqsr_from_state(st["model"], quant, st["refqsr"]), quant["method"], st
    model = srresnet_from_state(st["model"], quant)
    return model, (quant["method"] if quant else "fp32"), st
