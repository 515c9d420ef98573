r"""The model zoo: pretrained priors (and learned inverses) shipped with the package, ready for ADMM.

.. code-block:: python

    import ppsolve.zoo
    ppsolve.zoo.list()                  # ['mnist-dae', 'natural-gray', 'natural-color', 'cub-sr4-cpsdae']
    ppsolve.zoo.info("mnist-dae")       # metadata: data, training command, ADMM settings, operator, tau
    prox = ppsolve.zoo.load("mnist-dae")
    prox.metadata["admm"]               # {'beta': ..., 'iterations': ..., 'inverse': 'fourier', ...}

or in one call ``ppsolve.restore(y, A, prior="mnist-dae")`` (``ppsolve.restore``).

A model is one entry of ``REGISTRY`` plus its weights file in this folder (a model file written by the
training command the entry names, with the trainer's ``.json`` summary beside it). Adding one means adding
both; nothing else changes. An entry holds:

``kind``
    ``"prox"``: a proximal operator, built by ``class`` (a ``ppsolve.prox`` denoiser class, e.g.
    ``DenoiserProx``, with ``from_file``); ``"inverse"``: a ``LearnedInverse``, which is tied to its operator,
    so ``load(name, A=...)`` needs the operator (same one, or the same at another size with ``allow_resize``).
``weights``
    the model file in this folder (``ppsolve.modelfile``: safetensors, no code path).
``image_shape``
    the image shape the model accepts (``None``: any size), checked by ``ppsolve.restore``.
``admm``
    the ADMM settings the model was validated with: ``beta``, ``lam``, ``iterations``, ``inverse``, how
    they were chosen (on training data only) and the command that measured them.
``tasks``
    for a prior validated on several problems, their settings by name (``restore(..., task=...)``); ``admm``
    is the default one. A task's ``ensemble`` is the self-ensemble, one size or a rule by the stage's noise
    level that fits any stages (``restore(ensemble=)``, ``ppsolve.staged.stage_ensembles``).
    ``prox_options``: keywords for the proximal operator (e.g. ``clip``); ``patch``: tile settings for images
    larger than ``size`` (``ppsolve.patches.Patchwise``).
``operator``, ``tau``, ``data``, ``training_command``, ``figures``
    what the model is meant for and how it was made and scored (see the entries).

``load`` returns a fresh object each call; its ``.metadata`` is ``info(name)`` with ``"training"`` replaced
by the header of the model file it read. ``load(name, weights=PATH)`` reads a retrained file instead of the
shipped one (``python -m ppsolve.train NAME`` writes ``results/models/NAME.safetensors``), with the entry's
settings.
"""
from __future__ import annotations

import builtins
import copy
import json
from pathlib import Path

from ..inverses.learned import LearnedInverse
from ..prox.denoiser import CPSDAEProx, DAEProx, DenoiserProx
from ..staged import sigma_schedule

__all__ = ["REGISTRY", "ZOO_DIR", "info", "list", "load"]

ZOO_DIR = Path(__file__).resolve().parent

_MNIST_SR = ("x4 super-resolution of 28 x 28 digits: A = strided_convolution(gaussian_kernel(3, 1.0), (28, 28), 4) "
             "(3 x 3 Gaussian, sigma 1, periodic, every 4th pixel from pixel 0; 7 x 7 measurements), "
             "y = A x + N(0, 0.01^2)")

