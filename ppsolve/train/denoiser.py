r"""Training denoisers that serve as ADMM's proximal operator (paper sections 3.1 and 3.3, eqs. 12-13).

``train_denoiser(model, images, ...)`` (a ``DenoiserTrainer``) trains ``model`` in place on pairs made on the
fly from clean images ``x``: the network sees ``v = x + n`` (and, when ``conditional``, the measurement
``y = A x + e``) and is trained to return ``x``:

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

Training is organised in epochs of ``steps_per_epoch`` steps (validation and a checkpoint after each), and
run by ``ppsolve.train.loop.Trainer``: learning-rate schedule, resumable atomic checkpoints, Ctrl-C.

Reproducible and resumable. All randomness comes from a ``torch.Generator`` (noise) and a NumPy
``Generator`` (the epoch's shuffle, or the batch sampler) seeded by ``seed``, plus the global torch RNG
(for layers such as dropout), which is seeded inside a fork so the caller's RNG state is left as it was.
A later call with the same arguments resumes from the checkpoint and ends with the same weights as an
uninterrupted run; a call with a larger ``epochs`` continues a finished run. A checkpoint recorded for other
settings (model, data, operator, noise, loss, lr, ...) is refused with a ``ValueError`` naming the difference
(pass ``resume=False`` to start afresh and overwrite it).

Several processes (``torch.distributed`` initialised, e.g. by torchrun; ``docs/distributed-training.md``):
every rank prepares the whole global batch of ``batch_size`` samples (images, noise, ``y``, ``v``) from the same
seeded streams, so it is the one-process batch, and trains on its own ``batch_size / world_size`` rows of it
(``batch_size``, and with an array the last batch of an epoch, must split evenly) through
DistributedDataParallel, which averages the gradients: the weights are those of one process with the same
batch, to float rounding. The discriminator's gradients are averaged by hand. The global torch RNG is seeded
per rank (dropout masks differ between ranks; a network with dropout is then not the one-process run), and
BatchNorm layers use their rank's share's statistics (DDP's default). Validation runs on rank 0 only and its
figures are sent to the others; only rank 0 logs, shows progress and writes the checkpoint; the callback runs
on every rank.

The checkpoint, and the file ``export_denoiser`` makes from it, are denoiser model files
(``ppsolve.nn.registry``): the network must be one of its registered architectures.
"""
from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .. import modelfile
from .._validate import choice, interval, positive_int, real_number
from ..nn.registry import DENOISER, describe
from .distributed import rank_seed
from .loop import SeededGlobalRNG, Trainer
from .metadata import LOSS_KEYS, array_digest, denoiser_metadata, weighted
from .validation import ValidationSet, as_float_array

__all__ = ["LOSSES", "DenoiserTrainer", "export_denoiser", "train_denoiser"]

LOSSES = ("l2", "l1")


