r"""Estimating the noise level of an image, for ``--noise auto``: white Gaussian noise of standard deviation
``sigma`` on the ``[0, 1]`` intensity scale.

Two classical estimators, both biased upwards by image structure, and their minimum:

* ``mad_sigma``: Donoho's median absolute deviation of the finest diagonal wavelet coefficients,
  ``median(|HH|) / 0.6745``, with the Daubechies-2 wavelet (what scikit-image's ``estimate_sigma`` computes);
* ``pca_sigma``: the weak-texture eigenvalues of the covariance of ``7 x 7`` patches (Chen, Zhu and Heng,
  "An efficient statistical method for image noise level estimation", ICCV 2015): the largest set of smallest
  eigenvalues whose mean equals their median is taken as the noise's.

On blurred images (deblurring) the patch method is within a few per cent; on sharp, textured ones both
overestimate at low noise and the wavelet one less. ``estimate_noise`` returns the smaller of the two; the
measured errors, and what they cost in restoration, are in ``docs/photographs.md``.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import correlate1d

from ._array import to_numpy

__all__ = ["estimate_noise", "mad_sigma", "pca_sigma"]

#: the Daubechies-2 high-pass analysis filter
_DB2_HIGH = np.array([-0.48296291314469025, 0.836516303737469, -0.22414386804185735, -0.12940952255092145])


def _planes(image) -> np.ndarray:
    a = np.asarray(to_numpy(image), dtype=np.float64)
    if a.ndim == 2:
        return a[None]
    if a.ndim == 3:
        return a
    raise ValueError(f"estimate_noise: expected an image (H, W) or (C, H, W), got shape {a.shape}")


def mad_sigma(image) -> float:
    """``median(|HH|) / 0.6745`` over the finest db2 diagonal coefficients (all channels together)."""
    coefficients = []
    for plane in _planes(image):
        if min(plane.shape) < 8:
            raise ValueError(f"estimate_noise: the image {plane.shape} is too small (at least 8 x 8)")
        d = correlate1d(correlate1d(plane, _DB2_HIGH, axis=0, mode="reflect")[::2], _DB2_HIGH, axis=1,
                        mode="reflect")[:, ::2]
        coefficients.append(np.abs(d).ravel())
    return float(np.median(np.concatenate(coefficients)) / 0.6745)


def pca_sigma(image, patch: int = 7, stride: int = 3) -> float:
    """The noise level from the weak-texture eigenvalues of the patch covariance (see the module docstring),
    patches every ``stride`` pixels, channels pooled."""
    patches = []
    for plane in _planes(image):
        if min(plane.shape) < patch + stride:
            raise ValueError(f"estimate_noise: the image {plane.shape} is too small for {patch} x {patch} patches")
        patches.append(sliding_window_view(plane, (patch, patch))[::stride, ::stride].reshape(-1, patch * patch))
    p = np.concatenate(patches)
    p = p - p.mean(axis=0)
    eigenvalues = np.sort(np.linalg.eigvalsh(p.T @ p / len(p)))
    for count in range(len(eigenvalues), 0, -1):
        tail = eigenvalues[:count]
        tau = tail.mean()
        if np.sum(tail > tau) == np.sum(tail < tau):
            return float(np.sqrt(max(tau, 0.0)))
    return float(np.sqrt(max(eigenvalues[0], 0.0)))


def estimate_noise(image) -> float:
    """The noise standard deviation of ``image`` (``(H, W)`` or ``(C, H, W)``, values in ``[0, 1]``): the
    smaller of ``mad_sigma`` and ``pca_sigma``."""
    return min(mad_sigma(image), pca_sigma(image))
