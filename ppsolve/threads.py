r"""The one thread knob of ppsolve: ``PPSOLVE_THREADS`` (and ``--threads`` on every command).

ppsolve's own entry points (training, ``restore``, ``compare``, every command) run with
``configured()`` threads for torch's intra-op pool and for the BLAS / OpenMP pools of NumPy and SciPy
(through ``threadpoolctl``), and put the previous settings back when they return:

* unset: ``DEFAULT = 1``;
* a positive integer: that many;
* ``auto``: leave every library at its own default (torch takes all cores).

Why 1 by default: with another job on the machine (CI, a shared workstation, a second benchmark), several
threads per process make the pools spin against each other and run many times slower than one thread, while
one thread gives up little on an idle machine (``benchmarks/threads.py``; the figures are in
``docs/threads.md``). On a machine of your own with idle cores, ``PPSOLVE_THREADS=auto`` (or a number) is
faster.

Library code that you call directly (an operator, an inverse) never changes the thread settings; only the
entry points above do, and only for their duration (``limit``).
"""
from __future__ import annotations

import contextlib
import os

import torch
from threadpoolctl import threadpool_limits

__all__ = ["DEFAULT", "ENV", "configured", "limit", "parse"]

ENV = "PPSOLVE_THREADS"
DEFAULT = 1


def parse(value, what: str = ENV) -> int | None:
    """A thread count from ``value``: a positive int (or its text), or ``"auto"`` (None: the libraries'
    defaults); ``ValueError`` otherwise."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    text = value.strip() if isinstance(value, str) else value
    try:
        number = int(text)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or (not isinstance(value, str) and number != value) or number < 1:
        raise ValueError(f"{what}: expected a positive number of threads or 'auto', got {value!r}")
    return number


def configured() -> int | None:
    """The thread count ppsolve's entry points use: ``$PPSOLVE_THREADS``, else ``DEFAULT`` (None for 'auto')."""
    value = os.environ.get(ENV)
    return DEFAULT if value is None or not value.strip() else parse(value)


@contextlib.contextmanager
def limit(threads: int | str | None = None):
    """Run the block with ``threads`` threads in torch and in the BLAS / OpenMP pools (None: ``configured()``;
    ``"auto"``: no change), restoring the previous settings afterwards."""
    n = configured() if threads is None else parse(threads, "threads")
    if n is None:
        yield None
        return
    before = torch.get_num_threads()
    with threadpool_limits(limits=n):
        if before != n:
            torch.set_num_threads(n)
        try:
            yield n
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)
