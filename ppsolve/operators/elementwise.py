r"""Elementwise operators: ``Identity``, ``Scale``, ``Diagonal`` and ``Mask``.

All four multiply pixel by pixel, so they are diagonal in the pixel basis and self-adjoint
(``A.T`` applies the same weights). Their weights are constants: stored once as float64 NumPy and
converted to the namespace, device and precision of the array they meet (``ppsolve._array.Constant``).
"""
from __future__ import annotations

import numbers

import array_api_compat
import numpy as np

from .._array import Constant, is_torch, namespace, to_numpy
from .._validate import real_number
from .._validate import shape as as_shape
from .base import LinearOperator
from .structure import FourierStructure

__all__ = ["Diagonal", "Identity", "Mask", "Scale"]


def real_constant(value, what: str, allow_sequence: bool = False) -> np.ndarray:
    """``value`` (a NumPy / CuPy / PyTorch array; a list or tuple only with ``allow_sequence``) as a float64
    NumPy array, checked real and finite. Arrays that carry gradients are detached: operator weights are
    constants."""
    if isinstance(value, (list, tuple)) and allow_sequence:
        value = np.asarray(value)
    elif not array_api_compat.is_array_api_obj(value) or isinstance(value, (numbers.Number, np.generic)):
        raise TypeError(
            f"{what}: expected a NumPy (or PyTorch / CuPy) array, got {type(value).__name__}; "
            "wrap it, e.g. np.asarray(...)"
        )
    array = to_numpy(value)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.floating)
        or np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.bool_)
    ):
        raise TypeError(f"{what}: expected a real (float, int or bool) array, got dtype {array.dtype}")
    array = np.array(array, dtype=np.float64)  # a private copy
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{what}: expected finite values, got {bad} nan/inf entries")
    return array


def copy_array(x):
    """A copy of ``x`` in its own namespace (autograd flows through for torch)."""
    if is_torch(x):
        return x.clone()
    return namespace(x).asarray(x, copy=True)


def scalar_structure(shape, scalar: float) -> FourierStructure | None:
    """``scalar * I`` on an image shape ``(..., H, W)`` as a Fourier structure (None for 1-D shapes)."""
    if len(shape) < 2:
        return None
    return FourierStructure(grid=tuple(shape[-2:]), spectrum=np.array(scalar, dtype=complex), factor=1, mix=None)


class Identity(LinearOperator):
    r"""The identity ``I x = x`` on images of shape ``shape``.

    Shapes: ``(*batch, *shape) -> (*batch, *shape)``; self-adjoint (``I^T = I``). Returns a copy, never the
    input array itself. Its ``fourier_structure`` is the scalar multiplier 1 on the grid ``shape[-2:]`` (None
    for a 1-D shape).
    """

    def __init__(self, shape):
        shape = as_shape(shape, "Identity shape")
        super().__init__(shape, shape)

    def _apply(self, x):
        return copy_array(x)

    _adjoint = _apply

    @property
    def T(self):
        return self

    def fourier_structure(self):
        return scalar_structure(self.in_shape, 1.0)

    def _describe(self):
        return "Identity"


class Scale(LinearOperator):
    r"""Multiplication by a real scalar: ``A x = s x`` on images of shape ``shape``.

    Shapes: ``(*batch, *shape) -> (*batch, *shape)``; self-adjoint (``A^T = A``). Its ``fourier_structure``
    is the constant multiplier ``s`` on the grid ``shape[-2:]`` (``is_scalar`` holds; None for a 1-D shape).

    Parameters
    ----------
    scalar : a finite real number.
    shape : the image shape, e.g. ``(64, 64)`` or ``(3, 64, 64)``.
    """

    def __init__(self, scalar, shape):
        self.scalar = real_number(scalar, "Scale scalar", signed=True)
        shape = as_shape(shape, "Scale shape")
        super().__init__(shape, shape)

    def _apply(self, x):
        return self.scalar * x

    _adjoint = _apply

    @property
    def T(self):
        return self

    def fourier_structure(self):
        return scalar_structure(self.in_shape, self.scalar)

    def _describe(self):
        return f"Scale({self.scalar:g})"


class Diagonal(LinearOperator):
    r"""Pixelwise weights: ``(A x)[i] = w[i] x[i]``, i.e. the diagonal matrix ``diag(vec(w))``.

    Shapes: ``(*batch, *w.shape) -> (*batch, *w.shape)`` (the weights fix the image shape); self-adjoint
    (``A^T = A``). The weights are a finite real array (NumPy, or a PyTorch / CuPy array that is copied to a
    float64 NumPy constant: no gradient flows to them). ``fourier_structure`` is a scalar multiplier when
    all weights are equal, else None (a spatially varying diagonal is not a Fourier multiplier).
    """

    def __init__(self, weights):
        w = real_constant(weights, f"{type(self).__name__} weights")
        shape = as_shape(w.shape, f"{type(self).__name__} weights shape")
        super().__init__(shape, shape)
        self.weights = w
        self._w = Constant(w)

    def _apply(self, x):
        return x * self._w.like(x)

    _adjoint = _apply

    @property
    def T(self):
        return self

    def fourier_structure(self):
        first = self.weights.flat[0]
        if np.all(self.weights == first):
            return scalar_structure(self.in_shape, float(first))
        return None

    def _describe(self):
        return f"Diagonal(weights in [{self.weights.min():g}, {self.weights.max():g}])"


class Mask(Diagonal):
    r"""Inpainting mask: ``(A x)[i] = m[i] x[i]`` with ``m[i]`` in {0, 1} (1: pixel observed).

    Shapes: ``(*batch, *m.shape) -> (*batch, *m.shape)``; self-adjoint and idempotent (``A^T = A = A^2``):
    the output keeps the image shape with unobserved pixels set to zero. ``mask`` is a bool array or a real
    array holding only 0 and 1. ``fourier_structure`` is None unless the mask is all ones or all zeros.
    """

    def __init__(self, mask):
        w = real_constant(mask, "Mask mask")
        if not np.all((w == 0) | (w == 1)):
            bad = np.unique(w[(w != 0) & (w != 1)])[:5]
            raise ValueError(f"Mask mask: expected only 0 and 1 (or a bool array), got other values such as {bad}")
        super().__init__(w)
        self.mask = w.astype(bool)

    @property
    def observed(self) -> int:
        """The number of kept pixels."""
        return int(np.count_nonzero(self.mask))

    def _describe(self):
        return f"Mask({self.observed}/{self.mask.size} observed)"
