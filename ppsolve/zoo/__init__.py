r"""The model zoo: pretrained priors (and learned inverses) shipped with the package, ready for ADMM.

.. code-block:: python

    import ppsolve.zoo
    ppsolve.zoo.list()                  # ['mnist-dae']
    ppsolve.zoo.info("mnist-dae")       # metadata: data, training command, ADMM settings, operator, tau
    prox = ppsolve.zoo.load("mnist-dae")
    prox.metadata["admm"]               # {'beta': ..., 'iterations': ..., 'inverse': 'fourier', ...}

or in one call ``ppsolve.restore(y, A, prior="mnist-dae")`` (``ppsolve.restore``).

A model is one entry of ``REGISTRY`` plus its weights file in this folder (a ppsolve checkpoint, written by
the training command the entry names, with the trainer's ``.json`` summary beside it). Adding one, e.g.
``"natural-gray"`` or ``"cub-sr4-cpsdae"``, means adding both; nothing else changes. An entry holds:

``kind``
    ``"prox"``: a proximal operator, built by ``class`` (``"module:Class"``, a ``ppsolve.prox`` class with
    ``from_checkpoint``); ``"inverse"``: a ``LearnedInverse``, which is tied to its operator, so
    ``load(name, A=...)`` needs the operator (same one, or the same at another size with ``allow_resize``).
``weights``
    the file name in this folder.
``image_shape``
    the image shape the model accepts (``None``: any size), checked by ``ppsolve.restore``.
``admm``
    the ADMM settings the model was validated with: ``beta``, ``lam``, ``iterations``, ``inverse``, how
    they were chosen (on training data only) and the command that measured them.
``operator``, ``tau``, ``data``, ``training_command``, ``figures``
    what the model is meant for and how it was made and scored (see the entries).

``load`` returns a fresh object each call; its ``.metadata`` is ``info(name)`` with ``"training"`` replaced
by the metadata stored in the weights file it read.
"""
from __future__ import annotations

import builtins
import copy
import importlib
import json
from pathlib import Path

__all__ = ["REGISTRY", "ZOO_DIR", "info", "list", "load"]

ZOO_DIR = Path(__file__).resolve().parent

_MNIST_SR = ("x4 super-resolution of 28 x 28 digits: A = strided_convolution(gaussian_kernel(3, 1.0), (28, 28), 4) "
             "(3 x 3 Gaussian, sigma 1, periodic, every 4th pixel from pixel 0; 7 x 7 measurements), "
             "y = A x + N(0, 0.01^2)")

REGISTRY: dict[str, dict] = {
    "mnist-dae": {
        "kind": "prox",
        "class": "ppsolve.prox.learned:DAE",
        "weights": "mnist-dae.pt",
        "summary": "the paper's Table 1 denoising auto-encoder for MNIST digits, an amortised proximal operator",
        "image_shape": [28, 28],
        "data": "MNIST test file (t10k): digits 0-6999 trained on, 7000-7999 validation; 8000-9999 held out "
                "(never trained, tuned or validated on); pixels / 255",
        "training_command": "python -m ppsolve.train mnist-dae --data DATA/mnist  (DATA: the project's image-set folder)",
        "training_cpu_time": "11.5 minutes on the 2-core development CPU (40 epochs of 110 steps, batch 64, "
                             "Gaussian noise of sigma uniform in [0, 0.5] per digit)",
        "denoising_validation": "digits 7000-7999 with noise sigma uniform in [0, 0.5]: PSNR 14.89 dB noisy -> "
                                "21.87 dB denoised, SSIM 0.914",
        "tau": "ignored: a DAE trained on a range of noise levels is one fixed map (the paper's amortised "
               "proximal operator), so tau = lam / (2 beta) does not reach it",
        "operator": {
            "validated_for": _MNIST_SR,
            "operator_agnostic": True,
            "note": "a DAE prior knows nothing about A: it can be used with any operator on 28 x 28 images; "
                    "the ADMM settings below were chosen for the operator named here",
        },
        # Chosen on MNIST digits 0-7999 only (a seeded subset of 500) by mean PSNR, exact (Fourier) inverse,
        # measured by:  python benchmarks/mnist_sr.py      (results/mnist_sr.json, "selection": 18.15 dB there;
        # beta 5e-3 peaks at 18.16 dB at iteration 72, 58 is the first within 0.01 dB)
        "admm": {
            "beta": 0.005,
            "lam": 1.0,
            "iterations": 58,
            "inverse": "fourier",
            "x0": "zeros",
            "lam_note": "irrelevant: lam enters ADMM only through tau = lam / (2 beta), which this DAE ignores; "
                        "any lam >= 0 gives the same iterates (1.0 is nominal)",
            "chosen_on": "500 MNIST test digits drawn (seed 0) from 0-7999; beta from {1e-4, 5e-4, 1e-3, 5e-3, "
                         "1e-2, 1e-1} and iterations 1-300 maximising the mean PSNR, the fewest iterations within "
                         "0.01 dB of that beta's best",
            "command": "python benchmarks/mnist_sr.py",
        },
        # Held-out figures (digits 8000-9999, reported only, not used for any choice), same command.
        "figures": {
            "held_out": "MNIST test digits 8000-9999, x4 SR operator above, mean per-digit PSNR (dB), estimates "
                        "clipped to [0, 1]",
            "psnr_dae_admm_exact_inverse": 17.76,
            "psnr_dae_admm_learned_inverse": 17.76,
            "psnr_bicubic_aligned": 14.37,
            "psnr_bicubic_pixel_area": 11.62,
            "psnr_tikhonov_gradient": 14.39,
        },
    },
}


