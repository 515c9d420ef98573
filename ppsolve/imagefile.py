r"""Image files in and out, keeping what the file held: bit depth, grey or colour, alpha, orientation.

``read_image(path)`` returns an ``ImageFile``: ``pixels`` in ``[0, 1]`` as float64, ``(H, W)`` for a grey
image or ``(3, H, W)`` for colour (ppsolve's channel-first layout), plus what writing it back needs: the bit
depth (8 or 16; float TIFFs are kept as float), the alpha channel as stored (carried through untouched), and
the format. ``write_image(path, pixels, like=image)`` writes a restored image with the input's bit depth,
colour mode and alpha, atomically (``ppsolve.files.atomic_write``); the output format follows the extension.

Readers: PNG through ``pypng`` (Pillow reads 16-bit colour PNGs as 8-bit), TIFF through ``tifffile`` (8- and
16-bit integers, float32 / float64 taken as ``[0, 1]``), JPEG and anything else Pillow opens through Pillow
(8-bit). Values are restored as stored: no gamma or colour-space conversion happens, so a restoration works
on the encoded (gamma-compressed, for most photographs) values, as every benchmark here does. The EXIF
orientation is applied on reading (the pixels are upright) and not written back. Palette images are read as
RGB, CMYK JPEGs as RGB, 1-, 2- and 4-bit PNGs as 8-bit: these are written back in that form.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import png
import tifffile
from PIL import Image

from ._array import to_numpy
from .files import atomic_write

__all__ = ["FORMATS", "ImageFile", "read_image", "write_image"]

#: output formats by extension
FORMATS = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".jpg": "JPEG", ".jpeg": "JPEG"}
_EXIF_ORIENTATION = 0x0112


@dataclass
class ImageFile:
    """An image read from a file (see the module docstring)."""

    pixels: np.ndarray
    bit_depth: int | str = 8  # 8, 16, or "float" (a float TIFF)
    alpha: np.ndarray | None = None
    format: str = "PNG"
    path: Path | None = None

    @property
    def colour(self) -> bool:
        return self.pixels.ndim == 3

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.pixels.shape[-2:])


def _orientation(path: Path) -> int:
    """The EXIF orientation (1-8; 1 when absent or unreadable)."""
    try:
        with Image.open(path) as im:
            return int(im.getexif().get(_EXIF_ORIENTATION, 1) or 1)
    except Exception:  # an unreadable EXIF block never stops the image from being read
        return 1


def _upright(a: np.ndarray, orientation: int) -> np.ndarray:
    """``a`` (``(H, W, ...)``) turned as EXIF orientation ``orientation`` asks (the rule of Pillow's
    ``ImageOps.exif_transpose``: 2 mirror, 3 half turn, 4 flip, 5 transpose, 6 quarter turn clockwise,
    7 transverse, 8 quarter turn counter-clockwise)."""
    ops = {2: lambda t: t[:, ::-1], 3: lambda t: t[::-1, ::-1], 4: lambda t: t[::-1],
           5: lambda t: np.swapaxes(t, 0, 1), 6: lambda t: np.swapaxes(t, 0, 1)[:, ::-1],
           7: lambda t: np.swapaxes(t, 0, 1)[::-1, ::-1], 8: lambda t: np.swapaxes(t, 0, 1)[::-1]}
    return np.ascontiguousarray(ops[orientation](a)) if orientation in ops else a


def _read_png(path: Path):
    width, height, rows, info = png.Reader(filename=str(path)).asDirect()
    planes, depth = info["planes"], info["bitdepth"]
    dtype = np.uint16 if depth > 8 else np.uint8
    data = np.vstack([np.asarray(row, dtype=dtype) for row in rows]).reshape(height, width, planes)
    if depth < 8:  # 1, 2, 4-bit: to 8-bit
        data = (data.astype(np.uint32) * 255 // (2**depth - 1)).astype(np.uint8)
        depth = 8
    return data, depth, info["alpha"]


def _read_tiff(path: Path):
    data = tifffile.imread(path)
    if data.ndim == 3 and data.shape[0] in (3, 4) and data.shape[-1] not in (3, 4):
        data = np.moveaxis(data, 0, -1)  # planar (C, H, W) storage
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim != 3 or data.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"{path}: expected a grey or colour TIFF image (H, W[, 1-4 samples]), got shape {data.shape}")
    if data.dtype == np.uint8:
        depth = 8
    elif data.dtype == np.uint16:
        depth = 16
    elif data.dtype.kind == "f":
        depth = "float"
    else:
        raise ValueError(f"{path}: TIFF samples of type {data.dtype}; expected uint8, uint16 or float")
    return data, depth, data.shape[-1] in (2, 4)


def _read_pillow(path: Path):
    with Image.open(path) as im:
        im.load()
        alpha = im.mode in ("LA", "RGBA", "PA") or (im.mode == "P" and "transparency" in im.info)
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            data = np.asarray(im, dtype=np.uint32).astype(np.uint16)[..., None]
            return data, 16, False
        mode = ("LA" if im.mode in ("LA", "PA") else "RGBA") if alpha else ("L" if im.mode in ("L", "1") else "RGB")
        data = np.asarray(im.convert(mode))
    return (data[..., None] if data.ndim == 2 else data), 8, alpha


def read_image(path) -> ImageFile:
    """The image at ``path`` (see the module docstring); one-line errors for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".png":
            data, depth, has_alpha = _read_png(path)
            fmt = "PNG"
        elif suffix in (".tif", ".tiff"):
            data, depth, has_alpha = _read_tiff(path)
            fmt = "TIFF"
        else:
            data, depth, has_alpha = _read_pillow(path)
            fmt = "JPEG" if suffix in (".jpg", ".jpeg") else "PNG"
    except (OSError, ValueError, png.Error, tifffile.TiffFileError) as err:
        if isinstance(err, ValueError) and str(err).startswith(str(path)):
            raise
        raise ValueError(f"{path}: not a readable image ({type(err).__name__}: {err})") from None
    data = _upright(data, _orientation(path))
    colour_planes = data.shape[-1] - (1 if has_alpha else 0)
    alpha = data[..., -1].copy() if has_alpha else None
    values = data[..., :colour_planes]
    scale = 1.0 if depth == "float" else float(2**depth - 1)
    pixels = values.astype(np.float64) / scale
    pixels = pixels[..., 0] if colour_planes == 1 else np.moveaxis(pixels, -1, 0).copy()
    if pixels.shape[-2] < 1 or pixels.shape[-1] < 1:
        raise ValueError(f"{path}: an empty image")
    return ImageFile(pixels=pixels, bit_depth=depth, alpha=alpha, format=fmt, path=path)


