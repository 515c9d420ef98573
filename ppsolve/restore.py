r"""``restore``: solve ``y = A x + noise`` with a pretrained prior from the model zoo in one call.

.. code-block:: python

    from ppsolve import restore
    from ppsolve.operators import gaussian_kernel, strided_convolution

    A = strided_convolution(gaussian_kernel(3, 1.0), (28, 28), 4)
    result = restore(y, A)                 # y: (7, 7) or a batch (N, 7, 7); prior "mnist-dae"
    x = result.x                           # (28, 28) or (N, 28, 28)

    result = restore(y_blurred, deblur_operator((481, 321)), prior="natural-gray")   # any size, by patches

It loads the prior (``ppsolve.zoo.load``) and runs ADMM with the settings the zoo validated it with
(``ppsolve.zoo.info(prior)["admm"]``), each overridable.

**Stages.** ADMM with a learned denoiser works best with a penalty that grows (or, for a noise-conditional
denoiser, a noise level that falls) over the run, as in IRCNN / DPIR. ``stages`` is a list of
``(beta, iterations)`` or ``(beta, iterations, sigma)``: each stage is one ``ADMM`` solve warm-started at the
previous stage (``z_0`` = its last z-update, ``u_0 = 0``; with one iteration per stage this is half-quadratic
splitting). With ``sigma`` the stage's ``lam`` is
``2 beta sigma^2``, so that ``tau = lam / (2 beta) = sigma^2`` and a noise-conditional prior
(``sigma_of_tau = sqrt``) denoises at ``sigma``; without it ``lam`` is the given / zoo value (which a blind
prior ignores). One stage with the zoo's ``beta`` and ``iterations`` is the plain ADMM of the paper.

**Large images.** A zoo prior with a ``patch`` entry is wrapped in ``ppsolve.patches.Patchwise`` when the
image is larger than its ``patch`` size: tiles with a margin of at least the network's receptive radius, so
the result is that of the whole image (up to rounding) with memory bounded by a few tiles.
"""
from __future__ import annotations

import numbers

import numpy as np

import torch

from ._array import is_torch, namespace, to_numpy
from ._validate import real_number
from .admm import ADMM, ADMMResult, History
from .inverses.base import Inverse
from .operators.base import LinearOperator
from .prox.basic import Proximal

__all__ = ["X0_CHOICES", "parse_stages", "restore", "sigma_schedule", "solve_staged", "starting_point"]

#: keyword arguments ``restore`` passes on to ``ADMM.solve``; ``lam`` goes to ``ADMM``
_SOLVE_OPTIONS = ("tol", "callback", "x_true")
#: named starting points: zeros, the measurement itself (square A), aligned bicubic upsampling of y (A = S H)
X0_CHOICES = ("zeros", "y", "bicubic")


def parse_stages(stages) -> list[tuple[float, int, float | None]]:
    """``[(beta, iterations, sigma or None), ...]`` from a list of 2- or 3-sequences or dicts with keys
    ``beta``, ``iterations`` and optionally ``sigma``; ``ValueError`` naming the bad entry."""
    if isinstance(stages, (str, bytes)) or not hasattr(stages, "__iter__"):
        raise TypeError(f"stages: expected a list of (beta, iterations[, sigma]), got {stages!r}")
    out = []
    for i, stage in enumerate(stages):
        if isinstance(stage, dict):
            stage = (stage.get("beta"), stage.get("iterations"), stage.get("sigma"))
        stage = tuple(stage)
        if len(stage) == 2:
            stage = stage + (None,)
        if len(stage) != 3:
            raise ValueError(f"stages[{i}]: expected (beta, iterations) or (beta, iterations, sigma), got {stage!r}")
        beta, iters, sigma = stage
        if isinstance(iters, bool) or not isinstance(iters, numbers.Integral) or iters < 1:
            raise ValueError(f"stages[{i}]: iterations must be an int >= 1, got {iters!r}")
        out.append((real_number(beta, f"stages[{i}]: beta", positive=True), int(iters),
                    None if sigma is None else real_number(sigma, f"stages[{i}]: sigma")))
    if not out:
        raise ValueError("stages: expected at least one stage")
    return out


