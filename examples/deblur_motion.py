r"""Motion deblurring of one natural image with the learned natural-image prior in ADMM (paper section 4.3).

    python examples/deblur_motion.py [--image PATH] [--prior PATH] [--inverse fourier|learned]

The image (default: BSD68 test005, central 256 x 256 crop) is blurred with the 9 x 9 motion kernel
``shared/data/kernels/motion9_30deg.txt`` (periodic) plus N(0, 0.01^2) noise, then restored by

* the Wiener filter at its best regularisation for this image (an oracle: it uses the ground truth),
* TV-ADMM (lam = 0.0015, chosen on BSD68 test001-004),
* ADMM with the learned prior (``ppsolve.train`` recipe ``natural-gray``) as the proximal operator, the
  z-update by the exact Fourier inverse or, with ``--inverse learned``, by a LearnedInverse trained from
  noise (one flag switches; the staged settings are those of ``benchmarks/deblur_bsd68.py``).

The denoiser runs on the whole image here; ``ppsolve.patches.apply_patchwise`` (section 3.4) gives the same
result tile by tile with bounded memory (``--patchwise``), exactly so for this translation-equivariant net
when the tiles' margins cover its receptive field. Writes results/examples/deblur_motion.{png,json}.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from deblur_bsd68 import (DEFAULT_STAGES_BLIND, DEFAULT_STAGES_SIGMA, learned_inverses, load_prior,  # noqa: E402
                          run_prior, save_grid)

from ppsolve.baselines import central_crops, measure, score, tv_admm, wiener_best  # noqa: E402
from ppsolve.inverses.fourier import FourierInverse  # noqa: E402
from ppsolve.operators import Convolution  # noqa: E402
from ppsolve.patches import apply_patchwise  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--image", default=str(DATA / "bsd68" / "test005.png"))
    p.add_argument("--prior", default=str(ROOT / "ppsolve" / "zoo" / "natural-gray.pt"))
    p.add_argument("--inverse", choices=("fourier", "learned"), default="fourier")
    p.add_argument("--patchwise", action="store_true", help="run the denoiser through 64 x 64 tiles")
    p.add_argument("--out", default=str(ROOT / "results" / "examples"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    x = central_crops([args.image])[0]
    kernel = np.loadtxt(DATA / "kernels" / "motion9_30deg.txt")
    A = Convolution(kernel, x.shape)
    y = measure(A, x[None], 0.01, 4)[0]

    prox, conditional, _ = load_prior(args.prior)
    if args.patchwise:
        model = prox.model
        r = model.receptive_radius

        def tiled(v, *sigma):
            return apply_patchwise(lambda t: model(t, *sigma), v, patch=64, overlap=2 * r + 8, margin=r, batch=8)

        prox.model = tiled
    stages = DEFAULT_STAGES_SIGMA if conditional else DEFAULT_STAGES_BLIND
    betas = sorted({s[0] for s in stages})
    if args.inverse == "fourier":
        inverses = {b: FourierInverse(A, b) for b in betas}
    else:
        inverses, _ = learned_inverses(kernel, betas, out)
    xw, alpha, pw = wiener_best(y, A, x)
    xt = tv_admm(y, A, 0.0015).x
    xl = run_prior(y, A, prox, stages, inverses, conditional)
    figures = {"blurred": score(y, x), "wiener_best_oracle": pw, "wiener_alpha": alpha, "tv_admm": score(xt, x),
               f"learned_prior_{args.inverse}": score(xl, x)}
    print(json.dumps(figures, indent=1))
    (out / "deblur_motion.json").write_text(json.dumps({"image": args.image, "stages": stages, **figures}, indent=1))
    save_grid(out / "deblur_motion.png",
              [[(x, "truth"), (y, f"{figures['blurred']:.2f} dB"), (xw, f"{pw:.2f} dB"),
                (xt, f"{figures['tv_admm']:.2f} dB"), (xl, f"{score(xl, x):.2f} dB")]],
              ["truth", "blurred", "Wiener-best (oracle)", "TV-ADMM", f"learned prior ({args.inverse})"])
    print(f"wrote {out / 'deblur_motion.png'}")


if __name__ == "__main__":
    main()
