"""PyProximal's ADMM with a ppsolve inverse as its data term
==========================================================

PyProximal's ADMM on the synthetic Laplace problem, with the data term's proximal operator solved by a
ppsolve inverse (``ppsolve.interop.pyproximal.DataFidelity``: the exact Fourier closed form, the learned inverse,
CG preconditioned by the learned network) or by PyProximal's own ``L2`` (an inner least-squares loop through
PyLops). ::

    min_x ||y - A x||^2 + lam ||x||_1,    A = strided Gaussian blur (stride 4),   lam = 2 sigma^2 / b

PyProximal's ``L2(Op, b, sigma)`` is ``sigma / 2 ||Op x - b||^2``, so ``sigma = 2`` gives ppsolve's data term;
``L1(sigma=lam)`` is ``lam ||x||_1``. PyProximal's ADMM step ``tau`` corresponds to ppsolve's penalty
``beta = 1 / (2 tau)``. The learned inverses are the networks shipped for this operator (``ppsolve/zoo``, trained
from noise at 64 x 64 for beta in {1, 0.1, 0.01}; other sizes >= 64 reuse them): with another ``--beta`` those two
rows are skipped. Prints each run's objective, its distance to the Fourier run and its time, and ppsolve's own ADMM
for reference. ::

    python examples/pyproximal_admm.py [--size 64] [--iters 100] [--beta 0.01] [--seed 0]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pyproximal
from pyproximal.optimization.primal import ADMM as pyproximal_admm

from ppsolve.admm import ADMM
from ppsolve.compare import learned_inverse
from ppsolve.interop.pyproximal import DataFidelity
from ppsolve.inverses import ConjugateGradient, FourierInverse
from ppsolve.problems import synthetic_laplace
from ppsolve.prox import SoftThreshold

SHIPPED_BETAS = (1.0, 0.1, 0.01)


def objective(problem, x) -> float:
    r = problem.y - problem.A.apply(np.reshape(x, problem.A.in_shape))
    return float(np.sum(r * r) + problem.lam * np.sum(np.abs(x)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=64, help="image side (a multiple of 4; >= 64 for the learned rows)")
    parser.add_argument("--iters", type=int, default=100, help="ADMM iterations")
    parser.add_argument("--beta", type=float, default=0.01, help="ADMM penalty beta (pyproximal tau = 1 / (2 beta))")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    problem = synthetic_laplace((args.size, args.size), seed=args.seed)
    A, y, lam, beta = problem.A, problem.y, problem.lam, args.beta
    tau = 1.0 / (2.0 * beta)
    x0 = np.zeros(A.shape[1])
    print(problem.description)
    print(f"lam = {lam:g}, beta = {beta:g} (pyproximal tau = {tau:g}), {args.iters} iterations")

    runs = {"DataFidelity(FourierInverse)": DataFidelity(A, y, FourierInverse(A, beta))}
    if beta in SHIPPED_BETAS and args.size >= 64:
        learned, _ = learned_inverse(A, beta, cache_dir=None, progress=False)
        pcg = ConjugateGradient(A, beta, tol=1e-10, preconditioner=learned.preconditioner())
        runs["DataFidelity(LearnedInverse)"] = DataFidelity(A, y, learned)
        runs["DataFidelity(learned-PCG, tol 1e-10)"] = DataFidelity(A, y, pcg)
    else:
        print(f"(no shipped learned inverse for beta = {beta:g} at size {args.size}: learned rows skipped)")
    runs["pyproximal.L2(Op=A.to_pylops(), sigma=2)"] = pyproximal.L2(Op=A.to_pylops(), b=y.ravel(), sigma=2.0)

    reference = None
    print(f"  {'data term':42s} {'F(z)':>16s} {'|z - z_fourier| / |z_fourier|':>30s} {'seconds':>9s}")
    for name, proxf in runs.items():
        start = time.perf_counter()
        _, z = pyproximal_admm(proxf, pyproximal.L1(sigma=lam), x0, tau, niter=args.iters)
        seconds = time.perf_counter() - start
        reference = z if reference is None else reference
        gap = np.linalg.norm(z - reference) / np.linalg.norm(reference)
        print(f"  {name:42s} {objective(problem, z):16.10f} {gap:30.2e} {seconds:9.3f}")

    start = time.perf_counter()
    result = ADMM(A, SoftThreshold(), FourierInverse(A, beta), lam=lam).solve(y, iters=args.iters)
    seconds = time.perf_counter() - start
    name = "ppsolve.ADMM(SoftThreshold, fourier)"
    print(f"  {name:42s} {result.history.objective[-1]:16.10f} {'':30s} {seconds:9.3f}")
    print("(PyProximal's L2 solves each prox by 10 warm-started LSQR steps, hence its different path; the learned "
          "inverse is an approximation, learned-PCG is exact.)")


if __name__ == "__main__":
    main()
