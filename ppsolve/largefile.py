r"""Images larger than memory on disk: read by region, written block by block (``ppsolve.blockwise``).

``LargeImage(source)`` reads an image lazily: a Zarr array (a ``.zarr`` folder, or a ``zarr.Array``), a
(Big)TIFF file (tiled or in strips, through ``tifffile``'s Zarr view, so only the tiles a region touches are
read), or an array already in memory (NumPy or dask). Layout: ``(H, W)`` grey, or colour as ``(3, H, W)``
(Zarr, arrays) or ``(H, W, 3)`` (TIFF's interleaved RGB); ``read(rows, cols)`` always returns ``(H, W)`` or
``(3, H, W)`` float64 on the ``[0, 1]`` scale (8-bit / 16-bit integers divided by 255 / 65535, floats as
stored). The object is small and pickles to Dask workers, which open the file themselves.

``BlockOutput(path, shape, block, dtype, settings)`` is the output: a Zarr array whose chunks are the blocks,
so that every block is one chunk file, written atomically (Zarr's local store writes a temporary file and
renames it). ``done()`` lists the blocks already written: an interrupted run restarted with the same output
and the same ``settings`` (a JSON-able dict kept in the array's attributes) writes only the others; other
settings are refused. A ``.tif`` / ``.tiff`` target is built in a Zarr folder beside it (``NAME.tif.blocks.zarr``,
resumable the same way) and streamed tile by tile into a tiled BigTIFF by ``finish()``, written to a temporary
name and renamed, after which the folder is removed. Pixels are stored as ``dtype``: ``uint8`` / ``uint16``
rounded from ``[0, 1]``, or ``float32``.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

__all__ = ["BlockOutput", "LargeImage", "TIFF_SUFFIXES"]

TIFF_SUFFIXES = (".tif", ".tiff")
_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def _zarr():
    try:
        import zarr
    except ImportError:
        raise ImportError("large images need Zarr: pip install 'ppsolve[dask]'") from None
    return zarr


def _image_layout(shape, where: str) -> tuple[tuple[int, ...], bool]:
    """(the (H, W) / (3, H, W) shape, whether the stored array is channel-last)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        return shape, False
    if len(shape) == 3 and shape[0] == 3:
        return shape, False
    if len(shape) == 3 and shape[2] == 3:
        return (3, shape[0], shape[1]), True
    raise ValueError(f"{where}: expected an image (H, W), (3, H, W) or (H, W, 3), got shape {shape}")


class LargeImage:
    """A lazily read image (see the module docstring)."""

    def __init__(self, source):
        self._array = None
        self.path = None
        if isinstance(source, (str, os.PathLike)):
            self.path = Path(source)
            if not self.path.exists():
                raise FileNotFoundError(f"{self.path}: no such image")
            suffix = self.path.suffix.lower()
            if suffix not in TIFF_SUFFIXES and not (self.path.is_dir() and suffix == ".zarr"):
                raise ValueError(f"{self.path}: expected a Zarr folder (.zarr) or a TIFF file (.tif, .tiff)")
            self.kind = "tiff" if suffix in TIFF_SUFFIXES else "zarr"
            array = self._open()
        else:
            self.kind = "array"
            array = source
        if not hasattr(array, "shape") or not hasattr(array, "dtype"):
            raise TypeError(f"expected a Zarr / TIFF path or an array, got {type(source).__name__}")
        self.shape, self.channel_last = _image_layout(array.shape, str(self.path or "image"))
        self.dtype = np.dtype(array.dtype)
        if self.dtype not in _SCALE and self.dtype.kind != "f":
            raise ValueError(f"{self.path or 'image'}: expected 8- or 16-bit unsigned or float pixels, got {self.dtype}")
        if self.kind == "array":
            self._array = array

    def _open(self):
        zarr = _zarr()
        if self.kind == "zarr":
            return zarr.open_array(self.path, mode="r")
        import tifffile

        try:
            store = tifffile.imread(self.path, aszarr=True)
        except (tifffile.TiffFileError, ValueError, OSError) as err:
            raise ValueError(f"{self.path}: not a readable TIFF ({err})") from None
        array = zarr.open(store, mode="r")
        if not hasattr(array, "shape"):  # a pyramid or a multi-series file: the first, full-size level
            array = array["0"]
        return array

    def __getstate__(self):  # workers open the file themselves
        state = dict(self.__dict__)
        if self.kind != "array":
            state["_array"] = None
        return state

    @property
    def size(self) -> tuple[int, int]:
        return self.shape[-2], self.shape[-1]

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        """The region ``[rows, cols]`` as float64 on the ``[0, 1]`` scale, ``(h, w)`` or ``(3, h, w)``."""
        if self._array is None:
            self._array = self._open()
        if self.channel_last:
            region = np.moveaxis(np.asarray(self._array[rows, cols, :]), -1, 0)
        elif len(self.shape) == 3:
            region = np.asarray(self._array[:, rows, cols])
        else:
            region = np.asarray(self._array[rows, cols])
        scale = _SCALE.get(self.dtype)
        region = region.astype(np.float64)
        return region / scale if scale else region


