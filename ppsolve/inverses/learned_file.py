r"""The model file of a ``LearnedInverse``: what it records, and the checks before a network is built from it.

A learned inverse is tied to its operator and its ``beta``, so its file (a ``ppsolve.modelfile`` of kind
``"learned-inverse"``) records, besides the network's architecture and options:

* ``operator`` (its ``repr``), ``description`` (``A._describe()``: the operator without its shapes),
  ``fingerprint`` (``A.fingerprint()``), ``in_shape``, ``out_shape``;
* ``beta``, ``form`` (``"woodbury"`` or ``"direct"``), ``dtype``, ``seed``;
* the tensor ``impulse``: ``A^T e_c`` for the unit measurement ``e_c`` at the centre (first channel), the
  footprint of one measurement, with ``impulse_centre``: it is what ``allow_resize`` compares;
* ``training``: its settings and figures; a training checkpoint also has ``resume``.

``read`` checks a file in this order, each step before anything costs memory: the header (``modelfile``), the
kind, then the recorded beta, form and operator against the requested ones (``check_operator``), the
architecture and its options against ``ppsolve.nn.registry.SYMMETRIC_ARCHITECTURES``, and the network's
tensor shapes (computed on the meta device) against the file's table. Only then are the tensors read and the
network allocated.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .. import modelfile
from .._array import to_numpy
from .._validate import choice, count, real_number
from .._validate import shape as as_shape
from ..nn.registry import build_symmetric, check_shapes
from ..operators.base import LinearOperator

__all__ = ["DTYPES", "FORMS", "KIND", "check_operator", "header", "impulse", "read", "same_up_to_size", "tensors"]

KIND = "learned-inverse"
FORMS = ("auto", "woodbury", "direct")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def impulse(A: LinearOperator):
    """``(A^T e_c, centre)``: the footprint of the unit measurement at the centre pixel (first channel) in the
    input domain, float64, and that centre index."""
    out = A.out_shape
    e = np.zeros(out)
    centre = (out[-2] // 2, out[-1] // 2)
    e[(0,) * (len(out) - 2) + centre] = 1.0
    return np.asarray(to_numpy(A.adjoint(e)), dtype=np.float64), centre


def header(inverse, version: str) -> dict:
    """The header of ``inverse``'s model file (see the module docstring)."""
    A = inverse.A
    _, centre = impulse(A)
    return {
        "kind": KIND,
        "operator": repr(A),
        "description": A._describe(),
        "fingerprint": inverse.fingerprint(),
        "in_shape": list(A.in_shape),
        "out_shape": list(A.out_shape),
        "impulse_centre": list(centre),
        "beta": inverse.beta,
        "architecture": inverse.architecture,
        "form": inverse.form,
        "options": dict(inverse.options),
        "receptive_field": int(inverse.network.receptive_field),
        "dtype": inverse.dtype,
        "seed": inverse.seed,
        "training": inverse.training,
        "torch_version": str(torch.__version__),
        "ppsolve_version": version,
    }


def tensors(inverse) -> dict:
    """The tensors of ``inverse``'s model file: the network's state dict under ``network.`` and ``impulse``."""
    out = {f"network.{k}": v.detach().cpu().clone() for k, v in inverse.network.state_dict().items()}
    out["impulse"] = torch.from_numpy(impulse(inverse.A)[0])
    return out


def same_up_to_size(meta: dict, recorded_impulse: np.ndarray, A: LinearOperator) -> str | None:
    """None when ``A`` is the recorded operator up to the image size (see ``LearnedInverse.load``), else why not."""
    receptive_field = int(meta.get("receptive_field", 1 << 30))
    if meta.get("description") != A._describe():
        return f"the operator descriptions differ: {meta.get('description')!r} vs {A._describe()!r}"
    old_in, old_out = tuple(meta["in_shape"]), tuple(meta["out_shape"])
    new_in, new_out = A.in_shape, A.out_shape
    if len(old_in) != len(new_in) or len(old_out) != len(new_out) or len(new_out) < 2 or len(new_in) < 2:
        return "the shapes have different numbers of axes"
    if old_in[:-2] != new_in[:-2] or old_out[:-2] != new_out[:-2]:
        return "the channel axes differ"
    if min(old_out[-2:]) < receptive_field:
        return (f"the network's footprint ({receptive_field} x {receptive_field} measurement pixels) is wider than "
                f"the {old_out[-2]} x {old_out[-1]} grid it was trained on, so training only fixed it folded onto that "
                "grid; train with a smaller kernel_size to use it at other sizes")
    ratios = []
    for axis in (-2, -1):
        if old_in[axis] % old_out[axis] or new_in[axis] % new_out[axis]:
            return "the input size is not a multiple of the measurement size, so the footprints cannot be aligned"
        r_old, r_new = old_in[axis] // old_out[axis], new_in[axis] // new_out[axis]
        if r_old != r_new:
            return f"the sampling factors differ ({r_old} vs {r_new})"
        ratios.append(r_old)
    old = recorded_impulse
    new, centre = impulse(A)
    old_centre = tuple(meta["impulse_centre"])
    shift = tuple(ratios[i] * (centre[i] - old_centre[i]) for i in range(2))
    if any(s < 0 for s in shift):
        return "the new measurement grid is smaller than the one trained for"
    aligned = np.roll(new, (-shift[0], -shift[1]), axis=(-2, -1))
    window = aligned[..., : old.shape[-2], : old.shape[-1]]
    scale = max(float(np.max(np.abs(old))), 1e-300)
    outside = math.sqrt(max(float(np.sum(aligned**2) - np.sum(window**2)), 0.0))
    if window.shape != old.shape or float(np.max(np.abs(window - old))) > 1e-9 * scale or outside > 1e-9 * scale:
        return "the footprint of a centre measurement (A^T e_c) differs from the one recorded at training"
    return None


