r"""Images larger than memory, restored block by block on a Dask LocalCluster (``ppsolve.blockwise``).

Data: no shared image is large, so each input is a mosaic of Train400 images (180 x 180 grey, each tile drawn
at random with ``seed``), built block by block by Dask and never whole: the mosaic ``(N + 8) x (N + 8)``
is correlated as a whole with the shared 9 x 9 motion kernel (``dask.array.map_overlap``), its central
``N x N`` (the valid part: its scene goes on past the frame) gets white noise of 0.01 and is written to Zarr
(float32). ``--parts memory`` denoises instead (no blur) with a cheap prior, 20 steps of the TV proximal
operator per piece (``tv_piece``, through ``restore_large``'s ``restore=``), so that 16384^2 (1 GiB per
float32 copy) stays affordable: memory, not quality, is what it measures.

Parts (``--parts``, default all but ``memory``):

* ``margin``: ``--margin-size`` (1024) in blocks of a quarter of it, margins ``--margins``: PSNR against the
  sharp mosaic and the largest difference to the whole-image restore (``photo.restore_image`` in this process);
* ``check``: 2048^2 in 4 x 4 blocks at the default margin, the same comparison (the issue's 0.01 dB and 2/255);
* ``cost``: ``--sizes`` with the zoo prior, default chunk and margin, 2 workers: CPU-s per megapixel summed
  over the workers (their processes' CPU time), against one process restoring 1024^2 whole; peak RSS per worker;
* ``throughput``: 384^2 in 4 x 4 blocks of 96 (margin 32) with 1 worker, then 2 workers (one thread each): the
  wall-time ratio (a small problem, so that the machine is otherwise idle while it runs);
* ``memory``: ``--memory-sizes`` (8192, 16384), TV denoising: peak RSS per worker and of this process;
* ``overhead``: one worker restores 256^2 (one block, a 504^2 piece) as ``ppsolve.cluster`` sets it up, then
  with Dask's statistical profiler on (``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=True``), then with Dask's
  default ``MALLOC_TRIM_THRESHOLD_=65536``, twice each in alternation: the worker's user and system CPU seconds;
* ``batch``: the 68 BSD68 images whole (481 x 321), noise 0.02 added (8-bit PNGs written first), denoised with
  ``natural-gray`` by ``batch.restore_batch`` with 1 worker, then 2: images per second; and the first
  ``--batch-deblur`` (8) of them blurred by the motion kernel (valid part) and deblurred, the same way.

Every cluster is new (so peak RSS is the run's); workers have one thread each (``ppsolve.cluster``). Writes
<out>/large_image.json (each part's rows, merged into an existing file).

Run:   python benchmarks/large_image.py [--parts margin check cost throughput memory] [--out results/large_image]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import _timing  # noqa: F401 - thread settings before NumPy / torch start their pools
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import DATA  # noqa: E402

from ppsolve import cluster  # noqa: E402
from ppsolve.blockwise import default_margin, restore_large  # noqa: E402
from ppsolve.data import list_images, load_image  # noqa: E402
from ppsolve.metrics import psnr  # noqa: E402
from ppsolve.photo import restore_image  # noqa: E402

NOISE = 0.01
PARTS = ("margin", "check", "cost", "throughput", "memory", "batch", "overhead")


def tv_piece(y, noise, **_):
    """A cheap restoration of a piece for the memory part: 20 FGP steps of TV's proximal operator."""
    from types import SimpleNamespace

    from ppsolve.prox import TV
    return SimpleNamespace(x=TV(iters=20).prox(y, 2 * noise))


def kernel() -> np.ndarray:
    k = np.loadtxt(DATA / "kernels" / "motion9_30deg.txt")
    return k / k.sum()