def _encode(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    scale = _SCALE.get(np.dtype(dtype))
    if scale is None:
        return x.astype(dtype)
    return np.rint(np.clip(x, 0.0, 1.0) * scale).astype(dtype)


class BlockOutput:
    """The block-by-block output (see the module docstring)."""

    def __init__(self, path, shape, block: int, dtype, settings: dict):
        self.path = Path(path)
        self.tiff = self.path.suffix.lower() in TIFF_SUFFIXES
        if not self.tiff and self.path.suffix.lower() != ".zarr":
            raise ValueError(f"-o {self.path}: a large image is written to a Zarr folder (.zarr) or a TIFF (.tif)")
        if self.tiff and self.path.is_dir():
            raise ValueError(f"-o {self.path}: is a folder, expected a TIFF file name")
        self.store = self.path.with_name(self.path.name + ".blocks.zarr") if self.tiff else self.path
        self.shape = tuple(int(s) for s in shape)
        self.block = int(block)
        self.dtype = np.dtype(dtype)
        self.settings = json.loads(json.dumps(settings))  # what the attributes will give back
        self.chunks = self.shape[:-2] + (self.block, self.block)
        if self.tiff:
            self._tile()
        self._create_or_check()

    def _tile(self) -> int:
        tile = next((t for t in (512, 256, 128, 64, 32, 16) if self.block % t == 0), None)
        if tile is None:
            raise ValueError(f"-o {self.path}: TIFF tiles are multiples of 16 pixels; the output block ({self.block}) "
                             "is not (choose --chunk a multiple of 16)")
        return tile

    def _create_or_check(self) -> None:
        zarr = _zarr()
        if self.store.exists():
            try:
                array = zarr.open_array(self.store, mode="r")
                kept = array.attrs.asdict().get("ppsolve")
            except Exception:  # not a Zarr array, or not ours
                kept, array = None, None
            if kept is None:
                raise ValueError(f"-o {self.store}: exists and is not a ppsolve output; remove it or choose another")
            if kept != self.settings or tuple(array.shape) != self.shape or tuple(array.chunks) != self.chunks:
                changed = sorted(k for k in set(kept) | set(self.settings) if kept.get(k) != self.settings.get(k))
                raise ValueError(f"-o {self.store}: was started with other settings ({', '.join(changed) or 'shape'}); "
                                 "remove it to start again, or restore to another output")
            return
        array = zarr.create_array(self.store, shape=self.shape, chunks=self.chunks, dtype=self.dtype,
                                  fill_value=0, config={"write_empty_chunks": True})
        array.attrs["ppsolve"] = self.settings

    def __getstate__(self):
        return dict(self.__dict__)

    def grid(self) -> list[tuple[int, int]]:
        """Every block's (row, column) index."""
        n, m = -(-self.shape[-2] // self.block), -(-self.shape[-1] // self.block)
        return [(i, j) for i in range(n) for j in range(m)]

    def region(self, index) -> tuple[slice, slice]:
        i, j = index
        b = self.block
        return slice(i * b, min((i + 1) * b, self.shape[-2])), slice(j * b, min((j + 1) * b, self.shape[-1]))

    def _key(self, index) -> Path:
        lead = (0,) * (len(self.shape) - 2)
        return self.store.joinpath("c", *(str(k) for k in lead + tuple(index)))

    def done(self) -> set[tuple[int, int]]:
        """The blocks already written (each chunk file exists only once complete)."""
        return {index for index in self.grid() if self._key(index).is_file()}

    def write(self, index, x: np.ndarray) -> None:
        """Write block ``index`` (``x`` on ``[0, 1]``, shaped as its region) as one chunk, atomically."""
        rows, cols = self.region(index)
        array = _zarr().open_array(self.store, mode="r+")
        array[(slice(None),) * (len(self.shape) - 2) + (rows, cols)] = _encode(x, self.dtype)

    def finish(self) -> Path:
        """For a TIFF target: stream the blocks into the TIFF (temporary name, then renamed) and remove the Zarr
        folder. Returns the output's path."""
        missing = set(self.grid()) - self.done()
        if missing:
            raise RuntimeError(f"{self.path}: {len(missing)} block(s) not written yet")
        if not self.tiff:
            return self.path
        import tifffile

        array = _zarr().open_array(self.store, mode="r")
        tile = self._tile()
        colour = len(self.shape) == 3

        def tiles():
            planes = range(self.shape[0]) if colour else [None]
            for p in planes:
                for r in range(0, self.shape[-2], self.block):  # one block row in memory at a time
                    band = np.asarray(array[(p, slice(r, r + self.block)) if colour else (slice(r, r + self.block),)])
                    for t in range(0, band.shape[0], tile):
                        for c in range(0, self.shape[-1], tile):
                            yield band[t:t + tile, c:c + tile]

        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            tifffile.imwrite(tmp, tiles(), shape=self.shape, dtype=self.dtype, tile=(tile, tile), bigtiff=True,
                             photometric="rgb" if colour else "minisblack",
                             planarconfig="separate" if colour else None, compression=None)
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        shutil.rmtree(self.store)
        return self.path
