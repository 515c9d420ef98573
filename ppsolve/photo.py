r"""Restoring a photograph: the forward model from a few options, its ADMM settings from the noise level.

``restore_image(y, kernel=..., sr=..., noise="auto")`` is the Python side of ``ppsolve restore``. The
observation ``y`` is an image, ``(H, W)`` grey or ``(3, H, W)`` colour, values in ``[0, 1]``; the model is
``y = A x + n`` with ``n`` white of standard deviation ``noise``, and ``A`` one of (``forward_model``):

* denoising: no ``kernel``, no ``sr``: ``A = I``;
* deblurring: ``A = H``, the blur ``kernel`` (a 2-D PSF, e.g. ``ppsolve.operators.motion_kernel``);
* super-resolution by ``sr = f`` (2, 3, 4): ``A = S H`` with ``downscaler="bicubic"`` (the default without a
  kernel) Pillow's antialiased bicubic resize (``operators.Resize``: the model of images made small with
  ``Image.resize``), with ``"gaussian"`` the 3 x 3 Gaussian of sigma 1 and every ``f``-th pixel, or with a
  ``kernel``, that blur and every ``f``-th pixel. The output is ``f`` times the input's size, whatever it is.

``boundary`` says what the scene does past the frame, for blurs: ``"unknown"`` (the default) makes no
assumption: ``y`` is the valid part of the blur of a larger image, ``x`` is estimated on the frame extended by
the kernel's reach and cropped back (``operators.valid_convolution``; the least-squares step is CG
preconditioned by the periodic closed form); ``"periodic"`` wraps around (exact Fourier inverse, stripes on a
real photo) and ``"reflect"`` mirrors it. Pillow's downscaler needs no boundary model: its own border rule is
part of it.

Settings. Nothing depends on the kernel: the stages come from the noise level alone (``stages_for``): the
noise-conditional prior's ``sigma`` falls geometrically from ``sigma_start`` to the noise level, with
``beta = lam noise^2 / sigma^2`` (DPIR's rule), ``lam`` and the step counts per task as validated on BSD68
across kernels and noise levels (``docs/photographs.md``). Colour images use the colour prior
(``natural-color``) when the zoo has it, else the grey prior on each channel.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import zoo
from ._array import to_numpy
from ._validate import choice, integer, real_number
from .interpolation import bicubic_upsample
from .inverses import ConjugateGradient
from .inverses.cache import learned_inverse
from .noise import estimate_noise
from .operators import (
    Convolution,
    Downsample,
    Identity,
    LinearOperator,
    Resize,
    gaussian_kernel,
    strided_convolution,
    valid_convolution,
    valid_strided_convolution,
)
from .restore import restore
from .staged import sigma_schedule

__all__ = ["BOUNDARIES", "DOWNSCALERS", "INVERSES", "ForwardModel", "Restored", "forward_model", "normalised_kernel",
           "restore_image", "stages_for"]

BOUNDARIES = ("unknown", "periodic", "reflect")
DOWNSCALERS = ("bicubic", "gaussian")
INVERSES = ("auto", "fourier", "cg", "learned", "learned-pcg")
#: the lowest noise level the stages end at: 8-bit quantisation alone is 1 / (255 sqrt(12)) = 0.0011
NOISE_FLOOR = 0.002

#: the stage rule per task (and SR factor): sigma from ``start`` to the noise level in ``steps`` geometric steps
#: of ``iterations`` ADMM iterations each, ``beta = lam noise^2 / sigma^2`` (see ``stages_for``). Deblurring:
#: the zoo's validated rule (BSD68 test001-004, motion blur, noise 0.01), checked on other kernels and noise
#: levels (benchmarks/photo_estimates.py --parts rules). SR: chosen on Pillow-downscaled test001-004
#: (benchmarks/sr_photo.py --tune): 12 stages from 0.2 beat 6 from 0.3 by 0.02-0.04 dB at every factor (x2
#: 28.59 / 28.57, x3 25.84 / 25.80, x4 24.58 / 24.54 dB) for twice the cost; lam from 0.1 to 0.4 changes
#: x4 by 0.01 dB (beta is tiny at these noise levels: the z-update is nearly the projection onto A x = y)
_SR_RULE = {"start": 0.2, "steps": 12, "lam": 0.1, "iterations": 2}
STAGE_RULES = {
    "deblur": {"start": 0.3, "steps": 8, "lam": 0.5, "iterations": 1},
    "sr2": dict(_SR_RULE),
    "sr3": dict(_SR_RULE),
    "sr4": dict(_SR_RULE),
}


@dataclass
class ForwardModel:
    """``A`` for an observation, and what ADMM needs around it: the task, the starting point's rule and, for
    the unknown-boundary model, the crop from ``A``'s extended input back to the frame."""

    operator: LinearOperator
    task: str  # "denoise", "deblur" or "sr"
    factor: int = 1
    frame: object = None  # a Crop (the valid model) or None


