"""``ppsolve.interop.deepinv``: ppsolve inverses as deepinv's L2 proximal operator (beta = sigma^2 / gamma) and a
ppsolve prior as a deepinv denoiser, checked against deepinv's own ``L2`` inside deepinv's own loops (float64)."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ppsolve.compare import learned_inverse
from ppsolve.inverses import ConjugateGradient, FourierInverse
from ppsolve.operators import gaussian_kernel
from ppsolve.prox import SoftThreshold

bridge = pytest.importorskip("ppsolve.interop.deepinv", reason="deepinv is not installed "
                             "(pip install --no-deps -r requirements-deepinv.txt)", exc_type=ImportError)
dinv = bridge.deepinv
InverseL2, ProxDenoiser, from_deepinv, to_deepinv = bridge.InverseL2, bridge.ProxDenoiser, bridge.from_deepinv, \
    bridge.to_deepinv

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "deepinv_admm.py"
GAUSS = torch.tensor(gaussian_kernel(9, 2.0))[None, None]


def _problem(physics, size, seed=0, noise=0.01):
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.random((2,) + size))
    y = physics.A(x)
    return x, y + noise * torch.tensor(rng.standard_normal(tuple(y.shape)))


def _rel(a, b) -> float:
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


@pytest.fixture(scope="module")
def sr():
    """The paper's operator on 32 x 32: 9 x 9 Gaussian (sigma 2), circular, stride 4, as deepinv physics."""
    physics = dinv.physics.Downsampling(img_size=(1, 32, 32), filter=GAUSS, factor=4, padding="circular")
    return (physics, from_deepinv(physics)) + _problem(physics, (1, 32, 32))


@pytest.fixture(scope="module")
def blur():
    physics = dinv.physics.BlurFFT(img_size=(1, 16, 16), filter=torch.tensor(gaussian_kernel(5, 1.0))[None, None])
    return (physics, from_deepinv(physics)) + _problem(physics, (1, 16, 16), seed=1)


@pytest.fixture(scope="module")
def natural_gray():
    from ppsolve import zoo

    return ProxDenoiser(zoo.load("natural-gray"))


@pytest.mark.parametrize("case", ["sr", "blur"])
@pytest.mark.parametrize("sigma", [1.0, 0.5])
def test_prox_is_deepinvs_l2_prox(case, sigma, request):
    physics, A, x, y = request.getfixturevalue(case)
    ours, theirs = InverseL2(A, "fourier", sigma=sigma), dinv.optim.L2(sigma=sigma)
    for gamma in (0.3, 5.0, torch.tensor(40.0, dtype=torch.float64)):
        a, b = ours.prox(x, y, physics, gamma=gamma), theirs.prox(x, y, physics, gamma=gamma)
        assert a.shape == x.shape and a.dtype == torch.float64
        assert _rel(a, b) <= 1e-10
        inv = ours.inverse_for(gamma)
        assert isinstance(inv, FourierInverse) and inv.beta == pytest.approx(sigma**2 / float(gamma), rel=1e-15)
        # and it is the z-update: (A^T A + beta I) z = A^T y + beta x
        zs = a.reshape((2,) + A.in_shape)
        residual = A.adjoint(A.apply(zs)) + inv.beta * zs - A.adjoint(y.reshape((2,) + A.out_shape)) \
            - inv.beta * x.reshape(zs.shape)
        assert float(residual.abs().max()) <= 1e-10
    assert float(ours(x, y, physics).sum()) == pytest.approx(float(theirs(x, y, physics).sum()), rel=1e-12)
    assert len(ours.inverses) == 3


