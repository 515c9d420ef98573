"""Whole deepinv loops with deepinv's own ``L2()`` prox against ppsolve's (``ppsolve.interop.deepinv.InverseL2``).

    PPSOLVE_THREADS=1 python benchmarks/deepinv_bridge.py [--size 256] [--iters 30] [--valid-size 128]
        [--valid-iters 5] [--rounds 3]

Cases, float64, a synthetic piecewise-smooth grey image, y = A x + N(0, 0.01^2):

1. super-resolution (``--size``, 256), the paper's operator: ``Downsampling(filter=9 x 9 Gaussian sigma 2,
   factor=4, padding="circular")``. deepinv's prox is its closed form for circular downsampling (Zhao et al.'s FFT
   formula); ppsolve's ``FourierInverse`` (Woodbury, two real FFTs), the learned inverse shipped for this operator
   at beta = 0.01 (an approximation) and CG preconditioned by it (tol 1e-10).
2. deblurring of a photograph's frame (``--valid-size``, 128): ``Blur(filter=the same Gaussian,
   padding="valid")``, no closed form. deepinv's prox is its CG (``tol`` 1e-6 relative on the residual,
   ``max_iter`` 500). deepinv's CG adds ``eps = 1e-8`` to its step denominators
   (``deepinv.optim.linear.conjugate_gradient``), which slows it down badly here; the row "deepinv L2(), CG eps
   1e-300" is the same prox with that guard made negligible (``physics.prox_l2(..., eps=1e-300)``), the fair CG
   baseline and the reference of this case's loops. ppsolve's ``"auto"`` inverse is CG preconditioned by the
   periodic closed form on the frame (``make_inverse``), tol 1e-6. ADMM runs ``--valid-iters`` iterations here (5:
   deepinv's float64 convolutions make each CG iteration slow).

First the prox alone (one call at gamma = 100 from x = A^T y, no warm start), then the loops: deepinv's ADMM
(``optim_builder("ADMM")``, ``--iters`` iterations, gamma = 100 i.e. beta = 0.01) with ``L1Prior`` (a soft
threshold: the data step dominates, the bridge's own cost) and with ``TVPrior(n_it_max=20)``, and deepinv's DPIR
schedule (8 HQS iterations, gamma changing every one) with the zoo's natural-gray prior. Each loop runs with every
data fidelity in interleaved rounds (the order reversed every other round); the medians, the speed-up (the
reference's time / this one) and the largest difference to the reference's result are printed side by side.
``InverseL2`` also evaluates deepinv's cost (``fn``) with ppsolve's operator: part of its gain in the loops.
Writes ``results/deepinv_bridge.json``.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import _timing  # before numpy and torch: the thread settings
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from deepinv_admm import synthetic_image  # noqa: E402

from ppsolve import zoo  # noqa: E402
from ppsolve.compare import learned_inverse  # noqa: E402
from ppsolve.interop.deepinv import InverseL2, ProxDenoiser, deepinv, dpir, from_deepinv  # noqa: E402
from ppsolve.inverses import ConjugateGradient  # noqa: E402
from ppsolve.operators import gaussian_kernel  # noqa: E402

BETA = 0.01
GAUSS = torch.tensor(gaussian_kernel(9, 2.0))[None, None]


class L2WithoutEps(deepinv.optim.L2):
    """deepinv's ``L2()`` with its CG's ``eps`` guard (1e-8 in the step denominators) made negligible."""

    def prox(self, x, y, physics, *args, gamma=1.0, **kwargs):
        return physics.prox_l2(x, y, self.norm * gamma, eps=1e-300)


def interleaved(fns: dict, rounds: int) -> dict:
    """{name: (median seconds, output)} over ``rounds`` interleaved rounds (order reversed every other round)."""
    samples, outputs = {k: [] for k in fns}, {}
    names = list(fns)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            start = time.perf_counter()
            outputs[name] = fns[name]()
            samples[name].append(time.perf_counter() - start)
    return {k: (statistics.median(v), outputs[k]) for k, v in samples.items()}


def rows(case, loop, timed, reference, results):
    """Print and keep one line per data fidelity: seconds, speed-up against ``reference``, largest difference."""
    t_ref, out_ref = timed[reference]
    for name, (t, out) in timed.items():
        diff = float((out - out_ref).abs().max())
        print(f"{case:15s} {loop:27s} {name:28s} {t:8.3f} {t_ref / t:8.2f}x {diff:10.2e}")
        results["rows"].append({"case": case, "loop": loop, "data_fidelity": name, "seconds": t, "reference": reference,
                                "reference_seconds": t_ref, "speedup": t_ref / t, "max_abs_diff": diff})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--valid-size", type=int, default=128, help="image side of the valid-blur case")
    parser.add_argument("--valid-iters", type=int, default=5, help="ADMM iterations of the valid-blur case")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/deepinv_bridge.json"))
    args = parser.parse_args()
    noise = np.random.default_rng(0)
    denoiser = ProxDenoiser(zoo.load("natural-gray"))
    print(f"deepinv {deepinv.__version__}, torch {torch.__version__}, threads {_timing.THREADS}; float64, "
          f"{args.rounds} interleaved rounds, medians")
    results = {"args": {k: str(v) for k, v in vars(args).items()}, "threads": _timing.THREADS, "rows": []}

    N, M = args.size, args.valid_size
    sr = deepinv.physics.Downsampling(img_size=(1, N, N), filter=GAUSS, factor=4, padding="circular")
    valid = deepinv.physics.Blur(filter=GAUSS, padding="valid", max_iter=500, tol=1e-6)
    A, B = from_deepinv(sr), from_deepinv(valid, (1, M, M))
    learned, _ = learned_inverse(A, BETA, cache_dir=None, progress=False)
    pc = learned.preconditioner()
    # (case, physics, image side, ADMM iterations, the loops' reference, data fidelities)
    cases = [
        (f"SR x4 {N}", sr, N, args.iters, "deepinv L2()", {
            "deepinv L2()": deepinv.optim.L2,
            "FourierInverse": lambda: InverseL2(A, "fourier"),
            "LearnedInverse": lambda: InverseL2(A, learned),
            "learned-PCG": lambda: InverseL2(A, lambda A, beta: ConjugateGradient(A, beta, tol=1e-10,
                                                                                  preconditioner=pc))}),
        (f"valid blur {M}", valid, M, args.valid_iters, "deepinv L2(), CG eps 1e-300", {
            "deepinv L2()": deepinv.optim.L2,
            "deepinv L2(), CG eps 1e-300": L2WithoutEps,
            "auto (periodic-PCG)": lambda: InverseL2(B, "auto", tol=1e-6)}),
    ]

    def admm(prior, iters):  # a new prior per run: deepinv's TV denoiser warm-starts from its previous call
        return lambda fidelity: deepinv.optim.optim_builder(
            "ADMM", prior=prior(), data_fidelity=fidelity, max_iter=iters, early_stop=False,
            params_algo={"stepsize": 1 / BETA, "lambda": 2e-4, "beta": 1.0})

    def loops(iters):
        return {f"ADMM + L1Prior, {iters} it.": admm(deepinv.optim.L1Prior, iters),
                f"ADMM + TVPrior(20), {iters} it.": admm(lambda: deepinv.optim.TVPrior(n_it_max=20), iters),
                "DPIR + natural-gray, 8 it.": lambda fidelity: dpir(fidelity, denoiser, sigma=0.01)}

    print(f"{'case':15s} {'loop':27s} {'data fidelity':28s} {'seconds':>8s} {'speed-up':>9s} {'max |diff|':>10s}")
    for case, physics, size, iters, reference, makers in cases:
        x_true = torch.tensor(synthetic_image(size, 0))[None, None]
        clean = physics.A(x_true)
        y = clean + 0.01 * torch.tensor(noise.standard_normal(tuple(clean.shape)))
        x0 = physics.A_adjoint(y)
        fidelities = {name: make() for name, make in makers.items()}
        for fidelity in fidelities.values():
            fidelity.warm_start = False  # each call from scratch (InverseL2 would warm-start from the last solution)
        rows(case, "prox alone (gamma 100)",
             interleaved({name: lambda f=f: f.prox(x0, y, physics, gamma=1 / BETA) for name, f in fidelities.items()},
                         max(args.rounds, 5)), "deepinv L2()", results)
        for loop, build in loops(iters).items():
            fns = {}
            for name, make in makers.items():
                if name == "LearnedInverse" and loop.startswith("DPIR"):
                    continue  # trained for one beta; DPIR changes it every iteration (learned-PCG serves any beta)
                if name == "deepinv L2()" and name != reference:
                    continue  # deepinv's CG with its eps guard: seconds per prox (see the prox row)
                fns[name] = lambda build=build, make=make: build(make())(y, physics)
            rows(case, loop, interleaved(fns, args.rounds), reference, results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