def sigma_schedule(sigma_start: float, sigma_end: float, steps: int, beta_scale: float,
                   iterations: int = 1) -> list[tuple[float, int, float]]:
    r"""Stages for a noise-conditional prior, as in DPIR (Zhang et al., TPAMI 2021): ``steps`` noise levels
    ``sigma_k`` log-spaced from ``sigma_start`` down to ``sigma_end``, each with ``beta_k = beta_scale /
    sigma_k^2`` (the penalty grows as the prior's noise level falls; DPIR's ``mu_k = lambda / sigma_k^2``
    in our scaling, ``beta_scale = lambda sigma_noise^2``) and ``iterations`` ADMM iterations. With one
    iteration per stage (``u`` restarts at 0) this is half-quadratic splitting, DPIR's own loop."""
    if not (sigma_start >= sigma_end > 0) or steps < 1 or beta_scale <= 0:
        raise ValueError("sigma_schedule: need sigma_start >= sigma_end > 0, steps >= 1, beta_scale > 0; got "
                         f"{sigma_start}, {sigma_end}, {steps}, {beta_scale}")
    sigmas = np.geomspace(sigma_start, sigma_end, int(steps))
    return [(float(beta_scale / s**2), int(iterations), float(s)) for s in sigmas]


def _inverse_for(inverse, A: LinearOperator, beta: float):
    """The z-update solver for one stage: a name (``ADMM`` builds it), an ``Inverse`` (its beta must match)
    or a callable ``(A, beta) -> Inverse``."""
    if isinstance(inverse, Inverse):
        if abs(inverse.beta - beta) > 1e-12 * beta:
            raise ValueError(f"restore: the given {type(inverse).__name__} is for beta = {inverse.beta:g}, a stage "
                             f"needs beta = {beta:g}; pass a callable (A, beta) -> Inverse for several betas")
        return inverse
    if callable(inverse):
        made = inverse(A, beta)
        if not isinstance(made, Inverse):
            raise TypeError(f"restore: inverse(A, beta) returned {type(made).__name__}, not a ppsolve Inverse")
        return made
    return inverse


def _merge(histories: list[History]) -> History:
    merged = History()
    for h in histories:
        for name, values in vars(h).items():
            getattr(merged, name).extend(values)
    return merged


def solve_staged(A: LinearOperator, prox, y, stages, inverse="auto", x0=None, lam: float = 0.0,
                 **solve_options) -> ADMMResult:
    """Staged ADMM (see the module docstring): one ``ADMM(A, prox, inverse, beta, lam)`` solve per stage, each
    started at the previous stage's last ``z``. Returns the last stage's ``ADMMResult`` with ``history`` holding the
    records of all stages in order (``time`` and ``wall`` restart at each stage) and ``iterations`` their
    total. ``inverse``: a name, an ``Inverse`` (one beta only) or a callable ``(A, beta) -> Inverse``."""
    results = []
    z = x0
    for beta, iters, sigma in parse_stages(stages):
        stage_lam = 2.0 * beta * sigma**2 if sigma is not None else lam
        inv = _inverse_for(inverse, A, beta)
        admm = ADMM(A, prox, inverse=inv, beta=None if isinstance(inv, Inverse) else beta, lam=stage_lam)
        result = admm.solve(y, iters=iters, x0=z, **solve_options)
        results.append(result)
        if result.stop_reason == "callback":
            break
        z = result.z  # the data-consistent iterate: the next stage's first x is prox(z), as ADMM would go on
    last = results[-1]
    last.history = _merge([r.history for r in results])
    last.iterations = sum(r.iterations for r in results)
    return last


