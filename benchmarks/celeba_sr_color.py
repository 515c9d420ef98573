r"""Joint 2x super-resolution and colorization of CelebA faces with the cPSDAE in ADMM (paper Figure 4).

Problem (``ppsolve.experiments.natural``)
    ``x``: CelebA faces, central 88 x 88 resized to 64 x 64 (antialiased bicubic), RGB / 255. ``A = S H R``:
    ``R`` BT.601 colour to grey, ``H`` the periodic 3 x 3 Gaussian of sigma 1, ``S`` every 2nd pixel:
    ``(3, 64, 64) -> (32, 32)``, a grey low-resolution image. ``y = A x + N(0, 0.01^2)``, face ``i`` with
    ``default_rng(seed + i)``. PSNR of the clipped colour estimate, data range 1, mean over faces.
    ``FourierInverse`` solves the z-update of ``S H R`` exactly (``R R^T = |w|^2`` and ``R H = H R``).
Split
    ``--split test``: faces 004501-005000 (the last 500), never trained or tuned on. ``--split val``: the 40
    validation faces of the ``celeba-sr2-color`` recipe, where beta and the iterations were chosen (``--tune``).
Methods
    * grey bicubic: aligned bicubic upsampling of ``y``, the same grey in the three channels;
    * the cPSDAE (``python -m ppsolve.train celeba-sr2-color``; CelebA's terms forbid shipping it, so it is
      read from ``--prior``, by default ``results/models/celeba-sr2-color.safetensors``) in ADMM via ``ppsolve.restore``,
      started at the grey bicubic estimate, with the exact ``FourierInverse`` and/or a ``LearnedInverse``
      (Woodbury form, trained from noise for this ``A``).
The figure shows, for a few faces, the grey input, ADMM's estimate after iterations 1, 4 and 7 (a run of 7
iterations at the chosen beta, for the figure only: the reported PSNRs use the chosen stages), and the truth.

Run:   python benchmarks/celeba_sr_color.py [--split test|val] [--inverse fourier|learned|both] [--tune]
Writes <out>/celeba_sr_color_<split>.json and .png (nothing of CelebA goes into the repository).
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

from _common import DATA, LearnedInverses, fourier_inverse, psnr_per_iteration, save_grid

from ppsolve import restore
from ppsolve.data import list_images, load_images
from ppsolve.experiments.natural import (
    CELEBA_HELD_OUT,
    CELEBA_SIZE,
    joint_sr_color_operator,
    measure,
    score,
    split_last,
)
from ppsolve.prox import CPSDAEProx
from ppsolve.restore import starting_point
from ppsolve.train.recipes import CELEBA_VAL

FACTOR = 2
SHOWN = (1, 4, 7)  # the ADMM iterations of Figure 4
#: chosen on the 40 validation faces with --tune: every beta peaks at iteration 1-2 and then drifts down
#: (beta 0.1: 24.21, 24.34, 24.23, 24.07 ... 23.18 dB at iteration 7)
DEFAULT_STAGES = [[0.1, 2]]


def faces(root: Path, split: str, limit):
    train, test = split_last(list_images(root), CELEBA_HELD_OUT)
    paths = (test if split == "test" else train[-CELEBA_VAL:])[:limit]
    return load_images(paths, mode="RGB", crop=88, size=CELEBA_SIZE).astype(np.float64), paths


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DATA / "celeba" / "images")
    p.add_argument("--prior", type=Path, default=ROOT / "results" / "models" / "celeba-sr2-color.safetensors")
    p.add_argument("--stages", default=None, help=f"JSON [[beta, iterations], ...] (default {DEFAULT_STAGES})")
    p.add_argument("--split", choices=("test", "val"), default="test")
    p.add_argument("--images", type=int, default=None)
    p.add_argument("--inverse", choices=("fourier", "learned", "both"), default="both")
    p.add_argument("--tune", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "results" / "celeba_sr_color")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--grid", type=int, default=4)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.prior.is_file():
        raise SystemExit(f"{args.prior}: no trained cPSDAE; run  python -m ppsolve.train celeba-sr2-color --data "
                         "DATA/celeba/images  (CelebA weights are never shipped)")

    x, paths = faces(args.data, args.split, args.images)
    A = joint_sr_color_operator(CELEBA_SIZE, FACTOR)
    y = measure(A, x, 0.01, args.seed)
    prox = CPSDAEProx.from_file(args.prior, clip=(0, 1), expect_operator=A)
    stages = json.loads(args.stages) if args.stages else DEFAULT_STAGES

    if args.tune:
        table = psnr_per_iteration(y, A, x, prox, (0.01, 0.03, 0.1, 0.3, 1.0), 15)
        (args.out / f"celeba_sr_color_tune_{args.split}.json").write_text(json.dumps(table, indent=1))
        return

    modes = ["fourier", "learned"] if args.inverse == "both" else [args.inverse]
    inverses = {"fourier": fourier_inverse}
    report = {"problem": "CelebA central 88x88 -> 64x64 RGB; A = S H R (BT.601 grey, 3x3 Gaussian sigma 1, every 2nd "
                         "pixel), periodic, noise 0.01", "split": args.split, "faces": [q.name for q in paths],
              "seed": args.seed, "prior": str(args.prior), "stages": stages, "threads": args.threads}
    if "learned" in modes:
        inverses["learned"] = LearnedInverses(A, args.out, "celeba_sr2_color")
        report["learned_inverse"] = inverses["learned"].accuracy(A, sorted({s[0] for s in stages}), x[:4])
        print("learned inverse:", report["learned_inverse"], flush=True)

    per, figure = {}, []
    for i in range(len(x)):
        t = time.process_time()
        xb = starting_point("bicubic", y[i], A)  # the grey bicubic upsampling in every channel
        row = {"grey_bicubic": (score(xb, x[i]), time.process_time() - t)}
        for mode in modes:
            t = time.process_time()
            xl = restore(y[i], A, prior=prox, stages=stages, inverse=inverses[mode], x0="bicubic", clip=(0, 1)).x
            row[f"cpsdae_{mode}"] = (score(xl, x[i]), time.process_time() - t)
        if i < args.grid:
            snaps = {}

            def keep(k, state, snaps=snaps):
                if k in SHOWN:
                    snaps[k] = np.clip(np.asarray(state.x), 0, 1)

            restore(y[i], A, prior=prox, stages=[(stages[-1][0], max(SHOWN))], x0="bicubic", callback=keep)
            figure.append([(np.kron(y[i], np.ones((FACTOR, FACTOR))), "grey y")]
                          + [(snaps[k], f"{score(snaps[k], x[i]):.2f} dB") for k in SHOWN]
                          + [(x[i], paths[i].name)])
        per[paths[i].name] = row
        if i < 5 or i % 50 == 0:
            print(paths[i].name, {k: (round(v[0], 2), round(v[1], 2)) for k, v in row.items()}, flush=True)

    methods = list(next(iter(per.values())))
    report["psnr"] = {m: float(np.mean([r[m][0] for r in per.values()])) for m in methods}
    report["cpu_seconds_per_image"] = {m: float(np.mean([r[m][1] for r in per.values()])) for m in methods}
    report["gain_over_grey_bicubic"] = {m: report["psnr"][m] - report["psnr"]["grey_bicubic"] for m in methods}
    report["per_image"] = {n: {m: v[0] for m, v in r.items()} for n, r in per.items()}
    (args.out / f"celeba_sr_color_{args.split}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("psnr", "gain_over_grey_bicubic", "cpu_seconds_per_image")}, indent=1))
    if figure:
        titles = ["input (grey, 32x32)"] + [f"ADMM iteration {k}" for k in SHOWN]
        save_grid(args.out / f"celeba_sr_color_{args.split}.png", figure, titles + ["truth"])
    print(f"wrote {args.out / f'celeba_sr_color_{args.split}.json'}")


if __name__ == "__main__":
    main()
