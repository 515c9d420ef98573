r"""Image files to float arrays in ``[0, 1]``, in the operators' layout: ``(H, W)`` grey, ``(3, H, W)`` colour.

``load_image(path, mode, crop, size)``
    Reads one PNG / JPEG / TIFF / BMP file with Pillow, converts it to ``mode`` (``"L"``: grey with Pillow's
    ITU-R 601-2 luma ``L = 0.299 R + 0.587 G + 0.114 B``; ``"RGB"``: colour, grey images replicated to three
    channels, an alpha channel dropped), takes an optional **centre** crop, then an optional resize.

    The resize uses Pillow's ``Image.resize`` with ``resample="bicubic"`` by default. Pillow's filters are
    antialiased: when shrinking, the kernel is stretched by the scale factor, so the result matches
    MATLAB's ``imresize(..., 'bicubic')`` up to rounding -- the usual convention for making
    super-resolution data, and free of the ringing of Lanczos. ``resample="lanczos"`` (sharper),
    ``"bilinear"``, ``"box"`` or ``"nearest"`` are available. 8-bit images are resized in 8 bits, as any
    Pillow pipeline does (so the values stay in ``[0, 1]``); 16-bit grey and float TIFFs are resized in
    floating point and clipped to ``[0, 1]``.

    Pixel values: 8-bit images are divided by 255, 16-bit grey images (``I;16`` PNG / TIFF) by 65535; 32-bit
    float images (``F`` TIFF) are taken as already scaled and clipped to ``[0, 1]``. EXIF orientation tags
    are not applied (datasets store their pixels in the intended order).

``list_images(root)``, ``load_images(root_or_paths, ...)``
    Every image below a folder (recursively; hidden files skipped), sorted by relative path -- one
    deterministic order on every machine -- and all of them loaded into one ``(N, ...)`` array.

``holdout_split(n, holdout)``
    The project's split rule: the *last* ``holdout`` items (in that order) are held out for testing.
    E.g. MNIST test set 8000 / 2000, CUB the last 200 files, CelebA ``004501``-``005000``.

``random_crops(images, size, count, seed)``
    Uniform random patches for training.

Nothing here knows where any data set lives: every function takes a path.
"""
from __future__ import annotations

import errno
import numbers
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .._validate import count as _count
from .._validate import int_tuple, integer

