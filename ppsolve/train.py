r"""Training denoisers that serve as ADMM's proximal operator (paper sections 3.1 and 3.3, eqs. 12-13).

``train_denoiser(model, images, ...)`` trains ``model`` in place on pairs made on the fly from clean images
``x``: the network sees ``v = x + n`` (and, when ``conditional``, the measurement ``y = A x + e``) and is
trained to return ``x``:

* ``n ~ N(0, sigma^2 I)`` with ``sigma`` drawn uniformly from ``noise = (sigma_min, sigma_max)`` for every
  sample, so one network serves ADMM's changing error ``v - x`` (large in the first iterations, small
  later). ``e ~ N(0, measurement_noise^2 I)``.
* Loss (eq. 13, with ``lambda_r = 1``):
  ``L_G = L_r(G(v, y), x) + w_f ||C(G(v, y)) - C(x)||^2 - w_a log D(G(v, y))``, where ``L_r`` is the mean
  squared error (``loss="l2"``) or mean absolute error (``"l1"``), ``C`` a fixed ``FeatureComparator``
  (``feature=(C, w_f)``, its ``feature_loss(x, x_hat)``) and ``D`` a ``Discriminator`` returning logits
  (``adversarial=(D, w_a)``; ``-log D`` is the non-saturating generator loss, ``softplus(-logit)``).
* When ``adversarial`` is given, each step first updates ``D`` on eq. 12,
  ``L_D = -log D(x) - log(1 - D(G(v, y)))`` (``G`` fixed: its output detached), then ``G`` on ``L_G``
  (``D`` fixed), as the paper alternates them. ``D`` is optimised by Adam with DCGAN's ``betas=(0.5,
  0.999)`` and the same ``lr``; ``G`` by Adam with ``lr`` and the default betas.

Reproducible and resumable. All randomness comes from a ``torch.Generator`` (noise) and a NumPy
``Generator`` (the epoch's shuffle, or the batch sampler) seeded by ``seed``, plus the global torch RNG
(for layers such as dropout), which is seeded inside a fork so the caller's RNG state is left as it was.
With ``checkpoint=PATH`` the full training state (model, optimisers, epoch, step within the epoch, the
epoch's shuffle, RNG states, running loss sums, figures) is saved atomically after every epoch, every
``checkpoint_every`` steps, and when training is interrupted (Ctrl-C, or a ``KeyboardInterrupt`` raised by
``callback``, both at a step boundary). A later call with the same arguments resumes from it and ends
with the same weights as an uninterrupted run; a call with a larger ``epochs`` continues a finished run.
A checkpoint recorded for other settings (model, data, operator, noise, loss, lr, ...) is refused with a
``ValueError`` naming the difference (pass ``resume=False`` to start afresh and overwrite it).

Command line (``python -m ppsolve.train --help``): recipes that train a network for the model zoo, e.g.

.. code-block:: bash

    python -m ppsolve.train mnist-dae --data DATA/mnist --out ppsolve/zoo/mnist-dae.pt --epochs 40
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import DeferredSigint, check_compatible, checkpoint_safe, load_checkpoint, save_checkpoint
from .metrics import psnr, ssim

__all__ = ["RECIPES", "BicubicOrNoise", "export_denoiser", "load_denoiser", "lsuv_init", "main", "train_denoiser"]

KIND = "denoiser"
LOSSES = ("l2", "l1")
LOSS_KEYS = ("loss", "rec", "feat", "adv", "disc")


# -- small helpers ----------------------------------------------------------------------------------------


def _noise_range(noise) -> tuple[float, float]:
    if isinstance(noise, (int, float)) and not isinstance(noise, bool):
        noise = (noise, noise)
    try:
        lo, hi = (float(s) for s in noise)
    except (TypeError, ValueError):
        raise TypeError(f"noise: expected (sigma_min, sigma_max) or one sigma, got {noise!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi):
        raise ValueError(f"noise: expected 0 <= sigma_min <= sigma_max, got {noise!r}")
    return lo, hi


def _weighted(value, what: str):
    """(module, weight) or None."""
    if value is None:
        return None, 0.0
    if isinstance(value, torch.nn.Module):
        return value, 1.0
    try:
        module, weight = value
    except (TypeError, ValueError):
        raise TypeError(f"{what}: expected (module, weight) or None, got {value!r}") from None
    weight = float(weight)
    if not (math.isfinite(weight) and weight >= 0):
        raise ValueError(f"{what}: the weight must be a finite number >= 0, got {weight}")
    return module, weight


def _config_of(module) -> dict | None:
    """``module.config`` (a dict, or a method returning one) made checkpoint-safe; None when absent."""
    config = getattr(module, "config", None)
    if callable(config):
        config = config()
    if config is None:
        return None
    if not isinstance(config, dict):
        raise TypeError(f"{type(module).__name__}.config: expected a dict of constructor arguments, got {config!r}")
    return checkpoint_safe(dict(config), f"{type(module).__name__}.config")


def _describe_module(module) -> dict | None:
    if module is None:
        return None
    return {"class": type(module).__name__, "module": type(module).__module__, "config": _config_of(module)}


def _array_digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def _as_float_array(images, what: str) -> np.ndarray:
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    images = np.asarray(images)
    if images.dtype.kind != "f":
        raise TypeError(f"{what}: expected a float array of images in [0, 1], got dtype {images.dtype}")
    if images.ndim < 2 or len(images) == 0:
        raise ValueError(f"{what}: expected a non-empty stack (N, ...) of images, got shape {images.shape}")
    return np.ascontiguousarray(images, dtype=np.float32)


def _progress_bar(total, initial, desc, enabled):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is a dependency, but a bar is never worth failing for
        return None
    return tqdm(total=total, initial=initial, desc=desc, leave=False, dynamic_ncols=True, file=sys.stderr)


# -- initialisation -----------------------------------------------------------------------------------------


@torch.no_grad()
def lsuv_init(model: torch.nn.Module, *inputs, iters: int = 3) -> list[str]:
    """Data-dependent initialisation (layer-sequential unit variance, Mishkin and Matas 2016): every
    convolution, transposed convolution and linear layer, in the order the forward pass runs them, gets a zero
    bias and its weight rescaled until its output on ``inputs`` has unit standard deviation. Returns the
    names of the layers rescaled.

    Why: a deep plain ReLU network such as the MNIST DAE (Table 1, eight layers through a 1 x 1 bottleneck)
    shrinks the signal layer by layer under PyTorch's default initialisation, so its output starts as a
    constant; Adam's first steps then push the small decoder activations below zero and the ReLUs die for
    good (the network stays a constant, about 9.4 dB on MNIST). With unit-variance layers it trains at once.
    """
    kinds = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d,
             torch.nn.ConvTranspose3d, torch.nn.Linear)
    order: list[tuple[str, torch.nn.Module]] = []
    names = {id(m): n for n, m in model.named_modules()}
    hooks = [m.register_forward_hook(lambda mod, i, o: order.append((names[id(mod)], mod)))
             for m in model.modules() if isinstance(m, kinds)]
    was_training = model.training
    model.eval()
    try:
        model(*inputs)
    finally:
        for h in hooks:
            h.remove()
    seen, done = set(), []
    for name, layer in order:
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if layer.bias is not None:
            layer.bias.zero_()
        for _ in range(iters):
            captured = []
            handle = layer.register_forward_hook(lambda mod, i, o, store=captured: store.append(o))
            try:
                model(*inputs)
            finally:
                handle.remove()
            std = float(captured[0].std())
            if not math.isfinite(std) or std < 1e-12:
                break
            layer.weight.div_(std)
        done.append(name)
    model.train(was_training)
    return done


# -- the trainer ------------------------------------------------------------------------------------------


def train_denoiser(
    model: torch.nn.Module,
    images,
    *,
    operator=None,
    noise=(0.0, 0.2),
    loss: str = "l2",
    conditional: bool = False,
    noise_level_input: bool = False,
    input_fn: Callable | None = None,
    adversarial=None,
    feature=None,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    lr_final: float | None = None,
    warmup_steps: int = 0,
    seed: int = 0,
    val_images=None,
    checkpoint=None,
    checkpoint_every: int | None = 200,
    resume: bool = True,
    progress: bool = True,
    measurement_noise: float = 0.0,
    steps_per_epoch: int | None = None,
    log: Callable[[str], None] | None = print,
    callback: Callable[[dict], None] | None = None,
    data_description: str | None = None,
    device=None,
    val_batch_size: int = 256,
    extra_metadata: dict | None = None,
) -> dict:
    """Train the denoiser ``model`` in place (see the module docstring); returns the checkpoint metadata
    (with ``"figures"``: per-epoch losses, validation PSNR / SSIM and seconds).

    Parameters
    ----------
    model : ``model(v)`` (or ``model(v, y)`` when ``conditional``) mapping a batch ``(B, *sample_shape)``
        to the same shape; with ``noise_level_input`` it also gets, last, the ``(B,)`` tensor of each
        sample's noise standard deviation (a noise-conditional denoiser such as ``nn.SigmaDnCNN``). Its ``.config`` (a dict of constructor arguments), if it has one, is recorded.
    images : a float array ``(N, *sample_shape)`` of clean images in ``[0, 1]`` (NumPy or torch), shuffled
        every epoch; or a callable ``sampler(batch_size, rng) -> (batch_size, *sample_shape)`` array drawing
        from the NumPy ``Generator`` ``rng`` (then ``steps_per_epoch`` is required).
    input_fn : optional ``input_fn(x, y, sigma, generator) -> v``, the network's first input made from the clean
        batch ``x``, the measurement ``y`` (None unless ``conditional``), the ``(B,)`` noise levels and the
        ``torch.Generator`` to draw from (default ``v = x + sigma n``). E.g. the ``cub-sr4-cpsdae`` recipe
        also feeds the bicubic upsampling of ``y``, the kind of ``v`` ADMM starts from.
    operator : the ``LinearOperator`` A of ``y = A x + e`` (``A.in_shape == sample_shape``); only with
        ``conditional=True``. Its ``repr`` and ``fingerprint()`` are recorded.
    noise : ``(sigma_min, sigma_max)``; each sample's ``sigma`` is uniform in that range (or one number).
    loss : ``"l2"`` (mean squared error) or ``"l1"`` (mean absolute error).
    adversarial : ``(discriminator, weight)``: a module returning one logit per image, trained alternately.
    feature : ``(comparator, weight)``: an object with ``feature_loss(x, x_hat)`` (``FeatureComparator``),
        or a module ``C`` (then ``mean (C(x_hat) - C(x))^2``). It is not trained.
    epochs, batch_size, lr, seed : as usual; ``lr_final``: if given, the learning rate decays geometrically
        from ``lr`` at the first step to ``lr_final`` at the last (default: constant ``lr``); ``warmup_steps``:
        the learning rate is scaled by ``(step + 1) / warmup_steps`` over the first steps (networks such as
        the cPSDAE collapse to the identity when Adam starts at full ``lr``); ``steps_per_epoch`` defaults to ``ceil(N / batch_size)``
        (the last batch of an epoch may be smaller; with an explicit value, batches wrap around).
    val_images : optional clean ``(M, *sample_shape)`` images: after each epoch the model (in eval mode)
        denoises a fixed noisy copy (noise drawn once from ``seed``, not from the training stream) and the
        mean PSNR and SSIM (``ppsolve.metrics``, ``data_range=1``) are recorded and logged.
    checkpoint : path of the resumable training checkpoint (see the module docstring); ``resume=False``
        ignores and overwrites an existing one. ``checkpoint_every``: steps between mid-epoch saves
        (None: only at epoch ends and interruptions).
    progress : show a tqdm bar with the running losses. ``log``: a callable for one line per epoch (None:
        silent). ``callback(info)``: called after every step with ``epoch`` (0-based), ``step`` (steps done
        in this epoch), ``global_step``, ``losses`` and ``model``; raising ``KeyboardInterrupt`` there stops
        training cleanly (a checkpoint is written first).
    data_description : recorded in the metadata and compared on resume (default: the array's shape and a
        hash of its content; for a sampler its ``description`` attribute, else its qualified name: give
        one that changes when the data does).
    device : where to train (default: the model's device). ``extra_metadata``: a dict merged into the
        metadata (e.g. the data split).
    """
    # ---- arguments ---------------------------------------------------------------------------------------
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"train_denoiser: model must be a torch.nn.Module, got {type(model).__name__}")
    lo, hi = _noise_range(noise)
    if loss not in LOSSES:
        raise ValueError(f"train_denoiser: loss must be one of {LOSSES}, got {loss!r}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("val_batch_size", val_batch_size)):
        if isinstance(value, bool) or int(value) != value or value < (0 if name == "epochs" else 1):
            raise ValueError(f"train_denoiser: {name} must be a positive int, got {value!r}")
    epochs, batch_size = int(epochs), int(batch_size)
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"train_denoiser: lr must be > 0, got {lr!r}")
    if lr_final is not None and not (lr_final > 0 and math.isfinite(lr_final)):
        raise ValueError(f"train_denoiser: lr_final must be > 0 or None, got {lr_final!r}")
    if isinstance(warmup_steps, bool) or int(warmup_steps) != warmup_steps or warmup_steps < 0:
        raise ValueError(f"train_denoiser: warmup_steps must be a non-negative int, got {warmup_steps!r}")
    if not (measurement_noise >= 0 and math.isfinite(measurement_noise)):
        raise ValueError(f"train_denoiser: measurement_noise must be >= 0, got {measurement_noise!r}")
    if checkpoint_every is not None and (int(checkpoint_every) != checkpoint_every or checkpoint_every < 1):
        raise ValueError(f"train_denoiser: checkpoint_every must be a positive int or None, got {checkpoint_every!r}")
    if conditional and operator is None:
        raise ValueError("train_denoiser: conditional=True needs the operator A to make the measurements y = A x")
    if operator is not None and not conditional:
        raise ValueError("train_denoiser: an operator is only used with conditional=True (the model gets y = A x)")
    if measurement_noise and not conditional:
        raise ValueError("train_denoiser: measurement_noise is only used with conditional=True")
    disc, w_adv = _weighted(adversarial, "adversarial")
    comparator, w_feat = _weighted(feature, "feature")
    if comparator is not None and not (hasattr(comparator, "feature_loss") or callable(comparator)):
        raise TypeError("train_denoiser: feature must be (comparator with feature_loss(x, x_hat), weight)")

    # ---- data --------------------------------------------------------------------------------------------
    is_sampler = callable(images) and not isinstance(images, (np.ndarray, torch.Tensor))
    if is_sampler:
        if steps_per_epoch is None:
            raise ValueError("train_denoiser: a batch sampler needs steps_per_epoch")
        sampler, data = images, None
        probe = np.asarray(sampler(1, np.random.default_rng(0)))
        if probe.ndim < 2 or probe.shape[0] != 1:
            raise ValueError(f"train_denoiser: sampler(1, rng) must return a (1, ...) array, got shape {probe.shape}")
        sample_shape = tuple(probe.shape[1:])
        # no repr(): it holds a memory address, which would make every resume look like other data
        description = data_description or str(getattr(sampler, "description", None) or (
            f"sampler {getattr(sampler, '__module__', '?')}.{getattr(sampler, '__qualname__', type(sampler).__name__)}"))
    else:
        sampler = None
        data = _as_float_array(images, "images")
        sample_shape = tuple(data.shape[1:])
        description = data_description or (
            f"{len(data)} images of shape {sample_shape}, float32 sha256 {_array_digest(data)}")
        data = torch.from_numpy(data)
    n_data = None if data is None else len(data)
    steps = int(steps_per_epoch) if steps_per_epoch is not None else math.ceil(n_data / batch_size)
    if steps < 1:
        raise ValueError(f"train_denoiser: steps_per_epoch must be >= 1, got {steps_per_epoch!r}")
    if operator is not None and tuple(operator.in_shape) != sample_shape:
        raise ValueError(f"train_denoiser: the operator {operator!r} takes images of shape {tuple(operator.in_shape)}, "
                         f"the training images have shape {sample_shape}")

    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    device = torch.device(device)
    model.to(device)
    if disc is not None:
        disc.to(device)
    if isinstance(comparator, torch.nn.Module):  # fixed: never trained
        comparator.to(device).eval()
        comparator.requires_grad_(False)
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None and param.dtype.is_floating_point else torch.float32

    # ---- validation set: fixed noisy copies, drawn from their own stream --------------------------------
    val = None
    if val_images is not None:
        clean = _as_float_array(val_images, "val_images")
        if tuple(clean.shape[1:]) != sample_shape:
            raise ValueError(f"train_denoiser: val_images have shape {clean.shape[1:]}, training images {sample_shape}")
        vrng = np.random.default_rng([int(seed), 7919])
        sig = vrng.uniform(lo, hi, size=len(clean)).astype(np.float32)
        noisy = clean + sig.reshape((-1,) + (1,) * len(sample_shape)) * vrng.standard_normal(clean.shape).astype(np.float32)
        val_y = None
        if conditional:
            val_y = np.asarray(operator(clean.astype(np.float64)), dtype=np.float32)
            if measurement_noise:
                val_y = val_y + measurement_noise * vrng.standard_normal(val_y.shape).astype(np.float32)
        if input_fn is not None:
            with torch.no_grad():
                noisy = input_fn(torch.from_numpy(clean), None if val_y is None else torch.from_numpy(val_y),
                                 torch.from_numpy(sig), torch.Generator().manual_seed(int(seed) + 7919))
            noisy = np.asarray(noisy, dtype=np.float32)
        val = {"clean": clean, "noisy": noisy, "y": val_y, "sigma": sig,
               "input_psnr": psnr(noisy, clean, batch_dims=1)}

    # ---- metadata: what this checkpoint is for ------------------------------------------------------------
    hyper = {
        "noise": [lo, hi], "loss": loss, "lr": float(lr), "batch_size": batch_size, "seed": int(seed),
        "noise_level_input": bool(noise_level_input),
        **({} if input_fn is None else {"input_fn": str(getattr(input_fn, "description", None) or getattr(
            input_fn, "__qualname__", type(input_fn).__name__))}),
        **({} if lr_final is None else {"lr_final": float(lr_final)}),
        **({"warmup_steps": int(warmup_steps)} if warmup_steps else {}),
        "steps_per_epoch": steps, "measurement_noise": float(measurement_noise),
        "adversarial": None if disc is None else {**_describe_module(disc), "weight": w_adv},
        "feature": None if comparator is None else {"class": type(comparator).__name__, "weight": w_feat},
    }
    metadata = {
        "kind": KIND,
        "model": _describe_module(model),
        "conditional": bool(conditional),
        "operator": None if operator is None else {
            "repr": repr(operator), "fingerprint": operator.fingerprint(),
            "in_shape": list(operator.in_shape), "out_shape": list(operator.out_shape)},
        "data": description,
        "sample_shape": list(sample_shape),
        "hyper": hyper,
        "epochs": epochs,
        "figures": {"epoch": [], **{k: [] for k in LOSS_KEYS}, "val_psnr": [], "val_ssim": [], "seconds": [],
                    "val_input_psnr": None if val is None else val["input_psnr"]},
        "progress": {"epoch": 0, "step": 0, "global_step": 0, "complete": epochs == 0},
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
    }
    if extra_metadata:
        metadata["extra"] = checkpoint_safe(dict(extra_metadata), "extra_metadata")
    compare = {"model": metadata["model"], "conditional": metadata["conditional"], "data": description,
               "sample_shape": metadata["sample_shape"]}
    if operator is None:
        compare["operator"] = None
    else:
        compare["operator__fingerprint"] = metadata["operator"]["fingerprint"]
    active = {"loss", "rec"} | ({"disc", "adv"} if disc is not None else set()) | (
        {"feat"} if comparator is not None else set())
    compare.update({f"hyper__{k}": v for k, v in hyper.items()})

    # ---- state -------------------------------------------------------------------------------------------
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    disc_optimizer = None if disc is None else torch.optim.Adam(disc.parameters(), lr=lr, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng(int(seed))
    epoch, step, global_step = 0, 0, 0
    perm = None
    sums = {k: 0.0 for k in LOSS_KEYS}
    epoch_seconds = 0.0
    global_rng_state = None

    ckpt_path = None if checkpoint is None else Path(checkpoint)
    if ckpt_path is not None and resume and ckpt_path.exists():
        blob = load_checkpoint(ckpt_path, expect_kind=KIND)
        old, state = blob["metadata"], blob["state"]
        try:
            check_compatible(old, **compare)
        except ValueError as err:
            raise ValueError(f"{ckpt_path}: cannot resume: {err}; delete the file, choose another path or pass "
                             "resume=False to overwrite it") from None
        if "optimizer" not in state:
            raise ValueError(f"{ckpt_path}: holds only exported weights, no training state to resume from")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if disc is not None:
            disc.load_state_dict(state["discriminator"])
            disc_optimizer.load_state_dict(state["discriminator_optimizer"])
        gen.set_state(state["rng"]["torch"])
        rng.bit_generator.state = state["rng"]["numpy"]
        global_rng_state = state["rng"]["torch_global"]
        epoch, step, global_step = int(state["epoch"]), int(state["step"]), int(state["global_step"])
        perm = state["perm"]
        sums = {k: float(state["sums"][k]) for k in LOSS_KEYS}
        epoch_seconds = float(state["epoch_seconds"])
        metadata["figures"] = old["figures"]
        metadata["progress"] = dict(old["progress"])
        if log is not None:
            where = "finished" if epoch >= epochs else f"epoch {epoch + 1}, step {step}/{steps}"
            log(f"resuming from {ckpt_path} ({where})")

    def save():
        if ckpt_path is None:
            return
        metadata["progress"] = {"epoch": epoch, "step": step, "global_step": global_step,
                                "complete": epoch >= epochs}
        metadata["epochs"] = epochs
        state = {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "epoch": epoch, "step": step, "global_step": global_step,
            "perm": perm if perm is not None else None,
            "sums": dict(sums), "epoch_seconds": epoch_seconds,
            "rng": {"torch": gen.get_state(), "numpy": rng.bit_generator.state,
                    "torch_global": torch.get_rng_state()},
        }
        if disc is not None:
            state["discriminator"] = disc.state_dict()
            state["discriminator_optimizer"] = disc_optimizer.state_dict()
        save_checkpoint(ckpt_path, {"metadata": metadata, "state": state})

    def draw_batch():
        if sampler is not None:
            x = torch.as_tensor(np.asarray(sampler(batch_size, rng), dtype=np.float32))
            if tuple(x.shape) != (batch_size,) + sample_shape:
                raise ValueError(f"train_denoiser: the sampler returned shape {tuple(x.shape)}, "
                                 f"expected {(batch_size,) + sample_shape}")
            return x
        if steps_per_epoch is None:
            idx = perm[step * batch_size: (step + 1) * batch_size]
        else:
            idx = perm[(step * batch_size + torch.arange(batch_size)) % n_data]
        return data[idx]

    def reconstruct(v, y, sigma):
        inputs = (v,) + ((y,) if conditional else ()) + ((sigma,) if noise_level_input else ())
        return model(*inputs)

    total_steps = max(epochs * steps, 1)

    def learning_rate():
        rate = lr if lr_final is None else lr * (lr_final / lr) ** (global_step / max(total_steps - 1, 1))
        return rate * min(1.0, (global_step + 1) / warmup_steps) if warmup_steps else rate

    def train_step(x):
        x = x.to(device=device, dtype=dtype)
        b = x.shape[0]
        sigma = lo + (hi - lo) * torch.rand(b, generator=gen, dtype=torch.float32)
        if input_fn is None:
            n = torch.randn(x.shape, generator=gen, dtype=torch.float32) * sigma.reshape((b,) + (1,) * (x.ndim - 1))
            v = x + n.to(device=device, dtype=dtype)
        y = None
        if conditional:
            with torch.no_grad():
                y = operator(x)
            if measurement_noise:
                e = torch.randn(y.shape, generator=gen, dtype=torch.float32)
                y = y + measurement_noise * e.to(device=device, dtype=y.dtype)
        if input_fn is not None:
            with torch.no_grad():
                v = input_fn(x, y, sigma.to(device=device, dtype=dtype), gen).to(device=device, dtype=dtype)
        out = reconstruct(v, y, sigma.to(device=device, dtype=dtype))
        losses = {}
        if disc is not None:  # eq. 12, G fixed
            d_real, d_fake = disc(x), disc(out.detach())
            loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
            disc_optimizer.zero_grad(set_to_none=True)
            loss_d.backward()
            disc_optimizer.step()
            losses["disc"] = float(loss_d.detach())
        rec = F.mse_loss(out, x) if loss == "l2" else F.l1_loss(out, x)
        total = rec
        losses["rec"] = float(rec.detach())
        if comparator is not None:  # eq. 13's feature term
            if hasattr(comparator, "feature_loss"):
                lf = comparator.feature_loss(x, out)
            else:
                lf = F.mse_loss(comparator(out), comparator(x).detach())
            total = total + w_feat * lf
            losses["feat"] = float(lf.detach())
        if disc is not None:  # eq. 13's adversarial term, D fixed
            disc.requires_grad_(False)
            try:
                la = F.softplus(-disc(out)).mean()
            finally:
                disc.requires_grad_(True)
            total = total + w_adv * la
            losses["adv"] = float(la.detach())
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate()
        optimizer.step()
        losses["loss"] = float(total.detach())
        if not math.isfinite(losses["loss"]):
            raise FloatingPointError(f"train_denoiser: the loss became {losses['loss']} at step {global_step + 1}; "
                                     "lower lr or check the data")
        return losses

    def validate():
        if val is None:
            return None, None
        was_training = model.training
        model.eval()
        outs = []
        try:
            with torch.no_grad():
                for i in range(0, len(val["noisy"]), val_batch_size):
                    v = torch.from_numpy(val["noisy"][i: i + val_batch_size]).to(device=device, dtype=dtype)
                    y = None
                    if conditional:
                        y = torch.from_numpy(val["y"][i: i + val_batch_size]).to(device=device, dtype=dtype)
                    sigma = torch.from_numpy(val["sigma"][i: i + val_batch_size]).to(device=device, dtype=dtype)
                    outs.append(reconstruct(v, y, sigma).float().cpu().numpy())
        finally:
            model.train(was_training)
        out = np.concatenate(outs)
        return psnr(out, val["clean"], batch_dims=1), ssim(out, val["clean"], batch_dims=1)

    fork_devices = [device.index or 0] if device.type == "cuda" else []
    model.train()
    if disc is not None:
        disc.train()
    if log is not None and val is not None and epoch == 0 and step == 0:
        log(f"validation: {len(val['clean'])} images, noisy input PSNR {val['input_psnr']:.2f} dB")
    with torch.random.fork_rng(devices=fork_devices), DeferredSigint() as sigint:
        if global_rng_state is not None:
            torch.set_rng_state(global_rng_state)
        else:
            torch.manual_seed(int(seed))

        def interrupted():
            save()
            if log is not None:
                saved = f"; checkpoint saved to {ckpt_path}, run again to resume" if ckpt_path else ""
                log(f"interrupted at epoch {epoch + 1}, step {step}/{steps}{saved}")
            raise KeyboardInterrupt

        while epoch < epochs:
            if step == 0:
                perm = None if sampler is not None else torch.from_numpy(rng.permutation(n_data))
                sums = {k: 0.0 for k in LOSS_KEYS}
                epoch_seconds = 0.0
            bar = _progress_bar(steps, step, f"epoch {epoch + 1}/{epochs}", progress)
            start = time.perf_counter()
            try:
                while step < steps:
                    losses = train_step(draw_batch())
                    step += 1
                    global_step += 1
                    for k, value in losses.items():
                        sums[k] += value
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix({k: f"{sums[k] / step:.4g}" for k in LOSS_KEYS if k in losses}, refresh=False)
                    if callback is not None:
                        try:
                            callback({"epoch": epoch, "step": step, "global_step": global_step,
                                      "losses": losses, "model": model})
                        except KeyboardInterrupt:
                            epoch_seconds += time.perf_counter() - start
                            start = time.perf_counter()
                            interrupted()
                    if sigint.requested:
                        epoch_seconds += time.perf_counter() - start
                        start = time.perf_counter()
                        interrupted()
                    if checkpoint_every and global_step % int(checkpoint_every) == 0 and step < steps:
                        epoch_seconds += time.perf_counter() - start
                        start = time.perf_counter()
                        save()
            finally:
                if bar is not None:
                    bar.close()
            epoch_seconds += time.perf_counter() - start
            val_psnr, val_ssim = validate()
            fig = metadata["figures"]
            fig["epoch"].append(epoch + 1)
            for k in LOSS_KEYS:
                fig[k].append(sums[k] / steps if k in active else None)
            fig["val_psnr"].append(val_psnr)
            fig["val_ssim"].append(val_ssim)
            fig["seconds"].append(epoch_seconds)
            if log is not None:
                parts = [f"{k} {sums[k] / steps:.5f}" for k in LOSS_KEYS if fig[k][-1] is not None]
                if val_psnr is not None:
                    parts.append(f"val PSNR {val_psnr:.2f} dB SSIM {val_ssim:.4f}")
                log(f"epoch {epoch + 1}/{epochs}: " + ", ".join(parts) + f" ({epoch_seconds:.1f} s)")
            epoch += 1
            step = 0
            perm = None
            save()
            if sigint.requested:
                interrupted()
    metadata["progress"] = {"epoch": epoch, "step": step, "global_step": global_step, "complete": epoch >= epochs}
    model.eval()
    return metadata


# -- loading and exporting --------------------------------------------------------------------------------


def _resolve_factory(recorded: dict):
    module_name, class_name = recorded.get("module") or "", recorded.get("class")
    if not module_name.startswith("ppsolve."):
        raise ValueError(f"load_denoiser: the checkpoint's model class {module_name}.{class_name} is not part of "
                         "ppsolve; pass model_factory (the class or a function building the model)")
    factory = getattr(importlib.import_module(module_name), class_name, None)
    if factory is None:
        raise ValueError(f"load_denoiser: {module_name} has no class {class_name}; pass model_factory")
    return factory


def load_denoiser(path, model_factory=None, *, device=None, expect: dict | None = None):
    """``(model, metadata)`` from a checkpoint written by ``train_denoiser`` or ``export_denoiser``.

    ``model_factory``: the model class (or any callable returning the model); called with the recorded
    ``config`` as keyword arguments when the model had one, else with no arguments. If None, the recorded
    class is imported (only classes inside ``ppsolve``). A class whose name differs from the recorded one
    is refused. ``expect``: keys ``check_compatible`` verifies first, e.g.
    ``{"operator__fingerprint": A.fingerprint()}``. The model is returned in eval mode on ``device``.
    """
    blob = load_checkpoint(path, expect_kind=KIND)
    metadata, state = blob["metadata"], blob["state"]
    if expect:
        try:
            check_compatible(metadata, **expect)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
    recorded = metadata.get("model") or {}
    factory = model_factory if model_factory is not None else _resolve_factory(recorded)
    if isinstance(factory, type) and recorded.get("class") and factory.__name__ != recorded["class"]:
        raise ValueError(f"{path}: a checkpoint of a {recorded['class']}, not of a {factory.__name__}")
    config = recorded.get("config")
    model = factory(**config) if config else factory()
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ValueError(f"{path}: the weights do not fit the model built by {factory!r}: {err}") from err
    if device is not None:
        model.to(device)
    model.eval()
    return model, metadata


def export_denoiser(src, dst) -> Path:
    """Write the model weights and metadata of the training checkpoint ``src`` to ``dst`` (atomically),
    without the optimiser and RNG state: the file to ship and to load with ``load_denoiser``."""
    blob = load_checkpoint(src, expect_kind=KIND)
    state = {"model": blob["state"]["model"]}
    return save_checkpoint(dst, {"metadata": blob["metadata"], "state": state})


# -- command line: recipes --------------------------------------------------------------------------------


def _default_data_root() -> Path:
    """``$PPSOLVE_DATA``: the folder of image sets, used when ``--data`` is not given."""
    env = os.environ.get("PPSOLVE_DATA")
    if not env:
        raise SystemExit("no data: pass --data PATH, or set PPSOLVE_DATA to the folder holding mnist/, train400/, ...")
    return Path(env).expanduser()


def _range(text: str) -> tuple[int, int]:
    try:
        a, b = (int(s) for s in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP, e.g. 0:7000, got {text!r}") from None
    if not 0 <= a < b:
        raise argparse.ArgumentTypeError(f"expected 0 <= START < STOP, got {text!r}")
    return a, b


MNIST_HELD_OUT = 8000  # digits 8000-9999 of the MNIST test file: the final test set, never trained or tuned on


def _mnist_images_path(data: Path) -> Path:
    if data.is_dir():
        for name in ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"):
            if (data / name).is_file():
                return data / name
        if (data / "mnist").is_dir():
            return _mnist_images_path(data / "mnist")
        raise FileNotFoundError(f"{data}: no t10k-images-idx3-ubyte[.gz] in this folder")
    return data


def _mnist_dae_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None,
                        help="the MNIST test images, t10k-images-idx3-ubyte[.gz], or a folder holding it "
                             "(default: $PPSOLVE_DATA/mnist)")
    parser.add_argument("--train-range", type=_range, default="0:7000", metavar="START:STOP",
                        help="digits to train on (default: %(default)s)")
    parser.add_argument("--val-range", type=_range, default="7000:8000", metavar="START:STOP",
                        help="digits to validate on (default: %(default)s); digits 8000-9999 are held out for the "
                             "final test and refused for training and validation")
    parser.add_argument("--init", choices=("lsuv", "default"), default="lsuv",
                        help="initial weights: lsuv (the default: unit-variance layers on 512 noisy training "
                             "digits; with PyTorch's initialisation this deep plain ReLU network collapses to a "
                             "constant) or default (PyTorch's)")


def _mnist_dae_run(args) -> dict:
    from .data import load_mnist_images
    from .nn.dae import DAE

    for what, (a, b) in (("--train-range", args.train_range), ("--val-range", args.val_range)):
        if b > MNIST_HELD_OUT:
            raise SystemExit(f"{what} {a}:{b}: digits {MNIST_HELD_OUT}-9999 are held out for the final test")
    (ta, tb), (va, vb) = args.train_range, args.val_range
    if ta < vb and va < tb:
        raise SystemExit(f"--train-range {ta}:{tb} and --val-range {va}:{vb} overlap")
    path = _mnist_images_path(args.data if args.data is not None else _default_data_root() / "mnist")
    images = load_mnist_images(path)
    if len(images) < MNIST_HELD_OUT:
        raise SystemExit(f"{path}: {len(images)} digits; expected the 10,000-digit MNIST test file")
    torch.manual_seed(args.seed)  # the DAE's initial weights
    model = DAE()
    if args.init == "lsuv":
        g = torch.Generator().manual_seed(args.seed)
        sample = torch.from_numpy(images[ta:tb][:512])
        lsuv_init(model, sample + 0.25 * torch.randn(sample.shape, generator=g))
    return {
        "model": model,
        "images": images[ta:tb],
        "val_images": images[va:vb],
        "data_description": f"MNIST t10k digits {ta}-{tb - 1} ({path.name}), float32 in [0, 1], "
                            f"sha256 {_array_digest(images[ta:tb])}",
        "extra_metadata": {"split": {"train": [ta, tb], "val": [va, vb], "held_out": [MNIST_HELD_OUT, 10000]},
                           "recipe": "mnist-dae", "init": args.init},
    }


TRAIN400_VAL = 20  # the last 20 Train400 images (test_381 ... test_400, name order) validate; the rest train


class _CropSampler:
    """``sampler(batch_size, rng)``: random ``size x size`` crops of the given images, with one of the 8
    flips / quarter turns at random (``ppsolve.data.random_crops``), float32 in [0, 1]."""

    def __init__(self, images, size: int, description: str):
        self.images = list(images)
        self.size = int(size)
        self.description = description

    def __call__(self, batch_size, rng):
        from .data import random_crops

        return random_crops(self.images, self.size, int(batch_size), seed=rng, augment=True).astype(np.float32)


def _int_list(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def _natural_gray_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None,
                        help="the Train400 folder (180 x 180 grey PNGs; default: $PPSOLVE_DATA/train400 or "
                             "$PPSOLVE_DATA/train400). Never BSD68 / Set12: those are for evaluation only")
    parser.add_argument("--patch", type=int, default=40, help="training crop size (default: %(default)s)")
    parser.add_argument("--arch", choices=("unet", "dncnn"), default="unet",
                        help="unet: SigmaUNet (the zoo's); dncnn: the dilated SigmaDnCNN (default: %(default)s)")
    parser.add_argument("--widths", type=_int_list, default=(32, 64, 128), metavar="W1,W2,...",
                        help="unet: width of each level (default: 32,64,128)")
    parser.add_argument("--blocks", type=int, default=1, help="unet: residual blocks per level (default: %(default)s)")
    parser.add_argument("--features", type=int, default=48, help="dncnn: hidden width (default: %(default)s)")
    parser.add_argument("--dilations", type=_int_list, default=(1, 2, 3, 4, 3, 2, 1),
                        metavar="D1,D2,...", help="dncnn: one 3x3 layer per dilation (default: 1,2,3,4,3,2,1)")
    parser.add_argument("--blind", action="store_true",
                        help="dncnn: the blind DnCNN without the noise-level input (the zoo's networks take the "
                             "noise level as an input, so ADMM can lower it stage by stage)")
    parser.add_argument("--steps-per-epoch", type=int, default=100, help="default: %(default)s")


def _natural_gray_run(args) -> dict:
    from .data import list_images, load_images
    from .nn.dncnn import DnCNN, SigmaDnCNN
    from .nn.unet import SigmaUNet

    root = args.data if args.data is not None else _default_data_root() / "train400"
    paths = list_images(root)
    if len(paths) <= TRAIN400_VAL:
        raise SystemExit(f"{root}: {len(paths)} images; expected the 400 Train400 images")
    bad = [p for p in paths if "bsd68" in str(p).lower() or "set12" in str(p).lower()]
    if bad:
        raise SystemExit(f"{bad[0]}: BSD68 / Set12 are evaluation sets, not training data")
    train_paths, val_paths = paths[:-TRAIN400_VAL], paths[-TRAIN400_VAL:]
    images = load_images(train_paths)
    val_full = load_images(val_paths)
    n = args.patch
    val = np.stack([im[i:i + n, j:j + n] for im in val_full
                    for i in range(0, im.shape[0] - n + 1, n) for j in range(0, im.shape[1] - n + 1, n)])
    torch.manual_seed(args.seed)
    if args.arch == "unet":
        if args.blind:
            raise SystemExit("--blind is for --arch dncnn; the U-Net always takes the noise level")
        model = SigmaUNet(channels=1, widths=args.widths, blocks=args.blocks)
        if args.patch % model.multiple:
            raise SystemExit(f"--patch {args.patch}: the U-Net needs a multiple of {model.multiple}")
    else:
        model = (DnCNN if args.blind else SigmaDnCNN)(channels=1, features=args.features, dilations=args.dilations)
    description = (f"Train400 {len(train_paths)} images {train_paths[0].name}..{train_paths[-1].name}, random "
                   f"{args.patch}x{args.patch} crops with flips/rotations, float32 in [0, 1], "
                   f"sha256 {_array_digest(images)}")
    return {
        "model": model,
        "images": _CropSampler(images, args.patch, description),
        "steps_per_epoch": args.steps_per_epoch,
        "val_images": val,
        "noise_level_input": not args.blind,
        "data_description": description,
        "extra_metadata": {"recipe": "natural-gray", "patch": args.patch,
                           "split": {"train": [p.name for p in (train_paths[0], train_paths[-1])],
                                     "val": [p.name for p in (val_paths[0], val_paths[-1])],
                                     "val_tiles": len(val)}},
    }


CUB_VAL = 40  # the last 40 CUB training birds validate (the 200 after them are the held-out test set)


class BicubicOrNoise:
    """``input_fn`` for a conditional super-resolution prior: each sample's ``v`` is, with probability
    ``fraction``, the aligned bicubic upsampling of its measurement ``y`` (a grey ``y`` repeated in every colour
    channel) (``ppsolve.interpolation.bicubic_upsample``:
    what ADMM starts from, blurred rather than noisy) plus ``sigma n``, otherwise ``x + sigma n``. Trained on
    white noise alone, the cPSDAE learns to denoise but never to add the detail a bicubic estimate lacks, and
    ADMM started at bicubic stays there (measured: +0.0 dB on the CUB validation birds)."""

    def __init__(self, factor: int, fraction: float = 0.5):
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"BicubicOrNoise: fraction must be in [0, 1], got {fraction!r}")
        self.factor, self.fraction = int(factor), float(fraction)
        self.description = f"BicubicOrNoise(factor={self.factor}, fraction={self.fraction:g})"
        self._matrices = {}

    def _upsample(self, y: torch.Tensor) -> torch.Tensor:
        from .interpolation import cubic_interpolation_matrix

        key = (tuple(y.shape[-2:]), y.dtype, y.device)
        if key not in self._matrices:
            rows, cols = (torch.as_tensor(cubic_interpolation_matrix(n, self.factor, 0.0), dtype=y.dtype,
                                          device=y.device) for n in y.shape[-2:])
            self._matrices[key] = rows, cols
        rows, cols = self._matrices[key]
        return rows @ y @ cols.T

    def __call__(self, x, y, sigma, generator):
        b = x.shape[0]
        shape = (b,) + (1,) * (x.ndim - 1)
        noise = torch.randn(x.shape, generator=generator, dtype=torch.float32).to(x.device, x.dtype)
        pick = (torch.rand(b, generator=generator) < self.fraction).to(x.device).reshape(shape)
        up = self._upsample(y).to(x.dtype)
        if up.ndim < x.ndim:  # a grey y for a colour x (colorization): the same grey in every channel
            up = up.unsqueeze(-3).expand_as(x)
        base = torch.where(pick, up, x)
        return base + sigma.to(x.dtype).reshape(shape) * noise


def _cub_sr4_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None,
                        help="the CUB-200 images folder (species folders of 227 x 227 JPEGs; default: "
                             "$PPSOLVE_DATA/cub200/images); its last 200 birds are held out and never read")
    parser.add_argument("--patch", type=int, default=96, help="training crop size, divisible by 4 (default: %(default)s)")
    parser.add_argument("--steps-per-epoch", type=int, default=100, help="default: %(default)s")
    parser.add_argument("--measurement-noise", type=float, default=0.01,
                        help="noise of y = A x + e in training (default: %(default)s, the benchmark's)")
    parser.add_argument("--bicubic-fraction", type=float, default=0.5,
                        help="share of training inputs v made from the bicubic upsampling of y rather than from x "
                             "(train.BicubicOrNoise; default: %(default)s)")


def _cub_sr4_run(args) -> dict:
    from .data import list_images, load_images
    from .experiments.natural import CUB_HELD_OUT, split_last, sr_operator
    from .nn.cpsdae import CPSDAE

    if args.patch % 4:
        raise SystemExit(f"--patch {args.patch}: must be divisible by the factor 4")
    root = args.data if args.data is not None else _default_data_root() / "cub200" / "images"
    train_paths, _ = split_last(list_images(root), CUB_HELD_OUT)
    train_paths, val_paths = train_paths[:-CUB_VAL], train_paths[-CUB_VAL:]
    images = load_images(train_paths, mode="RGB")
    val = load_images(val_paths, mode="RGB", crop=args.patch)
    torch.manual_seed(args.seed)
    model = CPSDAE.table2()
    shape = (3, args.patch, args.patch)
    description = (f"CUB {len(train_paths)} birds {train_paths[0].parent.name}/{train_paths[0].name}.."
                   f"{train_paths[-1].parent.name}/{train_paths[-1].name}, random {args.patch}x{args.patch} "
                   f"RGB crops with flips/rotations, float32 in [0, 1], sha256 {_array_digest(images)}")
    return {
        "model": model,
        "images": _CropSampler(images, args.patch, description),
        "steps_per_epoch": args.steps_per_epoch,
        "val_images": val,
        "operator": sr_operator(shape, 4),
        "conditional": True,
        "input_fn": BicubicOrNoise(4, args.bicubic_fraction) if args.bicubic_fraction else None,
        "measurement_noise": args.measurement_noise,
        "data_description": description,
        "extra_metadata": {"recipe": "cub-sr4-cpsdae", "patch": args.patch,
                           "split": {"train": len(train_paths), "val": [f"{p.parent.name}/{p.name}" for p in
                                                                          (val_paths[0], val_paths[-1])],
                                     "held_out": f"the last {CUB_HELD_OUT} in list_images order"}},
    }


CELEBA_VAL = 40  # the last 40 CelebA training faces validate (the 500 after them are held out)


def _celeba_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None,
                        help="the CelebA images folder (000001.jpg ...; default: $PPSOLVE_DATA/celeba/images); its "
                             "last 500 faces are held out and never read")
    parser.add_argument("--steps-per-epoch", type=int, default=100, help="default: %(default)s")
    parser.add_argument("--measurement-noise", type=float, default=0.01, help="default: %(default)s")
    parser.add_argument("--bicubic-fraction", type=float, default=0.5,
                        help="share of inputs v made from the bicubic upsampling of the grey y (default: %(default)s)")


class _ArraySampler:
    """``sampler(batch_size, rng)``: random images of a stack, with a random horizontal flip."""

    def __init__(self, images, description: str):
        self.images, self.description = images, description

    def __call__(self, batch_size, rng):
        idx = rng.integers(len(self.images), size=int(batch_size))
        flip = rng.integers(2, size=int(batch_size)).astype(bool)
        out = self.images[idx].copy()
        out[flip] = out[flip][..., ::-1]
        return out


def _celeba_run(args) -> dict:
    from .data import list_images, load_images
    from .experiments.natural import CELEBA_HELD_OUT, CELEBA_SIZE, joint_sr_color_operator, split_last
    from .nn.cpsdae import CPSDAE

    root = args.data if args.data is not None else _default_data_root() / "celeba" / "images"
    train_paths, _ = split_last(list_images(root), CELEBA_HELD_OUT)
    train_paths, val_paths = train_paths[:-CELEBA_VAL], train_paths[-CELEBA_VAL:]
    images = load_images(train_paths, mode="RGB", crop=88, size=CELEBA_SIZE)
    val = load_images(val_paths, mode="RGB", crop=88, size=CELEBA_SIZE)
    torch.manual_seed(args.seed)
    model = CPSDAE.table3(y_channels=1)
    description = (f"CelebA {len(train_paths)} faces {train_paths[0].name}..{train_paths[-1].name}, central 88x88 "
                   f"resized to 64x64 (antialiased bicubic), random horizontal flips, sha256 {_array_digest(images)}")
    return {
        "model": model,
        "images": _ArraySampler(images, description),
        "steps_per_epoch": args.steps_per_epoch,
        "val_images": val,
        "operator": joint_sr_color_operator(CELEBA_SIZE, 2),
        "conditional": True,
        "measurement_noise": args.measurement_noise,
        "input_fn": BicubicOrNoise(2, args.bicubic_fraction) if args.bicubic_fraction else None,
        "data_description": description,
        "extra_metadata": {"recipe": "celeba-sr2-color", "terms": "CelebA: non-commercial research only, no "
                                                                   "redistribution; never ship these weights",
                           "split": {"train": len(train_paths), "val": [val_paths[0].name, val_paths[-1].name],
                                     "held_out": f"the last {CELEBA_HELD_OUT}"}},
    }


@dataclass(frozen=True)
class Recipe:
    """A named training set-up for ``python -m ppsolve.train NAME``: ``build(args)`` returns the keyword
    arguments of ``train_denoiser`` that are specific to it (model, images, val_images, ...), ``defaults``
    the values of the common options."""

    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    build: Callable[[argparse.Namespace], dict]
    defaults: dict


RECIPES: dict[str, Recipe] = {
    "mnist-dae": Recipe(
        help="the MNIST denoising auto-encoder of Table 1",
        description="Train the paper's Table 1 DAE (ppsolve.nn.dae.DAE) as a denoiser on MNIST test digits "
                    "0-6999, validate on 7000-7999 (8000-9999 stay held out), with Gaussian noise of a "
                    "standard deviation drawn uniformly from --noise per digit.",
        add_arguments=_mnist_dae_arguments,
        build=_mnist_dae_run,
        defaults={"epochs": 40, "batch_size": 64, "lr": 1e-3, "noise": (0.0, 0.5), "loss": "l2",
                  "out": "ppsolve/zoo/mnist-dae.pt"},
    ),
    "natural-gray": Recipe(
        help="a noise-conditional grey natural-image denoiser (small U-Net) trained on Train400",
        description="Train ppsolve.nn.unet.SigmaUNet (3 levels of 32, 64, 128 channels, one residual block each, "
                    "bias-free, residual output, the noise level as an extra input; --arch dncnn: the dilated "
                    "SigmaDnCNN) as a Gaussian denoiser on random crops of Train400 images 1-380 (381-400 "
                    "validate, all non-overlapping patch-size tiles), noise standard deviation uniform in --noise "
                    "per crop. The zoo's natural-gray prior (deblurring and grey super-resolution); 19 minutes on "
                    "one core of the 2-core development CPU (another training ran on the other).",
        add_arguments=_natural_gray_arguments,
        build=_natural_gray_run,
        defaults={"epochs": 44, "batch_size": 32, "lr": 1e-3, "lr_final": 1e-4, "noise": (0.0, 0.15), "loss": "l2",
                  "out": "ppsolve/zoo/natural-gray.pt"},
    ),
    "cub-sr4-cpsdae": Recipe(
        help="the cPSDAE of Table 2 for 4x super-resolution of CUB birds (colour)",
        description="Train ppsolve.nn.cpsdae.CPSDAE.table2() (residual output) as a denoiser G(v, y) conditioned "
                    "on y = S H x + e (3x3 Gaussian sigma 1, every 4th pixel, e ~ N(0, 0.01^2); "
                    "ppsolve.experiments.natural.sr_operator) on random crops of the CUB birds but the last 240 "
                    "(the last 40 of them validate, the last 200 are held out), noise standard deviation of v "
                    "uniform in --noise.",
        add_arguments=_cub_sr4_arguments,
        build=_cub_sr4_run,
        defaults={"epochs": 30, "batch_size": 16, "lr": 1e-3, "lr_final": 1e-4, "warmup_steps": 300,
                  "noise": (0.0, 0.1), "loss": "l2",
                  "out": "ppsolve/zoo/cub-sr4-cpsdae.pt"},
    ),
    "celeba-sr2-color": Recipe(
        help="the cPSDAE of Table 3 with a grey y: joint 2x super-resolution and colorization of CelebA faces",
        description="Train CPSDAE.table3(y_channels=1) as G(v, y) with y = S H R x + e (R: BT.601 grey, 3x3 Gaussian "
                    "sigma 1, every 2nd pixel; ppsolve.experiments.natural.joint_sr_color_operator) on CelebA faces "
                    "(central 88x88 resized to 64x64) but the last 540 (40 validate, 500 held out). CelebA's terms "
                    "forbid redistribution: the weights stay local (default --out under results/), never in the zoo.",
        add_arguments=_celeba_arguments,
        build=_celeba_run,
        defaults={"epochs": 20, "batch_size": 16, "lr": 1e-3, "lr_final": 1e-4, "warmup_steps": 300,
                  "noise": (0.0, 0.1), "loss": "l2", "out": "results/celeba/celeba-sr2-color.pt"},
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ppsolve.train",
        description="Train a learned proximal operator (denoiser) for ppsolve's ADMM. Training is resumable: "
                    "the full state is checkpointed every epoch and every --checkpoint-every steps, and "
                    "running the same command again continues where it stopped (also after Ctrl-C).",
    )
    sub = parser.add_subparsers(dest="recipe", required=True, metavar="RECIPE")
    for name, recipe in RECIPES.items():
        d = recipe.defaults
        p = sub.add_parser(name, help=recipe.help, description=recipe.description)
        recipe.add_arguments(p)
        p.add_argument("--out", type=Path, default=Path(d["out"]),
                       help="where the trained weights and their metadata go (a ppsolve checkpoint; a .json "
                            "summary is written beside it; default: %(default)s)")
        p.add_argument("--checkpoint", type=Path, default=None,
                       help="the resumable training checkpoint (default: results/train/<recipe>.ckpt.pt)")
        p.add_argument("--fresh", action="store_true", help="ignore an existing training checkpoint and start over")
        p.add_argument("--epochs", type=int, default=d["epochs"], help="default: %(default)s")
        p.add_argument("--batch-size", type=int, default=d["batch_size"], help="default: %(default)s")
        p.add_argument("--lr", type=float, default=d["lr"], help="Adam learning rate (default: %(default)s)")
        p.add_argument("--lr-final", type=float, default=d.get("lr_final"),
                       help="decay the learning rate geometrically to this value at the last step "
                            "(default: %(default)s; None keeps it constant)")
        p.add_argument("--warmup-steps", type=int, default=d.get("warmup_steps", 0),
                       help="linear learning-rate warm-up over the first steps (default: %(default)s)")
        p.add_argument("--noise", type=float, nargs=2, default=d["noise"], metavar=("SIGMA_MIN", "SIGMA_MAX"),
                       help="range of the noise standard deviation, drawn uniformly per image (default: "
                            f"{d['noise'][0]} {d['noise'][1]})")
        p.add_argument("--loss", choices=LOSSES, default=d["loss"], help="reconstruction loss (default: %(default)s)")
        p.add_argument("--seed", type=int, default=0, help="seeds the weights, the shuffles and the noise "
                                                              "(default: %(default)s)")
        p.add_argument("--checkpoint-every", type=int, default=200,
                       help="steps between mid-epoch checkpoints (default: %(default)s)")
        p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: cpu)")
        p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = RECIPES[args.recipe]
    kwargs = recipe.build(args)
    checkpoint = args.checkpoint or Path("results") / "train" / f"{args.recipe}.ckpt.pt"
    model = kwargs.pop("model")
    if args.device:
        model.to(args.device)
    start = time.perf_counter()
    with contextlib.suppress(KeyboardInterrupt):
        metadata = train_denoiser(
            model, kwargs.pop("images"), noise=tuple(args.noise), loss=args.loss, epochs=args.epochs,
            batch_size=args.batch_size, lr=args.lr, lr_final=args.lr_final,
            warmup_steps=args.warmup_steps, seed=args.seed, checkpoint=checkpoint,
            checkpoint_every=args.checkpoint_every, resume=not args.fresh, progress=not args.no_progress,
            **kwargs)
        out = export_denoiser(checkpoint, args.out)
        summary = out.with_suffix(".json")
        text = json.dumps(metadata, indent=1, default=str)
        # one line per list of numbers (the per-epoch figures)
        text = re.sub(r"\[\s+([^\[\]{}\"]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
        summary.write_text(text + "\n")
        fig = metadata["figures"]
        final = ""
        if fig["val_psnr"] and fig["val_psnr"][-1] is not None:
            final = f"; validation PSNR {fig['val_psnr'][-1]:.2f} dB, SSIM {fig['val_ssim'][-1]:.4f}"
        print(f"wrote {out} and {summary} ({time.perf_counter() - start:.0f} s this run{final})")
        return 0
    print(f"interrupted; run the same command again to resume from {checkpoint}", file=sys.stderr)
    return 130


if __name__ == "__main__":
    sys.exit(main())
