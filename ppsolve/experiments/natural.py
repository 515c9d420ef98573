r"""The natural-image problems of the paper (sections 4.2-4.3): forward operators, data splits, crops.

One place for what the benchmarks, the training recipes and the zoo must agree on. Every image is
float in ``[0, 1]`` (8-bit / 255); every operator is periodic; ``S`` keeps every ``d``-th pixel from pixel 0;
``y = A x + N(0, 0.01^2)``.

The benchmarks' data conventions: ``central_crops`` gives the central ``size x size`` crop of each image,
values ``8-bit / 255``; ``measure`` gives ``y = A x + N(0, sigma^2)`` with the noise of image ``i`` from
``numpy.random.default_rng(seed + i)`` (a fixed seed per image, independent of which subset is run);
``score`` is the PSNR of the estimate clipped to ``[0, 1]`` over the whole image, data range 1.

Motion deblurring (grey)
    ``A = H``: the 9 x 9 motion kernel of length 9 at 30 degrees, ``motion_kernel(9, 30, 9)`` (equal to
    ``kernels/motion9_30deg.txt`` of the shared data to 1e-12; tested). BSD68 central 256 x 256 crops.
Super-resolution ``4x`` (grey BSD68 crops, colour CUB birds)
    ``A = S H``: the 3 x 3 Gaussian of sigma 1, then every 4th pixel (per channel for colour).
CUB-200 birds
    227 x 227 colour JPEGs, listed in ``list_images`` order (species folder, then file name); the last
    ``CUB_HELD_OUT = 200`` are the test set, never trained or tuned on. Evaluation: central ``CUB_CROP``
    crops (128 x 128).
Joint 2x super-resolution and colorization (CelebA faces)
    ``A = S H R``: ``R`` = ``ColorToGray`` (BT.601), ``H`` the 3 x 3 Gaussian of sigma 1 on the grey image,
    ``S`` every 2nd pixel: ``(3, 64, 64) -> (32, 32)``. Faces: the central 88 x 88 of the 89 x 109 images,
    resized to 64 x 64 with Pillow's antialiased bicubic filter; images 004501-005000 (the last 500) are
    held out. CelebA's terms forbid redistribution: no face or weight trained on faces is shipped.
"""
from __future__ import annotations

import numpy as np

from ..data import list_images, load_image, load_images
from ..metrics import psnr
from ..operators import ColorToGray, Convolution, gaussian_kernel, motion_kernel, strided_convolution
from ..operators.base import LinearOperator

__all__ = [
    "CELEBA_HELD_OUT",
    "CUB_CROP",
    "CUB_HELD_OUT",
    "NOISE_SIGMA",
    "celeba_faces",
    "central_crops",
    "cub_birds",
    "deblur_inverse_options",
    "deblur_operator",
    "joint_sr_color_operator",
    "measure",
    "score",
    "split_last",
    "sr_operator",
]

NOISE_SIGMA = 0.01
CUB_HELD_OUT = 200
CUB_CROP = 128
CELEBA_HELD_OUT = 500
CELEBA_SIZE = 64


def deblur_operator(shape=(256, 256)) -> LinearOperator:
    """``A = H``, periodic convolution with ``motion_kernel(9, 30, 9)`` on ``shape`` (``(H, W)`` or ``(C, H, W)``)."""
    return Convolution(motion_kernel(9, 30, 9), shape)


def deblur_inverse_options(beta: float) -> dict:
    """Options of ``LearnedInverse.train`` for the motion blur's z-update at ``beta`` (direct form, trained
    from noise on 128 x 128, loaded with ``allow_resize``): 31 x 31 kernels and the default 2000 steps from
    ``beta = 0.01`` up; below it, where the inverse's kernel is wider and its training problem worse
    conditioned, 63 x 63 kernels and 8000 steps (how these were chosen, with the measured z-update errors, is
    in ``docs/learned-inverse.md``)."""
    return {"kernel_size": 31} if beta >= 0.01 else {"kernel_size": 63, "steps": 8000}


def sr_operator(shape, factor: int = 4) -> LinearOperator:
    """``A = S H``: periodic 3 x 3 Gaussian (sigma 1), then every ``factor``-th pixel from pixel 0."""
    return strided_convolution(gaussian_kernel(3, 1.0), shape, factor)


def joint_sr_color_operator(size: int = CELEBA_SIZE, factor: int = 2) -> LinearOperator:
    """``A = S H R``: colour ``(3, size, size)`` to grey ``(size / factor, size / factor)``."""
    R = ColorToGray((3, size, size))
    return sr_operator(R.out_shape, factor) @ R


def split_last(paths, held_out: int):
    """``(train, test)``: the ordered list without and with its last ``held_out`` items."""
    paths = list(paths)
    if not 0 < held_out < len(paths):
        raise ValueError(f"split_last: cannot hold out {held_out} of {len(paths)} items")
    return paths[:-held_out], paths[-held_out:]


def cub_birds(root, split: str, crop: int | None = CUB_CROP):
    """``(images, paths)``: the CUB birds below ``root`` of ``split`` ``"train"`` (all but the last 200) or
    ``"test"`` (the last 200), ``(N, 3, crop, crop)`` float32 central crops (``crop=None``: whole images)."""
    if split not in ("train", "test"):
        raise ValueError(f"cub_birds: split must be 'train' or 'test', got {split!r}")
    train, test = split_last(list_images(root), CUB_HELD_OUT)
    paths = train if split == "train" else test
    return load_images(paths, mode="RGB", crop=crop), paths


def celeba_faces(root, split: str, limit: int | None = None):
    """``(images, paths)``: CelebA faces below ``root``, central 88 x 88 resized to 64 x 64 (antialiased
    bicubic), ``(N, 3, 64, 64)`` float32; ``split`` ``"train"`` (all but the last 500) or ``"test"``."""
    if split not in ("train", "test"):
        raise ValueError(f"celeba_faces: split must be 'train' or 'test', got {split!r}")
    train, test = split_last(list_images(root), CELEBA_HELD_OUT)
    paths = (train if split == "train" else test)[:limit]
    return load_images(paths, mode="RGB", crop=88, size=CELEBA_SIZE), paths


def central_crops(paths, size: int = 256) -> np.ndarray:
    """``(N, size, size)`` float64 central crops (``top = (H - size) // 2``) of grey images, ``/ 255``."""
    out = []
    for p in paths:
        im = np.asarray(load_image(p, mode="L"), dtype=np.float64)
        h, w = im.shape
        if h < size or w < size:
            raise ValueError(f"{p}: {h}x{w} is smaller than the {size}x{size} crop")
        t, l = (h - size) // 2, (w - size) // 2
        out.append(im[t:t + size, l:l + size])
    return np.stack(out)


def measure(A: LinearOperator, x: np.ndarray, sigma: float = NOISE_SIGMA, seed: int = 0) -> np.ndarray:
    """``y_i = A x_i + sigma * n_i`` for a stack ``x`` (``(N, *A.in_shape)``), ``n_i`` from
    ``default_rng(seed + i)``."""
    x = np.asarray(x, dtype=np.float64)
    ys = []
    for i in range(len(x)):
        y = A.apply(x[i])
        ys.append(y + sigma * np.random.default_rng(seed + i).standard_normal(y.shape))
    return np.stack(ys)


def score(x, x_true) -> float:
    """PSNR (dB, data range 1) of ``clip(x, 0, 1)`` against ``x_true`` over the whole image."""
    return psnr(x, x_true, clip=True)
