"""What a denoiser's model file records of its training (``ppsolve.train.denoiser``): the model, the data, the
operator, the settings and the per-epoch figures, and the small helpers that name them."""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from .._validate import real_number
from ..nn.registry import describe

__all__ = ["LOSS_KEYS", "array_digest", "denoiser_metadata", "weighted"]

LOSS_KEYS = ("loss", "rec", "feat", "adv", "disc")


def weighted(value, what: str):
    """(module, weight) or (None, 0)."""
    if value is None:
        return None, 0.0
    if isinstance(value, torch.nn.Module):
        return value, 1.0
    try:
        module, weight = value
    except (TypeError, ValueError):
        raise TypeError(f"{what}: expected (module, weight) or None, got {value!r}") from None
    return module, real_number(weight, f"{what} weight")


def array_digest(a: np.ndarray) -> str:
    """A short sha256 of an array's bytes: names the training data in the metadata."""
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def denoiser_metadata(trainer, extra_metadata) -> dict:
    """What the model file of a ``DenoiserTrainer`` records: the model, the data, the operator, the settings,
    the figures."""
    t = trainer
    hyper = {
        "noise": [t.lo, t.hi], "loss": t.loss, "lr": t.lr, "batch_size": t.batch_size,
        "seed": t.seed, "noise_level_input": t.noise_level_input,
        **({} if t.input_fn is None else {"input_fn": str(getattr(t.input_fn, "description", None) or getattr(
            t.input_fn, "__qualname__", type(t.input_fn).__name__))}),
        **({} if t.lr_final is None else {"lr_final": t.lr_final}),
        **({"warmup_steps": t.warmup_steps} if t.warmup_steps else {}),
        "steps_per_epoch": t.steps, "measurement_noise": t.measurement_noise,
        "adversarial": None if t.disc is None else {**describe(t.disc), "weight": t.w_adv},
        "feature": None if t.comparator is None else {"class": type(t.comparator).__name__, "weight": t.w_feat},
    }
    op = t.operator
    metadata = {
        "model": describe(t.model),
        "conditional": t.conditional,
        "operator": None if op is None else {"repr": repr(op), "fingerprint": op.fingerprint(),
                                             "in_shape": list(op.in_shape), "out_shape": list(op.out_shape)},
        "data": t.data_description,
        "sample_shape": list(t.sample_shape),
        "hyper": hyper,
        "epochs": t.epochs,
        "figures": {"epoch": [], **{k: [] for k in LOSS_KEYS}, "val_psnr": [], "val_ssim": [], "seconds": [],
                    "val_input_psnr": None if t.val is None else t.val.input_psnr},
        "progress": {"epoch": 0, "step": 0, "global_step": 0, "complete": False},
        "versions": {"torch": str(torch.__version__), "numpy": np.__version__},
    }
    if extra_metadata:
        metadata["extra"] = dict(extra_metadata)
    return metadata
