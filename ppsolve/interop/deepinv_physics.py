r"""Forward operators both ways between ppsolve and deepinv (``deepinv.physics``).

Shapes. deepinv images are ``(B, C, H, W)`` torch tensors, the batch always present. ppsolve images are
``(H, W)`` for one channel and ``(C, H, W)`` otherwise, with any leading batch. The bridge maps a 2-D ppsolve
shape ``(h, w)`` to deepinv's ``(B, 1, h, w)`` and any other shape ``s`` to ``(B, *s)`` (so ``(C, H, W)`` to
``(B, C, H, W)``), in both directions and for inputs and measurements alike.

ppsolve -> deepinv: ``to_deepinv(A)`` is a ``deepinv.physics.LinearPhysics`` (``PpsolvePhysics``) whose ``A`` and
``A_adjoint`` are ``A.apply`` and ``A.adjoint`` on the tensors (autograd flows through both); everything else
(``A_dagger``, ``prox_l2`` by deepinv's least squares, noise models) is deepinv's.

deepinv -> ppsolve: ``from_deepinv(physics)`` builds the *native* ppsolve operator, so that ppsolve's inverses
see its structure (``FourierInverse`` for the periodic cases, the periodic preconditioner for the valid one):

==============================================  ==============================================================
deepinv                                         ppsolve
==============================================  ==============================================================
``BlurFFT(filter)``                             ``Convolution(h, boundary="periodic")``
``Blur(filter, padding="circular")``            ``Convolution(h, boundary="periodic")``
``Blur(filter, padding="constant")`` (or        ``Convolution(h, boundary="zero")``
``"zeros"``)
``Blur(filter, padding="valid")``               the valid-convolution model ``Crop @ Convolution(h, "periodic")``
                                                (``ppsolve.operators.valid_convolution`` for odd kernels)
``Downsampling(filter, factor, padding)``       ``Downsample(factor) @`` the blur above (``filter=None``:
                                                ``Downsample``)
``Inpainting(mask)``                            ``Mask(mask)`` (a 0/1 mask), else ``Diagonal(mask)``
==============================================  ==============================================================

Kernel centre: the same on both sides, index ``size // 2`` per axis, also for even sizes (deepinv's ``conv2d``
pads ``(h // 2 - (h - 1) % 2, h // 2)`` rows before a valid correlation with the flipped filter, i.e. it
computes ``y[n] = sum_m h[m] x[n + h // 2 - m]``, ppsolve's ``Convolution`` formula; ``BlurFFT`` rolls the
padded filter by ``-(size // 2)``). Sampling starts at pixel 0 on both sides (``x[..., ::d, ::d]``).

Boundaries. ``"circular"`` is ppsolve's ``"periodic"`` and ``"constant"`` / ``"zeros"`` its ``"zero"``.
``"valid"`` keeps the ``H - k + 1`` outputs whose kernel stays inside the image,
``y[i] = sum_m h[m] x[i + k - 1 - m] = (h * x)[i + s]`` with ``s = k - 1 - k // 2``: the periodic blur cropped from
``s``, which for odd ``k`` (``s = k // 2``) is exactly ppsolve's ``valid_convolution`` model of the frame
``H - k + 1`` (whose unknown is the frame extended by ``k // 2`` on each side). deepinv's ``"reflect"`` is
``torch.nn.functional.pad``'s whole-sample mirror that does not repeat the edge pixel (``c b | a b c d``); ppsolve's
``"reflect"`` is scipy.ndimage's half-sample mirror that does (``b a | a b c d``): different operators, and
``"replicate"`` (``a a | a b c d``) has no ppsolve equivalent either, so ``from_deepinv`` refuses both (to use one
anyway, wrap the physics as it is: ``PhysicsOperator(physics, img_size)``, deepinv's own ``A`` and
``A_adjoint``).

Anything else: ``PhysicsOperator(physics, img_size)`` wraps any ``LinearPhysics`` through its ``A`` and
``A_adjoint`` (torch; NumPy inputs are converted). ``ppsolve.operators.dot_test`` checks the adjoint.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._array import is_numpy
from .._validate import shape as as_shape
from ..operators.base import LinearOperator
from ..operators.convolution import Convolution
from ..operators.crop import Crop, ValidModel
from ..operators.elementwise import Diagonal, Mask
from ..operators.sampling import Downsample
from ._deepinv_import import load

deepinv = load()
LinearPhysics = deepinv.physics.LinearPhysics

__all__ = ["PhysicsOperator", "PpsolvePhysics", "SUPPORTED_PADDING", "deepinv_shape", "from_deepinv",
           "ppsolve_shape", "to_deepinv"]

#: deepinv paddings with a ppsolve equivalent, and that equivalent ("valid": the valid-convolution model)
SUPPORTED_PADDING = {"circular": "periodic", "constant": "zero", "zeros": "zero", "valid": "valid"}


def deepinv_shape(shape) -> tuple:
    """The per-item deepinv shape of a ppsolve image shape: ``(h, w) -> (1, h, w)``, anything else unchanged."""
    shape = tuple(shape)
    return (1,) + shape if len(shape) == 2 else shape


def ppsolve_shape(shape) -> tuple:
    """The ppsolve image shape of a per-item deepinv shape: ``(1, h, w) -> (h, w)``, anything else unchanged."""
    shape = tuple(int(n) for n in shape)
    return shape[1:] if len(shape) == 3 and shape[0] == 1 else shape


def to_ppsolve_tensor(t, shape, what: str):
    """A deepinv ``(B, *deepinv_shape(shape))`` tensor as ppsolve's ``(B, *shape)``; one-line error otherwise."""
    want = deepinv_shape(shape)
    if not isinstance(t, torch.Tensor) or t.ndim != len(want) + 1 or tuple(t.shape[1:]) != want:
        got = tuple(t.shape) if hasattr(t, "shape") else type(t).__name__
        raise ValueError(f"{what}: expected a tensor of shape (B, {', '.join(map(str, want))}), got {got}")
    return t.reshape((t.shape[0],) + tuple(shape))


