r"""The training recipes of the model zoo, with their data splits: ``python -m ppsolve.train NAME``.

Each recipe names the network, the data and how it is split (training, validation, held out: the held-out
images are never read), and the defaults of the common options. The data folder comes from ``--data`` or
``$PPSOLVE_DATA``. How long each took and what it scored is in the zoo's entries and ``docs/zoo.md``.

=====================  ==================================================================================
``mnist-dae``          Table 1's DAE on MNIST test digits 0-6999 (7000-7999 validate, 8000-9999 held out)
``natural-gray``       the noise-conditional SigmaUNet on Train400 1-380 (381-400 validate)
``cub-sr4-cpsdae``     Table 2's cPSDAE for 4x SR of CUB birds but the last 240 (40 validate, 200 held out)
``celeba-sr2-color``   Table 3's cPSDAE with a grey y on CelebA faces but the last 540 (never shipped)
=====================  ==================================================================================
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data import list_images, load_images, load_mnist_images
from ..experiments.natural import (
    CELEBA_HELD_OUT,
    CELEBA_SIZE,
    CUB_HELD_OUT,
    joint_sr_color_operator,
    split_last,
    sr_operator,
)
from ..nn.cpsdae import CPSDAE
from ..nn.dae import DAE
from ..nn.dncnn import DnCNN, SigmaDnCNN
from ..nn.init import lsuv_init
from ..nn.unet import SigmaUNet
from .denoiser import array_digest
from .inputs import ArraySampler, BicubicOrNoise, CropSampler, GreyAsColour, MixtureSampler

__all__ = ["RECIPES", "Recipe"]


def _default_data_root() -> Path:
    """``$PPSOLVE_DATA``: the folder of image sets, used when ``--data`` is not given."""
    env = os.environ.get("PPSOLVE_DATA")
    if not env:
        raise ValueError("no data: pass --data PATH, or set PPSOLVE_DATA to the folder holding mnist/, train400/, ...")
    return Path(env).expanduser()


def _range(text: str) -> tuple[int, int]:
    try:
        a, b = (int(s) for s in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP, e.g. 0:7000, got {text!r}") from None
    if not 0 <= a < b:
        raise argparse.ArgumentTypeError(f"expected 0 <= START < STOP, got {text!r}")
    return a, b


MNIST_HELD_OUT = 8000  # digits 8000-9999 of the MNIST test file: the final test set, never trained or tuned on


def _mnist_images_path(data: Path) -> Path:
    if data.is_dir():
        for name in ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"):
            if (data / name).is_file():
                return data / name
        if (data / "mnist").is_dir():
            return _mnist_images_path(data / "mnist")
        raise FileNotFoundError(f"{data}: no t10k-images-idx3-ubyte[.gz] in this folder")
    return data


def _mnist_dae_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None,
                        help="the MNIST test images, t10k-images-idx3-ubyte[.gz], or a folder holding it "
                             "(default: $PPSOLVE_DATA/mnist)")
    parser.add_argument("--train-range", type=_range, default="0:7000", metavar="START:STOP",
                        help="digits to train on (default: %(default)s)")
    parser.add_argument("--val-range", type=_range, default="7000:8000", metavar="START:STOP",
                        help="digits to validate on (default: %(default)s); digits 8000-9999 are held out for the "
                             "final test and refused for training and validation")
    parser.add_argument("--init", choices=("lsuv", "default"), default="lsuv",
                        help="initial weights: lsuv (the default: unit-variance layers on 512 noisy training "
                             "digits; with PyTorch's initialisation this deep plain ReLU network collapses to a "
                             "constant) or default (PyTorch's)")


def _mnist_dae_run(args) -> dict:
    for what, (a, b) in (("--train-range", args.train_range), ("--val-range", args.val_range)):
        if b > MNIST_HELD_OUT:
            raise ValueError(f"{what} {a}:{b}: digits {MNIST_HELD_OUT}-9999 are held out for the final test")
    (ta, tb), (va, vb) = args.train_range, args.val_range
    if ta < vb and va < tb:
        raise ValueError(f"--train-range {ta}:{tb} and --val-range {va}:{vb} overlap")
    path = _mnist_images_path(args.data if args.data is not None else _default_data_root() / "mnist")
    images = load_mnist_images(path)
    if len(images) < MNIST_HELD_OUT:
        raise ValueError(f"{path}: {len(images)} digits; expected the 10,000-digit MNIST test file")
    torch.manual_seed(args.seed)  # the DAE's initial weights
    model = DAE()
    if args.init == "lsuv":
        g = torch.Generator().manual_seed(args.seed)
        sample = torch.from_numpy(images[ta:tb][:512])
        lsuv_init(model, sample + 0.25 * torch.randn(sample.shape, generator=g))
    return {
        "model": model,
        "images": images[ta:tb],
        "val_images": images[va:vb],
        "data_description": f"MNIST t10k digits {ta}-{tb - 1} ({path.name}), float32 in [0, 1], "
                            f"sha256 {array_digest(images[ta:tb])}",
        "extra_metadata": {"split": {"train": [ta, tb], "val": [va, vb], "held_out": [MNIST_HELD_OUT, 10000]},
                           "recipe": "mnist-dae", "init": args.init},
    }


TRAIN400_VAL = 20  # the last 20 Train400 images (test_381 ... test_400, name order) validate; the rest train

def _int_list(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def _natural_gray_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None,
                        help="the Train400 folder (180 x 180 grey PNGs; default: $PPSOLVE_DATA/train400 or "
                             "$PPSOLVE_DATA/train400). Never BSD68 / Set12: those are for evaluation only")
    parser.add_argument("--patch", type=int, default=40, help="training crop size (default: %(default)s)")
    parser.add_argument("--arch", choices=("unet", "dncnn"), default="unet",
                        help="unet: SigmaUNet (the zoo's); dncnn: the dilated SigmaDnCNN (default: %(default)s)")
    parser.add_argument("--widths", type=_int_list, default=(32, 64, 128), metavar="W1,W2,...",
                        help="unet: width of each level (default: 32,64,128)")
    parser.add_argument("--blocks", type=int, default=1, help="unet: residual blocks per level (default: %(default)s)")
    parser.add_argument("--features", type=int, default=48, help="dncnn: hidden width (default: %(default)s)")
    parser.add_argument("--dilations", type=_int_list, default=(1, 2, 3, 4, 3, 2, 1),
                        metavar="D1,D2,...", help="dncnn: one 3x3 layer per dilation (default: 1,2,3,4,3,2,1)")
    parser.add_argument("--blind", action="store_true",
                        help="dncnn: the blind DnCNN without the noise-level input (the zoo's networks take the "
                             "noise level as an input, so ADMM can lower it stage by stage)")
    parser.add_argument("--steps-per-epoch", type=int, default=100, help="default: %(default)s")


def _natural_gray_run(args) -> dict:
    root = args.data if args.data is not None else _default_data_root() / "train400"
    paths = list_images(root)
    if len(paths) <= TRAIN400_VAL:
        raise ValueError(f"{root}: {len(paths)} images; expected the 400 Train400 images")
    bad = [p for p in paths if "bsd68" in str(p).lower() or "set12" in str(p).lower()]
    if bad:
        raise ValueError(f"{bad[0]}: BSD68 / Set12 are evaluation sets, not training data")
    train_paths, val_paths = paths[:-TRAIN400_VAL], paths[-TRAIN400_VAL:]
    images = load_images(train_paths)
    val_full = load_images(val_paths)
    n = args.patch
    val = np.stack([im[i:i + n, j:j + n] for im in val_full
                    for i in range(0, im.shape[0] - n + 1, n) for j in range(0, im.shape[1] - n + 1, n)])
    torch.manual_seed(args.seed)
    if args.arch == "unet":
        if args.blind:
            raise ValueError("--blind is for --arch dncnn; the U-Net always takes the noise level")
        model = SigmaUNet(channels=1, widths=args.widths, blocks=args.blocks)
        if args.patch % model.multiple:
            raise ValueError(f"--patch {args.patch}: the U-Net needs a multiple of {model.multiple}")
    else:
        model = (DnCNN if args.blind else SigmaDnCNN)(channels=1, features=args.features, dilations=args.dilations)
    description = (f"Train400 {len(train_paths)} images {train_paths[0].name}..{train_paths[-1].name}, random "
                   f"{args.patch}x{args.patch} crops with flips/rotations, float32 in [0, 1], "
                   f"sha256 {array_digest(images)}")
    return {
        "model": model,
        "images": CropSampler(images, args.patch, description),
        "steps_per_epoch": args.steps_per_epoch,
        "val_images": val,
        "noise_level_input": not args.blind,
        "data_description": description,
        "extra_metadata": {"recipe": "natural-gray", "patch": args.patch,
                           "split": {"train": [p.name for p in (train_paths[0], train_paths[-1])],
                                     "val": [p.name for p in (val_paths[0], val_paths[-1])],
                                     "val_tiles": len(val)}},
    }


CUB_VAL = 40  # the last 40 CUB training birds validate (the 200 after them are the held-out test set)


def _natural_color_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None,
                        help="the image-set folder holding cub200/images and train400 (default: $PPSOLVE_DATA); the "
                             "last 200 CUB birds are held out and never read; never CelebA, Set5/12/14, (C)BSD68")
    parser.add_argument("--patch", type=int, default=40, help="training crop size (default: %(default)s)")
    parser.add_argument("--widths", type=_int_list, default=(32, 64, 128), metavar="W1,W2,...",
                        help="width of each level (default: 32,64,128)")
    parser.add_argument("--grey-fraction", type=float, default=0.25,
                        help="share of training crops taken from Train400 1-380 (grey, the same in every channel) "
                             "for structure (default: %(default)s)")
    parser.add_argument("--steps-per-epoch", type=int, default=100, help="default: %(default)s")


def _natural_color_run(args) -> dict:
    root = args.data if args.data is not None else _default_data_root()
    birds, _ = split_last(list_images(root / "cub200" / "images"), CUB_HELD_OUT)
    train_paths, val_paths = birds[:-CUB_VAL], birds[-CUB_VAL:]
    colour = load_images(train_paths, mode="RGB")
    n = args.patch
    val_full = load_images(val_paths, mode="RGB", crop=3 * n)
    val = np.stack([im[:, i:i + n, j:j + n] for im in val_full for i in range(0, 3 * n, n) for j in range(0, 3 * n, n)])
    torch.manual_seed(args.seed)
    model = SigmaUNet(channels=3, widths=args.widths, blocks=1)
    if n % model.multiple:
        raise ValueError(f"--patch {n}: the U-Net needs a multiple of {model.multiple}")
    description = (f"CUB {len(train_paths)} birds {train_paths[0].parent.name}/{train_paths[0].name}.."
                   f"{train_paths[-1].parent.name}/{train_paths[-1].name}, random {n}x{n} RGB crops with "
                   f"flips/rotations, float32 in [0, 1], sha256 {array_digest(colour)}")
    sampler = CropSampler(colour, n, description)
    grey_fraction = float(args.grey_fraction)
    if not 0.0 <= grey_fraction < 1.0:
        raise ValueError(f"--grey-fraction {grey_fraction}: expected a number in [0, 1)")
    split = {"train": len(train_paths), "val": [f"{p.parent.name}/{p.name}" for p in (val_paths[0], val_paths[-1])],
             "val_tiles": len(val), "held_out": f"the last {CUB_HELD_OUT} CUB birds in list_images order"}
    if grey_fraction > 0:
        grey_paths = list_images(root / "train400")[:-TRAIN400_VAL]
        grey = load_images(grey_paths)
        grey_sampler = GreyAsColour(CropSampler(grey, n, f"Train400 {len(grey_paths)} images {grey_paths[0].name}.."
                                                         f"{grey_paths[-1].name}, sha256 {array_digest(grey)}"))
        sampler = MixtureSampler([sampler, grey_sampler], [1.0 - grey_fraction, grey_fraction])
        split["grey"] = [grey_paths[0].name, grey_paths[-1].name]
    return {
        "model": model,
        "images": sampler,
        "steps_per_epoch": args.steps_per_epoch,
        "val_images": val,
        "noise_level_input": True,
        "data_description": sampler.description,
        "extra_metadata": {"recipe": "natural-color", "patch": n, "grey_fraction": grey_fraction, "split": split},
    }


def _cub_sr4_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None,
                        help="the CUB-200 images folder (species folders of 227 x 227 JPEGs; default: "
                             "$PPSOLVE_DATA/cub200/images); its last 200 birds are held out and never read")
    parser.add_argument("--patch", type=int, default=96, help="training crop size, divisible by 4 (default: %(default)s)")
    parser.add_argument("--steps-per-epoch", type=int, default=100, help="default: %(default)s")
    parser.add_argument("--measurement-noise", type=float, default=0.01,
                        help="noise of y = A x + e in training (default: %(default)s, the benchmark's)")
    parser.add_argument("--bicubic-fraction", type=float, default=0.5,
                        help="share of training inputs v made from the bicubic upsampling of y rather than from x "
                             "(train.BicubicOrNoise; default: %(default)s)")


def _cub_sr4_run(args) -> dict:
    if args.patch % 4:
        raise ValueError(f"--patch {args.patch}: must be divisible by the factor 4")
    root = args.data if args.data is not None else _default_data_root() / "cub200" / "images"
    train_paths, _ = split_last(list_images(root), CUB_HELD_OUT)
    train_paths, val_paths = train_paths[:-CUB_VAL], train_paths[-CUB_VAL:]
    images = load_images(train_paths, mode="RGB")
    val = load_images(val_paths, mode="RGB", crop=args.patch)
    torch.manual_seed(args.seed)
    model = CPSDAE.table2()
    shape = (3, args.patch, args.patch)
    description = (f"CUB {len(train_paths)} birds {train_paths[0].parent.name}/{train_paths[0].name}.."
                   f"{train_paths[-1].parent.name}/{train_paths[-1].name}, random {args.patch}x{args.patch} "
                   f"RGB crops with flips/rotations, float32 in [0, 1], sha256 {array_digest(images)}")
    return {
        "model": model,
        "images": CropSampler(images, args.patch, description),
        "steps_per_epoch": args.steps_per_epoch,
        "val_images": val,
        "operator": sr_operator(shape, 4),
        "conditional": True,
        "input_fn": BicubicOrNoise(4, args.bicubic_fraction) if args.bicubic_fraction else None,
        "measurement_noise": args.measurement_noise,
        "data_description": description,
        "extra_metadata": {"recipe": "cub-sr4-cpsdae", "patch": args.patch,
                           "split": {"train": len(train_paths), "val": [f"{p.parent.name}/{p.name}" for p in
                                                                          (val_paths[0], val_paths[-1])],
                                     "held_out": f"the last {CUB_HELD_OUT} in list_images order"}},
    }


CELEBA_VAL = 40  # the last 40 CelebA training faces validate (the 500 after them are held out)


def _celeba_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=None,
                        help="the CelebA images folder (000001.jpg ...; default: $PPSOLVE_DATA/celeba/images); its "
                             "last 500 faces are held out and never read")
    parser.add_argument("--steps-per-epoch", type=int, default=100, help="default: %(default)s")
    parser.add_argument("--measurement-noise", type=float, default=0.01, help="default: %(default)s")
    parser.add_argument("--bicubic-fraction", type=float, default=0.5,
                        help="share of inputs v made from the bicubic upsampling of the grey y (default: %(default)s)")


def _celeba_run(args) -> dict:
    root = args.data if args.data is not None else _default_data_root() / "celeba" / "images"
    train_paths, _ = split_last(list_images(root), CELEBA_HELD_OUT)
    train_paths, val_paths = train_paths[:-CELEBA_VAL], train_paths[-CELEBA_VAL:]
    images = load_images(train_paths, mode="RGB", crop=88, size=CELEBA_SIZE)
    val = load_images(val_paths, mode="RGB", crop=88, size=CELEBA_SIZE)
    torch.manual_seed(args.seed)
    model = CPSDAE.table3(y_channels=1)
    description = (f"CelebA {len(train_paths)} faces {train_paths[0].name}..{train_paths[-1].name}, central 88x88 "
                   f"resized to 64x64 (antialiased bicubic), random horizontal flips, sha256 {array_digest(images)}")
    return {
        "model": model,
        "images": ArraySampler(images, description),
        "steps_per_epoch": args.steps_per_epoch,
        "val_images": val,
        "operator": joint_sr_color_operator(CELEBA_SIZE, 2),
        "conditional": True,
        "measurement_noise": args.measurement_noise,
        "input_fn": BicubicOrNoise(2, args.bicubic_fraction) if args.bicubic_fraction else None,
        "data_description": description,
        "extra_metadata": {"recipe": "celeba-sr2-color", "terms": "CelebA: non-commercial research only, no "
                                                                   "redistribution; never ship these weights",
                           "split": {"train": len(train_paths), "val": [val_paths[0].name, val_paths[-1].name],
                                     "held_out": f"the last {CELEBA_HELD_OUT}"}},
    }


@dataclass(frozen=True)
class Recipe:
    """A named training set-up for ``python -m ppsolve.train NAME``: ``build(args)`` returns the keyword
    arguments of ``train_denoiser`` that are specific to it (model, images, val_images, ...), ``defaults``
    the values of the common options; ``shippable``: whether its weights may go into the package's zoo
    (``--to-zoo``; not for CelebA, whose terms forbid redistribution)."""

    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    build: Callable[[argparse.Namespace], dict]
    defaults: dict
    shippable: bool = True


RECIPES: dict[str, Recipe] = {
    "mnist-dae": Recipe(
        help="the MNIST denoising auto-encoder of Table 1",
        description="Train the paper's Table 1 DAE (ppsolve.nn.dae.DAE) as a denoiser on MNIST test digits "
                    "0-6999, validate on 7000-7999 (8000-9999 stay held out), with Gaussian noise of a "
                    "standard deviation drawn uniformly from --noise per digit.",
        add_arguments=_mnist_dae_arguments,
        build=_mnist_dae_run,
        defaults={"epochs": 40, "batch_size": 64, "lr": 1e-3, "noise": (0.0, 0.5), "loss": "l2"},
    ),
    "natural-gray": Recipe(
        help="a noise-conditional grey natural-image denoiser (small U-Net) trained on Train400",
        description="Train ppsolve.nn.unet.SigmaUNet (3 levels of 32, 64, 128 channels, one residual block each, "
                    "bias-free, residual output, the noise level as an extra input; --arch dncnn: the dilated "
                    "SigmaDnCNN) as a Gaussian denoiser on random crops of Train400 images 1-380 (381-400 "
                    "validate, all non-overlapping patch-size tiles), noise standard deviation uniform in --noise "
                    "per crop. The zoo's natural-gray prior (deblurring and grey super-resolution).",
        add_arguments=_natural_gray_arguments,
        build=_natural_gray_run,
        defaults={"epochs": 44, "batch_size": 32, "lr": 1e-3, "lr_final": 1e-4, "noise": (0.0, 0.15), "loss": "l2"},
    ),
    "natural-color": Recipe(
        help="a noise-conditional colour natural-image denoiser (small U-Net) trained on CUB birds and Train400",
        description="Train ppsolve.nn.unet.SigmaUNet(channels=3) as a Gaussian denoiser on random crops of the CUB "
                    "birds but the last 240 (the last 40 of them validate, the last 200 are held out), a share of "
                    "them from Train400 1-380 in grey, noise standard deviation uniform in --noise per crop. The "
                    "zoo's natural-color prior (colour deblurring and super-resolution).",
        add_arguments=_natural_color_arguments,
        build=_natural_color_run,
        defaults={"epochs": 44, "batch_size": 32, "lr": 1e-3, "lr_final": 1e-4, "noise": (0.0, 0.15), "loss": "l2"},
    ),
    "cub-sr4-cpsdae": Recipe(
        help="the cPSDAE of Table 2 for 4x super-resolution of CUB birds (colour)",
        description="Train ppsolve.nn.cpsdae.CPSDAE.table2() (residual output) as a denoiser G(v, y) conditioned "
                    "on y = S H x + e (3x3 Gaussian sigma 1, every 4th pixel, e ~ N(0, 0.01^2); "
                    "ppsolve.experiments.natural.sr_operator) on random crops of the CUB birds but the last 240 "
                    "(the last 40 of them validate, the last 200 are held out), noise standard deviation of v "
                    "uniform in --noise.",
        add_arguments=_cub_sr4_arguments,
        build=_cub_sr4_run,
        defaults={"epochs": 30, "batch_size": 16, "lr": 1e-3, "lr_final": 1e-4, "warmup_steps": 300,
                  "noise": (0.0, 0.1), "loss": "l2"},
    ),
    "celeba-sr2-color": Recipe(
        help="the cPSDAE of Table 3 with a grey y: joint 2x super-resolution and colorization of CelebA faces",
        description="Train CPSDAE.table3(y_channels=1) as G(v, y) with y = S H R x + e (R: BT.601 grey, 3x3 Gaussian "
                    "sigma 1, every 2nd pixel; ppsolve.experiments.natural.joint_sr_color_operator) on CelebA faces "
                    "(central 88x88 resized to 64x64) but the last 540 (40 validate, 500 held out). CelebA's terms "
                    "forbid redistribution: the weights stay local (under results/), never in the zoo.",
        add_arguments=_celeba_arguments,
        build=_celeba_run,
        defaults={"epochs": 20, "batch_size": 16, "lr": 1e-3, "lr_final": 1e-4, "warmup_steps": 300,
                  "noise": (0.0, 0.1), "loss": "l2"},
        shippable=False,
    ),
}
