"""ShiftedLearnedInverse: one learned circulant moved to every beta by the resolvent identity, then refined."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ppsolve.inverses import ConjugateGradient, FourierInverse, LearnedInverse
from ppsolve.inverses.learned_shift import ShiftedLearnedInverse, every_beta
from ppsolve.operators import Convolution, gaussian_kernel, motion_kernel, strided_convolution

BETA0 = 0.002
N = 16


def _exact_base(A, beta0, form):
    """An untrained LearnedInverse whose circular bank is set so that C_0 = R(beta_0) exactly: one channel with
    the kernel of (beta_0 I + G)^{-1/2}, G = A^T A (direct) or A A^T (Woodbury), a circulant."""
    shape = A.in_shape if A.in_shape == A.out_shape else A.out_shape  # the grid C_0 lives on ("auto" form)
    n1, n2 = shape
    inv = LearnedInverse(A, beta0, form=form, channels=2, kernel_size=n1 + 1, dtype="float64")
    delta = np.zeros(shape)
    delta[0, 0] = 1.0
    column = A.adjoint(A.apply(delta)) if inv.form == "direct" else A.apply(A.adjoint(delta))
    eigenvalues = np.real(np.fft.fft2(column))
    f = np.real(np.fft.ifft2(1.0 / np.sqrt(eigenvalues + beta0)))
    k = inv.network.kernel_size
    w = np.zeros((k, k))
    for t1 in range(1, k):  # taps m = t - k // 2 in (-n/2, n/2], folded to m mod n once each
        for t2 in range(1, k):
            w[t1, t2] = f[(t1 - k // 2) % n1, (t2 - k // 2) % n2]
    with torch.no_grad():
        inv.network.raw.zero_()
        inv.network.raw[0, 0] = torch.from_numpy(w) / inv.network.gain
    inv._copies.clear()
    return inv


@pytest.fixture(scope="module")
def deblur():
    return Convolution(motion_kernel(5, 30, 5), (N, N))


@pytest.fixture(scope="module")
def sr():
    return strided_convolution(gaussian_kernel(5, 1.0), (N, N), 2)


@pytest.mark.parametrize("which", ["deblur", "sr"])
@pytest.mark.parametrize("beta", [BETA0, 0.01, 0.3, 5.0])
def test_an_exact_network_stays_exact_at_every_beta(request, which, beta):
    A = request.getfixturevalue(which)
    base = _exact_base(A, BETA0, "auto")
    assert base.form == ("direct" if which == "deblur" else "woodbury")
    b = np.random.default_rng(0).standard_normal((2,) + A.in_shape)
    z = ShiftedLearnedInverse(base, beta, refine=0).solve(b)
    exact = FourierInverse(A, beta).solve(b)
    assert np.abs(z - exact).max() <= 1e-9 * np.abs(exact).max()


def test_at_its_own_beta_it_is_the_network(deblur):
    base = LearnedInverse.train(deblur, BETA0, steps=30, progress=False, kernel_size=7)
    b = np.random.default_rng(1).standard_normal(deblur.in_shape)
    np.testing.assert_allclose(ShiftedLearnedInverse(base, BETA0, refine=0).solve(b), base.solve(b), atol=1e-10)


def test_refinement_removes_the_error_and_the_shift_does_not_grow_it():
    A = Convolution(gaussian_kernel(5, 1.0), (N, N))
    base = LearnedInverse.train(A, 0.05, steps=200, progress=False, kernel_size=9)
    x = np.random.default_rng(2).standard_normal((4,) + A.in_shape)

    def error(beta, refine):
        b = A.adjoint(A.apply(x)) + beta * x
        return np.linalg.norm(ShiftedLearnedInverse(base, beta, refine).solve(b) - x) / np.linalg.norm(x)

    b = A.adjoint(A.apply(x)) + 0.5 * x
    assert ShiftedLearnedInverse(base, 0.5, refine=3).solve_report(b)[1].iterations == 3
    at_base = error(0.05, 0)
    assert 1e-3 < at_base < 0.2  # a network that is neither broken nor exact (measured: 0.067)
    for beta in (0.1, 0.5, 2.0):
        assert error(beta, 0) <= at_base
        assert error(beta, 1) < 0.2 * error(beta, 0)
        assert error(beta, 3) < 0.01 * error(beta, 1)


def test_solve_keeps_array_kind_and_dtype_and_reports_its_steps(deblur):
    base = _exact_base(deblur, BETA0, "auto")
    inv = ShiftedLearnedInverse(base, 0.05, refine=2)
    b = torch.randn((3,) + deblur.in_shape, dtype=torch.float32)
    z, report = inv.solve_report(b)
    assert isinstance(z, torch.Tensor) and z.dtype == torch.float32 and z.shape == b.shape
    assert report.iterations <= 2  # exact from the start: CG stops at the rounding level
    np.testing.assert_allclose(z.numpy(), FourierInverse(deblur, 0.05).solve(b.double().numpy()), atol=1e-4)


def test_preconditioner_makes_cg_converge_at_once(deblur):
    base = _exact_base(deblur, BETA0, "auto")
    shifted = ShiftedLearnedInverse(base, 0.02, refine=0)
    b = np.random.default_rng(3).standard_normal(deblur.in_shape)
    cg = ConjugateGradient(deblur, 0.02, tol=1e-8, preconditioner=shifted.preconditioner(), space="input")
    z, report = cg.solve_report(b)
    plain = ConjugateGradient(deblur, 0.02, tol=1e-8).solve_report(b)[1]
    assert report.iterations <= 2 < plain.iterations
    np.testing.assert_allclose(z, FourierInverse(deblur, 0.02).solve(b), atol=1e-7)


def test_refuses_what_it_cannot_shift(deblur):
    base = _exact_base(deblur, BETA0, "auto")
    with pytest.raises(ValueError, match="too far below the beta the network was trained for"):
        ShiftedLearnedInverse(base, BETA0 / 10)
    with pytest.raises(ValueError, match="refine"):
        ShiftedLearnedInverse(base, 0.1, refine=-1)
    zero = LearnedInverse(deblur, BETA0, padding="zero")
    with pytest.raises(ValueError, match="circular padding"):
        ShiftedLearnedInverse(zero, 0.1)
    paper = LearnedInverse(deblur, BETA0, "paper")
    with pytest.raises(ValueError, match="'linear' architecture"):
        ShiftedLearnedInverse(paper, 0.1)


def test_every_beta_serves_a_schedule_and_checks_the_operator(deblur):
    base = _exact_base(deblur, BETA0, "auto")
    make = every_beta(base, refine=0)
    first = make(deblur, 0.01)
    assert make(deblur, 0.01) is first and make(deblur, 0.1).beta == 0.1
    same = Convolution(motion_kernel(5, 30, 5), (N, N))
    assert make(same, 0.01) is first
    with pytest.raises(ValueError, match="the learned inverse is for"):
        make(Convolution(motion_kernel(5, 60, 5), (N, N)), 0.01)
