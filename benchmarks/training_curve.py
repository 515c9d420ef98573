"""Validation PSNR against training time, from the figures a training run records.

    python benchmarks/training_curve.py results/train/natural-gray-ft64.ckpt.safetensors \\
        --start results/models/natural-gray-ft64-start.json --out docs/images/natural-gray-training.png

Each RUN is a training checkpoint (its header holds the figures so far, so a run still going can be plotted)
or the JSON summary ``python -m ppsolve.train`` writes beside the weights. The time axis is the trainer's
own wall-clock seconds per epoch, summed (validation included; the machine and its load are the reader's to
note). ``--start`` adds the starting network's score as the point at time 0: the summary of a one-step run at
a learning rate of 1e-30 from the same ``--start-from`` file, on the same validation set (see
``docs/zoo.md``). ``--chain`` plots runs that continue one another (a fine-tuning ``--start-from`` the
first run's weights) as one history: each run's time axis starts where the one before it ended. Prints one
row per epoch and writes the plot (matplotlib).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ppsolve import modelfile


def figures(path: Path) -> dict:
    """The per-epoch figures of a checkpoint / model file or of a JSON summary."""
    if path.suffix == ".json":
        header = json.loads(path.read_text())
    else:
        header = modelfile.read_header(path)
    fig = header.get("figures") or {}
    if not fig.get("val_psnr"):
        raise SystemExit(f"{path}: no validation figures (trained without a validation set?)")
    return fig


def curve(fig: dict) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative minutes, validation PSNR) per epoch."""
    minutes = np.cumsum(np.asarray(fig["seconds"], dtype=float)) / 60
    return minutes, np.asarray(fig["val_psnr"], dtype=float)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="training checkpoints or JSON summaries")
    p.add_argument("--start", type=Path, default=None, help="summary whose last validation PSNR is the start (time 0)")
    p.add_argument("--chain", action="store_true", help="each run continues the one before it (one time axis)")
    p.add_argument("--label", action="append", default=None, help="a legend label per run (default: file names)")
    p.add_argument("--out", type=Path, default=Path("results/training_curve.png"))
    args = p.parse_args(argv)
    labels = args.label or [r.name.split(".")[0] for r in args.runs]
    if len(labels) != len(args.runs):
        raise SystemExit(f"--label: {len(labels)} labels for {len(args.runs)} runs")
    start = None if args.start is None else figures(args.start)["val_psnr"][-1]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    offset = 0.0
    for i, (run, label) in enumerate(zip(args.runs, labels)):
        minutes, val = curve(figures(run))
        minutes = minutes + offset
        if start is not None and (i == 0 or not args.chain):
            minutes, val = np.r_[0.0, minutes], np.r_[start, val]
        if args.chain:
            offset = minutes[-1]
        print(f"{label}: minutes, validation PSNR (dB)")
        for m, v in zip(minutes, val):
            print(f"  {m:7.1f}  {v:.3f}")
        ax.plot(minutes, val, marker=".", label=label)
    if start is not None:
        ax.axhline(start, color="grey", lw=0.8, ls="--", label=f"start {start:.2f} dB")
    ax.set_xlabel("training time (minutes, wall clock)")
    ax.set_ylabel("validation PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
