"""ADMM: the right minimiser (against an independent FISTA), the same iterates for every exact inverse,
the paper-literal degenerate case, history, stopping rules, errors, torch and batches."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from ppsolve.admm import ADMM, ADMMResult, History
from ppsolve.inverses import ConjugateGradient, DenseInverse, FourierInverse, GradientDescent
from ppsolve.inverses.base import Inverse
from ppsolve.problems import synthetic_laplace
from ppsolve.prox import TV, Box, SoftThreshold

BETA = 1e-3  # fast convergence for the default synthetic Laplace problem (||A||^2 ~ 0.0626, lam = 0.02)


def objective(A, y, lam, x):
    r = y - A.apply(x)
    return float(np.sum(r * r) + lam * np.sum(np.abs(x)))


def fista(A, y, lam, iters):
    """Beck-Teboulle FISTA on ||y - A x||^2 + lam ||x||_1, step 1 / (2 ||A||^2) (the gradient's Lipschitz
    constant is 2 ||A||^2), written here independently of ppsolve.prox and ppsolve.inverses."""
    step = 1.0 / (2.0 * A.norm() ** 2 * (1 + 1e-6))
    Aty = A.adjoint(y)
    x = np.zeros(A.in_shape)
    w, t = x, 1.0
    for _ in range(iters):
        v = w - step * 2.0 * (A.adjoint(A.apply(w)) - Aty)
        x_new = np.sign(v) * np.maximum(np.abs(v) - lam * step, 0.0)
        t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        w = x_new + (t - 1.0) / t_new * (x_new - x)
        x, t = x_new, t_new
    return x


@pytest.fixture(scope="module")
def laplace():
    return synthetic_laplace()


@pytest.fixture(scope="module")
def fourier(laplace):
    return FourierInverse(laplace.A, BETA)


@pytest.fixture(scope="module")
def admm_run(laplace, fourier):
    return ADMM(laplace.A, SoftThreshold(), fourier, lam=laplace.lam).solve(laplace.y, iters=400, x_true=laplace.x)


@pytest.fixture(scope="module")
def small():
    return synthetic_laplace((16, 16), seed=5)


# -- the minimiser ---------------------------------------------------------------------------------------------


def test_admm_reaches_the_fista_minimum(laplace, admm_run):
    A, y, lam = laplace.A, laplace.y, laplace.lam
    x_ref = fista(A, y, lam, 1500)  # F within ~1e-9 (relative) of its minimum
    f_ref = objective(A, y, lam, x_ref)
    f_admm = objective(A, y, lam, admm_run.x)
    assert admm_run.history.objective[-1] == pytest.approx(f_admm, rel=1e-12)
    assert abs(f_admm - f_ref) <= 1e-6 * f_ref
    # the l1 minimiser is unique here: the estimates agree too
    assert np.linalg.norm(admm_run.x - x_ref) <= 1e-3 * np.linalg.norm(x_ref)


def test_estimate_is_sparse_but_not_trivial(laplace, admm_run):
    """An l1 minimiser with m measurements has at most m non-zeros (here m = n / 16, 6.25%); the MAP estimate of
    the default problem keeps about 2% of the pixels. (A 5%..95% band cannot hold at stride 4.)"""
    m, n = laplace.A.shape
    nonzero = np.count_nonzero(admm_run.x)
    assert 0.01 * n <= nonzero <= m
    # exact zeros from the soft threshold, and x = z at convergence
    assert np.linalg.norm(admm_run.x - admm_run.z) < 1e-4 * np.linalg.norm(admm_run.x)


def test_paper_literal_map_estimate_is_zero():
    P = synthetic_laplace(paper_literal=True)
    assert (P.lam, P.sigma) == (1.0, 1.0)
    gradient_at_zero = 2.0 * np.max(np.abs(P.A.adjoint(P.y)))
    assert gradient_at_zero < P.lam  # the subgradient condition for x = 0
    result = ADMM(P.A, SoftThreshold(), "fourier", beta=0.05, lam=P.lam).solve(P.y, iters=200)
    assert np.count_nonzero(result.x) == 0
    assert result.history.objective[-1] == pytest.approx(float(np.sum(P.y**2)), rel=1e-12)


@pytest.mark.parametrize("inverse", ["dense", "cg", "gd"])
def test_every_exact_inverse_gives_the_same_iterates(small, inverse):
    A, y, lam, beta = small.A, small.y, small.lam, 0.02
    reference = ADMM(A, SoftThreshold(), FourierInverse(A, beta), lam=lam).solve(y, iters=20)
    inv = {"dense": lambda: DenseInverse(A, beta),
           "cg": lambda: ConjugateGradient(A, beta, tol=1e-13),
           "gd": lambda: GradientDescent(A, beta, tol=1e-13, maxiter=20000)}[inverse]()
    other = ADMM(A, SoftThreshold(), inv, lam=lam).solve(y, iters=20)
    for a, b in ((reference.x, other.x), (reference.z, other.z), (reference.u, other.u)):
        assert np.linalg.norm(a - b) <= 1e-8 * np.linalg.norm(a)
    np.testing.assert_allclose(other.history.objective, reference.history.objective, rtol=1e-10)
    if inverse in ("cg", "gd"):
        assert min(other.history.inverse_iterations) > 0  # warm started from z, but still iterating


def test_inverse_by_name_and_options(small):
    admm = ADMM(small.A, SoftThreshold(), "cg", beta=0.02, lam=small.lam, tol=1e-11, maxiter=77)
    assert isinstance(admm.inverse, ConjugateGradient) and admm.inverse.tol == 1e-11 and admm.inverse.maxiter == 77
    assert isinstance(ADMM(small.A, SoftThreshold(), beta=0.02, lam=0.1).inverse, FourierInverse)  # "auto"
    assert admm.tau == pytest.approx(small.lam / 0.04)


# -- history ---------------------------------------------------------------------------------------------------


def test_history_fields(admm_run, laplace):
    h = admm_run.history
    assert isinstance(admm_run, ADMMResult) and isinstance(h, History)
    assert admm_run.iterations == 400 and len(h) == 400 and not admm_run.converged
    assert admm_run.stop_reason == "iters"
    for name, values in h.as_dict().items():
        assert len(values) == 400, name
    assert np.all(np.diff(h.time) > 0) and np.all(np.diff(h.wall) > 0)
    assert np.all(np.array(h.wall) >= np.array(h.time))
    np.testing.assert_allclose(np.cumsum(np.add(np.add(h.time_prox, h.time_inverse), h.time_dual)), h.time, rtol=1e-9)
    assert all(it == 0 for it in h.inverse_iterations)  # Fourier: closed form
    np.testing.assert_allclose(h.objective, np.add(h.data, laplace.lam * np.array(h.regularizer)), rtol=1e-12)
    # residuals: consistent with the final iterates, and small at the end
    assert h.primal_residual[-1] == pytest.approx(float(np.linalg.norm(admm_run.x - admm_run.z)))
    assert h.primal_relative[-1] < 1e-5 and h.dual_relative[-1] < 1e-5
    assert h.nmse[-1] == pytest.approx(np.sum((admm_run.x - laplace.x) ** 2) / np.sum(laplace.x**2))
    # strict JSON
    data = json.loads(h.to_json(beta=BETA), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert data["beta"] == BETA and len(data["objective"]) == 400
    assert h.entry(0)["objective"] == h.objective[0]


def test_history_without_x_true_and_unknown_regulariser(small, tmp_path):
    res = ADMM(small.A, lambda v, tau: v - np.clip(v, -tau, tau), "fourier", beta=0.02, lam=small.lam).solve(
        small.y, iters=5)
    h = res.history
    assert all(math.isnan(v) for v in h.nmse)
    assert all(math.isnan(v) for v in h.objective) and all(math.isnan(v) for v in h.regularizer)
    assert all(np.isfinite(h.data))
    path = tmp_path / "history.json"
    h.to_json(path)
    data = json.loads(path.read_text())
    assert data["objective"] == [None] * 5
    # lam = 0: the objective is the data term, whatever R is
    res0 = ADMM(small.A, lambda v, tau: v, "fourier", beta=0.02, lam=0.0).solve(small.y, iters=3)
    assert res0.history.objective == res0.history.data


# -- stopping rules --------------------------------------------------------------------------------------------


def test_callback_stops_and_sees_the_state(small):
    seen = []

    def callback(k, state):
        seen.append((k, state.k, len(state.history), state.record["objective"]))
        assert state.x.shape == small.A.in_shape and state.admm.beta == 0.02
        return k == 5

    admm = ADMM(small.A, SoftThreshold(), "fourier", beta=0.02, lam=small.lam)
    res = admm.solve(small.y, iters=50, callback=callback)
    assert res.iterations == 5 and len(res.history) == 5 and res.stop_reason == "callback" and not res.converged
    assert [s[0] for s in seen] == [1, 2, 3, 4, 5] and all(s[0] == s[1] == s[2] for s in seen)


def test_tol_stops(small):
    admm = ADMM(small.A, SoftThreshold(), "fourier", beta=0.003, lam=small.lam)
    res = admm.solve(small.y, iters=5000, tol=1e-6)
    assert res.converged and res.stop_reason == "tol" and res.iterations < 5000
    assert res.history.primal_relative[-1] <= 1e-6 and res.history.dual_relative[-1] <= 1e-6
    earlier = res.history
    assert not (earlier.primal_relative[-2] <= 1e-6 and earlier.dual_relative[-2] <= 1e-6)


def test_tol_stops_when_the_minimiser_is_zero():
    P = synthetic_laplace((32, 32), paper_literal=True)
    res = ADMM(P.A, SoftThreshold(), "fourier", beta=0.05, lam=P.lam).solve(P.y, iters=2000, tol=1e-6)
    assert res.converged and np.count_nonzero(res.x) == 0


# -- errors ----------------------------------------------------------------------------------------------------


def test_nan_from_the_prox_names_the_iteration(small):
    calls = {"n": 0}

    def bad(v, tau):
        calls["n"] += 1
        out = v - np.clip(v, -tau, tau)
        if calls["n"] == 3:
            out = out.copy()
            out[0, 0] = np.nan
        return out

    with pytest.raises(FloatingPointError, match=r"iteration 3\b.*x"):
        ADMM(small.A, bad, "fourier", beta=0.02, lam=small.lam).solve(small.y, iters=10)


def test_inf_from_the_inverse_names_z(small):
    class Broken(Inverse):
        def _solve(self, b, x0):
            return b * np.inf, 0

    with pytest.raises(FloatingPointError, match=r"iteration 1\b.*z"):
        ADMM(small.A, SoftThreshold(), Broken(small.A, 0.02), lam=small.lam).solve(small.y, iters=3)


def test_prox_with_a_wrong_shape_raises(small):
    with pytest.raises(ValueError, match="iteration 1.*shape"):
        ADMM(small.A, lambda v, tau: v[..., :-1], "fourier", beta=0.02, lam=0.1).solve(small.y, iters=3)


def test_beta_checks(small):
    inv = FourierInverse(small.A, 0.02)
    with pytest.raises(ValueError, match=r"beta = 0\.03.*beta = 0\.02"):
        ADMM(small.A, SoftThreshold(), inv, beta=0.03, lam=0.1)
    admm = ADMM(small.A, SoftThreshold(), inv, lam=0.1)
    assert admm.beta == 0.02 and admm.inverse is inv
    assert ADMM(small.A, SoftThreshold(), inv, beta=0.02, lam=0.1).inverse is inv
    with pytest.raises(TypeError, match="beta"):
        ADMM(small.A, SoftThreshold(), "fourier", lam=0.1)
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="beta"):
            ADMM(small.A, SoftThreshold(), "fourier", beta=bad, lam=0.1)
    with pytest.raises(TypeError, match="options"):
        ADMM(small.A, SoftThreshold(), inv, lam=0.1, tol=1e-3)
    other = synthetic_laplace((16, 16), factor=2).A
    with pytest.raises(ValueError):
        ADMM(other, SoftThreshold(), inv, lam=0.1)


def test_lam_and_argument_checks(small):
    for bad in (-0.1, math.inf, math.nan):
        with pytest.raises(ValueError, match="lam"):
            ADMM(small.A, SoftThreshold(), "fourier", beta=0.02, lam=bad)
    with pytest.raises(TypeError, match="lam"):
        ADMM(small.A, SoftThreshold(), "fourier", beta=0.02)
    with pytest.raises(TypeError):
        ADMM(small.A, 3.0, "fourier", beta=0.02, lam=0.1)
    with pytest.raises(TypeError):
        ADMM(np.eye(3), SoftThreshold(), "fourier", beta=0.02, lam=0.1)
    admm = ADMM(small.A, SoftThreshold(), "fourier", beta=0.02, lam=0.1)
    with pytest.raises(ValueError, match="iters"):
        admm.solve(small.y, iters=0)
    with pytest.raises(ValueError, match="tol"):
        admm.solve(small.y, tol=-1.0)
    with pytest.raises(TypeError, match="callback"):
        admm.solve(small.y, callback=3)


def test_wrong_y_shape_raises(small):
    admm = ADMM(small.A, SoftThreshold(), "fourier", beta=0.02, lam=0.1)
    with pytest.raises(ValueError, match=r"\(\.\.\., 4, 4\).*got \(16, 16\)"):
        admm.solve(small.x)
    with pytest.raises(ValueError, match="y .A's output shape.: expected shape"):
        admm.solve(small.y[:, :3])
    with pytest.raises(TypeError):
        admm.solve(small.y.tolist())
    with pytest.raises(ValueError, match="x0"):
        admm.solve(small.y, x0=np.zeros((3, 3)))


# -- namespaces, batches, warm starts, other priors ------------------------------------------------------------


def test_torch_in_torch_out(small):
    admm = ADMM(small.A, SoftThreshold(), "fourier", beta=0.02, lam=small.lam)
    ref = admm.solve(small.y, iters=40, x_true=small.x)
    res64 = admm.solve(torch.tensor(small.y), iters=40, x_true=small.x)  # numpy x_true is converted
    assert isinstance(res64.x, torch.Tensor) and res64.x.dtype == torch.float64
    assert isinstance(res64.z, torch.Tensor) and isinstance(res64.u, torch.Tensor)
    np.testing.assert_allclose(res64.x.numpy(), ref.x, atol=1e-10)
    np.testing.assert_allclose(res64.history.nmse, ref.history.nmse, rtol=1e-8)
    res32 = admm.solve(torch.tensor(small.y, dtype=torch.float32), iters=40)
    assert res32.x.dtype == torch.float32 and res32.u.dtype == torch.float32
    np.testing.assert_allclose(res32.x.numpy(), ref.x, atol=1e-4)
    assert res32.history.objective[-1] == pytest.approx(ref.history.objective[-1], rel=1e-4)
    with pytest.raises(TypeError, match="torch"):
        admm.solve(small.y, x0=torch.zeros(small.A.in_shape, dtype=torch.float64))


def test_numpy_float32_is_kept(small):
    res = ADMM(small.A, SoftThreshold(), "fourier", beta=0.02, lam=small.lam).solve(small.y.astype(np.float32), iters=5)
    assert res.x.dtype == np.float32 and res.z.dtype == np.float32 and res.u.dtype == np.float32


def test_batches_are_solved_item_by_item(small):
    other = synthetic_laplace((16, 16), seed=4)
    admm = ADMM(small.A, SoftThreshold(), "fourier", beta=0.02, lam=small.lam)
    batch = admm.solve(np.stack([small.y, other.y]), iters=20, x_true=np.stack([small.x, other.x]))
    assert batch.x.shape == (2, 16, 16)
    for i, y in enumerate((small.y, other.y)):
        np.testing.assert_allclose(batch.x[i], admm.solve(y, iters=20).x, atol=1e-12)
    single = admm.solve(small.y, iters=20)
    assert batch.history.objective[-1] == pytest.approx(
        single.history.objective[-1] + admm.solve(other.y, iters=20).history.objective[-1])


def test_warm_start_x0(small):
    admm = ADMM(small.A, SoftThreshold(), "fourier", beta=0.02, lam=small.lam)
    first = admm.solve(small.y, iters=30)
    resumed = admm.solve(small.y, iters=1, x0=first.z)
    # a good start: the first iterate from z_30 (with u reset to 0) beats the first iterate from 0
    assert resumed.history.objective[0] < admm.solve(small.y, iters=1).history.objective[0]
    # x0 of the image shape is broadcast over a batch
    batch = admm.solve(np.stack([small.y, small.y]), iters=2, x0=first.z)
    np.testing.assert_allclose(batch.x[0], batch.x[1])


def test_other_priors_run(small):
    for prox in (TV(iters=20), Box(0.0, None)):
        res = ADMM(small.A, prox, "fourier", beta=0.02, lam=small.lam).solve(small.y, iters=30)
        assert np.all(np.isfinite(res.history.objective))
        assert res.history.objective[-1] <= res.history.objective[0]
    res = ADMM(small.A, Box(0.0, None), "fourier", beta=0.02, lam=1.0).solve(small.y, iters=30)
    assert np.all(res.x >= 0)


def test_prox_receives_y_and_tau(small):
    got = {}

    def denoiser(v, tau, y=None):
        got["tau"], got["y"] = tau, y
        return v

    ADMM(small.A, denoiser, "fourier", beta=0.02, lam=0.3).solve(small.y, iters=1)
    assert got["tau"] == pytest.approx(0.3 / 0.04) and got["y"] is small.y


@pytest.mark.parametrize("iters", [float("nan"), float("inf"), 2.5, "3", None, 0, True])
def test_iteration_counts_are_checked_with_one_line_errors(small, iters):
    admm = ADMM(small.A, SoftThreshold(), "fourier", beta=0.02, lam=0.1)
    with pytest.raises((TypeError, ValueError), match="iters: expected a positive int"):
        admm.solve(small.y, iters=iters)


def test_empty_batches_and_half_precision_are_refused(small):
    admm = ADMM(small.A, SoftThreshold(), "fourier", beta=0.02, lam=0.1)
    with pytest.raises(ValueError, match="is empty"):
        admm.solve(np.zeros((0,) + small.A.out_shape))
    with pytest.raises(TypeError, match="half precision"):
        admm.solve(small.y.astype(np.float16))
    with pytest.raises(TypeError, match="tol"):
        admm.solve(small.y, tol="1e-3")
