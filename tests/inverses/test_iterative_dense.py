"""GradientDescent, ConjugateGradient (plain, warm-started, preconditioned), DenseInverse and make_inverse:
against dense solves, on NumPy and torch, float64 and float32, with batches; and their argument checks."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ppsolve import inverses
from ppsolve._array import Constant
from ppsolve.inverses import (
    ConjugateGradient,
    DenseInverse,
    FourierInverse,
    GradientDescent,
    Inverse,
    make_inverse,
    relative_residual,
)
from ppsolve.inverses.iterative import STAGNATION_WINDOW
from ppsolve.operators import (
    ColorToGray,
    Convolution,
    Downsample,
    FiniteDifference,
    LinearOperator,
    Mask,
    MatrixOperator,
    gaussian_kernel,
    motion_kernel,
    strided_convolution,
)
from ppsolve.operators.fourier import irfft2, rfft2
from tests.helpers import dense_solve, rel


def _kernel(rng, shape):
    k = rng.standard_normal(shape)
    return k / np.abs(k).sum(axis=(-2, -1), keepdims=True)


CASES = {
    "conv": lambda rng: Convolution(_kernel(rng, (5, 4)), (12, 12)),
    "sr2": lambda rng: strided_convolution(_kernel(rng, (4, 4)), (12, 16), 2, offset=(1, 0)),
    "sr3_12x15": lambda rng: strided_convolution(_kernel(rng, (3, 5)), (12, 15), 3, offset=(2, 1)),
    "sr4": lambda rng: strided_convolution(_kernel(rng, (5, 5)), (16, 16), 4, offset=3),
    "gray_sr2": lambda rng: strided_convolution(_kernel(rng, (3, 3)), (8, 10), 2) @ ColorToGray((3, 8, 10)),
    "per_channel_sr2": lambda rng: Downsample(2, (3, 8, 8), offset=1) @ Convolution(_kernel(rng, (3, 3, 3)), (3, 8, 8)),
    "zero_sr2": lambda rng: strided_convolution(_kernel(rng, (3, 3)), (8, 8), 2, boundary="zero"),
    "reflect_conv": lambda rng: Convolution(_kernel(rng, (3, 4)), (9, 8), boundary="reflect"),
    "mask": lambda rng: Mask(rng.random((8, 9)) < 0.5) @ Convolution(_kernel(rng, (3, 3)), (8, 9)),
    "differences": lambda rng: FiniteDifference((7, 6)),
}
BETA = 0.2


def as_backend(x, backend, dtype):
    return x.astype(dtype) if backend == "numpy" else torch.tensor(x, dtype=getattr(torch, dtype))


def to_np(z, backend, dtype):
    if backend == "numpy":
        assert isinstance(z, np.ndarray) and z.dtype == np.dtype(dtype)
        return z
    assert isinstance(z, torch.Tensor) and z.dtype == getattr(torch, dtype)
    return z.numpy()


def problem(case, batch=(2,)):
    rng = np.random.default_rng(sum(map(ord, case)))
    A = CASES[case](rng)
    b = rng.standard_normal(batch + A.in_shape)
    return A, b, dense_solve(A, BETA, b)


def fourier_preconditioner(A, beta):
    """The exact B = (beta I + A A^T)^{-1} of a periodic (strided) convolution, applied in Fourier."""
    weights = Constant(1.0 / (beta + FourierInverse(A, beta).eigenvalues))
    low = A.out_shape[-2:]
    return lambda r: irfft2(rfft2(r) * weights.like(r), low)


# -- every inverse against a dense solve -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_dense_inverse_matches_dense(case, backend, dtype):
    A, b, expected = problem(case, batch=(2, 1))
    inverse = DenseInverse(A, BETA)
    z = to_np(inverse.solve(as_backend(b, backend, dtype)), backend, dtype)
    assert z.shape == b.shape
    assert rel(z, expected) <= (1e-12 if dtype == "float64" else 1e-6)
    assert inverse.last.iterations == 0


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_cg_matches_dense(case, backend):
    A, b, expected = problem(case)
    cg = ConjugateGradient(A, BETA, tol=1e-12)
    z = to_np(cg.solve(as_backend(b, backend, "float64")), backend, "float64")
    assert cg.last_converged and 0 < cg.last.iterations < 200
    assert rel(z, expected) <= 1e-10
    assert cg.last_history[-1] <= 1e-12 and len(cg.last_history) == cg.last.iterations + 1


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("case", ["sr3_12x15", "gray_sr2", "zero_sr2"])
def test_cg_float32(case, backend):
    A, b, expected = problem(case)
    cg = ConjugateGradient(A, BETA, tol=1e-5)
    z = to_np(cg.solve(as_backend(b, backend, "float32")), backend, "float32")
    assert cg.last_converged
    assert rel(z, expected) <= 1e-4


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("case", ["sr2", "gray_sr2", "per_channel_sr2", "mask", "differences"])
def test_gd_converges_to_dense(case, backend):
    A, b, expected = problem(case)
    gd = GradientDescent(A, BETA, maxiter=2000, tol=1e-11)
    z = to_np(gd.solve(as_backend(b, backend, "float64")), backend, "float64")
    assert gd.last_converged and gd.last.iterations < 2000
    assert rel(z, expected) <= 1e-9
    # the default step is 2 / (lambda_max + lambda_min), lambda_max = ||A||^2 + beta, lambda_min = beta
    assert gd.step == pytest.approx(2.0 / (A.norm() ** 2 + 2 * BETA))


def test_gd_fixed_steps_and_contraction():
    """tol = 0 runs exactly maxiter steps (no history); the error contracts by ||A||^2 / (||A||^2 + 2 beta)."""
    A, b, expected = problem("sr2", batch=())
    e0 = np.linalg.norm(expected)
    factor = A.norm() ** 2 / (A.norm() ** 2 + 2 * BETA)
    for steps in (0, 1, 5):
        gd = GradientDescent(A, BETA, maxiter=steps)
        z = gd.solve(b)
        assert gd.last.iterations == steps and gd.last_history == []
        assert np.linalg.norm(z - expected) <= factor**steps * e0 * (1 + 1e-9)
    warm = GradientDescent(A, BETA, maxiter=1).solve(b, x0=expected)
    np.testing.assert_allclose(warm, expected, atol=1e-12)  # a fixed point


def test_cg_batch_items_are_independent():
    """Each batch item has its own step sizes: solving a batch equals solving the items one by one."""
    A, b, _ = problem("sr4", batch=(3,))
    b[1] *= 1e3
    expected = dense_solve(A, BETA, b)
    cg = ConjugateGradient(A, BETA, tol=1e-12)
    z = cg.solve(b)
    for i in range(3):
        assert rel(z[i], expected[i]) <= 1e-10


def test_cg_zero_rhs_item():
    A, b, _ = problem("sr2", batch=(2,))
    b[0] = 0.0
    z = ConjugateGradient(A, BETA, tol=1e-10).solve(b)
    assert np.all(z[0] == 0) and rel(z[1], dense_solve(A, BETA, b[1])) <= 1e-8


def test_cg_warm_start_reduces_iterations():
    A, b, expected = problem("zero_sr2", batch=())
    cold = ConjugateGradient(A, BETA, tol=1e-10)
    cold.solve(b)
    warm = ConjugateGradient(A, BETA, tol=1e-10)
    x0 = expected + 1e-6 * np.random.default_rng(0).standard_normal(b.shape)
    z = warm.solve(b, x0=x0)
    assert warm.last.iterations < cold.last.iterations
    assert rel(z, expected) <= 1e-8
    exact = ConjugateGradient(A, BETA, tol=1e-10)
    exact.solve(b, x0=expected)
    assert exact.last.iterations == 0


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("case", ["sr3_12x15", "gray_sr2", "conv"])
def test_pcg_exact_preconditioner_converges_at_once(case, backend):
    A, b, expected = problem(case)
    pcg = ConjugateGradient(A, BETA, tol=1e-10, preconditioner=fourier_preconditioner(A, BETA))
    z = to_np(pcg.solve(as_backend(b, backend, "float64")), backend, "float64")
    assert pcg.last_converged and pcg.last.iterations <= 2
    assert rel(z, expected) <= 1e-10


def test_pcg_approximate_preconditioner_and_true_residual():
    """An approximate B (the periodic operator's, for a zero-boundary one) still converges, in fewer
    iterations than plain CG; the reported full-system residual is the true one."""
    rng = np.random.default_rng(4)
    kernel = gaussian_kernel(5, 1.5)
    A = strided_convolution(kernel, (24, 24), 2, boundary="zero")
    periodic = strided_convolution(kernel, (24, 24), 2)
    beta = 1e-3
    b = rng.standard_normal((24, 24))
    plain = ConjugateGradient(A, beta, tol=1e-8)
    plain.solve(b)
    pcg = ConjugateGradient(A, beta, tol=1e-8, preconditioner=fourier_preconditioner(periodic, beta))
    z = pcg.solve(b)
    assert pcg.last_converged and pcg.last.iterations < plain.last.iterations
    assert rel(z, dense_solve(A, beta, b)) <= 1e-6
    recomputed = relative_residual(A, beta, z, b)
    assert pcg.last_history[-1] == pytest.approx(recomputed, rel=1e-3)
    # warm start w0 = A x0 is consistent: an exact x0 needs no iteration
    again = ConjugateGradient(A, beta, tol=1e-8, preconditioner=fourier_preconditioner(periodic, beta))
    again.solve(b, x0=dense_solve(A, beta, b))
    assert again.last.iterations == 0


def test_pcg_identity_preconditioner_batched_and_callback():
    A, b, expected = problem("per_channel_sr2", batch=(2,))
    seen = []
    pcg = ConjugateGradient(A, BETA, tol=1e-11, preconditioner=lambda r: r, callback=lambda k, res: seen.append(k))
    z = pcg.solve(b, x0=np.zeros_like(b))
    assert rel(z, expected) <= 1e-9
    assert seen == list(range(pcg.last.iterations + 1)) and len(pcg.last_history) == len(seen)


def test_track_residual_report():
    A, b, _ = problem("mask", batch=())
    cg = ConjugateGradient(A, BETA, tol=1e-9, track_residual=True)
    z = cg.solve(b)
    assert cg.last.residual == pytest.approx(relative_residual(A, BETA, z, b))
    assert cg.last.residual <= 1e-9 and cg.last.seconds > 0


# -- DenseInverse specifics ------------------------------------------------------------------------------
def test_dense_factor_cached_and_large_output_path():
    rng = np.random.default_rng(5)
    A = MatrixOperator(rng.standard_normal((20000, 12)), in_shape=(3, 4))  # too tall for to_dense
    inverse = DenseInverse(A, 0.5)
    factor = inverse.factor()
    assert inverse.factor() is factor
    b = rng.standard_normal((2, 3, 4))
    M = A.to_scipy() @ np.eye(12)
    expected = np.linalg.solve(M.T @ M + 0.5 * np.eye(12), b.reshape(2, 12).T).T.reshape(b.shape)
    assert rel(inverse.solve(b), expected) <= 1e-12


def test_dense_too_large():
    A = Convolution(np.ones((3, 3)) / 9, (65, 64))
    with pytest.raises(ValueError, match="FourierInverse.*ConjugateGradient.*LearnedInverse"):
        DenseInverse(A, 0.1)
    DenseInverse(Convolution(np.ones((3, 3)) / 9, (8, 8)), 0.1, max_size=64)
    with pytest.raises(ValueError, match="max_size = 63"):
        DenseInverse(Convolution(np.ones((3, 3)) / 9, (8, 8)), 0.1, max_size=63)


def test_dense_torch_no_autograd_dtype_device():
    A, b, _ = problem("sr2", batch=())
    x = torch.tensor(b, dtype=torch.float32, requires_grad=True)
    z = DenseInverse(A, BETA).solve(x)
    assert z.dtype == torch.float32 and z.device == x.device and not z.requires_grad


# -- argument checks -------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [GradientDescent, ConjugateGradient, DenseInverse, FourierInverse])
def test_bad_beta_and_shapes(cls):
    A = strided_convolution(gaussian_kernel(3, 1.0), (8, 8), 2)
    for beta in (0.0, -0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="beta"):
            cls(A, beta)
    with pytest.raises(TypeError, match="beta"):
        cls(A, "large")
    inverse = cls(A, 0.1)
    with pytest.raises(ValueError, match="shape"):
        inverse.solve(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="x0"):
        inverse.solve(np.zeros((2, 8, 8)), x0=np.zeros((8, 8)))
    with pytest.raises(TypeError):
        inverse.solve([[0.0] * 8] * 8)


def test_bad_iteration_arguments():
    A = Convolution(np.ones((3, 3)) / 9, (8, 8))
    with pytest.raises(ValueError, match="maxiter"):
        GradientDescent(A, 0.1, maxiter=-1)
    with pytest.raises(TypeError, match="maxiter"):
        ConjugateGradient(A, 0.1, maxiter=2.5)
    with pytest.raises(ValueError, match="tol"):
        ConjugateGradient(A, 0.1, tol=-1e-3)
    with pytest.raises(ValueError, match="step"):
        GradientDescent(A, 0.1, step=0)
    with pytest.raises(TypeError, match="preconditioner"):
        ConjugateGradient(A, 0.1, preconditioner=np.eye(3))


def test_fourier_on_zero_boundary_names_alternatives():
    A = strided_convolution(gaussian_kernel(3, 1.0), (8, 8), 2, boundary="zero")
    with pytest.raises(ValueError, match="ConjugateGradient"):
        FourierInverse(A, 0.1)


# -- make_inverse ----------------------------------------------------------------------------------------
def test_make_inverse_by_name_and_auto():
    periodic = strided_convolution(gaussian_kernel(3, 1.0), (8, 8), 2)
    zero = strided_convolution(gaussian_kernel(3, 1.0), (8, 8), 2, boundary="zero")
    assert isinstance(make_inverse(periodic, 0.1), FourierInverse)
    assert isinstance(make_inverse(zero, 0.1), ConjugateGradient)
    auto = make_inverse(zero, 0.1, "auto", tol=1e-5, maxiter=7)
    assert (auto.tol, auto.maxiter) == (1e-5, 7)
    assert isinstance(make_inverse(periodic, 0.1, "auto", tol=1e-5), FourierInverse)  # CG options dropped
    for name, cls in [("gd", GradientDescent), ("cg", ConjugateGradient), ("dense", DenseInverse),
                      ("fourier", FourierInverse), ("CG", ConjugateGradient)]:
        inverse = make_inverse(periodic, 0.1, name)
        assert type(inverse) is cls and inverse.beta == 0.1 and inverse.A is periodic
    assert make_inverse(periodic, 0.1, "gd", maxiter=3).maxiter == 3


def test_make_inverse_checks_instances():
    A = strided_convolution(gaussian_kernel(3, 1.0), (8, 8), 2)
    inverse = FourierInverse(A, 0.1)
    assert make_inverse(A, 0.1, inverse) is inverse
    rebuilt = strided_convolution(gaussian_kernel(3, 1.0), (8, 8), 2)
    assert make_inverse(rebuilt, 0.1, inverse) is inverse  # same fingerprint
    with pytest.raises(ValueError, match=r"beta = 0\.1.*beta = 0\.2"):
        make_inverse(A, 0.2, inverse)
    with pytest.raises(ValueError, match="operator"):
        make_inverse(strided_convolution(gaussian_kernel(3, 2.0), (8, 8), 2), 0.1, inverse)
    with pytest.raises(ValueError, match="operator"):
        make_inverse(Convolution(gaussian_kernel(3, 1.0), (8, 8)), 0.1, inverse)
    with pytest.raises(ValueError, match="options"):
        make_inverse(A, 0.1, inverse, tol=1e-3)


def test_make_inverse_unknown_name():
    A = Convolution(np.ones((3, 3)) / 9, (8, 8))
    with pytest.raises(ValueError, match="'gd', 'cg', 'dense', 'fourier', 'auto'"):
        make_inverse(A, 0.1, "lu")
    with pytest.raises(ValueError, match=r"LearnedInverse\.train"):
        make_inverse(A, 0.1, "learned")
    with pytest.raises(TypeError):
        make_inverse(A, 0.1, 3)


def test_exports():
    for name in ("Inverse", "SolveReport", "GradientDescent", "ConjugateGradient", "DenseInverse",
                 "FourierInverse", "make_inverse"):
        assert name in inverses.__all__ and hasattr(inverses, name)
    assert issubclass(FourierInverse, Inverse)
    names = {cls.name for cls in (GradientDescent, ConjugateGradient, DenseInverse, FourierInverse)}
    assert names == {"gd", "cg", "dense", "fourier"}


def test_cg_with_tol_zero_stops_at_the_rounding_level_instead_of_running_into_nan():
    """tol = 0 asks for more than float64 holds: the recursive residual fell to 1e-162, the true one grew back
    to 3e-7 and after ~10,600 iterations the answer was NaN. Now CG stops at the rounding level and says so."""
    A = strided_convolution(gaussian_kernel(9, 2.0), (32, 32), 4)
    b = np.random.default_rng(0).standard_normal((2, 32, 32))
    cg = ConjugateGradient(A, 0.01, tol=0.0, maxiter=20000)
    z, report = cg.solve_report(b)
    assert np.all(np.isfinite(z)) and report.iterations < 100
    assert report.stop_reason == "precision" and not report.converged
    assert relative_residual(A, 0.01, z, b) < 1e-14
    z32, report32 = ConjugateGradient(A, 0.01, tol=1e-8).solve_report(b.astype(np.float32))  # tol below float32's
    assert report32.stop_reason == "precision" and report32.iterations < 100 and np.all(np.isfinite(z32))


class _WrongAdjoint(LinearOperator):
    """A user's operator whose adjoint is off by a shift: A^T A + beta I is then not symmetric."""

    def __init__(self, shape=(32, 32)):
        super().__init__(shape, shape)
        self.conv = Convolution(motion_kernel(9, 30, 9), shape)

    def _apply(self, x):
        return self.conv._apply(x)

    def _adjoint(self, y):
        return np.roll(self.conv._adjoint(y), 3, axis=-1)


@pytest.mark.parametrize("beta", [0.01, 0.1, 1.0])
def test_cg_on_a_broken_operator_stops_on_breakdown_or_stagnation(beta):
    b = np.random.default_rng(0).standard_normal((32, 32))
    z, report = ConjugateGradient(_WrongAdjoint(), beta, tol=1e-10, maxiter=20000).solve_report(b)
    assert report.stop_reason in ("breakdown", "stagnation") and not report.converged
    assert report.iterations <= STAGNATION_WINDOW + 10 and np.all(np.isfinite(z))


def test_pcg_with_an_indefinite_preconditioner_breaks_down_at_once():
    A = strided_convolution(gaussian_kernel(9, 2.0), (32, 32), 4)
    b = np.random.default_rng(0).standard_normal((32, 32))
    _, report = ConjugateGradient(A, 0.01, preconditioner=lambda r: -r).solve_report(b)
    assert report.stop_reason == "breakdown" and report.iterations == 1 and not report.converged