__all__ = [
    "IMAGE_EXTENSIONS",
    "RESAMPLING",
    "holdout_split",
    "list_images",
    "load_image",
    "load_images",
    "random_crops",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

_R = getattr(Image, "Resampling", Image)  # Pillow >= 9.1 has Image.Resampling
RESAMPLING = {
    "bicubic": _R.BICUBIC,
    "lanczos": _R.LANCZOS,
    "bilinear": _R.BILINEAR,
    "box": _R.BOX,
    "nearest": _R.NEAREST,
}
_MODES = ("L", "RGB")
_HIGH_DEPTH = {"I;16": 65535.0, "I;16L": 65535.0, "I;16B": 65535.0, "I;16N": 65535.0, "I": 65535.0, "F": 1.0}


def _pair(value, what: str) -> tuple[int, int] | None:
    """None, an int or an (h, w) pair of positive ints -> (h, w)."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"{what}: expected an int or an (h, w) pair of ints, got {value!r}")
    return int_tuple(value, what, length=2, minimum=1)


def _check_mode(mode: str) -> str:
    if mode not in _MODES:
        raise ValueError(f"mode: expected 'L' (grey, (H, W)) or 'RGB' (colour, (3, H, W)), got {mode!r}")
    return mode


def _resample(resample) -> int:
    if isinstance(resample, str):
        try:
            return RESAMPLING[resample.lower()]
        except KeyError:
            raise ValueError(f"resample: expected one of {sorted(RESAMPLING)}, got {resample!r}") from None
    return resample


def _centre_box(width: int, height: int, crop: tuple[int, int], path) -> tuple[int, int, int, int]:
    ch, cw = crop
    if ch > height or cw > width:
        raise ValueError(f"{path}: crop {ch}x{cw} (h x w) is larger than the image ({height}x{width})")
    top, left = (height - ch) // 2, (width - cw) // 2
    return left, top, left + cw, top + ch


def load_image(path, mode: str = "L", crop=None, size=None, resample="bicubic") -> np.ndarray:
    """One image file as a float32 array in ``[0, 1]``: ``(H, W)`` for ``mode="L"``, ``(3, H, W)`` for ``"RGB"``.

    ``crop``: an int or ``(h, w)``: a centre crop (top-left corner at ``((H - h) // 2, (W - w) // 2)``),
    ``ValueError`` if larger than the image. ``size``: an int or ``(h, w)``: resize *after* the crop, with
    Pillow's antialiased ``resample`` filter (default ``"bicubic"``; see the module notes). E.g. CelebA at
    the paper's 64 x 64: ``load_image(p, "RGB", crop=88, size=64)``.

    Raises ``FileNotFoundError`` naming the path for a missing file, ``ValueError`` naming the file for one
    Pillow cannot decode (not an image, corrupt or truncated).
    """
    mode = _check_mode(mode)
    crop, size = _pair(crop, "crop"), _pair(size, "size")
    filt = _resample(resample)
    path = Path(os.fspath(path)).expanduser()
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "image file not found", str(path))
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "expected an image file, got a directory", str(path))
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in _HIGH_DEPTH:
                return _high_depth(img, mode, crop, size, filt, path)
            img = img.convert(mode)
            if crop is not None:
                img = img.crop(_centre_box(img.width, img.height, crop, path))
            if size is not None and (img.height, img.width) != size:
                img = img.resize((size[1], size[0]), resample=filt)
            array = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        # UnidentifiedImageError: not an image; OSError: truncated / corrupt data ("image file is truncated",
        # "broken data stream"); SyntaxError: some Pillow plugins signal malformed headers this way.
        raise ValueError(f"cannot read image {path}: {exc}") from exc
    return np.ascontiguousarray(array.transpose(2, 0, 1)) if mode == "RGB" else array


def _high_depth(img, mode, crop, size, filt, path) -> np.ndarray:
    """16-bit / 32-bit single-channel images: scale to [0, 1] in float, crop, resize in float, clip."""
    array = np.asarray(img, dtype=np.float64) / _HIGH_DEPTH[img.mode]
    array = np.clip(array, 0.0, 1.0).astype(np.float32)
    if crop is not None:
        left, top, right, bottom = _centre_box(array.shape[1], array.shape[0], crop, path)
        array = array[top:bottom, left:right]
    if size is not None and array.shape != size:
        resized = Image.fromarray(np.ascontiguousarray(array), mode="F").resize((size[1], size[0]), resample=filt)
        array = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    array = np.ascontiguousarray(array, dtype=np.float32)
    return np.stack([array] * 3) if mode == "RGB" else array


def list_images(root, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> list[Path]:
    """Every image file below ``root`` (recursively), sorted by its path relative to ``root``.

    The order compares relative paths component by component (folder names first, then file names),
    so ``cub200/images`` lists class folders alphabetically, each one's files in name order. Matching of
    ``extensions`` ignores case; hidden files and folders (names starting with ``.``) are skipped.
    """
    root = Path(os.fspath(root)).expanduser()
    if not root.exists():
        raise FileNotFoundError(errno.ENOENT, "image folder not found", str(root))
    if not root.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "expected a folder of images", str(root))
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.suffix.lower() in exts and path.is_file():
            found.append((rel.parts, path))
    found.sort(key=lambda item: item[0])
    return [path for _, path in found]


def load_images(
    root_or_paths, mode: str = "L", crop=None, size=None, limit: int | None = None, resample="bicubic"
) -> np.ndarray:
    """Many images as one float32 array ``(N, H, W)`` (``"L"``) or ``(N, 3, H, W)`` (``"RGB"``).

    ``root_or_paths``: a folder (every image below it, in :func:`list_images` order) or an iterable of file
    paths (kept in the given order). ``limit``: only the first ``limit`` of them. ``crop``, ``size``,
    ``resample``: as in :func:`load_image`. All images must end up the same size (use ``crop`` / ``size``
    otherwise): ``ValueError`` naming the first file that differs.
    """
    _check_mode(mode)
    if isinstance(root_or_paths, (str, os.PathLike)):
        paths = list_images(root_or_paths)
        where = os.fspath(root_or_paths)
    else:
        paths = [Path(os.fspath(p)) for p in root_or_paths]
        where = "the given paths"
    if limit is not None:
        paths = paths[: _count(limit, "limit")]
    if not paths:
        raise ValueError(f"no images found in {where}")
    arrays = []
    for path in paths:
        array = load_image(path, mode=mode, crop=crop, size=size, resample=resample)
        if arrays and array.shape != arrays[0].shape:
            raise ValueError(
                f"{path}: shape {array.shape} differs from {arrays[0].shape} ({paths[0]}); "
                "pass crop= and/or size= to load images of different sizes together"
            )
        arrays.append(array)
    return np.stack(arrays)


def holdout_split(n: int, holdout: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train_indices, test_indices)`` for ``n`` ordered items with the *last* ``holdout`` held out.

    ``train = arange(n - holdout)``, ``test = arange(n - holdout, n)`` (int64). Deterministic on purpose:
    with items in file-name order the test set is the same on every machine.
    """
    n, holdout = integer(n, "n"), integer(holdout, "holdout")
    if n < 0 or not 0 <= holdout <= n:
        raise ValueError(f"holdout_split: need 0 <= holdout <= n, got n={n}, holdout={holdout}")
    cut = int(n) - int(holdout)
    return np.arange(cut, dtype=np.int64), np.arange(cut, int(n), dtype=np.int64)


def random_crops(
    images: Iterable[np.ndarray] | np.ndarray, size, count: int, seed=None, augment: bool = False
) -> np.ndarray:
    """``count`` random patches ``(count, [C,] h, w)`` from a list of images ``(H, W)`` or ``(C, H, W)``.

    Each patch picks an image uniformly at random, then a top-left corner uniformly among the positions
    where the patch fits (images may differ in size; the leading axes must agree). ``seed``: an int, a
    ``numpy.random.Generator`` or None. ``augment=True`` also applies one of the 8 flips / 90-degree rotations
    at random (rotations by 90 or 270 degrees only for square patches). The dtype of the images is kept.
    """
    if isinstance(images, np.ndarray):
        images = list(images)
    else:
        images = [np.asarray(im) for im in images]
    if not images:
        raise ValueError("random_crops: no images given")
    h, w = _pair(size, "size")
    count = _count(count, "count")
    lead = images[0].shape[:-2]
    for i, im in enumerate(images):
        if im.ndim not in (2, 3) or im.shape[:-2] != lead:
            raise ValueError(
                f"random_crops: image {i} has shape {im.shape}; expected (H, W) or (C, H, W) with leading "
                f"axes {lead} like image 0"
            )
        if im.shape[-2] < h or im.shape[-1] < w:
            raise ValueError(f"random_crops: patch {h}x{w} is larger than image {i} ({im.shape[-2]}x{im.shape[-1]})")
    rng = np.random.default_rng(seed)
    dtype = np.result_type(*images)
    out = np.empty((int(count),) + tuple(lead) + (h, w), dtype=dtype)
    for k in range(int(count)):
        im = images[rng.integers(len(images))]
        top = rng.integers(im.shape[-2] - h + 1)
        left = rng.integers(im.shape[-1] - w + 1)
        patch = im[..., top : top + h, left : left + w]
        if augment:
            turns = int(rng.integers(4)) if h == w else 2 * int(rng.integers(2))
            patch = np.rot90(patch, turns, axes=(-2, -1))
            if rng.integers(2):
                patch = patch[..., ::-1]
        out[k] = patch
    return out
