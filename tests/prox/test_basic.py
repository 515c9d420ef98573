"""Classical proximal operators: each is the argmin it claims, on NumPy and torch, keeping float32."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ppsolve.prox import L2, TV, Box, CallableProx, Proximal, SoftThreshold, as_prox

RNG = np.random.default_rng(7)
finite = st.floats(-5, 5, allow_nan=False, allow_infinity=False)


def _scalar_argmin(objective, v):
    """Brute-force minimiser of a 1-D convex objective near v (bounded Brent, tight tolerance)."""
    return scipy.optimize.minimize_scalar(objective, bounds=(v - 20, v + 20), method="bounded",
                                          options={"xatol": 1e-12}).x


# -- separable operators: brute force per entry ------------------------------------------------------------


@given(arrays(np.float64, (6,), elements=finite), st.floats(0, 3))
def test_soft_threshold_is_the_argmin(v, tau):
    x = SoftThreshold()(v, tau)
    for vi, xi in zip(v, x, strict=True):
        brute = _scalar_argmin(lambda t, vi=vi: 0.5 * (t - vi) ** 2 + tau * abs(t), vi)
        assert xi == pytest.approx(brute, abs=1e-7)
    # exact zeros inside the threshold, exact shift outside
    assert np.all(x[np.abs(v) <= tau] == 0)
    out = np.abs(v) > tau
    np.testing.assert_allclose(x[out], v[out] - tau * np.sign(v[out]), rtol=0, atol=1e-15)


def test_soft_threshold_value_and_tau_zero():
    v = RNG.standard_normal((3, 4, 5))
    assert SoftThreshold().value(v) == pytest.approx(np.abs(v).sum())
    np.testing.assert_array_equal(SoftThreshold()(v, 0.0), v)


@given(arrays(np.float64, (5,), elements=finite), st.floats(0, 3))
def test_l2_is_the_argmin(v, tau):
    x = L2()(v, tau)
    for vi, xi in zip(v, x, strict=True):
        brute = _scalar_argmin(lambda t, vi=vi: 0.5 * (t - vi) ** 2 + tau * 0.5 * t * t, vi)
        assert xi == pytest.approx(brute, abs=1e-7)
    assert L2().value(v) == pytest.approx(0.5 * np.sum(v * v))


@pytest.mark.parametrize("lower, upper", [(0.0, None), (None, 0.5), (-0.3, 0.7), (None, None)])
def test_box_is_the_projection(lower, upper):
    v = RNG.standard_normal((4, 5))
    box = Box(lower, upper)
    x = box(v, 0.3)
    lo = -np.inf if lower is None else lower
    hi = np.inf if upper is None else upper
    # the argmin of 1/2 (x - v)^2 over [lo, hi] per entry is the clipped value
    np.testing.assert_array_equal(x, np.clip(v, lo, hi))
    assert box.value(x) == 0.0
    if lower is not None or upper is not None:
        assert box.value(v) == math.inf
    # tau does not matter for an indicator
    np.testing.assert_array_equal(box(v, 5.0), x)


def test_box_validation():
    with pytest.raises(ValueError, match="lower"):
        Box(1.0, 0.0)
    with pytest.raises(TypeError):
        Box("a")


# -- TV: duality-gap certificate, closed forms, brute force on a tiny image ------------------------------------


@pytest.mark.parametrize("isotropic", [True, False])
@pytest.mark.parametrize("boundary", ["neumann", "periodic"])
def test_tv_gap_certifies_the_argmin(isotropic, boundary):
    v = np.random.default_rng(1).standard_normal((2, 7, 6))
    tau = 0.4
    tv = TV(iters=2000, isotropic=isotropic, boundary=boundary)
    x = tv(v, tau)
    gap = tv.gap(v, tau, *tv.last_dual)
    # 1/2 ||x - x*||^2 <= gap (the primal objective is 1-strongly convex); rounding may make it -1e-15
    assert -1e-12 <= gap < 1e-6
    assert tv.last_iterations == 2000
    primal = 0.5 * np.sum((x - v) ** 2) + tau * tv.value(x)
    rng = np.random.default_rng(2)
    for _ in range(5):  # and no random perturbation does better
        w = x + 1e-3 * rng.standard_normal(x.shape)
        assert 0.5 * np.sum((w - v) ** 2) + tau * tv.value(w) > primal


def _difference_matrices(h, w):
    """Forward differences with a Neumann boundary, written out entry by entry (independent of ppsolve)."""
    n = h * w
    Dv, Dh = np.zeros((n, n)), np.zeros((n, n))
    for i in range(h):
        for j in range(w):
            k = i * w + j
            if i + 1 < h:
                Dv[k, k], Dv[k, k + w] = -1.0, 1.0
            if j + 1 < w:
                Dh[k, k], Dh[k, k + 1] = -1.0, 1.0
    return Dv, Dh


def test_tv_matches_scipy_on_a_tiny_image():
    """Isotropic: SLSQP on the dual QP (smooth, disc constraints); anisotropic: SLSQP on the primal QP with
    split differences. Both independent of FGP."""
    h, w = 3, 3
    v = np.random.default_rng(3).standard_normal((h, w))
    tau = 0.3
    Dv, Dh = _difference_matrices(h, w)
    D = np.vstack([Dv, Dh])
    n = h * w

    # isotropic dual: min 1/2 ||v - tau D^T p||^2 subject to p_v[k]^2 + p_h[k]^2 <= 1
    def dual(p):
        r = v.ravel() - tau * D.T @ p
        return 0.5 * r @ r, -tau * D @ r

    discs = {"type": "ineq", "fun": lambda p: 1.0 - p[:n] ** 2 - p[n:] ** 2,
             "jac": lambda p: np.hstack([np.diag(-2 * p[:n]), np.diag(-2 * p[n:])])}
    res = scipy.optimize.minimize(dual, np.zeros(2 * n), jac=True, method="SLSQP", constraints=[discs],
                                  options={"ftol": 1e-15, "maxiter": 1000})
    expected = (v.ravel() - tau * D.T @ res.x).reshape(h, w)
    np.testing.assert_allclose(TV(iters=3000)(v, tau), expected, atol=1e-6)

    # anisotropic primal: min 1/2 ||x - v||^2 + tau 1^T (s + t), D x = s - t, s, t >= 0
    def primal(z):
        x, split = z[:n], z[n:]
        value = 0.5 * np.sum((x - v.ravel()) ** 2) + tau * np.sum(split)
        return value, np.concatenate([x - v.ravel(), tau * np.ones(4 * n)])

    m = 2 * n
    eq = {"type": "eq", "fun": lambda z: D @ z[:n] - z[n:n + m] + z[n + m:],
          "jac": lambda z: np.hstack([D, -np.eye(m), np.eye(m)])}
    bounds = [(None, None)] * n + [(0, None)] * (2 * m)
    res = scipy.optimize.minimize(primal, np.concatenate([v.ravel(), np.zeros(2 * m)]), jac=True, method="SLSQP",
                                  constraints=[eq], bounds=bounds, options={"ftol": 1e-15, "maxiter": 1000})
    np.testing.assert_allclose(TV(iters=3000, isotropic=False)(v, tau), res.x[:n].reshape(h, w), atol=1e-6)


def test_tv_closed_forms():
    # a constant image is a fixed point; a two-level step loses 2 tau / n of its jump (Neumann, n columns per side)
    const = np.full((5, 6), 2.5)
    np.testing.assert_allclose(TV(iters=200)(const, 0.7), const, atol=1e-12)
    h, n, jump, tau = 4, 5, 1.0, 0.5
    step = np.concatenate([np.zeros((h, n)), np.full((h, n), jump)], axis=1)
    x = TV(iters=1500)(step, tau)
    shrink = tau / n  # each half moves by tau * h / (h * n) towards the other
    expected = np.concatenate([np.full((h, n), shrink), np.full((h, n), jump - shrink)], axis=1)
    np.testing.assert_allclose(x, expected, atol=1e-8)
    assert TV().value(step) == pytest.approx(h * jump)
    np.testing.assert_array_equal(TV()(step, 0.0), step)


def test_tv_tolerance_stops_early_and_batches():
    v = RNG.standard_normal((3, 8, 8))
    tv = TV(iters=2000, tol=1e-6)
    x = tv(v, 0.2)
    assert tv.last_iterations < 2000
    # leading axes are a batch: each item as if alone
    single = TV(iters=300)
    batched = single(v, 0.2)
    for i in range(3):
        np.testing.assert_allclose(batched[i], TV(iters=300)(v[i], 0.2), atol=1e-12)
    assert x.shape == v.shape


def test_tv_validation():
    with pytest.raises(ValueError):
        TV(iters=0)
    with pytest.raises(ValueError):
        TV(boundary="zero")
    with pytest.raises(ValueError, match="two"):
        TV()(np.ones(5), 0.1)


# -- every operator: numpy / torch agree, float32 kept, tau checked ---------------------------------------------

ALL = [SoftThreshold(), L2(), Box(-0.2, 0.4), TV(iters=50)]


@pytest.mark.parametrize("prox", ALL, ids=lambda p: type(p).__name__)
def test_numpy_and_torch_agree_and_dtype_is_kept(prox):
    v = RNG.standard_normal((2, 6, 5))
    ref = prox(v, 0.3)
    assert isinstance(ref, np.ndarray) and ref.dtype == np.float64
    v32 = v.astype(np.float32)
    out32 = prox(v32, 0.3)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, ref, atol=1e-5)
    for dtype, atol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        t = prox(torch.tensor(v, dtype=dtype), 0.3)
        assert isinstance(t, torch.Tensor) and t.dtype == dtype
        np.testing.assert_allclose(t.numpy(), ref, atol=atol)
    assert prox.value(torch.tensor(ref)) == pytest.approx(prox.value(ref))


@pytest.mark.parametrize("prox", ALL, ids=lambda p: type(p).__name__)
def test_tau_and_input_are_checked(prox):
    v = np.ones((4, 4))
    for bad in (-0.1, math.nan, math.inf):
        with pytest.raises(ValueError, match="tau"):
            prox(v, bad)
    with pytest.raises(TypeError):
        prox(v, "a")
    with pytest.raises(TypeError):
        prox([[1.0, 2.0]], 0.1)
    with pytest.raises(TypeError):
        prox(np.ones((4, 4), dtype=int), 0.1)


def test_torch_autograd_flows_through_soft_threshold_and_tv():
    v = torch.randn(5, 5, dtype=torch.float64, requires_grad=True)
    (SoftThreshold()(v, 0.1).sum() + TV(iters=10)(v, 0.1).sum()).backward()
    assert v.grad is not None and torch.all(torch.isfinite(v.grad))


# -- wrapping callables -------------------------------------------------------------------------------------


def test_as_prox_call_styles():
    v = RNG.standard_normal((4, 4))
    y = RNG.standard_normal((2, 2))
    seen = {}

    def two(v, tau):
        return v * tau

    def with_y(v, tau, y=None):
        seen["y"] = y
        return v + tau

    def keyword_y(v, tau, *, y):
        seen["kw"] = y
        return v

    def kwargs(v, tau, **kw):
        seen["kwargs"] = kw
        return v

    def one(v):
        return 2 * v

    np.testing.assert_array_equal(as_prox(two)(v, 0.5, y=y), v * 0.5)
    np.testing.assert_array_equal(as_prox(with_y)(v, 0.5, y=y), v + 0.5)
    assert seen["y"] is y
    as_prox(keyword_y)(v, 0.5, y=y)
    assert seen["kw"] is y
    as_prox(kwargs)(v, 0.5, y=y)
    assert seen["kwargs"] == {"y": y}
    np.testing.assert_array_equal(as_prox(one)(v, 0.5), 2 * v)
    np.testing.assert_array_equal(as_prox(lambda v, t: v - t)(v, 1.0), v - 1.0)

    # a torch module's forward(x) is a fixed denoiser
    module = torch.nn.Identity()
    t = torch.tensor(v)
    assert torch.equal(as_prox(module)(t, 0.3), t)


def test_as_prox_value_and_passthrough():
    st_ = SoftThreshold()
    assert as_prox(st_) is st_
    wrapped = as_prox(lambda v, tau: v)
    assert isinstance(wrapped, CallableProx) and isinstance(wrapped, Proximal)
    assert math.isnan(wrapped.value(np.ones(3)))
    valued = CallableProx(lambda v, tau: v, value=lambda x: float(np.sum(x)))
    assert valued.value(np.ones(3)) == 3.0
    valued_y = CallableProx(lambda v, tau: v, value=lambda x, y=None: float(np.sum(y)))
    assert valued_y.value(np.ones(3), y=np.ones(2)) == 2.0
    with pytest.raises(TypeError):
        as_prox(3.0)
    with pytest.raises(TypeError, match="positional"):
        as_prox(lambda **kw: None)
    with pytest.raises(ValueError):
        as_prox(st_, value=lambda x: 0.0)