def to_deepinv_tensor(a, shape):
    """ppsolve's ``(B, *shape)`` as deepinv's ``(B, *deepinv_shape(shape))``."""
    return a.reshape((a.shape[0],) + deepinv_shape(shape))


class PpsolvePhysics(LinearPhysics):
    """A ppsolve ``LinearOperator`` as a ``deepinv.physics.LinearPhysics`` (see the module docstring).

    ``A(x)`` takes ``(B, *deepinv_shape(op.in_shape))`` tensors and gives ``(B, *deepinv_shape(op.out_shape))``;
    ``A_adjoint`` the reverse. ``ppsolve_operator`` is the operator; ``**kwargs`` go to ``LinearPhysics`` (e.g.
    ``noise_model``, and ``max_iter`` / ``tol`` for deepinv's own least-squares solvers).
    """

    def __init__(self, op: LinearOperator, **kwargs):
        if not isinstance(op, LinearOperator):
            raise TypeError(f"to_deepinv: expected a ppsolve LinearOperator, got {type(op).__name__}")
        super().__init__(img_size=deepinv_shape(op.in_shape), **kwargs)
        self.ppsolve_operator = op

    def A(self, x, **kwargs):
        op = self.ppsolve_operator
        return to_deepinv_tensor(op.apply(to_ppsolve_tensor(x, op.in_shape, f"{op!r} A x")), op.out_shape)

    def A_adjoint(self, y, **kwargs):
        op = self.ppsolve_operator
        return to_deepinv_tensor(op.adjoint(to_ppsolve_tensor(y, op.out_shape, f"{op!r} A^T y")), op.in_shape)


def to_deepinv(op: LinearOperator, **kwargs) -> PpsolvePhysics:
    """``PpsolvePhysics(op, **kwargs)``: a ppsolve operator as deepinv physics (``from_deepinv`` gives ``op`` back)."""
    return PpsolvePhysics(op, **kwargs)