def _recorded(meta: dict, path) -> dict:
    """The header fields ``read`` relies on, type-checked (a hand-made header gets a clear error, not a crash)."""
    try:
        form = choice(meta.get("form"), "form", FORMS[1:])
        choice(meta.get("dtype"), "dtype", tuple(DTYPES))
        as_shape(meta.get("in_shape"), "in_shape")
        as_shape(meta.get("out_shape"), "out_shape")
        beta = real_number(meta.get("beta"), "beta", positive=True)
        if not isinstance(meta.get("fingerprint"), str) or not isinstance(meta.get("options"), dict):
            raise ValueError("fingerprint and options are missing")
        count(meta.get("seed", 0), "seed")
        if len(meta.get("impulse_centre", [])) != 2:
            raise ValueError("impulse_centre is missing")
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: not a usable learned-inverse file ({err})") from None
    return {"form": form, "beta": float(beta)}


def check_operator(meta: dict, path, A: LinearOperator, fingerprint: str, beta: float, form: str,
                   allow_resize: bool, load_impulse) -> None:
    """Refuse another beta (relative 1e-12), another form, or another operator: ``fingerprint`` differs and,
    with ``allow_resize``, ``same_up_to_size`` says why not (``load_impulse()`` gives the recorded impulse)."""
    recorded = _recorded(meta, path)
    if abs(recorded["beta"] - beta) > 1e-12 * abs(recorded["beta"]):
        raise ValueError(f"{path}: trained for beta = {recorded['beta']!r}, given beta = {beta!r}")
    if recorded["form"] != form:
        raise ValueError(f"{path}: trained for form {recorded['form']!r}, requested {form!r}")
    if meta["fingerprint"] == fingerprint:
        return
    why = same_up_to_size(meta, load_impulse(), A) if meta.get("description") == A._describe() else (
        f"the operator descriptions differ: {meta.get('description')!r} vs {A._describe()!r}")
    if allow_resize and why is None:
        return
    hint = ""
    if allow_resize:
        hint = f" (allow_resize refused: {why})"
    elif why is None:
        hint = " (the same operator at another image size: pass allow_resize=True)"
    elif meta.get("description") == A._describe() and tuple(meta["in_shape"]) != A.in_shape:
        hint = f" (another image size, but allow_resize=True would refuse it: {why})"
    raise ValueError(f"{path}: trained for operator {meta.get('operator')} (fingerprint {meta['fingerprint']}), "
                     f"given {A!r} (fingerprint {fingerprint}){hint}")


def read(path, A: LinearOperator, beta: float | None, allow_resize: bool, fingerprint) -> tuple[dict, dict]:
    """``(header, tensors)`` of a learned-inverse file for operator ``A`` (see the module docstring for the
    order of the checks). ``beta`` None: the recorded one. ``fingerprint``: a callable giving
    ``A.fingerprint()`` (computed once by the caller)."""
    meta = modelfile.read_header(path, KIND)
    recorded = _recorded(meta, path)
    beta = recorded["beta"] if beta is None else beta
    if recorded["form"] == "direct" and tuple(A.in_shape) != tuple(A.out_shape):
        raise ValueError(f"{path}: a direct-form inverse (for a square operator), given {A!r} with shapes "
                         f"{A.in_shape} -> {A.out_shape}")
    loaded = {}

    def load_impulse():
        if "impulse" not in meta["tensors"]:
            raise ValueError(f"{path}: the file records no impulse; it cannot be resized")
        loaded.update(modelfile.read_tensors(path, meta))
        return loaded["impulse"].numpy()

    check_operator(meta, path, A, fingerprint(), beta, recorded["form"], allow_resize, load_impulse)
    net = build_symmetric(meta.get("architecture"), A.out_shape, meta["options"], seed=int(meta.get("seed", 0)),
                          dtype=DTYPES[meta["dtype"]], meta=True, where=str(path))
    check_shapes({k: tuple(v.shape) for k, v in net.state_dict().items()}, meta["tensors"], path, "network.")
    if not loaded:
        loaded.update(modelfile.read_tensors(path, meta))
    return {**meta, "beta": beta}, loaded
