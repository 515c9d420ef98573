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
    * Learned prior in ADMM (``--prior``): the natural-gray denoiser as the proximal operator, run in stages
      ``(beta, sigma, iterations)``: each stage is an ``ADMM`` solve warm-started at the previous estimate.
      For the noise-conditional prior (``SigmaDnCNN``) ``lam = 2 beta sigma^2`` so that the prox, a Gaussian
      denoising at ``sqrt(tau) = sqrt(lam / (2 beta))``, works at ``sigma``; for the blind one sigma is unused.
      The z-update once with the exact ``FourierInverse`` and once with a ``LearnedInverse`` (trained from
      noise only, default settings, on the 64 x 64 version of ``A`` and loaded for 256 x 256 with
      ``allow_resize=True``; one per distinct beta), its accuracy reported as the relative error of the
      z-update on real images.
    CPU seconds per image (``time.process_time``, single thread by default) for every method.

Run:   python benchmarks/deblur_bsd68.py [--prior PATH] [--images N] [--inverse fourier|learned|both]
Writes <out>/deblur_bsd68.json and <out>/deblur_bsd68.png (grids of a few images).
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

from ppsolve.admm import ADMM  # noqa: E402
from ppsolve.baselines import central_crops, measure, score, tv_admm, wiener_best  # noqa: E402
from ppsolve.data import list_images  # noqa: E402
from ppsolve.inverses.fourier import FourierInverse  # noqa: E402
from ppsolve.inverses.learned import LearnedInverse  # noqa: E402
from ppsolve.operators import Convolution  # noqa: E402
from ppsolve.prox import DenoiserProx  # noqa: E402
from ppsolve.train import load_denoiser  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
TUNE = 4  # test001-test004: the only images any setting was chosen on


def load_prior(path):
    model, meta = load_denoiser(path)
    conditional = type(model).__name__ == "SigmaDnCNN"
    prox = DenoiserProx(model, sigma_of_tau=(lambda t: float(np.sqrt(t))) if conditional else None, clip=(0, 1))
    return prox, conditional, meta


def run_prior(y, A, prox, stages, inverses, conditional):
    """Staged ADMM (see the module docstring); ``inverses[beta]`` gives the inverse for each stage."""
    z = y
    for beta, sigma, iters in stages:
        lam = 2.0 * beta * sigma**2 if conditional else 2.0 * beta * 1e-4
        z = ADMM(A, prox, inverses[beta], lam=lam).solve(y, iters=int(iters), x0=z).x
    return z


def learned_inverses(kernel, betas, results: Path, steps=None):
    small = Convolution(kernel, (64, 64))
    big = Convolution(kernel, (256, 256))
    out, info = {}, {}
    for beta in sorted(set(betas)):
        ck = results / f"learned_inverse_motion9_beta{beta:g}.pt"
        t = time.process_time()
        LearnedInverse.train(small, beta, checkpoint=str(ck), progress=False, steps=steps)
        seconds = time.process_time() - t
        inv = LearnedInverse.load(str(ck), big, beta, allow_resize=True)
        out[beta] = inv
        info[beta] = {"checkpoint": str(ck), "train_cpu_seconds_this_run": seconds}
    return out, info


def inverse_accuracy(inv, A, beta, x):
    """Relative error of the z-update on ``b = A^T A x + beta x`` (exact answer ``x``) for real images."""
    errs = []
    for xi in x:
        b = A.adjoint(A.apply(xi)) + beta * xi
        z = inv.solve(b)
        errs.append(float(np.linalg.norm(z - xi) / np.linalg.norm(xi)))
    return float(np.mean(errs)), float(np.max(errs))


def summary(values):
    v = np.asarray(values, dtype=float)
    return {"test001-004": float(v[:TUNE].mean()), "test005-068": float(v[TUNE:].mean()) if len(v) > TUNE else None,
            "all": float(v.mean()), "n": int(len(v))}


