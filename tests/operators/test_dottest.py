"""ppsolve.operators.dot_test: the public adjoint check, on the package's operators and on broken ones."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ppsolve.operators import (
    ColorToGray,
    Convolution,
    FiniteDifference,
    LinearOperator,
    Mask,
    PixelUnshuffle,
    dot_test,
    gaussian_kernel,
    motion_kernel,
    strided_convolution,
)

OPERATORS = [
    lambda: strided_convolution(gaussian_kernel(9, 2.0), (32, 32), 4),
    lambda: Convolution(motion_kernel(9, 30, 9), (24, 20), boundary="reflect"),
    lambda: Convolution(gaussian_kernel(5, 1.0), (3, 16, 16), boundary="zero"),
    lambda: ColorToGray((3, 8, 8)),
    lambda: FiniteDifference((12, 10), boundary="neumann"),
    lambda: PixelUnshuffle(2, (1, 8, 8)),
    lambda: Mask(np.random.default_rng(0).random((8, 8)) > 0.5),
    lambda: 2.0 * strided_convolution(gaussian_kernel(3, 1.0), (16, 16), 2) @ Convolution(gaussian_kernel(3, 1.0),
                                                                                      (16, 16)),
]


@pytest.mark.parametrize("make", OPERATORS)
def test_the_package_operators_pass_in_both_precisions_and_backends(make):
    A = make()
    assert dot_test(A) < 1e-12
    assert dot_test(A, dtype="float32", batch=(2,), seed=3) < 1e-5
    assert dot_test(A, backend="torch") < 1e-12


class _ShiftedAdjoint(LinearOperator):
    """A user's operator whose adjoint is off by one pixel: exactly what the dot test is for."""

    def __init__(self):
        super().__init__((16, 16), (16, 16))
        self.conv = Convolution(motion_kernel(9, 30, 9), (16, 16))

    def _apply(self, x):
        return self.conv._apply(x)

    def _adjoint(self, y):
        xp = np if isinstance(y, np.ndarray) else torch
        return xp.roll(self.conv._adjoint(y), 1, -1)


class _WrongShape(LinearOperator):
    def __init__(self):
        super().__init__((4, 4), (2, 2))

    def _apply(self, x):
        return x[..., :2, :2]

    def _adjoint(self, y):
        return y  # (2, 2), not (4, 4)


def test_a_wrong_adjoint_fails_with_the_numbers():
    with pytest.raises(ValueError, match=r"dot test failed .*relative error .* > rtol 1e-10"):
        dot_test(_ShiftedAdjoint())
    error = dot_test(_ShiftedAdjoint(), raise_error=False)
    assert error > 1e-3
    assert dot_test(_ShiftedAdjoint(), rtol=1.0) == error  # a loose tolerance passes it


def test_shapes_dtypes_and_arguments_are_checked():
    with pytest.raises(ValueError, match=r"A\^T y has shape \(2, 2\), expected \(4, 4\)"):
        dot_test(_WrongShape())
    with pytest.raises(TypeError, match="LinearOperator"):
        dot_test(np.eye(3))
    with pytest.raises(ValueError, match="dtype"):
        dot_test(Mask(np.ones((4, 4))), dtype="float16")
    with pytest.raises(ValueError, match="backend"):
        dot_test(Mask(np.ones((4, 4))), backend="jax")
