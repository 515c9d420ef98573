r"""Image quality metrics: PSNR and SSIM, on NumPy or PyTorch arrays (computed in float64 NumPy).

Both take an estimate ``x`` and a reference ``ref`` of the same shape. ``batch_dims`` leading axes are a
batch of images (each scored separately, then averaged, or returned per image with ``reduction="none"``);
the remaining axes are one image: ``(H, W)``, or ``(C, H, W)`` for colour, whose SSIM is the mean over the
channels. With the default ``batch_dims=0`` the whole array is one image.

PSNR: ``10 log10(data_range^2 / mean((x - ref)^2))``, ``inf`` for identical images.

SSIM (Wang, Bovik, Sheikh, Simoncelli, IEEE TIP 2004): local means, variances and covariance under an
11 x 11 Gaussian window with sigma 1.5 (normalised to sum 1), ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2`` with
``L = data_range``, population (not sample) statistics, and the mean of the SSIM map over the 'valid'
positions where the window fits inside the image (as the authors' ``ssim_index.m`` and
``skimage.metrics.structural_similarity(..., gaussian_weights=True, use_sample_covariance=False,
data_range=L)``, which computes on reflect-padded images and then crops the same border). No automatic
downsampling. Images must be at least 11 x 11.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate1d

from ._array import to_numpy
from ._validate import count, real_number

__all__ = ["gaussian_window", "psnr", "ssim"]


def _pair(x, ref, batch_dims: int, min_image_ndim: int, what: str):
    x = np.asarray(to_numpy(x), dtype=np.float64)
    ref = np.asarray(to_numpy(ref), dtype=np.float64)
    if x.shape != ref.shape:
        raise ValueError(f"{what}: x and ref must have the same shape, got {x.shape} and {ref.shape}")
    batch_dims = count(batch_dims, f"{what} batch_dims")
    if x.ndim - batch_dims < min_image_ndim:
        raise ValueError(
            f"{what}: an array of shape {x.shape} with batch_dims={batch_dims} leaves images of "
            f"{x.ndim - batch_dims} dimensions, need at least {min_image_ndim}"
        )
    return x, ref


def _reduce(values: np.ndarray, batch_shape, reduction: str):
    if reduction == "mean":
        return float(np.mean(values))
    if reduction == "none":
        return values.reshape(batch_shape) if batch_shape else float(values.reshape(()))
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


def psnr(x, ref, data_range: float = 1.0, batch_dims: int = 0, reduction: str = "mean", clip: bool = False):
    """Peak signal-to-noise ratio in dB (see the module docstring); ``inf`` where ``x == ref``. ``clip``: score
    ``clip(x, 0, data_range)`` (an estimate as it would be stored as an image)."""
    x, ref = _pair(x, ref, batch_dims, 0, "psnr")
    data_range = real_number(data_range, "psnr data_range", positive=True)
    if clip:
        x = np.clip(x, 0.0, data_range)
    batch_shape = x.shape[:batch_dims]
    n = int(np.prod(batch_shape)) if batch_shape else 1
    mse = np.mean(((x - ref) ** 2).reshape(n, -1), axis=1)
    with np.errstate(divide="ignore"):
        values = 10.0 * np.log10(data_range**2 / mse)
    return _reduce(values, batch_shape, reduction)


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """The normalised 1-D Gaussian (the 2-D window is its outer product with itself)."""
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(r**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter_valid(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable correlation with ``g`` on the last two axes, 'valid' part only."""
    half = len(g) // 2
    out = correlate1d(a, g, axis=-1, mode="constant")
    out = correlate1d(out, g, axis=-2, mode="constant")
    lo, hi = half, len(g) - 1 - half
    return out[..., lo: a.shape[-2] - hi, lo: a.shape[-1] - hi]


def ssim(x, ref, data_range: float = 1.0, batch_dims: int = 0, reduction: str = "mean",
         win_size: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03):
    """Structural similarity (Gaussian window, Wang et al. 2004; see the module docstring): the mean SSIM
    map of each image (colour: mean over channels too), then the mean over the batch (``reduction="mean"``)
    or one value per image (``"none"``)."""
    x, ref = _pair(x, ref, batch_dims, 2, "ssim")
    if not data_range > 0:
        raise ValueError(f"ssim: data_range must be > 0, got {data_range!r}")
    if win_size < 1 or win_size % 2 == 0:
        raise ValueError(f"ssim: win_size must be odd and positive, got {win_size}")
    if min(x.shape[-2:]) < win_size:
        raise ValueError(f"ssim: images of size {x.shape[-2:]} are smaller than the {win_size} x {win_size} window")
    g = gaussian_window(win_size, sigma)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    mu_x, mu_r = _filter_valid(x, g), _filter_valid(ref, g)
    var_x = _filter_valid(x * x, g) - mu_x**2
    var_r = _filter_valid(ref * ref, g) - mu_r**2
    cov = _filter_valid(x * ref, g) - mu_x * mu_r
    smap = ((2 * mu_x * mu_r + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_r**2 + c1) * (var_x + var_r + c2))
    batch_shape = x.shape[:batch_dims]
    n = int(np.prod(batch_shape)) if batch_shape else 1
    values = np.mean(smap.reshape(n, -1), axis=1)
    return _reduce(values, batch_shape, reduction)