class DenoiserTrainer(Trainer):
    """Trains a denoiser in place (see the module docstring and ``train_denoiser`` for the parameters)."""

    description = "denoiser"

    def __init__(self, model: torch.nn.Module, images, *, operator=None, noise=(0.0, 0.2), loss: str = "l2",
                 conditional: bool = False, noise_level_input: bool = False, input_fn: Callable | None = None,
                 adversarial=None, feature=None, epochs: int = 10, batch_size: int = 64, lr: float = 1e-3,
                 lr_final: float | None = None, warmup_steps: int = 0, seed: int = 0, val_images=None,
                 checkpoint=None, checkpoint_every: int | None = 200, resume: bool = True, progress: bool = True,
                 measurement_noise: float = 0.0, steps_per_epoch: int | None = None,
                 log: Callable[[str], None] | None = print, callback: Callable[[dict], None] | None = None,
                 data_description: str | None = None, device=None, val_batch_size: int = 256,
                 extra_metadata: dict | None = None, threads: int | None = None,
                 distributed: bool | None = None):
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"train_denoiser: model must be a torch.nn.Module, got {type(model).__name__}")
        describe(model)  # a registered architecture's config must be one its model file can hold
        if isinstance(noise, (int, float)) and not isinstance(noise, bool):
            noise = (noise, noise)
        self.lo, self.hi = interval(noise, "train_denoiser noise")
        if self.lo < 0:
            raise ValueError(f"train_denoiser noise: expected 0 <= sigma_min <= sigma_max, got {noise!r}")
        self.loss = choice(loss, "train_denoiser loss", LOSSES)
        epochs = positive_int(epochs, "train_denoiser epochs")
        self.batch_size = positive_int(batch_size, "train_denoiser batch_size")
        self.val_batch_size = positive_int(val_batch_size, "train_denoiser val_batch_size")
        self.measurement_noise = real_number(measurement_noise, "train_denoiser measurement_noise")
        self.conditional, self.noise_level_input = bool(conditional), bool(noise_level_input)
        if self.conditional and operator is None:
            raise ValueError("train_denoiser: conditional=True needs the operator A to make the measurements y = A x")
        if operator is not None and not self.conditional:
            raise ValueError("train_denoiser: an operator is only used with conditional=True (the model gets y = A x)")
        if self.measurement_noise and not self.conditional:
            raise ValueError("train_denoiser: measurement_noise is only used with conditional=True")
        self.disc, self.w_adv = weighted(adversarial, "adversarial")
        self.comparator, self.w_feat = weighted(feature, "feature")
        if self.comparator is not None and not (hasattr(self.comparator, "feature_loss") or callable(self.comparator)):
            raise TypeError("train_denoiser: feature must be (comparator with feature_loss(x, x_hat), weight)")
        self.model, self.operator, self.input_fn = model, operator, input_fn
        self.net = model  # what a step calls: the model, in DistributedDataParallel during a distributed run
        self.seed, self.epochs, self.log, self.callback = int(seed), epochs, log, callback
        self._setup_data(images, steps_per_epoch, data_description)
        super().__init__(total_steps=epochs * self.steps, lr=lr, lr_final=lr_final, warmup_steps=warmup_steps,
                         checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume, progress=progress,
                         threads=threads, distributed=distributed)
        self._check_split()
        self.log = log if self.world.main else None
        self._setup_device(device)
        self.val = None if val_images is None else ValidationSet(
            val_images, self.sample_shape, (self.lo, self.hi), self.seed, operator=self.operator if self.conditional
            else None, measurement_noise=self.measurement_noise, input_fn=self.input_fn, device=self.device,
            dtype=self.dtype, batch_size=self.val_batch_size)
        self.metadata = denoiser_metadata(self, extra_metadata)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        self.disc_optimizer = (None if self.disc is None
                               else torch.optim.Adam(self.disc.parameters(), lr=self.lr, betas=(0.5, 0.999)))
        self.gen = torch.Generator().manual_seed(self.seed)
        self.rng = np.random.default_rng(self.seed)
        self.perm, self.sums, self.epoch_seconds = None, {k: 0.0 for k in LOSS_KEYS}, 0.0
        self.global_rng_state = None
        self._epoch_started = None

    # -- set-up -----------------------------------------------------------------------------------------------
    def _setup_data(self, images, steps_per_epoch, data_description):
        is_sampler = callable(images) and not isinstance(images, (np.ndarray, torch.Tensor))
        if is_sampler:
            if steps_per_epoch is None:
                raise ValueError("train_denoiser: a batch sampler needs steps_per_epoch")
            self.sampler, self.data = images, None
            probe = np.asarray(images(1, np.random.default_rng(0)))
            if probe.ndim < 2 or probe.shape[0] != 1:
                raise ValueError(f"train_denoiser: sampler(1, rng) must return a (1, ...) array, got {probe.shape}")
            self.sample_shape = tuple(probe.shape[1:])
            # no repr(): it holds a memory address, which would make every resume look like other data
            self.data_description = data_description or str(getattr(images, "description", None) or (
                f"sampler {getattr(images, '__module__', '?')}."
                f"{getattr(images, '__qualname__', type(images).__name__)}"))
        else:
            self.sampler = None
            data = as_float_array(images, "images")
            self.sample_shape = tuple(data.shape[1:])
            self.data_description = data_description or (
                f"{len(data)} images of shape {self.sample_shape}, float32 sha256 {array_digest(data)}")
            self.data = torch.from_numpy(data)
        self.explicit_steps = steps_per_epoch is not None
        self.steps = (positive_int(steps_per_epoch, "train_denoiser steps_per_epoch") if self.explicit_steps
                      else math.ceil(len(self.data) / self.batch_size))
        if self.operator is not None and tuple(self.operator.in_shape) != self.sample_shape:
            raise ValueError(f"train_denoiser: the operator {self.operator!r} takes images of shape "
                             f"{tuple(self.operator.in_shape)}, the training images have shape {self.sample_shape}")

    def _setup_device(self, device):
        model = self.model
        if device is None:
            param = next(model.parameters(), None)
            device = param.device if param is not None else torch.device("cpu")
        self.device = torch.device(device)
        model.to(self.device)
        if self.disc is not None:
            self.disc.to(self.device)
        if isinstance(self.comparator, torch.nn.Module):  # fixed: never trained
            self.comparator.to(self.device).eval()
            self.comparator.requires_grad_(False)
        param = next(model.parameters(), None)
        self.dtype = param.dtype if param is not None and param.dtype.is_floating_point else torch.float32

    def _check_split(self):
        w = self.world
        w.check_batch(self.batch_size, "train_denoiser batch_size")
        last = None if self.data is None or self.explicit_steps else len(self.data) - (self.steps - 1) * self.batch_size
        if last is not None and last % w.size:
            raise ValueError(f"train_denoiser: the last batch of each epoch holds {last} of the {len(self.data)} "
                             f"images, which does not split evenly over the {w.size} processes; pass "
                             "steps_per_epoch (batches then wrap around) or another batch_size")

    # -- Trainer's methods ------------------------------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return self.step // self.steps

    @property
    def epoch_step(self) -> int:
        return self.step % self.steps

    def scheduled_optimizers(self):
        return [self.optimizer]

    def header(self) -> dict:
        self.metadata["progress"] = {"epoch": self.epoch, "step": self.epoch_step, "global_step": self.step,
                                     "complete": self.finished}
        self.metadata["epochs"] = self.epochs
        return {**self.metadata, "kind": DENOISER}

    def weights(self) -> dict:
        return {f"model.{name}": value for name, value in self.model.state_dict().items()}

    def state(self) -> dict:
        state = {"optimizer": self.optimizer.state_dict(), "perm": self.perm, "sums": dict(self.sums),
                 "epoch_seconds": self.epoch_seconds + self._epoch_elapsed(),
                 "rng": {"torch": self.gen.get_state(), "numpy": self.rng.bit_generator.state,
                         "torch_global": torch.get_rng_state()},
                 "figures": self.metadata["figures"]}
        if self.world.distributed:  # every rank's global RNG (a collective: every rank calls state())
            state["rng"]["torch_global_ranks"] = self.world.gather(torch.get_rng_state())
        if self.disc is not None:
            state["discriminator"] = self.disc.state_dict()
            state["discriminator_optimizer"] = self.disc_optimizer.state_dict()
        return state

    def load_state(self, state) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if self.disc is not None:
            self.disc.load_state_dict(state["discriminator"])
            self.disc_optimizer.load_state_dict(state["discriminator_optimizer"])
        self.gen.set_state(state["rng"]["torch"])
        self.rng.bit_generator.state = state["rng"]["numpy"]
        ranks = state["rng"].get("torch_global_ranks", [state["rng"]["torch_global"]])
        # another number of processes than the checkpoint's: fresh per-rank streams (run_context)
        self.global_rng_state = ranks[self.world.rank] if len(ranks) == self.world.size else None
        self.perm = state["perm"]
        self.sums = {k: float(state["sums"][k]) for k in LOSS_KEYS}
        self.epoch_seconds = float(state["epoch_seconds"])
        self.metadata["figures"] = state["figures"]

    def load_weights(self, tensors) -> None:
        self.model.load_state_dict({name[6:]: t for name, t in tensors.items() if name.startswith("model.")})

    def resume(self) -> bool:
        if not super().resume():
            return False
        if self.log is not None:
            where = "finished" if self.finished else f"epoch {self.epoch + 1}, step {self.epoch_step}/{self.steps}"
            self.log(f"resuming from {self.checkpoint} ({where})")
        return True

    def check_resumable(self, header, path) -> None:
        meta = self.metadata
        expect = {"model": meta["model"], "conditional": meta["conditional"], "data": meta["data"],
                  "sample_shape": meta["sample_shape"], **{f"hyper__{k}": v for k, v in meta["hyper"].items()}}
        if "init" in (meta.get("extra") or {}):  # a fine-tuning resumes only from the weights it started from
            expect["extra__init"] = meta["extra"]["init"]
        if self.operator is None:
            expect["operator"] = None
        else:
            expect["operator__fingerprint"] = meta["operator"]["fingerprint"]
        try:
            if header.get("kind") != DENOISER:
                raise ValueError(f"a model file of kind {header.get('kind')!r}, not a denoiser")
            modelfile.check_compatible(header, **expect)
        except ValueError as err:
            raise ValueError(f"{path}: cannot resume: {err}; delete the file, choose another path or pass "
                             "resume=False to overwrite it") from None

    @contextlib.contextmanager
    def run_context(self):
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        w, seed, state = self.world, self.seed, self.global_rng_state
        if state is None and (w.distributed or self.step):
            seed = rank_seed(self.seed, w.rank, self.step)
        with SeededGlobalRNG(seed, state, devices):
            self.net = w.wrap(self.model, self.device)  # DDP copies rank 0's weights to every rank
            if self.disc is not None:
                w.broadcast_module(self.disc)
            try:
                yield
            finally:
                self.net = self.model

    def progress_text(self) -> str:
        return f"epoch {self.epoch + (0 if self.epoch_step or self.finished else 1)}/{self.epochs}"

    # -- one step ---------------------------------------------------------------------------------------------
    def _draw_batch(self) -> torch.Tensor:
        step, bs = self.epoch_step, self.batch_size
        if self.sampler is not None:
            x = torch.as_tensor(np.asarray(self.sampler(bs, self.rng), dtype=np.float32))
            if tuple(x.shape) != (bs,) + self.sample_shape:
                raise ValueError(f"train_denoiser: the sampler returned shape {tuple(x.shape)}, expected "
                                 f"{(bs,) + self.sample_shape}")
            return x
        if not self.explicit_steps:
            idx = self.perm[step * bs: (step + 1) * bs]
        else:
            idx = self.perm[(step * bs + torch.arange(bs)) % len(self.data)]
        return self.data[idx]

    def _reconstruct(self, v, y, sigma, net=None):
        inputs = (v,) + ((y,) if self.conditional else ()) + ((sigma,) if self.noise_level_input else ())
        return (self.model if net is None else net)(*inputs)

    def train_step(self) -> dict:
        if self.epoch_step == 0:  # a new epoch: its shuffle, fresh sums
            self.perm = None if self.sampler is not None else torch.from_numpy(self.rng.permutation(len(self.data)))
            self.sums = {k: 0.0 for k in LOSS_KEYS}
            self.epoch_seconds = 0.0
        if self._epoch_started is None:
            self._epoch_started = time.perf_counter()
        device, dtype, gen = self.device, self.dtype, self.gen
        x = self._draw_batch().to(device=device, dtype=dtype)
        b = x.shape[0]
        sigma = self.lo + (self.hi - self.lo) * torch.rand(b, generator=gen, dtype=torch.float32)
        if self.input_fn is None:
            n = torch.randn(x.shape, generator=gen, dtype=torch.float32) * sigma.reshape((b,) + (1,) * (x.ndim - 1))
            v = x + n.to(device=device, dtype=dtype)
        y = None
        if self.conditional:
            with torch.no_grad():
                y = self.operator(x)
            if self.measurement_noise:
                e = torch.randn(y.shape, generator=gen, dtype=torch.float32)
                y = y + self.measurement_noise * e.to(device=device, dtype=y.dtype)
        if self.input_fn is not None:
            with torch.no_grad():
                v = self.input_fn(x, y, sigma.to(device=device, dtype=dtype), gen).to(device=device, dtype=dtype)
        share = self.world.share(b)  # this rank's rows of the global batch (all of them with one process)
        x, v, sigma, y = x[share], v[share], sigma[share], None if y is None else y[share]
        out = self._reconstruct(v, y, sigma.to(device=device, dtype=dtype), self.net)
        losses = {}
        disc = self.disc
        if disc is not None:  # eq. 12, G fixed
            d_real, d_fake = disc(x), disc(out.detach())
            loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
            self.disc_optimizer.zero_grad(set_to_none=True)
            loss_d.backward()
            self.world.average_gradients(disc.parameters())
            self.disc_optimizer.step()
            losses["disc"] = float(loss_d.detach())
        rec = F.mse_loss(out, x) if self.loss == "l2" else F.l1_loss(out, x)
        total = rec
        losses["rec"] = float(rec.detach())
        if self.comparator is not None:  # eq. 13's feature term
            if hasattr(self.comparator, "feature_loss"):
                lf = self.comparator.feature_loss(x, out)
            else:
                lf = F.mse_loss(self.comparator(out), self.comparator(x).detach())
            total = total + self.w_feat * lf
            losses["feat"] = float(lf.detach())
        if disc is not None:  # eq. 13's adversarial term, D fixed
            disc.requires_grad_(False)
            try:
                la = F.softplus(-disc(out)).mean()
            finally:
                disc.requires_grad_(True)
            total = total + self.w_adv * la
            losses["adv"] = float(la.detach())
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        losses["loss"] = float(total.detach())
        return losses

    def after_step(self, losses) -> None:
        for k, value in losses.items():
            self.sums[k] += value
        if self.epoch_step == 0:  # the epoch is complete
            self._end_epoch()

    def notify(self, losses) -> None:
        if self.callback is not None:
            self.callback({"epoch": self.epoch - (1 if self.epoch_step == 0 else 0),
                           "step": self.epoch_step or self.steps, "global_step": self.step, "losses": losses,
                           "model": self.model})

    def _stop(self) -> None:
        if self.log is not None:
            saved = f"; checkpoint saved to {self.checkpoint}, run again to resume" if self.checkpoint else ""
            self.log(f"interrupted at epoch {self.epoch + 1}, step {self.epoch_step}/{self.steps}{saved}")
        super()._stop()

    def _epoch_elapsed(self) -> float:
        return 0.0 if self._epoch_started is None else time.perf_counter() - self._epoch_started

    def _end_epoch(self) -> None:
        self.epoch_seconds += self._epoch_elapsed()
        self._epoch_started = None
        val_psnr, val_ssim = self.world.broadcast(self.validate() if self.world.main else None)  # rank 0's
        fig = self.metadata["figures"]
        active = {"loss", "rec"} | ({"disc", "adv"} if self.disc is not None else set()) | (
            {"feat"} if self.comparator is not None else set())
        fig["epoch"].append(self.epoch)
        for k in LOSS_KEYS:
            fig[k].append(self.sums[k] / self.steps if k in active else None)
        fig["val_psnr"].append(val_psnr)
        fig["val_ssim"].append(val_ssim)
        fig["seconds"].append(self.epoch_seconds)
        if self.log is not None:
            parts = [f"{k} {self.sums[k] / self.steps:.5f}" for k in LOSS_KEYS if fig[k][-1] is not None]
            if val_psnr is not None:
                parts.append(f"val PSNR {val_psnr:.2f} dB SSIM {val_ssim:.4f}")
            self.log(f"epoch {self.epoch}/{self.epochs}: " + ", ".join(parts) + f" ({self.epoch_seconds:.1f} s)")
        self.perm = None
        self.save()

    def validate(self):
        """Mean PSNR and SSIM of the model (in eval mode) on the validation set, or (None, None) without one."""
        return (None, None) if self.val is None else self.val.score(self.model, self._reconstruct)

    def fit(self):
        self.model.train()
        if self.disc is not None:
            self.disc.train()
        self.resume()
        batch_norm = [m for m in (self.model, self.disc) if m is not None and any(
            isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) for layer in m.modules())]
        if self.log is not None and self.world.distributed and batch_norm:
            self.log(f"note: BatchNorm layers normalise each of the {self.world.size} processes' share of the "
                     "batch with its own statistics")
        if self.log is not None and self.val is not None and self.step == 0:
            self.log(f"validation: {len(self.val.clean)} images, noisy input PSNR {self.val.input_psnr:.2f} dB")
        self.resume_from_checkpoint = False  # resumed above (or nothing to resume)
        try:
            super().fit()
        finally:
            self.metadata["progress"] = {"epoch": self.epoch, "step": self.epoch_step, "global_step": self.step,
                                         "complete": self.finished}
            self.model.eval()
        return self


