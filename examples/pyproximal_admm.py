"""PyProximal's ADMM on the synthetic Laplace problem, with the data term's proximal operator solved by a
ppsolve inverse (``DataFidelity``: the exact Fourier closed form) or by PyProximal's own ``L2`` (an inner
least-squares loop through PyLops).

    min_x ||y - A x||^2 + lam ||x||_1,    A = strided Gaussian blur (stride 4),   lam = 2 sigma^2 / b

PyProximal's ``L2(Op, b, sigma)`` is ``sigma / 2 ||Op x - b||^2``, so ``sigma = 2`` gives ppsolve's data term;
``L1(sigma=lam)`` is ``lam ||x||_1``. PyProximal's ADMM step ``tau`` corresponds to ppsolve's penalty
``beta = 1 / (2 tau)``. Prints both objectives, their run times, and ppsolve's own ADMM for reference.

    python examples/pyproximal_admm.py [--size 64] [--iters 100] [--beta 1e-3] [--seed 0]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pyproximal
from pyproximal.optimization.primal import ADMM as pyproximal_admm

from ppsolve.admm import ADMM
from ppsolve.inverses import FourierInverse
from ppsolve.problems import synthetic_laplace
from ppsolve.prox import SoftThreshold
from ppsolve.prox.pyproximal import DataFidelity


def objective(problem, x) -> float:
    r = problem.y - problem.A.apply(np.reshape(x, problem.A.in_shape))
    return float(np.sum(r * r) + problem.lam * np.sum(np.abs(x)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64, help="image side (a multiple of 4)")
    parser.add_argument("--iters", type=int, default=100, help="ADMM iterations")
    parser.add_argument("--beta", type=float, default=1e-3, help="ADMM penalty beta (pyproximal tau = 1 / (2 beta))")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    problem = synthetic_laplace((args.size, args.size), seed=args.seed)
    A, y, lam, beta = problem.A, problem.y, problem.lam, args.beta
    tau = 1.0 / (2.0 * beta)
    x0 = np.zeros(A.shape[1])
    print(problem.description)
    print(f"lam = {lam:g}, beta = {beta:g} (pyproximal tau = {tau:g}), {args.iters} iterations")

    runs = {
        "DataFidelity(FourierInverse)": DataFidelity(A, y, FourierInverse(A, beta)),
        "pyproximal.L2(Op=A.to_pylops(), sigma=2)": pyproximal.L2(Op=A.to_pylops(), b=y.ravel(), sigma=2.0),
    }
    for name, proxf in runs.items():
        start = time.perf_counter()
        _, z = pyproximal_admm(proxf, pyproximal.L1(sigma=lam), x0, tau, niter=args.iters)
        seconds = time.perf_counter() - start
        print(f"  {name:42s} F = {objective(problem, z):.10f}   {seconds:7.3f} s")

    start = time.perf_counter()
    result = ADMM(A, SoftThreshold(), FourierInverse(A, beta), lam=lam).solve(y, iters=args.iters)
    seconds = time.perf_counter() - start
    print(f"  {'ppsolve.ADMM(SoftThreshold, fourier)':42s} F = {result.history.objective[-1]:.10f}   {seconds:7.3f} s")
    print("(PyProximal's L2 solves each prox by 10 warm-started LSQR steps, hence its slightly different path.)")


if __name__ == "__main__":
    main()
