r"""A ppsolve inverse as the x-step of SCICO's ADMM, and ppsolve operators as SCICO linear operators.

**The x-step.** ``scico.optimize.ADMM(f, g_list, C_list, rho_list)`` minimises ``f(x) + sum_i g_i(C_i x)``; its
x-update (``ADMM.step``, solved by a ``SubproblemSolver``) is

    x_{k+1} = argmin_x  f(x) + sum_i rho_i / 2 ||z_i - u_i - C_i x||^2.

With ``f = loss.SquaredL2Loss(y=y, A=A, scale=s)``, i.e. ``f(x) = s ||y - A x||^2`` (no weighting ``W``), and every
``C_i = I``, the gradient ``2 s A^T (A x - y) + sum_i rho_i (x - z_i + u_i)`` vanishes where

    (A^T A + beta I) x = A^T y + 1 / (2 s) sum_i rho_i (z_i - u_i),        beta = sum_i rho_i / (2 s),

ppsolve's z-update ``(A^T A + beta I)^{-1} b`` (``docs/design.md``). For ppsolve's objective ``||y - A x||^2 + lam
R(x)`` take ``scale = 1`` and one ``C = I``: then **rho = 2 beta** (SCICO's default ``scale = 1/2``, the data term
``1/2 ||y - A x||^2``, gives ``rho = beta``). With ``g = lam * functional.L1Norm()`` SCICO's z-step
``prox_g(x + u, 1 / rho)`` soft-thresholds at ``lam / rho = lam / (2 beta)``, ppsolve's ``tau``. SCICO's ``x`` plays
ppsolve's ``z`` (the inverse's output), its ``z`` ppsolve's ``x`` (the prior's) and its ``u`` is ``-u / (2 beta)``, but
SCICO takes the inverse step first in each iteration and ppsolve's ``ADMM`` the prior's: the same splitting and
fixed points, not the same iterates (PyProximal's ``ADMM(..., gfirst=True)`` is ppsolve's order).

``InverseSolver(inverse)`` is that x-step: one ``Inverse.solve`` per iteration (Fourier: exact, two FFTs;
learned: no inner loop; CG preconditioned by a learned network: exact, fewer iterations), warm-started from the
current ``x``. SCICO's own exact solvers do not cover the paper's operator ``A = S H`` (stride-``d`` blur):
``CircularConvolveSolver`` needs ``f.A`` to be a ``CircularConvolve`` and raises a ``TypeError`` on a composition
with a decimation, so SCICO users pick ``LinearSubproblemSolver`` (CG on ``A^T A + beta I``).

**Operators.** ``to_scico(A)`` exposes a ppsolve operator as a ``scico.linop.LinearOperator``: its ``eval_fn`` and
``adj_fn`` call ``A.apply`` / ``A.adjoint`` on the host through ``jax.pure_callback`` (NumPy arrays in the SCICO
operator's dtype; batched under ``vmap`` as ppsolve batches), with a ``custom_vjp`` whose backward pass is the
other one (the operator is linear), so ``jax.grad`` of a loss through it works. It cannot be ``jit``-fused
with other JAX code (a callback is a host round trip). Turn ``jax_enable_x64`` on for float64 (the default dtype
follows that flag).

Needs SCICO and JAX (``pip install ppsolve[interop]``).
"""
from __future__ import annotations

import numpy as np

try:
    import jax
    import jax.numpy as jnp
    import scico.linop
    from scico.loss import SquaredL2Loss
    from scico.optimize.admm import SubproblemSolver
except ImportError as _err:  # pragma: no cover - exercised by tests/interop/test_missing.py
    raise ImportError(f"ppsolve.interop.scico needs SCICO and JAX ({_err}): pip install ppsolve[interop]") from _err

from ..inverses import make_inverse
from ..inverses.base import Inverse
from ..operators.base import LinearOperator
from ._inverses import InverseCache

__all__ = ["InverseSolver", "to_scico"]


