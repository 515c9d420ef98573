r"""The paper's comparison of inverses (section 4.1, Figure 2 left and middle), as a reusable experiment.

ADMM with a soft-threshold prior runs on ``synthetic_laplace`` (x ~ Laplace, A = stride-4 periodic strided
Gaussian blur) once per inverse, for each image size and ``beta``:

* ``fourier``: the exact closed form (the reference every other run is measured against);
* ``gd``: the paper's inner loop, warm-started gradient descent with step ``2 / (lambda_max + lambda_min)``,
  given the *fewest* inner steps that keep its objective within ``rtol`` (1e-6) of the exact run at every
  iteration (found by a doubling-then-bisection search, reported);
* ``cg``: warm-started conjugate gradients, given the fewest iterations by the same rule;
* ``dense``: a cached Cholesky factorisation (where ``n`` is small enough);
* ``learned``: the default learned inverse (linear ``C = F^T F``), trained from noise at 64 x 64 and reused
  at larger sizes (its kernels do not depend on the size);
* ``learned-paper``: the paper's Table 4 network (ReLUs), trained with the same budget;
* ``learned-pcg``: CG preconditioned by the learned ``C`` (on the measurement space), fewest iterations as for
  ``cg``.

``compare(...)`` returns a JSON-ready dict; ``write_report`` writes JSON, a markdown table and PNG plots of
the objective gap ``F(x_k) - F*`` (``F*`` from the exact run continued ten times as long) against the
iteration and against wall time. ``python -m ppsolve compare`` runs it.
"""
from __future__ import annotations

import json
import math
import time
from importlib import resources
from pathlib import Path

import numpy as np

from ._validate import integer, positive_int, real_number
from .admm import ADMM
from .files import atomic_write, atomic_write_text
from .inverses import ConjugateGradient, DenseInverse, FourierInverse, GradientDescent
from .inverses.learned import LearnedInverse
from .problems import synthetic_laplace
from .prox import SoftThreshold
from .threads import limit

__all__ = ["INVERSE_NAMES", "compare", "learned_inverse", "write_report"]

INVERSE_NAMES = ("fourier", "gd", "cg", "dense", "learned", "learned-paper", "learned-pcg")
#: the size learned inverses are trained at (and shipped for)
TRAIN_SIZE = 64
#: the sampling factor of the synthetic problem's operator: image sizes must be multiples of it
FACTOR = 4
#: DenseInverse is only tried up to this many pixels
DENSE_MAX_PIXELS = 64 * 64


def _operator(size: int):
    return synthetic_laplace(shape=(size, size), seed=0).A


def learned_inverse(A, beta: float, architecture: str = "linear", cache_dir: Path | None = None, progress=True):
    """The learned inverse for the synthetic problem's operator ``A`` and ``beta``: a checkpoint shipped with
    the package (``ppsolve/zoo``), else one trained at ``TRAIN_SIZE`` into ``cache_dir`` (resumed if
    interrupted, reused once finished). Larger operators reuse the 64 x 64 network
    (``LearnedInverse.load(..., allow_resize=True)``)."""
    name = f"learned-inverse-sr4-gauss9s2-{architecture}-beta{beta:g}.safetensors"
    shipped = Path(str(resources.files("ppsolve") / "zoo" / name))
    if shipped.is_file():
        return LearnedInverse.load(shipped, A=A, beta=beta, allow_resize=True), shipped
    if cache_dir is None:
        raise FileNotFoundError(f"no shipped checkpoint {name} and no cache_dir to train one into")
    path = Path(cache_dir) / name
    # train() returns at once for a finished checkpoint and resumes an interrupted one
    LearnedInverse.train(_operator(TRAIN_SIZE), beta, architecture, checkpoint=path, progress=progress)
    return LearnedInverse.load(path, A=A, beta=beta, allow_resize=True), path


def _run(problem, beta, inverse, iters):
    """One ADMM run; returns its history as lists plus the iterates' distance data."""
    admm = ADMM(problem.A, SoftThreshold(), inverse=inverse, beta=beta, lam=problem.lam)
    xs = []
    result = admm.solve(problem.y, iters=iters, x_true=problem.x, callback=lambda k, state: xs.append(state.x.copy()))
    h = result.history
    return {
        "objective": list(map(float, h.objective)),
        "time": list(map(float, h.time)),
        "inverse_seconds": float(sum(h.time_inverse)),
        "inner_iterations": [int(i) for i in h.inverse_iterations],
        "nmse": list(map(float, h.nmse)),
    }, xs


