"""ppsolve.operators.crop: Crop, the valid-convolution model of a photograph, its periodic factor."""
from __future__ import annotations

import numpy as np
import pytest

from ppsolve.inverses import ConjugateGradient, make_inverse
from ppsolve.operators import (
    Convolution,
    Crop,
    dot_test,
    gaussian_kernel,
    motion_kernel,
    valid_convolution,
    valid_strided_convolution,
)
from ppsolve.operators.crop import reach
from tests.helpers import check_operator


def test_crop_and_its_adjoint():
    C = Crop((2, 9, 11), (2, 3), (4, 5))
    check_operator(C)
    x = np.arange(2 * 9 * 11.0).reshape(2, 9, 11)
    np.testing.assert_array_equal(C.apply(x), x[:, 2:6, 3:8])
    np.testing.assert_array_equal(C.apply(C.adjoint(C.apply(x))), C.apply(x))  # C C^T = I
    with pytest.raises(ValueError, match="does not fit"):
        Crop((8, 8), (5, 0), (4, 4))


@pytest.mark.parametrize("kernel", [motion_kernel(9, 30, 9), gaussian_kernel((5, 4), 1.0), np.ones((2, 3)) / 6])
def test_valid_model_is_the_frame_of_a_convolution_of_the_larger_scene(kernel):
    frame = (20, 17)
    A = valid_convolution(kernel, frame)
    pad = reach(kernel.shape)
    assert A.out_shape == frame and A.in_shape == (20 + 2 * pad[0], 17 + 2 * pad[1])
    assert dot_test(A) < 1e-12
    x = np.random.default_rng(0).random(A.in_shape)
    zero = Convolution(kernel, A.in_shape, boundary="zero").apply(x)  # no wrap-around reaches the frame
    np.testing.assert_allclose(A.apply(x), A.frame.apply(zero), atol=1e-14)
    restriction, periodic = A.periodic_factor()
    assert isinstance(restriction, Crop) and periodic.fourier_structure() is not None


def test_valid_strided_model_samples_the_frame_on_its_own_grid():
    kernel = gaussian_kernel(5, 1.5)
    A = valid_strided_convolution(kernel, (32, 24), 4)
    assert A.out_shape == (8, 6) and A.in_shape[-2] % 4 == 0 and dot_test(A) < 1e-12
    x = np.random.default_rng(1).random(A.in_shape)
    blurred = A.frame.apply(Convolution(kernel, A.in_shape, boundary="zero").apply(x))
    np.testing.assert_allclose(A.apply(x), blurred[::4, ::4], atol=1e-14)
    with pytest.raises(ValueError, match="multiple of the factor"):
        valid_strided_convolution(kernel, (30, 24), 4)


@pytest.mark.parametrize("beta", [6e-4, 4e-3, 7e-2])
def test_auto_preconditions_the_valid_model_with_the_restricted_closed_form(beta):
    A = valid_convolution(motion_kernel(9, 30, 9), (64, 64))
    b = np.random.default_rng(2).random(A.in_shape)
    pcg = make_inverse(A, beta, "auto", tol=1e-8)
    assert isinstance(pcg, ConjugateGradient) and pcg.preconditioner is not None
    z, report = pcg.solve_report(b)
    z_plain, plain = ConjugateGradient(A, beta, tol=1e-8).solve_report(b)
    assert report.converged and report.iterations < plain.iterations
    np.testing.assert_allclose(z, z_plain, atol=1e-6 * np.abs(z).max())
