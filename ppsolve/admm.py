r"""ADMM for ``min_x ||y - A x||^2 + lam R(x)`` with a swappable inverse and proximal operator.

The splitting ``x = z`` (paper eqs. 3-5) with penalty ``beta > 0``, dual variable ``u`` (shaped like ``x``),
``z_0 = x0`` (zeros by default) and ``u_0 = 0`` (or a given ``u0``); iteration ``k = 1, 2, ...``:

.. code-block:: text

    v   = z_{k-1} - u_{k-1} / (2 beta)
    x_k = prox(v, tau, y=y),   tau = lam / (2 beta)      # argmin_x 1/2 ||x - v||^2 + tau R(x; y)
    b   = A^T y + beta x_k + u_{k-1} / 2
    z_k = inverse.solve(b, x0=z_{k-1})                   # (A^T A + beta I)^{-1} b
    u_k = u_{k-1} + 2 beta (x_k - z_k)

This is ADMM on the augmented Lagrangian ``||y - A z||^2 + lam R(x) + <u, x - z> + beta ||x - z||^2``
(Boyd et al.'s penalty ``rho = 2 beta``, their scaled dual ``u / (2 beta)``). At a fixed point ``x = z`` and
``u = 2 A^T (A z - y)``, the gradient of the data term.

The inverse is any ``ppsolve.inverses.Inverse`` (or a name for ``make_inverse``); the proximal operator
any ``ppsolve.prox.Proximal`` or callable (``as_prox``). Arrays are those of ``y``: NumPy in, NumPy out;
torch in, torch out (same device and dtype); leading dimensions of ``y`` beyond ``A.out_shape`` are a batch.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, fields

import array_api_compat
import torch

from ._array import check_array, is_torch, namespace
from ._validate import batch_shape, positive_int, real_number
from .inverses import make_inverse
from .inverses.base import Inverse, check_beta
from .operators.base import LinearOperator
from .prox.basic import Proximal, as_prox

__all__ = ["ADMM", "ADMMResult", "ADMMState", "History"]


def _fmt(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _check_lam(lam) -> float:
    if lam is None:
        raise TypeError("ADMM: lam (the regularisation weight in ||y - A x||^2 + lam R(x)) is required")
    return real_number(lam, "lam")


def _sync(a) -> None:
    """Wait for queued GPU work on ``a``'s device, so that wall times are attributed to the right step."""
    if is_torch(a):
        if a.is_cuda:
            torch.cuda.synchronize(a.device)
    elif array_api_compat.is_cupy_array(a):  # pragma: no cover - needs a GPU
        import cupy

        cupy.cuda.get_current_stream().synchronize()


def _finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class History:
    """Per-iteration records of an ADMM run; entry ``i`` belongs to iteration ``k = i + 1``.

    Attributes (all lists of equal length)
    ----------------------------------------
    objective : ``F(x_k) = ||y - A x_k||^2 + lam R(x_k)`` at the proximal output ``x_k``, summed over the
        batch. ``R`` comes from ``prox.value``; where that is unknown (``nan``, e.g. a learned denoiser) the
        objective is ``nan`` (unless ``lam = 0``, when it is the data term).
    data : ``||y - A x_k||^2``.
    regularizer : ``R(x_k)`` (``nan`` when unknown).
    primal_residual : ``||x_k - z_k||``.
    dual_residual : ``2 beta ||z_k - z_{k-1}||``.
    primal_relative : ``||x_k - z_k|| / max(||x_k||, ||z_k||, ||u_k|| / (2 beta))``.
    dual_relative : ``2 beta ||z_k - z_{k-1}|| / max(||u_k||, 2 ||A^T y||)``.
    nmse : ``||x_k - x_true||^2 / ||x_true||^2`` (``nan`` when no ``x_true`` was given).
    inverse_iterations : the inverse's inner iterations for ``z_k`` (its ``SolveReport`` of that call).
    time_prox, time_inverse, time_dual : seconds spent in this iteration's x-, z- and u-updates.
    time : cumulative seconds of the three updates (monitoring excluded): the x-axis of "objective vs time".
    wall : cumulative wall-clock seconds since ``solve`` started, monitoring and callbacks included.
    """

    objective: list = field(default_factory=list)
    data: list = field(default_factory=list)
    regularizer: list = field(default_factory=list)
    primal_residual: list = field(default_factory=list)
    dual_residual: list = field(default_factory=list)
    primal_relative: list = field(default_factory=list)
    dual_relative: list = field(default_factory=list)
    nmse: list = field(default_factory=list)
    inverse_iterations: list = field(default_factory=list)
    time_prox: list = field(default_factory=list)
    time_inverse: list = field(default_factory=list)
    time_dual: list = field(default_factory=list)
    time: list = field(default_factory=list)
    wall: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.objective)

    def append(self, record: dict) -> None:
        for f in fields(self):
            getattr(self, f.name).append(record[f.name])

    def extend(self, other: History) -> None:
        """Append every record of ``other`` (e.g. the next stage of a staged run)."""
        for f in fields(self):
            getattr(self, f.name).extend(getattr(other, f.name))

    def entry(self, i: int = -1) -> dict:
        """The records of one iteration (default: the last) as a dict."""
        return {f.name: getattr(self, f.name)[i] for f in fields(self)}

    def as_dict(self) -> dict:
        """``{name: list}`` (copies of the lists)."""
        return {f.name: list(getattr(self, f.name)) for f in fields(self)}

    def to_json(self, path=None, **extra) -> str:
        """The history (plus any ``extra`` key/values) as strict JSON, ``nan`` / ``inf`` written as ``null``;
        also written to ``path`` when given."""
        data = {name: [_finite_or_none(v) for v in values] for name, values in self.as_dict().items()}
        data.update(extra)
        text = json.dumps(data, indent=1)
        if path is not None:
            with open(path, "w") as fh:
                fh.write(text)
        return text


