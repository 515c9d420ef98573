r"""Colour to grey: a weighted sum over the channel axis."""
from __future__ import annotations

import numpy as np

from .._array import Constant, namespace
from .._validate import shape as as_shape
from .base import LinearOperator
from .elementwise import real_constant
from .structure import FourierStructure

__all__ = ["ColorToGray"]

#: ITU-R BT.601 luma weights for (R, G, B)
BT601 = (0.299, 0.587, 0.114)


class ColorToGray(LinearOperator):
    r"""Channel mix ``R``: ``(R x)[i, j] = sum_c w_c x[c, i, j]`` from ``(C, H, W)`` to ``(H, W)``.

    Shapes: ``(*batch, C, H, W) -> (*batch, H, W)``. Adjoint: ``(R^T y)[c, i, j] = w_c y[i, j]``
    (``(*batch, H, W) -> (*batch, C, H, W)``), so ``R R^T = |w|^2 I``.

    Parameters
    ----------
    shape : ``(C, H, W)``, the colour image shape; ``C >= 1`` must equal ``len(weights)``.
    weights : the ``C`` finite real channel weights; default ITU-R BT.601 luma ``(0.299, 0.587, 0.114)``.

    ``fourier_structure`` is the mix alone: grid ``(H, W)``, multiplier 1, factor 1, ``mix = weights``.
    """

    def __init__(self, shape, weights=BT601):
        shape = as_shape(shape, "ColorToGray shape")
        if len(shape) != 3:
            raise ValueError(f"ColorToGray shape: expected a colour image shape (C, H, W), got {shape}")
        w = real_constant(weights, "ColorToGray weights", allow_sequence=True)
        if w.ndim != 1 or w.size != shape[0]:
            raise ValueError(
                f"ColorToGray weights: expected {shape[0]} weights (one per channel of shape {shape}), "
                f"got an array of shape {w.shape}"
            )
        super().__init__(shape, shape[1:])
        self.weights = w
        self._w = Constant(w.reshape(-1, 1, 1))

    def _apply(self, x):
        xp = namespace(x)
        return xp.sum(x * self._w.like(x), axis=-3)

    def _adjoint(self, y):
        xp = namespace(y)
        return xp.expand_dims(y, axis=-3) * self._w.like(y)

    def fourier_structure(self):
        return FourierStructure(
            grid=tuple(self.out_shape), spectrum=np.array(1 + 0j), factor=1, mix=np.asarray(self.weights, float)
        )

    def _describe(self):
        return "ColorToGray(weights=(" + ", ".join(f"{v:g}" for v in self.weights) + "))"