def test_cg_prox_matches_deepinvs_cg_on_the_valid_model():
    """No closed form: deepinv's 'valid' blur, both sides by CG run to 1e-13. deepinv's CG adds eps = 1e-8 to its
    step denominators, which stalls it near a relative residual of 1e-7 here: eps=1e-300 lets it converge."""
    physics = dinv.physics.Blur(filter=GAUSS, padding="valid", max_iter=500, tol=1e-13)
    A = from_deepinv(physics, (1, 32, 32))
    x, y = _problem(physics, (1, 32, 32))
    exact = physics.prox_l2(x, y, 2.0, eps=1e-300)  # = L2().prox(x, y, physics, gamma=2.0) without the eps floor
    assert _rel(dinv.optim.L2().prox(x, y, physics, gamma=2.0), exact) <= 1e-6
    for spec, options in (("cg", {"tol": 1e-13, "maxiter": 5000}), ("auto", {"tol": 1e-13})):
        ours = InverseL2(A, spec, **options)
        assert _rel(ours.prox(x, y, physics, gamma=2.0), exact) <= 1e-10
    assert ours.inverse_for(2.0).preconditioner is not None  # "auto": the periodic preconditioner of the valid model
    inv = ours.inverse_for(2.0)
    ours.prox(x, y, physics, gamma=2.0)
    assert inv.last.iterations <= 1  # warm-started from the previous (converged) solution


def test_learned_inverse_and_learned_pcg():
    """The shipped learned inverse for the paper's operator (64 x 64, beta 0.01) and CG preconditioned by it."""
    physics = dinv.physics.Downsampling(img_size=(1, 64, 64), filter=GAUSS, factor=4, padding="circular")
    A = from_deepinv(physics)
    x, y = _problem(physics, (1, 64, 64))
    learned, _ = learned_inverse(A, 0.01, cache_dir=None, progress=False)
    gamma = 1 / 0.01
    exact = dinv.optim.L2().prox(x, y, physics, gamma=gamma)
    a = InverseL2(A, learned).prox(x, y, physics, gamma=gamma)
    xs, ys = x.reshape((2,) + A.in_shape), y.reshape((2,) + A.out_shape)
    torch.testing.assert_close(a.reshape(xs.shape), learned.solve(A.adjoint(ys) + 0.01 * xs), rtol=0, atol=1e-12)
    assert _rel(a, exact) <= 1e-2  # an approximation
    with pytest.raises(ValueError, match="factory"):
        InverseL2(A, learned).prox(x, y, physics, gamma=20.0)  # a trained network has one beta
    pc = learned.preconditioner()
    pcg = InverseL2(A, lambda A, beta: ConjugateGradient(A, beta, tol=1e-12, preconditioner=pc))
    for g in (gamma, 20.0):  # exact also where the network was not trained
        assert _rel(pcg.prox(x, y, physics, gamma=g), dinv.optim.L2().prox(x, y, physics, gamma=g)) <= 1e-8
    assert pcg.inverse_for(gamma).last.iterations < ConjugateGradient(A, 0.01, tol=1e-12).solve_report(
        A.adjoint(ys) + 0.01 * xs)[1].iterations


def _recorded(fidelity):
    """``fidelity`` whose prox outputs are appended to the returned list."""
    seen, original = [], fidelity.prox

    def prox(*args, **kwargs):
        out = original(*args, **kwargs)
        seen.append(out.clone())
        return out

    fidelity.prox = prox
    return fidelity, seen


def _same_iterates(ours, theirs, tol):
    assert len(ours) == len(theirs) > 0
    assert max(_rel(a, b) for a, b in zip(ours, theirs)) <= tol


def test_deepinv_admm_with_tv_gives_deepinvs_iterates(sr):
    physics, A, x, y = sr
    runs = {}
    for name, fidelity in (("ours", InverseL2(A, "fourier")), ("theirs", dinv.optim.L2())):
        fidelity, seen = _recorded(fidelity)
        model = dinv.optim.optim_builder("ADMM", prior=dinv.optim.TVPrior(n_it_max=20), data_fidelity=fidelity,
                                         max_iter=15, early_stop=False,
                                         params_algo={"stepsize": 0.5, "lambda": 0.05, "beta": 1.0})
        runs[name] = (model(y, physics), seen)
    _same_iterates(runs["ours"][1], runs["theirs"][1], 1e-10)
    assert _rel(runs["ours"][0], runs["theirs"][0]) <= 1e-10