def _stored(pixels: np.ndarray, depth) -> np.ndarray:
    """``(H, W, C)`` samples for the file: rounded integers of ``depth`` bits, or float32."""
    a = np.moveaxis(pixels, 0, -1) if pixels.ndim == 3 else pixels[..., None]
    if depth == "float":
        return a.astype(np.float32)
    top = 2**depth - 1
    return np.rint(np.clip(a, 0.0, 1.0) * top).astype(np.uint16 if depth > 8 else np.uint8)


def write_image(path, pixels, *, like: ImageFile | None = None, bit_depth=None, quality: int = 95) -> Path:
    """Write ``pixels`` (``(H, W)`` grey or ``(3, H, W)`` colour, values in ``[0, 1]``, NumPy or torch) to
    ``path`` atomically; the extension picks the format (``FORMATS``). ``like``: the ``ImageFile`` the image came
    from, whose bit depth and alpha are kept (the alpha must have the image's size). ``bit_depth`` overrides
    (8 or 16; JPEG is always 8-bit). Values are clipped to ``[0, 1]`` and rounded."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown output format {path.suffix!r}; expected one of {', '.join(FORMATS)}")
    pixels = np.asarray(to_numpy(pixels), dtype=np.float64)
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[0] != 3):
        raise ValueError(f"write_image: expected pixels (H, W) or (3, H, W), got shape {pixels.shape}")
    depth = bit_depth if bit_depth is not None else (like.bit_depth if like is not None else 8)
    if fmt == "JPEG" or (fmt == "PNG" and depth == "float"):
        depth = 8 if fmt == "JPEG" else 16
    if depth not in (8, 16, "float"):
        raise ValueError(f"write_image: bit_depth must be 8 or 16, got {depth!r}")
    samples = _stored(pixels, depth)
    alpha = None if like is None or fmt == "JPEG" else like.alpha
    if alpha is not None:
        if alpha.shape != samples.shape[:2]:
            raise ValueError(f"write_image: the alpha channel has shape {alpha.shape}, the image {samples.shape[:2]}")
        if depth != "float":
            top = 2**depth - 1
            source_top = 65535 if alpha.dtype == np.uint16 else 255 if alpha.dtype == np.uint8 else 1
            alpha = np.rint(alpha.astype(np.float64) * (top / source_top)).astype(samples.dtype)
        samples = np.concatenate([samples, alpha.astype(samples.dtype)[..., None]], axis=-1)
    height, width, planes = samples.shape

    def write(f):
        if fmt == "PNG":
            writer = png.Writer(width, height, greyscale=planes in (1, 2), alpha=planes in (2, 4), bitdepth=depth)
            writer.write(f, samples.reshape(height, width * planes))
        elif fmt == "TIFF":  # through memory: tifffile wants a named file object
            buffer = io.BytesIO()
            tifffile.imwrite(buffer, samples if planes > 1 else samples[..., 0],
                             photometric="minisblack" if planes in (1, 2) else "rgb",
                             extrasamples=("unassalpha",) if planes in (2, 4) else None)
            f.write(buffer.getvalue())
        else:
            buffer = io.BytesIO()
            Image.fromarray(samples[..., 0] if planes == 1 else samples).save(buffer, format="JPEG", quality=quality)
            f.write(buffer.getvalue())

    return atomic_write(path, write)

