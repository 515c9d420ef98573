"""MNIST 4x super-resolution with the zoo's DAE prior (paper section 4.2 and Figure 2 right).

Problem (``ppsolve.experiments.mnist``): ``A = strided_convolution(gaussian_kernel(3, 1.0), (28, 28), 4)``
(periodic, every 4th pixel from pixel 0), ``y = A x + N(0, 0.01^2)`` with the noise drawn once for all 10,000
digits from ``--seed``, ``x`` = pixels / 255. Prior: ``ppsolve.zoo.load("mnist-dae")`` (trained on digits
0-6999, validated on 7000-7999). PSNR: mean over digits of the per-digit PSNR, estimates clipped to [0, 1].

(a) Selection, on training digits only (``--subset`` digits drawn with ``--seed`` from 0-7999): DAE-ADMM with
    the exact (Fourier) inverse, ``z_0 = 0``, for every beta of ``--betas`` and ``--max-iters`` iterations;
    the mean NMSE ``||x_k - x||^2 / ||x||^2`` and mean PSNR per iteration (Figure 2 right). Chosen: the beta
    with the highest mean PSNR at any iteration, and for it the fewest iterations within 0.01 dB of its best.
    Tikhonov's weight ``mu`` is chosen on the same digits from a log grid: the largest within 0.01 dB of the best.
(b) Held-out figures on digits 8000-9999 (never used for any choice): aligned bicubic (low-resolution pixel
    ``i`` on high-resolution pixel ``4 i``, periodic, Keys a = -0.5), the usual pixel-area bicubic (shown for
    reference: misaligned with this A by 1.5 pixels), Tikhonov with the periodic gradient penalty, and DAE-ADMM
    at the chosen settings with the exact inverse and with ``LearnedInverse.train(A, beta)`` (default linear
    network; its checkpoint is cached in ``--results``, ``--retrain`` ignores the cache).

Run:    python benchmarks/mnist_sr.py [--data PATH] [--results DIR] [--threads 1] [--quick]
Writes  <results>/mnist_sr.json, mnist_sr_nmse.png (Figure 2 right), mnist_sr_examples.png
        (--quick: mnist_sr_quick.*, a smoke run on fewer digits and iterations).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BETAS = (1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 1e-1)
TIE_DB = 0.01  # the fewest iterations within this many dB of the best are chosen


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "mnist" / "t10k-images-idx3-ubyte.gz",
                        help="the MNIST test images, t10k-images-idx3-ubyte[.gz] (default: %(default)s)")
    parser.add_argument("--results", type=Path, default=REPO / "results", help="output folder (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="torch / BLAS threads (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the measurement noise and the subset")
    parser.add_argument("--subset", type=int, default=500, help="training digits (from 0-7999) for the selection")
    parser.add_argument("--max-iters", type=int, default=200, help="ADMM iterations in the selection")
    parser.add_argument("--betas", type=float, nargs="+", default=list(BETAS))
    parser.add_argument("--examples", type=int, default=8, help="held-out digits in the example grid")
    parser.add_argument("--retrain", action="store_true", help="retrain the learned inverse (ignore its cache)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 50 + 200 digits, 30 iterations")
    return parser.parse_args()


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import numpy as np
import torch

sys.path.insert(0, str(REPO))
import ppsolve
from ppsolve import ADMM, zoo
from ppsolve.data import load_mnist_images
from ppsolve.experiments.mnist import (
    FACTOR,
    HELD_OUT_DIGITS,
    NOISE_SIGMA,
    TRAIN_DIGITS,
    mean_psnr,
    measure,
    mnist_sr_operator,
    tikhonov_gradient,
)
from ppsolve.interpolation import bicubic_upsample, pixel_area_origin  # noqa: E402
from ppsolve.inverses import FourierInverse
from ppsolve.inverses.learned import LearnedInverse

torch.set_num_threads(ARGS.threads)
MU_GRID = np.logspace(-8, 0, 33)


def log(*parts):
    print(*parts, flush=True)


def run_admm(A, prox, inverse, y, x, iters):
    """DAE-ADMM on the batch ``y``; (estimate, per-iteration mean PSNR, per-iteration mean NMSE, seconds)."""
    sq = np.sum(x**2, axis=(-2, -1))
    psnrs, nmses = [], []

    def record(k, state):
        psnrs.append(mean_psnr(state.x, x))
        nmses.append(float(np.mean(np.sum((state.x - x) ** 2, axis=(-2, -1)) / sq)))

    admm = ADMM(A, prox, inverse, lam=1.0)
    start = time.perf_counter()
    result = admm.solve(y, iters, callback=record)
    return result.x, psnrs, nmses, time.perf_counter() - start


def select(A, prox, X, Y, train):
    """(a): beta and iterations of DAE-ADMM, and Tikhonov's mu, on training digits."""
    x, y = X[train], Y[train]
    curves = {}
    for beta in ARGS.betas:
        _, psnrs, nmses, seconds = run_admm(A, prox, FourierInverse(A, beta), y, x, ARGS.max_iters)
        k = int(np.argmax(psnrs))
        curves[f"{beta:g}"] = {"beta": beta, "psnr": psnrs, "nmse": nmses, "seconds": seconds,
                               "best_psnr": psnrs[k], "best_iteration": k + 1}
        log(f"  beta {beta:<7g} best mean PSNR {psnrs[k]:.2f} dB at iteration {k + 1:>3} "
            f"(last {psnrs[-1]:.2f} dB; NMSE {nmses[k]:.4f}; {seconds:.0f} s)")
    best = max(curves.values(), key=lambda c: c["best_psnr"])
    iterations = 1 + next(i for i, p in enumerate(best["psnr"]) if p >= best["best_psnr"] - TIE_DB)
    chosen = {"beta": best["beta"], "iterations": iterations, "psnr": best["psnr"][iterations - 1]}
    tik = [mean_psnr(tikhonov_gradient(y, A, mu), x) for mu in MU_GRID]
    mu = float(max(m for m, p in zip(MU_GRID, tik) if p >= max(tik) - TIE_DB))  # the largest mu within TIE_DB
    return {"digits": [int(i) for i in train], "betas": list(ARGS.betas), "max_iters": ARGS.max_iters,
            "tie_db": TIE_DB, "curves": curves, "chosen": chosen,
            "tikhonov": {"mu_grid": MU_GRID.tolist(), "psnr": tik, "mu": mu, "best_psnr": max(tik)}}


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def held_out(A, prox, X, Y, test, chosen, mu, checkpoint):
    """(b): every method on the held-out digits."""
    x, y = X[test], Y[test]
    beta, iters = chosen["beta"], chosen["iterations"]
    rows, estimates = {}, {}
    est, sec = timed(bicubic_upsample, y, FACTOR)
    rows["bicubic (aligned)"], estimates["bicubic"] = {"psnr": mean_psnr(est, x), "seconds": sec}, est
    est, sec = timed(bicubic_upsample, y, FACTOR, pixel_area_origin(FACTOR))
    rows["bicubic (pixel-area, misaligned)"] = {"psnr": mean_psnr(est, x), "seconds": sec}
    est, sec = timed(tikhonov_gradient, y, A, mu)
    rows[f"Tikhonov, gradient (mu {mu:.3g})"] = {"psnr": mean_psnr(est, x), "seconds": sec}

    exact = FourierInverse(A, beta)
    est, psnrs, _, sec = run_admm(A, prox, exact, y, x, iters)
    rows[f"DAE-ADMM, exact inverse ({iters} it.)"] = {"psnr": psnrs[-1], "seconds": sec, "curve": psnrs}
    estimates["exact"] = est

    if ARGS.retrain and checkpoint.exists():
        checkpoint.unlink()
    learned, train_sec = timed(lambda: LearnedInverse.train(A, beta, checkpoint=checkpoint, progress=False))
    b = A.adjoint(y) + beta * x  # a z-update right-hand side; the exact answer is the FourierInverse's
    z_exact, z_learned = exact.solve(b), learned.solve(b)
    z_error = float(np.mean(np.linalg.norm((z_learned - z_exact).reshape(len(b), -1), axis=1)
                            / np.linalg.norm(z_exact.reshape(len(b), -1), axis=1)))
    est, psnrs, _, sec = run_admm(A, prox, learned, y, x, iters)
    rows[f"DAE-ADMM, learned inverse ({iters} it.)"] = {"psnr": psnrs[-1], "seconds": sec, "curve": psnrs}
    estimates["learned"] = est
    info = {"checkpoint": str(checkpoint), "training_steps": learned.training.get("steps"),
            "training_seconds_recorded": learned.training.get("seconds"),
            "seconds_this_run": train_sec, "z_relative_error_mean": z_error,
            "x_relative_difference_to_exact": float(np.linalg.norm(est - estimates["exact"])
                                                    / np.linalg.norm(estimates["exact"]))}
    return rows, estimates, info


