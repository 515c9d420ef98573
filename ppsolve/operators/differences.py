r"""Discrete gradient: forward differences along the two image axes."""
from __future__ import annotations

from .._array import namespace
from .._validate import choice
from .._validate import shape as as_shape
from .base import LinearOperator

__all__ = ["BOUNDARIES", "FiniteDifference", "gradient", "gradient_adjoint"]

BOUNDARIES = ("periodic", "neumann")


def _index(axis_index, axis: int):
    """An index tuple selecting ``axis_index`` on ``axis`` (negative, counted from the end) of an array."""
    return (Ellipsis, axis_index) + (slice(None),) * (-axis - 1)


def _forward(x, axis: int, boundary: str):
    """``d[i] = x[i + 1] - x[i]`` along ``axis``; the last entry wraps (periodic) or is 0 (neumann)."""
    xp = namespace(x)
    if boundary == "periodic":
        return xp.roll(x, -1, axis=axis) - x
    inner = x[_index(slice(1, None), axis)] - x[_index(slice(None, -1), axis)]
    return xp.concat([inner, xp.zeros_like(x[_index(slice(0, 1), axis)])], axis=axis)


def _backward_adjoint(p, axis: int, boundary: str):
    """The adjoint of ``_forward``: ``(D^T p)[i] = p[i - 1] - p[i]`` (periodic), and with the neumann
    boundary ``p[-1] = p[N - 1] = 0`` in that formula."""
    xp = namespace(p)
    if boundary == "periodic":
        return xp.roll(p, 1, axis=axis) - p
    head = p[_index(slice(None, -1), axis)]  # p[0 .. N-2]; p[N-1] is not used by D
    zero = xp.zeros_like(p[_index(slice(0, 1), axis)])
    return xp.concat([zero, head], axis=axis) - xp.concat([head, zero], axis=axis)


def gradient(x, boundary: str = "periodic"):
    """``(D_v x, D_h x)``: the forward differences of ``x`` along its last two axes (see ``FiniteDifference``),
    each shaped like ``x``; any leading axes are a batch. The two parts of ``FiniteDifference``'s output, as a
    pair (``prox.TV`` iterates on them without stacking)."""
    return _forward(x, -2, boundary), _forward(x, -1, boundary)


def gradient_adjoint(p, q, boundary: str = "periodic"):
    """``D_v^T p + D_h^T q`` (minus the divergence of ``(p, q)``): the adjoint of ``gradient``."""
    return _backward_adjoint(p, -2, boundary) + _backward_adjoint(q, -1, boundary)


class FiniteDifference(LinearOperator):
    r"""The discrete gradient ``D x = (D_v x, D_h x)`` by forward differences over the last two axes.

    ``(D_v x)[..., i, j] = x[..., i + 1, j] - x[..., i, j]`` and
    ``(D_h x)[..., i, j] = x[..., i, j + 1] - x[..., i, j]``.
    At the last row / column the ``periodic`` boundary wraps around (``x[..., H, j] = x[..., 0, j]``); the
    ``neumann`` boundary (zero normal derivative, as in total variation) sets the difference to 0.

    Shapes: ``in_shape`` is ``S = (H, W)`` or ``(C, H, W)`` (channels differenced separately) and
    ``out_shape = (2, *S)`` with ``D_v`` at index 0 and ``D_h`` at index 1: an array of shape
    ``(*batch, *S)`` maps to ``(*batch, 2, *S)``.

    Adjoint: minus the divergence, ``D^T (p, q) = D_v^T p + D_h^T q`` with
    ``(D_v^T p)[i] = p[i - 1] - p[i]`` (indices mod H, periodic); for neumann, read ``p[-1] = p[H - 1] = 0``
    in that formula (exact, not an approximation). ``D^T D`` is the (negative) 5-point Laplacian.

    ``fourier_structure`` is None: ``D`` maps to two channels and is not of the form ``S H R``.
    """

    def __init__(self, shape, boundary: str = "periodic"):
        shape = as_shape(shape, "FiniteDifference shape")
        if len(shape) not in (2, 3):
            raise ValueError(f"FiniteDifference shape: expected (H, W) or (C, H, W), got {shape}")
        choice(boundary, "FiniteDifference boundary", BOUNDARIES)
        super().__init__(shape, (2,) + shape)
        self.boundary = boundary

    def _apply(self, x):
        xp = namespace(x)
        stack_axis = -(len(self.in_shape) + 1)
        return xp.stack(gradient(x, self.boundary), axis=stack_axis)

    def _adjoint(self, y):
        rest = (slice(None),) * len(self.in_shape)
        return gradient_adjoint(y[(Ellipsis, 0) + rest], y[(Ellipsis, 1) + rest], self.boundary)

    def _describe(self):
        return f"FiniteDifference({self.boundary})"