def _default_dtype():
    return np.dtype(np.float64 if jax.config.jax_enable_x64 else np.float32)


def _host_call(fn, transpose, in_shape, out_shape, dtype):
    """``x -> fn(x)`` on the host as a JAX function with the vector-Jacobian product ``g -> transpose(g)``."""
    result, back = jax.ShapeDtypeStruct(tuple(out_shape), dtype), jax.ShapeDtypeStruct(tuple(in_shape), dtype)

    def forward_host(a):
        return np.asarray(fn(np.asarray(a, dtype=dtype)), dtype=dtype)

    def transpose_host(a):
        return np.asarray(transpose(np.asarray(a, dtype=dtype)), dtype=dtype)

    @jax.custom_vjp
    def call(x):
        return jax.pure_callback(forward_host, result, x, vmap_method="broadcast_all")

    def call_fwd(x):
        return call(x), None

    def call_bwd(_, g):
        return (jax.pure_callback(transpose_host, back, g, vmap_method="broadcast_all"),)

    call.defvjp(call_fwd, call_bwd)
    return call


def to_scico(op: LinearOperator, dtype=None):
    """A ppsolve operator as a ``scico.linop.LinearOperator`` (see the module docstring); ``dtype`` defaults to
    float64 with ``jax_enable_x64`` on, else float32. The operator is kept as ``.ppsolve_operator``."""
    if not isinstance(op, LinearOperator):
        raise TypeError(f"to_scico: expected a ppsolve LinearOperator, got {type(op).__name__}")
    dtype = _default_dtype() if dtype is None else np.dtype(dtype)
    if dtype == np.float64 and not jax.config.jax_enable_x64:
        raise ValueError("to_scico: float64 needs jax.config.update('jax_enable_x64', True) first")
    lin = scico.linop.LinearOperator(
        input_shape=op.in_shape, output_shape=op.out_shape, input_dtype=dtype, output_dtype=dtype,
        eval_fn=_host_call(op.apply, op.adjoint, op.in_shape, op.out_shape, dtype),
        adj_fn=_host_call(op.adjoint, op.apply, op.out_shape, op.in_shape, dtype))
    lin.ppsolve_operator = op
    return lin


