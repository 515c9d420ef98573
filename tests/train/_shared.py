"""Helpers shared by the ppsolve.train tests (and tests/nn/test_init.py): a tiny denoiser, image data, a sampler."""
from __future__ import annotations

import numpy as np
from torch import nn

SIZE = 12  # >= 11, the SSIM window


class TinyDenoiser(nn.Module):
    """v + a small residual CNN with dropout (so the global torch RNG matters for exact resumption)."""

    def __init__(self, width: int = 4):
        super().__init__()
        self.width = width
        self.net = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.Dropout(0.1),
                                 nn.Conv2d(width, 1, 3, padding=1))

    @property
    def config(self):
        return {"width": self.width}

    def forward(self, v):
        shape = v.shape
        v4 = v.reshape(-1, 1, *shape[-2:])
        return (v4 + self.net(v4)).reshape(shape)


def _images(n, seed):
    """Smooth random images in [0, 1]."""
    rng = np.random.default_rng(seed)
    base = rng.random((n, SIZE // 3, SIZE // 3))
    return np.clip(np.kron(base, np.ones((3, 3))) + 0.05 * rng.standard_normal((n, SIZE, SIZE)), 0, 1).astype(np.float32)


TRAIN = _images(40, 0)


def _sampler(batch_size, rng):
    return rng.random((batch_size, SIZE, SIZE)).astype(np.float32)
