"""Baselines for the natural-image benchmarks (ppsolve.baselines)."""
import numpy as np
import pytest

from ppsolve.baselines import bm3d_pnp, tv_admm, wiener, wiener_best
from ppsolve.experiments.natural import measure, score
from ppsolve.operators import Convolution, gaussian_kernel, motion_kernel


def _image(n=64, seed=0, texture=0.1):
    rng = np.random.default_rng(seed)
    i, j = np.mgrid[:n, :n] / n
    x = 0.5 + 0.3 * np.sin(2 * np.pi * (2 * i + j)) * (i > 0.3) + texture * rng.standard_normal((n, n))
    return np.clip(x, 0, 1)


def test_wiener_is_the_fourier_formula():
    x = _image()
    k = motion_kernel(9, 30, 9)
    A = Convolution(k, x.shape)
    y = measure(A, x[None], 0.01, 0)[0]
    alpha = 0.01
    H = np.fft.fft2(np.roll(np.pad(k, ((0, 55), (0, 55))), (-4, -4), axis=(0, 1)))
    ref = np.real(np.fft.ifft2(np.conj(H) * np.fft.fft2(y) / (np.abs(H) ** 2 + alpha)))
    np.testing.assert_allclose(wiener(y, A, alpha), ref, atol=1e-10)


def test_wiener_best_is_an_oracle_maximum():
    x = _image()
    A = Convolution(motion_kernel(9, 30, 9), x.shape)
    y = measure(A, x[None], 0.01, 0)[0]
    xb, alpha, p = wiener_best(y, A, x)
    assert p == pytest.approx(score(xb, x))
    for a in np.logspace(-6, 0, 13):  # no grid value beats the refined one
        assert score(wiener(y, A, a), x) <= p + 1e-9
    assert score(wiener(y, A, alpha * 10), x) < p and score(wiener(y, A, alpha / 10), x) < p


def test_measure_seed_per_image_and_score_clips():
    A = Convolution(gaussian_kernel(3, 1.0), (16, 16))
    x = np.random.default_rng(0).random((3, 16, 16))
    y = measure(A, x, 0.01, 5)
    y1 = measure(A, x[1:2], 0.01, 6)  # image 1 of the first call used seed 5 + 1
    np.testing.assert_array_equal(y[1], y1[0])
    assert score(x[0] + 10.0 * (x[0] > 2), x[0]) == np.inf  # nothing to clip: exact
    assert np.isfinite(score(x[0] + 2.0, x[0]))


def test_tv_admm_beats_the_blurred_input():
    x = (_image(texture=0.0) > 0.5).astype(float)  # piecewise constant: TV's favourite
    A = Convolution(motion_kernel(9, 30, 9), x.shape)
    y = measure(A, x[None], 0.01, 0)[0]
    res = tv_admm(y, A, 0.002, iters=30, tv_iters=10)
    assert score(res.x, x) > score(y, x) + 1.0


def test_bm3d_pnp_runs_one_iteration_per_noise_level_and_beats_the_blurred_input():
    pytest.importorskip("bm3d")
    x = _image(n=48, texture=0.02)
    A = Convolution(motion_kernel(9, 30, 9), x.shape)
    y = measure(A, x[None], 0.01, 0)[0]
    res = bm3d_pnp(y, A, 0.01, 0.1, 0.015, iters=4, x0=y)
    assert res.iterations == 4 and score(res.x, x) > score(y, x) + 1.0
    with pytest.raises(ValueError, match="noise must be > 0"):
        bm3d_pnp(y, A, 0.0, 0.1, 0.015)
