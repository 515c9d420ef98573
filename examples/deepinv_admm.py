"""deepinv's ADMM and DPIR with a ppsolve inverse as their data step
===================================================================

deepinv's own loops (ADMM with TV, DPIR with a plug-and-play prior) with the data step solved by a ppsolve
inverse: the exact Fourier closed form, the learned inverse, and CG preconditioned by the learned network.

The problem is the paper's super-resolution: ``deepinv.physics.Downsampling`` with a 9 x 9 Gaussian (sigma 2),
circular padding and stride 4, on a synthetic grey image, ``y = A x + N(0, 0.01^2)``. ``from_deepinv`` turns the
physics into ppsolve's native strided convolution (checked equal, adjoint dot-tested), and ``InverseL2(A, inverse)``
is deepinv's ``L2()`` whose prox ``(A^T A + I / gamma)^{-1} (A^T y + x / gamma)`` is one ``Inverse.solve`` at
``beta = 1 / gamma``. Each run is compared with the same loop on deepinv's own ``L2()`` (its closed form for
circular downsampling): the Fourier and learned-PCG runs are the same loop to rounding, the learned one an
approximation. The learned inverse is the network shipped for this operator at beta = 0.01 (``ppsolve/zoo``,
trained from noise at 64 x 64; sizes >= 64): ADMM runs at ``gamma = 1 / 0.01``; the DPIR schedule changes gamma every
iteration, where the learned network serves as CG's preconditioner at every gamma. ::

    python examples/deepinv_admm.py [--size 128] [--iters 20] [--seed 0]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ppsolve import zoo
from ppsolve.compare import learned_inverse
from ppsolve.interop.deepinv import InverseL2, ProxDenoiser, deepinv, dpir, from_deepinv
from ppsolve.inverses import ConjugateGradient
from ppsolve.metrics import psnr
from ppsolve.operators import dot_test, gaussian_kernel

BETA = 0.01  # the shipped learned inverse's beta; deepinv's gamma = 1 / beta


def synthetic_image(size: int, seed: int) -> np.ndarray:
    """A piecewise-smooth grey image in [0, 1]: a ramp, discs and bars (no data files needed)."""
    rng = np.random.default_rng(seed)
    i, j = np.mgrid[0:size, 0:size] / size
    image = 0.3 + 0.3 * i
    for _ in range(6):
        ci, cj, r = rng.uniform(0.15, 0.85, 2).tolist() + [rng.uniform(0.05, 0.15)]
        image[(i - ci) ** 2 + (j - cj) ** 2 < r * r] = rng.uniform(0, 1)
    image[(np.abs(i - 0.5) < 0.02) & (j > 0.1) & (j < 0.9)] = 0.0
    return np.clip(image, 0, 1)


def run(model, y, physics):
    start = time.perf_counter()
    out = model(y, physics)
    return out, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128, help="image side (a multiple of 4, >= 64)")
    parser.add_argument("--iters", type=int, default=20, help="ADMM iterations")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)

    N = args.size
    physics = deepinv.physics.Downsampling(img_size=(1, N, N), filter=torch.tensor(gaussian_kernel(9, 2.0))[None, None],
                                           factor=4, padding="circular")
    A = from_deepinv(physics)
    x_true = torch.tensor(synthetic_image(N, args.seed))[None, None]
    clean = physics.A(x_true)
    y = clean + 0.01 * torch.tensor(np.random.default_rng(args.seed).standard_normal(tuple(clean.shape)))
    same = float((A.apply(x_true[:, 0]) - clean[:, 0]).abs().max())
    print(f"deepinv {deepinv.__version__}: {type(physics).__name__} {N}x{N} -> {A!r}")
    print(f"  check: max |from_deepinv(physics) x - physics.A(x)| = {same:.2e}; dot test {dot_test(A):.1e}")

    learned, _ = learned_inverse(A, BETA, cache_dir=None, progress=False)
    preconditioner = learned.preconditioner()
    fidelities = {
        "FourierInverse": InverseL2(A, "fourier"),
        "LearnedInverse": InverseL2(A, learned),
        "learned-PCG (tol 1e-10)": InverseL2(A, lambda A, beta: ConjugateGradient(A, beta, tol=1e-10,
                                                                                  preconditioner=preconditioner)),
    }

    def admm(fidelity):
        return deepinv.optim.optim_builder("ADMM", prior=deepinv.optim.TVPrior(n_it_max=20), data_fidelity=fidelity,
                                           max_iter=args.iters, early_stop=False,
                                           params_algo={"stepsize": 1 / BETA, "lambda": 2e-4, "beta": 1.0})

    print(f"\ndeepinv ADMM + TVPrior, {args.iters} iterations, gamma = {1 / BETA:g} (ppsolve beta = {BETA:g})")
    reference, seconds = run(admm(deepinv.optim.L2()), y, physics)
    print(f"  {'deepinv L2()':26s} PSNR {psnr(reference[0, 0].numpy(), x_true[0, 0].numpy()):6.2f} dB   "
          f"{seconds:7.3f} s")
    for name, fidelity in fidelities.items():
        out, t = run(admm(fidelity), y, physics)
        print(f"  {name:26s} PSNR {psnr(out[0, 0].numpy(), x_true[0, 0].numpy()):6.2f} dB   {t:7.3f} s   "
              f"max |ours - deepinv| {float((out - reference).abs().max()):.2e}")

    denoiser = ProxDenoiser(zoo.load("natural-gray"))
    print("\nDPIR (deepinv's HQS schedule: 8 iterations, gamma changing every one) + the natural-gray prior")
    reference, seconds = run(dpir(deepinv.optim.L2(), denoiser, sigma=0.01), y, physics)
    print(f"  {'deepinv L2()':26s} PSNR {psnr(reference[0, 0].numpy(), x_true[0, 0].numpy()):6.2f} dB   "
          f"{seconds:7.3f} s")
    for name in ("FourierInverse", "learned-PCG (tol 1e-10)"):
        out, t = run(dpir(fidelities[name], denoiser, sigma=0.01), y, physics)
        print(f"  {name:26s} PSNR {psnr(out[0, 0].numpy(), x_true[0, 0].numpy()):6.2f} dB   {t:7.3f} s   "
              f"max |ours - deepinv| {float((out - reference).abs().max()):.2e}")


if __name__ == "__main__":
    main()
