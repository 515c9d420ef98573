"""``ppsolve restore IN [IN ...] -o OUT``: image files in, restored image files out (``ppsolve.photo``).

OUT is a file for one input, a folder for several (created; each output named after its input). The output
extension picks the format; into a folder, a JPEG input becomes a PNG (``--format`` to choose). The output
keeps the input's bit depth, grey or colour mode and alpha channel (upscaled with the image for ``--sr``).
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

from .dask_cli import DEFAULT_CHUNK, LARGE_PIXELS, batch_main, is_large, large_main
from .files import atomic_write, atomic_write_text, output_target
from .imagefile import FORMATS, read_image
from .kernels_from_pairs import estimate_kernel
from .operators import gaussian_kernel, motion_kernel
from .photo import BOUNDARIES, DOWNSCALERS, INVERSES, normalised_kernel
from .photo_files import output_name, restore_file
from .prox.denoiser import BACKENDS

__all__ = ["add_kernel_parser", "add_restore_parser", "kernel_main", "read_kernel", "restore_main"]


def read_kernel(path) -> np.ndarray:
    """A point-spread function from a file: ``.txt`` (a matrix of numbers), ``.npy`` (no pickles) or an image
    (grey; colour is averaged); normalised to sum 1. One-line errors for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--kernel {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".txt":
            k = np.loadtxt(path, ndmin=2)
        elif suffix == ".npy":
            k = np.load(path, allow_pickle=False)
        else:
            image = read_image(path).pixels
            k = image.mean(axis=0) if image.ndim == 3 else image
    except (OSError, ValueError) as err:
        raise ValueError(f"--kernel {path}: not a readable kernel ({err})") from None
    return normalised_kernel(k, f"--kernel {path}")


def _noise(text: str):
    if text == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a noise level in [0, 1) on the intensity scale, or auto; got {text!r}")
    return value


def _integer(minimum: int, what: str):
    """An argparse type: an integer of at least ``minimum`` (``what`` names it in the error)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {text!r}")
        return value

    return parse


_positive, _non_negative = _integer(1, "positive"), _integer(0, "non-negative")


def add_restore_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("restore", help="restore image files (deblur, super-resolve, denoise)",
                       description="Restore photographs by ADMM with a learned prior. The forward model: a blur "
                                   "(--kernel, --motion or --gaussian), a downscaling (--sr), both, or neither "
                                   "(denoising); the scene past the frame is unknown unless --boundary says "
                                   "otherwise.")
    p.add_argument("inputs", nargs="*", type=Path, metavar="IN",
                   help="image files (PNG, TIFF, JPEG), a folder of them, or one large image (a .zarr folder, a TIFF)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                   help="the output file (one input; .zarr or .tif for a large image) or folder (several, a folder)")
    blur = p.add_mutually_exclusive_group()
    blur.add_argument("--kernel", type=Path, help="the blur's point-spread function: .txt, .npy or an image file")
    blur.add_argument("--motion", type=float, nargs=2, metavar=("LENGTH", "ANGLE"),
                      help="a linear motion blur of LENGTH pixels at ANGLE degrees")
    blur.add_argument("--gaussian", type=float, metavar="SIGMA", help="a Gaussian blur of standard deviation SIGMA")
    p.add_argument("--sr", type=int, choices=(2, 3, 4), help="super-resolve: the output is FACTOR times larger")
    p.add_argument("--downscaler", choices=DOWNSCALERS, default=None,
                   help="how the low-resolution image was made: bicubic (Pillow's Image.resize, the default with "
                        "--sr and no blur option) or gaussian (3x3 Gaussian, every FACTOR-th pixel)")
    p.add_argument("--noise", type=_noise, default="auto", metavar="SIGMA|auto",
                   help="noise standard deviation on the [0, 1] scale (default: estimated from the image)")
    p.add_argument("--boundary", choices=BOUNDARIES, default="unknown",
                   help="the scene past the frame: unknown (default: no assumption), periodic or reflect")
    p.add_argument("--prior", default=None, help="a zoo prior (default: natural-gray, natural-color for colour)")
    p.add_argument("--inverse", choices=INVERSES, default="auto", help="the least-squares solver (default: auto)")
    p.add_argument("--reference", type=Path, help="a sharp image: print PSNR and SSIM against it")
    p.add_argument("--compare", type=Path, metavar="FILE.png", help="write the input and the output side by side")
    p.add_argument("--format", choices=sorted({v.lower() for v in FORMATS.values()}), default=None,
                   help="output format for a folder (default: the input's; PNG for JPEG inputs)")
    p.add_argument("--json", action="store_true", help="print one JSON object per image")
    p.add_argument("--device", default=None, help="where the prior runs: cpu (default) or cuda")
    p.add_argument("--ensemble", type=int, choices=(1, 2, 4, 8), default=None,
                   help="quarter turns / flips averaged per evaluation of the prior, in every stage: the time is "
                        "proportional to it (default: the prior's zoo setting, for natural-gray 1 at the first, "
                        "high noise levels, 2 in the middle, 4 at the end)")
    p.add_argument("--backend", choices=BACKENDS, default="torch",
                   help="how the prior's network runs: torch (default) or onnxruntime (CPU, faster; pip install "
                        "'ppsolve[onnx]')")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    big = p.add_argument_group("large images and folders, on Dask (pip install 'ppsolve[dask]')")
    big.add_argument("--list", type=Path, metavar="FILE", help="restore the images listed in FILE (one path a line)")
    big.add_argument("--chunk", type=_positive, metavar="SIZE",
                     help=f"restore block by block, SIZE pixels a side (default for a Zarr input or a TIFF over "
                          f"{LARGE_PIXELS // 2**20} Mpixels: the most, up to {DEFAULT_CHUNK}, whose piece with its "
                          "margins fits the prior's tile)")
    big.add_argument("--margin", type=_non_negative, help="pixels of context around each block (default: from the "
                     "blur and the prior, see docs/large-images.md)")
    big.add_argument("--workers", type=_positive, help="worker processes of the local Dask cluster (default: one per "
                     "core)")
    big.add_argument("--threads-per-worker", type=_positive, default=1, help="threads of each worker's one task at a "
                     "time (the workers' --threads; default 1)")
    big.add_argument("--memory-limit", default=None, help="memory per worker, in Dask's units (e.g. 4GiB; default "
                     "auto)")
    big.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler (tcp://host:port) instead of a "
                     "local cluster")
    big.add_argument("--rerun", action="store_true", help="for a folder: restore images whose outputs exist too")
    return p


def _output_for(path: Path, args, several: bool) -> Path:
    out = args.output
    if not several and not out.is_dir():
        return out
    return output_name(path, out, args.format)


def _kernel_of(args):
    if args.kernel is not None:
        return read_kernel(args.kernel)
    if args.motion is not None:
        return motion_kernel(args.motion[0], args.motion[1])
    if args.gaussian is not None:
        radius = max(1, int(np.ceil(3 * args.gaussian)))
        return gaussian_kernel(2 * radius + 1, args.gaussian)
    return None


def _options(args, kernel) -> dict:
    """``restore_image``'s keyword arguments from the parsed command."""
    return {"kernel": kernel, "sr": args.sr, "downscaler": args.downscaler, "boundary": args.boundary,
            "noise": args.noise, "prior": args.prior, "inverse": args.inverse, "device": args.device,
            "threads": args.threads, "ensemble": args.ensemble, "backend": args.backend}


def restore_main(args) -> int:
    """Run a parsed ``ppsolve restore`` command."""
    if args.list is not None or (len(args.inputs) == 1 and args.inputs[0].is_dir()
                                 and args.inputs[0].suffix.lower() != ".zarr"):
        return batch_main(args, _options(args, _kernel_of(args)))
    if not args.inputs:
        raise ValueError("restore: expected an image file, a folder or --list FILE")
    if len(args.inputs) == 1 and is_large(args.inputs[0], args.chunk):
        return large_main(args, _options(args, _kernel_of(args)))
    if any(getattr(args, k) is not None for k in ("workers", "memory_limit", "scheduler", "margin")) or args.rerun:
        raise ValueError("--workers, --memory-limit, --scheduler, --margin and --rerun are for a folder, --list or a "
                         "large image")
    several = len(args.inputs) > 1
    for path in args.inputs:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such image file")
    if several:
        if args.output.exists() and not args.output.is_dir():
            raise ValueError(f"-o {args.output}: several inputs need an output folder")
        if args.reference is not None or args.compare is not None:
            raise ValueError("--reference and --compare are for one input")
        args.output.mkdir(parents=True, exist_ok=True)
    outputs = [_output_for(path, args, several) for path in args.inputs]
    for out in outputs:
        if out.suffix.lower() not in FORMATS:
            raise ValueError(f"-o {out}: unknown output format {out.suffix!r}; expected one of {', '.join(FORMATS)}")
        output_target(out)  # refuses a folder, a device or a FIFO before any work
    kernel = _kernel_of(args)
    for path, out in zip(args.inputs, outputs):
        report = restore_file(path, out, reference=args.reference, compare=args.compare, progress=not args.quiet,
                              **_options(args, kernel))
        if args.json:
            print(json.dumps(report))
        else:
            extra = f", PSNR {report['psnr']:.2f} dB, SSIM {report['ssim']:.4f}" if "psnr" in report else ""
            how = "estimated" if report["noise_estimated"] else "given"
            print(f"{path} -> {report['output']} ({report['task']}, prior {report['prior']}, noise {report['noise']:.4f} "
                  f"{how}, {report['cpu_seconds']:.1f} CPU-s{extra})", file=sys.stdout)
    return 0


def add_kernel_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("kernel", help="estimate a blur kernel from calibration pairs (sharp and blurred images)",
                       description="The point-spread function that blurs each sharp image into its blurred "
                                   "photograph (the same frame, registered), by non-negative least squares with "
                                   "sum 1 on the valid pixels (no boundary assumption): the paper's Appendix A.")
    p.add_argument("--sharp", type=Path, action="append", required=True, help="a sharp image (repeat for pairs)")
    p.add_argument("--blurred", type=Path, action="append", required=True, help="its blurred photograph")
    p.add_argument("--size", type=int, required=True, metavar="K", help="the kernel's size, K x K (odd is usual)")
    p.add_argument("--smoothness", type=float, default=0.0, help="a gradient penalty on the kernel (default 0)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="k.txt", help="the kernel: .txt or .npy")
    return p


def kernel_main(args) -> int:
    """Run a parsed ``ppsolve kernel`` command."""
    if len(args.sharp) != len(args.blurred):
        raise ValueError(f"--sharp and --blurred: expected pairs, got {len(args.sharp)} sharp and "
                         f"{len(args.blurred)} blurred images")
    if args.output.suffix.lower() not in (".txt", ".npy"):
        raise ValueError(f"-o {args.output}: expected a .txt or .npy file")
    output_target(args.output)
    pairs = [(read_image(s).pixels, read_image(b).pixels) for s, b in zip(args.sharp, args.blurred)]
    k = estimate_kernel(pairs, args.size, smoothness=args.smoothness)
    if args.output.suffix.lower() == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, k)
        atomic_write(args.output, buffer.getvalue())
    else:
        text = io.StringIO()
        np.savetxt(text, k, fmt="%.8e")
        atomic_write_text(args.output, text.getvalue())
    peak = np.unravel_index(np.argmax(k), k.shape)
    print(f"wrote {args.output}: a {k.shape[0]}x{k.shape[1]} kernel from {len(pairs)} pair(s), sum {k.sum():.6f}, "
          f"peak {k.max():.4f} at {peak}")
    return 0
