"""Shared checks for operator tests: the dot test (the public ``ppsolve.operators.dot_test``), linearity,
dense agreement, NumPy/torch agreement."""
import numpy as np
import torch

from ppsolve.operators import dot_test

TOL = {np.float64: 1e-10, np.float32: 1e-4}


def random(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def dot_test_error(A, batch=(), dtype=np.float64, seed=0):
    """The relative dot-test error of ``A`` for random x, y (``ppsolve.operators.dot_test``, which also checks
    the shapes and dtypes of ``A x`` and ``A^T y``)."""
    return dot_test(A, batch=batch, dtype=np.dtype(dtype).name, seed=seed, raise_error=False)


def check_operator(A, rng=None, batch=(), torch_ok=True):
    """Dot test (float64 and float32), linearity, to_dense, NumPy == torch, autograd VJP == adjoint."""
    rng = np.random.default_rng(0) if rng is None else rng
    x = rng.standard_normal(batch + A.in_shape)
    x2 = rng.standard_normal(batch + A.in_shape)
    y = rng.standard_normal(batch + A.out_shape)
    Ax, Aty = A @ x, A.T @ y
    assert isinstance(Ax, np.ndarray) and Ax.shape == batch + A.out_shape and Ax.dtype == np.float64
    assert isinstance(Aty, np.ndarray) and Aty.shape == batch + A.in_shape and Aty.dtype == np.float64
    assert dot_test(A, batch=batch) <= 1e-10
    np.testing.assert_allclose(A @ (2.0 * x - 3.0 * x2), 2.0 * Ax - 3.0 * (A @ x2), rtol=1e-10, atol=1e-10)
    if max(A.shape) <= 512:
        M = A.to_dense()
        flat = x.reshape(-1, A.shape[1])
        np.testing.assert_allclose(flat @ M.T, Ax.reshape(-1, A.shape[0]), rtol=1e-12, atol=1e-12)
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    Ax32, Aty32 = A @ x32, A.T @ y32
    assert Ax32.dtype == np.float32 and Aty32.dtype == np.float32
    assert dot_test(A, batch=batch, dtype="float32") <= 1e-4
    if not torch_ok:
        return
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.tensor(y)
    out = A @ xt
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    np.testing.assert_allclose(out.detach().numpy(), Ax, rtol=1e-12, atol=1e-12)
    (grad,) = torch.autograd.grad(torch.sum(out * yt), xt)
    np.testing.assert_allclose(grad.numpy(), Aty, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose((A.T @ yt).numpy(), Aty, rtol=1e-12, atol=1e-12)
    for t in (torch.tensor(x32), torch.tensor(y32)):
        op = A if tuple(t.shape[len(batch):]) == A.in_shape else A.T
        assert (op @ t).dtype == torch.float32


def dense_solve(A, beta, b):
    """Reference: numpy.linalg.solve with the matrix of A^T A + beta I (float64)."""
    M = A.to_dense()
    n = M.shape[1]
    rhs = np.asarray(b, dtype=np.float64).reshape(-1, n)
    return np.linalg.solve(M.T @ M + beta * np.eye(n), rhs.T).T.reshape(np.shape(b))


def rel(a, b):
    """||a - b|| / ||b|| in float64."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - b) / np.linalg.norm(b))
