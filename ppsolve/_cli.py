"""What every ppsolve command shares: the ``--threads`` and ``--traceback`` options and one-line errors.

A command's ``main(argv)`` is run through ``run``: an error a user can cause (a bad option value, a missing
file, a file that is not what it should be) prints one line, ``PROG: error: MESSAGE``, and the command exits
with status 2; Ctrl-C exits with 130. ``--traceback`` shows the full traceback instead, for bug reports.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from . import threads

__all__ = ["add_common_options", "run", "threads_option"]


def threads_option(text: str):
    """``--threads`` values: a positive int or 'auto' (see ``ppsolve.threads``)."""
    try:
        return threads.parse(text, "--threads")
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """``--threads N|auto`` (default ``$PPSOLVE_THREADS``, else 1) and ``--traceback``."""
    parser.add_argument("--threads", type=threads_option, default=None, metavar="N|auto",
                        help=f"threads for torch and the BLAS / OpenMP pools (default: ${threads.ENV}, else "
                             f"{threads.DEFAULT}; 'auto': each library's own default)")
    parser.add_argument("--traceback", action="store_true", help="on an error, show the full traceback")


def run(main: Callable[[list[str] | None], int], argv: list[str] | None, prog: str) -> int:
    """``main(argv)`` with one-line errors (see the module docstring); returns the exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    if "--traceback" in args:
        return main(argv)
    try:
        return main(argv)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # one line for the user; --traceback for the whole story
        message = " ".join(str(err).split()) or type(err).__name__
        kind = "" if isinstance(err, (ValueError, TypeError, OSError)) else f"{type(err).__name__}: "
        print(f"{prog}: error: {kind}{message} (run with --traceback for details)", file=sys.stderr)
        return 2
