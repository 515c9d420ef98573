"""The default of the package's thread knob (``PPSOLVE_THREADS``, ``ppsolve.threads``), measured.

Trains the default learned inverse (64 x 64 stride-4 Gaussian, beta = 0.01, float32) for a fixed number of
steps in a fresh process for each setting: ``PPSOLVE_THREADS`` = 1, 2 and ``auto`` (torch's default: one per
core), on an idle machine and beside a busy neighbour (a NumPy matrix-product loop with its default BLAS
threads, as another job on a shared machine or CI). Prints steps per second and writes
``results/threads.json``. Each setting runs in its own process, so the pools are set before they start.

Run:  python benchmarks/threads.py [--steps 300]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

WORKER = """
import sys, time
from ppsolve import LearnedInverse
from ppsolve.operators import gaussian_kernel, strided_convolution
A = strided_convolution(gaussian_kernel(9, 2.0), (64, 64), 4)
steps = int(sys.argv[1])
LearnedInverse.train(A, 0.01, steps=20, progress=False)  # warm-up: imports, plans, pools
t = time.perf_counter()
LearnedInverse.train(A, 0.01, steps=steps, progress=False)
print(steps / (time.perf_counter() - t))
"""

NEIGHBOUR = """
import numpy as np
a = np.random.default_rng(0).standard_normal((600, 600))
while True:
    a = a @ a
    a /= np.abs(a).max()
"""


def measure(threads: str, steps: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                          "OPENBLAS_NUM_THREADS")}
    env["PPSOLVE_THREADS"] = threads
    done = subprocess.run([sys.executable, "-c", WORKER, str(steps)], env=env, capture_output=True, text=True,
                          check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("results/threads.json"))
    args = parser.parse_args()
    rows = []
    for load in ("idle", "busy"):
        neighbour = None
        if load == "busy":
            env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
            neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOUR], env=env)
            time.sleep(2)
        try:
            for threads in ("1", "2", "auto"):
                rate = measure(threads, args.steps)
                rows.append({"load": load, "PPSOLVE_THREADS": threads, "steps_per_second": rate})
                print(f"{load:5s} PPSOLVE_THREADS={threads:4s}: {rate:7.1f} steps/s", flush=True)
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"cpus": os.cpu_count(), "steps": args.steps, "rows": rows}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
