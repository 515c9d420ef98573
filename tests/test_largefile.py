"""ppsolve.largefile: lazy regions of Zarr / TIFF / arrays, and the block output (atomic chunks, resume, TIFF)."""
from __future__ import annotations

import numpy as np
import pytest

zarr = pytest.importorskip("zarr", reason="large images need the dask extra: pip install 'ppsolve[dask]'")
tifffile = pytest.importorskip("tifffile")

from ppsolve.largefile import BlockOutput, LargeImage  # noqa: E402


def _image(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, np.iinfo(dtype).max + 1, size=shape, dtype=dtype)
    return rng.random(shape).astype(dtype)


@pytest.mark.parametrize("kind", ["zarr", "tiff", "array"])
@pytest.mark.parametrize("shape,dtype", [((70, 90), np.uint8), ((3, 70, 90), np.uint16), ((70, 90), np.float32)])
def test_regions_come_back_on_the_unit_scale_in_channel_first_layout(tmp_path, kind, shape, dtype):
    data = _image(shape, dtype)
    scale = {np.uint8: 255.0, np.uint16: 65535.0}.get(dtype, 1.0)
    if kind == "zarr":
        source = tmp_path / "im.zarr"
        z = zarr.create_array(source, shape=shape, chunks=(32,) * len(shape), dtype=dtype)
        z[...] = data
    elif kind == "tiff":  # colour TIFFs are interleaved RGB (H, W, 3), tiled
        source = tmp_path / "im.tif"
        stored = np.moveaxis(data, 0, -1) if len(shape) == 3 else data
        tifffile.imwrite(source, stored, tile=(32, 32), photometric="rgb" if len(shape) == 3 else "minisblack")
    else:
        source = data
    image = LargeImage(source)
    assert image.shape == shape and image.size == shape[-2:]
    region = image.read(slice(10, 45), slice(33, 80))
    assert region.dtype == np.float64 and region.shape == shape[:-2] + (35, 47)
    np.testing.assert_array_equal(region, data[..., 10:45, 33:80].astype(np.float64) / scale)


def test_bad_sources_get_one_line_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such image"):
        LargeImage(tmp_path / "missing.zarr")
    (tmp_path / "a.png").write_bytes(b"x")
    with pytest.raises(ValueError, match="expected a Zarr folder"):
        LargeImage(tmp_path / "a.png")
    (tmp_path / "bad.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(ValueError, match="not a readable TIFF"):
        LargeImage(tmp_path / "bad.tif")
    with pytest.raises(ValueError, match=r"expected an image \(H, W\)"):
        LargeImage(np.zeros((2, 5, 5)))
    with pytest.raises(ValueError, match="8- or 16-bit unsigned or float"):
        LargeImage(np.zeros((5, 5), np.int32))


def test_blocks_are_chunks_written_once_and_an_output_resumes_only_with_its_settings(tmp_path):
    out = BlockOutput(tmp_path / "x.zarr", (3, 50, 60), 32, np.uint8, {"noise": 0.01})
    assert out.grid() == [(0, 0), (0, 1), (1, 0), (1, 1)] and out.done() == set()
    block = np.full((3, 18, 28), 0.5)
    out.write((1, 1), block)
    assert out.done() == {(1, 1)}
    assert not list((tmp_path / "x.zarr").rglob("*.partial"))  # Zarr's temporary files are renamed
    again = BlockOutput(tmp_path / "x.zarr", (3, 50, 60), 32, np.uint8, {"noise": 0.01})
    assert again.done() == {(1, 1)}
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "x.zarr")[:, 32:, 32:], 128)
    with pytest.raises(ValueError, match=r"other settings \(noise\)"):
        BlockOutput(tmp_path / "x.zarr", (3, 50, 60), 32, np.uint8, {"noise": 0.02})
    with pytest.raises(ValueError, match="other settings"):
        BlockOutput(tmp_path / "x.zarr", (3, 50, 60), 16, np.uint8, {"noise": 0.01})
    zarr.create_array(tmp_path / "theirs.zarr", shape=(4, 4), dtype=np.uint8)
    with pytest.raises(ValueError, match="not a ppsolve output"):
        BlockOutput(tmp_path / "theirs.zarr", (4, 4), 32, np.uint8, {})
    with pytest.raises(RuntimeError, match="3 block"):
        out.finish()


@pytest.mark.parametrize("shape,dtype", [((40, 100), np.uint16), ((3, 64, 48), np.uint8), ((40, 100), np.float32)])
def test_a_tiff_output_is_streamed_from_its_blocks_and_the_blocks_removed(tmp_path, shape, dtype):
    target = tmp_path / "x.tif"
    out = BlockOutput(target, shape, 32, dtype, {})
    x = np.random.default_rng(1).random(shape)
    for index in out.grid():
        rows, cols = out.region(index)
        out.write(index, x[..., rows, cols])
    assert not target.exists()
    assert out.finish() == target and not out.store.exists()
    back = tifffile.imread(target)
    scale = {np.uint8: 255.0, np.uint16: 65535.0}.get(dtype)
    expected = np.rint(x * scale).astype(dtype) if scale else x.astype(dtype)
    np.testing.assert_array_equal(back, expected)
    with pytest.raises(ValueError, match="multiples of 16"):
        BlockOutput(tmp_path / "y.tif", shape, 40, dtype, {})
