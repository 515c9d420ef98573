"""Peak resident memory of staged ``restore`` against the number of stages and the image size.

Each (size, stages) point runs in a fresh process: a periodic 9 x 9 motion blur on a ``size x size`` float64
image, ``restore`` with a cheap prior (``prox.L2``, so that the memory of the stages themselves shows, not a
network's) and ``stages`` one-iteration stages. It prints the peak RSS after setting up the problem and at
the end (``resource.getrusage``); a stage should hold only what the next one needs, so the growth must not
depend on the number of stages (before the fix, 16 stages at 2048 x 2048 grew from 568 to 2057 MiB).
Writes ``results/restore_memory.json``.

Run:  python benchmarks/restore_memory.py [--sizes 512 1024 2048] [--stages 1 4 16]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

WORKER = """
import resource, sys
import numpy as np
from ppsolve import restore
from ppsolve.operators import Convolution, motion_kernel
from ppsolve.prox import L2

size, stages = int(sys.argv[1]), int(sys.argv[2])
A = Convolution(motion_kernel(9, 30, 9), (size, size))
y = A.apply(np.random.default_rng(0).random((size, size)))
A.apply(y)  # the spectrum and the FFT plans exist before the baseline
setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
restore(y, A, prior=L2(), stages=[(0.01 * 1.5**k, 1) for k in range(stages)], lam=1e-3, clip=(0, 1))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(setup, peak)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--stages", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--out", type=Path, default=Path("results/restore_memory.json"))
    args = parser.parse_args()
    rows = []
    print("| size | stages | RSS after set-up (MiB) | peak RSS (MiB) | growth (MiB) | growth / image (copies) |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        for stages in args.stages:
            done = subprocess.run([sys.executable, "-c", WORKER, str(size), str(stages)], capture_output=True,
                                  text=True, check=True)
            setup, peak = (float(v) for v in done.stdout.split())
            image = size * size * 8 / 2**20
            rows.append({"size": size, "stages": stages, "setup_mib": setup, "peak_mib": peak})
            print(f"| {size} | {stages} | {setup:.0f} | {peak:.0f} | {peak - setup:.0f} | "
                  f"{(peak - setup) / image:.1f} |", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
