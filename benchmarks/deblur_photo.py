r"""Deblurring photographs whose scene goes on past the frame: boundary models side by side, one run.

Data (the issue's): each BSD68 image, whole, correlated with the shared 9 x 9 motion kernel
(``scipy.ndimage.correlate(x, k, mode="reflect")``), its central 256 x 256 kept, noise N(0, 0.01^2) with
``default_rng(seed + i)``; the reference is the central 256 x 256 of the sharp image. The same prior
(``natural-gray``) and the same stages for every method (``ppsolve.photo.stages_for("deblur", 0.01)``, the
zoo's: nothing here is tuned per method), starting at ``y``:

* ``periodic problem``: the crops blurred *periodically* (the problem of ``benchmarks/deblur_bsd68.py``), the
  periodic model and its exact Fourier inverse: the target the photo path is measured against;
* ``periodic``: the photo data under the periodic model (exact Fourier inverse): wrong at the border;
* ``reflect``: the photo data under a reflective boundary (``Convolution(..., "reflect")``), CG;
* ``valid-cg``: the valid model (``operators.valid_convolution``: no boundary assumption), plain CG;
* ``valid-pcg``: the valid model, CG preconditioned by the periodic closed form restricted to the frame (the
  default of ``ppsolve restore``);
* ``valid-learned-pcg``: the valid model, CG preconditioned by the *learned* inverse of the periodic blur
  restricted to the frame (``periodic_preconditioner(A, beta, periodic_inverse=...)``): the direct-form
  ``LearnedInverse`` of ``benchmarks/deblur_bsd68.py`` (trained from noise on 128 x 128, one per stage's beta,
  loaded for the extended frame; the same cached files, trained first if missing). Not in the default methods:
  its 63 x 63 convolutions cost far more per CG iteration than the closed form on a CPU;
* ``liu-jia``: Liu and Jia's padding (ICIP 2008) as deepinv uses it for real-world deblurring: the blurred
  image is padded to a smoothly periodic one (here: each padding band filled by the linear blend across the
  wrap of the two opposite edges, then blurred by the kernel), deblurred periodically, cropped back.

Reports PSNR (test001-004, where the CG tolerance was chosen; test005-068; all), CPU seconds per image and
inner iterations per image. Writes <out>/deblur_photo.json.

Run:   python benchmarks/deblur_photo.py [--images N] [--methods ...] [--tol 1e-4]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import _timing  # noqa: F401 - thread settings before NumPy / torch start their pools
import numpy as np
from scipy.ndimage import correlate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import DATA, LearnedInverses, split_summary  # noqa: E402

from ppsolve import restore  # noqa: E402
from ppsolve.data import list_images, load_image  # noqa: E402
from ppsolve.experiments.natural import deblur_inverse_options, score  # noqa: E402
from ppsolve.inverses import ConjugateGradient, make_inverse  # noqa: E402
from ppsolve.inverses.fourier import periodic_preconditioner  # noqa: E402
from ppsolve.operators import Convolution, valid_convolution  # noqa: E402
from ppsolve.photo import stages_for  # noqa: E402

TUNE = 4
METHODS = ("periodic problem", "periodic", "reflect", "valid-cg", "valid-pcg", "liu-jia", "valid-learned-pcg")
DEFAULT_METHODS = METHODS[:-1]


def photo_data(paths, kernel, seed, size=256):
    """(x, y_photo, y_periodic): the sharp central crops, the photo observations, the periodic ones."""
    xs, ys, yp = [], [], []
    periodic = Convolution(kernel, (size, size))
    for i, path in enumerate(paths):
        full = np.asarray(load_image(path, mode="L"), dtype=np.float64)
        blurred = correlate(full, kernel, mode="reflect")
        t, left = (full.shape[0] - size) // 2, (full.shape[1] - size) // 2
        crop = (slice(t, t + size), slice(left, left + size))
        noise = 0.01 * np.random.default_rng(seed + i).standard_normal((size, size))
        xs.append(full[crop])
        ys.append(blurred[crop] + noise)
        yp.append(periodic.apply(full[crop]) + noise)
    return np.stack(xs), np.stack(ys), np.stack(yp)


def liu_jia_pad(y, kernel):
    """``y`` padded by the kernel's reach (and to an even size) into a smoothly periodic image: each band past
    an edge is the linear blend, across the wrap, of the two opposite edges, then the pad is blurred by the
    kernel (the frame itself is kept as it is)."""
    p = max(kernel.shape)
    h, w = y.shape
    out = np.zeros((h + 2 * p, w + 2 * p))
    out[p:p + h, p:p + w] = y
    t = (np.arange(1, 2 * p + 1) / (2 * p + 1))[:, None]
    band = (1 - t) * y[-1][None, :] + t * y[0][None, :]  # from the last row, across the wrap, to the first
    out[p + h:, p:p + w], out[:p, p:p + w] = band[:p], band[p:]
    t = t.T
    cols = (1 - t) * out[:, p + w - 1][:, None] + t * out[:, p][:, None]
    out[:, p + w:], out[:, :p] = cols[:, :p], cols[:, p:]
    smooth = Convolution(kernel, out.shape).apply(out)
    mask = np.ones(out.shape, bool)
    mask[p:p + h, p:p + w] = False
    out[mask] = smooth[mask]
    return out, p


def learned_pcg(learned: LearnedInverses, tol: float):
    """``(A, beta) -> CG`` on the valid model ``A = R P``, preconditioned by ``R C R^T`` with ``C`` the learned
    inverse of the periodic ``P`` (direct form: for a convolution it also approximates ``(beta + P P^T)^{-1}``).
    The shift that makes ``C`` definite is estimated once per beta on the training grid."""
    shifts = {}

    def inverse(A, beta):
        periodic = A.periodic_factor()[1]
        if beta not in shifts:
            shifts[beta] = learned(learned.small, beta).preconditioner().shift
        C = learned(periodic, beta).preconditioner(shift=shifts[beta])
        return ConjugateGradient(A, beta, tol=tol, preconditioner=periodic_preconditioner(A, beta, C))

    return inverse


def run(method, y, x, kernel, stages, tol, learned=None, ensemble=None):
    if method in ("periodic problem", "periodic"):
        A = Convolution(kernel, y.shape)
        result = restore(y, A, prior="natural-gray", stages=stages, x0="y", clip=(0, 1), ensemble=ensemble)
        return result.x, result
    if method == "reflect":
        A = Convolution(kernel, y.shape, boundary="reflect")
        result = restore(y, A, prior="natural-gray", stages=stages, x0="y", clip=(0, 1), ensemble=ensemble,
                         inverse=lambda A, beta: ConjugateGradient(A, beta, tol=tol))
        return result.x, result
    if method == "liu-jia":
        padded, p = liu_jia_pad(y, kernel)
        A = Convolution(kernel, padded.shape)
        result = restore(padded, A, prior="natural-gray", stages=stages, x0="y", clip=(0, 1), ensemble=ensemble)
        return result.x[p:p + y.shape[0], p:p + y.shape[1]], result
    A = valid_convolution(kernel, y.shape)
    pad = [(A.frame.start[0], A.in_shape[0] - y.shape[0] - A.frame.start[0]),
           (A.frame.start[1], A.in_shape[1] - y.shape[1] - A.frame.start[1])]
    x0 = np.pad(y, pad, mode="reflect")
    if method == "valid-cg":
        inverse = lambda A, beta: ConjugateGradient(A, beta, tol=tol)  # noqa: E731
    elif method == "valid-learned-pcg":
        inverse = learned_pcg(learned, tol)
    else:
        inverse = lambda A, beta: make_inverse(A, beta, "auto", tol=tol)  # noqa: E731
    result = restore(y, A, prior="natural-gray", stages=stages, x0=x0, clip=(0, 1), inverse=inverse, ensemble=ensemble)
    return A.frame.apply(result.x), result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--images", type=int, default=68)
    p.add_argument("--first", type=int, default=0, help="start at this image (0-based)")
    p.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), choices=METHODS)
    p.add_argument("--learned", type=Path, default=ROOT / "results" / "deblur_bsd68",
                   help="valid-learned-pcg: the folder of deblur_bsd68.py's learned inverses")
    p.add_argument("--tol", type=float, default=1e-4, help="CG tolerance (chosen on test001-004)")
    p.add_argument("--ensemble", type=int, choices=(1, 2, 4, 8), default=None,
                   help="the prior's self-ensemble in every stage (default: the zoo's rule by noise level)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "results" / "deblur_photo")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    kernel = np.loadtxt(args.data / "kernels" / "motion9_30deg.txt")
    paths = list_images(args.data / "bsd68")[args.first: args.first + args.images]
    x, y, yp = photo_data(paths, kernel, args.seed + args.first)
    stages = stages_for("deblur", 0.01)
    learned = LearnedInverses(Convolution(kernel, (128, 128)), args.learned, "motion9",
                              options_for_beta=deblur_inverse_options)
    per = {}
    for i, path in enumerate(paths):
        row = {}
        for method in args.methods:
            t = time.process_time()
            est, result = run(method, yp[i] if method == "periodic problem" else y[i], x[i], kernel, stages, args.tol,
                              learned, args.ensemble)
            row[method] = {"psnr": score(est, x[i]), "cpu_seconds": time.process_time() - t,
                           "inner_iterations": int(sum(result.history.inverse_iterations))}
        per[path.name] = row
        print(path.name, {m: (round(v["psnr"], 2), round(v["cpu_seconds"], 1), v["inner_iterations"])
                          for m, v in row.items()}, flush=True)
    tune = max(0, TUNE - args.first)
    report = {"problem": "BSD68 whole images correlated with motion9_30deg (reflect), central 256x256, noise 0.01",
              "stages": stages, "ensemble": args.ensemble, "tol": args.tol, "images": list(per), "per_image": per,
              "psnr": {m: split_summary([per[n][m]["psnr"] for n in per], tune) for m in args.methods},
              "cpu_seconds_per_image": {m: float(np.mean([per[n][m]["cpu_seconds"] for n in per])) for m in args.methods},
              "inner_iterations_per_image": {m: float(np.mean([per[n][m]["inner_iterations"] for n in per]))
                                             for m in args.methods},
              "blurred_psnr": float(np.mean([score(y[i], x[i]) for i in range(len(x))]))}
    (args.out / "deblur_photo.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: v for k, v in report.items() if k in ("psnr", "cpu_seconds_per_image",
                                                               "inner_iterations_per_image", "blurred_psnr")}, indent=1))
    print(f"wrote {args.out / 'deblur_photo.json'}")


if __name__ == "__main__":
    main()
