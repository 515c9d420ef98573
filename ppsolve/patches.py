r"""Applying an image-to-image map to a large image patch by patch (paper section 3.4).

A network trained on ``64 x 64`` images is applied to a larger image by cutting it into overlapping
``patch x patch`` tiles, running the network on batches of tiles, and averaging the overlapping outputs
with weights:

.. code-block:: text

    out[p] = sum_t w_t(p) fn(tile_t)[p] / sum_t w_t(p)

Along each axis the image is cut into the fewest tiles of at most ``patch`` pixels that overlap by ``overlap``,
all of one length (``patch_spans``): starts ``0, s, 2 s, ...`` with a stride ``s <= patch - overlap``, plus a
last tile flush with the far border (so every pixel is covered and no tile is padded). With ``align > 1`` every start
is a multiple of ``align`` (for networks that commute only with such translations, like a U-Net), and the
last tile may be up to ``align - 1`` pixels longer than ``patch``. The 1-D weight of a tile along
an axis is

* ``window="flat"``: 1 everywhere (plain averaging);
* ``window="hann"`` (default): on each side of the tile that lies *inside* the image, first ``margin`` zeros,
  then a raised-cosine (half-Hann) ramp ``sin^2`` over the remaining ``overlap - 2 margin`` pixels, then 1;
  sides on the image border are not tapered. With the regular stride the rising ramp of one tile and the
  falling ramp of its neighbour are ``sin^2`` and ``cos^2`` of the same angle, so they add up to 1 (a
  partition of unity); the normalisation by ``sum_t w_t`` takes care of the last, shifted tile.

The 2-D weight is the outer product. **Exactness**: if ``fn`` is translation-equivariant with receptive
radius ``r`` (output pixel ``p`` depends only on inputs within distance ``r``; a convolutional network
without strides or global pooling, with zero padding) then ``fn(tile)`` equals the whole-image output at
every tile pixel that is at least ``r`` from the tile's *interior* sides (its sides on the image border see
the same zero padding as the whole image). With ``margin >= r`` (and ``overlap >= 2 margin + 1``) only such
pixels get non-zero weight, so the stitched result equals ``fn(image)`` everywhere up to rounding
(tested in ``tests/test_patches.py``). With ``margin = 0`` (the default) it is a smooth blend whose error is
confined to the overlaps.

Memory: only ``batch`` tiles (and their outputs) exist at a time, plus two accumulators the size of the
output, whatever the image size.

Arrays: NumPy in gives NumPy out, a torch tensor gives a tensor (same device and dtype); ``fn`` receives
tiles of the input's kind. The last ``image_ndim`` axes (2: ``(H, W)``, 3: ``(C, H, W)``) are one image,
leading axes a batch: ``fn`` is called on arrays ``(n, *image_shape_of_tile)`` (``n <= batch``) and must
return ``(n, *out_lead, h, w)`` with the tile's spatial size (``out_lead`` may differ from the input's
channel axes, e.g. colorisation).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ._array import check_array, is_torch
from ._validate import integer
from .prox.basic import Proximal, as_prox

__all__ = ["Patchwise", "apply_patchwise", "patch_spans", "patch_window"]

WINDOWS = ("hann", "flat")


def patch_spans(n: int, patch: int, overlap: int, align: int = 1) -> list[tuple[int, int]]:
    """``(start, length)`` of the tiles along an axis of length ``n``: ``[(0, n)]`` when ``patch >= n``; else the
    fewest tiles of at most ``patch`` that cover ``n`` with ``overlap``, ``t = ceil((n - overlap) / (patch -
    overlap))``, balanced: each of length ``L = s + overlap`` with the stride ``s`` the smallest multiple of
    ``align`` with ``t s + overlap >= n``. Starts ``0, s, 2 s, ...`` and a last tile that ends at ``n`` and starts
    at the largest multiple of ``align`` at most ``n - L`` (so it may be up to ``align - 1`` longer).

    Balancing matters for cost: a frame just over one tile (``n = patch + 8``) is two tiles of about ``n / 2 +
    overlap``, not two full tiles (which would evaluate the network on nearly twice the pixels)."""
    if patch >= n:
        return [(0, n)]
    if (patch - overlap) % align:
        raise ValueError(f"patch_spans: the stride patch - overlap = {patch - overlap} must be a multiple of "
                         f"align {align}")
    count = -(-(n - overlap) // (patch - overlap))
    stride = -(-(-(-(n - overlap) // count)) // align) * align  # ceil((n - overlap) / count), up to align
    length = stride + overlap
    starts = list(range(0, n - length + 1, stride))
    last = (n - length) // align * align
    if starts[-1] != last:
        starts.append(last)
    return [(start, length) for start in starts[:-1]] + [(starts[-1], n - starts[-1])]


def patch_window(length: int, overlap: int, margin: int, taper_start: bool, taper_end: bool,
                 window: str = "hann") -> np.ndarray:
    """The 1-D weight of one tile (see the module docstring), float64, length ``length``."""
    w = np.ones(length)
    if window == "flat":
        return w
    ramp_len = overlap - 2 * margin
    i = np.arange(ramp_len)
    ramp = np.sin(0.5 * math.pi * (i + 0.5) / ramp_len) ** 2 if ramp_len > 0 else np.zeros(0)
    if taper_start:
        w[:margin] = 0.0
        w[margin:margin + ramp_len] = ramp
    if taper_end:
        w[length - margin:] = 0.0
        w[length - margin - ramp_len:length - margin] *= ramp[::-1]
    return w


def _check_int(value, what, low):
    return integer(value, f"apply_patchwise {what}", minimum=low)


def apply_patchwise(fn, image, patch: int = 64, overlap: int = 16, batch: int = 16, window: str = "hann",
                    margin: int = 0, image_ndim: int = 2, align: int = 1):
    """``fn`` applied to ``image`` through overlapping ``patch x patch`` tiles averaged with weights (see the
    module docstring).

    Parameters
    ----------
    fn : ``fn(tiles) -> outputs`` on a stack ``(n, *image_shape_of_tile)``, returning ``(n, *out_lead, h, w)``.
    image : NumPy or torch array ``(..., H, W)`` (``image_ndim=2``) or ``(..., C, H, W)`` (``image_ndim=3``).
    patch : tile size (an int, or ``(ph, pw)``); an image smaller than it along an axis gets one tile of the
        image's size on that axis. ``overlap``: pixels shared by neighbouring tiles (``0 <= overlap < patch``).
    batch : tiles per call of ``fn`` (bounds the memory).
    window : ``"hann"`` (tapered, default) or ``"flat"`` (plain average).
    margin : pixels at each interior tile side given weight 0 (``"hann"`` only); ``margin >= r`` makes the
        result exact for a translation-equivariant ``fn`` of receptive radius ``r``. Needs
        ``overlap >= 2 margin + 1``.
    image_ndim : 2 or 3: how many trailing axes make one image.
    align : every tile starts at a multiple of it (``patch - overlap`` must be one); ``fn`` then also gets the
        last, longer tiles, in calls of their own. Exactness needs ``fn`` to commute with translations by
        multiples of ``align``.
    """
    check_array(image, "apply_patchwise image")
    if window not in WINDOWS:
        raise ValueError(f"apply_patchwise: window must be one of {WINDOWS}, got {window!r}")
    if image_ndim not in (2, 3):
        raise ValueError(f"apply_patchwise: image_ndim must be 2 or 3, got {image_ndim!r}")
    if image.ndim < image_ndim:
        raise ValueError(f"apply_patchwise: an image of {image_ndim} axes needs an array of at least that many, "
                         f"got shape {tuple(image.shape)}")
    ph, pw = (patch, patch) if np.isscalar(patch) else tuple(patch)
    ph, pw = _check_int(ph, "patch", 1), _check_int(pw, "patch", 1)
    overlap = _check_int(overlap, "overlap", 0)
    margin = _check_int(margin, "margin", 0)
    batch = _check_int(batch, "batch", 1)
    align = _check_int(align, "align", 1)
    H, W = int(image.shape[-2]), int(image.shape[-1])
    ph, pw = min(ph, H), min(pw, W)
    for p, n in ((ph, H), (pw, W)):
        if p < n and overlap >= p:
            raise ValueError(f"apply_patchwise: overlap {overlap} must be smaller than the patch {p}")
        if p < n and window == "hann" and overlap < 2 * margin + 1:
            raise ValueError(f"apply_patchwise: margin {margin} needs overlap >= 2 margin + 1 = {2 * margin + 1}, "
                             f"got {overlap}")

    lead = tuple(image.shape[: image.ndim - image_ndim])
    core = tuple(image.shape[image.ndim - image_ndim:])
    flat = image.reshape((-1,) + core)
    rows, cols = patch_spans(H, ph, overlap, align), patch_spans(W, pw, overlap, align)
    wr = {r: patch_window(n, overlap, margin, r > 0, r + n < H, window) for r, n in rows}
    wc = {c: patch_window(n, overlap, margin, c > 0, c + n < W, window) for c, n in cols}
    # tiles of one shape go to fn together (all but the last row / column when align > 1)
    jobs = sorted(((b, r, nr, c, nc) for b in range(flat.shape[0]) for r, nr in rows for c, nc in cols),
                  key=lambda job: (job[2], job[4]))

    torch_mode = is_torch(image)
    if torch_mode:
        def stack(items):
            return torch.stack(items)

        def as_weight(w):
            return torch.as_tensor(w, device=image.device, dtype=image.dtype)
    else:
        def stack(items):
            return np.stack(items)

        def as_weight(w):
            return w.astype(image.dtype, copy=False)

    num = None
    den = np.zeros((H, W))
    for r, nr in rows:
        for c, nc in cols:
            den[r:r + nr, c:c + nc] += np.outer(wr[r], wc[c])
    if np.any(den <= 0):
        raise ValueError("apply_patchwise: some pixels get no weight (increase overlap or reduce margin)")
    start = 0
    while start < len(jobs):
        shape = (jobs[start][2], jobs[start][4])
        chunk = [job for job in jobs[start:start + batch] if (job[2], job[4]) == shape]
        start += len(chunk)
        tiles = stack([flat[b, ..., r:r + nr, c:c + nc] for b, r, nr, c, nc in chunk])
        out = fn(tiles)
        if torch_mode != is_torch(out):
            raise TypeError(f"apply_patchwise: fn returned a {type(out).__module__} array for "
                            f"{type(image).__module__} tiles")
        if out.shape[0] != len(chunk) or tuple(out.shape[-2:]) != shape:
            raise ValueError(f"apply_patchwise: fn mapped tiles {tuple(tiles.shape)} to {tuple(out.shape)}; "
                             f"expected ({len(chunk)}, ..., {shape[0]}, {shape[1]})")
        if num is None:
            out_lead = tuple(out.shape[1:-2])
            if torch_mode:
                num = torch.zeros((flat.shape[0],) + out_lead + (H, W), dtype=out.dtype, device=out.device)
            else:
                num = np.zeros((flat.shape[0],) + out_lead + (H, W), dtype=out.dtype)
        for k, (b, r, nr, c, nc) in enumerate(chunk):
            num[b, ..., r:r + nr, c:c + nc] += out[k] * as_weight(np.outer(wr[r], wc[c]))
    result = num / as_weight(den).to(num.dtype) if torch_mode else num / den.astype(num.dtype)
    return result.reshape(lead + tuple(result.shape[1:]))


class Patchwise(Proximal):
    """A proximal operator applied tile by tile (``apply_patchwise``) to images larger than ``patch``.

    ``Patchwise(prox, patch=256, overlap=48, margin=16)(v, tau, y=None)`` cuts ``v`` (``(..., H, W)`` or
    ``(..., C, H, W)``, ``image_ndim`` trailing axes) into overlapping tiles, runs ``prox`` on batches of
    ``batch`` tiles and blends them; an image no larger than ``patch`` is passed to ``prox`` whole. With
    ``margin`` at least the network's receptive radius the result equals the whole-image one (see the module
    docstring); memory is bounded by ``batch`` tiles whatever the image size.

    A conditional prior (``prox.factor``: the cPSDAE, conditioned on the low-resolution measurement ``y``)
    gets each tile's own part of ``y``: ``patch``, ``overlap`` and the image size must then be multiples of
    the factor ``r``, so that every tile starts on a sampled pixel and its ``y`` is ``y``'s tile of size
    ``patch / r`` at ``start / r``. A network with a ``multiple`` ``m`` (a U-Net, through
    ``DenoiserProx.multiple``) gets tiles that start at multiples of ``m`` (``patch`` and ``overlap`` must be
    multiples of it), which keeps the result exact.
    """

    name = "patchwise"

    def __init__(self, prox, patch: int = 256, overlap: int = 48, margin: int = 16, batch: int = 4,
                 image_ndim: int = 2):
        self.prox = as_prox(prox)
        self.patch = _check_int(patch, "patch", 1)
        self.overlap = _check_int(overlap, "overlap", 0)
        self.margin = _check_int(margin, "margin", 0)
        self.batch = _check_int(batch, "batch", 1)
        if image_ndim not in (2, 3):
            raise ValueError(f"Patchwise: image_ndim must be 2 or 3, got {image_ndim!r}")
        self.image_ndim = image_ndim
        self.factor = getattr(self.prox, "factor", None)
        self.align = math.lcm(self.factor or 1, int(getattr(self.prox, "multiple", 1)))
        if self.patch % self.align or self.overlap % self.align:
            raise ValueError(f"Patchwise: patch {self.patch} and overlap {self.overlap} must be multiples of "
                             f"{self.align} (the prior's factor {self.factor}, its network's multiple "
                             f"{getattr(self.prox, 'multiple', 1)})")

    @property
    def ensemble(self) -> int:
        """The wrapped prior's self-ensemble (``DenoiserProx.ensemble``): every tile is evaluated with it.
        ``AttributeError`` for a prior without one."""
        try:
            return self.prox.ensemble
        except AttributeError:
            raise AttributeError(f"Patchwise: the wrapped {type(self.prox).__name__} has no self-ensemble") from None

    @ensemble.setter
    def ensemble(self, value) -> None:
        if not hasattr(self.prox, "ensemble"):
            raise AttributeError(f"Patchwise: the wrapped {type(self.prox).__name__} has no self-ensemble")
        self.prox.ensemble = value

    def _prox(self, v, tau, y):
        H, W = int(v.shape[-2]), int(v.shape[-1])
        if H <= self.patch and W <= self.patch:
            return self.prox(v, tau, y=y)
        if self.factor is None or y is None:
            def fn(tiles):
                return self.prox(tiles, tau, y=y)

            return apply_patchwise(fn, v, self.patch, self.overlap, self.batch, "hann", self.margin, self.image_ndim,
                                   self.align)
        return self._conditional(v, tau, y)

    def _conditional(self, v, tau, y):
        r = self.factor
        H, W = int(v.shape[-2]), int(v.shape[-1])
        if H % r or W % r:
            raise ValueError(f"Patchwise: the image size {H}x{W} must be a multiple of the prior's factor {r}")
        if tuple(y.shape[-2:]) != (H // r, W // r):
            raise ValueError(f"Patchwise: y has spatial shape {tuple(y.shape[-2:])}, expected {(H // r, W // r)} "
                             f"(the {H}x{W} image over the factor {r})")
        # nearest-neighbour y on the image grid, stacked behind v's channels: each tile carries its own y
        v3 = v if v.ndim >= 3 and self.image_ndim == 3 else v[..., None, :, :]
        y3 = y if y.ndim == v3.ndim else y[..., None, :, :]
        if is_torch(v):
            y_up = y3.repeat_interleave(r, -2).repeat_interleave(r, -1).to(v3.dtype)
            y_up = y_up.expand(*v3.shape[:-3], *y_up.shape[-3:])
            both = torch.cat([v3, y_up], dim=-3)
        else:
            y_up = np.repeat(np.repeat(np.asarray(y3), r, -2), r, -1).astype(v3.dtype, copy=False)
            y_up = np.broadcast_to(y_up, v3.shape[:-3] + y_up.shape[-3:])
            both = np.concatenate([v3, y_up], axis=-3)
        c = v3.shape[-3]

        def fn(tiles):
            vt, yt = tiles[:, :c], tiles[:, c:, ::r, ::r]
            if v3 is not v:
                vt = vt[:, 0]
            if y3 is not y:
                yt = yt[:, 0]
            out = self.prox(vt, tau, y=yt)
            return out if v3 is v else out[:, None]

        out = apply_patchwise(fn, both, self.patch, self.overlap, self.batch, "hann", self.margin, 3, self.align)
        return out if v3 is v else out[..., 0, :, :]

    def __repr__(self):
        return (f"Patchwise({self.prox!r}, patch={self.patch}, overlap={self.overlap}, margin={self.margin}, "
                f"batch={self.batch}, align={self.align})")
