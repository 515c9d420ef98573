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
import torch

__all__ = ["Constant", "check_array", "is_numpy", "is_torch", "namespace", "to_numpy"]


def namespace(*arrays):
    """The array-API namespace shared by ``arrays`` (NumPy, CuPy or PyTorch)."""
    return array_api_compat.array_namespace(*arrays)


def is_numpy(x) -> bool:
    return array_api_compat.is_numpy_array(x)


def is_torch(x) -> bool:
    return array_api_compat.is_torch_array(x)


#: the array dtypes ppsolve computes in; half precision (float16, bfloat16) is refused everywhere, because its
#: 3 significant digits are below what FFTs, CG and the dot test need (a network may still run in reduced
#: precision inside, on a copy it makes itself)
DTYPES = ("float32", "float64")


def _dtype_name(x) -> str:
    return str(x.dtype).removeprefix("torch.")


def check_array(x, what: str = "array"):
    """Raise ``TypeError`` unless ``x`` is a float32 or float64 NumPy, CuPy or PyTorch array."""
    if not array_api_compat.is_array_api_obj(x) or isinstance(x, (int, float, complex)):
        raise TypeError(
            f"{what}: expected a float32 or float64 NumPy, CuPy or PyTorch array, got {type(x).__name__}"
        )
    name = _dtype_name(x)
    if name not in DTYPES:
        hint = ("half precision is not supported: convert with x.astype(np.float32) or x.float()"
                if name in ("float16", "bfloat16") else "convert it first, e.g. x.astype(float) or x.double()")
        raise TypeError(f"{what}: expected a floating-point float32 or float64 array, got dtype {name}; {hint}")
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


def as_like(out, like):
    """``out`` (a NumPy array or a torch tensor, e.g. a network's or a host library's result) as an array of
    ``like``'s kind, dtype and device: a NumPy array for NumPy, a tensor for torch, a CuPy array for CuPy."""
    if is_torch(like):
        return torch.as_tensor(out).to(device=like.device, dtype=like.dtype)
    if is_torch(out):
        out = out.detach().cpu().numpy()
    if is_numpy(like):
        return np.asarray(out).astype(like.dtype, copy=False)
    return namespace(like).asarray(out, dtype=like.dtype, device=array_api_compat.device(like))  # CuPy


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
                with torch.inference_mode(False):  # a cached constant must stay usable by autograd later
                    out = torch.as_tensor(self.value, device=dev).to(dtype)
            else:
                out = xp.asarray(self.value, dtype=dtype, device=dev)
            self._cache[key] = out
        return out