class InverseSolver(SubproblemSolver):
    r"""SCICO ADMM's x-step by a ppsolve inverse (see the module docstring: ``beta = sum(rho) / (2 scale)``).

    Parameters
    ----------
    inverse : an ``Inverse`` (its ``A`` and ``beta``: ADMM's ``rho_list`` must give that ``beta``), a name for
        ``make_inverse`` ("auto": ``FourierInverse`` where ``A`` allows it, else CG) or a factory
        ``(A, beta) -> Inverse``, built once ``rho`` is known.
    A : the ppsolve operator, for a name or factory; default: the one inside ``f.A`` when ``f.A = to_scico(A)``.
    check_operator : when ``f.A`` is not ``to_scico(A)``, compare the two on a random probe once (relative 1e-9 in
        float64, 1e-4 in float32) and refuse a different operator.
    **options : for an inverse built by name (e.g. ``tol`` for CG).

    After each solve ``info`` holds ``num_iter`` (the inverse's inner iterations, 0 for a closed form) and
    ``seconds``.
    """

    def __init__(self, inverse="auto", A: LinearOperator | None = None, check_operator: bool = True, **options):
        if isinstance(inverse, Inverse):
            if A is not None and A is not inverse.A:
                raise ValueError("InverseSolver: give either an Inverse (it holds its operator) or A, not both")
            A = inverse.A
        elif not (isinstance(inverse, str) or callable(inverse)):
            raise TypeError("InverseSolver: inverse must be a ppsolve Inverse, a name or a factory (A, beta) -> "
                            f"Inverse, got {type(inverse).__name__}")
        if A is not None and not isinstance(A, LinearOperator):
            raise TypeError(f"InverseSolver: A must be a ppsolve LinearOperator, got {type(A).__name__}")
        self.spec, self.A, self.options = inverse, A, options
        self.check_operator = bool(check_operator)
        self.inverse: Inverse | None = None
        self.info: dict = {}

    def internal_init(self, admm):
        f = admm.f
        if not isinstance(f, SquaredL2Loss):
            raise TypeError(f"InverseSolver: f must be a scico.loss.SquaredL2Loss, got {type(f).__name__}")
        if not isinstance(f.W, scico.linop.Identity):
            raise ValueError("InverseSolver: a weighted loss (W) is not A^T A + beta I; use LinearSubproblemSolver")
        A = self.A if self.A is not None else getattr(f.A, "ppsolve_operator", None)
        if not isinstance(A, LinearOperator):
            raise ValueError("InverseSolver: cannot tell the ppsolve operator: pass A=..., an Inverse, or build "
                             "the loss with A=to_scico(A)")
        for C in admm.C_list:
            if not isinstance(C, scico.linop.Identity) or tuple(C.input_shape) != tuple(A.in_shape):
                raise ValueError(f"InverseSolver: every C_i must be the identity on {A.in_shape}, got "
                                 f"{type(C).__name__} on {tuple(C.input_shape)}")
        if self.check_operator and getattr(f.A, "ppsolve_operator", None) is not A:
            self._compare(f.A, A)
        scale = float(f.scale)
        beta = float(sum(float(r) for r in admm.rho_list)) / (2.0 * scale)
        if isinstance(self.spec, Inverse):
            try:
                self.inverse = make_inverse(A, beta, self.spec)
            except ValueError as err:
                raise ValueError(f"InverseSolver: {err}; SCICO's beta is sum(rho) / (2 scale): use rho_list="
                                 f"[{2 * scale * self.spec.beta:g}] for scale {scale:g}") from err
        else:
            self.inverse = InverseCache(A, self.spec, 1, "InverseSolver", **self.options).get(beta)
        self.beta, self.scale = beta, scale
        self._dtype = np.dtype(f.y.dtype)
        self._aty = A.adjoint(np.asarray(f.y, dtype=np.float64))
        super().internal_init(admm)

    def _compare(self, scico_A, A):
        if tuple(scico_A.input_shape) != tuple(A.in_shape) or tuple(scico_A.output_shape) != tuple(A.out_shape):
            raise ValueError(f"InverseSolver: f.A maps {tuple(scico_A.input_shape)} -> {tuple(scico_A.output_shape)}, "
                             f"the ppsolve operator {A!r}")
        dtype = np.dtype(scico_A.input_dtype)
        probe = np.random.default_rng(2017).standard_normal(A.in_shape).astype(dtype)
        theirs = np.asarray(scico_A(jnp.asarray(probe)), dtype=np.float64)
        ours = np.asarray(A.apply(probe.astype(np.float64)))
        difference = float(np.linalg.norm(theirs - ours) / max(np.linalg.norm(ours), 1e-300))
        if not difference <= (1e-9 if dtype == np.float64 else 1e-4):
            raise ValueError(f"InverseSolver: f.A is not the operator {A!r} (relative difference {difference:.3g} "
                             "on a random probe); build the loss with A=to_scico(A)")

    def solve(self, x0):
        """``(A^T A + beta I)^{-1} (A^T y + 1 / (2 scale) sum_i rho_i (z_i - u_i))``, warm-started from ``x0``."""
        admm = self.admm
        rhs = self._aty.copy()
        for rho, z, u in zip(admm.rho_list, admm.z_list, admm.u_list):
            weight = float(rho) / (2.0 * self.scale)
            rhs += weight * (np.asarray(z, dtype=np.float64) - np.asarray(u, dtype=np.float64))
        z, report = self.inverse.solve_report(rhs, x0=np.asarray(x0, dtype=np.float64))
        self.info = {"num_iter": report.iterations, "seconds": report.seconds}
        return jnp.asarray(z, dtype=self._dtype)
