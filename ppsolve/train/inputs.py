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

__all__ = ["ArraySampler", "BicubicOrNoise", "CropSampler"]


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
