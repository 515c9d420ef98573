"""The training command: ``python -m ppsolve.train RECIPE`` (also ``ppsolve train RECIPE``).

Trains one of ``RECIPES`` into a resumable checkpoint (``results/train/RECIPE.ckpt.safetensors``; running the
same command again continues where it stopped, also after Ctrl-C), then exports the weights with a JSON
summary beside them to ``--out`` (default ``results/models/RECIPE.safetensors``). The package's own zoo files
are only written with ``--to-zoo``: a training run in a checkout never overwrites the shipped weights by
accident.

Under torchrun (``WORLD_SIZE > 1``: ``torchrun --nproc-per-node 2 -m ppsolve.train RECIPE ...``) the command
joins the process group from the environment (``env://``; gloo, or NCCL with ``--device cuda``, each process
on ``cuda:LOCAL_RANK``) and trains as one of the processes (``docs/distributed-training.md``);
``--batch-size`` is the global batch. Rank 0 writes the checkpoint, the weights and the summary, and prints.
"""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from .. import zoo
from .._cli import add_common_options, run
from ..files import atomic_write_text, output_target
from ..nn.registry import describe, load_denoiser
from .denoiser import LOSSES, export_denoiser, train_denoiser
from .distributed import init_from_env, world
from .recipes import RECIPES

__all__ = ["build_parser", "main"]

PROG = "python -m ppsolve.train"


def build_parser(prog: str = PROG, parser=None):
    import argparse

    parser = parser or argparse.ArgumentParser(
        prog=prog,
        description="Train a learned proximal operator (denoiser) for ppsolve's ADMM. Training is resumable: "
                    "the full state is checkpointed every epoch and every --checkpoint-every steps, and "
                    "running the same command again continues where it stopped (also after Ctrl-C).",
    )
    sub = parser.add_subparsers(dest="recipe", required=True, metavar="RECIPE")
    for name, recipe in RECIPES.items():
        d = recipe.defaults
        p = sub.add_parser(name, help=recipe.help, description=recipe.description)
        recipe.add_arguments(p)
        p.add_argument("--out", type=Path, default=None,
                       help=f"where the trained weights go (a model file; a .json summary is written beside it; "
                            f"default: results/models/{name}.safetensors)")
        if recipe.shippable:
            p.add_argument("--to-zoo", action="store_true",
                           help="write the weights into the installed package's zoo, replacing the shipped "
                                f"{name} (for maintainers retraining a zoo model)")
        p.add_argument("--checkpoint", type=Path, default=None,
                       help=f"the resumable training checkpoint (default: results/train/{name}.ckpt.safetensors)")
        p.add_argument("--fresh", action="store_true", help="ignore an existing training checkpoint and start over")
        p.add_argument("--start-from", type=Path, default=None, metavar="MODEL_FILE",
                       help="start from the weights of this denoiser model file of the same network (fine-tuning, "
                            "e.g. the shipped zoo file) instead of a random initialisation; recorded in the summary "
                            "and checked on resume")
        p.add_argument("--epochs", type=int, default=d["epochs"], help="default: %(default)s")
        p.add_argument("--batch-size", type=int, default=d["batch_size"],
                       help="images per step, over all processes under torchrun (default: %(default)s)")
        p.add_argument("--lr", type=float, default=d["lr"], help="Adam learning rate (default: %(default)s)")
        p.add_argument("--lr-final", type=float, default=d.get("lr_final"),
                       help="decay the learning rate geometrically to this value at the last step "
                            "(default: %(default)s; None keeps it constant)")
        p.add_argument("--warmup-steps", type=int, default=d.get("warmup_steps", 0),
                       help="linear learning-rate warm-up over the first steps (default: %(default)s)")
        p.add_argument("--noise", type=float, nargs=2, default=d["noise"], metavar=("SIGMA_MIN", "SIGMA_MAX"),
                       help="range of the noise standard deviation, drawn uniformly per image (default: "
                            f"{d['noise'][0]} {d['noise'][1]})")
        p.add_argument("--loss", choices=LOSSES, default=d["loss"], help="reconstruction loss (default: %(default)s)")
        p.add_argument("--seed", type=int, default=0, help="seeds the weights, the shuffles and the noise "
                                                              "(default: %(default)s)")
        p.add_argument("--checkpoint-every", type=int, default=200,
                       help="steps between mid-epoch checkpoints (default: %(default)s)")
        p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: cpu; under "
                                                          "torchrun, cuda means cuda:LOCAL_RANK)")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        add_common_options(p)
    return parser