def test_deepinv_hqs_and_dpir_with_the_zoo_prior(sr, natural_gray):
    physics, A, x, y = sr
    runs = {}
    for name, fidelity in (("ours", InverseL2(A, "fourier")), ("theirs", dinv.optim.L2())):
        fidelity, seen = _recorded(fidelity)
        model = dinv.optim.HQS(data_fidelity=fidelity, prior=dinv.optim.PnP(natural_gray), stepsize=2.0,
                               g_param=0.05, max_iter=4, early_stop=False)
        runs[name] = (model(y, physics), seen)
    _same_iterates(runs["ours"][1], runs["theirs"][1], 1e-6)
    ours = InverseL2(A, "fourier")
    a = bridge.dpir(ours, natural_gray, sigma=0.05)(y, physics)
    b = dinv.optim.DPIR(sigma=0.05, denoiser=natural_gray)(y, physics)
    assert _rel(a, b) <= 1e-6  # deepinv's schedule is float32: gamma agrees to ~1e-7
    assert len(ours.inverses) == 8  # one per step of the schedule


def test_physics_checks_and_shapes(sr):
    physics, A, x, y = sr
    ours = InverseL2(A)
    ours.prox(x, y, to_deepinv(A), gamma=1.0)  # the operator itself: fine
    other = dinv.physics.Downsampling(img_size=(1, 32, 32), filter=GAUSS.flip(-1).roll(1, -1), factor=4,
                                      padding="circular")
    with pytest.raises(ValueError, match="is not the operator"):
        ours.prox(x, y, other, gamma=1.0)
    InverseL2(A, check_physics=False).prox(x, y, other, gamma=1.0)
    with pytest.raises(ValueError, match=r"InverseL2.prox x: expected a tensor of shape \(B, 1, 32, 32\)"):
        ours.prox(x[:, 0], y, physics, gamma=1.0)
    with pytest.raises(ValueError, match="one value for the whole batch"):
        ours.prox(x, y, physics, gamma=torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="gamma"):
        ours.prox(x, y, physics, gamma=0.0)
    with pytest.raises(TypeError, match="LinearOperator"):
        InverseL2(physics)
    with pytest.raises(TypeError, match="Inverse"):
        bridge.as_deepinv("fourier")
    assert isinstance(bridge.as_deepinv(FourierInverse(A, 0.5)).inverse_for(2.0), FourierInverse)


def test_prox_denoiser():
    x = torch.linspace(-1, 1, 32, dtype=torch.float64).reshape(2, 1, 4, 4)
    soft = ProxDenoiser(SoftThreshold())
    expected = torch.sign(x) * torch.clamp(x.abs() - 0.3**2, min=0)
    torch.testing.assert_close(soft(x, 0.3), expected)
    torch.testing.assert_close(soft(x, torch.tensor([0.3, 0.3])), expected)
    torch.testing.assert_close(ProxDenoiser(SoftThreshold(), tau_of_sigma=lambda s: s)(x, 0.3),
                               torch.sign(x) * torch.clamp(x.abs() - 0.3, min=0))
    assert isinstance(soft, dinv.models.Denoiser)
    with pytest.raises(ValueError, match="one value"):
        soft(x, torch.tensor([0.1, 0.2]))
    with pytest.raises(TypeError, match="proximal operator"):
        ProxDenoiser(lambda v, s: v)


def test_example_runs(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), "--size", "64", "--iters", "5"])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "max |ours - deepinv|" in out and "FourierInverse" in out and "learned-PCG" in out


def test_value_and_gradient_are_deepinvs(sr, blur):
    for physics, A, x, y in (sr, blur):
        ours, theirs = InverseL2(A, sigma=0.3), dinv.optim.L2(sigma=0.3)
        value = ours(x, y, physics)
        assert value.shape == (2,)
        torch.testing.assert_close(value, theirs(x, y, physics), rtol=1e-12, atol=0)
        torch.testing.assert_close(ours.grad(x, y, physics), theirs.grad(x, y, physics), rtol=1e-10, atol=1e-12)


def test_the_fidelity_adopts_no_module(sr):
    """The checked physics is remembered outside torch's module tree (no parameters or buffers picked up)."""
    physics, A, x, y = sr
    fidelity = InverseL2(A)
    fidelity.prox(x, y, physics, gamma=1.0)
    assert list(fidelity.children()) == [fidelity.d] and not list(fidelity.buffers())
