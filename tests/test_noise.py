"""ppsolve.noise: the noise level of an image, for --noise auto."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import correlate, gaussian_filter

from ppsolve.noise import estimate_noise, mad_sigma, pca_sigma


def _scene(shape=(128, 128), seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(4 * gaussian_filter(rng.random(shape), 3) - 1.5, 0, 1)


@pytest.mark.parametrize("sigma", [0.005, 0.01, 0.03, 0.1])
def test_known_noise_on_a_smooth_scene(sigma):
    x = _scene()
    y = x + sigma * np.random.default_rng(1).standard_normal(x.shape)
    for estimate in (estimate_noise, mad_sigma, pca_sigma):
        assert estimate(y) == pytest.approx(sigma, rel=0.15), estimate.__name__
    colour = np.stack([y, _scene(seed=2) + sigma * np.random.default_rng(3).standard_normal(x.shape), y.T])
    assert estimate_noise(colour) == pytest.approx(sigma, rel=0.15)


@pytest.mark.data
def test_blurred_photographs_within_five_per_cent(shared_data):
    from ppsolve.data import list_images, load_image
    from ppsolve.operators import motion_kernel

    k = motion_kernel(9, 30, 9)
    ratios = []
    for i, path in enumerate(list_images(shared_data / "bsd68")[4:12]):
        x = np.asarray(load_image(path, mode="L"), dtype=np.float64)
        y = correlate(x, k, mode="reflect") + 0.01 * np.random.default_rng(i).standard_normal(x.shape)
        ratios.append(estimate_noise(y) / 0.01)
    assert 0.95 < np.mean(ratios) < 1.05 and max(ratios) < 1.1


def test_bad_inputs():
    with pytest.raises(ValueError, match="too small"):
        estimate_noise(np.zeros((5, 5)))
    with pytest.raises(ValueError, match=r"expected an image \(H, W\) or \(C, H, W\)"):
        estimate_noise(np.zeros((2, 2, 8, 8)))
