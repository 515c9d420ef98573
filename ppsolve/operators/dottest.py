r"""The dot test: does an operator's ``adjoint`` really compute ``A^T``?

For random ``x`` (shape ``(*batch, *in_shape)``) and ``y`` (shape ``(*batch, *out_shape)``) an exact adjoint
satisfies ``<A x, y> = <x, A^T y>`` up to rounding. ``dot_test`` measures the relative gap

.. math:: e = \frac{|\langle A x, y\rangle - \langle x, A^T y\rangle|}
                   {\max(\|A x\| \|y\|, \|x\| \|A^T y\|)}

(inner products accumulated in float64) and raises when it exceeds ``rtol``. Use it on your own operators
before handing them to an inverse: CG, the Woodbury closed form and the learned inverse all assume that
``adjoint`` is exact. It is the same check as SCICO's ``linop.valid_adjoint`` and PyLops' ``dottest``, and
the one ppsolve's own test-suite runs on every operator.
"""
from __future__ import annotations

import numpy as np
import torch

from .._validate import choice, count, real_number
from .base import LinearOperator

__all__ = ["DOT_TEST_RTOL", "dot_test"]

#: the default tolerance per dtype: exact adjoints of FFT- or loop-based operators stay orders of magnitude below
DOT_TEST_RTOL = {"float64": 1e-10, "float32": 1e-4}


def _draw(shape, dtype: str, seed: int, backend: str, device):
    values = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    if backend == "numpy":
        return values
    return torch.as_tensor(values, device=device)


def _inner(a, b) -> float:
    """``<a, b>`` accumulated in float64, for NumPy or torch arrays."""
    if isinstance(a, np.ndarray):
        return float(np.sum(a.astype(np.float64) * b.astype(np.float64)))
    return float((a.double() * b.double()).sum())


def dot_test(A: LinearOperator, *, rtol: float | None = None, dtype: str = "float64", batch=(), seed: int = 0,
             backend: str = "numpy", device=None, raise_error: bool = True) -> float:
    """The relative dot-test error ``e`` of ``A`` (see the module docstring), or ``ValueError`` when ``e > rtol``.

    Parameters
    ----------
    A : a ppsolve ``LinearOperator`` (one of the package's, a composition, or your own subclass).
    rtol : the tolerance; default ``DOT_TEST_RTOL[dtype]`` (1e-10 in float64, 1e-4 in float32).
    dtype : "float64" (default) or "float32": the precision of the random probes and of ``A``'s arithmetic.
    batch : leading batch dimensions of the probes (checks that ``A`` treats a batch item by item).
    seed : seeds ``x`` (with ``seed``) and ``y`` (with ``seed + 1``).
    backend : "numpy" (default) or "torch" (probes as tensors, on ``device``).
    raise_error : False returns ``e`` without raising.

    Also checks that ``A x`` and ``A^T y`` have the declared shapes and keep the probes' dtype.
    """
    if not isinstance(A, LinearOperator):
        raise TypeError(f"dot_test: expected a ppsolve LinearOperator, got {type(A).__name__}")
    dtype = choice(dtype, "dot_test dtype", tuple(DOT_TEST_RTOL))
    backend = choice(backend, "dot_test backend", ("numpy", "torch"))
    rtol = DOT_TEST_RTOL[dtype] if rtol is None else real_number(rtol, "dot_test rtol")
    batch = tuple(count(b, "dot_test batch") for b in batch)
    x = _draw(batch + A.in_shape, dtype, count(seed, "dot_test seed"), backend, device)
    y = _draw(batch + A.out_shape, dtype, seed + 1, backend, device)
    Ax, Aty = A.apply(x), A.adjoint(y)
    for name, value, want in (("A x", Ax, batch + A.out_shape), ("A^T y", Aty, batch + A.in_shape)):
        if tuple(value.shape) != want:
            raise ValueError(f"dot_test: {A!r}: {name} has shape {tuple(value.shape)}, expected {want}")
        if str(value.dtype).removeprefix("torch.") != dtype:
            raise ValueError(f"dot_test: {A!r}: {name} has dtype {value.dtype} for {dtype} input")
    lhs, rhs = _inner(Ax, y), _inner(x, Aty)
    scale = max(np.sqrt(_inner(Ax, Ax) * _inner(y, y)), np.sqrt(_inner(x, x) * _inner(Aty, Aty)))
    error = abs(lhs - rhs) / scale if scale > 0 else abs(lhs - rhs)
    if raise_error and not error <= rtol:
        raise ValueError(f"dot test failed for {A!r}: <A x, y> = {lhs:.12g}, <x, A^T y> = {rhs:.12g}, relative "
                         f"error {error:.3g} > rtol {rtol:g} ({dtype}); the adjoint is not the transpose of apply")
    return float(error)