def plot_curves(selection, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for key, c in selection["curves"].items():
        it = np.arange(1, len(c["nmse"]) + 1)
        left.plot(it, c["nmse"], label=f"beta = {key}")
        right.plot(it, c["psnr"], label=f"beta = {key}")
    ch = selection["chosen"]
    right.plot([ch["iterations"]], [ch["psnr"]], "k*", ms=12, label=f"chosen: beta {ch['beta']:g}, {ch['iterations']} it.")
    n = len(selection["digits"])
    left.set(xlabel="ADMM iteration", ylabel="NMSE", title=f"NMSE, MNIST x4 SR ({n} training digits)")
    right.set(xlabel="ADMM iteration", ylabel="mean PSNR (dB)", title="mean PSNR (selection criterion)")
    left.set_ylim(0, min(1.0, max(max(c["nmse"]) for c in selection["curves"].values()) * 1.05))
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_examples(X, Y, test, estimates, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = min(ARGS.examples, len(test))
    x = X[test[:n]]
    rows = [("LR (7 x 7)", Y[test[:n]], False), ("bicubic (aligned)", estimates["bicubic"][:n], True),
            ("DAE-ADMM exact", estimates["exact"][:n], True), ("DAE-ADMM learned", estimates["learned"][:n], True),
            ("ground truth", x, False)]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.3 * n, 1.45 * len(rows)))
    for r, (label, images, score) in enumerate(rows):
        for j in range(n):
            ax = axes[r, j]
            ax.imshow(np.clip(images[j], 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if score:
                ax.set_title(f"{mean_psnr(images[j][None], x[j][None]):.1f} dB", fontsize=7, pad=2)
        axes[r, 0].set_ylabel(label, fontsize=8)
    fig.suptitle(f"MNIST x4 SR, held-out digits {test[0]}-{test[n - 1]} (PSNR per digit)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    if ARGS.quick:
        ARGS.subset, ARGS.max_iters = 50, 30
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, Path.cwd()), *sys.argv[1:]])
    stem = "mnist_sr_quick" if ARGS.quick else "mnist_sr"
    ARGS.results.mkdir(parents=True, exist_ok=True)
    X = load_mnist_images(ARGS.data).astype(np.float64)
    if len(X) != 10000:
        raise SystemExit(f"{ARGS.data}: {len(X)} digits; expected the 10,000-digit MNIST test file")
    A = mnist_sr_operator()
    Y = measure(A, X, NOISE_SIGMA, seed=ARGS.seed)
    train = np.sort(np.random.default_rng(ARGS.seed).choice(np.asarray(TRAIN_DIGITS), ARGS.subset, replace=False))
    test = np.asarray(HELD_OUT_DIGITS)[: 200 if ARGS.quick else None]
    prox = zoo.load("mnist-dae")

    log(f"(a) selection on {len(train)} training digits (0-7999), exact inverse, {ARGS.max_iters} iterations")
    start = time.perf_counter()
    selection = select(A, prox, X, Y, train)
    selection["seconds"] = time.perf_counter() - start
    chosen, mu = selection["chosen"], selection["tikhonov"]["mu"]
    log(f"  chosen: beta {chosen['beta']:g}, {chosen['iterations']} iterations ({chosen['psnr']:.2f} dB on the "
        f"training subset); Tikhonov mu {mu:.3g} ({selection['tikhonov']['best_psnr']:.2f} dB)")

    log(f"(b) held-out digits {test[0]}-{test[-1]}")
    checkpoint = ARGS.results / f"mnist_sr_inverse_beta{chosen['beta']:g}.safetensors"
    rows, estimates, learned = held_out(A, prox, X, Y, test, chosen, mu, checkpoint)

    plot_curves(selection, ARGS.results / f"{stem}_nmse.png")
    plot_examples(X, Y, test, estimates, ARGS.results / f"{stem}_examples.png")
    report = {
        "command": command,
        "problem": {"operator": repr(A), "noise_sigma": NOISE_SIGMA, "seed": ARGS.seed, "data": str(ARGS.data),
                    "x": "pixels / 255", "prior": "ppsolve.zoo mnist-dae", "x0": "zeros",
                    "psnr": "mean over digits of per-digit PSNR, estimates clipped to [0, 1], data range 1"},
        "selection": selection,
        "held_out": {"digits": [int(test[0]), int(test[-1]) + 1], "results": rows, "learned_inverse": learned},
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "threads": ARGS.threads},
        "versions": {"ppsolve": ppsolve.__version__, "torch": torch.__version__, "numpy": np.__version__},
    }
    (ARGS.results / f"{stem}.json").write_text(json.dumps(report, indent=1) + "\n")

    log(f"\nHeld-out MNIST test digits {test[0]}-{test[-1]} (x4 SR, noise 0.01; settings chosen on digits 0-7999)")
    log(f"{'method':<44} {'PSNR (dB)':>9} {'seconds':>8}")
    for name, row in rows.items():
        log(f"{name:<44} {row['psnr']:>9.2f} {row['seconds']:>8.2f}")
    log(f"learned inverse: {learned['training_steps']} steps, {learned['training_seconds_recorded']:.0f} s to train; "
        f"mean relative z error {learned['z_relative_error_mean']:.2e}; "
        f"||x_learned - x_exact|| / ||x_exact|| = {learned['x_relative_difference_to_exact']:.2e}")
    log(f"wrote {ARGS.results / stem}.json, {stem}_nmse.png, {stem}_examples.png")
    log(f"command: {command}")


if __name__ == "__main__":
    main()
