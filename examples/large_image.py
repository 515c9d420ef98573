r"""Inputs for the Dask commands: a large TIFF and a folder
=======================================================

Make inputs for the Dask commands: a large blurred TIFF, written block by block, and a folder of photos. ::

    python examples/large_image.py --size 512 --out big

The scene is a mosaic of ``docs/images/astronaut.png`` (grey, 256 x 256, NASA, public domain), mirrored from
tile to tile so that it has no seams, ``size + 8`` pixels a side. Dask builds it block by block, correlates it
as a whole with the 9 x 9 motion kernel ``motion_kernel(9, 30)`` (``map_overlap``), keeps the central
``size x size`` (the scene goes on past the frame), adds noise N(0, 0.01^2) and writes each block as a tile of
an 8-bit tiled BigTIFF: no process holds the whole image. Then ``ppsolve restore`` restores it block by block::

    ppsolve restore big/blurred.tif --motion 9 30 --noise 0.01 --chunk 256 -o big/restored.tif --workers 2

``--folder`` also writes four 128 x 128 crops of the blurred mosaic (PNG), and their sharp crops in
``<folder>-sharp``, for ``ppsolve restore FOLDER -o OUT --reference FOLDER-sharp``.

Writes <out>/blurred.tif and <out>/sharp.tif (and the folders).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import dask.array as da
import numpy as np
import tifffile
from scipy.ndimage import correlate

from ppsolve.imagefile import read_image, write_image
from ppsolve.operators import motion_kernel

ROOT = Path(__file__).resolve().parents[1]
TILE = 128


def mosaic(size: int, chunk: int = TILE) -> da.Array:
    """The mirrored mosaic of the astronaut's grey picture, ``size x size``, as a lazy dask array."""
    photo = read_image(ROOT / "docs" / "images" / "astronaut.png").pixels.mean(axis=0).astype(np.float32)
    n = photo.shape[0]

    def fill(block, block_info=None):
        (r0, r1), (c0, c1) = block_info[None]["array-location"]
        rows, cols = np.arange(r0, r1) % (2 * n), np.arange(c0, c1) % (2 * n)
        rows, cols = np.where(rows < n, rows, 2 * n - 1 - rows), np.where(cols < n, cols, 2 * n - 1 - cols)
        return photo[np.ix_(rows, cols)]

    return da.zeros((size, size), dtype=np.float32, chunks=chunk).map_blocks(fill, dtype=np.float32)


def write_tiff(path: Path, image: da.Array) -> None:
    """An 8-bit tiled TIFF from a dask array, one block row of tiles computed at a time."""
    image = image.rechunk((TILE, image.shape[1]))

    def tiles():
        for band in image.blocks:  # rows of tiles, in the order TIFF stores them
            band = np.rint(np.clip(band.compute(), 0, 1) * 255).astype(np.uint8)
            for c in range(0, band.shape[1], TILE):
                yield band[:, c:c + TILE]

    tifffile.imwrite(path, tiles(), shape=image.shape, dtype=np.uint8, tile=(TILE, TILE), bigtiff=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=512, help="the blurred image's side (a multiple of 128)")
    p.add_argument("--out", type=Path, default=Path("big"))
    p.add_argument("--folder", type=Path, help="also write four blurred 128 x 128 crops into this folder")
    args = p.parse_args(argv)
    if args.size % TILE:
        p.error(f"--size: expected a multiple of {TILE}, got {args.size}")
    args.out.mkdir(parents=True, exist_ok=True)
    k = motion_kernel(9, 30).astype(np.float32)
    r = k.shape[0] // 2
    scene = mosaic(args.size + 2 * r)
    blurred = scene.map_overlap(lambda b: correlate(b, k, mode="reflect"), depth=r, boundary="reflect")
    frame = (slice(r, r + args.size), slice(r, r + args.size))
    noise = da.random.default_rng(0).standard_normal((args.size, args.size), chunks=TILE, dtype=np.float32)
    y = blurred[frame] + np.float32(0.01) * noise
    write_tiff(args.out / "blurred.tif", y)
    write_tiff(args.out / "sharp.tif", scene[frame])
    if args.folder is not None:
        args.folder.mkdir(parents=True, exist_ok=True)
        sharp = Path(f"{args.folder}-sharp")
        sharp.mkdir(parents=True, exist_ok=True)
        for i, (a, b) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
            crop = (slice(a * TILE, (a + 1) * TILE), slice(b * TILE, (b + 1) * TILE))
            write_image(args.folder / f"crop{i}.png", np.clip(y[crop].compute(), 0, 1), bit_depth=8)
            write_image(sharp / f"crop{i}.png", scene[frame][crop].compute(), bit_depth=8)
    print(f"wrote {args.out / 'blurred.tif'} and {args.out / 'sharp.tif'} ({args.size} x {args.size})"
          + (f", and 4 crops in {args.folder}" if args.folder else ""))


if __name__ == "__main__":
    main()