def _physics_dtype(physics) -> torch.dtype | None:
    for t in list(physics.buffers()) + list(physics.parameters()):
        if t.dtype.is_floating_point and t.ndim > 0:
            return t.dtype
    return None


class PhysicsOperator(LinearOperator):
    """Any ``deepinv.physics.LinearPhysics`` as a ppsolve operator, through its own ``A`` and ``A_adjoint``.

    ``img_size`` is deepinv's per-item input shape ``(C, H, W)`` (``in_shape = ppsolve_shape(img_size)``); the
    output shape is found by applying ``A`` to zeros. Inputs ``(*batch, *in_shape)`` (NumPy or torch) run as one
    deepinv batch in the physics' precision (the dtype of its floating buffers, e.g. after
    ``physics.to(torch.float64)``) and come back in the input's dtype and kind of array. The adjoint is as exact as
    deepinv's (``dot_test`` it).
    """

    def __init__(self, physics, img_size):
        if not isinstance(physics, LinearPhysics):
            raise TypeError(f"PhysicsOperator: expected a deepinv LinearPhysics, got {type(physics).__name__}")
        in_shape = ppsolve_shape(as_shape(img_size, "PhysicsOperator img_size"))
        self.physics = physics
        self._dtype = _physics_dtype(physics) or torch.float64
        with torch.no_grad():
            out = physics.A(torch.zeros((1,) + deepinv_shape(in_shape), dtype=self._dtype))
        super().__init__(in_shape, ppsolve_shape(out.shape[1:]))

    def _call(self, x, fn, shape_from, shape_to):
        numpy_in = is_numpy(x)
        t = torch.from_numpy(np.ascontiguousarray(x)) if numpy_in else x
        batch = tuple(t.shape[: t.ndim - len(shape_from)])
        out = fn(t.reshape((math.prod(batch),) + deepinv_shape(shape_from)).to(self._dtype))
        out = out.reshape(batch + tuple(shape_to)).to(t.dtype)
        return out.numpy() if numpy_in else out

    def _apply(self, x):
        return self._call(x, self.physics.A, self.in_shape, self.out_shape)

    def _adjoint(self, y):
        return self._call(y, self.physics.A_adjoint, self.out_shape, self.in_shape)

    def _describe(self):
        return f"PhysicsOperator(deepinv {type(self.physics).__name__})"


# -- deepinv -> native ppsolve operators ------------------------------------------------------------------------
def _img_size(physics, img_size, attribute):
    own = getattr(physics, attribute, None)
    if img_size is None and own is None:
        raise ValueError(f"from_deepinv: {type(physics).__name__} has no image size; pass img_size=(C, H, W)")
    size = tuple(int(n) for n in (img_size if img_size is not None else own))
    if img_size is not None and own is not None and tuple(int(n) for n in own) != size:
        raise ValueError(f"from_deepinv: img_size {size} differs from the physics' own {tuple(own)}")
    if len(size) != 3:
        raise ValueError(f"from_deepinv: expected an image size (C, H, W), got {size}")
    return size


def _kernel(filt, channels: int, name: str) -> np.ndarray:
    """A deepinv filter ``(1, c, h, w)`` as a ppsolve kernel: ``(h, w)`` shared by all channels, or ``(C, h, w)``."""
    f = filt.detach().cpu().to(torch.float64).numpy()
    if f.ndim != 4 or f.shape[0] != 1:
        raise ValueError(f"from_deepinv: {name} filter of shape {tuple(f.shape)}: expected one filter (1, c, h, w) "
                         "for the whole batch (a ppsolve operator is fixed)")
    if f.shape[1] not in (1, channels):
        raise ValueError(f"from_deepinv: {name} filter has {f.shape[1]} channels, the image {channels}")
    if f.shape[1] == 1 or all(np.array_equal(f[0, 0], f[0, c]) for c in range(1, f.shape[1])):
        return f[0, 0]
    return f[0]


