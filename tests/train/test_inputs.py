"""ppsolve.train.inputs: the training inputs (BicubicOrNoise, a user's input_fn)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ppsolve.train import train_denoiser
from tests.train._shared import SIZE, TinyDenoiser, _sampler


def test_bicubic_or_noise_input():
    """fraction 0: v = x + sigma n; fraction 1: v = aligned bicubic(y) + sigma n (ppsolve.baselines)."""
    from ppsolve.interpolation import bicubic_upsample
    from ppsolve.train import BicubicOrNoise

    x = torch.rand(4, 3, 16, 16, dtype=torch.float64)
    y = torch.rand(4, 3, 4, 4, dtype=torch.float64)
    sigma = torch.zeros(4, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(BicubicOrNoise(4, 0.0)(x, y, sigma, g), x)
    up = BicubicOrNoise(4, 1.0)(x, y, sigma, g)
    assert np.allclose(up.numpy(), bicubic_upsample(y.numpy(), 4), atol=1e-12)
    mixed = BicubicOrNoise(4, 0.5)(x, y, sigma + 0.1, torch.Generator().manual_seed(3))
    assert mixed.shape == x.shape and not torch.equal(mixed, x)
    with pytest.raises(ValueError, match="fraction"):
        BicubicOrNoise(4, 1.5)


def test_input_fn_reaches_training_and_validation():
    calls = []

    def input_fn(x, y, sigma, generator):
        calls.append(y is None)
        return x + 0.5

    model = TinyDenoiser()
    meta = train_denoiser(model, _sampler, steps_per_epoch=2, epochs=1, batch_size=2, input_fn=input_fn,
                          val_images=np.zeros((2, SIZE, SIZE), np.float32), progress=False, log=None)
    assert calls and all(calls) and len(calls) == 3  # validation once, then two steps
    assert meta["figures"]["val_input_psnr"] == pytest.approx(10 * np.log10(1 / 0.25))
    assert "input_fn" in meta["hyper"]
