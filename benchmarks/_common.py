"""Helpers shared by the natural-image benchmarks: learned inverses per beta, their accuracy, PNG grids."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ppsolve.inverses.fourier import FourierInverse
from ppsolve.inverses.learned import LearnedInverse
from ppsolve.staged import stage_ensembles

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


class LearnedInverses:
    """``(A, beta) -> LearnedInverse``: trained from noise on ``small`` (the same operator on a smaller image,
    so training is quick) once per beta, cached in ``folder``, loaded for ``A`` with ``allow_resize``.
    ``options`` go to ``LearnedInverse.train``; ``options_for_beta(beta)``, if given, returns more of them
    for that beta (they then also name the cached file). ``info[beta]`` records the training CPU seconds of
    this run and, after ``accuracy``, the relative error of the z-update on real images."""

    def __init__(self, small, folder: Path, tag: str, options_for_beta=None, **options):
        self.small, self.folder, self.tag, self.options = small, Path(folder), tag, options
        self.options_for_beta = options_for_beta
        self.cache, self.info = {}, {}

    def __call__(self, A, beta):
        key = (id(A), beta)
        if key not in self.cache:
            extra = self.options_for_beta(beta) if self.options_for_beta else {}
            suffix = "".join(f"_{name}{value}" for name, value in sorted(extra.items()))
            path = self.folder / f"learned_inverse_{self.tag}{suffix}_beta{beta:g}.safetensors"
            t = time.process_time()
            LearnedInverse.train(self.small, beta, checkpoint=str(path), progress=False, **{**self.options, **extra})
            self.info.setdefault(f"{beta:g}", {})["train_cpu_seconds_this_run"] = time.process_time() - t
            self.cache[key] = LearnedInverse.load(str(path), A, beta, allow_resize=True)
        return self.cache[key]

    def accuracy(self, A, betas, x):
        """Relative error ``||z - x|| / ||x||`` (mean, max over ``x``) of the z-update on
        ``b = A^T A x + beta x``, whose exact answer is ``x``, for each beta."""
        for beta, errors in z_errors(self, A, betas, x).items():
            self.info.setdefault(beta, {})["z_update_rel_error_mean_max"] = errors
        return self.info


def z_errors(inverse, A, betas, x) -> dict:
    """``{beta: [mean, max]}`` over ``x`` of the z-update's relative error ``||z - x|| / ||x||`` on
    ``b = A^T A x + beta x`` (exact answer ``x``), ``inverse(A, beta)`` solving."""
    out = {}
    for beta in betas:
        inv = inverse(A, beta)
        errs = [float(np.linalg.norm(inv.solve(A.adjoint(A.apply(xi)) + beta * xi) - xi) / np.linalg.norm(xi))
                for xi in x]
        out[f"{beta:g}"] = [float(np.mean(errs)), max(errs)]
    return out


def psnr_per_iteration(y, A, x, prox, betas, iterations: int, x0: str = "bicubic") -> dict:
    """For each beta, the mean over images of the PSNR of ADMM's estimate after every iteration (one stage of
    ``iterations``); prints each curve with its best iteration. For choosing beta and the iteration count."""
    from ppsolve import restore
    from ppsolve.experiments.natural import score

    table = {}
    for beta in betas:
        curves = []
        for i in range(len(x)):
            seen = []
            restore(y[i], A, prior=prox, stages=[(beta, iterations)], x0=x0,
                    callback=lambda k, s, i=i, seen=seen: seen.append(score(s.x, x[i])))
            curves.append(seen)
        mean = np.mean(curves, axis=0)
        table[f"{beta:g}"] = [round(float(v), 3) for v in mean]
        print(f"beta {beta:g}: best {mean.max():.2f} dB at iteration {int(mean.argmax()) + 1}; "
              f"{' '.join(f'{v:.2f}' for v in mean)}", flush=True)
    return table


def tune_schedules(y, A, x, prox, candidates, x0: str) -> list[dict]:
    """Mean PSNR (and CPU seconds per image) of ``restore`` with each candidate
    ``(sigma_start, sigma_end, steps, iterations, beta_scale)`` of ``ppsolve.staged.sigma_schedule``; best first."""
    from ppsolve import restore
    from ppsolve.experiments.natural import score
    from ppsolve.staged import sigma_schedule

    rows = []
    for s0, se, n, it, c in candidates:
        stages = sigma_schedule(s0, se, n, c, iterations=it)
        t = time.process_time()
        scores = [score(restore(y[i], A, prior=prox, stages=stages, x0=x0).x, x[i]) for i in range(len(x))]
        rows.append({"sigma_start": s0, "sigma_end": se, "steps": n, "iterations": it, "beta_scale": c,
                     "psnr": float(np.mean(scores)), "cpu_seconds_per_image": (time.process_time() - t) / len(x)})
        print(rows[-1], flush=True)
    return sorted(rows, key=lambda r: -r["psnr"])


def ensemble_argument(text: str):
    """``--ensemble``: one self-ensemble size (1, 2, 4 or 8) or one per stage, comma-separated ("1,1,2,4")."""
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 1, 2, 4 or 8, or one per stage like 1,1,2,4; got {text!r}") \
            from None
    if any(size not in (1, 2, 4, 8) for size in sizes):
        raise argparse.ArgumentTypeError(f"expected sizes of 1, 2, 4 or 8, got {text!r}")
    return sizes[0] if len(sizes) == 1 else sizes


def natural_prior(name_or_path, task: str, backend: str = "torch", weights=None):
    """(prox, stages or None, self-ensemble or None): a zoo prior with its ``task`` settings (stages and the
    self-ensemble, one size or a rule by noise level, for ``restore(ensemble=)``), or a checkpoint
    (noise-conditional networks get ``sigma_of_tau = sqrt``), clipped to [0, 1]; its network run by ``backend``.
    ``weights``: a retrained model file for the zoo prior (``zoo.load(weights=)``), run with the zoo's settings."""
    from ppsolve import zoo
    from ppsolve.prox import DenoiserProx

    if name_or_path in zoo.list():
        settings = zoo.info(name_or_path)["tasks"][task]
        prox = zoo.load(name_or_path, backend=backend, weights=weights)
        return prox, settings["stages"], settings.get("ensemble")
    if weights is not None:
        raise SystemExit(f"--weights is for a zoo prior; {name_or_path!r} is not one (pass the file as --prior)")
    return DenoiserProx.from_file(name_or_path, clip=(0, 1), backend=backend), None, None


