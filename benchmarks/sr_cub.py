r"""4x super-resolution of CUB birds (colour) with the cPSDAE in ADMM against aligned bicubic (paper Figure 3 top).

Problem (``ppsolve.experiments.natural``)
    ``x``: central 128 x 128 crops of the CUB-200 birds, RGB / 255. ``A = S H`` per channel: periodic 3 x 3
    Gaussian (sigma 1), every 4th pixel from pixel 0 (3 x 32 x 32 measurements). ``y = A x + N(0, 0.01^2)``,
    image ``i`` with ``default_rng(seed + i)``. PSNR of the clipped estimate over the whole colour image,
    data range 1; mean of per-image PSNRs.
Split
    ``--split test``: the last 200 birds (``list_images`` order), never trained or tuned on: the reported
    figures. ``--split val``: the 40 validation birds of the training split (the last 40 before the held-out
    200), where the ADMM settings were chosen (``--tune``).
Methods
    * aligned bicubic (``ppsolve.interpolation.bicubic_upsample``: low-resolution pixel ``i`` on pixel ``4 i``);
    * the cPSDAE (``cub-sr4-cpsdae``; ``--prior PATH`` for another checkpoint) in ADMM via
      ``ppsolve.restore``, started at the bicubic estimate, with the exact ``FourierInverse`` and/or a
      ``LearnedInverse`` (Woodbury form, trained from noise on the 64 x 64 version of ``A``, loaded for
      128 x 128 with ``allow_resize``).

Run:   python benchmarks/sr_cub.py [--split test|val] [--inverse fourier|learned|both] [--tune]
Writes <out>/sr_cub_<split>.json and .png.
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

from ppsolve import restore, zoo
from ppsolve.data import list_images, load_images
from ppsolve.experiments.natural import CUB_CROP, CUB_HELD_OUT, measure, score, split_last, sr_operator
from ppsolve.interpolation import bicubic_upsample
from ppsolve.prox import CPSDAEProx

FACTOR = 4
VAL = 40  # the validation birds of the cub-sr4-cpsdae recipe (ppsolve.train.CUB_VAL)


def birds(root: Path, split: str):
    train, test = split_last(list_images(root), CUB_HELD_OUT)
    paths = test if split == "test" else train[-VAL:]
    return load_images(paths, mode="RGB", crop=CUB_CROP).astype(np.float64), paths


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DATA / "cub200" / "images")
    p.add_argument("--prior", default="cub-sr4-cpsdae", help="zoo name or checkpoint path")
    p.add_argument("--stages", default=None, help="JSON [[beta, iterations], ...] (default: the zoo's)")
    p.add_argument("--split", choices=("test", "val"), default="test")
    p.add_argument("--images", type=int, default=None, help="only the first N images of the split")
    p.add_argument("--inverse", choices=("fourier", "learned", "both"), default="both")
    p.add_argument("--tune", action="store_true", help="PSNR per iteration for several betas (use with --split val)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "results" / "sr_cub")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--grid", type=int, default=4)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)

    x, paths = birds(args.data, args.split)
    x, paths = x[: args.images], paths[: args.images]
    A = sr_operator((3, CUB_CROP, CUB_CROP), FACTOR)
    y = measure(A, x, 0.01, args.seed)
    if args.prior in zoo.list():
        prox, settings = zoo.load(args.prior), zoo.info(args.prior)["admm"]
    else:
        prox, settings = CPSDAEProx.from_file(args.prior, clip=(0, 1)), {}
    stages = json.loads(args.stages) if args.stages else settings.get("stages")

    if args.tune:
        table = psnr_per_iteration(y, A, x, prox, (0.003, 0.01, 0.03, 0.1, 0.3, 1.0), 20)
        (args.out / f"sr_cub_tune_{args.split}.json").write_text(json.dumps(table, indent=1))
        return

    modes = ["fourier", "learned"] if args.inverse == "both" else [args.inverse]
    inverses = {"fourier": fourier_inverse}
    report = {"problem": f"CUB central {CUB_CROP}x{CUB_CROP} RGB, 3x3 Gaussian sigma 1 per channel, every 4th pixel "
                         "from 0, periodic, noise 0.01", "split": args.split, "images": [f"{q.parent.name}/{q.name}"
                                                                                         for q in paths],
              "seed": args.seed, "prior": args.prior, "stages": stages, "threads": args.threads}
    if "learned" in modes:
        inverses["learned"] = LearnedInverses(sr_operator((3, 64, 64), FACTOR), args.out, "cub_sr4")
        betas = sorted({s[0] for s in stages})
        report["learned_inverse"] = inverses["learned"].accuracy(A, betas, x[:4])
        print("learned inverse:", report["learned_inverse"], flush=True)

    per, est = {}, {}
    for i in range(len(x)):
        t = time.process_time()
        xb = bicubic_upsample(y[i], FACTOR)
        row = {"bicubic_aligned": (score(xb, x[i]), time.process_time() - t)}
        show = {"bicubic_aligned": xb}
        for mode in modes:
            t = time.process_time()
            xl = restore(y[i], A, prior=prox, stages=stages, inverse=inverses[mode], x0="bicubic", clip=(0, 1)).x
            row[f"cpsdae_{mode}"] = (score(xl, x[i]), time.process_time() - t)
            show[f"cpsdae_{mode}"] = xl
        if i < args.grid:
            est[i] = show
        per[f"{paths[i].parent.name}/{paths[i].name}"] = row
        print(i, {k: (round(v[0], 2), round(v[1], 2)) for k, v in row.items()}, flush=True)

    methods = list(next(iter(per.values())))
    report["psnr"] = {m: float(np.mean([r[m][0] for r in per.values()])) for m in methods}
    report["cpu_seconds_per_image"] = {m: float(np.mean([r[m][1] for r in per.values()])) for m in methods}
    report["gain_over_bicubic"] = {m: report["psnr"][m] - report["psnr"]["bicubic_aligned"] for m in methods}
    report["per_image"] = {n: {m: v[0] for m, v in r.items()} for n, r in per.items()}
    (args.out / f"sr_cub_{args.split}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("psnr", "gain_over_bicubic", "cpu_seconds_per_image")}, indent=1))
    rows = []
    for i, e in est.items():
        lr = np.kron(y[i], np.ones((FACTOR, FACTOR)))
        rows.append([(x[i], "truth"), (lr, "y (nearest)")] + [(v, f"{score(v, x[i]):.2f} dB") for v in e.values()])
    save_grid(args.out / f"sr_cub_{args.split}.png", rows, ["truth", "y"] + list(next(iter(est.values()))))
    print(f"wrote {args.out / f'sr_cub_{args.split}.json'}")


if __name__ == "__main__":
    main()
