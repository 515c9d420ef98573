r"""One learned inverse for the whole deblurring schedule? CG preconditioned by a single learned inverse at every beta.

The zoo's deblurring schedule (``natural-gray``, 8 stages) changes beta from 0.00056 to 0.5; today each beta
has its own learned inverse (``benchmarks/deblur_bsd68.py``). Here one ``LearnedInverse`` (``--inverse``: a
model file of the direct, linear form trained at ``--beta``, e.g. one that run cached) serves all of them as
the preconditioner ``M ~ (A^T A + beta_0 I)^{-1}`` of conjugate gradients (``space="input"``). For each beta of
the schedule, on BSD68 test001-004 central crops (``b = A^T A x + beta x``, exact answer ``x``): CG iterations to
``--tol`` with ``M`` and without, the z-update's relative error, and CPU time; then the whole restore's PSNR
with this z-update against the exact ``FourierInverse``.

Run:   python benchmarks/one_inverse.py --inverse results/deblur_bsd68/learned_inverse_motion9_kernel_size63_steps8000_beta0.00387969.safetensors --beta 0.00387969
Writes <out>/one_inverse.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import _timing  # noqa: F401 - thread settings before NumPy / torch start their pools
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import DATA  # noqa: E402

from ppsolve import restore, zoo  # noqa: E402
from ppsolve.data import list_images  # noqa: E402
from ppsolve.experiments.natural import central_crops, measure, score  # noqa: E402
from ppsolve.inverses import ConjugateGradient, FourierInverse  # noqa: E402
from ppsolve.inverses.learned import LearnedInverse  # noqa: E402
from ppsolve.operators import Convolution  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--inverse", type=Path, required=True, help="a learned inverse model file (direct, linear form)")
    p.add_argument("--beta", type=float, required=True, help="the beta it was trained for")
    p.add_argument("--tol", type=float, default=1e-3, help="CG's relative residual tolerance (default %(default)s)")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "one_inverse")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    A = Convolution(np.loadtxt(DATA / "kernels" / "motion9_30deg.txt"), (256, 256))
    x = central_crops(list_images(DATA / "bsd68")[:4])
    stages = zoo.info("natural-gray")["tasks"]["deblur"]["stages"]
    M = LearnedInverse.load(str(args.inverse), A, args.beta, allow_resize=True).preconditioner()

    def pcg(A, beta):
        return ConjugateGradient(A, beta, tol=args.tol, maxiter=500, preconditioner=M, space="input")

    rows = []
    for beta in [s[0] for s in stages]:
        row = {"beta": beta, "pcg_iterations": [], "cg_iterations": [], "z_error": [], "pcg_cpu_s": 0.0}
        for xi in x:
            b = A.adjoint(A.apply(xi)) + beta * xi
            start = time.process_time()
            z, report = pcg(A, beta).solve_report(b)
            row["pcg_cpu_s"] += (time.process_time() - start) / len(x)
            row["pcg_iterations"].append(report.iterations)
            row["z_error"].append(float(np.linalg.norm(z - xi) / np.linalg.norm(xi)))
            row["cg_iterations"].append(
                ConjugateGradient(A, beta, tol=args.tol, maxiter=500, space="input").solve_report(b)[1].iterations)
        rows.append(row)
        print(f"beta {beta:.3g}: PCG {row['pcg_iterations']} iterations, plain CG {row['cg_iterations']}, "
              f"z error up to {max(row['z_error']):.4f}, {row['pcg_cpu_s']:.3f} CPU-s", flush=True)
    y = measure(A, x, 0.01, 0)
    prox = zoo.load("natural-gray")
    prox.ensemble = zoo.info("natural-gray")["tasks"]["deblur"]["ensemble"]
    psnr = {}
    for name, make in (("fourier", FourierInverse), ("one learned inverse, PCG", pcg)):
        psnr[name] = float(np.mean([score(restore(y[i], A, prior=prox, stages=stages, inverse=make, x0="y",
                                                  clip=(0, 1)).x, x[i]) for i in range(len(x))]))
        print(f"restore with {name}: {psnr[name]:.2f} dB", flush=True)
    (args.out / "one_inverse.json").write_text(json.dumps({"inverse": str(args.inverse), "beta": args.beta,
                                                            "tol": args.tol, "rows": rows, "psnr": psnr}, indent=1))
    print(f"wrote {args.out / 'one_inverse.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
