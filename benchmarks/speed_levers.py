r"""What each speed lever buys on the BSD68 problems: a table of (lever, CPU-s per image, PSNR), one run.

Problems: those of ``deblur_bsd68.py`` (9 x 9 motion blur, periodic, noise 0.01, started at ``y``) and
``sr_bsd68.py`` (3 x 3 Gaussian then every 4th pixel, noise 0.01, started at aligned bicubic), with the
``natural-gray`` prior and the zoo's schedules and self-ensembles, exact Fourier z-update. Images: test001-004
only (``--images``, at most 4: the only images settings may be chosen on). Each lever is a row, measured on
the same images in the same process, one thread (``time.process_time`` around ``restore``; the prior is loaded
once, outside):

* ``channels-first``: the network's weights in PyTorch's default (NCHW) order, as before ``DenoiserProx``'s
  ``channels_last=True``;
* ``channels-last``: the default now (oneDNN's NHWC convolutions);
* ``inference_mode``: ``restore`` inside ``torch.inference_mode()`` instead of ``no_grad`` alone;
* ``float32``: ``y`` as float32, so ADMM's arrays and FFTs are float32 too (no float64 round trips);
* ``ensemble E``: the self-ensemble of E transforms in every stage instead of the zoo's per-stage sizes;
* ``flips first``: the zoo's per-stage sizes with the transforms in the order before the quarter turns came
  first (identity, vertical flip, horizontal flip, half turn, then the transposed four), and ``ensemble 4,
  flips first``: the four flips in every stage, the setting of the figures before the per-stage ensemble;
* ``stages N``: N stages instead of the zoo's, the same first and last noise levels and beta rule;
* ``torch.compile``: the network compiled by inductor, the noise level passed as a tensor (a float would be
  specialised on and recompiled at every stage); its one-time cost reported apart;
* ``onnxruntime``: the network exported to ONNX and run by ONNX Runtime (``ppsolve.nn.onnx``, the library's
  ``backend="onnxruntime"``; export cost apart);
* ``bfloat16``: autocast inside the network; only one evaluation is timed (a whole restore would take
  minutes on CPUs without bfloat16 units), against one float32 evaluation.

Run:   python benchmarks/speed_levers.py [--images 4] [--levers ...] [--out results/speed_levers]
Writes <out>/speed_levers.json; prints the table.
"""
from __future__ import annotations

import argparse
import contextlib
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

from ppsolve import restore, zoo  # noqa: E402
from ppsolve.data import list_images  # noqa: E402
from ppsolve.experiments.natural import central_crops, measure, score, sr_operator  # noqa: E402
from ppsolve.nn.onnx import OnnxNetwork  # noqa: E402
from ppsolve.operators import Convolution  # noqa: E402
from ppsolve.prox.denoiser import ENSEMBLE_TRANSFORMS  # noqa: E402
from ppsolve.staged import sigma_schedule, stage_ensembles  # noqa: E402

LEVERS = ("channels-first", "channels-last", "inference_mode", "float32", "ensemble 4", "ensemble 2", "ensemble 1",
          "flips first", "ensemble 4, flips first", "stages 6", "stages 4", "torch.compile", "onnxruntime", "bfloat16")

#: the self-ensemble's order before the quarter turns came first: the four flips, then the transposed four
FLIPS_FIRST = tuple(next(t for t in ENSEMBLE_TRANSFORMS if t[0] == name) for name in (
    "identity", "vertical flip", "horizontal flip", "half turn", "transpose", "quarter turn", "three-quarter turn",
    "anti-transpose"))


class CompiledNetwork:
    """``torch.compile`` of a noise-conditional network, with ``sigma`` passed as a tensor: a Python float is
    specialised on, so every new noise level of a schedule would compile the network again."""

    def __init__(self, model):
        self.multiple, self.receptive_radius = model.multiple, model.receptive_radius
        self.compiled = torch.compile(model, dynamic=False)

    def __call__(self, v, sigma):
        return self.compiled(v, torch.as_tensor(sigma, dtype=v.dtype))


def problems(images: int):
    paths = list_images(DATA / "bsd68")[:images]
    x = central_crops(paths)
    kernel = np.loadtxt(DATA / "kernels" / "motion9_30deg.txt")
    blur, sr = Convolution(kernel, (256, 256)), sr_operator((256, 256), 4)
    return x, {"deblur": (blur, measure(blur, x, 0.01, 0), "y"), "sr4": (sr, measure(sr, x, 0.01, 0), "bicubic")}


