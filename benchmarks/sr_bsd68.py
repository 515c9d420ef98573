r"""Grey 4x super-resolution of BSD68 central 256 x 256 crops with the natural-image prior in ADMM vs aligned bicubic.

Problem (the issue's conventions; ``ppsolve.experiments.natural.sr_operator``)
    ``x``: central 256 x 256 crops of BSD68, 8-bit / 255. ``A = S H``: periodic convolution with the 3 x 3
    Gaussian of sigma 1, then every 4th pixel from pixel 0 (64 x 64 measurements). ``y = A x + N(0, 0.01^2)``,
    image ``i`` with ``default_rng(seed + i)``. PSNR of the clipped estimate over the whole image, data range 1;
    means over test001-004 (tuning), test005-068 and all.
Methods
    * aligned bicubic: periodic Keys (a = -0.5) with low-resolution pixel ``i`` on high-resolution pixel ``4 i``
      (``ppsolve.interpolation.bicubic_upsample``).
    * the natural-gray prior (``--prior``: zoo name or checkpoint) in staged ADMM through ``ppsolve.restore``
      (``sigma_schedule`` stages, the zoo's ``sr4_stages`` by default), started at the bicubic estimate, with
      the exact ``FourierInverse`` and/or a ``LearnedInverse`` (Woodbury form, trained from noise on the
      64 x 64 version of ``A``, loaded for 256 x 256 with ``allow_resize=True``).
    * BM3D-PnP (``--bm3d``): ``ppsolve.baselines.bm3d_pnp``, 12 iterations, BM3D's noise level falling
      geometrically from 0.3 to 0.02, ``beta_k = 0.5 sigma_n^2 / sigma_k^2``, exact Fourier z-update, the dual
      kept (so rescaled) when beta changes, started at aligned bicubic; PSNR and CPU time beside ours, and ours
      as a fraction of its CPU time (``vs_bm3d``).
    ``--tune`` scores candidate schedules on test001-004 only.

Run:   python benchmarks/sr_bsd68.py [--prior NAME|PATH] [--images N] [--inverse fourier|learned|both] [--bm3d]
       [--tune]
Writes <out>/sr_bsd68.json and <out>/sr_bsd68.png.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DATA,
    LearnedInverses,
    against_bm3d,
    ensemble_argument,
    fourier_inverse,
    prior_and_stages,
    prior_rows,
    prior_variants,
    save_grid,
    split_summary,
    timed,
)

from ppsolve import restore, zoo
from ppsolve.baselines import bm3d_pnp
from ppsolve.data import list_images
from ppsolve.experiments.natural import (
    central_crops,
    measure,
    score,
    sr_operator,
)
from ppsolve.interpolation import bicubic_upsample

FACTOR = 4
TUNE = 4
#: candidate schedules of --tune: (sigma_start, sigma_end, steps, iterations per step, beta_scale)
CANDIDATES = (
    [(s0, 0.01, n, it, c) for s0 in (0.05, 0.1) for n, it in ((6, 2), (12, 1)) for c in (1e-5, 2.5e-5, 5e-5, 1e-4)]
    # second round, towards the first round's best corner (0.1, 6 x 2, 1e-5: 23.51 dB on test001-004, SigmaDnCNN prior)
    + [(s0, 0.01, n, it, c) for s0 in (0.15, 0.2, 0.3) for n, it in ((6, 2), (8, 2)) for c in (3e-6, 1e-5)]
    # third round, for the U-Net prior (first two rounds' best: (0.3, 0.01, 6, 2, 1e-5), 23.79 dB)
    + [(s0, 0.01, n, 2, c) for s0 in (0.3, 0.4, 0.5) for n in (4, 6) for c in (1e-5, 2e-5)]
)



def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--prior", default="natural-gray")
    p.add_argument("--weights", default=None, help="a retrained model file for the zoo prior, run with the zoo's "
                                                   "settings (default: the shipped weights)")
    p.add_argument("--stages", default=None, help="JSON [[beta, iterations, sigma], ...] (default: the zoo's)")
    p.add_argument("--images", type=int, default=68)
    p.add_argument("--inverse", choices=("fourier", "learned", "both"), default="both")
    p.add_argument("--tune", type=int, nargs="?", const=0, default=None, metavar="FIRST",
                   help="score the candidate schedules (from number FIRST on) on test001-004 and stop")
    p.add_argument("--ensemble", type=ensemble_argument, default=None, metavar="E[,E...]",
                   help="self-ensemble of the prior, one size or one per stage (default: the zoo's, else 1)")
    p.add_argument("--bm3d", action="store_true", help="BM3D-PnP too (about 45 CPU-s per image)")
    p.add_argument("--backends", nargs="+", choices=("torch", "onnxruntime"), default=["torch"],
                   help="how the prior's network runs; each further backend is another row (prior_<inverse>_<backend>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "results" / "sr_bsd68")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--grid", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    paths = list_images(args.data / "bsd68")[: TUNE if args.tune is not None else args.images]
    x = central_crops(paths)
    A = sr_operator((256, 256), FACTOR)
    y = measure(A, x, 0.01, args.seed)
    settled = prior_and_stages(args, "sr4", y, A, x, CANDIDATES, "bicubic", out / "sr_bsd68_tune.json")
    if settled is None:  # --tune
        return
    prox, stages, ensemble = settled
    variants = prior_variants(args, "sr4", prox)
    betas = sorted({s[0] for s in stages})
    modes = ["fourier", "learned"] if args.inverse == "both" else [args.inverse]
    inverses = {"fourier": fourier_inverse}
    report = {"problem": "BSD68 central 256x256, 3x3 Gaussian sigma 1, every 4th pixel from 0, periodic, noise 0.01",
              "seed": args.seed, "prior": args.prior, "stages": stages, "ensemble": ensemble,
              "weights": args.weights, "threads": args.threads}
    if "learned" in modes:
        inverses["learned"] = LearnedInverses(sr_operator((64, 64), FACTOR), out, "sr4")
        report["learned_inverse"] = inverses["learned"].accuracy(A, betas, x[:TUNE])
        print("learned inverse:", report["learned_inverse"], flush=True)

    per, est, first = {}, {}, None
    for i in range(len(x)):
        t = time.process_time()
        xb = bicubic_upsample(y[i], FACTOR)
        row = {"bicubic_aligned": (score(xb, x[i]), time.process_time() - t)}
        show = {"bicubic_aligned": xb}
        if args.bm3d:
            timed(row, show, "bm3d_pnp", x[i], lambda: bm3d_pnp(y[i], A, 0.01, 0.3, 0.02, x0=xb).x)
        exact = prior_rows(row, show, y[i], A, x[i], modes, variants, stages, inverses, "bicubic", ensemble)
        first = exact if i == 0 else first
        if i < args.grid:
            est[i] = show
        per[paths[i].name] = row
        print(paths[i].name, {k: (round(v[0], 2), round(v[1], 1)) for k, v in row.items()}, flush=True)

    methods = list(next(iter(per.values())))
    report["psnr"] = {m: split_summary([per[n][m][0] for n in per], TUNE) for m in methods}
    report["cpu_seconds_per_image"] = {m: float(np.mean([per[n][m][1] for n in per])) for m in methods}
    report["gain_over_bicubic"] = {m: report["psnr"][m]["all"] - report["psnr"]["bicubic_aligned"]["all"]
                                   for m in methods}
    report["per_image"] = {n: {m: v[0] for m, v in r.items()} for n, r in per.items()}
    # one call with the zoo's settings gives the same first image
    if first is not None and args.prior in zoo.list() and not (args.stages or args.ensemble or args.weights):
        again = restore(y[0], A, prior=args.prior, task="sr4").x
        report["restore_reproduces_first_image_max_abs_diff"] = float(np.max(np.abs(again - first)))
    if args.bm3d:
        report["vs_bm3d"] = against_bm3d(report, methods)
    (out / "sr_bsd68.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("psnr", "gain_over_bicubic", "cpu_seconds_per_image", "vs_bm3d")
                      if k in report}, indent=1))
    rows = [[(x[i], paths[i].name), (np.kron(y[i], np.ones((FACTOR, FACTOR))), "y (nearest)")]
            + [(v, f"{score(v, x[i]):.2f} dB") for v in e.values()] for i, e in est.items()]
    if rows:
        save_grid(out / "sr_bsd68.png", rows, ["truth", "y"] + list(next(iter(est.values()))))
    print(f"wrote {out / 'sr_bsd68.json'}")


if __name__ == "__main__":
    main()
