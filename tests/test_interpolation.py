"""ppsolve.interpolation: aligned periodic Keys bicubic."""
from __future__ import annotations

import numpy as np
import pytest

from ppsolve.interpolation import bicubic_upsample, cubic_interpolation_matrix, keys_cubic, pixel_area_origin
from ppsolve.operators import Downsample


def test_keys_kernel():
    assert keys_cubic(0.0) == 1.0
    np.testing.assert_allclose(keys_cubic([1.0, -1.0, 2.0, 2.5, -3.0]), 0.0, atol=1e-15)
    t = np.linspace(0, 1, 11)
    np.testing.assert_allclose(sum(keys_cubic(t - m) for m in (-1, 0, 1, 2)), 1.0)  # partition of unity
    np.testing.assert_allclose(sum(m * keys_cubic(t - m) for m in (-1, 0, 1, 2)), t)  # reproduces lines
    np.testing.assert_allclose(keys_cubic(0.5), 0.5625)  # a = -0.5: (1.5 - 2.5) / 8 + 1


@pytest.mark.parametrize("shape, factor", [((7, 7), 4), ((5, 6), 3), ((4, 4), 2)])
def test_aligned_bicubic_interpolates_the_samples(shape, factor):
    """Upsample, then keep every factor-th pixel from pixel 0 (the S of A): y comes back exactly."""
    y = np.random.default_rng(0).standard_normal((3, *shape))
    up = bicubic_upsample(y, factor)
    assert up.shape == (3, shape[0] * factor, shape[1] * factor)
    S = Downsample(factor, up.shape[-2:])
    np.testing.assert_allclose(S.apply(up), y, atol=1e-13)
    np.testing.assert_allclose(bicubic_upsample(np.full(shape, 0.3), factor), 0.3)  # constants stay
    # the pixel-area convention does not pass through the samples at the pixels S keeps
    area = bicubic_upsample(y, factor, origin=pixel_area_origin(factor))
    assert np.max(np.abs(S.apply(area) - y)) > 0.1


def test_bicubic_reproduces_a_smooth_periodic_function():
    """Third-order accurate: the error on a smooth periodic function is small and falls ~8x per halving of h."""
    def error(n, factor=4):
        N = n * factor
        t = np.arange(N) / N

        def f(s):
            return np.cos(2 * np.pi * s)[:, None] * np.sin(4 * np.pi * s + 0.3)[None, :]

        return np.max(np.abs(bicubic_upsample(f(t[::factor]), factor) - f(t)))

    e16, e32 = error(16), error(32)
    assert e16 < 0.02
    assert e16 / e32 > 6.0


def test_bicubic_origin_is_a_shift():
    y = np.random.default_rng(1).standard_normal((6, 5))
    np.testing.assert_allclose(bicubic_upsample(y, 4, origin=2), np.roll(bicubic_upsample(y, 4), (2, 2), axis=(0, 1)))
    U = cubic_interpolation_matrix(5, 4, origin=1.5)
    np.testing.assert_allclose(U.sum(axis=1), 1.0)  # every row a partition of unity
    assert pixel_area_origin(4) == 1.5