def save_grid(path, rows, titles):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), len(titles), figsize=(2.2 * len(titles), 2.3 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c, (img, label) in enumerate(row):
            ax = axes[r, c]
            ax.imshow(np.clip(img, 0, 1), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[c], fontsize=8)
            ax.set_xlabel(label, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--prior", default=str(ROOT / "ppsolve" / "zoo" / "natural-gray.pt"))
    p.add_argument("--stages", default=None,
                   help='JSON list of [beta, sigma, iters] (default: the tuned one recorded below)')
    p.add_argument("--tv-lam", type=float, default=0.0015, help="tuned on test001-004 (default %(default)s)")
    p.add_argument("--tv-iters", type=int, default=60)
    p.add_argument("--images", type=int, default=68)
    p.add_argument("--inverse", choices=("fourier", "learned", "both"), default="both",
                   help="the z-update of the learned-prior ADMM: exact, learned, or both (default)")
    p.add_argument("--skip-baselines", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "results" / "deblur_bsd68"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--grid", type=int, default=4, help="images shown in the PNG grid")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    kernel = np.loadtxt(DATA / "kernels" / "motion9_30deg.txt")
    paths = list_images(DATA / "bsd68")[: args.images]
    x = central_crops(paths)
    A = Convolution(kernel, (256, 256))
    y = measure(A, x, 0.01, args.seed)

    prox, conditional, meta = load_prior(args.prior)
    stages = json.loads(args.stages) if args.stages else (
        DEFAULT_STAGES_SIGMA if conditional else DEFAULT_STAGES_BLIND)
    betas = sorted({s[0] for s in stages})
    modes = ["fourier", "learned"] if args.inverse == "both" else [args.inverse]
    inverses = {"fourier": {b: FourierInverse(A, b) for b in betas}}
    report = {"problem": "BSD68 central 256x256, motion9_30deg periodic, noise 0.01", "seed": args.seed,
              "prior": {"path": args.prior, "conditional": conditional, "model": meta.get("model"),
                        "data": meta.get("data")},
              "stages": stages, "tv_lam": args.tv_lam, "threads": args.threads, "images": [q.name for q in paths]}
    if "learned" in modes:
        inverses["learned"], info = learned_inverses(kernel, betas, out)
        for b in betas:
            info[b]["rel_error_real_images_mean_max"] = inverse_accuracy(inverses["learned"][b], A, b, x[:TUNE])
        report["learned_inverse"] = {f"{b:g}": info[b] for b in betas}
        print("learned inverse:", report["learned_inverse"], flush=True)

    per = {}
    est = {}
    for i in range(len(x)):
        row = {}
        if not args.skip_baselines:
            t = time.process_time()
            xw, alpha, pw = wiener_best(y[i], A, x[i])
            row["wiener_best"] = (pw, time.process_time() - t)
            row["wiener_alpha"] = alpha
            t = time.process_time()
            xt = tv_admm(y[i], A, args.tv_lam, iters=args.tv_iters).x
            row["tv_admm"] = (score(xt, x[i]), time.process_time() - t)
            if i < args.grid:
                est.setdefault(i, {})["wiener_best"], est[i]["tv_admm"] = xw, xt
        for mode in modes:
            t = time.process_time()
            xl = run_prior(y[i], A, prox, stages, inverses[mode], conditional)
            row[f"prior_{mode}"] = (score(xl, x[i]), time.process_time() - t)
            if i < args.grid:
                est.setdefault(i, {})[f"prior_{mode}"] = xl
        per[paths[i].name] = row
        print(paths[i].name, {k: (round(v[0], 2), round(v[1], 1)) if isinstance(v, tuple) else v
                              for k, v in row.items()}, flush=True)

    methods = [k for k in next(iter(per.values())) if k != "wiener_alpha"]
    report["psnr"] = {m: summary([per[n][m][0] for n in per]) for m in methods}
    report["cpu_seconds_per_image"] = {m: float(np.mean([per[n][m][1] for n in per])) for m in methods}
    report["per_image"] = {n: {m: (v[0] if isinstance(v, tuple) else v) for m, v in r.items()} for n, r in per.items()}
    if "wiener_best" in report["psnr"]:
        for m in modes:
            report[f"gain_prior_{m}_over"] = {
                "wiener_best": report["psnr"][f"prior_{m}"]["all"] - report["psnr"]["wiener_best"]["all"],
                "tv_admm": report["psnr"][f"prior_{m}"]["all"] - report["psnr"]["tv_admm"]["all"]}
    (out / "deblur_bsd68.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("psnr", "cpu_seconds_per_image")}, indent=1))

    rows, titles = [], ["truth", "blurred y"] + list(next(iter(est.values())).keys()) if est else []
    for i, e in est.items():
        row = [(x[i], paths[i].name), (y[i], f"{score(y[i], x[i]):.2f} dB")]
        row += [(v, f"{score(v, x[i]):.2f} dB") for v in e.values()]
        rows.append(row)
    if rows:
        save_grid(out / "deblur_bsd68.png", rows, titles)
    print(f"wrote {out / 'deblur_bsd68.json'}")


#: stages (beta, sigma, iterations), chosen on test001-004 only (see the report)
DEFAULT_STAGES_BLIND = [[0.01, 0.0, 4], [0.03, 0.0, 8]]
DEFAULT_STAGES_SIGMA = [[0.01, 0.05, 4], [0.01, 0.03, 4], [0.01, 0.02, 4], [0.01, 0.015, 4]]

if __name__ == "__main__":
    main()