REGISTRY: dict[str, dict] = {
    "mnist-dae": {
        "kind": "prox",
        "class": DAEProx,
        "weights": "mnist-dae.safetensors",
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


def _schedule(sigma_start, sigma_end, steps, beta_scale, iterations):
    """``ppsolve.staged.sigma_schedule`` written out (rounded to 6 digits), so the registry shows the stages."""
    return [[float(f"{beta:.6g}"), its, float(f"{sigma:.6g}")]
            for beta, its, sigma in sigma_schedule(sigma_start, sigma_end, steps, beta_scale, iterations)]


_NATURAL = ("grey natural images in [0, 1] (8-bit / 255), periodic operators, y = A x + N(0, 0.01^2); measured on "
            "BSD68 central 256 x 256 crops (python benchmarks/deblur_bsd68.py, python benchmarks/sr_bsd68.py)")

REGISTRY["natural-gray"] = {
    "kind": "prox",
    "class": DenoiserProx,
    "weights": "natural-gray.safetensors",
    "summary": "a noise-conditional grey natural-image denoiser (SigmaUNet: a bias-free U-Net of 3 levels, 32, 64 "
               "and 128 channels, one residual block per level, the noise level as an input), the prior of motion "
               "deblurring and grey super-resolution",
    "image_shape": None,
    "data": "Train400 (BSD400 crops, 180 x 180 grey) images 1-380, random 40 x 40 crops with flips / rotations; "
            "381-400 validation. Never BSD68 / Set12 (evaluation sets)",
    "training_command": "python -m ppsolve.train natural-gray --data DATA/train400  (DATA: the project's image-set folder)",
    "training_cpu_time": "19 minutes (1151 s) on one core of the 2-core development CPU while another training "
                         "used the other core (44 epochs of 100 steps, batch 32, noise sigma uniform in [0, 0.15], "
                         "Adam 1e-3 -> 1e-4)",
    "denoising_validation": "BSD68 test001-004 crops, sigma 0.05: 26.1 dB noisy -> 31.4 dB (BM3D 31.3; the first "
                            "natural-gray, a dilated SigmaDnCNN of 48 channels, 30.8); sigma 0.1: 20.2 -> 28.0 dB "
                            "(SigmaDnCNN 27.3); Train400 381-400 tiles, sigma uniform in [0, 0.15]: 32.17 dB "
                            "(SigmaDnCNN 31.41)",
    "tau": "sigma = sqrt(tau) = sqrt(lam / (2 beta)) is the network's noise-level input (DenoiserProx sigma_of_tau); "
           "the stages set sigma directly (lam = 2 beta sigma^2)",
    "operator": {"validated_for": _NATURAL, "operator_agnostic": True},
    "prox_options": {"clip": [0, 1]},
    # Tiles of 1024 x 1024 (the memory budget: their activations) for images with more pixels than one tile, on
    # the U-Net's grid (starts at multiples of 4): margin 28 >= the receptive radius 25, so the tiled prior
    # equals the whole-image one (ppsolve.patches).
    "patch": {"size": 1024, "overlap": 60, "margin": 28},
    "tasks": {
        "deblur": {
            "operator": "motion blur: motion_kernel(9, 30, 9) = kernels/motion9_30deg.txt, periodic",
            "stages": _schedule(0.3, 0.01, 8, 5e-5, 1),
            "ensemble": {"by_sigma": [[0.1, 1], [0.03, 2], [0, 4]]},
            "x0": "y",
            "clip": [0, 1],
            "inverse": "fourier (or one LearnedInverse, direct form, trained at the first stage's beta with "
                       "ppsolve.experiments.natural.deblur_inverse_options and moved to every stage by "
                       "ppsolve.inverses.every_beta, 10 CG iterations; or one per beta)",
            "chosen_on": "BSD68 test001-004 only: sigma_schedule(sigma_start, sigma_end, steps, beta_scale, "
                         "iterations) over the five rounds of CANDIDATES in benchmarks/deblur_bsd68.py (153 "
                         "schedules, ensemble 1; best (0.3, 0.01, 8, 5e-5, 1): 28.78 dB, tied with a start at 0.4 "
                         "(+0.001 dB) and kept as the one nearer the training range (sigma up to 0.15: the first "
                         "stages extrapolate); TV-ADMM 27.48 dB there), then the self-ensemble 4 (8 would pass the "
                         "10 CPU-second budget), then per stage by noise level (ppsolve.staged.stage_ensembles) with "
                         "the quarter turns first (DenoiserProx.ensemble_transforms): 1 transform at sigma >= 0.1, "
                         "2 down to 0.03, 4 below, 19 evaluations: 28.833 dB against 28.832 with 4 flips in every "
                         "stage (32 evaluations) and 28.827 with 4 flips in the last four stages (20); 4 turns in "
                         "the last four stages 28.831",
            "command": "python benchmarks/deblur_bsd68.py --tune",
        },
        "sr4": {
            "operator": "x4 super-resolution: 3 x 3 Gaussian (sigma 1), every 4th pixel from 0, periodic",
            "stages": _schedule(0.3, 0.01, 6, 2e-5, 2),
            "ensemble": {"by_sigma": [[0.1, 1], [0.015, 2], [0, 4]]},
            "x0": "bicubic",
            "clip": [0, 1],
            "inverse": "fourier (or a LearnedInverse, Woodbury form)",
            "chosen_on": "BSD68 test001-004 only: the three rounds of CANDIDATES in benchmarks/sr_bsd68.py (40 "
                         "schedules; best (0.3, 0.01, 6, 2e-5, 2): 23.79 dB against 23.14 for aligned bicubic, "
                         "ensemble 1; every start from 0.3 to 0.5 within 0.005 dB). The first stages ask for "
                         "sigma above the training range (0.15): the network extrapolates there, and measured "
                         "best. Ensemble 4 as for the first natural-gray (+0.12 dB there), then per stage by noise "
                         "level with the quarter turns first: 1 transform at sigma >= 0.1, 2 down to 0.015, 4 below, "
                         "24 evaluations: 23.814 dB against 23.816 with 4 flips in every stage (48) and 23.808 with "
                         "2 flips in every stage (24, the setting before); 4 below 0.03 scored 23.815 at 28 "
                         "evaluations, over the time budget",
            "command": "python benchmarks/sr_bsd68.py --tune",
        },
    },
}
REGISTRY["natural-gray"]["figures"] = {
    "measured_on": "BSD68 central 256 x 256 crops, all 68 (test005-068 never tuned on), noise seed 0 + i, mean PSNR "
                   "of clipped estimates; CPU seconds per image on one thread, beside one other benchmark",
    "deblur": {"wiener_best_oracle": 25.93, "tv_admm": 28.15, "natural_gray_exact_inverse": 29.506,
               "natural_gray_one_learned_inverse_every_beta": 29.506, "test005_068_exact_inverse": 29.55,
               "test005_068_tv_admm": 28.20, "cpu_seconds": 3.5,
               "with_4_flips_in_every_stage": {"exact_inverse": 29.506, "learned_inverse_per_beta": 29.33,
                                               "test005_068_learned_inverse_per_beta": 29.37,
                                               "cpu_seconds": "4.4-5.6 on an idle machine, 7.8 loaded"},
               "first_natural_gray_sigmadncnn_exact_inverse": 28.97},
    "sr4": {"bicubic_aligned": 23.44, "natural_gray_exact_inverse": 24.273, "natural_gray_learned_inverse": 24.272,
            "test005_068_gain_over_bicubic": 0.85, "cpu_seconds": 5.1,
            "with_4_flips_in_every_stage": {"exact_inverse": 24.276, "test005_068_gain_over_bicubic": 0.85,
                                            "cpu_seconds": 7.8},
            "first_natural_gray_sigmadncnn_exact_inverse": 24.00},
}
REGISTRY["natural-gray"]["admm"] = REGISTRY["natural-gray"]["tasks"]["deblur"]

REGISTRY["natural-color"] = {
    "kind": "prox",
    "class": DenoiserProx,
    "weights": "natural-color.safetensors",
    "channels": 3,
    "summary": "a noise-conditional colour natural-image denoiser (SigmaUNet as natural-gray's, on RGB: 3 levels of "
               "32, 64 and 128 channels, the noise level as an input), the prior of colour photographs "
               "(ppsolve restore / restore_image on colour images: deblurring and super-resolution)",
    "image_shape": None,
    "data": "CUB-200 birds but the last 240 in list_images order (760 birds; the last 40 of them validate, the last "
            "200 are held out), random 40 x 40 RGB crops with flips / rotations, and 1 crop in 4 from Train400 "
            "1-380 in grey (the same in every channel) for structure. Never CelebA, Set5/12/14, BSD68 / CBSD68",
    "training_command": "python -m ppsolve.train natural-color --data DATA  (DATA: the project's image-set folder)",
    "training_cpu_time": "68 minutes wall (4099 s) on one thread, sharing the 2-core development CPU with two or "
                         "three other single-thread jobs throughout (44 epochs of 100 steps, batch 32, noise sigma "
                         "uniform in [0, 0.15], Adam 1e-3 -> 1e-4); resumable: an interrupted run goes on where it "
                         "stopped",
    "denoising_validation": "the 360 validation tiles (40 x 40 from 40 CUB birds), sigma uniform in [0, 0.15]: "
                            "25.86 dB noisy -> 35.62 dB, SSIM 0.931",
    "tau": "sigma = sqrt(tau) = sqrt(lam / (2 beta)) is the network's noise-level input (DenoiserProx sigma_of_tau); "
           "the stages set sigma directly (lam = 2 beta sigma^2)",
    "operator": {"validated_for": "colour photographs in [0, 1] (8-bit / 255) under ppsolve.photo's models: "
                                  "CBSD68 central 256 x 256 crops (python benchmarks/colour_photo.py)",
                 "operator_agnostic": True},
    "prox_options": {"clip": [0, 1]},
    "patch": {"size": 1024, "overlap": 60, "margin": 28},
    "tasks": {
        "deblur": {
            "operator": "colour blur, any kernel: ppsolve.photo.stages_for gives the stages from the noise level; "
                        "these are its stages at 0.01 (natural-gray's deblurring stages)",
            "stages": _schedule(0.3, 0.01, 8, 5e-5, 1),
            "ensemble": {"by_sigma": [[0.1, 1], [0.03, 2], [0, 4]]},
            "x0": "y",
            "clip": [0, 1],
            "inverse": "auto (fourier for periodic blurs, CG preconditioned by the periodic closed form for the valid "
                       "model)",
            "chosen_on": "nothing colour-specific: natural-gray's stages and self-ensemble rule (BSD68 test001-004); "
                         "on the colour versions of test001-004 (python benchmarks/colour_photo.py --images 4) the "
                         "rule scored 29.929 dB deblurring and 24.502 4x SR against 29.936 and 24.506 with 4 turns "
                         "in every stage (29.92 and 24.50 with 4 flips, the setting before), 1.35x faster",
            "command": "python benchmarks/colour_photo.py",
        },
    },
}
REGISTRY["natural-color"]["admm"] = REGISTRY["natural-color"]["tasks"]["deblur"]

REGISTRY["cub-sr4-cpsdae"] = {
    "kind": "prox",
    "class": CPSDAEProx,
    "weights": "cub-sr4-cpsdae.safetensors",
    "summary": "the paper's Table 2 cPSDAE (residual output) for 4x super-resolution of colour bird images: "
               "G(v, y) conditioned on the low-resolution measurement",
    "image_shape": None,
    "data": "CUB-200 birds (227 x 227) but the last 240 in list_images order (the last 40 of them validate, the last "
            "200 are held out), random 96 x 96 crops with flips / rotations",
    "training_command": "python -m ppsolve.train cub-sr4-cpsdae --data DATA/cub200/images",
    "training_cpu_time": "about 12 minutes on one core of the 2-core development CPU (30 epochs of 100 steps, batch 16, "
                         "Adam 1e-3 with 300 warm-up steps -> 1e-4; half the inputs v are the bicubic upsampling of y "
                         "plus noise, train.BicubicOrNoise); 20 minutes of wall time while other jobs shared the cores",
    "tau": "ignored: the network has no noise-level input",
    "operator": {
        "validated_for": "x4 super-resolution of colour images: A = sr_operator((3, H, W), 4) (3 x 3 Gaussian, "
                         "sigma 1, per channel, every 4th pixel from 0, periodic), y = A x + N(0, 0.01^2)",
        "operator_agnostic": False,
        "note": "conditioned on y: only for this operator (factor 4, 3 channels); H, W divisible by 4",
    },
    "prox_options": {"clip": [0, 1]},
    "patch": {"size": 1024, "overlap": 120, "margin": 48},
    "admm": {
        "stages": [[0.3, 2]],
        "x0": "bicubic",
        "clip": [0, 1],
        "inverse": "fourier (or a LearnedInverse, Woodbury form)",
        "chosen_on": "the 40 validation birds (python benchmarks/sr_cub.py --split val --tune): PSNR per iteration "
                     "for beta in {0.003 ... 1}: every beta peaks at iteration 1 (26.85 dB, bicubic 24.97) and "
                     "then drifts down ~0.1 dB per iteration; 2 iterations (the first that uses the z-update) at "
                     "beta 0.3, 26.84 dB",
        "command": "python benchmarks/sr_cub.py --split val --tune",
    },
    "figures": {
        "held_out": "the last 200 CUB birds, central 128 x 128, noise seed 0 + i (python benchmarks/sr_cub.py)",
        "psnr_bicubic_aligned": 25.40,
        "psnr_cpsdae_admm_exact_inverse": 27.37,
        "psnr_cpsdae_admm_learned_inverse": 27.37,
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
    if "class" in entry:  # shown by name; load() uses the class itself
        entry["class"] = f"ppsolve.prox.{entry['class'].__name__}"
    weights = _weights(name)
    summary = weights.with_suffix(".json")
    training = json.loads(summary.read_text()) if summary.is_file() else None
    return {"name": name, **entry, "weights": str(weights), "training": training}


def load(name: str, *, device=None, A=None, allow_resize: bool = False, weights=None, backend: str = "torch"):
    """The ready object for ``name`` with ``.metadata`` (see the module docstring).

    ``kind="prox"``: a proximal operator (e.g. ``ppsolve.prox.DAEProx`` for ``"mnist-dae"``) on ``device``
    (default CPU). ``kind="inverse"``: a ``LearnedInverse`` for the operator ``A`` (required) at the entry's
    ``beta``; ``allow_resize`` as in ``LearnedInverse.load``. ``weights``: a model file to read instead of
    the shipped one (a retrained network of the same recipe). ``ValueError`` for an unknown name;
    ``FileNotFoundError`` naming the training command when the weights file is missing. ``backend``: how a
    network prior is evaluated, "torch" or "onnxruntime" (``ppsolve.prox.DenoiserProx``).
    """
    entry = _entry(name)
    path = _weights(name) if weights is None else Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"ppsolve.zoo: the weights of {name!r} are missing ({path}); train them with: "
                                f"{entry['training_command']}")
    metadata = info(name)
    if weights is not None:
        metadata["weights"], metadata["training"] = str(path), None
    if entry["kind"] == "prox":
        options = dict(entry.get("prox_options", {}), **({} if backend == "torch" else {"backend": backend}))
        obj = entry["class"].from_file(path, device=device, **options)
        metadata["training"] = obj.metadata
    elif entry["kind"] == "inverse":
        if A is None:
            raise ValueError(f"ppsolve.zoo.load({name!r}): a learned inverse is tied to its operator; pass A=")
        obj = LearnedInverse.load(path, A, entry["admm"]["beta"], allow_resize=allow_resize)
        metadata["training"] = obj.training
    else:
        raise ValueError(f"ppsolve.zoo: entry {name!r} has unknown kind {entry['kind']!r}")
    obj.metadata = metadata
    return obj
