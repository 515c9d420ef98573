r"""What the photo path estimates, and what the estimates cost: the noise level (``--noise auto``), the blur
kernel from calibration pairs (``ppsolve kernel``), and the stage rule across kernels and noise levels.

Data: the issue's photographs: each BSD68 image, whole, correlated with a kernel (``scipy.ndimage.correlate(x, k,
mode="reflect")``), its central 256 x 256 kept, noise N(0, sigma^2) with ``default_rng(seed + i)``; the
reference is the central 256 x 256 of the sharp image. Restoration is ``ppsolve.restore_image`` (unknown
boundaries, the zoo's ``natural-gray``, stages from the noise level alone).

* ``noise``: the ratio estimate / truth of ``ppsolve.noise.estimate_noise`` (and of its two estimators) on the
  blurred photographs at sigma 0.005, 0.01, 0.02, 0.05 (all images), and on the sharp crops with the same
  noise (denoising); the PSNR cost of ``noise="auto"`` against the true sigma, deblurring (``--restore N``
  images from ``--first``).
* ``kernel``: each image's pair (sharp crop, blurred photograph), both stored as 8-bit, noise 0.01: the
  relative error ``||k_est - k|| / ||k||`` of ``estimate_kernel(pair, 9)`` (all images), and the PSNR of
  restoring with ``k_est`` against the true kernel (``--restore N`` images).
* ``rules``: the deblurring rule (``photo.STAGE_RULES["deblur"]``) against the same rule with ``lam`` x 1/4 and
  x 4, for several kernels (motion 9 at 30 degrees, the benchmarks'; motion 15 at 120; Gaussian sigma 1.6;
  a 7 x 7 box) and noise levels 0.005, 0.01, 0.02, 0.05, on ``--restore N`` images: that one rule, chosen at
  0.01 on the motion kernel and test001-004, holds elsewhere.

Writes <out>/photo_estimates.json.   Run:   python benchmarks/photo_estimates.py [--parts noise kernel rules]
                                            [--restore 8] [--first 4]
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

from _common import DATA  # noqa: E402

from ppsolve import photo, restore_image  # noqa: E402
from ppsolve.data import list_images, load_image  # noqa: E402
from ppsolve.experiments.natural import score  # noqa: E402
from ppsolve.kernels_from_pairs import estimate_kernel  # noqa: E402
from ppsolve.noise import estimate_noise, mad_sigma, pca_sigma  # noqa: E402
from ppsolve.operators import gaussian_kernel, motion_kernel  # noqa: E402

SIZE = 256
LEVELS = (0.005, 0.01, 0.02, 0.05)


def kernels(data: Path) -> dict:
    return {"motion9_30": np.loadtxt(data / "kernels" / "motion9_30deg.txt"), "motion15_120": motion_kernel(15, 120),
            "gaussian1.6": gaussian_kernel(9, 1.6), "box7": np.full((7, 7), 1 / 49)}


def photographs(images, kernel, sigma, seed):
    """(sharp crops, blurred photographs) as the module docstring says."""
    xs, ys = [], []
    for i, full in enumerate(images):
        t, left = (full.shape[0] - SIZE) // 2, (full.shape[1] - SIZE) // 2
        crop = (slice(t, t + SIZE), slice(left, left + SIZE))
        xs.append(full[crop])
        noise = sigma * np.random.default_rng(seed + i).standard_normal((SIZE, SIZE))
        ys.append(correlate(full, kernel, mode="reflect")[crop] + noise)
    return np.stack(xs), np.stack(ys)


def eight_bit(a):
    return np.rint(np.clip(a, 0, 1) * 255) / 255


def ratios(images, sigma):
    est = {name: [f(im) / sigma for im in images] for name, f in
           (("estimate_noise", estimate_noise), ("mad_sigma", mad_sigma), ("pca_sigma", pca_sigma))}
    return {name: {"mean": float(np.mean(v)), "min": float(np.min(v)), "max": float(np.max(v))}
            for name, v in est.items()}


def restored_psnr(y, x, kernel, noise):
    t = time.process_time()
    out = restore_image(y, kernel=kernel, noise=noise)
    return score(out.x, x), time.process_time() - t, out.noise


def part_noise(full, data, args):
    k = kernels(data)["motion9_30"]
    report = {"blurred": {}, "sharp": {}}
    for sigma in LEVELS:
        x, y = photographs(full, k, sigma, args.seed)
        report["blurred"][f"{sigma:g}"] = ratios(y, sigma)
        sharp = x + sigma * np.random.default_rng(args.seed).standard_normal(x.shape)
        report["sharp"][f"{sigma:g}"] = ratios(sharp, sigma)
        print("noise", sigma, "blurred", report["blurred"][f"{sigma:g}"]["estimate_noise"],
              "sharp", report["sharp"][f"{sigma:g}"]["estimate_noise"], flush=True)
    report["psnr_cost_of_auto"] = {}
    for sigma in (0.01, 0.02):
        x, y = photographs(full, k, sigma, args.seed)
        sel = range(args.first, min(args.first + args.restore, len(x)))
        given = [restored_psnr(y[i], x[i], k, sigma) for i in sel]
        auto = [restored_psnr(y[i], x[i], k, "auto") for i in sel]
        report["psnr_cost_of_auto"][f"{sigma:g}"] = {
            "images": len(sel), "given": float(np.mean([g[0] for g in given])),
            "auto": float(np.mean([a[0] for a in auto])),
            "estimates": [a[2] for a in auto]}
        print("auto cost", sigma, report["psnr_cost_of_auto"][f"{sigma:g}"], flush=True)
    return report


def part_kernel(full, data, args):
    k = kernels(data)["motion9_30"]
    x, y = photographs(full, k, 0.01, args.seed)
    x8, y8 = eight_bit(x), eight_bit(y)
    estimates = [estimate_kernel([(x8[i], y8[i])], k.shape[0]) for i in range(len(x))]
    errors = [float(np.linalg.norm(e - k) / np.linalg.norm(k)) for e in estimates]
    sel = range(args.first, min(args.first + args.restore, len(x)))
    true = [restored_psnr(y8[i], x[i], k, 0.01)[0] for i in sel]
    est = [restored_psnr(y8[i], x[i], estimates[i], 0.01)[0] for i in sel]
    report = {"relative_error": {"mean": float(np.mean(errors)), "max": float(np.max(errors)), "n": len(errors)},
              "restore": {"images": len(sel), "true_kernel": float(np.mean(true)),
                          "estimated_kernel": float(np.mean(est)), "loss": float(np.mean(true) - np.mean(est))}}
    print("kernel", report, flush=True)
    return report


def part_rules(full, data, args):
    rule = photo.STAGE_RULES["deblur"]
    report = {}
    sel = slice(args.first, args.first + args.restore)
    for name, k in kernels(data).items():
        for sigma in LEVELS:
            x, y = photographs(full[sel], k, sigma, args.seed + args.first)
            row = {"blurred": float(np.mean([score(y[i], x[i]) for i in range(len(x))]))}
            for scale in (0.25, 1.0, 4.0):
                photo.STAGE_RULES["deblur"] = {**rule, "lam": rule["lam"] * scale}
                try:
                    row[f"lam x{scale:g}"] = float(np.mean([restored_psnr(y[i], x[i], k, sigma)[0]
                                                            for i in range(len(x))]))
                finally:
                    photo.STAGE_RULES["deblur"] = rule
            report[f"{name} sigma {sigma:g}"] = row
            print("rules", name, sigma, {key: round(v, 2) for key, v in row.items()}, flush=True)
    return report


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--parts", nargs="+", default=["noise", "kernel", "rules"], choices=("noise", "kernel", "rules"))
    p.add_argument("--restore", type=int, default=8, help="images restored per setting")
    p.add_argument("--first", type=int, default=4, help="the first restored image (0-based; 4: past the tuning set)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "results" / "photo_estimates")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    full = [np.asarray(load_image(path, mode="L"), dtype=np.float64) for path in list_images(args.data / "bsd68")]
    path = args.out / "photo_estimates.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    for part in args.parts:
        report[part] = {"noise": part_noise, "kernel": part_kernel, "rules": part_rules}[part](full, args.data, args)
        path.write_text(json.dumps(report, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
