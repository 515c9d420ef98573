r"""The blur kernel from calibration pairs (the paper's Appendix A): ``argmin_k sum_i ||y_i - A_k x_i||^2``.

Given registered pairs of a sharp image ``x_i`` and its blurred photograph ``y_i`` (the same frame), the
point-spread function ``k`` (``size x size``, the convolution convention of ``ppsolve.operators``) is the
regularised least-squares fit

.. math:: \min_{k \ge 0,\ \sum k = 1} \sum_i \| C (y_i - k * x_i) \|^2 + \mu \|\nabla k\|^2

with the *valid* model (``C`` keeps the pixels whose whole kernel support lies inside the frame: no periodic
or other boundary assumption) and an optional smoothness weight ``mu`` (relative to the data term's scale;
default 0: with a frame of 256 x 256 pixels and 8-bit noise the data alone determine a 15 x 15 kernel, and
a smoothness term only biases it). The normal equations are ``size^2 x size^2`` (the
windows' Gram matrix), solved exactly on the simplex ``{k >= 0, sum k = 1}`` by non-negative least squares
(Lawson and Hanson's active set) with the sum as a heavily weighted equation.
The measured accuracy on BSD68 pairs is in ``docs/photographs.md``.
"""
from __future__ import annotations

import numpy as np
import scipy.optimize
from numpy.lib.stride_tricks import sliding_window_view

from ._array import to_numpy
from ._validate import positive_int, real_number

__all__ = ["estimate_kernel"]


def _normal_equations(pairs, size: int):
    """(G, c, scale): ``sum_i W_i^T W_i``, ``sum_i W_i^T y_i`` over the valid windows, and the number of them."""
    n = size * size
    gram, rhs, count = np.zeros((n, n)), np.zeros(n), 0
    offset = (size - 1) // 2  # window at s predicts pixel s + offset (the kernel's centre is size // 2)
    for i, (sharp, blurred) in enumerate(pairs):
        x = np.asarray(to_numpy(sharp), dtype=np.float64)
        y = np.asarray(to_numpy(blurred), dtype=np.float64)
        if x.shape != y.shape or x.ndim not in (2, 3):
            raise ValueError(f"estimate_kernel: pair {i}: the sharp {x.shape} and blurred {y.shape} images must be "
                             "the same grey (H, W) or colour (C, H, W) frame")
        if min(x.shape[-2:]) < 2 * size:
            raise ValueError(f"estimate_kernel: pair {i}: a {x.shape[-2]}x{x.shape[-1]} frame is too small for a "
                             f"{size}x{size} kernel")
        for xp, yp in zip(x.reshape((-1,) + x.shape[-2:]), y.reshape((-1,) + y.shape[-2:])):
            windows = sliding_window_view(xp, (size, size)).reshape(-1, n)  # correlation windows
            targets = yp[offset:offset + xp.shape[0] - size + 1, offset:offset + xp.shape[1] - size + 1].ravel()
            gram += windows.T @ windows
            rhs += windows.T @ targets
            count += len(targets)
    return gram, rhs, count


def _gradient_penalty(size: int) -> np.ndarray:
    """``D^T D`` of the forward differences of a ``size x size`` kernel (Neumann: no wrap-around)."""
    n = size * size
    index = np.arange(n).reshape(size, size)
    rows = []
    for a, b in ((index[1:, :], index[:-1, :]), (index[:, 1:], index[:, :-1])):
        d = np.zeros((a.size, n))
        d[np.arange(a.size), a.ravel()] = 1.0
        d[np.arange(a.size), b.ravel()] = -1.0
        rows.append(d)
    d = np.concatenate(rows)
    return d.T @ d


def estimate_kernel(pairs, size: int, smoothness: float = 0.0) -> np.ndarray:
    """The ``size x size`` point-spread function (non-negative, sum 1) that blurs ``sharp`` into ``blurred`` for
    each ``(sharp, blurred)`` of ``pairs`` (see the module docstring). ``smoothness``: ``mu`` relative to the
    mean diagonal of the data term (0: none)."""
    size = positive_int(size, "estimate_kernel size")
    smoothness = real_number(smoothness, "estimate_kernel smoothness")
    pairs = list(pairs)
    if not pairs:
        raise ValueError("estimate_kernel: expected at least one (sharp, blurred) pair")
    gram, rhs, count = _normal_equations(pairs, size)
    scale = np.trace(gram) / len(gram)
    q = (gram + smoothness * scale * _gradient_penalty(size)) / scale
    c = rhs / scale
    # min k^T q k - 2 c^T k over the simplex = min ||L k - L^{-T} c||^2 (q = L^T L) with k >= 0 and, as a row of
    # large weight, sum k = 1: one exact active-set non-negative least-squares problem (Lawson and Hanson)
    upper = np.linalg.cholesky(q + 1e-12 * np.eye(len(q))).T
    target = np.linalg.solve(upper.T, c)
    weight = 1e3 * np.sqrt(np.abs(np.diag(q)).max())
    k, _ = scipy.optimize.nnls(np.vstack([upper, weight * np.ones((1, len(q)))]), np.append(target, weight),
                               maxiter=50 * len(q))
    k = k / k.sum() if k.sum() > 0 else np.full(len(q), 1.0 / len(q))
    return k.reshape(size, size)[::-1, ::-1].copy()  # correlation windows -> the convolution kernel