def make_input(size: int, folder: Path, blur: bool = True, seed: int = 0, chunk: int = 1024) -> dict:
    """Write ``folder/y.zarr`` (the observation) and ``folder/x.zarr`` (the sharp mosaic), block by block."""
    import dask.array as da
    from scipy.ndimage import correlate

    folder.mkdir(parents=True, exist_ok=True)
    y_path, x_path = folder / "y.zarr", folder / "x.zarr"
    if (folder / "done").exists():
        return {"y": y_path, "x": x_path}
    tiles = [load_image(p).astype(np.float32) for p in list_images(DATA / "train400")]
    t = tiles[0].shape[0]
    k = kernel()
    r = k.shape[0] // 2 if blur else 0
    n = size + 2 * r
    grid = -(-n // t)
    choice = np.random.default_rng(seed).integers(0, len(tiles), size=(grid, grid))

    def fill(block, block_info=None):
        (r0, r1), (c0, c1) = block_info[None]["array-location"]
        out = np.empty((r1 - r0, c1 - c0), np.float32)
        for a in range(r0 // t, (r1 - 1) // t + 1):
            for b in range(c0 // t, (c1 - 1) // t + 1):
                rr = slice(max(r0, a * t), min(r1, (a + 1) * t))
                cc = slice(max(c0, b * t), min(c1, (b + 1) * t))
                out[rr.start - r0:rr.stop - r0, cc.start - c0:cc.stop - c0] = \
                    tiles[choice[a, b]][rr.start - a * t:rr.stop - a * t, cc.start - b * t:cc.stop - b * t]
        return out

    mosaic = da.zeros((n, n), dtype=np.float32, chunks=chunk).map_blocks(fill, dtype=np.float32)
    sharp = mosaic[r:r + size, r:r + size]
    blurred = mosaic.map_overlap(lambda b: correlate(b, k.astype(np.float32), mode="reflect"), depth=r,
                                 boundary="reflect")[r:r + size, r:r + size] if blur else sharp
    noise = da.random.default_rng(seed + 1).standard_normal((size, size), chunks=chunk, dtype=np.float32)
    y = (blurred + np.float32(NOISE) * noise).rechunk(chunk)
    da.to_zarr(sharp.rechunk(chunk), str(x_path), overwrite=True)
    da.to_zarr(y, str(y_path), overwrite=True)
    (folder / "done").write_text("ok")
    return {"y": y_path, "x": x_path}


def read_all(path) -> np.ndarray:
    import zarr
    return np.asarray(zarr.open_array(path, mode="r")[...], dtype=np.float64)


def batch_inputs(folder: Path, blur: bool, count: int | None = None) -> tuple[list, Path]:
    """BSD68 whole images, noisy (and blurred, valid part), written as 8-bit PNGs; and their references' folder."""
    from scipy.signal import fftconvolve

    from ppsolve.imagefile import write_image
    src, refs = folder / "inputs", folder / "references"
    src.mkdir(parents=True, exist_ok=True), refs.mkdir(parents=True, exist_ok=True)
    k = kernel()
    r = k.shape[0] // 2
    paths = list_images(DATA / "bsd68")[:count]
    for i, p in enumerate(paths):
        if (src / p.name).exists():
            continue
        x = load_image(p)
        y = fftconvolve(x, k[::-1, ::-1], mode="valid") if blur else x
        ref = x[r:-r, r:-r] if blur else x
        rng = np.random.default_rng(i)
        write_image(refs / p.name, ref)
        write_image(src / p.name, np.clip(y + (NOISE if blur else 0.02) * rng.standard_normal(y.shape), 0, 1))
    return sorted(src / p.name for p in paths), refs


def run_batch(paths, refs, out: Path, workers: int, **options) -> dict:
    from ppsolve.batch import restore_batch

    shutil.rmtree(out, ignore_errors=True)
    with cluster.client(workers=workers, threads_per_worker=1, quiet=True) as c:
        c.submit(lambda: 0).result()  # the workers are up
        result = restore_batch(paths, out, client=c, reference_dir=refs, **options)
    return result.summary()


def run_blocks(y, out: Path, workers: int, times: bool = False, **options) -> dict:
    """restore_large on a new LocalCluster; wall time, the workers' CPU-s and peak RSS (``times``: also the user
    and system seconds summed over the workers)."""
    import psutil

    shutil.rmtree(out, ignore_errors=True)
    with cluster.client(workers=workers, threads_per_worker=1, quiet=True) as c:
        before = c.run(lambda: psutil.Process().cpu_times())
        start = time.perf_counter()
        result = restore_large(y, out, noise=NOISE, client=c, **options)
        wall = time.perf_counter() - start
        after = c.run(lambda: psutil.Process().cpu_times())
        rss = c.run(cluster.peak_rss_mib)
    cpu = sum((after[w].user + after[w].system) - (before[w].user + before[w].system) for w in after)
    row = {"wall_s": wall, "worker_cpu_s": cpu, "peak_rss_mib_per_worker": sorted(rss.values()),
           "margin": result.margin, "chunk": result.chunk, "blocks": result.restored}
    if times:
        row["worker_user_system_s"] = [sum(after[w].user - before[w].user for w in after),
                                       sum(after[w].system - before[w].system for w in after)]
    return row


def whole_restore(y_path) -> tuple:
    """The whole-image restore (a task: it runs in a worker beside the blocks' tasks) and its CPU seconds."""
    start = time.process_time()
    x = restore_image(read_all(y_path), kernel=kernel(), noise=NOISE).x
    return x, time.process_time() - start


def compare_to_whole(inputs, margins, chunk, out: Path) -> list:
    sharp = read_all(inputs["x"])
    k = kernel()
    whole, whole_cpu = whole_restore(inputs["y"])
    rows = [{"margin": "whole image", "psnr": psnr(whole, sharp), "cpu_s": whole_cpu}]
    print(f"  whole image: {rows[0]['psnr']:.3f} dB, {whole_cpu:.0f} CPU-s", flush=True)
    for m in margins:
        run = run_blocks(inputs["y"], out / "x.zarr", 2, kernel=k, chunk=chunk, margin=m)
        x = read_all(out / "x.zarr")
        row = {"margin": run["margin"], "chunk": chunk, "psnr": psnr(x, sharp), "psnr_gap_db": psnr(x, sharp) - rows[0]["psnr"],
               "max_abs_diff_255": float(np.abs(x - whole).max() * 255),
               "mean_abs_diff_255": float(np.abs(x - whole).mean() * 255), **run}
        rows.append(row)
        print(f"  margin {row['margin']:4d}: {row['psnr']:.3f} dB ({row['psnr_gap_db']:+.4f}), max |diff| "
              f"{row['max_abs_diff_255']:.2f}/255, mean {row['mean_abs_diff_255']:.4f}/255, {run['worker_cpu_s']:.0f} "
              f"worker CPU-s", flush=True)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parts", nargs="+", choices=PARTS, default=[p for p in PARTS if p not in ("memory", "overhead")])
    p.add_argument("--margin-size", type=int, default=1024)
    p.add_argument("--margins", type=int, nargs="+", default=[0, 16, 32, 64, 96])
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096])
    p.add_argument("--memory-sizes", type=int, nargs="+", default=[8192, 16384])
    p.add_argument("--batch-deblur", type=int, default=8, help="BSD68 images in the deblurring batch")
    p.add_argument("--work", type=Path, default=ROOT / "results" / "large_image" / "data")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "large_image")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    report_path = args.out / "large_image.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    k = kernel()
    scratch = args.out / "scratch"  # one per --out, so that runs side by side do not share it

    def save():
        report_path.write_text(json.dumps(report, indent=1))

    if "margin" in args.parts:
        n = args.margin_size
        print(f"margin curve: {n}^2 in blocks of {n // 4}, default margin {default_margin(k)}", flush=True)
        report["margin"] = compare_to_whole(make_input(n, args.work / f"deblur{n}"), args.margins, n // 4, scratch)
        save()
    if "check" in args.parts:
        print(f"check: 2048^2 in 4 x 4 blocks at the default margin ({default_margin(k)}); the whole image restored "
              "in one worker beside the blocks", flush=True)
        inputs = make_input(2048, args.work / "deblur2048")
        shutil.rmtree(scratch, ignore_errors=True)
        with cluster.client(workers=2, threads_per_worker=1, quiet=True) as c:
            pending = c.submit(whole_restore, inputs["y"], pure=False)
            start = time.perf_counter()
            result = restore_large(inputs["y"], scratch / "x.zarr", kernel=k, noise=NOISE, chunk=512, client=c)
            whole, whole_cpu = pending.result()
            wall = time.perf_counter() - start
        sharp, x = read_all(inputs["x"]), read_all(scratch / "x.zarr")
        row = {"size": 2048, "chunk": 512, "margin": result.margin, "blocks": result.restored, "wall_s": wall,
               "psnr_whole": psnr(whole, sharp), "psnr_blocks": psnr(x, sharp), "whole_cpu_s": whole_cpu,
               "blocks_cpu_s": sum(b["cpu_seconds"] for b in result.blocks),
               "max_abs_diff_255": float(np.abs(x - whole).max() * 255),
               "mean_abs_diff_255": float(np.abs(x - whole).mean() * 255)}
        row["psnr_gap_db"] = row["psnr_blocks"] - row["psnr_whole"]
        report["check"] = row
        print(f"  whole {row['psnr_whole']:.3f} dB ({whole_cpu:.0f} CPU-s), {result.restored} blocks "
              f"{row['psnr_blocks']:.3f} dB ({row['psnr_gap_db']:+.4f}), max |diff| {row['max_abs_diff_255']:.2f}/255, "
              f"mean {row['mean_abs_diff_255']:.4f}/255, blocks {row['blocks_cpu_s']:.0f} CPU-s, {wall:.0f} s wall",
              flush=True)
        save()
    if "cost" in args.parts:
        print("cost: CPU-s per megapixel, 2 workers, default chunk and margin", flush=True)
        y = read_all(make_input(1024, args.work / "deblur1024")["y"])
        start = time.process_time()
        restore_image(y, kernel=k, noise=NOISE)
        one = (time.process_time() - start) / (1024 * 1024 / 1e6)
        rows = [{"size": "1024 (one process, whole)", "cpu_s_per_mp": one}]
        print(f"  one process, 1024^2 whole: {one:.1f} CPU-s/MP", flush=True)
        for n in args.sizes:
            run = run_blocks(make_input(n, args.work / f"deblur{n}")["y"], scratch / "x.zarr", 2, kernel=k)
            row = {"size": n, "cpu_s_per_mp": run["worker_cpu_s"] / (n * n / 1e6), "ratio": 0.0, **run}
            row["ratio"] = row["cpu_s_per_mp"] / one
            rows.append(row)
            print(f"  {n}^2: {row['cpu_s_per_mp']:.1f} CPU-s/MP ({row['ratio']:.2f}x one process), {run['wall_s']:.0f} s "
                  f"wall, {run['blocks']} blocks, peak RSS per worker {run['peak_rss_mib_per_worker']} MiB", flush=True)
            report["cost"] = rows
            save()  # after each size: a long run stopped early keeps its rows
    if "throughput" in args.parts:
        print("throughput: 384^2 in 4 x 4 blocks of 96 (margin 32), 1 worker then 2", flush=True)
        y = make_input(384, args.work / "deblur384")["y"]
        runs = {w: run_blocks(y, scratch / "x.zarr", w, kernel=k, chunk=96, margin=32) for w in (1, 2)}
        ratio = runs[1]["wall_s"] / runs[2]["wall_s"]
        report["throughput"] = {"1 worker": runs[1], "2 workers": runs[2], "speed_up": ratio}
        print(f"  1 worker {runs[1]['wall_s']:.0f} s, 2 workers {runs[2]['wall_s']:.0f} s: {ratio:.2f}x", flush=True)
        save()
    if "memory" in args.parts:
        print("memory: TV denoising (20 FGP steps per piece), 2 workers", flush=True)
        rows = []
        for n in args.memory_sizes:
            y = make_input(n, args.work / f"denoise{n}", blur=False)["y"]
            run = run_blocks(y, scratch / "x.zarr", 2, restore=tv_piece)
            row = {"size": n, **run, "client_peak_rss_mib": cluster.peak_rss_mib(),
                   "cpu_s_per_mp": run["worker_cpu_s"] / (n * n / 1e6)}
            rows.append(row)
            print(f"  {n}^2: peak RSS per worker {run['peak_rss_mib_per_worker']} MiB, this process "
                  f"{row['client_peak_rss_mib']:.0f} MiB, {run['wall_s']:.0f} s wall, {row['cpu_s_per_mp']:.1f} CPU-s/MP",
                  flush=True)
            shutil.rmtree(scratch, ignore_errors=True)
        report["memory"] = rows
        save()
    if "overhead" in args.parts:
        print("overhead: one worker, 256^2 in one block: as set up, profiler on, Dask's MALLOC_TRIM_THRESHOLD_",
              flush=True)
        y = make_input(256, args.work / "deblur256")["y"]
        variants = {"as set up": {}, "profiler on": {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "True"},
                    "MALLOC_TRIM_THRESHOLD_=65536": {"MALLOC_TRIM_THRESHOLD_": "65536"}}
        runs = {name: [] for name in variants}
        for name in list(variants) * 2:
            os.environ.update(variants[name])  # a worker process inherits this process's environment
            try:
                runs[name].append(run_blocks(y, scratch / "x.zarr", 1, kernel=k, times=True)["worker_user_system_s"])
            finally:
                for key in variants[name]:
                    os.environ.pop(key, None)
        report["overhead"] = runs
        for name, pairs in runs.items():
            print(f"  {name}: user + system CPU-s " + ", ".join(f"{u:.1f} + {s:.1f}" for u, s in pairs), flush=True)
        save()
    if "batch" in args.parts:
        rows = {}
        for task, blur, count in (("denoise", False, None), ("deblur", True, args.batch_deblur))[:1 + (args.batch_deblur > 0)]:
            paths, refs = batch_inputs(args.work / f"bsd68-{task}", blur, count)
            options = {"noise": NOISE, "kernel": k} if blur else {"noise": 0.02}
            for w in (1, 2):
                summary = run_batch(paths, refs, scratch / "batch", w, **options)
                rows[f"{task}, {w} worker(s)"] = summary
                print(f"  {task}, {len(paths)} images, {w} worker(s): {summary['images_per_second']:.3f} images/s, "
                      f"{summary['wall_seconds']:.0f} s, mean PSNR {summary['mean_psnr']:.2f} dB, "
                      f"{summary['failed']} failed", flush=True)
            rows[f"{task} speed-up"] = rows[f"{task}, 1 worker(s)"]["wall_seconds"] / rows[f"{task}, 2 worker(s)"]["wall_seconds"]
        report["batch"] = rows
        save()
    print(f"wrote {report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
