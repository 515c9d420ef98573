r"""Ready-made inverse problems: an operator, a ground truth, a measurement and the matching ``lam``.

Every builder returns a ``Problem``; the objective it is set up for is ppsolve's
``F(x) = ||y - A x||^2 + lam R(x)`` (no 1/2 on the data term, see ``ppsolve.admm``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._validate import real_number
from .operators.base import LinearOperator
from .operators.convolution import strided_convolution
from .operators.kernels import gaussian_kernel

__all__ = ["Problem", "synthetic_laplace"]


@dataclass
class Problem:
    """A linear inverse problem ``y = A x + noise``.

    Attributes
    ----------
    A : the forward operator.
    x : the ground truth, shape ``A.in_shape`` (float64 NumPy).
    y : the measurement, shape ``A.out_shape`` (float64 NumPy).
    lam : the regularisation weight intended for ``F(x) = ||y - A x||^2 + lam R(x)``.
    sigma : the standard deviation of the Gaussian noise added to ``A x``.
    description : one line saying what this is.
    info : further parameters of the builder (prior scale, kernel, factor, seed, ...).
    """

    A: LinearOperator
    x: np.ndarray
    y: np.ndarray
    lam: float
    sigma: float
    description: str = ""
    info: dict = field(default_factory=dict)


def synthetic_laplace(shape=(64, 64), factor: int = 4, kernel=None, b: float = 1.0, sigma: float = 0.1,
                      seed: int = 0, paper_literal: bool = False) -> Problem:
    r"""The paper's synthetic experiment (section 4.1): a Laplace signal seen through a strided blur.

    ``x ~ Laplace(0, b)`` i.i.d. on a ``shape`` grid, ``A = S H`` the periodic convolution with ``kernel``
    (default ``gaussian_kernel(9, 2.0)``) followed by keeping every ``factor``-th pixel
    (``strided_convolution``), and ``y = A x + n`` with ``n ~ N(0, sigma^2 I)``; all drawn from
    ``numpy.random.default_rng(seed)`` (x first, then n).

    MAP weight. ``-log p(x | y) = ||y - A x||^2 / (2 sigma^2) + ||x||_1 / b + const``; multiplied by
    ``2 sigma^2`` this is ``F(x) = ||y - A x||^2 + lam ||x||_1`` with ``lam = 2 sigma^2 / b``, the ``lam``
    returned. Its minimiser is ADMM with ``SoftThreshold`` at ``tau = lam / (2 beta)``. It is sparse however
    dense ``x`` is: an l1 minimiser with ``m`` measurements has at most ``m`` non-zeros (generically, and
    there is always one such minimiser), i.e. at most ``1 / factor^2`` of the pixels (6.25% at stride 4); with
    the defaults it has 86 of 4096 (2.1%). F(x_true) is far from minimal: the estimate trades fit for sparsity.

    ``paper_literal=True`` takes the paper's stated values instead: ``b = 1``, ``sigma = 1`` and ``lam = 1``,
    the weight eq. (14) implies (it soft-thresholds at ``1 / (2 beta)``, i.e. ``tau = lam / (2 beta)`` with
    ``lam = 1``; the MAP weight for ``b = sigma = 1`` would be 2). With this much noise the problem is
    degenerate: ``0`` minimises ``F`` exactly when ``||2 A^T y||_inf <= lam`` (the subgradient condition at
    ``x = 0``), and with the default 64 x 64 grid, stride 4 and Gaussian kernel ``||2 A^T y||_inf`` is about
    0.25 (0.22 to 0.31 over seeds 0-19: the blur and the stride average the unit-variance noise down), far
    below ``lam = 1`` (and below 2). So the MAP estimate of the paper-literal problem is exactly 0: ADMM's
    iterates converge to 0, and once ``|v| <= lam / (2 beta)`` everywhere the soft threshold returns exactly
    ``x = 0`` (at the fixed point ``v = A^T y / beta``, below the threshold ``1 / (2 beta)`` with a wide
    margin). The paper's objective curves still decrease, but towards
    ``F(0) = ||y||^2``. ``shape``, ``factor``, ``kernel`` and ``seed`` still apply; ``b`` and ``sigma`` are
    overridden.

    Returns a ``Problem`` whose ``info`` holds ``b``, ``factor``, ``kernel``, ``seed`` and ``paper_literal``.
    """
    if paper_literal:
        b, sigma = 1.0, 1.0
    b = real_number(b, "b (the Laplace scale)", positive=True)
    sigma = real_number(sigma, "sigma (the noise level)")
    if kernel is None:
        kernel = gaussian_kernel(9, 2.0)
    kernel = np.asarray(kernel, dtype=np.float64)
    A = strided_convolution(kernel, shape, factor)
    rng = np.random.default_rng(seed)
    x = rng.laplace(0.0, b, size=A.in_shape)
    y = A.apply(x) + sigma * rng.standard_normal(A.out_shape)
    lam = 1.0 if paper_literal else 2.0 * sigma**2 / b
    if paper_literal:
        kind = "paper-literal (b = sigma = lam = 1)"
    else:
        kind = f"b = {b:g}, sigma = {sigma:g}, MAP lam = {lam:g}"
    description = (f"synthetic Laplace: x ~ Laplace(0, b) on {'x'.join(map(str, A.in_shape))}, "
                   f"{kernel.shape[0]}x{kernel.shape[1]} kernel with stride {factor}; {kind}")
    info = {"b": float(b), "factor": int(factor), "kernel": kernel, "seed": seed, "paper_literal": bool(paper_literal)}
    return Problem(A=A, x=x, y=y, lam=float(lam), sigma=float(sigma), description=description, info=info)
