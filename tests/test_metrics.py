"""ppsolve.metrics: PSNR and SSIM against their definitions."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ppsolve.metrics import gaussian_window, psnr, ssim


def _ssim_bruteforce(x, ref, L=1.0):
    """SSIM straight from Wang et al. (2004): every 11 x 11 window position, Gaussian weights, mean."""
    w = np.outer(gaussian_window(), gaussian_window())
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    values = []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            a, b = x[i:i + 11, j:j + 11], ref[i:i + 11, j:j + 11]
            ma, mb = (w * a).sum(), (w * b).sum()
            va, vb = (w * (a - ma) ** 2).sum(), (w * (b - mb) ** 2).sum()
            cov = (w * (a - ma) * (b - mb)).sum()
            values.append((2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(values))


def test_psnr():
    rng = np.random.default_rng(0)
    ref = rng.random((4, 16, 16))
    x = ref + 0.1 * rng.standard_normal(ref.shape)
    whole = 10 * math.log10(1 / np.mean((x - ref) ** 2))
    assert psnr(x, ref) == pytest.approx(whole)
    per = [10 * math.log10(1 / np.mean((x[i] - ref[i]) ** 2)) for i in range(4)]
    np.testing.assert_allclose(psnr(x, ref, batch_dims=1, reduction="none"), per)
    assert psnr(x, ref, batch_dims=1) == pytest.approx(np.mean(per))
    assert psnr(torch.tensor(x), torch.tensor(ref)) == pytest.approx(whole)
    assert psnr(2 * x, 2 * ref, data_range=2.0) == pytest.approx(whole)
    assert psnr(ref, ref) == math.inf
    with pytest.raises(ValueError, match="same shape"):
        psnr(x, ref[:2])


def test_ssim_matches_the_definition():
    rng = np.random.default_rng(1)
    ref = rng.random((20, 23))
    x = np.clip(ref + 0.2 * rng.standard_normal(ref.shape), 0, 1)
    assert ssim(x, ref) == pytest.approx(_ssim_bruteforce(x, ref), rel=1e-10)
    assert ssim(ref, ref) == pytest.approx(1.0)
    assert ssim(x, ref) < 0.9


def test_ssim_batches_and_channels():
    rng = np.random.default_rng(2)
    ref = rng.random((2, 3, 12, 12))
    x = ref + 0.05 * rng.standard_normal(ref.shape)
    per = ssim(x, ref, batch_dims=1, reduction="none")
    expected = [np.mean([_ssim_bruteforce(x[i, c], ref[i, c]) for c in range(3)]) for i in range(2)]
    np.testing.assert_allclose(per, expected, rtol=1e-10)
    assert ssim(x, ref, batch_dims=1) == pytest.approx(np.mean(expected))
    assert ssim(torch.tensor(x, dtype=torch.float32), torch.tensor(ref), batch_dims=1) == pytest.approx(
        np.mean(expected), rel=1e-5)
    with pytest.raises(ValueError, match="smaller than the 11 x 11 window"):
        ssim(np.zeros((8, 8)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="need at least 2"):
        ssim(np.zeros((4, 12)), np.zeros((4, 12)), batch_dims=1)
