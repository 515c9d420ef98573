r"""The grey prior as a plain denoiser on BSD68: how far it is from fully trained denoisers of its size.

The restoration targets of issue 14 (motion deblurring 29.8 dB, 4x SR +1.0 dB over bicubic) need a better
denoiser, and the standard measure of one is Gaussian denoising of the 68 whole BSD68 images at sigma 15, 25
and 50 (on the 0-255 scale), where the literature's figures are comparable: DnCNN (Zhang et al., TIP 2017,
0.56 M parameters) and FFDNet (TIP 2018, 0.49 M) are networks of ``natural-gray``'s size class, DRUNet (TPAMI
2021, 32.6 M) a large one. Those figures are quoted from the papers, not measured here; ``--bm3d`` measures
BM3D in the same run as a check that the protocol matches theirs (BM3D's published 31.07 / 28.57 / 25.62).

Protocol: the 68 BSD68 images whole (481 x 321 or 321 x 481), 8-bit / 255, ``y = x + sigma n`` with ``n``
from ``default_rng(seed + i)`` (image ``i`` in name order), not clipped; the network at the true sigma, one
evaluation (no self-ensemble); PSNR of the unclipped output, data range 1, mean over images.

Run:   python benchmarks/denoise_bsd68.py [--images 68] [--sigmas 15 25 50] [--weights FILE] [--bm3d]
Writes <out>/denoise_bsd68.json; prints one row per sigma.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import _timing  # noqa: F401 - thread settings before NumPy / torch start their pools
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import DATA  # noqa: E402

from ppsolve import zoo  # noqa: E402
from ppsolve.data import list_images, load_images  # noqa: E402
from ppsolve.metrics import psnr  # noqa: E402

#: BSD68 mean PSNR (dB) at sigma 15, 25, 50 as published (not measured here)
PUBLISHED = {"BM3D": (31.07, 28.57, 25.62), "DnCNN-S": (31.73, 29.23, 26.23), "FFDNet": (31.63, 29.19, 26.29),
             "DRUNet": (31.91, 29.48, 26.59)}
PUBLISHED_SIGMAS = (15, 25, 50)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--images", type=int, default=68)
    p.add_argument("--sigmas", type=float, nargs="+", default=[15, 25, 50], help="on the 0-255 scale")
    p.add_argument("--weights", default=None, help="a retrained model file for natural-gray")
    p.add_argument("--bm3d", action="store_true", help="BM3D at the true sigma too (the bm3d package)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=ROOT / "results" / "denoise_bsd68")
    args = p.parse_args(argv)
    paths = list_images(args.data / "bsd68")[:args.images]
    images = [load_images([path])[0].astype(np.float64) for path in paths]
    network = zoo.load("natural-gray", weights=args.weights).model
    if args.bm3d:
        from ppsolve.prox.plug_and_play import bm3d_denoiser
        bm3d = bm3d_denoiser()
    rows = []
    for sigma in args.sigmas:
        scores, seconds, bm3d_scores = [], 0.0, []
        for i, x in enumerate(images):
            y = x + sigma / 255 * np.random.default_rng(args.seed + i).standard_normal(x.shape)
            start = time.process_time()
            with torch.no_grad():
                estimate = network(torch.from_numpy(y).float(), sigma / 255).double().numpy()
            seconds += time.process_time() - start
            scores.append(float(psnr(estimate, x)))
            if args.bm3d:
                bm3d_scores.append(float(psnr(np.asarray(bm3d(y, sigma / 255)), x)))
        row = {"sigma": sigma, "natural_gray": float(np.mean(scores)), "cpu_seconds_per_image": seconds / len(images)}
        if args.bm3d:
            row["bm3d"] = float(np.mean(bm3d_scores))
        if args.images == 68 and sigma in PUBLISHED_SIGMAS:
            k = PUBLISHED_SIGMAS.index(sigma)
            row["published"] = {name: values[k] for name, values in PUBLISHED.items()}
        rows.append(row)
        print(row, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"images": len(images), "seed": args.seed, "weights": args.weights, "rows": rows}
    (args.out / "denoise_bsd68.json").write_text(json.dumps(report, indent=1))
    print(f"\n{'sigma':>6s} {'natural-gray':>13s}" + "".join(f" {n:>8s}" for n in PUBLISHED) + "  (published)")
    for r in rows:
        quoted = r.get("published", {})
        print(f"{r['sigma']:6g} {r['natural_gray']:13.2f}" + "".join(f" {quoted.get(n, float('nan')):8.2f}"
                                                                     for n in PUBLISHED)
              + (f"  BM3D measured {r['bm3d']:.2f}" if "bm3d" in r else ""))
    print(f"wrote {args.out / 'denoise_bsd68.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
