r"""Motion deblurring with the learned natural-image prior
======================================================

Motion deblurring of one whole natural image with the zoo's natural-image prior (paper section 4.3). ::

    python examples/deblur_motion.py [--image PATH] [--inverse fourier|learned]

The image (default: BSD68 test005, the whole 481 x 321 picture) is blurred with the 9 x 9 motion kernel
``kernels/motion9_30deg.txt`` (periodic) plus N(0, 0.01^2) noise, then restored by

* the Wiener filter at its best regularisation for this image (an oracle: it uses the ground truth),
* TV-ADMM (lam = 0.0015, chosen on BSD68 test001-004),
* ``ppsolve.restore(y, A, prior="natural-gray")``: staged ADMM with the zoo's deblurring settings. The image
  is within the prior's tile budget (1024 x 1024 pixels), so the prior runs on it whole (beyond the budget it
  would run tile by tile, ``ppsolve.patches.Patchwise``, section 3.4, with the same result). The z-update is the exact ``FourierInverse`` or, with ``--inverse learned``,
  learned inverses (``LearnedInverse``) trained from noise (direct form, on 128 x 128, kernels of 31 x 31 or,
  below beta = 0.01, 63 x 63: ``ppsolve.experiments.natural.deblur_inverse_options``; one per stage's beta,
  cached in the output folder).

Writes results/examples/deblur_motion.{png,json}.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import DATA, LearnedInverses, save_grid

from ppsolve import restore
from ppsolve.baselines import tv_admm, wiener_best
from ppsolve.data import load_image
from ppsolve.experiments.natural import (
    deblur_inverse_options,
    measure,
    score,
)
from ppsolve.operators import Convolution


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--image", type=Path, default=DATA / "bsd68" / "test005.png")
    p.add_argument("--inverse", choices=("fourier", "learned"), default="fourier")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "examples")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)

    x = load_image(args.image).astype(np.float64)
    kernel = np.loadtxt(DATA / "kernels" / "motion9_30deg.txt")
    A = Convolution(kernel, x.shape)
    y = measure(A, x[None], 0.01, seed=4)[0]

    xw, alpha, _ = wiener_best(y, A, x)
    xt = tv_admm(y, A, 0.0015, iters=60).x
    inverse = "auto"
    if args.inverse == "learned":
        inverse = LearnedInverses(Convolution(kernel, (128, 128)), args.out, "motion9",
                                  options_for_beta=deblur_inverse_options)
    t = time.process_time()
    xl = restore(y, A, prior="natural-gray", inverse=inverse).x
    seconds = time.process_time() - t
    report = {"image": str(args.image), "shape": list(x.shape), "blurred": score(y, x), "wiener_best": score(xw, x),
              "wiener_alpha": alpha, "tv_admm": score(xt, x), f"natural_gray_{args.inverse}": score(xl, x),
              "restore_cpu_seconds": seconds}
    print(json.dumps(report, indent=1))
    (args.out / "deblur_motion.json").write_text(json.dumps(report, indent=1))
    row = [(x, "truth"), (y, f"blurred {report['blurred']:.2f} dB"), (xw, f"{report['wiener_best']:.2f} dB"),
           (xt, f"{report['tv_admm']:.2f} dB"), (xl, f"{score(xl, x):.2f} dB")]
    save_grid(args.out / "deblur_motion.png", [row],
              ["truth", "y", "Wiener-best (oracle)", "TV-ADMM", f"natural-gray ({args.inverse})"])
    print(f"wrote {args.out / 'deblur_motion.png'}")


if __name__ == "__main__":
    main()
