r"""Classical proximal operators, and the interface every proximal operator in ppsolve implements.

A *proximal operator* of a regulariser ``R`` with weight ``tau >= 0`` is

.. math:: \operatorname{prox}_{\tau R}(v) = \arg\min_x \tfrac12 \|x - v\|^2 + \tau R(x).

ADMM (``ppsolve.admm``) minimises ``||y - A x||^2 + lam R(x)`` (no 1/2 on the data term) and calls
``prox(v, tau, y=y)`` with ``tau = lam / (2 beta)``, ``beta`` the ADMM penalty. So ``tau`` is the weight of
``R`` relative to the *halved* squared distance ``1/2 ||x - v||^2``; for ``R = ||.||_1`` it is the soft
threshold. A learned denoiser (``ppsolve.prox`` DAE / cPSDAE) may ignore ``tau`` and use the measurement
``y``; the classical operators here ignore ``y``.

All operators work on NumPy, CuPy and PyTorch arrays of any shape (image operators such as ``TV`` act on
the last two axes, every leading axis is a batch), keep the input's dtype (float32 stays float32) and
device, and are written once against the array-API standard (``ppsolve._array``).
"""
from __future__ import annotations

import inspect
import math

import numpy as np
import torch

from .._array import check_array, is_numpy, is_torch, namespace
from .._validate import choice, positive_int, real_number
from ..operators.differences import BOUNDARIES, gradient, gradient_adjoint

__all__ = ["L2", "TV", "Box", "CallableProx", "Proximal", "SoftThreshold", "as_prox", "check_tau"]


def check_tau(tau) -> float:
    """``tau`` as a float, or an error unless it is a finite number >= 0."""
    return real_number(tau, "tau")


def _sum(xp, a) -> float:
    return float(xp.sum(a))


def _clip(x, lower, upper):
    """``clip(x, lower, upper)`` (a bound may be None), with the native call for NumPy and torch: the
    array-API wrapper's generic clip costs ~100 us per call, which dominates TV's inner loop on small images."""
    if is_numpy(x):
        return np.clip(x, lower, upper)
    if is_torch(x):
        return x.clamp(lower, upper)
    return namespace(x).clip(x, lower, upper)


class Proximal:
    r"""Base class: ``prox(v, tau, y=None)`` returns ``argmin_x 1/2 ||x - v||^2 + tau R(x; y)``.

    ``value(x, y=None)`` returns ``R(x; y)`` as a float summed over the whole array (batch included), used by
    ADMM for the objective; ``nan`` when ``R`` has no known closed form (a learned denoiser).

    Subclasses implement ``_prox(v, tau, y)`` (``v`` already checked, ``tau`` a float >= 0) and, when
    they can, ``value``.
    """

    #: short name shown in reports
    name = "proximal"

    def prox(self, v, tau, y=None):
        """``argmin_x 1/2 ||x - v||^2 + tau R(x; y)`` for ``v`` of any shape (see the class docstring)."""
        check_array(v, f"{type(self).__name__} input v")
        return self._prox(v, check_tau(tau), y)

    __call__ = prox

    def _prox(self, v, tau: float, y):
        raise NotImplementedError

    def value(self, x, y=None) -> float:
        """``R(x; y)`` summed over the array, or ``nan`` when unknown."""
        return math.nan

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SoftThreshold(Proximal):
    r"""``R(x) = ||x||_1``: the soft threshold at ``tau``,

    .. math:: \operatorname{prox}_{\tau\|\cdot\|_1}(v) = \operatorname{sign}(v)\max(|v| - \tau, 0)
              = v - \operatorname{clip}(v, -\tau, \tau).

    Entries with ``|v| <= tau`` become exactly 0. In ADMM with ``tau = lam / (2 beta)`` this is the paper's
    eq. (14) (which uses the threshold ``1 / (2 beta)``, i.e. ``lam = 1``).
    """

    name = "soft-threshold"

    def _prox(self, v, tau, y):
        return v - _clip(v, -tau, tau)

    def value(self, x, y=None) -> float:
        xp = namespace(x)
        return _sum(xp, xp.abs(x))


class L2(Proximal):
    r"""``R(x) = 1/2 ||x||^2`` (Tikhonov / ridge): ``prox_{tau R}(v) = v / (1 + tau)``."""

    name = "l2"

    def _prox(self, v, tau, y):
        return v / (1.0 + tau)

    def value(self, x, y=None) -> float:
        xp = namespace(x)
        return 0.5 * _sum(xp, x * x)