def starting_point(x0, y, A: LinearOperator):
    """ADMM's ``z_0`` for ``restore``'s ``x0``: an array (or None) as given, or one of ``X0_CHOICES`` made from ``y``
    (``"zeros"`` gives None, ADMM's default)."""
    if x0 is None or not isinstance(x0, str):
        return x0
    if x0 not in X0_CHOICES:
        raise ValueError(f"restore: x0 must be an array or one of {X0_CHOICES}, got {x0!r}")
    if x0 == "zeros":
        return None
    if x0 == "y":
        if tuple(A.in_shape) != tuple(A.out_shape):
            raise ValueError(f"restore: x0='y' needs in_shape == out_shape, A maps {A.in_shape} -> {A.out_shape}")
        return y
    structure = A.fourier_structure()
    factor = 1 if structure is None else structure.factor
    grey_to_colour = structure is not None and structure.mix is not None and len(A.in_shape) == len(A.out_shape) + 1
    if structure is None or (structure.mix is not None and not grey_to_colour) or tuple(A.out_shape[-2:]) != tuple(
            s // factor for s in A.in_shape[-2:]):
        raise ValueError(f"restore: x0='bicubic' needs A = S H (a strided periodic convolution, possibly after a "
                         f"colour-to-grey mix), got {A!r}")
    from .baselines import aligned_bicubic

    up = np.clip(aligned_bicubic(to_numpy(y), factor), 0.0, 1.0)
    if grey_to_colour:  # the grey estimate in every colour channel
        up = np.repeat(up[..., None, :, :], A.in_shape[-3], axis=-3)
    return torch.as_tensor(up).to(device=y.device, dtype=y.dtype) if is_torch(y) else namespace(y).asarray(up)


def restore(y, A: LinearOperator, prior="mnist-dae", inverse="auto", iters: int | None = None,
            beta: float | None = None, x0=None, stages=None, clip=None, patch: bool | None = None,
            task: str | None = None, **admm_options) -> ADMMResult:
    """Restore ``x`` from ``y = A x + noise`` by (staged) ADMM with a prior; returns the ``ADMMResult``.

    The estimate is ``result.x``; ``result.history`` holds the per-iteration records of every stage (pass
    ``x_true=`` for the NMSE).

    Parameters
    ----------
    y : the measurement, ``(*batch, *A.out_shape)`` (NumPy or torch; leading dimensions are a batch).
    A : the forward operator. A prior with a fixed ``image_shape`` (the MNIST DAE: 28 x 28) refuses another
        input shape; a convolutional one (``image_shape`` None) takes any size. A DAE prior is
        operator-agnostic, but the zoo's settings were validated for ``info(prior)["operator"]``.
    prior : a zoo prior name (``ppsolve.zoo.list()``), or a ``Proximal`` (then ``stages`` or ``beta`` and
        ``iters`` are required: there are no validated settings to fall back on).
    inverse : the least-squares solver: a name as for ``ADMM`` (``"auto"``: the exact ``FourierInverse`` for
        periodic (strided) convolutions, else conjugate gradients), an ``Inverse`` (its ``beta`` is the
        default ``beta``; only with one stage), or a callable ``(A, beta) -> Inverse`` such as
        ``lambda A, b: LearnedInverse.train(A, b)``, called once per stage.
    iters, beta : one stage of ADMM with these (each defaulting to the zoo's); not with ``stages``.
    stages : ``[(beta, iterations[, sigma]), ...]`` (see the module docstring); default: the zoo's.
    x0 : the starting point: an array, or ``"zeros"``, ``"y"`` (the measurement, for square ``A``) or
        ``"bicubic"`` (aligned bicubic upsampling of ``y``, clipped to [0, 1], for ``A = S H``; for ``A = S H R``
        with ``R`` colour to grey, the grey upsampling in every channel); default: the zoo's, else zeros.
    clip : ``(low, high)`` for the returned ``x`` (default: the zoo's, e.g. ``(0, 1)`` for images).
    task : for a zoo prior validated on several problems (``info(prior)["tasks"]``, e.g. ``"deblur"`` and
        ``"sr4"`` for ``"natural-gray"``), whose settings to use; default ``info(prior)["admm"]``.
    patch : apply the prior tile by tile (``ppsolve.patches.Patchwise``) with the zoo's tile settings: None
        (default) when the image is larger than the zoo's ``patch["size"]``; True / False to force.
    **admm_options : ``lam`` (default the zoo's; ignored by priors that ignore ``tau``) and ``ADMM.solve``'s
        ``tol``, ``callback`` and ``x_true``.
    """
    from . import zoo

    unknown = sorted(set(admm_options) - {"lam", *_SOLVE_OPTIONS})
    if unknown:
        raise TypeError(f"restore: unknown options {unknown}; accepted: lam, {', '.join(_SOLVE_OPTIONS)}")
    if not isinstance(A, LinearOperator):
        raise TypeError(f"restore: A must be a ppsolve LinearOperator, got {type(A).__name__}")
    if stages is not None and (iters is not None or beta is not None):
        raise TypeError("restore: give either stages or iters / beta, not both")
    if isinstance(prior, str):
        entry = zoo.info(prior)
        if entry["kind"] != "prox":
            raise ValueError(f"restore: {prior!r} is a {entry['kind']}, not a prior; choose one of "
                             + ", ".join(repr(n) for n in zoo.list() if zoo.info(n)["kind"] == "prox"))
        shape = entry.get("image_shape")
        if shape is not None and tuple(A.in_shape) != tuple(shape):
            raise ValueError(
                f"restore: the prior {prior!r} works on images of shape {tuple(shape)} only (a fully connected "
                f"network), but A's input shape is {tuple(A.in_shape)}")
        tasks = entry.get("tasks") or {}
        if task is not None and task not in tasks:
            raise ValueError(f"restore: the prior {prior!r} has no task {task!r}; its tasks: {sorted(tasks) or 'none'}")
        settings, prox = (entry["admm"] if task is None else tasks[task]), zoo.load(prior)
    elif isinstance(prior, Proximal):
        if task is not None:
            raise TypeError("restore: task= selects zoo settings; it needs a zoo prior name")
        settings, prox = {}, prior
        if stages is None and (iters is None or beta is None) and not (isinstance(inverse, Inverse) and iters):
            raise TypeError("restore: with a Proximal prior give stages=, or iters= and beta=")
    else:
        raise TypeError(f"restore: prior must be a zoo name or a ppsolve Proximal, got {type(prior).__name__}")

    if stages is None:
        if iters is not None or beta is not None or "stages" not in settings:
            if beta is None:
                beta = inverse.beta if isinstance(inverse, Inverse) else settings["beta"]
            iters = settings["iterations"] if iters is None else iters
            stages = [(beta, iters)]
        else:
            stages = settings["stages"]
    if "ensemble" in settings:
        prox.ensemble = int(settings["ensemble"])
    tiles = entry.get("patch") if isinstance(prior, str) else None
    if tiles is not None:
        big = max(A.in_shape[-2:]) > tiles["size"]
        if patch or (patch is None and big):
            from .patches import Patchwise

            prox = Patchwise(prox, patch=tiles["size"], overlap=tiles["overlap"], margin=tiles["margin"],
                             image_ndim=min(len(A.in_shape), 3))
    elif patch:
        raise ValueError("restore: patch=True needs tile settings; this prior has none (use ppsolve.patches.Patchwise)")
    lam = admm_options.pop("lam", settings.get("lam", 0.0))
    start = starting_point(settings.get("x0", None) if x0 is None else x0, y, A)
    result = solve_staged(A, prox, y, stages, inverse=inverse, x0=start, lam=lam, **admm_options)
    clip = settings.get("clip") if clip is None else clip
    if clip is not None:
        low, high = (float(c) for c in clip)
        result.x = result.x.clamp(low, high) if is_torch(result.x) else namespace(result.x).clip(result.x, low, high)
    return result
