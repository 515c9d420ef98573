"""One code path for NumPy, CuPy and PyTorch arrays.

ppsolve's array code is written against the array-API standard through ``array-api-compat``: the namespace
of the input decides where the work happens, so NumPy in gives NumPy out, a torch tensor gives a torch tensor
on the same device and dtype (with autograd flowing through), and CuPy arrays stay on the GPU.
Constants an operator keeps (kernels, spectra, weights) are stored once as float64 / complex128 NumPy arrays
and converted on first use to the namespace, device and precision of the array they meet (``Constant``).
"""
from __future__ import annotations

import array_api_compat
import numpy as np

__all__ = ["namespace", "is_numpy", "is_torch", "check_array", "Constant", "to_numpy"]


def namespace(*arrays):
    """The array-API namespace shared by ``arrays`` (NumPy, CuPy or PyTorch)."""
    return array_api_compat.array_namespace(*arrays)


def is_numpy(x) -> bool:
    return array_api_compat.is_numpy_array(x)


def is_torch(x) -> bool:
    return array_api_compat.is_torch_array(x)


def _is_real_floating(x) -> bool:
    if is_torch(x):
        return x.dtype.is_floating_point
    kind = getattr(x.dtype, "kind", None)  # NumPy and CuPy dtypes
    return kind == "f" if kind is not None else np.issubdtype(np.dtype(str(x.dtype)), np.floating)


def check_array(x, what: str = "array"):
    """Raise ``TypeError`` unless ``x`` is a real floating-point NumPy, CuPy or PyTorch array."""
    if not array_api_compat.is_array_api_obj(x) or isinstance(x, (int, float, complex)):
        raise TypeError(
            f"{what}: expected a real floating-point NumPy, CuPy or PyTorch array, got {type(x).__name__}"
        )
    if not _is_real_floating(x):
        raise TypeError(
            f"{what}: expected a real floating-point array (float32 or float64), got dtype {x.dtype}; "
            "convert it first, e.g. x.astype(float) or x.float()"
        )
    return x


def to_numpy(x) -> np.ndarray:
    """A NumPy copy of any supported array (detached from autograd, moved to the host)."""
    if is_torch(x):
        return x.detach().cpu().numpy()
    if is_numpy(x):
        return x
    if hasattr(x, "get"):  # CuPy
        return x.get()
    return np.asarray(x)


def _complex_dtype_of(x):
    xp = namespace(x)
    return xp.complex128 if x.dtype == xp.float64 else xp.complex64


class Constant:
    """A NumPy constant (real or complex) converted once per (namespace, device, dtype) it meets.

    ``Constant(v).like(x)`` returns ``v`` as an array of ``x``'s namespace and device, real values in
    ``x``'s dtype and complex values in the matching complex dtype (float32 -> complex64).
    """

    def __init__(self, value):
        self.value = np.array(value)  # a private, writable copy (torch may share its memory)
        self._cache: dict = {}

    def like(self, x):
        xp = namespace(x)
        dev = array_api_compat.device(x)
        key = (xp.__name__, str(dev), str(x.dtype))
        out = self._cache.get(key)
        if out is None:
            dtype = _complex_dtype_of(x) if np.iscomplexobj(self.value) else x.dtype
            if is_torch(x):
                import torch

                with torch.inference_mode(False):  # a cached constant must stay usable by autograd later
                    out = torch.as_tensor(self.value, device=dev).to(dtype)
            else:
                out = xp.asarray(self.value, dtype=dtype, device=dev)
            self._cache[key] = out
        return out