def _blur(kernel, shape, padding: str, name: str) -> LinearOperator:
    """The ppsolve operator of deepinv's ``conv2d(x, filter, padding)`` on images of ppsolve ``shape``."""
    if padding not in SUPPORTED_PADDING:
        raise ValueError(
            f"from_deepinv: {name} padding {padding!r} has no ppsolve equivalent (torch's 'reflect' is the "
            "whole-sample mirror c b | a b c, ppsolve's 'reflect' the half-sample b a | a b c; 'replicate' is not "
            "implemented); "
            f"supported: {', '.join(repr(p) for p in SUPPORTED_PADDING)}, "
            "or wrap it as PhysicsOperator(physics, img_size)")
    boundary = SUPPORTED_PADDING[padding]
    if boundary != "valid":
        return Convolution(kernel, shape, boundary)
    (k1, k2), (H, W) = kernel.shape[-2:], shape[-2:]
    if k1 > H or k2 > W:
        raise ValueError(f"from_deepinv: a {k1}x{k2} filter leaves no valid output on a {H}x{W} image")
    start, size = (k1 - 1 - k1 // 2, k2 - 1 - k2 // 2), (H - k1 + 1, W - k2 + 1)
    frame = Crop(shape, start, size)
    return ValidModel(frame @ Convolution(kernel, shape, "periodic"), frame)


def from_deepinv(physics, img_size=None) -> LinearOperator:
    """The native ppsolve operator equal to deepinv's ``physics`` (see the module docstring's table).

    ``img_size``: deepinv's per-item input shape ``(C, H, W)``; needed for ``Blur`` (which has none) and for
    ``Downsampling`` built without ``img_size``, checked against the physics' own otherwise. A ``PpsolvePhysics``
    gives back its operator. Other classes, per-item filters or masks, and paddings without an equivalent are
    refused with the reason (``PhysicsOperator`` wraps any ``LinearPhysics`` as it is).
    """
    phys = deepinv.physics
    if isinstance(physics, PpsolvePhysics):
        return physics.ppsolve_operator
    name = type(physics).__name__
    if isinstance(physics, phys.BlurFFT):
        size = _img_size(physics, img_size, "img_size")
        return Convolution(_kernel(physics.filter, size[0], name), ppsolve_shape(size), "periodic")
    if type(physics) is phys.Blur:
        size = _img_size(physics, img_size, "img_size")
        return _blur(_kernel(physics.filter, size[0], name), ppsolve_shape(size), physics.padding, name)
    if type(physics) is phys.Downsampling:
        size = _img_size(physics, img_size, "imsize")
        factor = physics.factor
        if isinstance(factor, torch.Tensor) or int(factor) != factor:
            raise ValueError(f"from_deepinv: Downsampling factor {factor!r}: expected one integer factor")
        if physics.filter is None:
            return Downsample(int(factor), ppsolve_shape(size))
        blur = _blur(_kernel(physics.filter, size[0], name), ppsolve_shape(size), physics.padding, name)
        return Downsample(int(factor), blur.out_shape) @ blur
    if isinstance(physics, phys.Inpainting):
        size = _img_size(physics, img_size, "img_size")
        mask = physics.mask
        if not isinstance(mask, torch.Tensor) or mask.ndim > 4 or (mask.ndim == 4 and mask.shape[0] != 1):
            got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise ValueError(f"from_deepinv: Inpainting mask {got}: expected one mask (1, C, H, W) for the whole batch")
        mask = mask.detach().cpu().to(torch.float64).numpy()
        try:
            weights = np.broadcast_to(mask[0] if mask.ndim == 4 else mask, size)
        except ValueError as err:
            raise ValueError(f"from_deepinv: Inpainting mask {mask.shape} does not fit the image {size}") from err
        weights = weights.reshape(ppsolve_shape(size))
        return Mask(weights) if np.all((weights == 0) | (weights == 1)) else Diagonal(weights)
    raise TypeError(f"from_deepinv: no native ppsolve operator for deepinv {name}; supported: BlurFFT, Blur, "
                    "Downsampling, Inpainting (or wrap any LinearPhysics as PhysicsOperator(physics, img_size))")
