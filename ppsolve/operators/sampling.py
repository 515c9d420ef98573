"""Downsampling by keeping every d-th pixel."""
from __future__ import annotations

import array_api_compat
import numpy as np

from .._array import namespace
from .._validate import int_tuple, positive_int
from .._validate import shape as as_shape
from .base import LinearOperator
from .fourier import sampling_phase
from .structure import FourierStructure

__all__ = ["Downsample"]


class Downsample(LinearOperator):
    r"""``S``: keep pixels ``(o1 + d i, o2 + d j)`` of the last two axes.

    ``(S x)[i, j] = x[o1 + d i, o2 + d j]``; the adjoint ``S^T`` puts each low-resolution pixel back at
    its place and fills the rest with zeros, so ``S S^T = I`` and ``S^T S`` is the 0/1 sampling mask.

    Parameters
    ----------
    factor : d >= 1, dividing both H and W.
    shape : (H, W) or (C, H, W), the high-resolution image shape; the output is (..., H / d, W / d).
    offset : o or (o1, o2) with 0 <= o < d, the first kept pixel (default 0).
    """

    def __init__(self, factor: int, shape, offset=0):
        shape = as_shape(shape, "shape")
        factor = positive_int(factor, "factor")
        if len(shape) < 2:
            raise ValueError(f"shape: expected (H, W) or (C, H, W), got {shape}")
        if shape[-2] % factor or shape[-1] % factor:
            raise ValueError(f"factor {factor} does not divide the image size {shape[-2]}x{shape[-1]}")
        offset = (offset, offset) if np.isscalar(offset) else offset
        self.factor = factor
        self.offset = int_tuple(offset, "offset", length=2, minimum=0, maximum=factor - 1)
        self.grid = shape[-2:]
        super().__init__(shape, shape[:-2] + (shape[-2] // factor, shape[-1] // factor))

    def _describe(self):
        return f"Downsample(factor={self.factor}, offset={self.offset})"

    def fourier_structure(self):
        return FourierStructure(self.grid, sampling_phase(self.grid, self.offset), self.factor, None)

    def _apply(self, x):
        (o1, o2), d = self.offset, self.factor
        return x[..., o1::d, o2::d]

    def _adjoint(self, y):
        xp = namespace(y)
        (o1, o2), d = self.offset, self.factor
        out = xp.zeros(y.shape[:-2] + self.grid, dtype=y.dtype, device=array_api_compat.device(y))
        out[..., o1::d, o2::d] = y
        return out