def prior_variants(args, task: str, prox) -> dict:
    """``{row suffix: prox}``: the prior run by each of ``args.backends`` (the first is ``prox`` itself, suffix
    ""; the others "_<backend>"); each run gets the same ``ensemble`` from ``prior_rows``."""
    variants = {"": prox}
    for backend in args.backends[1:]:
        variants[f"_{backend}"] = natural_prior(args.prior, task, backend, args.weights)[0]
    return variants


def prior_and_stages(args, task: str, y, A, x, candidates, x0: str, tune_json: Path):
    """The BSD68 benchmarks' common start: the prior of ``args.prior`` with its ``task`` stages and
    self-ensemble (``--ensemble`` and ``--stages`` override the zoo's; the zoo's rule by noise level fits any
    stages). With ``--tune FIRST`` it scores ``candidates[FIRST:]`` (``tune_schedules``, at
    the ensemble's largest value), writes them to ``tune_json`` and returns None; else ``(prox, stages,
    ensemble)``."""
    prox, stages, ensemble = natural_prior(args.prior, task, args.backends[0], args.weights)
    if args.ensemble:
        ensemble = args.ensemble
    if isinstance(ensemble, list) and args.stages:
        raise SystemExit("--ensemble: one size per stage needs the zoo's stages; with --stages give one size")
    if args.tune is not None:
        prox.ensemble = max(stage_ensembles(ensemble, stages)) if ensemble and stages else (ensemble or 1)
        rows = tune_schedules(y, A, x, prox, candidates[args.tune:], x0=x0)
        tune_json.write_text(json.dumps(rows, indent=1))
        print("best:", rows[0])
        return None
    if args.stages:
        stages = json.loads(args.stages)
    if stages is None:
        raise SystemExit("--stages is required for a prior without zoo settings (find them with --tune)")
    return prox, stages, ensemble