def _entry(name) -> dict:
    if not isinstance(name, str) or name not in REGISTRY:
        available = ", ".join(repr(n) for n in REGISTRY)
        raise ValueError(f"ppsolve.zoo: unknown model {name!r}; available: {available}")
    return REGISTRY[name]


def _weights(name: str) -> Path:
    path = Path(_entry(name)["weights"])
    return path if path.is_absolute() else ZOO_DIR / path


def list() -> builtins.list[str]:  # the zoo's public name; this module never calls the builtin
    """The names of the shipped models, e.g. ``['mnist-dae']``."""
    return [*REGISTRY]


def info(name: str) -> dict:
    """A copy of ``name``'s registry entry with ``name``, ``weights`` (the file's path) and ``training`` (the
    trainer's JSON summary beside the weights, or None when absent). ``ValueError`` for an unknown name."""
    entry = copy.deepcopy(_entry(name))
    weights = _weights(name)
    summary = weights.with_suffix(".json")
    training = json.loads(summary.read_text()) if summary.is_file() else None
    return {"name": name, **entry, "weights": str(weights), "training": training}


def _import(spec: str):
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def load(name: str, *, device=None, A=None, allow_resize: bool = False):
    """The ready object for ``name`` with ``.metadata`` (see the module docstring).

    ``kind="prox"``: a proximal operator (e.g. ``ppsolve.prox.DAE`` for ``"mnist-dae"``) on ``device``
    (default CPU). ``kind="inverse"``: a ``LearnedInverse`` for the operator ``A`` (required) at the entry's
    ``beta``; ``allow_resize`` as in ``LearnedInverse.load``. ``ValueError`` for an unknown name;
    ``FileNotFoundError`` naming the training command when the weights file is missing.
    """
    entry = _entry(name)
    path = _weights(name)
    if not path.is_file():
        raise FileNotFoundError(f"ppsolve.zoo: the weights of {name!r} are missing ({path}); train them with: "
                                f"{entry['training_command']}")
    metadata = info(name)
    if entry["kind"] == "prox":
        obj = _import(entry["class"]).from_checkpoint(path, device=device)
        metadata["training"] = obj.metadata
    elif entry["kind"] == "inverse":
        from ..inverses.learned import LearnedInverse

        if A is None:
            raise ValueError(f"ppsolve.zoo.load({name!r}): a learned inverse is tied to its operator; pass A=")
        obj = LearnedInverse.load(path, A, entry["admm"]["beta"], allow_resize=allow_resize)
        metadata["training"] = obj.training
    else:
        raise ValueError(f"ppsolve.zoo: entry {name!r} has unknown kind {entry['kind']!r}")
    obj.metadata = metadata
    return obj
