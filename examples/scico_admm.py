"""SCICO's ADMM with a ppsolve inverse as its x-step
==================================================

SCICO's ADMM on the paper's problem with the x-step solved by a ppsolve inverse (``InverseSolver``) instead of
SCICO's ``LinearSubproblemSolver`` (CG). ::

    min_x ||y - A x||^2 + lam ||x||_1,   A = S H: 9 x 9 Gaussian blur (sigma 2, periodic), every 4th pixel

written in SCICO as ``loss.SquaredL2Loss(y=y, A=A_scico, scale=1)`` plus ``lam * functional.L1Norm()`` with
``C = I`` and ``rho = 2 beta`` (``ppsolve.interop.scico``: SCICO's x-step solves ``(2 scale A^T A + rho I) x = ...``,
ppsolve's ``(A^T A + beta I) z = ...``). ``A_scico`` is the operator in pure JAX (``CircularConvolve`` with centre
(4, 4), then slicing), checked equal to ppsolve's; SCICO's own circulant solver refuses it (a decimation follows
the convolution), so its user's choice is CG. Every run is compared iterate by iterate with CG at 1e-12; the
learned inverse is the network shipped for this operator at beta = 0.01 (trained from noise at 64 x 64; sizes >= 64).
::

    python examples/scico_admm.py [--size 128] [--iters 20] [--seed 0]
"""
from __future__ import annotations

import argparse
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scico.linop as linop  # noqa: E402
from scico import functional, loss  # noqa: E402
from scico.optimize import ADMM  # noqa: E402
from scico.optimize.admm import CircularConvolveSolver, LinearSubproblemSolver  # noqa: E402

from ppsolve.compare import learned_inverse  # noqa: E402
from ppsolve.interop.scico import InverseSolver  # noqa: E402
from ppsolve.inverses import ConjugateGradient, FourierInverse  # noqa: E402
from ppsolve.operators import gaussian_kernel  # noqa: E402
from ppsolve.problems import synthetic_laplace  # noqa: E402

BETA = 0.01


def scico_operator(N: int):
    """The paper's operator in pure JAX: CircularConvolve (kernel centre (4, 4)), then every 4th pixel."""
    H = linop.CircularConvolve(jnp.asarray(gaussian_kernel(9, 2.0)), (N, N), h_center=[4, 4], input_dtype=np.float64)
    S = linop.LinearOperator((N, N), eval_fn=lambda x: x[::4, ::4], input_dtype=np.float64, jit=True)
    return S @ H


def run(problem, A_scico, solver, iters):
    """Iterates of SCICO's ADMM and its wall time."""
    f = loss.SquaredL2Loss(y=jnp.asarray(problem.y), A=A_scico, scale=1.0)
    admm = ADMM(f=f, g_list=[problem.lam * functional.L1Norm()],
                C_list=[linop.Identity(problem.A.in_shape, input_dtype=np.float64)], rho_list=[2 * BETA],
                x0=jnp.zeros(problem.A.in_shape), maxiter=iters, subproblem_solver=solver,
                itstat_options={"display": False})
    iterates, start = [], time.perf_counter()
    for _ in range(iters):
        admm.step()
        iterates.append(np.asarray(admm.x))
    return iterates, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128, help="image side (a multiple of 4, >= 64)")
    parser.add_argument("--iters", type=int, default=20, help="ADMM iterations")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    problem = synthetic_laplace((args.size, args.size), seed=args.seed)
    A, A_scico = problem.A, scico_operator(args.size)
    x = np.random.default_rng(args.seed).standard_normal(A.in_shape)
    print(problem.description)
    print(f"  check: max |A_scico x - A x| = {np.abs(np.asarray(A_scico(jnp.asarray(x))) - A.apply(x)).max():.2e}; "
          f"rho = 2 beta = {2 * BETA:g}, lam = {problem.lam:g}, {args.iters} iterations, float64 (jax_enable_x64)")
    try:
        run(problem, A_scico, CircularConvolveSolver(), 1)
    except TypeError as err:
        print(f"  SCICO's CircularConvolveSolver refuses S H: {err}")

    learned, _ = learned_inverse(A, BETA, cache_dir=None, progress=False)
    solvers = {
        "LinearSubproblemSolver (CG tol 1e-12)": LinearSubproblemSolver(cg_kwargs={"tol": 1e-12, "maxiter": 2000}),
        "LinearSubproblemSolver (default tol 1e-4)": LinearSubproblemSolver(),
        "InverseSolver(FourierInverse)": InverseSolver(FourierInverse(A, BETA)),
        "InverseSolver(LearnedInverse)": InverseSolver(learned),
        "InverseSolver(learned-PCG, tol 1e-10)": InverseSolver(
            ConjugateGradient(A, BETA, tol=1e-10, preconditioner=learned.preconditioner())),
    }
    run(problem, A_scico, LinearSubproblemSolver(), 2)  # compile SCICO's jitted pieces before timing
    reference, reference_seconds = None, None
    print(f"  {'x-step':44s} {'seconds':>8s} {'speed-up':>9s}   max relative difference to CG at 1e-12 (all iterates)")
    for name, solver in solvers.items():
        iterates, seconds = run(problem, A_scico, solver, args.iters)
        if reference is None:
            reference, reference_seconds = iterates, seconds
        worst = max(np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in zip(iterates, reference))
        print(f"  {name:44s} {seconds:8.3f} {reference_seconds / seconds:8.1f}x   {worst:.2e}")


if __name__ == "__main__":
    main()