def fourier_inverse(A, beta):
    """The exact z-update, for ``restore(..., inverse=fourier_inverse)``."""
    return FourierInverse(A, beta)


def timed(row: dict, show: dict, name: str, x_true, fn):
    """Run ``fn()`` (an estimate), record ``row[name] = (PSNR against x_true, CPU seconds)`` and ``show[name]``."""
    from ppsolve.experiments.natural import score

    start = time.process_time()
    estimate = fn()
    row[name] = (score(estimate, x_true), time.process_time() - start)
    show[name] = estimate
    return estimate


def prior_rows(row: dict, show: dict, y, A, x_true, modes, variants: dict, stages, inverses: dict, x0: str,
               ensemble=None):
    """The learned prior's rows of one image: each z-update mode (``inverses``) with each variant of the prior
    (``prior_variants``), as ``prior_<mode><suffix>``, with the self-ensemble ``ensemble`` (``restore``'s).
    Returns the exact-inverse, first-backend estimate."""
    from ppsolve import restore

    first = None
    for mode in modes:
        for suffix, variant in variants.items():
            estimate = timed(row, show, f"prior_{mode}{suffix}", x_true, lambda: restore(
                y, A, prior=variant, stages=stages, inverse=inverses[mode], x0=x0, clip=(0, 1), ensemble=ensemble).x)
            if mode == "fourier" and not suffix:
                first = estimate
    return first


def against_bm3d(report: dict, methods) -> dict:
    """Per method: PSNR gain over BM3D-PnP (all images, dB) and its CPU time as a fraction of BM3D-PnP's, both
    from this run (``report["psnr"]`` / ``report["cpu_seconds_per_image"]`` with a ``bm3d_pnp`` entry)."""
    base_psnr = report["psnr"]["bm3d_pnp"]["all"]
    base_cpu = report["cpu_seconds_per_image"]["bm3d_pnp"]
    return {m: {"psnr_gain_db": report["psnr"][m]["all"] - base_psnr,
                "cpu_fraction": report["cpu_seconds_per_image"][m] / base_cpu,
                "speed_up": base_cpu / report["cpu_seconds_per_image"][m]}
            for m in methods if m != "bm3d_pnp"}


def split_summary(values, tune: int):
    """Means over the first ``tune`` items (where settings were chosen), the rest, and all."""
    v = np.asarray(values, dtype=float)
    return {"tuning": float(v[:tune].mean()) if tune else None,
            "rest": float(v[tune:].mean()) if len(v) > tune else None,
            "all": float(v.mean()), "n": len(v)}


def _show(img):
    img = np.clip(np.asarray(img, dtype=float), 0, 1)
    return (img.transpose(1, 2, 0), {}) if img.ndim == 3 else (img, {"cmap": "gray", "vmin": 0, "vmax": 1})


def save_grid(path, rows, titles):
    """A PNG grid: ``rows`` of ``(image, label)``; grey ``(H, W)`` or colour ``(3, H, W)`` images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), len(titles), figsize=(2.2 * len(titles), 2.3 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c, (img, label) in enumerate(row):
            ax = axes[r, c]
            shown, kw = _show(img)
            ax.imshow(shown, interpolation="nearest", **kw)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[c], fontsize=8)
            ax.set_xlabel(label, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
