r"""Motion deblurring of BSD68 (grey) with a learned natural-image prior in ADMM, against Wiener-best and TV-ADMM.

Problem (the issue's conventions)
    ``x``: central 256 x 256 crops of the 68 BSD68 images, 8-bit / 255. ``A``: periodic convolution with the
    9 x 9 motion kernel ``shared/data/kernels/motion9_30deg.txt`` (= ``motion_kernel(9, 30, 9)``).
    ``y = A x + N(0, 0.01^2)``, image ``i`` (0-based, name order) with ``default_rng(seed + i)``.
    Score: PSNR of ``clip(x_hat, 0, 1)``, data range 1, whole image; mean of per-image PSNRs, reported for
    test001-004 (where every setting was tuned), test005-068 (never looked at while tuning) and all 68.
Methods, all in one run
    * Wiener-best (ORACLE): ``(A^T A + alpha I)^{-1} A^T y`` with ``alpha`` maximising each image's PSNR
      against its ground truth (``ppsolve.baselines.wiener_best``).
    * TV-ADMM: ``ADMM(A, TV(), fourier)``, ``lam`` tuned on test001-004 (``--tv-lam``).
    * Learned prior in ADMM (``--prior``: the zoo's ``natural-gray`` or a checkpoint): ``ppsolve.restore``
      with stages ``(beta, iterations, sigma)`` (``ppsolve.staged.sigma_schedule``: the noise-conditional
      denoiser at falling ``sigma`` with ``beta = c / sigma^2``), started at ``y``. The z-update (``--inverse``,
      each a row): the exact ``FourierInverse``; ``learned``: a ``LearnedInverse`` per distinct beta (direct
      form, trained from noise only on the 128 x 128 version of ``A`` and loaded for 256 x 256 with
      ``allow_resize=True``; 31 x 31 kernels, below beta = 0.01 63 x 63 kernels trained 4x longer:
      ``ppsolve.experiments.natural.deblur_inverse_options``); ``one`` (with ``fourier`` the default): ONE of
      those networks, the one trained at the schedule's smallest beta, for every stage, moved to each larger
      beta by the resolvent identity, then ``--refine`` conjugate-gradient iterations preconditioned by it
      (``ppsolve.inverses.learned_shift``). The learned rows report their z-update errors on real images.
    * BM3D-PnP (``--bm3d``): ``ppsolve.baselines.bm3d_pnp``, 12 iterations, BM3D's noise level falling
      geometrically from 0.1 to 0.015, ``beta_k = 0.5 sigma_n^2 / sigma_k^2``, exact Fourier z-update, the
      dual kept (so rescaled) when beta changes, started at ``y``; its PSNR and CPU time beside ours, and
      ours as a fraction of its CPU time (``vs_bm3d``).
    ``--tune`` scores candidate schedules on test001-004 only; the best is the zoo's setting.
    CPU seconds per image (``time.process_time``, single thread by default) for every method.

Run:   python benchmarks/deblur_bsd68.py [--prior NAME|PATH] [--images N] [--inverse fourier|learned|one|both ...]
       [--refine R] [--bm3d]
       [--tune]
Writes <out>/deblur_bsd68.json and <out>/deblur_bsd68.png (grids of a few images).
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
    z_errors,
)

from ppsolve import restore, zoo
from ppsolve.baselines import bm3d_pnp, tv_admm, wiener_best
from ppsolve.data import list_images
from ppsolve.experiments.natural import central_crops, deblur_inverse_options, measure, score
from ppsolve.inverses.learned_shift import every_beta
from ppsolve.operators import Convolution

TUNE = 4  # test001-test004: the only images any setting was chosen on
#: candidate schedules of --tune, (sigma_start, sigma_end, steps, iterations per step, beta_scale) for
#: ppsolve.staged.sigma_schedule: a first round around DPIR's values (sigma from 0.05-0.2 down to the noise
#: level 0.01, beta_scale = lambda sigma_noise^2 with DPIR's lambda = 0.23 -> 2.3e-5), then a finer second
#: round around the first round's best (0.1, 0.01, 4, 2, 5e-5: 28.17 dB on test001-004 with the first,
#: SigmaDnCNN prior), a third with more steps, a fourth around the U-Net prior's best of the first three
CANDIDATES = (
    [(s0, 0.01, n, it, c) for s0 in (0.05, 0.1, 0.2) for n, it in ((4, 2), (6, 1), (8, 1), (12, 1))
     for c in (1e-5, 2.5e-5, 5e-5, 1e-4)]
    + [(s0, se, n, it, c) for s0 in (0.07, 0.1, 0.14) for se in (0.007, 0.01) for n, it in ((4, 3), (6, 2), (8, 2))
       for c in (3.5e-5, 5e-5, 7e-5)]
    # third round: longer, slower schedules (IRCNN runs 30 iterations)
    + [(s0, se, n, 1, c) for s0 in (0.1, 0.2) for se in (0.005, 0.01) for n in (16, 30) for c in (2.5e-5, 5e-5)]
    # fourth round, for the U-Net prior (first three rounds' best: (0.2, 0.01, 8, 1, 5e-5), 28.72 dB)
    + [(s0, 0.01, n, 1, c) for s0 in (0.15, 0.2, 0.3) for n in (6, 8, 10) for c in (3.5e-5, 5e-5, 7e-5)]
    # fifth: past the fourth round's best corner (0.3, 0.01, 8, 1, 5e-5: 28.78 dB)
    + [(s0, 0.01, n, 1, c) for s0 in (0.4, 0.5) for n in (8, 10) for c in (5e-5, 7e-5)]
)



def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--prior", default="natural-gray", help="zoo name or checkpoint path (default: %(default)s)")
    p.add_argument("--weights", default=None, help="a retrained model file for the zoo prior, run with the zoo's "
                                                   "settings (default: the shipped weights)")
    p.add_argument("--stages", default=None, help="JSON [[beta, iterations, sigma], ...] (default: the zoo's)")
    p.add_argument("--tv-lam", type=float, default=0.0015, help="tuned on test001-004 (default %(default)s)")
    p.add_argument("--tv-iters", type=int, default=60)
    p.add_argument("--images", type=int, default=68)
    p.add_argument("--inverse", nargs="+", choices=("fourier", "learned", "one", "both"), default=["fourier", "one"],
                   help="the z-updates of the learned-prior ADMM, each a row: exact, one learned inverse per beta, one "
                        "learned inverse for every beta (trained at the smallest, shifted: learned_shift; with "
                        "fourier, the default), or both (fourier and learned)")
    p.add_argument("--refine", type=int, default=10,
                   help="iterative-refinement steps of the 'one' inverse (default %(default)s)")
    p.add_argument("--tune", type=int, nargs="?", const=0, default=None, metavar="FIRST",
                   help="score the candidate schedules (from number FIRST on) on test001-004 and stop")
    p.add_argument("--skip-baselines", action="store_true", help="no Wiener-best and TV-ADMM")
    p.add_argument("--bm3d", action="store_true", help="BM3D-PnP too (about 45 CPU-s per image)")
    p.add_argument("--backends", nargs="+", choices=("torch", "onnxruntime"), default=["torch"],
                   help="how the prior's network runs; each further backend is another row (prior_<inverse>_<backend>)")
    p.add_argument("--ensemble", type=ensemble_argument, default=None, metavar="E[,E...]",
                   help="self-ensemble of the prior, one size or one per stage (default: the zoo's, else 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "results" / "deblur_bsd68")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--grid", type=int, default=4, help="images shown in the PNG grid")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    kernel = np.loadtxt(args.data / "kernels" / "motion9_30deg.txt")
    paths = list_images(args.data / "bsd68")[: TUNE if args.tune is not None else args.images]
    x = central_crops(paths)
    A = Convolution(kernel, (256, 256))
    y = measure(A, x, 0.01, args.seed)
    settled = prior_and_stages(args, "deblur", y, A, x, CANDIDATES, "y", out / "deblur_bsd68_tune.json")
    if settled is None:  # --tune
        return
    prox, stages, ensemble = settled
    variants = prior_variants(args, "deblur", prox)
    betas = sorted({s[0] for s in stages})
    modes = list(dict.fromkeys(m for name in args.inverse
                               for m in (("fourier", "learned") if name == "both" else (name,))))
    inverses = {"fourier": fourier_inverse}
    report = {"problem": "BSD68 central 256x256, motion9_30deg periodic, noise 0.01", "seed": args.seed,
              "prior": args.prior, "stages": stages, "ensemble": ensemble, "weights": args.weights, "tv_lam": args.tv_lam,
              "threads": args.threads,
              "images": [q.name for q in paths]}
    trained = LearnedInverses(Convolution(kernel, (128, 128)), out, "motion9", options_for_beta=deblur_inverse_options)
    if "learned" in modes:
        inverses["learned"] = trained
        report["learned_inverse"] = inverses["learned"].accuracy(A, betas, x[:TUNE])
        print("learned inverse:", report["learned_inverse"], flush=True)
    if "one" in modes:
        base = trained(A, betas[0])
        inverses["one"] = every_beta(base, refine=args.refine)
        report["one_inverse"] = {"beta_0": base.beta, "refine": args.refine,
                                 "training_seconds": base.training.get("seconds"),
                                 "z_update_rel_error_mean_max": z_errors(inverses["one"], A, betas, x[:TUNE])}
        print("one learned inverse:", report["one_inverse"], flush=True)

    per, est, first = {}, {}, None
    for i in range(len(x)):
        row, show = {}, {}
        if not args.skip_baselines:
            t = time.process_time()
            xw, alpha, pw = wiener_best(y[i], A, x[i])
            row["wiener_best"] = (pw, time.process_time() - t)
            t = time.process_time()
            xt = tv_admm(y[i], A, args.tv_lam, iters=args.tv_iters).x
            row["tv_admm"] = (score(xt, x[i]), time.process_time() - t)
            show.update(wiener_best=xw, tv_admm=xt)
        if args.bm3d:
            timed(row, show, "bm3d_pnp", x[i], lambda: bm3d_pnp(y[i], A, 0.01, 0.1, 0.015, x0=y[i]).x)
        exact = prior_rows(row, show, y[i], A, x[i], modes, variants, stages, inverses, "y", ensemble)
        first = exact if i == 0 else first
        if i < args.grid:
            est[i] = show
        per[paths[i].name] = row
        print(paths[i].name, {k: (round(v[0], 2), round(v[1], 1)) for k, v in row.items()}, flush=True)

    methods = list(next(iter(per.values())))
    report["psnr"] = {m: split_summary([per[n][m][0] for n in per], TUNE) for m in methods}
    report["cpu_seconds_per_image"] = {m: float(np.mean([per[n][m][1] for n in per])) for m in methods}
    report["per_image"] = {n: {m: v[0] for m, v in r.items()} for n, r in per.items()}
    # one call with the zoo's settings gives the same first image
    if first is not None and args.prior in zoo.list() and not (args.stages or args.ensemble or args.weights):
        again = restore(y[0], A, prior=args.prior, task="deblur").x
        report["restore_reproduces_first_image_max_abs_diff"] = float(np.max(np.abs(again - first)))
    if "wiener_best" in report["psnr"]:
        for m in modes:
            report[f"gain_prior_{m}_over"] = {
                base: report["psnr"][f"prior_{m}"]["all"] - report["psnr"][base]["all"]
                for base in ("wiener_best", "tv_admm")}
    if args.bm3d:
        report["vs_bm3d"] = against_bm3d(report, methods)
    (out / "deblur_bsd68.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k.startswith(("psnr", "cpu", "gain", "vs_"))}, indent=1))
    rows = [[(x[i], paths[i].name), (y[i], f"{score(y[i], x[i]):.2f} dB")]
            + [(v, f"{score(v, x[i]):.2f} dB") for v in e.values()] for i, e in est.items()]
    if rows:
        save_grid(out / "deblur_bsd68.png", rows, ["truth", "blurred y"] + list(next(iter(est.values()))))
    print(f"wrote {out / 'deblur_bsd68.json'}")


if __name__ == "__main__":
    main()
