"""Shared benchmark set-up: equal thread counts for every library, and a robust timer.

Import this module FIRST in a benchmark: it sets the thread environment before NumPy, SciPy or torch
start their pools (mixed pools that spin against each other make timings 30-50x off). The count is the
package's one knob, ``PPSOLVE_THREADS`` (default 1; see ``ppsolve.threads``), given to every library.
"""
import os

_value = os.environ.get("PPSOLVE_THREADS", "").strip() or "1"
if _value.lower() == "auto":
    raise SystemExit("benchmarks: PPSOLVE_THREADS=auto gives every library its own default; set a number so that "
                     "all of them are timed with the same thread count")
THREADS = int(_value)
os.environ["PPSOLVE_THREADS"] = str(THREADS)
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(THREADS)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import time

import torch

torch.set_num_threads(THREADS)


def best_time(fn, repeat: int = 7, min_seconds: float = 0.05) -> float:
    """Best-of-``repeat`` seconds per call, each sample looping until ``min_seconds`` have passed."""
    fn()  # warm caches (spectra, plans)
    best = float("inf")
    for _ in range(repeat):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / calls)
    return best
