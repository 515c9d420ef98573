r"""Super-resolution of real low-resolution images: Pillow-downscaled, 8-bit, against Pillow's own upscaling.

Data (the issue's): BSD68 central 256 x 256 crops (grey) or CBSD68 ones (colour, ``--colour``), made small by
Pillow's ``Image.resize(..., BICUBIC)`` by the factor (2, 3 or 4; 255 = 85 x 3 for 3x: the crop is 255 x 255
there) and stored as 8-bit (no noise beyond that quantisation). Methods, in one run:

* ``pillow``: Pillow's bicubic upscaling of the small image (the baseline);
* ``ours``: ``ppsolve.photo.restore_image(y, sr=f)``: the model is Pillow's own downscaler (``operators.Resize``),
  the prior ``natural-gray`` (``natural-color`` for colour when the zoo has it, ``--grey-prior`` forces the grey
  prior on each channel), the stages of ``photo.stages_for("sr", noise, factor)``; ``--noise``: the noise level
  given to it (default: 8-bit quantisation, 1 / (255 sqrt 12); ``auto``: estimated, to measure what that costs).

``--tune``: score candidate stage rules on the four tuning images only (test001-004, or their colour versions
101085, 101087, 102061, 103070), best first. Reports PSNR (tuning images, the rest, all) and CPU seconds per
image. Writes <out>/sr_photo_<grey|colour>_x<f>.json.

Run:   python benchmarks/sr_photo.py --factor 4 [--colour] [--images N] [--tune]
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import _timing  # noqa: F401 - thread settings before NumPy / torch start their pools
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import DATA, split_summary  # noqa: E402

from ppsolve import restore  # noqa: E402
from ppsolve.data import list_images, load_image  # noqa: E402
from ppsolve.experiments.natural import score  # noqa: E402
from ppsolve.operators import Resize  # noqa: E402
from ppsolve.photo import forward_model, restore_image, stages_for  # noqa: E402
from ppsolve.staged import sigma_schedule  # noqa: E402

TUNE = 4
#: CBSD68 is ordered by BSDS id; its first four are the colour versions of test001-004
QUANTISATION = 1 / (255 * np.sqrt(12))


def crops(paths, size, colour):
    out = []
    for path in paths:
        im = np.asarray(load_image(path, mode="RGB" if colour else "L"), dtype=np.float64)
        h, w = im.shape[-2:]
        t, left = (h - size) // 2, (w - size) // 2
        out.append(im[..., t:t + size, left:left + size])
    return np.stack(out)


def _pillow(image: np.ndarray, size) -> np.ndarray:
    """Pillow's bicubic resize of an image in [0, 1] (grey or channel-first colour) stored as 8 bits."""
    a = np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)
    a = np.moveaxis(a, 0, -1) if a.ndim == 3 else a
    out = np.asarray(Image.fromarray(a).resize(size[::-1], Image.BICUBIC), dtype=np.float64) / 255
    return np.moveaxis(out, -1, 0) if out.ndim == 3 else out


def candidates(factor: int):
    """The rules scored by ``--tune``: at 4x three schedules (6 stages of 2 iterations from 0.3, 12 of 2 from
    0.2, 24 of 1 from 0.2: DPIR's count) by three lams; at 2x and 3x the first two at lam 0.1."""
    schedules = [(0.3, 6, 2), (0.2, 12, 2)] + ([(0.2, 24, 1)] if factor == 4 else [])
    lams = (0.1, 0.2, 0.4) if factor == 4 else (0.1,)
    return [dict(start=s, steps=n, lam=lam, iterations=it) for (s, n, it), lam in itertools.product(schedules, lams)]


