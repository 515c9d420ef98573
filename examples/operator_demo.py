"""A tour of an operator: adjoint, dot test, norm, torch
=====================================================

Operator tour: a strided blur A = S H on a synthetic 64 x 64 image, its adjoint, a dot test, ||A||,
and the same operator on torch tensors with autograd (the vector-Jacobian product of A is A^T). ::

    python examples/operator_demo.py
"""
from __future__ import annotations

import numpy as np
import torch

from ppsolve.operators import gaussian_kernel, strided_convolution


def synthetic_image(n: int = 64) -> np.ndarray:
    """A float64 image in [0, 1]: a horizontal gradient, a bright disk and a dark square."""
    r, c = np.mgrid[0:n, 0:n] / (n - 1)
    img = 0.3 + 0.4 * c
    img[(r - 0.35) ** 2 + (c - 0.35) ** 2 < 0.2**2] = 1.0
    img[(r > 0.55) & (r < 0.85) & (c > 0.5) & (c < 0.8)] = 0.05
    return img


def main() -> None:
    rng = np.random.default_rng(0)
    x = synthetic_image(64)
    A = strided_convolution(gaussian_kernel(9, 2.0), (64, 64), 4)
    print(f"operator: {A!r}")
    print(f"in_shape {A.in_shape} -> out_shape {A.out_shape}")

    y = A @ x
    back = A.T @ y
    print(f"NumPy: x {x.shape} -> A x {y.shape} -> A^T A x {back.shape}   ({type(y).__name__}, {y.dtype})")
    print(f"||A||_2 = {A.norm():.6f}")

    # Dot test: <A u, v> = <u, A^T v> for random u, v.
    u = rng.standard_normal(A.in_shape)
    v = rng.standard_normal(A.out_shape)
    lhs, rhs = np.vdot(A @ u, v), np.vdot(u, A.T @ v)
    print(f"dot test: <Au, v> = {lhs:.12f}, <u, A^T v> = {rhs:.12f}, relative error {abs(lhs - rhs) / abs(lhs):.1e}")

    # The same operator on torch tensors: torch in, torch out, autograd flows through A.
    xt = torch.tensor(x, requires_grad=True)
    yt = A @ xt
    print(f"torch: A x is a {type(yt).__name__} {tuple(yt.shape)} {yt.dtype}; "
          f"max |A x (torch) - A x (NumPy)| = {np.max(np.abs(yt.detach().numpy() - y)):.1e}")
    vt = torch.tensor(v)
    (vjp,) = torch.autograd.grad(yt, xt, grad_outputs=vt)
    err = np.max(np.abs(vjp.numpy() - A.T @ v)) / np.max(np.abs(A.T @ v))
    print(f"autograd: the VJP of A at v equals A^T v, relative error {err:.1e}")


if __name__ == "__main__":
    main()
