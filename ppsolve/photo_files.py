"""``restore_file``: one image file in, one restored image file out (``photo.restore_image`` between them).

The file-level step that ``ppsolve restore`` runs for each input, in this process or as one task of a batch
on Dask (``ppsolve.batch``). The output keeps the input's bit depth, grey or colour mode and alpha channel
(upscaled with the image for ``sr``) and is written atomically (``imagefile.write_image``), so a file at the
output's name is always a finished one.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .imagefile import FORMATS, ImageFile, read_image, write_image
from .metrics import psnr, ssim
from .operators import Resize
from .photo import restore_image

__all__ = ["output_name", "restore_file", "side_by_side"]


def output_name(path: Path, outdir: Path, fmt: str | None = None) -> Path:
    """``outdir/STEM.EXT`` for the input ``path``: ``fmt``'s extension if given (png, tiff, jpeg), else the
    input's (PNG for a JPEG or an unknown format)."""
    suffix = {"png": ".png", "tiff": ".tif", "jpeg": ".jpg"}.get(fmt or "", None)
    if suffix is None:
        suffix = Path(path).suffix.lower()
        suffix = ".png" if suffix in (".jpg", ".jpeg") or suffix not in FORMATS else suffix
    return Path(outdir) / f"{Path(path).stem}{suffix}"


def side_by_side(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The input (nearest-upscaled to the output's size) and the output, side by side, grey or colour."""
    f = after.shape[-1] // before.shape[-1]
    if f > 1:
        before = np.repeat(np.repeat(before, f, axis=-2), f, axis=-1)
    before = before[..., : after.shape[-2], : after.shape[-1]]
    gap = np.ones(after.shape[:-1] + (8,))
    return np.concatenate([before, gap, after], axis=-1)


def restore_file(path, out, *, reference=None, compare=None, progress: bool = False, **options) -> dict:
    """Restore the image file ``path`` into ``out`` with ``restore_image(pixels, **options)``; returns a report
    (input, output, shape, task, noise and whether estimated, prior, CPU seconds, and PSNR / SSIM against the
    image file ``reference`` if given, whose shape is checked before the work). ``compare``: a PNG to write the
    input and the output side by side into."""
    path, out = Path(path), Path(out)
    image = read_image(path)
    ref = None
    if reference is not None:  # checked before the work, not after it
        ref = read_image(reference).pixels
        f = options.get("sr") or 1
        expected = image.pixels.shape[:-2] + (f * image.pixels.shape[-2], f * image.pixels.shape[-1])
        if ref.shape != expected:
            raise ValueError(f"--reference {reference}: expected shape {expected} (the output's), got {ref.shape}")
    start = time.process_time()
    result = restore_image(image.pixels, progress=progress, **options)
    seconds = time.process_time() - start
    like = image
    if image.alpha is not None and options.get("sr"):  # the alpha channel grows with the image
        alpha = image.alpha.astype(np.float64) / (65535 if image.alpha.dtype == np.uint16 else 255)
        up = Resize(alpha.shape, result.x.shape[-2:]).apply(alpha)
        like = ImageFile(result.x, image.bit_depth, np.rint(np.clip(up, 0, 1) * 255).astype(np.uint8), image.format)
    written = write_image(out, result.x, like=like)
    report = {"input": str(path), "output": str(written), "shape": list(result.x.shape), "noise": result.noise,
              "noise_estimated": result.noise_estimated, "prior": result.prior, "cpu_seconds": seconds,
              "task": result.model.task}
    if ref is not None:
        report["psnr"] = psnr(result.x, ref)
        report["ssim"] = ssim(result.x, ref)
    if compare is not None:
        write_image(compare, side_by_side(image.pixels, result.x), bit_depth=8)
        report["compare"] = str(compare)
    return report