def run_rule(y, factor, rule, noise):
    model = forward_model(y.shape, sr=factor)
    noise = max(noise, 0.002)
    stages = sigma_schedule(max(rule["start"], noise), noise, rule["steps"], rule["lam"] * noise**2,
                            rule["iterations"])
    x0 = np.clip(Resize(model.operator.out_shape, model.operator.in_shape[-2:]).apply(y), 0, 1)
    return restore(y, model.operator, prior="natural-gray", stages=stages, x0=x0, clip=(0, 1)).x


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--factor", type=int, choices=(2, 3, 4), default=4)
    p.add_argument("--colour", action="store_true", help="CBSD68 instead of BSD68")
    p.add_argument("--grey-prior", action="store_true", help="colour images: the grey prior on each channel")
    p.add_argument("--images", type=int, default=68)
    p.add_argument("--noise", default=None, help="the noise level given to ours (default: quantisation; auto)")
    p.add_argument("--ensemble", type=int, choices=(1, 2, 4, 8), default=None,
                   help="the prior's self-ensemble in every stage (default: the prior's zoo setting)")
    p.add_argument("--tune", action="store_true", help="score the candidate stage rules on the tuning images")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "sr_photo")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    f = args.factor
    size = 255 if f == 3 else 256
    folder = "cbsd68" if args.colour else "bsd68"
    paths = list_images(args.data / folder)[: TUNE if args.tune else args.images]
    x = crops(paths, size, args.colour)
    low = (size // f, size // f)
    y = np.stack([_pillow(xi, low) for xi in x])
    noise = QUANTISATION if args.noise is None else ("auto" if args.noise == "auto" else float(args.noise))
    if args.tune:
        rows = []
        base = float(np.mean([score(_pillow(y[i], (size, size)), x[i]) for i in range(len(x))]))
        for rule in candidates(f):
            t = time.process_time()
            value = float(np.mean([score(run_rule(y[i], f, rule, QUANTISATION), x[i]) for i in range(len(x))]))
            rows.append({**rule, "psnr": value, "gain_over_pillow": value - base,
                         "cpu_seconds": (time.process_time() - t) / len(x)})
            print(rows[-1], flush=True)
        rows.sort(key=lambda r: -r["psnr"])
        name = f"sr_photo_tune_{'colour' if args.colour else 'grey'}_x{f}.json"
        (args.out / name).write_text(json.dumps({"pillow": base, "candidates": rows}, indent=1))
        print("best:", rows[0])
        return
    per = {}
    for i, path in enumerate(paths):
        row = {"pillow": (score(_pillow(y[i], (size, size)), x[i]), 0.0)}
        t = time.process_time()
        result = restore_image(y[i], sr=f, noise=noise, prior="natural-gray" if args.grey_prior else None,
                               ensemble=args.ensemble)
        row["ours"] = (score(result.x, x[i]), time.process_time() - t)
        per[path.name] = row
        print(path.name, {k: (round(v[0], 2), round(v[1], 1)) for k, v in row.items()}, f"prior {result.prior}",
              f"noise {result.noise:.4f}", flush=True)
    report = {"problem": f"{folder} central {size}x{size}, Pillow bicubic x{f} downscaled, 8-bit",
              "stages": stages_for("sr", QUANTISATION if noise == "auto" else noise, f), "noise": str(noise),
              "prior": result.prior, "ensemble": args.ensemble, "images": list(per),
              "psnr": {m: split_summary([per[n][m][0] for n in per], TUNE) for m in ("pillow", "ours")},
              "cpu_seconds_per_image": float(np.mean([per[n]["ours"][1] for n in per]))}
    report["gain_over_pillow"] = {k: (report["psnr"]["ours"][k] - report["psnr"]["pillow"][k])
                                  if report["psnr"]["ours"][k] is not None else None for k in ("tuning", "rest", "all")}
    tag = f"{'colour' if args.colour else 'grey'}{'_greyprior' if args.grey_prior else ''}_x{f}"
    (args.out / f"sr_photo_{tag}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ("psnr", "gain_over_pillow", "cpu_seconds_per_image", "prior")}, indent=1))


if __name__ == "__main__":
    main()