def _within(run, reference, rtol):
    return all(abs(f - g) <= rtol * abs(g) for f, g in zip(run["objective"], reference["objective"]))


def _fewest_steps(make, problem, beta, iters, reference, rtol, limit=512):
    """Smallest inner step count s for which ADMM with ``make(s)`` keeps its objective within ``rtol`` of the
    reference at every iteration: doubling, then bisection. Returns (s, run) or (None, last run)."""
    cache = {}

    def ok(s):
        if s not in cache:
            cache[s] = _run(problem, beta, make(s), iters)[0]
        return _within(cache[s], reference, rtol)

    hi = 1
    while not ok(hi):
        if hi >= limit:
            return None, cache[hi]
        hi *= 2
    lo = hi // 2  # ok(lo) is False (or lo == 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi, cache[hi]


def compare(sizes=(64,), betas=(1.0, 0.1, 0.01), iters=30, inverses=INVERSE_NAMES, rtol=1e-6,
            cache_dir: Path | None = Path("results/checkpoints"), reuse_steps=True, progress=True, log=print,
            threads=None) -> dict:
    """Run the comparison (see the module docstring) and return a JSON-ready dict.

    ``sizes``: image sizes, multiples of the sampling factor 4 (at least 16); ``betas``: ADMM penalties > 0;
    ``iters``: ADMM iterations. ``reuse_steps``: at sizes above 256 the GD / CG step counts found at the largest
    size <= 256 are reused instead of searched again (the search costs many full runs); the distance to the
    exact run is still measured and reported. ``threads``: see ``ppsolve.threads`` (default
    ``PPSOLVE_THREADS``, else 1: every backend is timed with the same thread count).
    """
    sizes = [integer(s, "compare sizes", minimum=16) for s in sizes]
    bad = [s for s in sizes if s % FACTOR]
    if bad:
        raise ValueError(f"compare sizes: expected multiples of the sampling factor {FACTOR} (the stride of the "
                         f"problem's operator), got {bad}")
    betas = [real_number(b, "compare betas", positive=True) for b in betas]
    iters = positive_int(iters, "compare iters")
    unknown = set(inverses) - set(INVERSE_NAMES)
    if unknown:
        raise ValueError(f"unknown inverse names {sorted(unknown)}; expected some of {INVERSE_NAMES}")
    with limit(threads):
        return _compare(sizes, betas, iters, inverses, rtol, cache_dir, reuse_steps, progress, log)


def _compare(sizes, betas, iters, inverses, rtol, cache_dir, reuse_steps, progress, log) -> dict:
    rows, curves, f_stars = [], {}, {}
    found_steps: dict = {}
    for size in sizes:
        problem = synthetic_laplace(shape=(size, size), seed=0)
        A = problem.A
        for beta in betas:
            reference, ref_xs = _run(problem, beta, FourierInverse(A, beta), iters)
            # F*, for the plots' objective gap: the exact ADMM run continued ten times as long
            f_stars[f"{size}/{beta:g}"] = min(_run(problem, beta, FourierInverse(A, beta), 10 * iters)[0]["objective"])
            runs = {}
            for name in inverses:
                start = time.perf_counter()
                steps = None
                try:
                    if name == "fourier":
                        run = reference
                    elif name in ("gd", "cg", "learned-pcg"):
                        make = _maker(name, A, beta, cache_dir, progress)
                        reuse = found_steps.get((name, beta)) if (reuse_steps and size > 256) else None
                        if reuse is not None:
                            steps, run = reuse, _run(problem, beta, make(reuse), iters)[0]
                        else:
                            steps, run = _fewest_steps(make, problem, beta, iters, reference, rtol)
                            if steps is not None and size <= 256:
                                found_steps[(name, beta)] = steps
                    elif name == "dense":
                        if size * size > DENSE_MAX_PIXELS:
                            continue
                        inverse = DenseInverse(A, beta)
                        inverse.solve(np.zeros(A.in_shape))  # factorise outside the timed run
                        run = _run(problem, beta, inverse, iters)[0]
                    else:
                        architecture = "paper" if name == "learned-paper" else "linear"
                        inverse, _ = learned_inverse(A, beta, architecture, cache_dir, progress)
                        run, xs = _run(problem, beta, inverse, iters)
                        run["max_relative_distance"] = max(
                            float(np.linalg.norm(x - r) / max(np.linalg.norm(r), 1e-300)) for x, r in zip(xs, ref_xs)
                        )
                except (ValueError, FileNotFoundError) as exc:
                    log(f"  {name}: skipped ({exc})")
                    continue
                run["steps"] = steps
                run["setup_seconds"] = time.perf_counter() - start
                runs[name] = run
            for name, run in runs.items():
                deviation = max(abs(f - g) / abs(g) for f, g in zip(run["objective"], reference["objective"]))
                row = {
                    "size": size, "beta": beta, "inverse": name, "steps": run["steps"],
                    "seconds": run["time"][-1], "inverse_seconds": run["inverse_seconds"],
                    "final_objective": run["objective"][-1], "max_objective_deviation": deviation,
                    "max_relative_distance": run.get("max_relative_distance"),
                    "final_nmse": run["nmse"][-1],
                }
                if "gd" in runs:
                    row["speedup_vs_gd"] = runs["gd"]["time"][-1] / run["time"][-1]
                rows.append(row)
                curves[f"{size}/{beta:g}/{name}"] = {"objective": run["objective"], "time": run["time"]}
            log(_table([r for r in rows if r["size"] == size and r["beta"] == beta], header=(size, beta)))
    return {"iters": iters, "rtol": rtol, "sizes": list(sizes), "betas": list(betas), "rows": rows, "curves": curves,
            "f_star": f_stars}


