"""The paper's comparison of inversion backends at full scale (Figure 2 left and middle).

    python benchmarks/compare_inverses.py [--sizes 64 256 1024] [--betas 1 0.1 0.01] [--iters 30]

ADMM (soft threshold) on the synthetic Laplace problem with every inverse of ``ppsolve.compare``: GD and CG
inner loops with the fewest steps that keep F within 1e-6 of the exact run (searched up to 256 x 256,
reused above), dense Cholesky at 64 x 64, the Fourier closed form, the learned inverses (trained once at
64 x 64 from noise, shipped or cached in results/checkpoints, reused at larger sizes) and learned-
preconditioned CG. All libraries share one thread count (``PPSOLVE_THREADS``, default 1). Writes
results/compare_inverses/{compare.json, compare.md, *.png} and prints the tables and the time ratios.
"""
import argparse
import time
from pathlib import Path

import _timing

from ppsolve.compare import INVERSE_NAMES, compare, write_report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--betas", type=float, nargs="+", default=[1.0, 0.1, 0.01])
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--inverses", nargs="+", default=list(INVERSE_NAMES))
    parser.add_argument("--out", type=Path, default=Path("results/compare_inverses"))
    args = parser.parse_args()
    start = time.perf_counter()
    result = compare(args.sizes, args.betas, args.iters, args.inverses, cache_dir=Path("results/checkpoints"))
    for path in write_report(result, args.out):
        print("wrote", path)
    print("\ntime ratios (GD inner loop / other), per size and beta:")
    for r in result["rows"]:
        if r["inverse"] != "gd" and r.get("speedup_vs_gd") is not None:
            print(f"  {r['size']:>5} beta={r['beta']:<5g} {r['inverse']:<14} {r['speedup_vs_gd']:8.1f}x")
    print(f"total {time.perf_counter() - start:.0f} s, threads={_timing.THREADS}")


if __name__ == "__main__":
    main()
