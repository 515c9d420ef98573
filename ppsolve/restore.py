r"""``restore``: solve ``y = A x + noise`` with a pretrained prior from the model zoo in one call.

.. code-block:: python

    from ppsolve import restore
    result = restore(y, A, prior="natural-gray")   # the zoo's validated settings; result.x is the estimate

It loads the prior (``ppsolve.zoo.load``) and runs staged ADMM (``ppsolve.staged``) with the settings the zoo
validated it with (``ppsolve.zoo.info(prior)["admm"]``, or one of its ``tasks``), each overridable. A prior
whose entry has ``patch`` settings is applied tile by tile (``ppsolve.patches.Patchwise``) when the image is
larger than its tile: with margins of at least the network's receptive radius the result is that of the
whole image (up to rounding), with memory bounded by a few tiles.
"""
from __future__ import annotations

import sys

import array_api_compat
import numpy as np
from tqdm.auto import tqdm

from . import zoo
from ._array import is_torch, namespace, to_numpy
from ._validate import interval
from .admm import ADMMResult
from .interpolation import bicubic_upsample
from .inverses.base import Inverse
from .operators.base import LinearOperator
from .patches import Patchwise
from .prox.basic import Proximal
from .staged import parse_stages, solve_staged
from .threads import limit

__all__ = ["X0_CHOICES", "restore", "starting_point"]

#: keyword arguments ``restore`` passes on to ``ADMM.solve``; ``lam`` goes to ``ADMM``
_SOLVE_OPTIONS = ("tol", "callback", "x_true")
#: named starting points: zeros, the measurement itself (square A), aligned bicubic upsampling of y (A = S H)
X0_CHOICES = ("zeros", "y", "bicubic")


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

    up = np.clip(bicubic_upsample(to_numpy(y), factor), 0.0, 1.0)
    if grey_to_colour:  # the grey estimate in every colour channel
        up = np.repeat(up[..., None, :, :], A.in_shape[-3], axis=-3)
    return namespace(y).asarray(up, dtype=y.dtype, device=array_api_compat.device(y))


def _counting(bar, callback):
    """A callback that advances ``bar`` and then calls ``callback`` (if any), passing on its answer."""
    def advance(k, state):
        bar.update(1)
        return callback(k, state) if callback is not None else None

    return advance


def restore(y, A: LinearOperator, prior="mnist-dae", inverse="auto", iters: int | None = None,
            beta: float | None = None, x0=None, stages=None, clip=None, patch: bool | None = None,
            task: str | None = None, threads=None, device=None, progress: bool = False, ensemble=None,
            backend: str = "torch", **admm_options) -> ADMMResult:
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
    stages : ``[(beta, iterations[, sigma]), ...]`` (see ``ppsolve.staged``); default: the zoo's.
    x0 : the starting point: an array, or ``"zeros"``, ``"y"`` (the measurement, for square ``A``) or
        ``"bicubic"`` (aligned bicubic upsampling of ``y``, clipped to [0, 1], for ``A = S H``; for ``A = S H R``
        with ``R`` colour to grey, the grey upsampling in every channel); default: the zoo's, else zeros.
    clip : ``(low, high)`` for the returned ``x`` (default: the zoo's, e.g. ``(0, 1)`` for images).
    task : for a zoo prior validated on several problems (``info(prior)["tasks"]``, e.g. ``"deblur"`` and
        ``"sr4"`` for ``"natural-gray"``), whose settings to use; default ``info(prior)["admm"]``.
    patch : apply the prior tile by tile (``ppsolve.patches.Patchwise``) with the zoo's tile settings: None
        (default) when the image has more pixels than a ``patch["size"]`` square tile (the memory budget: a
        frame slightly larger than a tile is not split into overlapping tiles); True / False to force.
    threads : threads for the run (``ppsolve.threads``; default ``PPSOLVE_THREADS``, else 1).
    device : where a zoo prior's network runs (e.g. ``"cuda"``; default the CPU); arrays stay where they are.
    progress : show a progress bar over the iterations of all stages.
    ensemble : the self-ensemble of a network prior (1, 2, 4 or 8 quarter turns / mirror images averaged per
        evaluation; ``DenoiserProx.ensemble``): one size for every stage, a list of one per stage, or a rule by
        the stage's noise level (``staged.stage_ensembles``); default the zoo's (``natural-gray``: a rule, 1
        transform at the high noise levels of the first stages, 2 in the middle, 4 at the end, so it fits the
        photo path's stages too), else the prior's own. The cost is proportional to it: on BSD68 test001-004
        ``natural-gray`` deblurs at 28.834 / 28.833 dB with 4 everywhere / the zoo's rule (19 evaluations
        instead of 32; ``benchmarks/speed_levers.py``, ``docs/speed.md``).
    backend : how a zoo prior's network is evaluated: "torch" (default) or "onnxruntime" (the same map run by ONNX
        Runtime on the CPU, 1.26-1.36x faster here; ``pip install 'ppsolve[onnx]'``).
    **admm_options : ``lam`` (default the zoo's; ignored by priors that ignore ``tau``) and ``ADMM.solve``'s
        ``tol``, ``callback`` and ``x_true``.
    """
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
        with limit(threads):  # an onnxruntime session takes its thread count when it is made
            settings, prox = (entry["admm"] if task is None else tasks[task]), zoo.load(prior, device=device,
                                                                                        backend=backend)
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
    if ensemble is not None and not hasattr(prox, "ensemble"):
        raise TypeError(f"restore: ensemble= needs a network prior (a DenoiserProx), got {type(prox).__name__}")
    if ensemble is None:
        ensemble = settings.get("ensemble")  # one size, or a rule by noise level that fits any stages
    tiles = entry.get("patch") if isinstance(prior, str) else None
    if tiles is not None:
        big = A.in_shape[-2] * A.in_shape[-1] > tiles["size"] ** 2
        if patch or (patch is None and big):
            prox = Patchwise(prox, patch=tiles["size"], overlap=tiles["overlap"], margin=tiles["margin"],
                             image_ndim=min(len(A.in_shape), 3))
    elif patch:
        raise ValueError("restore: patch=True needs tile settings; this prior has none (use ppsolve.patches.Patchwise)")
    clip = settings.get("clip") if clip is None else clip
    if clip is not None:
        low, high = interval(clip, "restore clip")
    lam = admm_options.pop("lam", settings.get("lam", 0.0))
    bar = None
    if progress:
        bar = tqdm(total=sum(s[1] for s in parse_stages(stages)), desc="restore", unit="iteration", leave=False,
                   dynamic_ncols=True, file=sys.stderr)
        admm_options["callback"] = _counting(bar, admm_options.get("callback"))
    try:
        with limit(threads):
            start = starting_point(settings.get("x0", None) if x0 is None else x0, y, A)
            result = solve_staged(A, prox, y, stages, inverse=inverse, x0=start, lam=lam, ensemble=ensemble,
                                  **admm_options)
    finally:
        if bar is not None:
            bar.close()
    if clip is not None:
        result.x = result.x.clamp(low, high) if is_torch(result.x) else namespace(result.x).clip(result.x, low, high)
    return result
