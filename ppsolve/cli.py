"""The ``ppsolve`` command line (``python -m ppsolve`` is the same command).

``ppsolve restore IN -o OUT``: restore image files, ``ppsolve kernel``: a blur kernel from calibration pairs
(``ppsolve.photo_cli``); ``ppsolve compare``: the paper's
comparison of inverses (``ppsolve.compare``); ``ppsolve train RECIPE``: the zoo's training recipes (``ppsolve.train.cli``, also ``python -m ppsolve.train``). Every command takes
``--threads N|auto`` (``ppsolve.threads``) and ``--traceback``; errors print one line and exit with status 2.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import threads
from ._cli import add_common_options, run
from .compare import INVERSE_NAMES, compare, write_report
from .photo_cli import add_kernel_parser, add_restore_parser, kernel_main, restore_main
from .train.cli import build_parser as build_train_parser
from .train.cli import train_main

__all__ = ["build_parser", "main"]


def _compare(args) -> int:
    inverses = args.inverses or list(INVERSE_NAMES)
    start = time.perf_counter()
    result = compare(sizes=args.sizes, betas=args.betas, iters=args.iters, inverses=inverses,
                     cache_dir=args.cache, progress=not args.quiet, threads=args.threads)
    with threads.limit(args.threads):
        written = write_report(result, args.out)
    print(f"\nfinished in {time.perf_counter() - start:.1f} s; wrote " + ", ".join(str(p) for p in written))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ppsolve", description="Linear inverse problems by ADMM with swappable parts.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("compare", help="ADMM with each inverse on the synthetic Laplace problem (paper section 4.1)",
                       description="Reproduce Figure 2 (left, middle) of the paper: ADMM with the GD inner loop, "
                                   "CG, dense, Fourier and learned inverses; prints a table, writes JSON, "
                                   "markdown and PNG plots.")
    p.add_argument("--sizes", type=int, nargs="+", default=[64],
                   help="image sizes, multiples of 4 (default: 64)")
    p.add_argument("--betas", type=float, nargs="+", default=[1.0, 0.1, 0.01], help="ADMM penalties")
    p.add_argument("--iters", type=int, default=30, help="ADMM iterations (default: 30)")
    p.add_argument("--inverses", nargs="+", default=None, choices=INVERSE_NAMES, metavar="NAME",
                   help=f"subset of inverses to run (default: all of {', '.join(INVERSE_NAMES)})")
    p.add_argument("--out", type=Path, default=Path("results/compare"), help="output folder")
    p.add_argument("--cache", type=Path, default=Path("results/checkpoints"),
                   help="where learned inverses not shipped with the package are trained and cached")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_common_options(p)
    p.set_defaults(run=_compare)
    p = add_restore_parser(sub)
    add_common_options(p)
    p.set_defaults(run=restore_main)
    p = add_kernel_parser(sub)
    add_common_options(p)
    p.set_defaults(run=kernel_main)
    train = sub.add_parser("train", help="train a zoo model (the same as python -m ppsolve.train)",
                           description="Train one of the zoo's recipes; see python -m ppsolve.train --help.")
    build_train_parser(parser=train)
    train.set_defaults(run=train_main)
    return parser


def main(argv=None) -> int:
    def command(argv):
        args = build_parser().parse_args(argv)
        return args.run(args)

    return run(command, argv, "ppsolve")


if __name__ == "__main__":
    sys.exit(main())
