r"""Pillow's antialiased resampling as a linear operator: the downscaler of real low-resolution images.

``Image.resize((w, h), Image.BICUBIC)`` maps an ``H x W`` image to ``h x w`` separably, one axis at a
time, with Pillow's ``precompute_coeffs`` (``src/libImaging/Resample.c``): for output pixel ``i`` of an axis
scaled by ``s = in / out``,

.. code-block:: text

    centre  = (i + 0.5) s,         support = 2 max(s, 1)          (the bicubic kernel's support, stretched)
    j       = round(centre - support) ... round(centre + support) - 1,  clipped to [0, in)
    w_ij    = W((j - centre + 0.5) / max(s, 1)),   normalised to sum 1 over the j kept

with ``W`` Keys' cubic with ``a = -0.5``. Downscaling stretches the kernel by ``s`` (the antialiasing filter);
near the border the taps outside the image are dropped and the rest renormalised, which is what
``Resize`` does too: no boundary assumption is needed, it is the exact model (up to float32 rounding and,
for 8-bit images, Pillow's fixed-point arithmetic and the final rounding to integers). ``Resize`` is
``y = R_rows x R_cols^T`` with these weights, exact adjoint ``R_rows^T y R_cols``.
"""
from __future__ import annotations

import numpy as np

from .._array import Constant
from .._validate import choice, int_tuple, positive_int
from .._validate import shape as as_shape
from .base import LinearOperator

__all__ = ["FILTERS", "Resize", "pillow_weights"]


def _bicubic(t: np.ndarray, a: float = -0.5) -> np.ndarray:
    t = np.abs(t)
    near = ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
    far = (((t - 5.0) * t + 8.0) * t - 4.0) * a
    return np.where(t < 1.0, near, np.where(t < 2.0, far, 0.0))


def _bilinear(t: np.ndarray) -> np.ndarray:
    t = np.abs(t)
    return np.where(t < 1.0, 1.0 - t, 0.0)


#: Pillow's filters: (kernel, support)
FILTERS = {"bicubic": (_bicubic, 2.0), "bilinear": (_bilinear, 1.0)}


def pillow_weights(n_in: int, n_out: int, filter: str = "bicubic") -> np.ndarray:
    """The ``(n_out, n_in)`` matrix of Pillow's resampling along one axis (see the module docstring)."""
    kernel, base_support = FILTERS[choice(filter, "filter", tuple(FILTERS))]
    scale = n_in / n_out
    filter_scale = max(scale, 1.0)
    support = base_support * filter_scale
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        centre = (i + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), n_in)
        j = np.arange(lo, hi)
        w = kernel((j - centre + 0.5) / filter_scale)
        total = w.sum()
        weights[i, lo:hi] = w / total if total != 0 else w
    return weights


class Resize(LinearOperator):
    """Pillow's antialiased resampling from ``shape``'s last two axes ``(H, W)`` to ``size = (h, w)``
    (``filter`` "bicubic", the default, or "bilinear"); leading axes (channels, batch) are resampled alike.

    ``Resize((3, 256, 256), (64, 64))`` is the 4x bicubic downscaler of a colour image; it matches
    ``Image.resize((64, 64), Image.BICUBIC)`` of mode-'F' images to float32 rounding everywhere, the border
    included (``tests/operators/test_resize.py``).
    """

    def __init__(self, shape, size, filter: str = "bicubic"):
        shape = as_shape(shape, "Resize shape")
        if len(shape) < 2:
            raise ValueError(f"Resize shape: expected (..., H, W), got {shape}")
        size = int_tuple(size, "Resize size", length=2, minimum=1)
        self.filter = choice(filter, "Resize filter", tuple(FILTERS))
        super().__init__(shape, shape[:-2] + size)
        self.rows = pillow_weights(shape[-2], size[0], filter)
        self.cols = pillow_weights(shape[-1], size[1], filter)
        self._rows, self._cols = Constant(self.rows), Constant(self.cols)
        self._rows_t, self._cols_t = Constant(self.rows.T), Constant(self.cols.T)

    @classmethod
    def downscaler(cls, shape, factor: int, filter: str = "bicubic") -> Resize:
        """The ``factor``-times downscaler of images of ``shape = (..., f h, f w)`` to ``(..., h, w)``: the model
        of an image that was made small with ``Image.resize((w, h), BICUBIC)``."""
        factor = positive_int(factor, "factor")
        h, w = shape[-2:]
        if h % factor or w % factor:
            raise ValueError(f"Resize.downscaler: {h}x{w} is not a multiple of the factor {factor}")
        return cls(shape, (h // factor, w // factor), filter)

    def _apply(self, x):
        return self._rows.like(x) @ x @ self._cols_t.like(x)

    def _adjoint(self, y):
        return self._rows_t.like(y) @ y @ self._cols.like(y)

    def _describe(self):
        return f"Resize({self.filter}, {self.in_shape[-2]}x{self.in_shape[-1]} -> {self.out_shape[-2]}x{self.out_shape[-1]})"
