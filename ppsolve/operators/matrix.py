r"""An explicit matrix (dense NumPy or scipy.sparse) as an operator on flattened images."""
from __future__ import annotations

import math

import array_api_compat
import numpy as np
import scipy.sparse
import torch

from .._array import Constant, is_numpy, is_torch, namespace
from .._validate import shape as as_shape
from .base import DENSE_MAX_SIZE, LinearOperator

__all__ = ["MatrixOperator"]


def _check_matrix(matrix):
    """A real, finite float64 copy of ``matrix`` (dense ndarray or scipy.sparse CSR) and whether it is sparse."""
    if scipy.sparse.issparse(matrix):
        sparse = True
        dtype = matrix.dtype
    elif isinstance(matrix, np.ndarray):
        sparse = False
        dtype = matrix.dtype
    else:
        hint = ""
        if is_torch(matrix):
            hint = " (convert a tensor with t.detach().cpu().numpy())"
        elif isinstance(matrix, (list, tuple)):
            hint = " (wrap it with np.asarray(...))"
        raise TypeError(
            f"MatrixOperator matrix: expected a 2-D NumPy array or scipy.sparse matrix, "
            f"got {type(matrix).__name__}{hint}"
        )
    if np.issubdtype(dtype, np.complexfloating):
        raise TypeError(f"MatrixOperator matrix: expected a real matrix, got dtype {dtype} (operators are real)")
    if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.bool_)):
        raise TypeError(f"MatrixOperator matrix: expected a real (float, int or bool) matrix, got dtype {dtype}")
    if matrix.ndim != 2:
        raise ValueError(f"MatrixOperator matrix: expected a 2-D (m, n) matrix, got shape {matrix.shape}")
    if sparse:
        matrix = scipy.sparse.csr_matrix(matrix, dtype=np.float64, copy=True)
        matrix.sum_duplicates()
        values = matrix.data
    else:
        matrix = np.array(matrix, dtype=np.float64)
        values = matrix
    if not np.all(np.isfinite(values)):
        raise ValueError("MatrixOperator matrix: expected finite entries, found nan or inf")
    return matrix, sparse


def flat_shapes(shape, in_shape, out_shape, who: str) -> tuple:
    """Image shapes for an operator on flattened vectors of ``shape = (m, n)``: ``(n,)`` and ``(m,)`` by default;
    given ones must hold ``n`` and ``m`` entries (``ValueError`` naming both otherwise)."""
    m, n = (int(s) for s in shape)
    in_shape = (n,) if in_shape is None else as_shape(in_shape, f"{who} in_shape")
    out_shape = (m,) if out_shape is None else as_shape(out_shape, f"{who} out_shape")
    for what, image, size in (("in_shape", in_shape, n), ("out_shape", out_shape, m)):
        if math.prod(image) != size:
            raise ValueError(
                f"{who}: {what} {image} has {math.prod(image)} entries but the {m} x {n} operator "
                f"{'takes' if what == 'in_shape' else 'gives'} vectors of size {size}"
            )
    return in_shape, out_shape


class MatrixOperator(LinearOperator):
    r"""``A x = M vec(x)`` for an explicit real ``(m, n)`` matrix ``M``, on C-order flattened images.

    Shapes: ``(*batch, *in_shape) -> (*batch, *out_shape)`` with ``prod(in_shape) = n`` and
    ``prod(out_shape) = m``; by default ``in_shape = (n,)`` and ``out_shape = (m,)``. Each batch item is
    flattened (C order), multiplied by ``M`` and reshaped. Adjoint: ``A^T y = M^T vec(y)`` reshaped to
    ``in_shape``.

    Parameters
    ----------
    matrix : a dense NumPy array or a scipy.sparse matrix / array, real (float, int or bool) and finite;
        kept as float64 (sparse as CSR).
    in_shape, out_shape : image shapes of the domain and the range.

    Arrays: NumPy (dense or sparse products in the input's precision), PyTorch (dense: ``torch.matmul``;
    sparse: a ``torch.sparse_coo`` copy of ``M`` made once per device and dtype; autograd flows to ``x`` in
    both cases) and CuPy (dense; sparse through ``cupyx.scipy.sparse``). ``fourier_structure`` is None.
    """

    def __init__(self, matrix, in_shape=None, out_shape=None):
        matrix, sparse = _check_matrix(matrix)
        in_shape, out_shape = flat_shapes(matrix.shape, in_shape, out_shape, "MatrixOperator")
        super().__init__(in_shape, out_shape)
        self.matrix = matrix
        self.sparse = sparse
        self._dense = None if sparse else Constant(matrix)
        self._cache: dict = {}  # (library, device, dtype, transposed) -> sparse matrix in that library

    # -- sparse copies in each library ---------------------------------------------------------------
    def _sparse_like(self, x, transposed: bool):
        key = (type(x).__module__, str(array_api_compat.device(x)), str(x.dtype), transposed)
        out = self._cache.get(key)
        if out is not None:
            return out
        mat = self.matrix.T.tocsr() if transposed else self.matrix
        if is_numpy(x):
            out = mat.astype(x.dtype)
        elif is_torch(x):
            coo = mat.tocoo()
            with torch.inference_mode(False):  # a cached copy made in inference mode would break autograd later
                indices = torch.as_tensor(np.vstack([coo.row, coo.col]).astype(np.int64), device=x.device)
                values = torch.as_tensor(coo.data, device=x.device).to(x.dtype)
                out = torch.sparse_coo_tensor(indices, values, size=mat.shape, check_invariants=False).coalesce()
        elif array_api_compat.is_cupy_array(x):
            import cupyx.scipy.sparse

            out = cupyx.scipy.sparse.csr_matrix(mat.astype(np.dtype(str(x.dtype))))
        else:
            raise TypeError(
                f"MatrixOperator: a sparse matrix works on NumPy, PyTorch or CuPy arrays, got {type(x).__name__}"
            )
        self._cache[key] = out
        return out

    # -- products ---------------------------------------------------------------------------------------
    def _multiply(self, x, shape_from, shape_to, transposed: bool):
        xp = namespace(x)
        batch = tuple(x.shape[: x.ndim - len(shape_from)])
        rows = math.prod(batch)
        flat = xp.reshape(x, (rows, math.prod(shape_from)))  # (B, k)
        if not self.sparse:
            mat = self._dense.like(x)  # (m, n)
            out = xp.matmul(flat, mat if transposed else mat.T)
        else:
            mat = self._sparse_like(x, transposed)  # (k_out, k_in), sparse
            if is_torch(x):
                out = torch.sparse.mm(mat, flat.T).T
            else:
                out = (mat @ flat.T).T
        return xp.reshape(out, batch + tuple(shape_to))

    def _apply(self, x):
        return self._multiply(x, self.in_shape, self.out_shape, transposed=False)

    def _adjoint(self, y):
        return self._multiply(y, self.out_shape, self.in_shape, transposed=True)

    def to_dense(self) -> np.ndarray:
        m, n = self.shape
        if self.sparse:
            if m * n > DENSE_MAX_SIZE:
                raise ValueError(
                    f"to_dense: refusing to build a {m} x {n} matrix (limit {DENSE_MAX_SIZE} entries); "
                    "use .matrix (scipy.sparse) instead"
                )
            return self.matrix.toarray()
        return self.matrix.copy()

    def _describe(self):
        m, n = self.matrix.shape
        if self.sparse:
            return f"MatrixOperator(sparse {m}x{n}, nnz={self.matrix.nnz})"
        return f"MatrixOperator(dense {m}x{n})"
