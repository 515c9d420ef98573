"""ppsolve.prox.plug_and_play: TV and BM3D denoisers as proximal operators (no torch needed)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ppsolve.prox.basic import TV
from ppsolve.prox.plug_and_play import PlugAndPlay, bm3d_denoiser, tv_denoiser


def _noisy_square(n=32, sigma=0.1, seed=5):
    x = np.zeros((n, n))
    x[n // 4: 3 * n // 4, n // 4: 3 * n // 4] = 1.0
    return x, x + sigma * np.random.default_rng(seed).standard_normal(x.shape)


def test_plug_and_play_tv_is_the_tv_prox():
    """sigma = sqrt(tau) and a TV denoiser at weight sigma^2: exactly prox_{tau TV} (the MAP correspondence)."""
    x, v = _noisy_square()
    tau = 0.05
    pnp = PlugAndPlay(tv_denoiser(iters=50))
    expected = TV(iters=50).prox(v, tau)
    np.testing.assert_allclose(pnp(v, tau), expected, rtol=1e-12, atol=1e-12)
    assert np.linalg.norm(pnp(v, tau) - x) < np.linalg.norm(v - x)
    # torch in, torch out; a batch looped image by image gives the same
    batch = np.stack([v, v[::-1]])
    outt = PlugAndPlay(tv_denoiser(iters=50), image_ndim=2)(torch.tensor(batch), tau)
    assert isinstance(outt, torch.Tensor) and outt.dtype == torch.float64
    np.testing.assert_allclose(outt.numpy(), TV(iters=50).prox(batch, tau), rtol=1e-10, atol=1e-12)
    # float32 kept
    assert PlugAndPlay(tv_denoiser(iters=5), numpy=True)(v.astype(np.float32), tau).dtype == np.float32
    seen = []
    PlugAndPlay(lambda a, s: seen.append(s) or a, sigma_of_tau=lambda t: 3 * math.sqrt(t))(v, 0.04)
    assert seen == [pytest.approx(0.6)]
    assert "tv" in repr(pnp) and math.isnan(pnp.value(v))


def test_plug_and_play_bm3d():
    pytest.importorskip("bm3d")
    x, v = _noisy_square(sigma=0.1)
    prox = PlugAndPlay(bm3d_denoiser(stage="hard"), image_ndim=2, numpy=True)
    out = prox(torch.tensor(v[None]), 0.1**2)  # tau = sigma^2
    assert isinstance(out, torch.Tensor) and out.shape == (1, 32, 32) and out.dtype == torch.float64
    assert np.linalg.norm(out[0].numpy() - x) < 0.6 * np.linalg.norm(v - x)
    np.testing.assert_array_equal(prox(v, 0.0), v)  # sigma 0: nothing to remove
