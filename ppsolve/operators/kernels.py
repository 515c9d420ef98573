"""Blur kernels, each normalised to sum 1, with the centre at index ``size // 2`` on each axis
(the convention of ``ppsolve.operators.fourier.kernel_to_grid``)."""
from __future__ import annotations

import numpy as np

from .._validate import int_tuple, integer, real_number

__all__ = ["box_kernel", "gaussian_kernel", "motion_kernel"]


def _size2(size, what="size") -> tuple:
    """``(k1, k2)`` from one positive int or a pair of them."""
    return int_tuple((size, size) if np.isscalar(size) else size, what, length=2, minimum=1)


def _axis(n: int) -> np.ndarray:
    """Pixel positions relative to the centre index n // 2."""
    return np.arange(n) - n // 2


def gaussian_kernel(size, sigma: float) -> np.ndarray:
    """``exp(-(i^2 + j^2) / (2 sigma^2))`` sampled at integer offsets from the centre, normalised to sum 1."""
    k1, k2 = _size2(size)
    sigma = real_number(sigma, "sigma", positive=True)
    g = np.exp(-(_axis(k1)[:, None] ** 2 + _axis(k2)[None, :] ** 2) / (2.0 * sigma**2))
    return g / g.sum()


def box_kernel(size) -> np.ndarray:
    """A uniform ``size x size`` kernel, each weight 1 / (k1 k2)."""
    k1, k2 = _size2(size)
    return np.full((k1, k2), 1.0 / (k1 * k2))


def motion_kernel(length: float, angle: float, size=None, samples: int = 10001) -> np.ndarray:
    """Linear motion blur: a segment of ``length`` pixels through the centre, ``angle`` degrees
    counter-clockwise from the column (horizontal) axis, drawn by splatting ``samples`` equally spaced
    points bilinearly, then made point-symmetric (``k = (k + k[::-1, ::-1]) / 2``) and normalised.

    The segment spans ``[-length / 2, length / 2]`` around the centre; splat weights falling outside the
    kernel are dropped. ``size`` defaults to the smallest odd integer >= ``length``.
    ``motion_kernel(9, 30, 9)`` is the kernel of the data folder's ``kernels/motion9_30deg.txt`` used by the
    deblurring benchmarks.
    """
    length = real_number(length, "motion_kernel length", positive=True)
    angle = real_number(angle, "motion_kernel angle", signed=True)
    samples = integer(samples, "motion_kernel samples", minimum=2)
    if size is None:
        size = int(np.ceil(length)) | 1
    k1, k2 = _size2(size)
    theta = np.deg2rad(angle)
    t = np.linspace(-0.5, 0.5, samples) * length
    rows = k1 // 2 - t * np.sin(theta)  # counter-clockwise: up the image is a smaller row index
    cols = k2 // 2 + t * np.cos(theta)
    kernel = np.zeros((k1, k2))
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    fr, fc = rows - r0, cols - c0
    for dr, dc, w in ((0, 0, (1 - fr) * (1 - fc)), (1, 0, fr * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 1, fr * fc)):
        r, c = r0 + dr, c0 + dc
        inside = (r >= 0) & (r < k1) & (c >= 0) & (c < k2)
        np.add.at(kernel, (r[inside], c[inside]), w[inside])
    if kernel.sum() == 0:
        raise ValueError(f"a motion kernel of length {length} does not fit in size {size}")
    kernel = 0.5 * (kernel + kernel[::-1, ::-1])
    return kernel / kernel.sum()