class Box(Proximal):
    r"""``R`` = the indicator of the box ``lower <= x <= upper`` (0 inside, ``+inf`` outside).

    Its proximal operator is the projection ``clip(v, lower, upper)`` for every ``tau > 0`` (an indicator
    is unchanged by a positive weight, so ``tau`` is ignored; it is also applied at ``tau = 0``). The default
    is the non-negativity constraint ``x >= 0``. ``value`` is 0 inside the box and ``inf`` outside.

    Parameters
    ----------
    lower, upper : float or None (no bound on that side); ``lower <= upper``.
    """

    name = "box"

    def __init__(self, lower: float | None = 0.0, upper: float | None = None):
        for what, bound in (("lower", lower), ("upper", upper)):
            if bound is not None and (not isinstance(bound, (int, float)) or math.isnan(bound)):
                raise TypeError(f"Box {what}: expected a number or None, got {bound!r}")
        if lower is not None and upper is not None and lower > upper:
            raise ValueError(f"Box: lower = {lower} is above upper = {upper}")
        self.lower = None if lower is None else float(lower)
        self.upper = None if upper is None else float(upper)

    def _prox(self, v, tau, y):
        if self.lower is None and self.upper is None:
            return v
        return _clip(v, self.lower, self.upper)

    def value(self, x, y=None) -> float:
        xp = namespace(x)
        inside = True
        if self.lower is not None:
            inside = inside and bool(xp.all(x >= self.lower))
        if self.upper is not None:
            inside = inside and bool(xp.all(x <= self.upper))
        return 0.0 if inside else math.inf

    def __repr__(self):
        return f"Box(lower={self.lower}, upper={self.upper})"


# -- total variation -------------------------------------------------------------------------------------


class TV(Proximal):
    r"""Total variation on the last two axes: ``R(x) = sum_ij |(D x)_ij|``, ``D`` the forward differences of
    ``ppsolve.operators.FiniteDifference``.

    Isotropic (default): ``|(D x)_ij| = sqrt((x_{i+1,j} - x_ij)^2 + (x_{i,j+1} - x_ij)^2)``; anisotropic:
    ``|x_{i+1,j} - x_ij| + |x_{i,j+1} - x_ij|``. At the last row / column the difference is 0
    (``boundary="neumann"``, as in Chambolle 2004) or wraps around (``"periodic"``). Every leading axis,
    colour channels included, is denoised separately.

    The proximal operator ``argmin_x 1/2 ||x - v||^2 + tau TV(x)`` is computed on the dual,
    ``x = v - tau D^T p`` with ``p`` minimising ``1/2 ||v - tau D^T p||^2`` over ``|p_ij| <= 1``, by the fast
    gradient projection of Beck and Teboulle (2009, FGP: accelerated projected gradient with step
    ``1 / (8 tau^2)``, ``||D||^2 <= 8``). ``iters`` dual steps are taken, fewer when ``tol`` is given and
    the relative change ``||x_k - x_{k-1}|| / ||x_k||`` falls below it. ``last_iterations`` and
    ``last_dual`` (the dual ``(p, q)``, each shaped like ``v``) record the last call.

    The duality gap certifies the answer: for any feasible ``p``, ``1/2 ||x(p) - x*||^2 <= P(x(p)) - D(p)``
    with ``P`` the primal objective and ``D(p) = 1/2 ||v||^2 - 1/2 ||v - tau D^T p||^2`` (``gap``).

    Parameters
    ----------
    iters : maximum number of dual iterations (default 100).
    tol : optional relative-change stopping tolerance.
    isotropic : isotropic (True, default) or anisotropic TV.
    boundary : "neumann" (default) or "periodic".
    """

    name = "tv"

    def __init__(self, iters: int = 100, tol: float | None = None, isotropic: bool = True,
                 boundary: str = "neumann"):
        self.iters = positive_int(iters, "TV iters")
        self.tol = None if tol is None else real_number(tol, "TV tol")
        choice(boundary, "TV boundary", BOUNDARIES)
        self.isotropic = bool(isotropic)
        self.boundary = boundary
        self.last_iterations = 0
        self.last_dual = None

    def __repr__(self):
        return (f"TV(iters={self.iters}, tol={self.tol}, isotropic={self.isotropic}, "
                f"boundary={self.boundary!r})")

    # D and D^T on the last two axes: ppsolve.operators.FiniteDifference's two parts
    def _grad(self, x):
        return gradient(x, self.boundary)

    def _grad_adjoint(self, p, q):
        return gradient_adjoint(p, q, self.boundary)

    def _project(self, p, q):
        """Onto ``{|p_ij| <= 1}``: the unit disc per pixel (isotropic) or the unit square (anisotropic)."""
        xp = namespace(p)
        if not self.isotropic:
            return _clip(p, -1.0, 1.0), _clip(q, -1.0, 1.0)
        scale = _clip(xp.sqrt(p * p + q * q), 1.0, None)
        return p / scale, q / scale

    def _check_shape(self, v):
        if v.ndim < 2:
            raise ValueError(f"TV: expected an array with at least two (image) axes, got shape {tuple(v.shape)}")

    def _prox(self, v, tau, y):
        self._check_shape(v)
        xp = namespace(v)
        self.last_iterations = 0
        self.last_dual = None
        if tau == 0:
            return v
        p = xp.zeros_like(v)
        q = xp.zeros_like(v)
        rp, rq = p, q
        t = 1.0
        step = 1.0 / (8.0 * tau)
        x_prev = None
        for k in range(self.iters):
            x = v - tau * self._grad_adjoint(rp, rq)
            gv, gh = self._grad(x)
            p_new, q_new = self._project(rp + step * gv, rq + step * gh)
            t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
            momentum = (t - 1.0) / t_new
            rp = p_new + momentum * (p_new - p)
            rq = q_new + momentum * (q_new - q)
            p, q, t = p_new, q_new, t_new
            self.last_iterations = k + 1
            if self.tol is not None:
                x = v - tau * self._grad_adjoint(p, q)
                if x_prev is not None:
                    change = float(xp.linalg.vector_norm(x - x_prev))
                    if change <= self.tol * float(xp.linalg.vector_norm(x)):
                        break
                x_prev = x
        self.last_dual = (p, q)
        return v - tau * self._grad_adjoint(p, q)

    def value(self, x, y=None) -> float:
        self._check_shape(x)
        xp = namespace(x)
        gv, gh = self._grad(x)
        if self.isotropic:
            return _sum(xp, xp.sqrt(gv * gv + gh * gh))
        return _sum(xp, xp.abs(gv) + xp.abs(gh))

    def gap(self, v, tau: float, p, q) -> float:
        """The duality gap ``P(x(p)) - D(p)`` of the dual point ``(p, q)`` (projected onto the constraint
        first), with ``x(p) = v - tau D^T p``; an upper bound on ``1/2 ||x(p) - prox(v)||^2``."""
        xp = namespace(v)
        tau = check_tau(tau)
        p, q = self._project(p, q)
        x = v - tau * self._grad_adjoint(p, q)
        primal = 0.5 * _sum(xp, (x - v) ** 2) + tau * self.value(x)
        dual = 0.5 * _sum(xp, v * v) - 0.5 * _sum(xp, x * x)
        return primal - dual


