r"""The GPU check, one short script for a lent GPU machine: the ``cuda`` tests, restore throughput on the GPU
against the same machine's CPU, and deepinv's ADMM with the same denoiser on the same card.

1. ``pytest -m cuda tests/test_cuda.py`` (the same array code on CUDA tensors and CuPy arrays as on NumPy).
2. Throughput of ``ppsolve.restore`` with the zoo's ``natural-gray`` deblurring schedule (8 stages, its
   self-ensemble, exact Fourier z-update) on a periodic 9 x 9 motion blur, noise 0.01, float32 throughout:
   images per second at 512 x 512 (one at a time, and ``--batch`` at once) and megapixels per second at
   ``--large`` (4096) squared (the prior in tiles of 1024), on ``--device`` and on the CPU with all its cores.
3. deepinv's ADMM (``optim_builder("ADMM")`` with ``PnP`` and deepinv's own ``L2`` and ``BlurFFT``) and
   ppsolve's ADMM, both with ``natural-gray`` as the denoiser at one noise level, ``--iters`` iterations, at
   512 x 512 on ``--device``: seconds per image and the ratio.

Images are synthetic (the shared data does not travel to a device machine); throughput does not depend on
them. Timings are wall-clock with the device synchronised, the median of ``--rounds`` after one warm-up.

Run (on the GPU machine):  python benchmarks/gpu_check.py [--device cuda] [--large 4096]
Here, to check the script:  python benchmarks/gpu_check.py --device cpu --batch 2 --large 512 --rounds 1 --iters 2
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ppsolve import ADMM, restore, zoo  # noqa: E402
from ppsolve.operators import Convolution, motion_kernel  # noqa: E402


def synthetic(n: int, count: int = 1, seed: int = 0) -> np.ndarray:
    """``count`` smooth random images in [0, 1] with edges (sums of random discs), ``(count, n, n)``."""
    rng = np.random.default_rng(seed)
    i, j = np.mgrid[:n, :n] / n
    out = np.zeros((count, n, n))
    for c in range(count):
        for _ in range(40):
            r, a, b = rng.uniform(0.02, 0.2), rng.random(), rng.random()
            out[c] += rng.uniform(-0.3, 0.3) * (((i - a) ** 2 + (j - b) ** 2) < r * r)
    return np.clip(0.5 + out, 0, 1)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str, rounds: int) -> float:
    fn()  # warm-up: kernels chosen, caches filled
    times = []
    for _ in range(rounds):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def observation(n: int, count: int, device: str):
    A = Convolution(motion_kernel(9, 30, 9), (n, n))
    x = synthetic(n, count)
    y = A.apply(x) + 0.01 * np.random.default_rng(1).standard_normal(x.shape)
    return A, torch.tensor(y, dtype=torch.float32, device=device)


def throughput(device: str, batch: int, large: int, rounds: int) -> dict:
    """Images/s at 512^2 (one, and ``batch`` at once) and MP/s at ``large``^2 with the deblurring schedule."""
    out = {}
    A, y = observation(512, batch, device)
    one = timed(lambda: restore(y[0], A, prior="natural-gray", task="deblur", device=device), device, rounds)
    many = timed(lambda: restore(y, A, prior="natural-gray", task="deblur", device=device), device, rounds)
    out["512: images/s, one at a time"] = 1 / one
    out[f"512: images/s, {batch} at once"] = batch / many
    A, y = observation(large, 1, device)
    seconds = timed(lambda: restore(y[0], A, prior="natural-gray", task="deblur", device=device), device,
                    max(1, rounds // 2))
    out[f"{large}: megapixels/s"] = large * large / 1e6 / seconds
    return out


def against_deepinv(device: str, iters: int, rounds: int) -> dict:
    """Seconds per 512^2 image of deepinv's ADMM and of ppsolve's, the same denoiser, on ``device``."""
    from ppsolve.interop.deepinv import ProxDenoiser, deepinv

    sigma, beta = 0.03, 0.05
    A, y = observation(512, 1, device)
    prox = zoo.load("natural-gray", device=device)
    physics = deepinv.physics.BlurFFT(img_size=(1, 512, 512), filter=torch.tensor(
        motion_kernel(9, 30, 9), dtype=torch.float32)[None, None], device=device)
    # beta = sigma_L2^2 / gamma (docs/interop.md), deepinv's L2 at sigma 1
    model = deepinv.optim.optim_builder("ADMM", prior=deepinv.optim.PnP(denoiser=ProxDenoiser(prox)),
                                        data_fidelity=deepinv.optim.L2(), max_iter=iters, early_stop=False,
                                        params_algo={"stepsize": 1 / beta, "g_param": sigma})
    y4 = y[0][None, None]
    theirs = timed(lambda: model(y4, physics), device, rounds)
    ours = timed(lambda: ADMM(A, prox, "fourier", beta=beta, lam=2 * beta * sigma**2).solve(y[0], iters=iters),
                 device, rounds)
    return {"deepinv ADMM, s/image": theirs, "ppsolve ADMM, s/image": ours, "speed-up": theirs / ours}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--large", type=int, default=4096)
    p.add_argument("--iters", type=int, default=8)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ROOT / "results")) / "gpu_check.json")
    args = p.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("gpu_check: --device cuda, but torch sees no CUDA device (use --device cpu to try the script)")
    report = {"device": args.device, "torch": torch.__version__,
              "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else None}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-rs", str(ROOT / "tests" / "test_cuda.py")],
                           capture_output=True, text=True)
    report["cuda_tests"] = {"returncode": tests.returncode, "tail": tests.stdout.strip().splitlines()[-3:]}
    print("cuda tests:", *report["cuda_tests"]["tail"], sep="\n  ", flush=True)
    torch.set_num_threads(os.cpu_count() or 1)
    report["throughput"] = {args.device: throughput(args.device, args.batch, args.large, args.rounds)}
    if args.device != "cpu":
        report["throughput"]["cpu"] = throughput("cpu", args.batch, args.large, max(1, args.rounds // 3))
    print(json.dumps(report["throughput"], indent=1), flush=True)
    report["deepinv"] = against_deepinv(args.device, args.iters, args.rounds)
    print(json.dumps(report["deepinv"], indent=1), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
