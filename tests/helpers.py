"""Shared checks for operator tests: the dot test, linearity, dense agreement, NumPy/torch agreement."""
import numpy as np
import torch

TOL = {np.float64: 1e-10, np.float32: 1e-4}


def random(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def dot_test_error(A, batch=(), dtype=np.float64, seed=0):
    """|<Ax, y> - <x, A^T y>| / (||Ax|| ||y||) for random x, y (accumulated in float64)."""
    x = random(batch + A.in_shape, dtype, seed)
    y = random(batch + A.out_shape, dtype, seed + 1)
    Ax, Aty = A @ x, A.T @ y
    assert Ax.dtype == dtype and Aty.dtype == dtype, (Ax.dtype, Aty.dtype)
    assert Ax.shape == batch + A.out_shape and Aty.shape == batch + A.in_shape
    Ax, Aty = Ax.astype(np.float64), Aty.astype(np.float64)
    lhs = np.sum(Ax * y.astype(np.float64))
    rhs = np.sum(x.astype(np.float64) * Aty)
    scale = np.linalg.norm(Ax) * np.linalg.norm(y) or 1.0
    return abs(lhs - rhs) / scale


def check_operator(A, batch=(2,)):
    """Dot test in both precisions, linearity, and NumPy/torch/autograd agreement."""
    assert dot_test_error(A) <= TOL[np.float64]
    assert dot_test_error(A, batch=batch, dtype=np.float32) <= TOL[np.float32]
    x1, x2 = random(batch + A.in_shape, seed=3), random(batch + A.in_shape, seed=4)
    np.testing.assert_allclose(A @ (2.0 * x1 - 3.0 * x2), 2.0 * (A @ x1) - 3.0 * (A @ x2), atol=1e-10)
    xt = torch.tensor(x1, requires_grad=True)
    yt = torch.tensor(random(batch + A.out_shape, seed=5))
    Axt = A @ xt
    assert isinstance(Axt, torch.Tensor) and Axt.dtype == torch.float64
    np.testing.assert_allclose(Axt.detach().numpy(), A @ x1, atol=1e-12)
    (vjp,) = torch.autograd.grad((Axt * yt).sum(), xt)
    np.testing.assert_allclose(vjp.numpy(), A.T @ yt.numpy(), atol=1e-10)
