"""Periodic and strided convolution (apply and adjoint) against a bare scipy.fft reference and PyLops.

    python benchmarks/operators.py [--sizes 256 1024] [--batches 1 8]

Everything runs in float64 with the same thread count (``PPSOLVE_THREADS``, default 1) in one
process; the ratio column is ppsolve time / reference time (target <= 1.3).
"""
import argparse
import json
from pathlib import Path

import _timing
import numpy as np
import scipy.fft

from ppsolve.operators import Convolution, gaussian_kernel, strided_convolution
from ppsolve.operators.fourier import kernel_spectrum


def reference(kernel, n, d):
    """The bare reference: spectrum precomputed, one rfft2 and one irfft2 per call (15 lines at most)."""
    H = kernel_spectrum(kernel, (n, n))
    Hc = H.conj()
    conv = lambda x, S: scipy.fft.irfft2(scipy.fft.rfft2(x, axes=(-2, -1)) * S, s=(n, n), axes=(-2, -1))
    apply = lambda x: conv(x, H)[..., ::d, ::d]

    def adjoint(y):
        if d == 1:
            return conv(y, Hc)
        up = np.zeros(y.shape[:-2] + (n, n))
        up[..., ::d, ::d] = y
        return conv(up, Hc)

    return apply, adjoint


def pylops_operator(kernel, n, batch):
    try:
        import pylops
    except ImportError:
        return None
    dims = (batch, n, n) if batch > 1 else (n, n)
    axes = (-2, -1)
    return pylops.signalprocessing.Convolve2D(dims, kernel, offset=(kernel.shape[0] // 2, kernel.shape[1] // 2), axes=axes, method="fft")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--out", type=Path, default=Path("results/operators.json"))
    args = parser.parse_args()
    kernel = gaussian_kernel(9, 2.0)
    rows = []
    print(f"threads={_timing.THREADS}  float64  times in ms  (ratio = ppsolve / bare reference)")
    print(f"{'operator':<22}{'size':>6}{'batch':>6}{'ppsolve':>10}{'reference':>11}{'ratio':>7}{'pylops':>9}")
    for n in args.sizes:
        for batch in args.batches:
            shape = (batch, n, n) if batch > 1 else (n, n)
            x = np.random.default_rng(0).standard_normal(shape)
            for d in (1, 4):
                A = Convolution(kernel, (n, n)) if d == 1 else strided_convolution(kernel, (n, n), d)
                ref_apply, ref_adjoint = reference(kernel, n, d)
                y = A @ x
                assert np.allclose(y, ref_apply(x), atol=1e-12) and np.allclose(A.T @ y, ref_adjoint(y), atol=1e-12)
                P = pylops_operator(kernel, n, batch) if d == 1 else None
                for what, ours, ref, lops in (
                    ("apply", lambda: A @ x, lambda: ref_apply(x), P and (lambda: P @ x.ravel())),
                    ("adjoint", lambda: A.T @ y, lambda: ref_adjoint(y), P and (lambda: P.H @ y.ravel())),
                ):
                    t_ours, t_ref = _timing.best_time(ours), _timing.best_time(ref)
                    t_lops = _timing.best_time(lops) if lops else float("nan")
                    name = f"{'conv' if d == 1 else 'strided x4'} {what}"
                    rows.append(dict(operator=name, size=n, batch=batch, ppsolve=t_ours, reference=t_ref,
                                     ratio=t_ours / t_ref, pylops=t_lops))
                    print(f"{name:<22}{n:>6}{batch:>6}{1e3 * t_ours:>10.3f}{1e3 * t_ref:>11.3f}"
                          f"{t_ours / t_ref:>7.2f}{1e3 * t_lops:>9.3f}")
    worst = max(r["ratio"] for r in rows)
    print(f"worst ratio {worst:.2f} (target <= 1.3)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(dict(threads=_timing.THREADS, rows=rows, worst_ratio=worst), indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
