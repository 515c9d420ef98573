r"""MNIST in its original IDX format (gzip-compressed or not), and a small vendored sample.

IDX layout (big-endian): a 4-byte magic number ``0x0000 TT DD`` (``TT = 0x08``: unsigned bytes, ``DD``:
number of dimensions), then ``DD`` 4-byte sizes, then the data. MNIST images have magic 2051
(``0x00000803``: N x rows x cols) and labels magic 2049 (``0x00000801``: N). Compression is detected from
the gzip magic bytes ``1f 8b``, never from the file name, so ``t10k-images-idx3-ubyte`` and
``t10k-images-idx3-ubyte.gz`` both load whatever their content is.

The loaders check the magic number and that the byte count is exactly what the header announces, and
raise ``FileNotFoundError`` (a missing file) or ``ValueError`` (anything else wrong with the file).

``load_mnist_sample()`` reads ``fixtures/mnist_sample.npz``, shipped with the package: the first 300
digits of the MNIST test set with their labels (MNIST: Yann LeCun and Corinna Cortes, CC BY-SA 3.0; see
``fixtures/README.md``). It lets examples and tests run without any download.
"""
from __future__ import annotations

import errno
import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "MNIST_SAMPLE_PATH",
    "load_mnist",
    "load_mnist_images",
    "load_mnist_labels",
    "load_mnist_sample",
]

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_GZIP_MAGIC = b"\x1f\x8b"
MNIST_SAMPLE_PATH = Path(__file__).resolve().parent / "fixtures" / "mnist_sample.npz"


def _read_idx_bytes(path) -> tuple[Path, bytes]:
    """The (decompressed) content of an IDX file."""
    path = Path(os.fspath(path)).expanduser()
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "MNIST IDX file not found", str(path))
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "expected an MNIST IDX file, got a directory", str(path))
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{path}: corrupt or truncated gzip stream ({exc})") from exc
    return path, raw


def _parse_idx(path, expected_magic: int, kind: str) -> np.ndarray:
    """uint8 array with the IDX file's shape, after checking its magic number and byte count."""
    path, raw = _read_idx_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated: expected at least 4 bytes (the IDX magic number), got {len(raw)}")
    (magic,) = struct.unpack(">I", raw[:4])
    if magic != expected_magic:
        raise ValueError(
            f"{path}: not an MNIST IDX {kind} file (magic {magic} = 0x{magic:08x}, expected {expected_magic} = "
            f"0x{expected_magic:08x})"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated: expected at least {header} bytes (the IDX header), got {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(raw) < expected:
        raise ValueError(f"{path}: truncated: expected {expected} bytes for shape {shape}, got {len(raw)}")
    if len(raw) > expected:
        raise ValueError(
            f"{path}: size mismatch: expected {expected} bytes for shape {shape}, got {len(raw)} "
            f"({len(raw) - expected} trailing bytes)"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_mnist_images(path, dtype=np.float32) -> np.ndarray:
    """MNIST images from an IDX file (gzip or not): an ``(N, 28, 28)`` array in ``[0, 1]`` (``uint8 / 255``).

    ``dtype=np.uint8`` returns the raw bytes instead (values 0..255).

    Raises ``FileNotFoundError`` (missing file) or ``ValueError`` (wrong magic number, truncated or
    over-long file, corrupt gzip stream).
    """
    data = _parse_idx(path, IMAGES_MAGIC, "image")
    if np.dtype(dtype) == np.uint8:
        return data.copy()
    return data.astype(dtype) / np.asarray(255, dtype=dtype)


def load_mnist_labels(path) -> np.ndarray:
    """MNIST labels from an IDX file (gzip or not): an ``(N,)`` int64 array of digits 0..9.

    Raises ``FileNotFoundError`` or ``ValueError`` as :func:`load_mnist_images` does.
    """
    return _parse_idx(path, LABELS_MAGIC, "label").astype(np.int64)


def load_mnist(root, split: str = "t10k", dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` from the standard file names in a folder.

    Looks for ``{split}-images-idx3-ubyte`` and ``{split}-labels-idx1-ubyte`` (``split`` is ``"t10k"`` or
    ``"train"``), each with or without ``.gz``, and checks that both hold the same number of items.
    """
    root = Path(os.fspath(root)).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(errno.ENOENT, "MNIST folder not found", str(root))

    def find(stem: str) -> Path:
        for name in (stem, stem + ".gz"):
            if (root / name).is_file():
                return root / name
        raise FileNotFoundError(errno.ENOENT, f"no {stem}[.gz] in the MNIST folder", str(root / stem))

    images = load_mnist_images(find(f"{split}-images-idx3-ubyte"), dtype=dtype)
    labels = load_mnist_labels(find(f"{split}-labels-idx1-ubyte"))
    if len(images) != len(labels):
        raise ValueError(f"{root}: {len(images)} images but {len(labels)} labels for split {split!r}")
    return images, labels


def load_mnist_sample(return_labels: bool = False, dtype=np.float32):
    """The vendored MNIST sample: the first 300 test digits, ``(300, 28, 28)`` in ``[0, 1]``.

    With ``return_labels=True`` returns ``(images, labels)`` (labels ``(300,)`` int64). ``dtype=np.uint8``
    returns the raw bytes. MNIST is by Yann LeCun and Corinna Cortes, CC BY-SA 3.0.
    """
    with np.load(MNIST_SAMPLE_PATH) as npz:
        images = npz["images"]
        labels = npz["labels"].astype(np.int64)
    if np.dtype(dtype) != np.uint8:
        images = images.astype(dtype) / np.asarray(255, dtype=dtype)
    return (images, labels) if return_labels else images
