r"""Pixel (un)shuffle: rearrangements between space and channels, with PyTorch's channel ordering.

``PixelUnshuffle(r)`` gathers each ``r x r`` block of pixels into ``r^2`` channels; ``PixelShuffle(r)`` spreads
them back. Both only permute entries, so they are orthogonal: each one's adjoint is its inverse, which is
the other one.
"""
from __future__ import annotations

from .._array import namespace
from .._validate import positive_int
from .._validate import shape as as_shape
from .base import LinearOperator

__all__ = ["PixelShuffle", "PixelUnshuffle"]


def _factor(factor, what: str) -> int:
    return positive_int(factor, f"{what} factor")


def _image_shape(shape, what: str) -> tuple:
    shape = as_shape(shape, f"{what} shape")
    if len(shape) != 3:
        raise ValueError(f"{what} shape: expected a (C, H, W) image shape, got {shape}")
    return shape


def _unshuffle(x, r: int):
    """(*batch, C, h r, w r) -> (*batch, C r^2, h, w): channel ``c r^2 + i r + j`` holds the pixels
    ``(r a + i, r b + j)`` of channel ``c``."""
    xp = namespace(x)
    batch = tuple(x.shape[:-3])
    c, hr, wr = x.shape[-3:]
    h, w = hr // r, wr // r
    nb = len(batch)
    x = xp.reshape(x, batch + (c, h, r, w, r))
    x = xp.permute_dims(x, tuple(range(nb)) + (nb, nb + 2, nb + 4, nb + 1, nb + 3))
    return xp.reshape(x, batch + (c * r * r, h, w))


def _shuffle(x, r: int):
    """(*batch, C r^2, h, w) -> (*batch, C, h r, w r); the inverse of ``_unshuffle``."""
    xp = namespace(x)
    batch = tuple(x.shape[:-3])
    crr, h, w = x.shape[-3:]
    c = crr // (r * r)
    nb = len(batch)
    x = xp.reshape(x, batch + (c, r, r, h, w))
    x = xp.permute_dims(x, tuple(range(nb)) + (nb, nb + 3, nb + 1, nb + 4, nb + 2))
    return xp.reshape(x, batch + (c, h * r, w * r))


class PixelUnshuffle(LinearOperator):
    r"""Space to channels, exactly as ``torch.nn.functional.pixel_unshuffle(x, r)``.

    ``(*batch, C, H, W) -> (*batch, C r^2, H / r, W / r)`` with
    ``y[c r^2 + i r + j, a, b] = x[c, r a + i, r b + j]`` for ``0 <= i, j < r``.
    A permutation of the entries, hence orthogonal: the adjoint is the inverse, ``PixelShuffle(r)``.

    Parameters
    ----------
    factor : the block size ``r >= 1``.
    shape : the input image shape ``(C, H, W)``; ``H`` and ``W`` must be divisible by ``r``.
    """

    def __init__(self, factor, shape):
        r = _factor(factor, "PixelUnshuffle")
        c, h, w = _image_shape(shape, "PixelUnshuffle")
        if h % r or w % r:
            raise ValueError(
                f"PixelUnshuffle: the image size {h}x{w} of shape {(c, h, w)} is not divisible by the factor {r}"
            )
        super().__init__((c, h, w), (c * r * r, h // r, w // r))
        self.factor = r

    def _apply(self, x):
        return _unshuffle(x, self.factor)

    def _adjoint(self, y):
        return _shuffle(y, self.factor)

    @property
    def inverse(self) -> PixelShuffle:
        """``PixelShuffle(r)`` on this operator's output shape (equal to ``self.T``)."""
        return PixelShuffle(self.factor, self.out_shape)

    def _describe(self):
        return f"PixelUnshuffle({self.factor})"


class PixelShuffle(LinearOperator):
    r"""Channels to space, exactly as ``torch.nn.functional.pixel_shuffle(x, r)``.

    ``(*batch, C r^2, h, w) -> (*batch, C, h r, w r)`` with
    ``y[c, r a + i, r b + j] = x[c r^2 + i r + j, a, b]``.
    A permutation of the entries, hence orthogonal: the adjoint is the inverse, ``PixelUnshuffle(r)``.

    Parameters
    ----------
    factor : the block size ``r >= 1``.
    shape : the input shape ``(C r^2, h, w)``; the channel count must be divisible by ``r^2``.
    """

    def __init__(self, factor, shape):
        r = _factor(factor, "PixelShuffle")
        crr, h, w = _image_shape(shape, "PixelShuffle")
        if crr % (r * r):
            raise ValueError(
                f"PixelShuffle: the channel count {crr} of shape {(crr, h, w)} is not divisible by factor^2 = {r * r}"
            )
        super().__init__((crr, h, w), (crr // (r * r), h * r, w * r))
        self.factor = r

    def _apply(self, x):
        return _shuffle(x, self.factor)

    def _adjoint(self, y):
        return _unshuffle(y, self.factor)

    @property
    def inverse(self) -> PixelUnshuffle:
        """``PixelUnshuffle(r)`` on this operator's output shape (equal to ``self.T``)."""
        return PixelUnshuffle(self.factor, self.out_shape)

    def _describe(self):
        return f"PixelShuffle({self.factor})"
