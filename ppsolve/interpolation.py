r"""Interpolation that is aligned with ppsolve's sampling operators: separable periodic Keys cubic.

``Downsample(factor, offset=0)`` keeps high-resolution pixel ``factor * i`` as low-resolution pixel ``i``.
``bicubic_upsample(y, factor)`` puts low-resolution sample ``i`` back on that pixel (``origin = 0``), so the
interpolant passes through the measurements exactly where they were sampled: the natural starting point of
ADMM for ``A = S H`` (``restore(..., x0="bicubic")``) and the "aligned bicubic" baseline. ``origin`` moves the
samples: ``pixel_area_origin(factor) = (factor - 1) / 2`` is the usual image-resizing convention, which treats
each low-resolution pixel as the mean of a ``factor x factor`` block (1.5 pixels off ``Downsample`` at
``factor = 4``).

Keys' kernel with ``a = -0.5`` (third order): ``W(t) = (a + 2)|t|^3 - (a + 3)|t|^2 + 1`` for ``|t| <= 1``,
``a|t|^3 - 5a|t|^2 + 8a|t| - 4a`` for ``1 < |t| < 2``, else 0. Indices wrap around (periodic images).
"""
from __future__ import annotations

import numpy as np

from ._validate import positive_int, real_number

__all__ = ["bicubic_upsample", "cubic_interpolation_matrix", "keys_cubic", "pixel_area_origin"]


def keys_cubic(t, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel ``W(t)`` (support ``|t| < 2``; ``a = -0.5`` is the third-order one)."""
    t = np.abs(np.asarray(t, dtype=np.float64))
    near = ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0
    far = ((a * t - 5.0 * a) * t + 8.0 * a) * t - 4.0 * a
    return np.where(t <= 1.0, near, np.where(t < 2.0, far, 0.0))


def pixel_area_origin(factor: int) -> float:
    """The high-resolution coordinate of low-resolution pixel 0 in the usual resizing convention (pixel
    centres of ``factor x factor`` blocks): ``(factor - 1) / 2``."""
    return (factor - 1) / 2.0


def cubic_interpolation_matrix(n: int, factor: int, origin: float = 0.0, a: float = -0.5) -> np.ndarray:
    """The ``(n * factor, n)`` matrix of periodic cubic interpolation along one axis: low-resolution sample
    ``i`` sits at high-resolution coordinate ``origin + factor * i`` (indices wrap around modulo ``n``)."""
    n = positive_int(n, "cubic_interpolation_matrix n")
    factor = positive_int(factor, "cubic_interpolation_matrix factor")
    origin = real_number(origin, "cubic_interpolation_matrix origin", signed=True)
    s = (np.arange(n * factor) - origin) / factor  # positions in low-resolution units
    base = np.floor(s).astype(np.int64)
    frac = s - base
    U = np.zeros((n * factor, n))
    rows = np.arange(n * factor)
    for m in (-1, 0, 1, 2):
        np.add.at(U, (rows, (base + m) % n), keys_cubic(frac - m, a))
    return U


def bicubic_upsample(y, factor: int, origin: float = 0.0, a: float = -0.5) -> np.ndarray:
    """Separable periodic bicubic interpolation of ``y`` (``(..., h, w)``) to ``(..., h * factor, w * factor)``.

    ``origin = 0`` (default): low-resolution pixel ``i`` sits on high-resolution pixel ``factor * i``, the
    alignment of ``Downsample(factor, offset=0)``; then sampling the result at those pixels gives ``y``
    back exactly. ``origin = pixel_area_origin(factor)``: the usual resizing convention (see the module).
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim < 2:
        raise ValueError(f"bicubic_upsample: expected (..., h, w), got shape {y.shape}")
    Ur = cubic_interpolation_matrix(y.shape[-2], factor, origin, a)
    Uc = cubic_interpolation_matrix(y.shape[-1], factor, origin, a)
    return Ur @ y @ Uc.T
