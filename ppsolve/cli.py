"""The ``ppsolve`` command line: ``ppsolve compare`` (the paper's comparison of inverses).

``python -m ppsolve ...`` is the same command.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _compare(args) -> int:
    from .compare import INVERSE_NAMES, compare, write_report

    inverses = args.inverses or list(INVERSE_NAMES)
    start = time.perf_counter()
    result = compare(sizes=args.sizes, betas=args.betas, iters=args.iters, inverses=inverses,
                     cache_dir=args.cache, progress=not args.quiet)
    written = write_report(result, args.out)
    print(f"\nfinished in {time.perf_counter() - start:.1f} s; wrote " + ", ".join(str(p) for p in written))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ppsolve", description="Linear inverse problems by ADMM with swappable parts.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("compare", help="ADMM with each inverse on the synthetic Laplace problem (paper section 4.1)",
                       description="Reproduce Figure 2 (left, middle) of the paper: ADMM with the GD inner loop, "
                                   "CG, dense, Fourier and learned inverses; prints a table, writes JSON, "
                                   "markdown and PNG plots.")
    p.add_argument("--sizes", type=int, nargs="+", default=[64], help="image sizes (default: 64)")
    p.add_argument("--betas", type=float, nargs="+", default=[1.0, 0.1, 0.01], help="ADMM penalties")
    p.add_argument("--iters", type=int, default=30, help="ADMM iterations (default: 30)")
    p.add_argument("--inverses", nargs="+", default=None, help="subset of inverses to run (default: all)")
    p.add_argument("--out", type=Path, default=Path("results/compare"), help="output folder")
    p.add_argument("--cache", type=Path, default=Path("results/checkpoints"),
                   help="where learned inverses not shipped with the package are trained and cached")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: these small problems are latency-bound, and SciPy's FFTs use one "
                        "worker too, so every backend is timed with the same thread count)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=_compare)
    args = parser.parse_args(argv)
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
