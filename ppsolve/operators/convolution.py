r"""2-D convolution (deblurring) and strided convolution (super-resolution) operators."""
from __future__ import annotations

import array_api_compat
import numpy as np

from .._array import Constant, namespace
from .._validate import choice
from .._validate import shape as as_shape
from .base import LinearOperator
from .fourier import irfft2, kernel_spectrum, rfft2
from .sampling import Downsample
from .structure import FourierStructure

__all__ = ["Convolution", "strided_convolution"]

BOUNDARIES = ("periodic", "zero", "reflect")


class Convolution(LinearOperator):
    r"""True 2-D convolution ``y = h * x`` over the last two axes, output the size of the input.

    .. math:: y[n] = \sum_m h[m + c]\, x[n - m], \qquad c = (k_1 // 2,\ k_2 // 2)

    i.e. the kernel's centre is index ``size // 2`` on each axis, also for even sizes (see
    ``ppsolve.operators.fourier``). Outside the image ``x`` is extended by the ``boundary`` rule:

    * ``"periodic"``: ``x`` wraps around. ``H`` is then block-circulant with circulant blocks (BCCB),
      diagonal in the Fourier basis with eigenvalues ``h^`` (``self.spectrum``); applied with real FFTs.
    * ``"zero"``: ``x`` is 0 outside; applied directly (a sum of shifted copies).
    * ``"reflect"``: ``x`` is mirrored about the edge, repeating the edge pixel (``d c b a | a b c d``, as
      scipy.ndimage's mode ``"reflect"``); applied directly.

    The adjoint is the correlation with ``h`` under the adjoint of the same boundary extension.

    Parameters
    ----------
    kernel : (k1, k2) array shared by all channels, or (C, k1, k2) with one kernel per channel
        (then ``shape`` must be (C, H, W)). Finite, no larger than the image.
    shape : (H, W) or (C, H, W), the image shape.
    boundary : "periodic" (default), "zero" or "reflect".
    """

    def __init__(self, kernel, shape, boundary: str = "periodic"):
        shape = as_shape(shape, "shape")
        kernel = np.asarray(kernel)
        if np.iscomplexobj(kernel) or not np.issubdtype(kernel.dtype, np.number):
            raise TypeError(f"kernel: expected a real numeric array, got dtype {kernel.dtype}")
        kernel = kernel.astype(np.float64)
        if len(shape) not in (2, 3):
            raise ValueError(f"shape: expected (H, W) or (C, H, W), got {shape}")
        if kernel.ndim not in (2, 3):
            raise ValueError(f"kernel: expected shape (k1, k2) or (C, k1, k2), got {kernel.shape}")
        if kernel.ndim == 3 and (len(shape) != 3 or kernel.shape[0] != shape[0]):
            raise ValueError(
                f"kernel: one kernel per channel needs shape (C, H, W) with C = {kernel.shape[0]}, got shape {shape}"
            )
        if 0 in kernel.shape:
            raise ValueError(f"kernel: expected at least one tap, got an empty kernel of shape {kernel.shape}")
        if not np.all(np.isfinite(kernel)):
            raise ValueError("kernel: expected finite values, got NaN or Inf")
        if kernel.shape[-2] > shape[-2] or kernel.shape[-1] > shape[-1]:
            raise ValueError(
                f"kernel of size {kernel.shape[-2]}x{kernel.shape[-1]} is larger than the image "
                f"{shape[-2]}x{shape[-1]}"
            )
        boundary = choice(boundary, "boundary", BOUNDARIES)
        super().__init__(shape, shape)
        self.kernel = kernel
        self.boundary = boundary
        self.grid = shape[-2:]
        if boundary == "periodic":
            self.spectrum = kernel_spectrum(kernel, self.grid)
            self._spectrum = Constant(self.spectrum)
            self._spectrum_conj = Constant(np.conj(self.spectrum))
        else:
            # per-channel taps broadcast against (..., C, H, W); shared taps are plain floats
            self._taps = kernel.reshape(kernel.shape[:-2] + (1, 1) + kernel.shape[-2:]) if kernel.ndim == 3 else kernel
            self._tap_cache = {}

    def _describe(self):
        k = self.kernel.shape
        return f"Convolution({'x'.join(map(str, k))} kernel, {self.boundary})"

    def fourier_structure(self):
        if self.boundary != "periodic":
            return None
        return FourierStructure(self.grid, self.spectrum, 1, None)

    # -- periodic: Fourier multiplier --------------------------------------------------------------
    def _apply(self, x):
        if self.boundary == "periodic":
            return irfft2(rfft2(x) * self._spectrum.like(x), self.grid)
        return self._direct(self._extend(x), flip=False)

    def _adjoint(self, y):
        if self.boundary == "periodic":
            return irfft2(rfft2(y) * self._spectrum_conj.like(y), self.grid)
        xp = namespace(y)
        k1, k2 = self.kernel.shape[-2:]
        padded = _pad_zero(_pad_zero(y, k1 - 1, k1 - 1, -2, xp), k2 - 1, k2 - 1, -1, xp)
        return self._extend_adjoint(self._direct(padded, flip=True))

    # -- direct: boundary extension, then a sum of shifted copies ----------------------------------
    def _pads(self):
        """(before, after) widths on each axis: a 'valid' convolution of the extended image is the answer."""
        (k1, k2) = self.kernel.shape[-2:]
        return (k1 - 1 - k1 // 2, k1 // 2), (k2 - 1 - k2 // 2, k2 // 2)

    def _extend(self, x):
        xp = namespace(x)
        for axis, (before, after) in zip((-2, -1), self._pads()):
            if self.boundary == "zero":
                x = _pad_zero(x, before, after, axis, xp)
            else:
                x = _pad_reflect(x, before, after, axis, xp)
        return x

    def _extend_adjoint(self, g):
        xp = namespace(g)
        for axis, (before, after) in zip((-2, -1), self._pads()):
            n = g.shape[axis] - before - after
            core = _slice(g, before, before + n, axis)
            if self.boundary == "reflect":
                core = core + _pad_zero(xp.flip(_slice(g, 0, before, axis), axis=axis), 0, n - before, axis, xp)
                core = core + _pad_zero(xp.flip(_slice(g, before + n, before + n + after, axis), axis=axis), n - after, 0, axis, xp)
            g = core
        return g

    def _direct(self, padded, flip: bool):
        """``sum_m h[m] padded[..., k-1-m : k-1-m+N]`` (convolution), or with ``flip`` the correlation
        ``sum_m h[m] padded[..., m : m+N']`` that is its adjoint."""
        k1, k2 = self.kernel.shape[-2:]
        n1 = padded.shape[-2] - k1 + 1
        n2 = padded.shape[-1] - k2 + 1
        out = None
        for a in range(k1):
            for b in range(k2):
                if not np.any(self.kernel[..., a, b]):
                    continue
                r, c = (a, b) if flip else (k1 - 1 - a, k2 - 1 - b)
                term = self._tap(a, b, padded) * padded[..., r:r + n1, c:c + n2]
                out = term if out is None else out + term
        if out is None:
            xp = namespace(padded)
            out = xp.zeros(padded.shape[:-2] + (n1, n2), dtype=padded.dtype, device=_device(padded))
        return out

    def _tap(self, a, b, like):
        if self.kernel.ndim == 2:
            return float(self._taps[a, b])
        key = (a, b)
        if key not in self._tap_cache:
            self._tap_cache[key] = Constant(self._taps[..., a, b])
        return self._tap_cache[key].like(like)


def _device(x):
    return array_api_compat.device(x)


def _slice(x, start, stop, axis):
    index = [slice(None)] * x.ndim
    index[axis] = slice(start, stop)
    return x[tuple(index)]


def _pad_zero(x, before, after, axis, xp):
    parts = []
    for width in (before, after):
        shape = list(x.shape)
        shape[axis] = width
        parts.append(xp.zeros(tuple(shape), dtype=x.dtype, device=_device(x)))
    return xp.concat([parts[0], x, parts[1]], axis=axis)


def _pad_reflect(x, before, after, axis, xp):
    """Half-sample symmetric extension (scipy.ndimage 'reflect'); widths must not exceed the axis."""
    n = x.shape[axis]
    left = xp.flip(_slice(x, 0, before, axis), axis=axis)
    right = xp.flip(_slice(x, n - after, n, axis), axis=axis)
    return xp.concat([left, x, right], axis=axis)


def strided_convolution(kernel, shape, factor: int, boundary: str = "periodic", offset=0) -> LinearOperator:
    """``A = S H``: convolution with ``kernel`` (see ``Convolution``), then keep every ``factor``-th pixel
    from ``offset`` (see ``Downsample``): the super-resolution forward model."""
    conv = Convolution(kernel, shape, boundary)
    return Downsample(factor, conv.out_shape, offset) @ conv