def _outputs(args) -> tuple[Path, Path]:
    """(weights, checkpoint), checked before any training: not a directory, not inside the package without
    --to-zoo."""
    name = args.recipe
    if getattr(args, "to_zoo", False):
        if args.out is not None:
            raise ValueError("--to-zoo writes into the package's zoo; give either --to-zoo or --out")
        out = zoo.ZOO_DIR / f"{name}.safetensors"
    else:
        out = args.out if args.out is not None else Path("results") / "models" / f"{name}.safetensors"
        target = output_target(out)
        if zoo.ZOO_DIR.resolve() in target.parents:
            raise ValueError(f"--out {out}: is inside the installed package's zoo ({zoo.ZOO_DIR}); pass --to-zoo to "
                             "replace shipped weights, or choose another path")
    output_target(out.with_suffix(".json"))
    checkpoint = args.checkpoint or Path("results") / "train" / f"{name}.ckpt.safetensors"
    output_target(checkpoint)
    if args.epochs < 1:
        raise ValueError(f"--epochs {args.epochs}: expected at least 1")
    return out, checkpoint


def _write_summary(metadata: dict, path: Path) -> None:
    text = json.dumps(metadata, indent=1, default=str)
    # one line per list of numbers (the per-epoch figures)
    text = re.sub(r"\[\s+([^\[\]{}\"]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    atomic_write_text(path, text + "\n")


def initialise(model, path: Path) -> dict:
    """Load the weights of the denoiser model file ``path`` (untrusted: its header and tensors are checked, and
    it must describe the same network class, config and tensor shapes as ``model``) into ``model``; returns
    what the summary records of it (file name, content digest, steps it had trained)."""
    loaded, header = load_denoiser(path)
    mine, theirs = describe(model), header.get("model") or {}
    if (theirs.get("class"), theirs.get("config")) != (mine["class"], mine["config"]):
        raise ValueError(f"--start-from {path}: a {theirs.get('class')} with {theirs.get('config')}, expected the "
                         f"recipe's {mine['class']} with {mine['config']}")
    model.load_state_dict(loaded.state_dict())
    progress = header.get("progress") or {}
    return {"file": path.name, "sha256": header.get("sha256"), "steps": progress.get("global_step"),
            "data": header.get("data")}


def train_main(args) -> int:
    """Run a parsed ``RECIPE`` command (shared by ``ppsolve train``), as one of several processes under
    torchrun."""
    out, checkpoint = _outputs(args)
    joined = init_from_env(args.device)
    try:
        return _train(args, out, checkpoint)
    finally:
        if joined:
            import torch.distributed as dist

            dist.destroy_process_group()


def _train(args, out: Path, checkpoint: Path) -> int:
    recipe = RECIPES[args.recipe]
    kwargs = recipe.build(args)
    model = kwargs.pop("model")
    if args.start_from is not None:
        kwargs["extra_metadata"] = {**kwargs.get("extra_metadata", {}), "init": initialise(model, args.start_from)}
    me = world()
    device = args.device
    if device == "cuda" and me.distributed:
        import torch

        device = f"cuda:{torch.cuda.current_device()}"  # init_from_env chose LOCAL_RANK's
    if device:
        model.to(device)
    start = time.perf_counter()
    try:
        metadata = train_denoiser(
            model, kwargs.pop("images"), noise=tuple(args.noise), loss=args.loss, epochs=args.epochs,
            batch_size=args.batch_size, lr=args.lr, lr_final=args.lr_final, warmup_steps=args.warmup_steps,
            seed=args.seed, checkpoint=checkpoint, checkpoint_every=args.checkpoint_every, resume=not args.fresh,
            progress=not args.no_progress, threads=args.threads, **kwargs)
    except KeyboardInterrupt:
        if me.main:
            print(f"interrupted; run the same command again to resume from {checkpoint}", file=sys.stderr)
        return 130
    if not me.main:
        return 0
    written = export_denoiser(checkpoint, out)
    summary = written.with_suffix(".json")
    _write_summary(metadata, summary)
    fig = metadata["figures"]
    final = ""
    if fig["val_psnr"] and fig["val_psnr"][-1] is not None:
        final = f"; validation PSNR {fig['val_psnr'][-1]:.2f} dB, SSIM {fig['val_ssim'][-1]:.4f}"
    print(f"wrote {written} and {summary} ({time.perf_counter() - start:.0f} s this run{final})")
    if out.resolve().parent != zoo.ZOO_DIR.resolve():
        print(f"use it with: ppsolve.zoo.load({args.recipe!r}, weights={str(written)!r})")
    return 0


def main(argv=None) -> int:
    def command(argv):
        return train_main(build_parser().parse_args(argv))

    return run(command, argv, PROG)
