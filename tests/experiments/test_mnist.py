"""ppsolve.experiments.mnist: the MNIST x4 SR set-up and gradient Tikhonov."""
from __future__ import annotations

import numpy as np
import pytest

from ppsolve.experiments.mnist import (
    HELD_OUT_DIGITS,
    TRAIN_DIGITS,
    mean_psnr,
    measure,
    mnist_sr_operator,
    tikhonov_gradient,
)
from ppsolve.operators import FiniteDifference, box_kernel, gaussian_kernel, strided_convolution


def test_problem_setup():
    A = mnist_sr_operator()
    assert A.in_shape == (28, 28) and A.out_shape == (7, 7)
    x = np.zeros((28, 28))
    x[8, 12] = 1.0  # on the sampling grid: LR pixel (2, 3) sits on HR pixel (8, 12)
    y = A.apply(x)
    assert np.unravel_index(np.argmax(y), y.shape) == (2, 3)
    np.testing.assert_allclose(y[2, 3], gaussian_kernel(3, 1.0)[1, 1])
    assert set(TRAIN_DIGITS).isdisjoint(HELD_OUT_DIGITS) and len(HELD_OUT_DIGITS) == 2000
    clean = np.random.default_rng(0).random((400, 28, 28))
    y1, y2 = measure(A, clean, seed=3), measure(A, clean, seed=3)
    np.testing.assert_array_equal(y1, y2)
    assert abs(np.std(y1 - A.apply(clean)) - 0.01) < 5e-4
    assert not np.array_equal(y1, measure(A, clean, seed=4))


def test_mean_psnr_clips_and_averages():
    ref = np.zeros((2, 4, 4))
    est = np.stack([np.full((4, 4), 0.1), np.full((4, 4), 5.0)])  # the second is clipped to 1: MSE 1, 0 dB
    assert mean_psnr(est, ref) == pytest.approx((20.0 + 0.0) / 2)


@pytest.mark.parametrize("kernel, factor, offset, mu", [
    (gaussian_kernel(3, 1.0), 4, 0, 0.3),
    (gaussian_kernel(5, 1.5), 2, (1, 0), 1e-3),
    (box_kernel(3), 1, 0, 0.05),
])
def test_tikhonov_matches_a_dense_solve(kernel, factor, offset, mu):
    A = strided_convolution(kernel, (12, 12), factor, offset=offset)
    D = FiniteDifference((12, 12), boundary="periodic")
    MA, MD = A.to_dense(), D.to_dense()
    y = np.random.default_rng(2).standard_normal((2, *A.out_shape))
    rhs = y.reshape(2, -1) @ MA
    dense = np.linalg.solve(MA.T @ MA + mu * MD.T @ MD, rhs.T).T.reshape(2, 12, 12)
    np.testing.assert_allclose(tikhonov_gradient(y, A, mu), dense, atol=1e-10 * np.abs(dense).max())
    np.testing.assert_allclose(tikhonov_gradient(y[0], A, mu), dense[0], atol=1e-10 * np.abs(dense).max())


def test_tikhonov_errors():
    A = mnist_sr_operator()
    with pytest.raises(ValueError, match="mu"):
        tikhonov_gradient(np.zeros((7, 7)), A, 0.0)
    zero = strided_convolution(gaussian_kernel(3, 1.0), (12, 12), 4, boundary="zero")
    with pytest.raises(ValueError, match="periodic"):
        tikhonov_gradient(np.zeros((3, 3)), zero, 0.1)