def train_denoiser(model, images, **options) -> dict:
    """Train the denoiser ``model`` in place (see the module docstring); returns the metadata its model file
    records (with ``"figures"``: per-epoch losses, validation PSNR / SSIM and seconds).

    Parameters
    ----------
    model : a registered architecture (``ppsolve.nn.registry.ARCHITECTURES``), ``model(v)`` (or
        ``model(v, y)`` when ``conditional``) mapping a batch ``(B, *sample_shape)`` to the same shape; with
        ``noise_level_input`` it also gets, last, the ``(B,)`` tensor of each sample's noise standard
        deviation (a noise-conditional denoiser such as ``nn.SigmaUNet``).
    images : a float array ``(N, *sample_shape)`` of clean images in ``[0, 1]`` (NumPy or torch), shuffled
        every epoch; or a callable ``sampler(batch_size, rng) -> (batch_size, *sample_shape)`` array drawing
        from the NumPy ``Generator`` ``rng`` (then ``steps_per_epoch`` is required).
    input_fn : optional ``input_fn(x, y, sigma, generator) -> v``, the network's first input made from the clean
        batch ``x``, the measurement ``y`` (None unless ``conditional``), the ``(B,)`` noise levels and the
        ``torch.Generator`` to draw from (default ``v = x + sigma n``), e.g. ``train.inputs.BicubicOrNoise``.
    operator : the ``LinearOperator`` A of ``y = A x + e`` (``A.in_shape == sample_shape``); only with
        ``conditional=True``. Its ``repr`` and ``fingerprint()`` are recorded.
    noise : ``(sigma_min, sigma_max)``; each sample's ``sigma`` is uniform in that range (or one number).
    loss : ``"l2"`` (mean squared error) or ``"l1"`` (mean absolute error).
    adversarial : ``(discriminator, weight)``: a module returning one logit per image, trained alternately.
    feature : ``(comparator, weight)``: an object with ``feature_loss(x, x_hat)`` (``FeatureComparator``),
        or a module ``C`` (then ``mean (C(x_hat) - C(x))^2``). It is not trained.
    epochs, batch_size, lr, seed : as usual; ``lr_final``: if given, the learning rate decays geometrically
        from ``lr`` at the first step to ``lr_final`` at the last (default: constant ``lr``); ``warmup_steps``:
        a linear warm-up over the first steps (networks such as the cPSDAE collapse to the identity when Adam
        starts at full ``lr``); ``steps_per_epoch`` defaults to ``ceil(N / batch_size)`` (the last batch of an
        epoch may be smaller; with an explicit value, batches wrap around).
    val_images : optional clean ``(M, *sample_shape)`` images: after each epoch the model (in eval mode)
        denoises a fixed noisy copy (noise drawn once from ``seed``, not from the training stream) and the
        mean PSNR and SSIM (``ppsolve.metrics``, ``data_range=1``) are recorded and logged.
    checkpoint : path of the resumable training checkpoint; ``resume=False`` ignores and overwrites an existing
        one. ``checkpoint_every``: steps between mid-epoch saves (None: only at epoch ends and interruptions).
    progress : show a tqdm bar with the running losses. ``log``: a callable for one line per epoch (None:
        silent). ``callback(info)``: called after every step with ``epoch`` (0-based), ``step`` (steps done
        in this epoch), ``global_step``, ``losses`` and ``model``; raising ``KeyboardInterrupt`` there stops
        training cleanly (a checkpoint is written first).
    data_description : recorded in the metadata and compared on resume (default: the array's shape and a
        hash of its content; for a sampler its ``description`` attribute, else its qualified name: give
        one that changes when the data does).
    device : where to train (default: the model's device). ``extra_metadata``: a dict merged into the
        metadata (e.g. the data split). ``threads``: see ``ppsolve.threads`` (default ``PPSOLVE_THREADS``).
    distributed : None (default): train as one of several processes when ``torch.distributed`` is
        initialised (see the module docstring); False: train alone even then; True: require it.
    """
    return DenoiserTrainer(model, images, **options).fit().header()


def export_denoiser(src, dst):
    """Write the weights and metadata of the training checkpoint ``src`` to ``dst`` (atomically), without the
    optimiser and RNG state: the file to ship and to load with ``DenoiserProx.from_file`` or the zoo."""
    header, tensors = modelfile.load(src, DENOISER)
    header = {k: v for k, v in header.items() if k not in ("tensors", "resume", "format", "version", "sha256")}
    weights = {name: t for name, t in tensors.items() if name.startswith("model.")}
    return modelfile.save(dst, header, weights)