def normalised_kernel(kernel, name: str = "kernel") -> np.ndarray:
    """``kernel`` as a float64 point-spread function summing to 1, after checking it is 2-D, finite and
    non-negative with a positive sum (``name`` heads the one-line error)."""
    k = np.asarray(to_numpy(kernel), dtype=np.float64)
    if k.ndim != 2 or 0 in k.shape:
        raise ValueError(f"{name}: expected a 2-D point-spread function, got shape {k.shape}")
    if not np.all(np.isfinite(k)) or np.any(k < 0) or k.sum() <= 0:
        raise ValueError(f"{name}: expected finite, non-negative values with a positive sum")
    return k / k.sum()


def forward_model(shape, kernel=None, sr=None, downscaler=None, boundary: str = "unknown") -> ForwardModel:
    """The operator of an observation of ``shape`` (``(H, W)`` or ``(3, H, W)``: the *measurement*'s shape)
    for the options of ``restore_image`` (see the module docstring)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[0] != 3):
        raise ValueError(f"forward_model: expected an image (H, W) or (3, H, W), got shape {shape}")
    boundary = choice(boundary, "boundary", BOUNDARIES)
    k = None if kernel is None else normalised_kernel(kernel)
    if sr is None:
        if k is None:
            return ForwardModel(Identity(shape), "denoise")
        if k.shape[0] > shape[-2] or k.shape[1] > shape[-1]:
            raise ValueError(f"kernel: {k.shape[0]}x{k.shape[1]} is larger than the image {shape[-2]}x{shape[-1]}")
        if boundary == "unknown":
            A = valid_convolution(k, shape)
            return ForwardModel(A, "deblur", frame=A.frame)
        return ForwardModel(Convolution(k, shape, boundary=boundary), "deblur")
    f = integer(sr, "sr", minimum=2, maximum=4)
    high = shape[:-2] + (shape[-2] * f, shape[-1] * f)
    downscaler = choice(downscaler or ("bicubic" if k is None else "kernel"), "downscaler",
                        DOWNSCALERS + ("kernel",))
    if downscaler == "bicubic":
        if k is not None:
            raise ValueError("--downscaler bicubic is Pillow's own filter; give a kernel or the bicubic downscaler, "
                             "not both")
        return ForwardModel(Resize.downscaler(high, f), "sr", f)
    k = gaussian_kernel(3, 1.0) if downscaler == "gaussian" else k
    if boundary == "unknown":
        A = valid_strided_convolution(k, high, f)
        return ForwardModel(A, "sr", f, frame=A.frame)
    if boundary == "periodic":
        return ForwardModel(strided_convolution(k, high, f), "sr", f)
    return ForwardModel(Downsample(f, high) @ Convolution(k, high, boundary="reflect"), "sr", f)


def stages_for(task: str, noise: float, factor: int = 4) -> list:
    """The ADMM stages ``[(beta, iterations, sigma), ...]`` for ``task`` (``"denoise"``, ``"deblur"`` or
    ``"sr"`` by ``factor``) at noise level ``noise`` (see the module docstring); denoising is one application
    of the prior at the noise level."""
    noise = max(real_number(noise, "noise"), NOISE_FLOOR)
    if task == "denoise":
        return [(1e-6, 1, noise)]
    key = f"sr{integer(factor, 'factor', 2, 4)}" if task == "sr" else task
    rule = STAGE_RULES[choice(key, "task", tuple(STAGE_RULES))]
    start = max(rule["start"], noise)
    return sigma_schedule(start, noise, rule["steps"], rule["lam"] * noise**2, rule["iterations"])


def _start(model: ForwardModel, y: np.ndarray) -> np.ndarray:
    """ADMM's starting point on ``A``'s input grid: ``y`` (upsampled for SR), extended by reflection past the
    frame for the unknown-boundary model."""
    A = model.operator
    if model.task == "sr":
        if isinstance(A, Resize):
            up = Resize(A.out_shape, A.in_shape[-2:]).apply(y)  # Pillow's bicubic upscaling
        else:
            up = bicubic_upsample(y, model.factor)
    else:
        up = y
    if model.frame is not None:
        (r, c), (h, w) = model.frame.start, model.frame.size
        H, W = A.in_shape[-2:]
        pad = [(0, 0)] * (up.ndim - 2) + [(r, H - h - r), (c, W - w - c)]
        up = np.pad(up, pad, mode="reflect" if min(up.shape[-2:]) > max(r, c, H - h - r, W - w - c) else "edge")
    return np.clip(up, 0.0, 1.0)


def _inverse(name: str, model: ForwardModel, progress: bool):
    """``restore``'s ``inverse`` for ``name`` (``INVERSES``); learned inverses show their training's progress
    when ``progress``."""
    A = model.operator
    if name == "auto":
        return "auto"
    if name == "fourier":
        if A.fourier_structure() is None:
            raise ValueError("--inverse fourier needs a periodic model; with --boundary unknown or reflect there is no "
                             "closed form (use auto, cg, learned or learned-pcg)")
        return "fourier"
    if name == "cg":
        return lambda A, beta: ConjugateGradient(A, beta, tol=1e-6)
    if name == "learned":
        return lambda A, beta: learned_inverse(A, beta, progress=progress)
    return lambda A, beta: ConjugateGradient(A, beta, tol=1e-6,
                                             preconditioner=learned_inverse(A, beta, progress=progress).preconditioner())


@dataclass
class Restored:
    """The result of ``restore_image``: the estimate ``x`` (the measurement's size times the SR factor), the
    noise level used and whether it was estimated, the prior, the operator, and ADMM's history."""

    x: np.ndarray
    noise: float
    noise_estimated: bool
    prior: str
    model: ForwardModel
    stages: list
    history: object = field(default=None, repr=False)


def _prior_for(colour: bool, prior: str | None) -> tuple[str, bool]:
    """(zoo name, per_channel) for a grey or colour image."""
    if prior is not None:
        entry = zoo.info(prior)
        if entry["kind"] != "prox":
            raise ValueError(f"prior: {prior!r} is not a prior")
        channels = (entry.get("channels") or 1)
        return prior, colour and channels == 1
    if colour and "natural-color" in zoo.list():
        return "natural-color", False
    return "natural-gray", colour


def restore_image(y, *, kernel=None, sr=None, downscaler=None, boundary: str = "unknown", noise="auto",
                  prior: str | None = None, inverse: str = "auto", device=None, progress: bool = False,
                  threads=None, ensemble=None, backend: str = "torch") -> Restored:
    """Restore a photograph ``y`` (``(H, W)`` or ``(3, H, W)`` in ``[0, 1]``; NumPy or torch) under the model the
    options describe (see the module docstring). ``noise``: the noise standard deviation on the ``[0, 1]`` scale,
    or ``"auto"`` (``ppsolve.noise.estimate_noise``). ``prior``: a zoo prior (default ``natural-gray``, or
    ``natural-color`` for colour). ``inverse``: one of ``INVERSES``. ``ensemble``: the prior's self-ensemble
    (``restore``'s: default the prior's zoo setting, for ``natural-gray`` a rule by each stage's noise level).
    Returns a ``Restored`` with ``x`` clipped to ``[0, 1]``."""
    y = np.asarray(to_numpy(y), dtype=np.float64)
    model = forward_model(y.shape, kernel, sr, downscaler, boundary)
    choice(inverse, "inverse", INVERSES)
    estimated = isinstance(noise, str)
    if estimated:
        choice(noise, "noise", ("auto",))
        noise = estimate_noise(y)
    noise = real_number(noise, "noise")
    name, per_channel = _prior_for(y.ndim == 3, prior)
    stages = stages_for(model.task, noise, model.factor if model.task == "sr" else 4)
    # a grey prior on a colour image: one grey problem per channel, solved as a batch of three
    run = forward_model(y.shape[-2:], kernel, sr, downscaler, boundary) if per_channel else model
    result = restore(y, run.operator, prior=name, stages=stages, x0=_start(run, y), inverse=_inverse(inverse, run, progress),
                     clip=(0, 1), threads=threads, device=device, progress=progress, ensemble=ensemble, backend=backend)
    x = result.x if run.frame is None else run.frame.apply(result.x)  # restore clipped it to [0, 1] already
    return Restored(x, float(noise), estimated, name, model, stages, result.history)

