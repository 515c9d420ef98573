"""``ppsolve.interop.scico``: a ppsolve inverse as SCICO ADMM's x-step (rho = 2 beta for SquaredL2Loss(scale=1)),
checked against SCICO's LinearSubproblemSolver (CG at 1e-12) iterate by iterate, with jax_enable_x64 on."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from ppsolve.inverses import ConjugateGradient, FourierInverse, LearnedInverse
from ppsolve.operators import Convolution, gaussian_kernel
from ppsolve.problems import synthetic_laplace

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = pytest.importorskip("jax.numpy")
pytest.importorskip("scico")
bridge = pytest.importorskip("ppsolve.interop.scico")
import scico.linop as linop  # noqa: E402
from scico import functional, loss  # noqa: E402
from scico.optimize import ADMM  # noqa: E402
from scico.optimize.admm import CircularConvolveSolver, LinearSubproblemSolver  # noqa: E402

InverseSolver, to_scico = bridge.InverseSolver, bridge.to_scico
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scico_admm.py"
BETA = 0.01


@pytest.fixture(scope="module")
def problem():
    return synthetic_laplace((32, 32), seed=3)


def native(N):
    """The paper's operator written in SCICO: CircularConvolve (centre 4, 4), then every 4th pixel."""
    H = linop.CircularConvolve(jnp.asarray(gaussian_kernel(9, 2.0)), (N, N), h_center=[4, 4], input_dtype=np.float64)
    S = linop.LinearOperator((N, N), eval_fn=lambda x: x[::4, ::4], input_dtype=np.float64, jit=True)
    return S @ H


def admm(problem, solver, A_scico=None, iters=10, rho=2 * BETA, scale=1.0, C=None):
    A = problem.A
    f = loss.SquaredL2Loss(y=jnp.asarray(problem.y), A=to_scico(A) if A_scico is None else A_scico, scale=scale)
    C = linop.Identity(A.in_shape, input_dtype=np.float64) if C is None else C
    run = ADMM(f=f, g_list=[problem.lam * functional.L1Norm()], C_list=[C], rho_list=[rho],
               x0=jnp.zeros(A.in_shape), maxiter=iters, subproblem_solver=solver, itstat_options={"display": False})
    iterates = []
    for _ in range(iters):
        run.step()
        iterates.append(np.asarray(run.x))
    return iterates


def _worst(ours, theirs):
    return max(np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in zip(ours, theirs))


def test_to_scico_is_the_operator(problem):
    A = problem.A
    As = to_scico(A)
    rng = np.random.default_rng(0)
    x, r = rng.standard_normal(A.in_shape), rng.standard_normal(A.out_shape)
    assert As.input_dtype == np.float64 and As.output_shape == A.out_shape
    np.testing.assert_array_equal(np.asarray(As(jnp.asarray(x))), A.apply(x))
    np.testing.assert_array_equal(np.asarray(As.adj(jnp.asarray(r))), A.adjoint(r))
    assert linop.valid_adjoint(As, As.H, eps=None) < 1e-12  # SCICO's own dot test
    f = loss.SquaredL2Loss(y=jnp.asarray(problem.y), A=As, scale=1.0)  # gradients flow (custom_vjp = the adjoint)
    np.testing.assert_allclose(np.asarray(jax.grad(f)(jnp.asarray(x))), 2 * A.adjoint(A.apply(x) - problem.y),
                               atol=1e-12)
    batch = np.stack([x, 2 * x])
    np.testing.assert_allclose(np.asarray(jax.vmap(As)(jnp.asarray(batch))), A.apply(batch), atol=1e-14)
    np.testing.assert_allclose(np.asarray(native(32)(jnp.asarray(x))), A.apply(x), atol=1e-14)


@pytest.mark.parametrize("native_operator", [False, True])
def test_admm_iterates_match_linear_subproblem_solver(problem, native_operator):
    A_scico = native(32) if native_operator else None
    theirs = admm(problem, LinearSubproblemSolver(cg_kwargs={"tol": 1e-12, "maxiter": 2000}), A_scico)
    solver = InverseSolver(FourierInverse(problem.A, BETA))
    ours = admm(problem, solver, A_scico)
    assert _worst(ours, theirs) <= 1e-6
    assert _worst(ours, theirs) <= 1e-9  # exact against CG at 1e-12
    assert solver.beta == BETA and solver.info["num_iter"] == 0
    by_name = admm(problem, InverseSolver("auto", A=problem.A), A_scico)  # "auto" is FourierInverse here
    assert _worst(by_name, theirs) <= 1e-9


def test_scale_and_rho(problem):
    """SCICO's default scale 1/2 (the data term 1/2 ||y - A x||^2) gives beta = rho: same problem, rho halved."""
    theirs = admm(problem, LinearSubproblemSolver(cg_kwargs={"tol": 1e-12, "maxiter": 2000}), rho=BETA, scale=0.5)
    ours = admm(problem, InverseSolver("fourier"), rho=BETA, scale=0.5)
    assert _worst(ours, theirs) <= 1e-9


def test_learned_pcg_and_factory(problem):
    learned = LearnedInverse(problem.A, BETA)  # untrained: still symmetric positive definite
    pcg = ConjugateGradient(problem.A, BETA, tol=1e-12, preconditioner=learned.preconditioner())
    theirs = admm(problem, LinearSubproblemSolver(cg_kwargs={"tol": 1e-12, "maxiter": 2000}))
    assert _worst(admm(problem, InverseSolver(pcg)), theirs) <= 1e-8
    solver = InverseSolver(lambda A, beta: ConjugateGradient(A, beta, tol=1e-12))
    assert _worst(admm(problem, solver), theirs) <= 1e-8
    assert solver.info["num_iter"] > 0
    approximate = admm(problem, InverseSolver(learned))
    assert np.linalg.norm(approximate[-1] - admm(problem, InverseSolver(learned))[-1]) == 0.0  # deterministic


def test_refusals(problem):
    A = problem.A
    with pytest.raises(TypeError, match="CircularConvolve"):
        admm(problem, CircularConvolveSolver(), native(32))  # SCICO's circulant solver refuses S H
    with pytest.raises(ValueError, match=r"rho_list=\[0.02\]"):
        admm(problem, InverseSolver(FourierInverse(A, BETA)), rho=0.5)
    with pytest.raises(ValueError, match="identity"):
        admm(problem, InverseSolver("fourier"), C=2.0 * linop.Identity(A.in_shape, input_dtype=np.float64))
    other = to_scico(Convolution(gaussian_kernel(3, 1.0), (32, 32)))
    with pytest.raises(ValueError, match="maps"):
        admm(problem, InverseSolver("fourier", A=A), other)
    shifted = native(32) @ linop.LinearOperator((32, 32), eval_fn=lambda x: jnp.roll(x, 1, 0), input_dtype=np.float64)
    with pytest.raises(ValueError, match="relative difference"):
        admm(problem, InverseSolver("fourier", A=A), shifted)
    with pytest.raises(ValueError, match="cannot tell the ppsolve operator"):
        admm(problem, InverseSolver("fourier"), native(32))
    with pytest.raises(TypeError, match="SquaredL2Loss"):
        InverseSolver("fourier").internal_init(type("FakeADMM", (), {"f": functional.L1Norm()})())
    with pytest.raises(TypeError, match="Inverse, a name or a factory"):
        InverseSolver(3)


def test_example_runs(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), "--size", "64", "--iters", "5"])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "LinearSubproblemSolver" in out and "InverseSolver" in out and "max relative difference" in out
