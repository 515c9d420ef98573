"""``ppsolve.interop.pyproximal.DataFidelity``: ppsolve inverses as PyProximal's proximal operator of ||y - A x||^2."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from ppsolve.admm import ADMM
from ppsolve.inverses import ConjugateGradient, DenseInverse, FourierInverse
from ppsolve.problems import synthetic_laplace
from ppsolve.prox import SoftThreshold

pyproximal = pytest.importorskip("pyproximal")
pylops = pytest.importorskip("pylops")
pyproximal_admm = pytest.importorskip("pyproximal.optimization.primal").ADMM
_bridge = pytest.importorskip("ppsolve.interop.pyproximal")
DataFidelity, as_pyproximal = _bridge.DataFidelity, _bridge.as_pyproximal

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pyproximal_admm.py"


@pytest.fixture(scope="module")
def small():
    return synthetic_laplace((16, 16), seed=5)


def test_prox_is_the_closed_form(small):
    A, y = small.A, small.y
    M = A.to_dense()
    f = DataFidelity(A, y, FourierInverse(A, 0.05))
    v = np.random.default_rng(0).standard_normal(256)
    for tau in (10.0, 1.0 / (2 * 0.05), 0.3):
        expected = np.linalg.solve(2 * tau * M.T @ M + np.eye(256), v + 2 * tau * M.T @ y.ravel())
        np.testing.assert_allclose(f.prox(v, tau), expected, atol=1e-10)
        # and it is the argmin: gradient of 1/2 ||x - v||^2 + tau ||y - A x||^2 vanishes
        x = f.prox(v, tau)
        np.testing.assert_allclose(x - v + tau * f.grad(x), 0.0, atol=1e-9)
    assert f(v) == pytest.approx(float(np.sum((y.ravel() - M @ v) ** 2)))
    np.testing.assert_allclose(f.grad(v), 2 * M.T @ (M @ v - y.ravel()), atol=1e-12)


def test_inverse_reuse_and_rebuild(small):
    A = small.A
    inv = ConjugateGradient(A, 0.05, tol=1e-12)
    f = as_pyproximal(inv, small.y, tol=1e-12)
    v = np.ones(256)
    f.prox(v, 1.0 / (2 * 0.05))
    assert f.inverse_for(0.05) is inv  # the given one for its beta
    f.prox(v, 1.0)
    rebuilt = f.inverse_for(0.5)
    assert isinstance(rebuilt, ConjugateGradient) and rebuilt is not inv and rebuilt.beta == 0.5
    assert rebuilt.tol == 1e-12
    assert f.inverse_for(0.5) is rebuilt  # cached
    g = DataFidelity(A, small.y, "dense", cache_size=2)
    for tau in (1.0, 2.0, 3.0):
        g.prox(v, tau)
    assert len(g.inverses) == 2 and all(isinstance(i, DenseInverse) for i in g.inverses.kept().values())
    with pytest.raises(ValueError, match="tau"):
        f.prox(v, 0.0)
    with pytest.raises(ValueError, match="entries"):
        DataFidelity(A, np.ones(5))
    with pytest.raises(TypeError):
        as_pyproximal("fourier", small.y)


def test_pyproximal_admm_matches_its_own_l2(small):
    """pyproximal's ADMM with DataFidelity equals the same run with pyproximal.L2(sigma=2) (sigma/2 ||Op x - b||^2)."""
    A, y, lam, beta = small.A, small.y, small.lam, 0.01
    tau = 1.0 / (2 * beta)
    x0 = np.zeros(256)
    ours = DataFidelity(A, y, FourierInverse(A, beta))
    theirs = pyproximal.L2(Op=pylops.MatrixMult(A.to_dense()), b=y.ravel(), sigma=2.0, densesolver="factorize")
    assert ours(x0) == pytest.approx(theirs(x0), rel=1e-12)
    x_a, z_a = pyproximal_admm(ours, pyproximal.L1(sigma=lam), x0, tau, niter=60)
    x_b, z_b = pyproximal_admm(theirs, pyproximal.L1(sigma=lam), x0, tau, niter=60)
    scale = np.linalg.norm(x_b)
    assert np.linalg.norm(x_a - x_b) <= 1e-8 * scale and np.linalg.norm(z_a - z_b) <= 1e-8 * scale
    # with matrix-free pylops operators too (CG inside pyproximal, run to convergence)
    cg = pyproximal.L2(Op=A.to_pylops(), b=y.ravel(), sigma=2.0, solver="cg", niter=200, kwargs_solver={"tol": 1e-14})
    x_c, _ = pyproximal_admm(cg, pyproximal.L1(sigma=lam), x0, tau, niter=60)
    assert np.linalg.norm(x_a - x_c) <= 1e-8 * scale


def test_pyproximal_admm_matches_ppsolve_admm(small):
    """With gfirst=True and tau = 1 / (2 beta), pyproximal's (z, x) are ppsolve's (x, z)."""
    A, y, lam, beta = small.A, small.y, small.lam, 0.01
    inv = FourierInverse(A, beta)
    x_p, z_p = pyproximal_admm(DataFidelity(A, y, inv), pyproximal.L1(sigma=lam), np.zeros(256), 1 / (2 * beta),
                               niter=40, gfirst=True)
    res = ADMM(A, SoftThreshold(), inv, lam=lam).solve(y, iters=40)
    np.testing.assert_allclose(z_p.reshape(16, 16), res.x, atol=1e-12)
    np.testing.assert_allclose(x_p.reshape(16, 16), res.z, atol=1e-12)


def test_learned_preconditioner_factory_is_exact_at_every_tau(small):
    """A factory (A, beta) -> CG preconditioned by one network: exact answers at taus it was not built for."""
    from ppsolve.inverses import LearnedInverse

    A, y = small.A, small.y
    learned = LearnedInverse(A, 0.05)  # untrained (near a scalar multiple of B): still symmetric positive definite
    pc = learned.preconditioner()
    f = DataFidelity(A, y, lambda A, beta: ConjugateGradient(A, beta, tol=1e-12, preconditioner=pc))
    exact = DataFidelity(A, y, "fourier")
    v = np.random.default_rng(1).standard_normal(256)
    for tau in (10.0, 1.0, 0.2):
        np.testing.assert_allclose(f.prox(v, tau), exact.prox(v, tau), atol=1e-9)
    assert f.inverse_for(0.05).preconditioner is pc
    # a learned inverse is what it is: the prox at its own tau is its (approximate) solve
    g = DataFidelity(A, y, learned)
    np.testing.assert_allclose(g.prox(v, 10.0), learned.solve(A.adjoint(y) + 0.05 * v.reshape(16, 16)).ravel())
    with pytest.raises(ValueError, match="factory"):
        g.prox(v, 1.0)  # another beta: a trained network cannot be rebuilt
    with pytest.raises(TypeError, match="factory returned"):
        DataFidelity(A, y, lambda A, beta: "not an inverse").prox(v, 1.0)


def test_example_runs(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), "--size", "64", "--iters", "10"])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "DataFidelity" in out and "pyproximal.L2" in out and "learned" in out
