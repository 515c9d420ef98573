r"""Restoring many image files on Dask: ``ppsolve restore DIR -o OUTDIR`` (or ``--list FILE``).

One task per image (``photo_files.restore_file``), on the cluster of ``ppsolve.cluster.client``; the same
options for every image, each image's noise estimated on itself unless given. What a batch of thousands
needs:

* **atomic outputs**: each output is written to a temporary name and renamed, so a file at an output's name
  is a finished one;
* **reruns skip finished outputs**: an interrupted batch, run again, restores only the images whose outputs
  are missing (``skip_existing``);
* **a bad file is skipped**: its error is reported (one line, in the summary and in the report) and the
  others go on;
* **a summary**: images restored, skipped, failed, wall time, images per second, and the mean PSNR / SSIM
  where references are given (``reference_dir``: the file of the same name, or the same stem with any image
  extension).

``images_in(folder)`` lists a folder's image files (sorted; not recursive); ``images_listed(file)`` reads a
list (one path a line, relative to the list's folder; blank lines and ``#`` comments ignored).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .cluster import current, map_tasks, require_dask
from .imagefile import FORMATS
from .photo_files import output_name, restore_file

__all__ = ["BatchResult", "images_in", "images_listed", "output_name", "reference_for", "restore_batch"]

_IMAGE_SUFFIXES = tuple(FORMATS) + (".jpg", ".jpeg")


def images_in(folder) -> list[Path]:
    """The image files of ``folder`` (by extension), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: not a folder")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES)


def images_listed(listing) -> list[Path]:
    """The paths in the text file ``listing`` (see the module docstring)."""
    listing = Path(listing)
    if not listing.is_file():
        raise FileNotFoundError(f"--list {listing}: no such file")
    paths = []
    for line in listing.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line)
            paths.append(p if p.is_absolute() else listing.parent / p)
    return paths


def reference_for(path: Path, reference_dir) -> Path | None:
    """The reference of ``path`` in ``reference_dir``: the same name, else the same stem (None if neither)."""
    if reference_dir is None:
        return None
    folder = Path(reference_dir)
    same = folder / path.name
    if same.is_file():
        return same
    return next((p for p in sorted(folder.glob(f"{path.stem}.*")) if p.suffix.lower() in _IMAGE_SUFFIXES), None)


def _task(path: Path, out: Path, reference, options: dict) -> dict:
    """One image, as a task: its report, or its error (a failed image never fails the batch)."""
    try:
        return restore_file(path, out, reference=reference, **options)
    except Exception as err:  # reported and skipped; the others go on
        return {"input": str(path), "output": str(out), "error": f"{type(err).__name__}: {' '.join(str(err).split())}"}


@dataclass
class BatchResult:
    """What ``restore_batch`` did: the reports of the images restored now (failed ones have ``"error"``), the
    outputs found finished and skipped, and the wall time."""

    reports: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def failures(self) -> list:
        return [r for r in self.reports if "error" in r]

    def summary(self) -> dict:
        done = [r for r in self.reports if "error" not in r]
        scored = [r for r in done if "psnr" in r]
        out = {"restored": len(done), "failed": len(self.failures), "skipped": len(self.skipped),
               "wall_seconds": self.wall_seconds,
               "images_per_second": len(done) / self.wall_seconds if self.wall_seconds > 0 else 0.0,
               "cpu_seconds": sum(r["cpu_seconds"] for r in done)}
        if scored:
            out["mean_psnr"] = sum(r["psnr"] for r in scored) / len(scored)
            out["mean_ssim"] = sum(r["ssim"] for r in scored) / len(scored)
        return out


def restore_batch(paths, outdir, *, client=None, reference_dir=None, fmt: str | None = None, skip_existing: bool = True,
                  progress: bool = False, **options) -> BatchResult:
    """Restore every image file of ``paths`` into ``outdir`` (created), one Dask task each, on ``client`` (a
    ``distributed.Client``; default: the current one, else Dask's threaded scheduler in this process);
    ``options`` are ``restore_image``'s. See the module docstring. Returns a ``BatchResult``."""
    require_dask()
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("restore: no image files to restore")
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise ValueError(f"-o {outdir}: several inputs need an output folder")
    outdir.mkdir(parents=True, exist_ok=True)
    outputs = [output_name(p, outdir, fmt) for p in paths]
    if len(set(outputs)) != len(outputs):
        clash = next(o for o in outputs if outputs.count(o) > 1)
        raise ValueError(f"restore: two inputs would both be written to {clash}; give each a different stem")
    result = BatchResult()
    jobs = []
    for path, out in zip(paths, outputs):
        if skip_existing and out.is_file():
            result.skipped.append(str(out))
        else:
            jobs.append((path, out, reference_for(path, reference_dir)))
    start = time.perf_counter()
    result.reports = map_tasks(_task, [(p, o, r, options) for p, o, r in jobs], current(client), progress)
    result.wall_seconds = time.perf_counter() - start
    return result
