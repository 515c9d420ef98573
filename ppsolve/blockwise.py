r"""Restoring an image larger than memory block by block, on Dask (``ppsolve restore BIG.tif --chunk N``).

The observation ``y`` (``H x W``, or ``3 x H x W``; read lazily, ``ppsolve.largefile``) is cut into blocks of
``chunk x chunk`` pixels (the last ones smaller). Block ``(i, j)`` is restored from the piece of ``y`` that
covers it and ``margin`` more pixels on each side (fewer at the image's edges), by ``photo.restore_image``
with the unknown-boundary model (the piece's surroundings are unknown to it, exactly as a photograph's are);
only the block's interior is kept (``factor`` times larger for super-resolution). Nothing is blended: each
output pixel comes from one piece. Each block is one task of the Dask graph; its piece is read by the task,
and its result written by it (``largefile.BlockOutput``), so no process ever holds more than a few pieces.

What a piece's restoration cannot see. Its output differs from the whole image's near the piece's edge,
through three reaches (``reach``): the blur's (a pixel of ``y`` sees ``r_k`` pixels of ``x`` on each side:
half the kernel, or the downscaler's support), the prior's (the network's receptive radius ``r_p``, the
zoo's ``patch["margin"]``) and ADMM's: each iteration's z-update couples pixels over ``A^T A``'s support
(``2 r_k``) and its prox over ``2 r_p``, so ``n`` iterations reach ``n (2 r_k + 2 r_p)`` pixels at most. That
bound is loose (the influence decays geometrically with the distance: about 3x per 32 pixels for the zoo's
deblurring), and ``default_margin`` is ``4 (r_k + r_p)``, two iterations' worth (in the observation's pixels:
for SR, divided by the factor), rounded up to 8. Measured on a 512 x 512 mosaic of Train400 images in 4 x 4
blocks, 9 x 9 motion blur (``benchmarks/large_image.py --parts margin``; ``docs/large-images.md``): the largest
difference to the whole-image restore is 87, 15, 5.0, 1.9 and 0.9 / 255 at margins 0, 32, 64, 96 and 128
(PSNR within 0.0003 dB from 64 on); the default there is 128.

The default block (``default_chunk``) is the largest whose piece's estimate fits the prior's tile of 1024
pixels (752 for that blur: 752 + 2 x 128 + 8 = 1016), so that no piece is cut into tiles again: the margins'
price is the pieces' area over the blocks', up to ``((chunk + 2 margin) / chunk)^2``.

``noise="auto"`` is estimated on a sample of blocks (``estimate_noise_sampled``: the median over up to 16
blocks spread over the image), never on the whole image, and the same value serves every block. The prior is
chosen once for the whole image. The learned inverses (``inverse="learned"``, ``"learned-pcg"``) are refused:
they are trained per operator, and so per piece size.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np

from ._validate import choice, integer, real_number
from .cluster import current, map_tasks, peak_rss_mib, require_dask
from .largefile import BlockOutput, LargeImage
from .noise import estimate_noise
from .photo import _prior_for, normalised_kernel, restore_image

__all__ = ["DEFAULT_CHUNK", "LargeResult", "block_pieces", "default_margin", "estimate_noise_sampled", "reach",
           "check_inverse", "default_chunk", "restore_block", "restore_large", "restore_lazy"]

#: the largest default block side (``default_chunk``)
DEFAULT_CHUNK = 1024
#: the zoo prior's tile (``restore``'s memory budget): a piece larger than this is itself cut into tiles
_TILE = 1024


def reach(kernel=None, sr=None, downscaler=None, prior: str = "natural-gray") -> dict:
    """The reaches (in the *output*'s pixels) that ``default_margin`` adds up: ``blur`` (the kernel's half
    size, or the downscaler's: Pillow's bicubic spans 2 low-resolution pixels each side, the 3 x 3 Gaussian
    one) and ``prior`` (the zoo prior's receptive radius, its ``patch["margin"]``)."""
    from . import zoo

    f = 1 if sr is None else integer(sr, "sr", 2, 4)
    blur = 0
    if kernel is not None:
        k = normalised_kernel(kernel)
        blur = max(k.shape) // 2
    elif sr is not None:
        blur = 2 * f if (downscaler or "bicubic") == "bicubic" else f
    entry = zoo.info(prior)
    radius = int((entry.get("patch") or {}).get("margin", 0))
    return {"blur": int(blur), "prior": radius, "factor": f}


def default_margin(kernel=None, sr=None, downscaler=None, prior: str = "natural-gray") -> int:
    """The margin, in the observation's pixels, each piece gets around its block (see the module
    docstring): ``4 (r_blur + r_prior) / factor``, rounded up to a multiple of 8."""
    r = reach(kernel, sr, downscaler, prior)
    pixels = 4 * (r["blur"] + r["prior"]) / r["factor"]
    return int(8 * math.ceil(pixels / 8))


def check_inverse(inverse: str) -> None:
    """Refuse the learned inverses: they are trained per operator, so per piece size."""
    choice(inverse, "inverse", ("auto", "fourier", "cg", "learned", "learned-pcg"))
    if inverse in ("learned", "learned-pcg"):
        raise ValueError(f"--inverse {inverse}: learned inverses are trained per operator, so per piece size; block-wise "
                         "restoration uses auto, cg or fourier")


def default_chunk(margin: int, factor: int = 1, border: int = 0) -> int:
    """The default block side, in the observation's pixels: the largest multiple of 16 whose piece (the block
    and ``margin`` on each side, ``factor`` times larger in the estimate, which the unknown-boundary model
    extends by ``border`` pixels: ``2 r_blur``) fits the prior's tile, so that no piece is tiled again; at
    most ``DEFAULT_CHUNK``, at least 64."""
    side = (_TILE - border) // factor - 2 * margin
    return int(min(DEFAULT_CHUNK, max(64, 16 * (side // 16))))


def block_pieces(size, chunk: int, margin: int):
    """For an observation of ``size = (H, W)``: ``[(index, interior, piece), ...]`` in row-major order, where
    ``interior`` and ``piece`` are ``(rows, cols)`` slices of the observation: the block and the block with
    ``margin`` pixels more on each side, clipped to the image."""
    H, W = (int(s) for s in size)
    out = []
    for i, r0 in enumerate(range(0, H, chunk)):
        for j, c0 in enumerate(range(0, W, chunk)):
            r1, c1 = min(r0 + chunk, H), min(c0 + chunk, W)
            interior = (slice(r0, r1), slice(c0, c1))
            piece = (slice(max(0, r0 - margin), min(H, r1 + margin)), slice(max(0, c0 - margin), min(W, c1 + margin)))
            out.append(((i, j), interior, piece))
    return out


def restore_block(y_piece: np.ndarray, interior, piece, factor: int, options: dict, restore=None) -> np.ndarray:
    """Restore one piece (``restore(y_piece, **options).x``, ``restore`` defaulting to ``restore_image``) and
    return the block's interior of the estimate (``factor`` times the interior's size)."""
    x = np.asarray((restore or restore_image)(y_piece, **options).x)
    f = factor
    top, left = interior[0].start - piece[0].start, interior[1].start - piece[1].start
    h, w = interior[0].stop - interior[0].start, interior[1].stop - interior[1].start
    return np.ascontiguousarray(x[..., f * top:f * (top + h), f * left:f * (left + w)])


def _run_block(source: LargeImage, out: BlockOutput, index, interior, piece, factor, options, restore) -> dict:
    """A task: read a piece, restore it, write its block; returns what the run's report adds up."""
    start = time.process_time()
    x = restore_block(source.read(*piece), interior, piece, factor, options, restore)
    out.write(index, x)
    return {"index": list(index), "cpu_seconds": time.process_time() - start, "pid": os.getpid(),
            "peak_rss_mib": peak_rss_mib()}


def _unit(region, dtype) -> np.ndarray:
    """A region of an array in memory on the ``[0, 1]`` scale (as ``LargeImage.read``)."""
    return LargeImage(np.asarray(region)).read(slice(None), slice(None))


def estimate_noise_sampled(source: LargeImage, chunk: int = 512, samples: int = 16) -> float:
    """The noise level of a large image from at most ``samples`` blocks of ``chunk`` pixels spread evenly over it
    (a grid's cells, each block at its cell's centre): the median of ``estimate_noise`` on each."""
    H, W = source.size
    side = max(1, math.isqrt(samples))
    values = []
    for a in range(side):
        for b in range(side):
            r = int((a + 0.5) * H / side - chunk / 2)
            c = int((b + 0.5) * W / side - chunk / 2)
            r, c = min(max(r, 0), max(H - chunk, 0)), min(max(c, 0), max(W - chunk, 0))
            values.append(estimate_noise(source.read(slice(r, r + chunk), slice(c, c + chunk))))
    return float(np.median(values))


@dataclass
class LargeResult:
    """What ``restore_large`` did: the output, the noise level (and whether estimated), the prior, the
    blocks restored now and those found already written, and the per-block reports (CPU-s, worker, peak RSS)."""

    output: object
    noise: float
    noise_estimated: bool
    prior: str
    margin: int
    chunk: int
    restored: int
    skipped: int
    blocks: list

    def peak_rss_per_worker(self) -> dict:
        """{worker pid: the largest peak RSS (MiB) any of its blocks reported}."""
        peaks: dict = {}
        for b in self.blocks:
            peaks[b["pid"]] = max(peaks.get(b["pid"], 0.0), b["peak_rss_mib"])
        return peaks


def _options(source, kernel, sr, downscaler, boundary, noise, prior, inverse, device, margin, chunk, ensemble,
             backend):
    if kernel is not None:
        kernel = normalised_kernel(kernel)
    check_inverse(inverse)
    name, _ = _prior_for(len(source.shape) == 3, prior)
    margin = default_margin(kernel, sr, downscaler, name) if margin is None else integer(margin, "margin", minimum=0)
    f = 1 if sr is None else integer(sr, "sr", 2, 4)
    border = 2 * reach(kernel, sr, downscaler, name)["blur"]
    chunk = default_chunk(margin, f, border) if chunk is None else integer(chunk, "chunk", minimum=16)
    estimated = isinstance(noise, str)
    if estimated:
        choice(noise, "noise", ("auto",))
        noise = estimate_noise_sampled(source)
    noise = real_number(noise, "noise")
    options = {"kernel": kernel, "sr": sr, "downscaler": downscaler, "boundary": boundary, "noise": float(noise),
               "prior": prior, "inverse": inverse, "device": device, "ensemble": ensemble, "backend": backend}
    return options, name, margin, chunk, estimated


def _settings(source: LargeImage, options: dict, margin: int, chunk: int, restore) -> dict:
    """What an output must have been made with to be resumed (the kernel by its values)."""
    from ._version import __version__

    # where and how the network runs (device, backend) changes outputs only by rounding: not a setting
    kept = {k: v for k, v in options.items() if k not in ("kernel", "device", "backend")}
    kept["kernel"] = None if options["kernel"] is None else np.round(options["kernel"], 12).tolist()
    kept["restore"] = None if restore is None else f"{restore.__module__}.{restore.__qualname__}"
    return {**kept, "margin": margin, "chunk": chunk, "input_shape": list(source.shape),
            "input": str(source.path) if source.path else None, "version": __version__}


def restore_large(image, output, *, kernel=None, sr=None, downscaler=None, boundary: str = "unknown", noise="auto",
                  prior: str | None = None, inverse: str = "auto", chunk: int | None = None, margin: int | None = None,
                  dtype=None, client=None, device=None, progress: bool = False, restore=None,
                  ensemble: int | None = None, backend: str = "torch") -> LargeResult:
    """Restore ``image`` (a Zarr / TIFF path, a ``zarr.Array``, or an array) block by block into ``output`` (a
    ``.zarr`` folder or a ``.tif`` file), on ``client`` (a ``distributed.Client``; default: the current one,
    else Dask's threaded scheduler). The options are ``restore_image``'s; ``chunk`` and ``margin`` as in the
    module docstring. ``dtype``: the output's pixels (default: the input's, float32 for float input). An
    output left by an interrupted run with the same settings is resumed. ``restore``: what restores a piece,
    ``restore(y_piece, **options)`` returning an object with the estimate as ``.x`` (default
    ``photo.restore_image``; a module-level function, so that it pickles to the workers), e.g. a cheaper
    prior. Returns a ``LargeResult``."""
    require_dask()
    source = image if isinstance(image, LargeImage) else LargeImage(image)
    options, name, margin, chunk, estimated = _options(source, kernel, sr, downscaler, boundary, noise, prior, inverse,
                                                       device, margin, chunk, ensemble, backend)
    f = 1 if sr is None else int(sr)
    shape = source.shape[:-2] + (f * source.size[0], f * source.size[1])
    dtype = np.dtype(dtype or (source.dtype if source.dtype.kind == "u" else np.float32))
    out = BlockOutput(output, shape, f * chunk, dtype, _settings(source, options, margin, chunk, restore))
    done = out.done()
    todo = [(index, interior, piece) for index, interior, piece in block_pieces(source.size, chunk, margin)
            if index not in done]
    client = current(client)
    shared = client.scatter(source, broadcast=True) if client is not None and todo and source.kind == "array" else source
    reports = map_tasks(_run_block, [(shared, out, index, interior, piece, f, options, restore)
                                     for index, interior, piece in todo], client, progress)
    written = out.finish()
    return LargeResult(written, options["noise"], estimated, name, margin, chunk, len(todo), len(done), reports)


def restore_lazy(y, *, kernel=None, sr=None, downscaler=None, boundary: str = "unknown", noise="auto",
                 prior: str | None = None, inverse: str = "auto", chunk: int | None = None, margin: int | None = None,
                 device=None, ensemble: int | None = None, backend: str = "torch"):
    """The block-wise estimate of ``y`` (an array, NumPy or dask, ``(H, W)`` or ``(3, H, W)`` on ``[0, 1]``) as
    a lazy dask array of blocks (``chunk x chunk`` times the SR factor), for composing with other dask work;
    ``restore_large`` is the path for outputs on disk. The options are ``restore_large``'s."""
    require_dask()
    import dask
    import dask.array as da

    source = LargeImage(y)
    options, _, margin, chunk, _ = _options(source, kernel, sr, downscaler, boundary, noise, prior, inverse, device,
                                            margin, chunk, ensemble, backend)
    f = 1 if sr is None else int(sr)
    lead = source.shape[:-2]
    rows = {}
    for index, interior, piece in block_pieces(source.size, chunk, margin):
        if isinstance(y, da.Array):
            region = dask.delayed(_unit)(y[(slice(None),) * len(lead) + piece], source.dtype)
        else:
            region = source.read(*piece)
        shape = lead + tuple(f * (s.stop - s.start) for s in interior)
        task = dask.delayed(restore_block)(region, interior, piece, f, options)
        rows.setdefault(index[0], []).append(da.from_delayed(task, shape=shape, dtype=np.float64))
    return da.block([rows[i] for i in sorted(rows)])
