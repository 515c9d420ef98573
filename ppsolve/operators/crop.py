r"""Cropping, and the valid-convolution model of a photograph whose scene goes on past its frame.

``Crop(shape, start, size)`` keeps a window of the last two axes; its adjoint puts the window back into
zeros, so ``C C^T = I`` and ``C^T C`` is the 0/1 mask of the window.

A photograph is the *valid* part of a blur of a larger, unknown scene: ``y = C H x`` with ``x`` on the frame
extended by the kernel's reach, ``H`` a convolution there and ``C`` the crop back to the frame. On the
extended grid the periodic and the zero-padded convolution agree on the frame, so ``H`` can be the periodic
one: the model makes no boundary assumption, and ``A A^T = C H H^T C^T`` is the circulant ``H H^T``
restricted to the frame. ``A.periodic_factor()`` says so (``(C, H)``), and ``ppsolve.inverses`` preconditions
conjugate gradients on ``(beta I + A A^T) w = A b`` with ``C (beta I + H H^T)^{-1} C^T``, the closed form
restricted to the frame.
``valid_convolution`` and ``valid_strided_convolution`` build the model (a ``ValidModel``); its ``frame`` crops
an estimate back to the frame.
"""
from __future__ import annotations

import array_api_compat
import numpy as np

from .._array import namespace
from .._validate import int_tuple, positive_int
from .._validate import shape as as_shape
from .base import LinearOperator
from .convolution import Convolution
from .sampling import Downsample

__all__ = ["Crop", "ValidModel", "reach", "valid_convolution", "valid_strided_convolution"]


class Crop(LinearOperator):
    """Keep ``size = (h, w)`` pixels from ``start = (r, c)`` of the last two axes of ``shape``.

    ``Crop @ P`` with ``P`` periodic has the ``periodic_factor`` ``(Crop, P)``: the crop only removes rows, so
    ``(beta I + P P^T)^{-1}`` restricted to the window is a good preconditioner of ``beta I + A A^T``.
    """

    def __init__(self, shape, start, size):
        shape = as_shape(shape, "Crop shape")
        if len(shape) < 2:
            raise ValueError(f"Crop shape: expected (..., H, W), got {shape}")
        start = int_tuple(start, "Crop start", length=2, minimum=0)
        size = int_tuple(size, "Crop size", length=2, minimum=1)
        for axis in range(2):
            if start[axis] + size[axis] > shape[-2 + axis]:
                raise ValueError(f"Crop: the window {size} at {start} does not fit in {shape[-2:]}")
        self.start, self.size = start, size
        super().__init__(shape, shape[:-2] + size)

    def _window(self):
        (r, c), (h, w) = self.start, self.size
        return (..., slice(r, r + h), slice(c, c + w))

    def _apply(self, x):
        return x[self._window()]

    def _adjoint(self, y):
        xp = namespace(y)
        out = xp.zeros(y.shape[:-2] + self.in_shape[-2:], dtype=y.dtype, device=array_api_compat.device(y))
        out[self._window()] = y
        return out

    def factor_after(self, inner: LinearOperator):
        factor = inner.periodic_factor()
        if factor is None:
            return None
        restriction, periodic = factor
        return (self if restriction is None else self @ restriction), periodic

    def _describe(self):
        return f"Crop({self.size[0]}x{self.size[1]} at {self.start[0]},{self.start[1]})"


def reach(kernel_shape, factor: int = 1) -> tuple[int, int]:
    """How far the extended grid must reach past the frame on each side, per axis: at least the kernel's
    half-width ``(k - 1) // 2`` and ``k // 2`` rounded up to a multiple of ``factor`` (so that the frame's
    sampling grid is the extended one's)."""
    factor = positive_int(factor, "factor")
    return tuple(-(-(k // 2) // factor) * factor for k in kernel_shape[-2:])


class ValidModel(LinearOperator):
    """The valid-convolution model ``A`` (built by ``valid_convolution`` / ``valid_strided_convolution``) with
    ``frame``, the ``Crop`` from its extended input grid back to the frame; it acts as ``operator``."""

    def __init__(self, operator: LinearOperator, frame: Crop):
        super().__init__(operator.in_shape, operator.out_shape)
        self.operator, self.frame = operator, frame

    def _apply(self, x):
        return self.operator._apply(x)

    def _adjoint(self, y):
        return self.operator._adjoint(y)

    def periodic_factor(self):
        return self.operator.periodic_factor()

    def _describe(self):
        return f"Valid({self.operator._describe()})"


def _extended(shape, pad):
    return shape[:-2] + (shape[-2] + 2 * pad[0], shape[-1] + 2 * pad[1])


def valid_convolution(kernel, shape) -> ValidModel:
    """``A = C H``: the frame ``shape`` (``(H, W)`` or ``(C, H, W)``) as the valid part of the convolution of
    a larger image with ``kernel`` (see the module docstring). ``A.in_shape`` is the frame extended by
    ``reach(kernel.shape)`` on each side, ``A.out_shape`` the frame; ``A.frame`` crops an estimate back."""
    shape = as_shape(shape, "shape")
    kernel_shape = np.shape(kernel)
    pad = reach(kernel_shape)
    extended = _extended(shape, pad)
    frame = Crop(extended, pad, shape[-2:])
    return ValidModel(frame @ Convolution(kernel, extended, boundary="periodic"), frame)


def valid_strided_convolution(kernel, shape, factor: int) -> ValidModel:
    """``A = C S H``: super-resolution of a frame whose scene goes on past it. ``shape`` is the
    high-resolution frame ``(..., f h, f w)``; the unknown is that frame extended by ``reach(kernel, f)`` (a
    multiple of ``f``) on each side, ``H`` a periodic convolution there, ``S`` every ``f``-th pixel from 0 and
    ``C`` the crop to the ``(h, w)`` measurement of the frame. ``A.frame`` crops an estimate back."""
    factor = positive_int(factor, "factor")
    shape = as_shape(shape, "shape")
    if shape[-2] % factor or shape[-1] % factor:
        raise ValueError(f"valid_strided_convolution: the frame {shape[-2:]} is not a multiple of the factor {factor}")
    pad = reach(np.shape(kernel), factor)
    extended = _extended(shape, pad)
    S = Downsample(factor, extended)
    low = Crop(S.out_shape, (pad[0] // factor, pad[1] // factor), (shape[-2] // factor, shape[-1] // factor))
    return ValidModel(low @ S @ Convolution(kernel, extended, boundary="periodic"), Crop(extended, pad, shape[-2:]))
