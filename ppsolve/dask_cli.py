"""The Dask side of ``ppsolve restore``: a folder (or ``--list``) of images (``ppsolve.batch``) and one image
larger than memory (``ppsolve.blockwise``), each on the cluster of ``ppsolve.cluster.client``.

A single input takes the block-wise path when it is a Zarr folder, a TIFF of more than ``LARGE_PIXELS``
pixels, or when ``--chunk`` is given; its output is a ``.zarr`` folder or a ``.tif``. A folder input (or
``--list``) takes the batch path; its output is a folder. Both print Dask's progress bar (unless
``--quiet``), the dashboard's address when one runs, and a summary; ``--json`` prints the summary (and, for a
batch, each image's report) as JSON lines. A batch with failed images exits with status 1 after the others.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .blockwise import DEFAULT_CHUNK, check_inverse, restore_large
from .cluster import client
from .largefile import TIFF_SUFFIXES

__all__ = ["DEFAULT_CHUNK", "LARGE_PIXELS", "batch_main", "is_large", "large_main"]

#: a single TIFF with more pixels than this is restored block by block (8192 x 8192)
LARGE_PIXELS = 8192 * 8192


def is_large(path: Path, chunk) -> bool:
    """Whether ``ppsolve restore`` restores ``path`` block by block (see the module docstring)."""
    if path.is_dir():
        return path.suffix.lower() == ".zarr"
    if chunk is not None:
        return True
    if path.suffix.lower() in (".tif", ".tiff") and path.is_file():
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                shape = tif.series[0].shape
        except Exception:  # not a readable TIFF: the ordinary reader reports it
            return False
        dims = sorted(int(s) for s in shape if int(s) > 4)
        return len(dims) >= 2 and dims[-1] * dims[-2] > LARGE_PIXELS
    return False


def _client(args):
    return client(workers=args.workers, threads_per_worker=args.threads_per_worker, memory_limit=args.memory_limit,
                  scheduler=args.scheduler, quiet=args.quiet)


def large_main(args, options: dict) -> int:
    """One large image, block by block."""
    if args.reference is not None or args.compare is not None:
        raise ValueError("--reference and --compare are for images that fit in memory")
    options = {k: v for k, v in options.items() if k != "threads"}  # the workers' own knob
    if args.output.suffix.lower() not in (".zarr", *TIFF_SUFFIXES):  # before a cluster starts
        raise ValueError(f"-o {args.output}: a large image is written to a Zarr folder (.zarr) or a TIFF (.tif)")
    check_inverse(options["inverse"])
    with _client(args) as c:
        result = restore_large(args.inputs[0], args.output, chunk=args.chunk, margin=args.margin, client=c,
                               progress=not args.quiet, **options)
    peaks = result.peak_rss_per_worker()
    summary = {"input": str(args.inputs[0]), "output": str(result.output), "noise": result.noise,
               "noise_estimated": result.noise_estimated, "prior": result.prior, "chunk": result.chunk,
               "margin": result.margin, "blocks_restored": result.restored, "blocks_skipped": result.skipped,
               "cpu_seconds": sum(b["cpu_seconds"] for b in result.blocks),
               "peak_rss_mib_per_worker": sorted(round(v) for v in peaks.values())}
    if args.json:
        print(json.dumps(summary))
    else:
        how = "estimated" if result.noise_estimated else "given"
        print(f"{args.inputs[0]} -> {result.output}: {result.restored} block(s) of {result.chunk} restored, "
              f"{result.skipped} already written, margin {result.margin}, prior {result.prior}, noise "
              f"{result.noise:.4f} {how}, {summary['cpu_seconds']:.0f} CPU-s, peak RSS per worker "
              f"{summary['peak_rss_mib_per_worker']} MiB")
    return 0


def batch_main(args, options: dict) -> int:
    """A folder or list of images, one task each."""
    from .batch import images_in, images_listed, restore_batch

    if args.list is not None and args.inputs:
        raise ValueError("restore: give a folder or --list FILE, not both")
    if args.compare is not None:
        raise ValueError("--compare is for one input")
    if args.reference is not None and not args.reference.is_dir():
        raise ValueError(f"--reference {args.reference}: for a folder of inputs, expected a folder of references")
    paths = images_listed(args.list) if args.list is not None else images_in(args.inputs[0])
    options = {k: v for k, v in options.items() if k != "threads"}
    with _client(args) as c:
        result = restore_batch(paths, args.output, client=c, reference_dir=args.reference, fmt=args.format,
                               skip_existing=not args.rerun, progress=not args.quiet, **options)
    summary = result.summary()
    for report in result.reports:
        if args.json:
            print(json.dumps(report))
        if "error" in report:
            print(f"ppsolve restore: {report['input']}: skipped: {report['error']}", file=sys.stderr)
    if args.json:
        print(json.dumps({"summary": summary}))
    else:
        scores = f", mean PSNR {summary['mean_psnr']:.2f} dB, SSIM {summary['mean_ssim']:.4f}" if "mean_psnr" in summary else ""
        print(f"{len(paths)} image(s): {summary['restored']} restored, {summary['skipped']} already done, "
              f"{summary['failed']} failed, {summary['wall_seconds']:.1f} s ({summary['images_per_second']:.2f} "
              f"images/s){scores} -> {args.output}")
    return 1 if result.failures else 0
