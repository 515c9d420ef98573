r"""Restore a blurred colour photograph
===================================

Deblur a colour photograph whose scene goes on past its frame, from files to files. ::

    python examples/restore_photo.py [--out results/photo]

The sharp picture is ``docs/images/astronaut.png`` (a 256 x 256 crop of NASA's portrait of Eileen Collins, in
the public domain; it ships with scikit-image as ``astronaut.png``). Its blurred photograph is made as a camera
would: each channel correlated with the 9 x 9 motion kernel ``motion_kernel(9, 30)`` (``kernels/motion9_30deg.txt``)
over the whole picture, the central 240 x 240 kept (the scene past that frame is not in the file), noise
N(0, 0.01^2) with seed 0, stored as 8-bit PNG. Then, as a user would, from the files only:

* ``ppsolve.imagefile.read_image`` reads the blurred PNG;
* ``ppsolve.restore_image(pixels, kernel=motion_kernel(9, 30))`` restores it: unknown boundaries, noise estimated,
  the colour prior;
* ``write_image`` stores the result with the input's bit depth, and a figure puts blurred, restored and sharp side
  by side with their PSNR.

Writes <out>/blurred.png, sharp.png (the central 240 x 240 of the sharp picture), restored.png, compare.png and
report.json. ``docs/images/astronaut-blurred.png`` and ``astronaut-compare.png`` (the README's) are that
blurred.png and compare.png.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import correlate

from ppsolve import restore_image
from ppsolve.imagefile import read_image, write_image
from ppsolve.metrics import psnr
from ppsolve.operators import motion_kernel

ROOT = Path(__file__).resolve().parents[1]
SHARP = ROOT / "docs" / "images" / "astronaut.png"
FRAME = 240


def blurred_photograph(sharp: np.ndarray, kernel: np.ndarray, seed: int = 0) -> np.ndarray:
    """The central FRAME x FRAME of ``sharp`` (channel-first) blurred by ``kernel``, plus noise 0.01, 8-bit."""
    blurred = np.stack([correlate(c, kernel, mode="reflect") for c in sharp])
    top = (sharp.shape[-1] - FRAME) // 2
    frame = blurred[:, top:top + FRAME, top:top + FRAME]
    noisy = frame + 0.01 * np.random.default_rng(seed).standard_normal(frame.shape)
    return np.rint(np.clip(noisy, 0, 1) * 255) / 255


def side_by_side(images, labels) -> Image.Image:
    """The images (channel-first, [0, 1]) in a row, each with its label above it."""
    tiles = [Image.fromarray(np.rint(np.moveaxis(np.clip(a, 0, 1), 0, -1) * 255).astype(np.uint8)) for a in images]
    w, h = tiles[0].size
    canvas = Image.new("RGB", (len(tiles) * (w + 8) - 8, h + 18), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (tile, label) in enumerate(zip(tiles, labels)):
        canvas.paste(tile, (i * (w + 8), 18))
        draw.text((i * (w + 8) + 2, 3), label, fill="black")
    return canvas


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "results" / "photo")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    kernel = motion_kernel(9, 30)
    sharp = read_image(SHARP).pixels
    top = (sharp.shape[-1] - FRAME) // 2
    write_image(args.out / "sharp.png", sharp[:, top:top + FRAME, top:top + FRAME])
    write_image(args.out / "blurred.png", blurred_photograph(sharp, kernel))

    image = read_image(args.out / "blurred.png")  # from here on, only what a user has: the file and the kernel
    t = time.process_time()
    restored = restore_image(image.pixels, kernel=kernel)
    seconds = time.process_time() - t
    write_image(args.out / "restored.png", restored.x, like=image)

    reference = read_image(args.out / "sharp.png").pixels
    scores = {"blurred": psnr(image.pixels, reference, 1.0), "restored": psnr(restored.x, reference, 1.0)}
    side_by_side([image.pixels, restored.x, reference],
                 [f"blurred {scores['blurred']:.2f} dB", f"restored {scores['restored']:.2f} dB", "sharp"]
                 ).save(args.out / "compare.png")
    report = {"psnr": scores, "noise_estimated": restored.noise, "prior": restored.prior,
              "cpu_seconds": seconds}
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