@dataclass
class ADMMState:
    """What a callback sees after iteration ``k``: the current iterates, the history so far (its last entry
    is iteration ``k``) and the solver."""

    k: int
    x: object
    z: object
    u: object
    history: History
    admm: ADMM

    @property
    def record(self) -> dict:
        """Iteration ``k``'s history entry."""
        return self.history.entry(-1)


@dataclass
class ADMMResult:
    """The outcome of ``ADMM.solve``.

    Attributes
    ----------
    x : the last proximal output ``x_k`` (the estimate; it satisfies the prior's constraints exactly).
    z : the last inverse output ``z_k`` (``x - z`` is the primal residual).
    u : the last dual variable ``u_k``.
    history : per-iteration records (``History``).
    iterations : iterations run.
    converged : True when the ``tol`` criterion stopped the run.
    stop_reason : "iters" (ran all), "tol" or "callback".
    """

    x: object
    z: object
    u: object
    history: History
    iterations: int
    converged: bool
    stop_reason: str = "iters"


class ADMM:
    r"""ADMM for ``min_x ||y - A x||^2 + lam R(x)`` (see the module docstring for the iteration).

    Parameters
    ----------
    A : the forward operator (``ppsolve.operators.LinearOperator``).
    prox : a ``ppsolve.prox.Proximal`` for ``R``, or any callable ``f(v, tau)``, ``f(v, tau, y=...)`` or
        ``f(v)`` (wrapped by ``as_prox``). It is called with ``tau = lam / (2 beta)``.
    inverse : an ``Inverse`` built for ``A`` and ``beta``, or a name for ``make_inverse``:
        "auto" (default), "fourier", "cg", "gd", "dense", ...
    beta : the penalty, > 0. Required with a name; with an ``Inverse`` instance it may be left out (the
        instance's ``beta`` is used) and must otherwise equal it.
    lam : the regularisation weight, finite and >= 0 (required).
    **inverse_options : passed to ``make_inverse`` (only with a name), e.g. ``tol`` or ``maxiter``.
    """

    def __init__(self, A: LinearOperator, prox, inverse="auto", beta=None, lam=None, **inverse_options):
        if not isinstance(A, LinearOperator):
            raise TypeError(f"A: expected a ppsolve LinearOperator, got {type(A).__name__}")
        self.A = A
        self.lam = _check_lam(lam)
        self.prox: Proximal = as_prox(prox)
        if isinstance(inverse, Inverse):
            if inverse_options:
                raise TypeError(
                    f"ADMM: inverse options {sorted(inverse_options)} only apply when inverse is a name, "
                    f"not an {type(inverse).__name__} instance"
                )
            if beta is None:
                beta = inverse.beta
            elif not math.isclose(check_beta(beta), inverse.beta, rel_tol=1e-12, abs_tol=0.0):
                raise ValueError(
                    f"ADMM: beta = {check_beta(beta):g} but the given {type(inverse).__name__} was built for "
                    f"beta = {inverse.beta:g}; build the inverse with beta = {check_beta(beta):g} or leave beta out"
                )
            make_inverse(A, inverse.beta, inverse)  # checks that it was built for this A
            self.beta = inverse.beta
            self.inverse = inverse
        else:
            if beta is None:
                raise TypeError("ADMM: beta (the penalty, > 0) is required when inverse is given by name")
            self.beta = check_beta(beta)
            self.inverse = make_inverse(A, self.beta, inverse, **inverse_options)

    @property
    def tau(self) -> float:
        """The proximal weight ``lam / (2 beta)``."""
        return self.lam / (2.0 * self.beta)

    def __repr__(self) -> str:
        return (f"ADMM(A={self.A!r}, prox={self.prox!r}, inverse={type(self.inverse).__name__}, "
                f"beta={self.beta:g}, lam={self.lam:g})")

    # -- checks -------------------------------------------------------------------------------------
    def _check_y(self, y):
        return batch_shape(y, self.A.out_shape, "ADMM.solve y (A's output shape)")

    def _like(self, a, y, xshape, what):
        """``a`` (x0 or x_true) as an array of y's namespace, device and dtype, of shape ``xshape``."""
        check_array(a, f"ADMM.solve {what}")
        if is_torch(y) and not is_torch(a):
            a = torch.as_tensor(a, device=y.device)
        elif not is_torch(y) and is_torch(a):
            raise TypeError(f"ADMM.solve {what}: a torch tensor, but y is a {type(y).__module__} array")
        xp = namespace(y)
        a = xp.astype(a, y.dtype)
        if tuple(a.shape) == tuple(xshape):
            return a
        if tuple(a.shape) == self.A.in_shape:
            return xp.broadcast_to(a, xshape) * 1.0  # a copy with the batch dimensions
        raise ValueError(
            f"ADMM.solve: expected {what} of shape {_fmt(xshape)} (the batch of y times A's input shape "
            f"{_fmt(self.A.in_shape)}), got {_fmt(tuple(a.shape))}"
        )

    # -- the iteration ----------------------------------------------------------------------------------
    def solve(self, y, iters: int = 100, x0=None, tol: float | None = None, callback=None,
              x_true=None, u0=None) -> ADMMResult:
        """Run ADMM on the measurement ``y`` (shape ``(*batch, *A.out_shape)``).

        Parameters
        ----------
        y : the measurement (NumPy, torch or CuPy; decides the namespace, device and dtype of everything).
        iters : maximum number of iterations (>= 1).
        x0 : the starting point ``z_0`` (default zeros), of shape ``(*batch, *A.in_shape)`` or ``A.in_shape``.
        tol : stop after iteration ``k`` once ``primal_relative`` and ``dual_relative`` (see ``History``) are
            both <= tol. Norms are over the whole batch. The primal scale includes ``||u|| / (2 beta)``
            (the scaled dual, in the units of ``x``) so that the test still works when ``x* = 0``.
        callback : ``callback(k, state)`` after iteration ``k`` (``state``: ``ADMMState``); returning True
            (any truthy value) stops the run.
        x_true : the ground truth, for ``history.nmse``.
        u0 : the starting dual ``u_0`` (default zeros), shaped like ``x0``. ``u`` is the unscaled dual (the
            scaled one is ``u / (2 beta)``), so a ``u0`` carried over from a run at another ``beta`` is
            already the dual rescaled for the new penalty (``ppsolve.staged``'s ``dual="keep"``).

        Raises ``FloatingPointError`` naming the iteration and the variable (x from the proximal operator,
        z from the inverse, or u) as soon as one holds a NaN or an infinity.
        """
        batch = self._check_y(y)
        iters = positive_int(iters, "iters")
        tol = None if tol is None else real_number(tol, "tol", positive=True)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback: expected callback(k, state), got {type(callback).__name__}")
        xp = namespace(y)
        xshape = batch + self.A.in_shape
        device = array_api_compat.device(y)
        if x0 is None:
            z = xp.zeros(xshape, dtype=y.dtype, device=device)
        else:
            z = self._like(x0, y, xshape, "x0")
        if x_true is not None:
            x_true = self._like(x_true, y, xshape, "x_true")
            true_sq = float(xp.sum(x_true * x_true))
            if true_sq == 0:
                raise ValueError("ADMM.solve: x_true is all zeros, so the NMSE ||x - x_true||^2 / ||x_true||^2 "
                                 "is undefined")
        u = xp.zeros(xshape, dtype=y.dtype, device=device) if u0 is None else self._like(u0, y, xshape, "u0")

        beta, lam, tau = self.beta, self.lam, self.tau
        A, prox, inverse = self.A, self.prox, self.inverse
        norm = xp.linalg.vector_norm

        start = time.perf_counter()
        Aty = A.adjoint(y)
        dual_scale = 2.0 * float(norm(Aty))
        history = History()
        algorithm_time = 0.0
        x = None
        converged, stop_reason, k = False, "iters", 0
        for k in range(1, iters + 1):
            # x-update: the proximal step
            t0 = time.perf_counter()
            x = prox(z - u / (2.0 * beta), tau, y=y)
            _sync(x)
            t1 = time.perf_counter()
            self._check_iterate(x, xshape, k, "x", "the proximal operator's output")
            nx = float(norm(x))
            if not math.isfinite(nx):
                raise FloatingPointError(
                    f"ADMM iteration {k}: x (the output of the proximal operator {prox!r}) contains NaN or Inf")

            # z-update: the inverse
            t2 = time.perf_counter()
            z_new, report = inverse.solve_report(Aty + beta * x + u / 2.0, x0=z)
            _sync(z_new)
            t3 = time.perf_counter()
            self._check_iterate(z_new, xshape, k, "z", "the inverse's output")
            nz = float(norm(z_new))
            if not math.isfinite(nz):
                raise FloatingPointError(
                    f"ADMM iteration {k}: z (the output of the inverse {type(inverse).__name__}) contains NaN or Inf")

            # u-update: the dual ascent
            t4 = time.perf_counter()
            u = u + (2.0 * beta) * (x - z_new)
            _sync(u)
            t5 = time.perf_counter()
            nu = float(norm(u))
            if not math.isfinite(nu):
                raise FloatingPointError(f"ADMM iteration {k}: u (the dual variable) contains NaN or Inf")

            # monitoring
            r = float(norm(x - z_new))
            s = 2.0 * beta * float(norm(z_new - z))
            z = z_new
            primal_scale = max(nx, nz, nu / (2.0 * beta))
            primal_rel = r / primal_scale if primal_scale > 0 else 0.0
            dual_den = max(nu, dual_scale)
            dual_rel = s / dual_den if dual_den > 0 else s
            residual = y - A.apply(x)
            data = float(xp.sum(residual * residual))
            reg = prox.value(x, y=y)
            reg = math.nan if reg is None else float(reg)
            objective = data + (lam * reg if lam != 0 else 0.0)
            if x_true is not None:
                err = x - x_true
                nmse = float(xp.sum(err * err)) / true_sq
            else:
                nmse = math.nan
            algorithm_time += (t1 - t0) + (t3 - t2) + (t5 - t4)
            history.append({
                "objective": objective, "data": data, "regularizer": reg,
                "primal_residual": r, "dual_residual": s, "primal_relative": primal_rel, "dual_relative": dual_rel,
                "nmse": nmse, "inverse_iterations": report.iterations,
                "time_prox": t1 - t0, "time_inverse": t3 - t2, "time_dual": t5 - t4,
                "time": algorithm_time, "wall": time.perf_counter() - start,
            })
            if tol is not None and primal_rel <= tol and dual_rel <= tol:
                converged, stop_reason = True, "tol"
            if callback is not None:
                stop = callback(k, ADMMState(k=k, x=x, z=z, u=u, history=history, admm=self))
                history.wall[-1] = time.perf_counter() - start
                if stop and not converged:
                    stop_reason = "callback"
                    break
            if converged:
                break
        return ADMMResult(x=x, z=z, u=u, history=history, iterations=k, converged=converged,
                          stop_reason=stop_reason)

    @staticmethod
    def _check_iterate(a, xshape, k, name, what):
        check_array(a, f"ADMM iteration {k}: {name} ({what})")
        if tuple(a.shape) != tuple(xshape):
            raise ValueError(
                f"ADMM iteration {k}: {name} ({what}) has shape {_fmt(tuple(a.shape))}, expected {_fmt(xshape)}")
