r"""Colour photographs: the colour prior (``natural-color``) against the grey prior on each channel, side by side.

Data: CBSD68 central 256 x 256 crops (colour; PSNR over RGB), the images in CBSD68's (BSDS id) order, whose
first four (101085, 101087, 102061, 103070, the colour versions of BSD68 test001-004) are the only ones anything
was looked at on:

* ``deblur``: each whole image, each channel correlated with the shared 9 x 9 motion kernel
  (``scipy.ndimage.correlate(x, k, mode="reflect")``), the central 256 x 256 kept, noise N(0, 0.01^2) with
  ``default_rng(seed + i)``: unknown boundaries, ``restore_image(y, kernel=k, noise=0.01)``;
* ``sr4``: the crop made 64 x 64 by Pillow's ``Image.resize(..., BICUBIC)`` and stored as 8-bit:
  ``restore_image(y, sr=4, noise=1 / (255 sqrt 12))``; Pillow's bicubic upscaling is listed as well.

Both priors get the same stages (``photo.stages_for``, from the noise level alone). Reports PSNR (tuning
images, the rest, all) and CPU seconds per image. Writes <out>/colour_photo.json.

Run:   python benchmarks/colour_photo.py [--tasks deblur sr4] [--images 68]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import _timing  # noqa: F401 - thread settings before NumPy / torch start their pools
import numpy as np
from PIL import Image
from scipy.ndimage import correlate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import DATA, split_summary  # noqa: E402

from ppsolve import restore_image  # noqa: E402
from ppsolve.data import list_images, load_image  # noqa: E402
from ppsolve.experiments.natural import score  # noqa: E402

TUNE = 4
SIZE = 256
QUANTISATION = 1 / (255 * np.sqrt(12))
PRIORS = ("natural-gray", "natural-color")


def pillow_resize(image: np.ndarray, size) -> np.ndarray:
    """Pillow's bicubic resize of a channel-first colour image in [0, 1], through 8 bits."""
    a = np.moveaxis(np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8), 0, -1)
    return np.moveaxis(np.asarray(Image.fromarray(a).resize(size[::-1], Image.BICUBIC), dtype=np.float64), -1, 0) / 255


def data(paths, kernel, seed):
    """(sharp crops, blurred photographs, Pillow-downscaled 8-bit crops)."""
    xs, blurred, small = [], [], []
    for i, path in enumerate(paths):
        full = np.asarray(load_image(path, mode="RGB"), dtype=np.float64)
        h, w = full.shape[-2:]
        t, left = (h - SIZE) // 2, (w - SIZE) // 2
        crop = (slice(None), slice(t, t + SIZE), slice(left, left + SIZE))
        x = full[crop]
        b = np.stack([correlate(c, kernel, mode="reflect") for c in full])[crop]
        xs.append(x)
        blurred.append(b + 0.01 * np.random.default_rng(seed + i).standard_normal(b.shape))
        small.append(pillow_resize(x, (SIZE // 4, SIZE // 4)))
    return np.stack(xs), np.stack(blurred), np.stack(small)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--tasks", nargs="+", default=["deblur", "sr4"], choices=("deblur", "sr4"))
    p.add_argument("--images", type=int, default=68)
    p.add_argument("--first", type=int, default=0, help="start at this image (0-based)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "results" / "colour_photo")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    kernel = np.loadtxt(args.data / "kernels" / "motion9_30deg.txt")
    paths = list_images(args.data / "cbsd68")[args.first: args.first + args.images]
    x, blurred, small = data(paths, kernel, args.seed + args.first)
    per = {}
    for i, path in enumerate(paths):
        row = {}
        for task in args.tasks:
            if task == "sr4":
                row["sr4 pillow"] = {"psnr": score(pillow_resize(small[i], (SIZE, SIZE)), x[i]), "cpu_seconds": 0.0}
            for prior in PRIORS:
                t = time.process_time()
                if task == "deblur":
                    out = restore_image(blurred[i], kernel=kernel, noise=0.01, prior=prior)
                else:
                    out = restore_image(small[i], sr=4, noise=QUANTISATION, prior=prior)
                row[f"{task} {prior}"] = {"psnr": score(out.x, x[i]), "cpu_seconds": time.process_time() - t}
        per[path.name] = row
        print(path.name, {m: round(v["psnr"], 2) for m, v in row.items()}, flush=True)
    tune = max(0, TUNE - args.first)
    methods = list(next(iter(per.values())))
    report = {"problem": "CBSD68 central 256x256; deblur: motion9_30deg valid (reflect-correlated whole image), "
                         "noise 0.01; sr4: Pillow bicubic to 64x64, 8-bit",
              "images": list(per), "per_image": per,
              "psnr": {m: split_summary([per[n][m]["psnr"] for n in per], tune) for m in methods},
              "cpu_seconds_per_image": {m: float(np.mean([per[n][m]["cpu_seconds"] for n in per])) for m in methods}}
    (args.out / "colour_photo.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("psnr", "cpu_seconds_per_image")}, indent=1))
    print(f"wrote {args.out / 'colour_photo.json'}")


if __name__ == "__main__":
    main()