def _maker(name, A, beta, cache_dir, progress):
    if name == "gd":
        return lambda s: GradientDescent(A, beta, maxiter=s, tol=0.0)
    if name == "cg":
        return lambda s: ConjugateGradient(A, beta, tol=1e-300, maxiter=s)
    inverse, _ = learned_inverse(A, beta, "linear", cache_dir, progress)
    preconditioner = inverse.preconditioner()
    return lambda s: ConjugateGradient(A, beta, tol=1e-300, maxiter=s, preconditioner=preconditioner)


def _fmt(value, spec):
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def _table(rows, header=None) -> str:
    lines = []
    if header is not None:
        lines.append(f"\n### {header[0]}x{header[0]}, beta = {header[1]:g}\n")
    lines.append("| inverse | inner steps | ADMM seconds | inverse seconds | speed-up vs GD | max rel. F deviation "
                 "| max rel. distance of x | final F |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for r in rows:
        lines.append(
            f"| {r['inverse']} | {_fmt(r['steps'], 'd')} | {r['seconds']:.4f} | {r['inverse_seconds']:.4f} "
            f"| {_fmt(r.get('speedup_vs_gd'), '.1f')} | {r['max_objective_deviation']:.1e} "
            f"| {_fmt(r['max_relative_distance'], '.1e')} | {r['final_objective']:.6g} |"
        )
    return "\n".join(lines)


def write_report(result: dict, out_dir: Path) -> list[Path]:
    """Write ``compare.json``, ``compare.md`` and one PNG per (size, beta) with the objective against the
    iteration (left) and against wall time (right). Returns the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "compare.json", out_dir / "compare.md"]
    atomic_write_text(written[0], json.dumps(result, indent=1))
    md = [f"# ADMM inverses on the synthetic Laplace problem ({result['iters']} iterations)\n"]
    for size in result["sizes"]:
        for beta in result["betas"]:
            md.append(_table([r for r in result["rows"] if r["size"] == size and r["beta"] == beta], (size, beta)))
    atomic_write_text(written[1], "\n".join(md) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return written
    for size in result["sizes"]:
        for beta in result["betas"]:
            prefix = f"{size}/{beta:g}/"
            curves = {k[len(prefix):]: v for k, v in result["curves"].items() if k.startswith(prefix)}
            if not curves:
                continue
            f_star = result["f_star"][f"{size}/{beta:g}"]
            fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
            for name, c in curves.items():
                gap = np.maximum(np.asarray(c["objective"]) - f_star, 1e-15 * abs(f_star))
                left.semilogy(np.arange(1, len(gap) + 1), gap, label=name)
                right.loglog(c["time"], gap, label=name)
            left.set(xlabel="ADMM iteration", ylabel="F(x_k) - F*", title=f"{size}x{size}, beta={beta:g}")
            right.set(xlabel="wall time (s)", ylabel="F(x_k) - F*", title="objective gap vs wall time")
            left.legend(fontsize=8)
            fig.tight_layout()
            path = out_dir / f"compare_{size}_beta{beta:g}.png"
            atomic_write(path, lambda f, fig=fig: fig.savefig(f, format="png", dpi=110))
            plt.close(fig)
            written.append(path)
    return written