# -- any callable ---------------------------------------------------------------------------------------


def _call_style(f):
    """How to call ``f``: (passes_tau, passes_y). Inspected once.

    * ``f(v)``: a fixed denoiser; ``tau`` and ``y`` are not passed.
    * ``f(v, tau)``: ``tau`` passed positionally.
    * a parameter named ``y`` (or ``**kwargs``): ``y`` passed as the keyword ``y=``.
    Callables whose signature cannot be read are called as ``f(v, tau)``. For a ``torch.nn.Module`` the
    signature of its ``forward`` is read.
    """
    # a torch.nn.Module's __call__ takes (*args, **kwargs); its forward has the real signature
    target = f.forward if _is_torch_module(f) else f
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return True, False
    positional = [p for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "y"]
    var_positional = any(p.kind == p.VAR_POSITIONAL for p in params)
    passes_y = any(p.name == "y" and p.kind != p.POSITIONAL_ONLY for p in params) or any(
        p.kind == p.VAR_KEYWORD for p in params)
    passes_tau = var_positional or len(positional) >= 2
    if not positional and not var_positional:
        raise TypeError(f"as_prox: {f!r} takes no positional argument; expected f(v, tau) or f(v, tau, y=...)")
    return passes_tau, passes_y


def _is_torch_module(f) -> bool:
    return isinstance(f, torch.nn.Module)


class CallableProx(Proximal):
    """Wrap any callable as a ``Proximal``: ``f(v, tau)``, ``f(v, tau, y=...)``, or ``f(v)`` (a fixed
    denoiser, e.g. a torch module, that ignores ``tau``). The signature is inspected once, here.

    Parameters
    ----------
    f : the callable.
    value : optional ``R(x)`` (or ``R(x, y=...)``) for the objective; otherwise ``value`` returns ``nan``.
    name : shown in reports (default: the callable's name).
    """

    def __init__(self, f, value=None, name: str | None = None):
        if not callable(f):
            raise TypeError(f"as_prox: expected a callable f(v, tau), got {type(f).__name__}")
        if value is not None and not callable(value):
            raise TypeError(f"as_prox value: expected a callable R(x) or None, got {type(value).__name__}")
        self.f = f
        self._passes_tau, self._passes_y = _call_style(f)
        self._value = value
        self._value_takes_y = value is not None and _call_style(value)[1]
        self.name = name or getattr(f, "__name__", type(f).__name__)

    def _prox(self, v, tau, y):
        args = (v, tau) if self._passes_tau else (v,)
        if self._passes_y:
            return self.f(*args, y=y)
        return self.f(*args)

    def value(self, x, y=None) -> float:
        if self._value is None:
            return math.nan
        out = self._value(x, y=y) if self._value_takes_y else self._value(x)
        return math.nan if out is None else float(out)

    def __repr__(self):
        return f"CallableProx({self.name})"


def as_prox(f, value=None) -> Proximal:
    """``f`` itself if it is a ``Proximal``, otherwise ``CallableProx(f, value)`` (see there)."""
    if isinstance(f, Proximal):
        if value is not None:
            raise ValueError("as_prox: value= is only for wrapping a plain callable, not a Proximal")
        return f
    return CallableProx(f, value=value)
