r"""Grey 4x super-resolution of BSD68 central 256 x 256 crops with the natural-image prior in ADMM vs aligned bicubic.

Problem (the issue's conventions)
    ``x``: central 256 x 256 crops of BSD68, 8-bit / 255. ``A = S H``: periodic convolution with the 3 x 3
    Gaussian of sigma 1 (``gaussian_kernel(3, 1.0)``), then every 4th pixel from pixel 0 (64 x 64
    measurements). ``y = A x + N(0, 0.01^2)``, image ``i`` with ``default_rng(seed + i)``. PSNR of the clipped
    estimate over the whole image, data range 1; means over test001-004 (tuning), test005-068 and all.
Methods
    * aligned bicubic: periodic Keys (a = -0.5) with low-resolution pixel ``i`` on high-resolution pixel ``4 i``
      (``ppsolve.baselines.aligned_bicubic``).
    * the natural-gray prior in staged ADMM (as ``benchmarks/deblur_bsd68.py``), started from the bicubic
      estimate, with the exact ``FourierInverse`` and/or a ``LearnedInverse`` (trained from noise on the
      64 x 64 version of ``A``, loaded for 256 x 256 with ``allow_resize=True``).

Run:   python benchmarks/sr_bsd68.py [--prior PATH] [--images N] [--inverse fourier|learned|both]
Writes <out>/sr_bsd68.json and <out>/sr_bsd68.png.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from deblur_bsd68 import inverse_accuracy, load_prior, save_grid, summary  # noqa: E402

from ppsolve.admm import ADMM  # noqa: E402
from ppsolve.baselines import aligned_bicubic, central_crops, measure, score  # noqa: E402
from ppsolve.data import list_images  # noqa: E402
from ppsolve.inverses.fourier import FourierInverse  # noqa: E402
from ppsolve.inverses.learned import LearnedInverse  # noqa: E402
from ppsolve.operators import gaussian_kernel, strided_convolution  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
FACTOR = 4

#: stages (beta, sigma, iterations), chosen on test001-004 only
DEFAULT_STAGES_BLIND = [[0.1, 0.0, 10]]
DEFAULT_STAGES_SIGMA = [[0.1, 0.03, 5], [0.1, 0.02, 5], [0.1, 0.012, 10]]


def run_prior(y, A, prox, stages, inverses, conditional, x0):
    z = x0
    for beta, sigma, iters in stages:
        lam = 2.0 * beta * sigma**2 if conditional else 2.0 * beta * 1e-4
        z = ADMM(A, prox, inverses[beta], lam=lam).solve(y, iters=int(iters), x0=z).x
    return z


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--prior", default=str(ROOT / "ppsolve" / "zoo" / "natural-gray.pt"))
    p.add_argument("--stages", default=None, help="JSON list of [beta, sigma, iters]")
    p.add_argument("--images", type=int, default=68)
    p.add_argument("--inverse", choices=("fourier", "learned", "both"), default="both")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "results" / "sr_bsd68"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--grid", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    kernel = gaussian_kernel(3, 1.0)
    paths = list_images(DATA / "bsd68")[: args.images]
    x = central_crops(paths)
    A = strided_convolution(kernel, (256, 256), FACTOR)
    y = measure(A, x, 0.01, args.seed)
    prox, conditional, meta = load_prior(args.prior)
    stages = json.loads(args.stages) if args.stages else (DEFAULT_STAGES_SIGMA if conditional else DEFAULT_STAGES_BLIND)
    betas = sorted({s[0] for s in stages})
    modes = ["fourier", "learned"] if args.inverse == "both" else [args.inverse]
    inverses = {"fourier": {b: FourierInverse(A, b) for b in betas}}
    report = {"problem": "BSD68 central 256x256, 3x3 Gaussian sigma 1, every 4th pixel from 0, periodic, noise 0.01",
              "seed": args.seed, "prior": {"path": args.prior, "conditional": conditional, "model": meta.get("model")},
              "stages": stages, "threads": args.threads}
    if "learned" in modes:
        small = strided_convolution(kernel, (64, 64), FACTOR)
        inverses["learned"], info = {}, {}
        for b in betas:
            ck = out / f"learned_inverse_sr4_beta{b:g}.pt"
            t = time.process_time()
            LearnedInverse.train(small, b, checkpoint=str(ck), progress=False)
            inverses["learned"][b] = LearnedInverse.load(str(ck), A, b, allow_resize=True)
            info[f"{b:g}"] = {"train_cpu_seconds_this_run": time.process_time() - t,
                              "rel_error_real_images_mean_max": inverse_accuracy(inverses["learned"][b], A, b, x[:4])}
        report["learned_inverse"] = info
        print("learned inverse:", info, flush=True)

    per, est = {}, {}
    for i in range(len(x)):
        t = time.process_time()
        xb = aligned_bicubic(y[i], FACTOR)
        row = {"bicubic_aligned": (score(xb, x[i]), time.process_time() - t)}
        if i < args.grid:
            est[i] = {"bicubic_aligned": xb}
        for mode in modes:
            t = time.process_time()
            xl = run_prior(y[i], A, prox, stages, inverses[mode], conditional, np.clip(xb, 0, 1))
            row[f"prior_{mode}"] = (score(xl, x[i]), time.process_time() - t)
            if i < args.grid:
                est[i][f"prior_{mode}"] = xl
        per[paths[i].name] = row
        print(paths[i].name, {k: (round(v[0], 2), round(v[1], 1)) for k, v in row.items()}, flush=True)

    methods = list(next(iter(per.values())))
    report["psnr"] = {m: summary([per[n][m][0] for n in per]) for m in methods}
    report["cpu_seconds_per_image"] = {m: float(np.mean([per[n][m][1] for n in per])) for m in methods}
    report["gain_over_bicubic"] = {m: report["psnr"][m]["all"] - report["psnr"]["bicubic_aligned"]["all"]
                                   for m in methods}
    report["per_image"] = {n: {m: v[0] for m, v in r.items()} for n, r in per.items()}
    (out / "sr_bsd68.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("psnr", "gain_over_bicubic", "cpu_seconds_per_image")}, indent=1))
    rows = []
    for i, e in est.items():
        lr = np.kron(y[i], np.ones((FACTOR, FACTOR)))
        rows.append([(x[i], paths[i].name), (lr, "y (nearest)")] + [(v, f"{score(v, x[i]):.2f} dB") for v in e.values()])
    if rows:
        save_grid(out / "sr_bsd68.png", rows, ["truth", "y"] + list(next(iter(est.values())).keys()))
    print(f"wrote {out / 'sr_bsd68.json'}")


if __name__ == "__main__":
    main()
