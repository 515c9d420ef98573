r"""The ``LinearOperator`` algebra on image-shaped arrays.

A ``LinearOperator`` maps arrays of shape ``(*batch, *in_shape)`` to ``(*batch, *out_shape)``: ``in_shape``
and ``out_shape`` are full image shapes such as ``(H, W)`` or ``(C, H, W)``, fixed at construction, and
any extra leading dimensions are a batch that passes through untouched (a ``(3, H, W)`` array given to an
``(H, W)`` operator is three grey images, never one colour image).

Operators are real and linear; ``A.T`` (also ``A.H``) is the adjoint with respect to the Euclidean inner
products ``<x, x'> = sum(x * x')`` on both sides. ``A @ x`` and ``A(x)`` apply, ``A @ B`` composes,
``A + B``, ``A - B``, ``c * A`` and ``-A`` combine, and every combination checks shapes when it is built.

A subclass implements ``_apply`` and ``_adjoint`` on arrays whose trailing shape has been checked, written
once for NumPy, PyTorch and CuPy arrays (see ``ppsolve._array``), and may describe the structure a
Fourier solver can use (``fourier_structure``).
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

from .._array import Constant, to_numpy
from .._validate import batch_shape, real_number
from .._validate import shape as as_shape
from .flat import to_pylops, to_scipy
from .fourier import alias_sum, irfft2, replicate, rfft2
from .structure import FourierStructure, compose

__all__ = ["DENSE_MAX_SIZE", "Adjoint", "Composition", "LinearOperator", "Scaled", "Sum"]

#: largest number of entries (m * n) of a matrix ``to_dense`` builds: 2**25 float64 entries are 256 MiB
DENSE_MAX_SIZE = 2**25


class LinearOperator:
    """A real linear map between image-shaped arrays (see the module docstring).

    Parameters
    ----------
    in_shape, out_shape : the image shapes of the domain and the range, without batch dimensions.
    """

    def __init__(self, in_shape, out_shape):
        self.in_shape = as_shape(in_shape, "in_shape")
        self.out_shape = as_shape(out_shape, "out_shape")
        self._norm = None

    # -- to be provided by subclasses -------------------------------------------------------------
    def _apply(self, x):
        raise NotImplementedError

    def _adjoint(self, y):
        raise NotImplementedError

    def fourier_structure(self) -> FourierStructure | None:
        """The ``S H R`` structure a Fourier solver can use (``ppsolve.operators.structure``), or None."""
        return None

    def periodic_factor(self) -> tuple[LinearOperator | None, LinearOperator] | None:
        """``(R, P)`` with ``A = R @ P``, ``P`` an operator with a Fourier structure and ``R`` a restriction of its
        output (a ``Crop``: ``R R^T = I``; None when ``A = P``), or None when ``A`` has no such factorisation.
        ``ppsolve.inverses`` preconditions CG with ``R (beta I + P P^T)^{-1} R^T``: the valid-convolution model
        of a photograph is ``A = C H``. Default: ``(None, self)`` when the operator has a Fourier structure."""
        return (None, self) if self.fourier_structure() is not None else None

    def factor_after(self, inner: LinearOperator) -> tuple[LinearOperator | None, LinearOperator] | None:
        """The ``periodic_factor`` of ``self @ inner`` when the composition has no Fourier structure of its own
        (default: none; a ``Crop`` in front keeps ``inner``'s)."""
        return None

    def _describe(self) -> str:
        """One line naming the operator and its parameters (``repr`` adds the shapes)."""
        return type(self).__name__

    # -- application --------------------------------------------------------------------------------
    def _check(self, x, shape, what):
        batch_shape(x, shape, f"{self._describe()} {what}")
        return x

    def apply(self, x):
        """``A x`` for ``x`` of shape ``(*batch, *in_shape)``."""
        return self._apply(self._check(x, self.in_shape, "input"))

    def adjoint(self, y):
        """``A^T y`` for ``y`` of shape ``(*batch, *out_shape)``."""
        return self._adjoint(self._check(y, self.out_shape, "adjoint input"))

    __call__ = apply

    def __matmul__(self, other):
        if isinstance(other, LinearOperator):
            return Composition(self, other)
        return self.apply(other)

    @property
    def T(self) -> LinearOperator:
        """The adjoint operator ``A^T``."""
        return Adjoint(self)

    @property
    def H(self) -> LinearOperator:
        """The conjugate transpose; operators are real, so this is ``A.T``."""
        return self.T

    # -- algebra --------------------------------------------------------------------------------------
    def __add__(self, other):
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return Sum(self, other)

    def __sub__(self, other):
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return Sum(self, Scaled(-1.0, other))

    def __neg__(self):
        return Scaled(-1.0, self)

    def __mul__(self, scalar):
        if isinstance(scalar, LinearOperator) or not np.isscalar(scalar):
            return NotImplemented
        return Scaled(scalar, self)

    __rmul__ = __mul__

    def __truediv__(self, scalar):
        if not np.isscalar(scalar):
            return NotImplemented
        return Scaled(1.0 / scalar, self)

    def gram(self) -> LinearOperator:
        """``A^T A`` as an operator on ``in_shape``."""
        return self.T @ self

    # -- derived quantities ---------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        """``(m, n)``: the sizes of the flattened range and domain."""
        return (math.prod(self.out_shape), math.prod(self.in_shape))

    def norm(self, iters: int = 200, tol: float = 1e-9, seed: int = 0) -> float:
        """Spectral norm ``||A||_2`` by power iteration on ``A^T A`` in float64 NumPy (cached)."""
        if self._norm is None:
            rng = np.random.default_rng(seed)
            x = rng.standard_normal(self.in_shape)
            x /= np.linalg.norm(x)
            estimate = 0.0
            for _ in range(iters):
                g = self.adjoint(self.apply(x))
                new = float(np.linalg.norm(g))
                if new == 0.0:
                    break
                x = g / new
                if abs(new - estimate) <= tol * new:
                    estimate = new
                    break
                estimate = new
            self._norm = math.sqrt(estimate)
        return self._norm

    def to_dense(self) -> np.ndarray:
        """The ``(m, n)`` float64 matrix of the operator on flattened (C-order) images."""
        m, n = self.shape
        if m * n > DENSE_MAX_SIZE:
            raise ValueError(
                f"to_dense: refusing to build a {m} x {n} matrix (limit {DENSE_MAX_SIZE} entries); "
                "use the operator matrix-free or to_scipy()"
            )
        dense = np.empty((m, n))
        for start in range(0, n, 256):  # probe with blocks of unit vectors, never the whole identity
            stop = min(start + 256, n)
            basis = np.zeros((stop - start, n))
            basis[np.arange(stop - start), np.arange(start, stop)] = 1.0
            dense[:, start:stop] = np.asarray(self.apply(basis.reshape((-1,) + self.in_shape))).reshape(stop - start, m).T
        return dense

    def to_scipy(self):
        """A ``scipy.sparse.linalg.LinearOperator`` on flattened float64 vectors."""
        return to_scipy(self)

    def to_pylops(self):
        """A ``pylops.LinearOperator`` with ``dims = in_shape`` and ``dimsd = out_shape``."""
        return to_pylops(self)

    def fingerprint(self) -> str:
        """A hash of the operator's response to a fixed random probe (and of its shapes): equal for operators
        that act identically (to about 9 significant digits), different otherwise. Checkpoints record it."""
        probe = np.random.default_rng(12345).standard_normal(self.in_shape)
        response = to_numpy(self.apply(probe))
        scale = np.max(np.abs(response)) or 1.0
        digest = hashlib.sha256(repr((self.in_shape, self.out_shape)).encode())
        digest.update(np.round(response / scale, 9).tobytes())
        digest.update(f"{scale:.9e}".encode())
        return digest.hexdigest()[:16]

    def __repr__(self) -> str:
        return f"<{self._describe()}: {self.in_shape} -> {self.out_shape}>"


class Composition(LinearOperator):
    """``(A @ B) x = A (B x)``; requires ``A.in_shape == B.out_shape``.

    A product with a ``FourierStructure`` ``S_d H`` (no channel mix; e.g. ``Downsample @ Convolution``, or two
    periodic convolutions) is applied through it: ``A x = irfft2_small(alias_sum(g rfft2(x)))`` and ``A^T y =
    irfft2(conj(g) replicate(rfft2_small(y)))``, one FFT of the image and one of the ``d^2`` times smaller
    measurement each way, instead of the factors' two FFTs of the image and a sampling step."""

    def __init__(self, outer: LinearOperator, inner: LinearOperator):
        if outer.in_shape != inner.out_shape:
            raise ValueError(
                f"cannot compose {outer!r} @ {inner!r}: the left operator expects input shape {outer.in_shape}, "
                f"the right one gives output shape {inner.out_shape}"
            )
        super().__init__(inner.in_shape, outer.out_shape)
        self.outer, self.inner = outer, inner

    def _fourier_path(self):
        """``(g, conj(g), d, grid)`` (``Constant`` spectra) when the product is ``S_d H`` without a mix and is
        not a multiple of the identity, else None; worked out once."""
        if not hasattr(self, "_fast"):
            s = self.fourier_structure()
            self._fast = None
            if s is not None and s.mix is None and not s.is_scalar:
                g = np.asarray(s.spectrum)
                self._fast = (Constant(g), Constant(np.conj(g)), int(s.factor), tuple(s.grid))
        return self._fast

    def _apply(self, x):
        fast = self._fourier_path()
        if fast is None:
            return self.outer._apply(self.inner._apply(x))
        g, _, d, grid = fast
        return irfft2(alias_sum(rfft2(x) * g.like(x), d, grid), (grid[0] // d, grid[1] // d))

    def _adjoint(self, y):
        fast = self._fourier_path()
        if fast is None:
            return self.inner._adjoint(self.outer._adjoint(y))
        _, g_conj, d, grid = fast
        return irfft2(replicate(rfft2(y), d, grid) * g_conj.like(y), grid)

    def fourier_structure(self):
        return compose(self.outer.fourier_structure(), self.inner.fourier_structure())

    def periodic_factor(self):
        if self.fourier_structure() is not None:
            return None, self
        return self.outer.factor_after(self.inner)

    def factor_after(self, inner):
        return self.outer.factor_after(Composition(self.inner, inner))  # (o i) x = o (i x)

    def _describe(self):
        return f"{self.outer._describe()} @ {self.inner._describe()}"


class Sum(LinearOperator):
    """``(A + B) x = A x + B x``; requires equal input and output shapes."""

    def __init__(self, first: LinearOperator, second: LinearOperator):
        if (first.in_shape, first.out_shape) != (second.in_shape, second.out_shape):
            raise ValueError(
                f"cannot add {first!r} and {second!r}: shapes {first.in_shape} -> {first.out_shape} and "
                f"{second.in_shape} -> {second.out_shape} differ"
            )
        super().__init__(first.in_shape, first.out_shape)
        self.first, self.second = first, second

    def _apply(self, x):
        return self.first._apply(x) + self.second._apply(x)

    def _adjoint(self, y):
        return self.first._adjoint(y) + self.second._adjoint(y)

    def _describe(self):
        return f"({self.first._describe()} + {self.second._describe()})"


class Scaled(LinearOperator):
    """``(c A) x = c (A x)`` for a real scalar ``c``."""

    def __init__(self, scalar, op: LinearOperator):
        scalar = real_number(scalar, "operator scale", signed=True)
        super().__init__(op.in_shape, op.out_shape)
        self.scalar, self.op = scalar, op

    def _apply(self, x):
        return self.scalar * self.op._apply(x)

    def _adjoint(self, y):
        return self.scalar * self.op._adjoint(y)

    def fourier_structure(self):
        inner = self.op.fourier_structure()
        if inner is None:
            return None
        return FourierStructure(inner.grid, inner.spectrum * self.scalar, inner.factor, inner.mix)

    def _describe(self):
        return f"{self.scalar:g} * {self.op._describe()}"


class Adjoint(LinearOperator):
    """``A^T`` as an operator; its own adjoint is ``A`` again."""

    def __init__(self, op: LinearOperator):
        super().__init__(op.out_shape, op.in_shape)
        self.op = op

    def _apply(self, x):
        return self.op._adjoint(x)

    def _adjoint(self, y):
        return self.op._apply(y)

    @property
    def T(self):
        return self.op

    def _describe(self):
        return f"{self.op._describe()}.T"

