"""The whole SCICO ADMM run on the paper's problem: ppsolve's ``InverseSolver`` against ``LinearSubproblemSolver``.

    PPSOLVE_THREADS=1 python benchmarks/scico_bridge.py [--sizes 256] [--iters 30] [--rounds 3]

The problem is ``synthetic_laplace`` (x ~ Laplace on an N x N grid, A = S H: 9 x 9 Gaussian sigma 2, periodic,
every 4th pixel, lam = 2 sigma^2 / b) in SCICO's terms: ``SquaredL2Loss(y, A_scico, scale=1)`` plus
``lam * L1Norm()``, ``C = I``, ``rho = 2 beta`` with beta = 0.01, float64 (``jax_enable_x64``), ADMM from zeros.
``A_scico`` is the operator in pure JAX (``CircularConvolve`` with centre (4, 4), then slicing, jitted), so that
SCICO's CG runs at its best; every solver sees that same ``f``. SCICO's ``CircularConvolveSolver`` refuses
``S H``, so CG (``LinearSubproblemSolver``) is what a SCICO user has: at tol 1e-12 (exact, the reference for the
differences) and at its default (tol 1e-4, maxiter 100). ppsolve's x-steps: ``FourierInverse`` (exact), the
learned inverse shipped for this operator at beta = 0.01 (an approximation) and CG preconditioned by it (tol
1e-10). Each whole run (``ADMM.solve``, ``--iters`` iterations, SCICO's iteration statistics on but not displayed)
is timed in interleaved rounds (order reversed every other round, after one untimed warm-up run of each to compile
SCICO's jitted pieces); the medians, speed-ups and the largest relative difference of any iterate to CG at 1e-12 are
printed side by side. Writes ``results/scico_bridge.json``.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import _timing  # before numpy, torch and jax: the thread settings
import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
import scico  # noqa: E402
import scico.linop as linop  # noqa: E402
from scico import functional, loss  # noqa: E402
from scico.optimize import ADMM  # noqa: E402
from scico.optimize.admm import LinearSubproblemSolver  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import jax.numpy as jnp  # noqa: E402
from scico_admm import scico_operator  # noqa: E402

from ppsolve.compare import learned_inverse  # noqa: E402
from ppsolve.interop.scico import InverseSolver  # noqa: E402
from ppsolve.inverses import ConjugateGradient, FourierInverse  # noqa: E402
from ppsolve.problems import synthetic_laplace  # noqa: E402

BETA = 0.01


def whole_run(problem, A_scico, make_solver, iters):
    """``ADMM.solve`` with a new solver; returns the iterates (kept by a callback) and the final x."""
    f = loss.SquaredL2Loss(y=jnp.asarray(problem.y), A=A_scico, scale=1.0)
    iterates = []
    admm = ADMM(f=f, g_list=[problem.lam * functional.L1Norm()],
                C_list=[linop.Identity(problem.A.in_shape, input_dtype=np.float64)], rho_list=[2 * BETA],
                x0=jnp.zeros(problem.A.in_shape), maxiter=iters, subproblem_solver=make_solver(),
                itstat_options={"display": False})
    admm.solve(callback=lambda solver: iterates.append(np.asarray(solver.x)))
    return iterates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256])
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/scico_bridge.json"))
    args = parser.parse_args()
    print(f"scico {scico.__version__}, jax {jax.__version__}, threads {_timing.THREADS}; float64, beta {BETA} "
          f"(rho {2 * BETA}), {args.iters} iterations, {args.rounds} interleaved rounds, medians")
    results = {"iters": args.iters, "rounds": args.rounds, "threads": _timing.THREADS, "beta": BETA, "rows": []}
    for N in args.sizes:
        problem = synthetic_laplace((N, N), seed=0)
        A, A_scico = problem.A, scico_operator(N)
        learned, _ = learned_inverse(A, BETA, cache_dir=None, progress=False)
        pc = learned.preconditioner()
        makers = {
            "LinearSubproblemSolver (CG tol 1e-12)": lambda: LinearSubproblemSolver(
                cg_kwargs={"tol": 1e-12, "maxiter": 5000}),
            "LinearSubproblemSolver (default, tol 1e-4)": LinearSubproblemSolver,
            "InverseSolver(FourierInverse)": lambda: InverseSolver(FourierInverse(A, BETA)),
            "InverseSolver(LearnedInverse)": lambda: InverseSolver(learned),
            "InverseSolver(learned-PCG, tol 1e-10)": lambda: InverseSolver(
                ConjugateGradient(A, BETA, tol=1e-10, preconditioner=pc)),
        }
        for make in makers.values():
            whole_run(problem, A_scico, make, 2)  # compile
        samples, iterates = {k: [] for k in makers}, {}
        names = list(makers)
        for r in range(args.rounds):
            for name in (names if r % 2 == 0 else names[::-1]):
                start = time.perf_counter()
                iterates[name] = whole_run(problem, A_scico, makers[name], args.iters)
                samples[name].append(time.perf_counter() - start)
        reference = iterates[names[0]]
        t_exact, t_default = statistics.median(samples[names[0]]), statistics.median(samples[names[1]])
        print(f"\n{N} x {N}:")
        print(f"  {'x-step':44s} {'seconds':>8s} {'vs CG 1e-12':>12s} {'vs CG 1e-4':>11s} {'max rel. diff':>14s}")
        for name in names:
            t = statistics.median(samples[name])
            diff = max(np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in zip(iterates[name], reference))
            print(f"  {name:44s} {t:8.3f} {t_exact / t:11.1f}x {t_default / t:10.1f}x {diff:14.2e}")
            results["rows"].append({"size": N, "solver": name, "seconds": t, "samples": samples[name],
                                    "speedup_vs_cg_1e-12": t_exact / t, "speedup_vs_cg_default": t_default / t,
                                    "max_relative_difference": diff})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