def fewer_stages(stages, count: int):
    """``count`` stages with the same first and last sigma and the same beta rule (beta sigma^2 constant)."""
    (b0, it, s0), (_, _, s1) = stages[0], stages[-1]
    return [list(s) for s in sigma_schedule(s0, s1, count, b0 * s0**2, it)]


def evaluation_seconds(model, autocast: bool, size: int = 256) -> tuple:
    """(CPU seconds of one evaluation of ``model`` at ``size``^2 after a warm-up, its output as float32)."""
    x = torch.rand(1, 1, size, size, generator=torch.Generator().manual_seed(0))  # the same input each call
    context = torch.autocast("cpu", dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
    with torch.no_grad(), context:
        model(x, 0.05)
        start = time.process_time()
        out = model(x, 0.05)
    return time.process_time() - start, out.float()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=4, choices=range(1, 5), metavar="1-4")
    p.add_argument("--levers", nargs="+", choices=LEVERS, default=list(LEVERS))
    p.add_argument("--out", type=Path, default=ROOT / "results" / "speed_levers")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    x, tasks = problems(args.images)
    rows = []

    for lever in args.levers:
        prox = zoo.load("natural-gray")
        extra = {}
        if lever == "channels-first":
            prox.model.to(memory_format=torch.contiguous_format)
        if lever.endswith("flips first"):
            prox.ensemble_transforms = FLIPS_FIRST
        if lever == "bfloat16":
            t32, ref = evaluation_seconds(prox.model, False)
            t16, out = evaluation_seconds(prox.model, True)
            rows.append({"lever": lever, "evaluation_cpu_s": t16, "float32_evaluation_cpu_s": t32,
                         "max_abs_diff_to_float32": float((out - ref).abs().max())})
            print(rows[-1], flush=True)
            continue
        if lever == "torch.compile":
            start = time.process_time()
            prox.model = CompiledNetwork(prox.model)
            evaluation_seconds(prox.model, False)
            extra["one_time_cpu_s"] = time.process_time() - start
        if lever == "onnxruntime":
            start = time.process_time()
            prox.model = OnnxNetwork(prox.model, threads=1)
            extra["one_time_cpu_s"] = time.process_time() - start
        row = {"lever": lever, **extra}
        for task, (A, y, x0) in tasks.items():
            settings = zoo.info("natural-gray")["tasks"][task]
            stages = settings["stages"]
            ensemble = settings.get("ensemble", 1)
            if lever.startswith("ensemble"):
                ensemble = int(lever.split()[1].rstrip(","))
            if lever.startswith("stages"):
                stages = fewer_stages(stages, int(lever.split()[1]))  # the zoo's rule by noise level fits them
            per_stage = stage_ensembles(ensemble, stages)
            scores, seconds = [], []
            for i in range(len(x)):
                yi = y[i].astype(np.float32) if lever == "float32" else y[i]
                context = torch.inference_mode() if lever == "inference_mode" else contextlib.nullcontext()
                start = time.process_time()
                with context:
                    xi = restore(yi, A, prior=prox, stages=stages, inverse="fourier", x0=x0, clip=(0, 1),
                                 ensemble=ensemble).x
                seconds.append(time.process_time() - start)
                scores.append(score(np.asarray(xi, dtype=np.float64), x[i]))
            row[task] = {"cpu_s": float(np.mean(seconds)), "psnr": float(np.mean(scores)),
                         "evaluations": sum(s[1] * e for s, e in zip(stages, per_stage))}
        rows.append(row)
        print(row, flush=True)

    report = {"images": [f"test{i + 1:03d}" for i in range(args.images)], "rows": rows}
    (args.out / "speed_levers.json").write_text(json.dumps(report, indent=1))
    print(f"\n{'lever':16s} {'deblur CPU-s':>12s} {'dB':>7s} {'SR CPU-s':>9s} {'dB':>7s}")
    for r in rows:
        if "deblur" in r:
            print(f"{r['lever']:16s} {r['deblur']['cpu_s']:12.2f} {r['deblur']['psnr']:7.2f} "
                  f"{r['sr4']['cpu_s']:9.2f} {r['sr4']['psnr']:7.2f}"
                  + (f"  (one-time {r['one_time_cpu_s']:.1f} CPU-s)" if "one_time_cpu_s" in r else ""))
        else:
            print(f"{r['lever']:16s} one evaluation {r['evaluation_cpu_s']:.2f} CPU-s against "
                  f"{r['float32_evaluation_cpu_s']:.2f} in float32 (max diff {r['max_abs_diff_to_float32']:.1e})")
    print(f"wrote {args.out / 'speed_levers.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
