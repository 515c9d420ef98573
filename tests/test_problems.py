"""The synthetic Laplace problem: what is drawn, the MAP weight, reproducibility, the paper-literal case."""
from __future__ import annotations

import numpy as np
import pytest

from ppsolve.operators import box_kernel, gaussian_kernel, strided_convolution
from ppsolve.problems import Problem, synthetic_laplace


def test_default_problem():
    P = synthetic_laplace()
    assert isinstance(P, Problem)
    assert P.A.in_shape == (64, 64) and P.A.out_shape == (16, 16)
    assert P.x.shape == (64, 64) and P.y.shape == (16, 16)
    assert P.x.dtype == np.float64 and P.y.dtype == np.float64
    assert P.sigma == 0.1 and P.lam == pytest.approx(2 * 0.1**2 / 1.0)
    assert P.info["b"] == 1.0 and P.info["factor"] == 4 and not P.info["paper_literal"]
    np.testing.assert_array_equal(P.info["kernel"], gaussian_kernel(9, 2.0))
    assert "Laplace" in P.description
    # the operator is the periodic strided convolution with the default kernel
    probe = np.random.default_rng(0).standard_normal((64, 64))
    np.testing.assert_allclose(P.A.apply(probe), strided_convolution(gaussian_kernel(9, 2.0), (64, 64), 4).apply(probe))
    assert P.A.fourier_structure() is not None


def test_draws_follow_the_model():
    b, sigma = 0.5, 0.2
    P = synthetic_laplace((128, 128), b=b, sigma=sigma, seed=11)
    # Laplace(0, b): E|x| = b, Var x = 2 b^2 (16384 samples: a few percent)
    assert np.mean(np.abs(P.x)) == pytest.approx(b, rel=0.05)
    assert np.var(P.x) == pytest.approx(2 * b * b, rel=0.08)
    noise = P.y - P.A.apply(P.x)
    assert np.std(noise) == pytest.approx(sigma, rel=0.1)
    assert P.lam == pytest.approx(2 * sigma**2 / b)
    # exactly: x from default_rng(seed).laplace, then the noise from the same generator
    rng = np.random.default_rng(11)
    np.testing.assert_array_equal(P.x, rng.laplace(0.0, b, size=(128, 128)))
    np.testing.assert_allclose(noise, sigma * rng.standard_normal((32, 32)), atol=1e-12)


def test_reproducible_and_seeded():
    a, b = synthetic_laplace(seed=1), synthetic_laplace(seed=1)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, synthetic_laplace(seed=2).x)


def test_custom_kernel_shape_and_factor():
    P = synthetic_laplace((24, 36), factor=3, kernel=box_kernel(5), sigma=0.0)
    assert P.A.out_shape == (8, 12) and P.lam == 0.0
    np.testing.assert_allclose(P.y, P.A.apply(P.x), atol=1e-14)


def test_paper_literal_problem_is_degenerate():
    P = synthetic_laplace(paper_literal=True, b=5.0, sigma=3.0)  # b and sigma are overridden
    assert (P.info["b"], P.sigma, P.lam) == (1.0, 1.0, 1.0) and P.info["paper_literal"]
    # the subgradient condition at 0: ||2 A^T y||_inf <= lam, so x = 0 minimises ||y - A x||^2 + lam ||x||_1
    g = 2.0 * np.max(np.abs(P.A.adjoint(P.y)))
    assert 0.1 < g < 0.5 * P.lam

    def F(x):
        r = P.y - P.A.apply(x)
        return float(np.sum(r * r) + P.lam * np.sum(np.abs(x)))

    rng = np.random.default_rng(0)
    for scale in (1e-3, 1e-1, 1.0):
        assert F(scale * rng.standard_normal(P.A.in_shape)) > F(np.zeros(P.A.in_shape))
    assert F(P.x) > F(np.zeros(P.A.in_shape))


def test_validation():
    with pytest.raises(ValueError, match="b"):
        synthetic_laplace(b=0.0)
    with pytest.raises(ValueError, match="sigma"):
        synthetic_laplace(sigma=-1.0)
    with pytest.raises(ValueError):
        synthetic_laplace((30, 30), factor=4)
