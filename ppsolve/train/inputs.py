"""What a denoiser is trained on: batch samplers of clean images, and inputs ``v`` made from measurements.

``CropSampler`` and ``ArraySampler`` are ``sampler(batch_size, rng)`` callables for ``train_denoiser``'s
``images``; ``BicubicOrNoise`` is an ``input_fn`` that starts some samples where ADMM starts: at the aligned
bicubic upsampling of the measurement.
"""
from __future__ import annotations

import numpy as np
import torch

from .._validate import positive_int, real_number
from ..data import random_crops
from ..interpolation import cubic_interpolation_matrix

__all__ = ["ArraySampler", "BicubicOrNoise", "CropSampler", "GreyAsColour", "MixtureSampler"]


class CropSampler:
    """``sampler(batch_size, rng)``: random ``size x size`` crops of the given images, with one of the 8
    flips / quarter turns at random (``ppsolve.data.random_crops``), float32 in [0, 1]."""

    def __init__(self, images, size: int, description: str):
        self.images = list(images)
        self.size = int(size)
        self.description = description

    def __call__(self, batch_size, rng):
        return random_crops(self.images, self.size, int(batch_size), seed=rng, augment=True).astype(np.float32)


class ArraySampler:
    """``sampler(batch_size, rng)``: random images of a stack, with a random horizontal flip."""

    def __init__(self, images, description: str):
        self.images, self.description = images, description

    def __call__(self, batch_size, rng):
        idx = rng.integers(len(self.images), size=int(batch_size))
        flip = rng.integers(2, size=int(batch_size)).astype(bool)
        out = self.images[idx].copy()
        out[flip] = out[flip][..., ::-1]
        return out


class GreyAsColour:
    """A sampler of grey images ``(n, h, w)`` as colour ones ``(n, 3, h, w)``: the same grey in every channel."""

    def __init__(self, sampler):
        self.sampler = sampler
        self.description = f"grey as colour: {getattr(sampler, 'description', sampler)}"

    def __call__(self, batch_size, rng):
        grey = np.asarray(self.sampler(batch_size, rng))
        return np.repeat(grey[:, None], 3, axis=1)


class MixtureSampler:
    """Each sample of a batch from one of ``samplers``, chosen with probabilities ``weights`` (drawn from the
    batch's ``rng``, so the mixture is as reproducible and resumable as its parts)."""

    def __init__(self, samplers, weights):
        weights = np.asarray([real_number(w, "MixtureSampler weight") for w in weights], dtype=np.float64)
        if len(weights) != len(samplers) or weights.sum() <= 0:
            raise ValueError("MixtureSampler: expected one positive weight per sampler")
        self.samplers, self.weights = list(samplers), weights / weights.sum()
        self.description = " + ".join(f"{w:.2f} x [{getattr(s, 'description', s)}]"
                                      for w, s in zip(self.weights, self.samplers))

    def __call__(self, batch_size, rng):
        choice = rng.choice(len(self.samplers), size=int(batch_size), p=self.weights)
        counts = np.bincount(choice, minlength=len(self.samplers))
        parts = [np.asarray(s(int(c), rng)) for s, c in zip(self.samplers, counts) if c]
        return np.concatenate(parts)[rng.permutation(int(batch_size))]


class BicubicOrNoise:
    """``input_fn`` for a conditional super-resolution prior: each sample's ``v`` is, with probability
    ``fraction``, the aligned bicubic upsampling of its measurement ``y`` (a grey ``y`` repeated in every colour
    channel) (``ppsolve.interpolation.bicubic_upsample``: what ADMM starts from, blurred rather than noisy)
    plus ``sigma n``, otherwise ``x + sigma n``. Trained on white noise alone, the cPSDAE learns to denoise but
    never to add the detail a bicubic estimate lacks, and ADMM started at bicubic stays there
    (``docs/zoo.md``)."""

    def __init__(self, factor: int, fraction: float = 0.5):
        fraction = real_number(fraction, "BicubicOrNoise fraction")
        if fraction > 1.0:
            raise ValueError(f"BicubicOrNoise fraction: expected a number in [0, 1], got {fraction!r}")
        self.factor, self.fraction = positive_int(factor, "BicubicOrNoise factor"), fraction
        self.description = f"BicubicOrNoise(factor={self.factor}, fraction={self.fraction:g})"
        self._matrices = {}

    def _upsample(self, y: torch.Tensor) -> torch.Tensor:
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
