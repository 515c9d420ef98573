"""Validation of a denoiser during training: fixed noisy copies of clean images, scored by PSNR and SSIM.

The noise (and, for a conditional prior, the measurement ``y = A x + e``) is drawn once from its own stream
(``default_rng([seed, 7919])``), not from the training stream, so every epoch, and a resumed run, is scored on
the same inputs.
"""
from __future__ import annotations

import numpy as np
import torch

from ..metrics import psnr, ssim

__all__ = ["ValidationSet", "as_float_array"]


def as_float_array(images, what: str) -> np.ndarray:
    """A non-empty float32 stack ``(N, ...)`` of images from a NumPy array or a tensor."""
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    images = np.asarray(images)
    if images.dtype.kind != "f":
        raise TypeError(f"{what}: expected a float array of images in [0, 1], got dtype {images.dtype}")
    if images.ndim < 2 or len(images) == 0:
        raise ValueError(f"{what}: expected a non-empty stack (N, ...) of images, got shape {images.shape}")
    return np.ascontiguousarray(images, dtype=np.float32)


class ValidationSet:
    """Clean images, their fixed noisy copies (noise level uniform in ``noise`` per image), and ``y`` for a
    conditional prior (``operator``); ``score(model, reconstruct)`` is the mean PSNR and SSIM of
    ``reconstruct(v, y, sigma)`` with ``model`` in eval mode."""

    def __init__(self, images, sample_shape, noise, seed: int, *, operator=None, measurement_noise: float = 0.0,
                 input_fn=None, device=None, dtype=torch.float32, batch_size: int = 256):
        clean = as_float_array(images, "val_images")
        if tuple(clean.shape[1:]) != tuple(sample_shape):
            raise ValueError(f"train_denoiser: val_images have shape {clean.shape[1:]}, training images "
                             f"{tuple(sample_shape)}")
        vrng = np.random.default_rng([int(seed), 7919])
        sig = vrng.uniform(noise[0], noise[1], size=len(clean)).astype(np.float32)
        noisy = clean + sig.reshape((-1,) + (1,) * (clean.ndim - 1)) * vrng.standard_normal(clean.shape).astype(
            np.float32)
        y = None
        if operator is not None:
            y = np.asarray(operator(clean.astype(np.float64)), dtype=np.float32)
            if measurement_noise:
                y = y + measurement_noise * vrng.standard_normal(y.shape).astype(np.float32)
        if input_fn is not None:
            with torch.no_grad():
                noisy = input_fn(torch.from_numpy(clean), None if y is None else torch.from_numpy(y),
                                 torch.from_numpy(sig), torch.Generator().manual_seed(int(seed) + 7919))
            noisy = np.asarray(noisy, dtype=np.float32)
        self.clean, self.noisy, self.y, self.sigma = clean, noisy, y, sig
        self.input_psnr = psnr(noisy, clean, batch_dims=1)
        self.device, self.dtype, self.batch_size = device, dtype, int(batch_size)

    def score(self, model, reconstruct) -> tuple[float, float]:
        """(mean PSNR, mean SSIM) of ``reconstruct(v, y, sigma)`` over the set, in batches, ``model`` in eval
        mode for the call (its training flag is restored)."""
        was_training = model.training
        model.eval()
        outs = []
        to = {"device": self.device, "dtype": self.dtype}
        try:
            with torch.no_grad():
                for i in range(0, len(self.noisy), self.batch_size):
                    part = slice(i, i + self.batch_size)
                    y = None if self.y is None else torch.from_numpy(self.y[part]).to(**to)
                    out = reconstruct(torch.from_numpy(self.noisy[part]).to(**to), y,
                                      torch.from_numpy(self.sigma[part]).to(**to))
                    outs.append(out.float().cpu().numpy())
        finally:
            model.train(was_training)
        out = np.concatenate(outs)
        return psnr(out, self.clean, batch_dims=1), ssim(out, self.clean, batch_dims=1)
