"""Shared input handling of the image denoisers: image batches and the noise-level input channel."""
from __future__ import annotations

import torch


def image_batch(v: torch.Tensor, channels: int, name: str) -> torch.Tensor:
    """``v`` as ``(N, channels, H, W)``: grey images (``channels == 1``) may omit the channel axis, ``(*batch,
    H, W)``; otherwise ``(*batch, channels, H, W)``. Reshape the result back with ``v.shape``."""
    if channels == 1 and (v.ndim < 3 or v.shape[-3] != 1):
        return v.reshape((-1, 1) + tuple(v.shape[-2:]))
    if v.ndim < 3 or v.shape[-3] != channels:
        raise ValueError(f"{name}: expected (..., {channels}, H, W), got {tuple(v.shape)}")
    return v.reshape((-1, channels) + tuple(v.shape[-2:]))


def noise_level_map(t: torch.Tensor, sigma) -> torch.Tensor:
    """The ``(N, 1, H, W)`` channel holding each image's noise level ``sigma`` (a float, or one per image)."""
    s = torch.as_tensor(sigma, dtype=t.dtype, device=t.device).reshape(-1)
    if s.numel() == 1:
        s = s.expand(t.shape[0])
    if s.numel() != t.shape[0]:
        raise ValueError(f"noise level: expected one value or one per image ({t.shape[0]}), got {s.numel()}")
    return s.reshape(-1, 1, 1, 1).expand(t.shape[0], 1, *t.shape[-2:])
