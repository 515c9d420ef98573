"""ppsolve.blockwise: the block geometry, stitched estimates against the whole image's, noise from samples,
and the Dask runs (threaded scheduler here; a LocalCluster with a killed worker in test_cluster.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.signal import fftconvolve

pytest.importorskip("dask", reason="block-wise restoration needs the dask extra: pip install 'ppsolve[dask]'")
pytest.importorskip("zarr")

from ppsolve import blockwise  # noqa: E402
from ppsolve.blockwise import block_pieces, default_margin, estimate_noise_sampled, restore_large, restore_lazy  # noqa: E402
from ppsolve.largefile import LargeImage  # noqa: E402
from ppsolve.operators import motion_kernel  # noqa: E402
from ppsolve.photo import restore_image  # noqa: E402

KERNEL = motion_kernel(5, 30)


def _observation(n=72, seed=0, colour=False):
    rng = np.random.default_rng(seed)
    from scipy.ndimage import gaussian_filter
    shape = (3, n + 4, n + 4) if colour else (n + 4, n + 4)
    x = np.clip(3 * gaussian_filter(rng.random(shape), (0, 2, 2) if colour else 2) - 1, 0, 1)
    k = KERNEL[None] if colour else KERNEL
    y = fftconvolve(x, k, mode="valid", axes=(-2, -1))
    return np.clip(y + 0.01 * rng.standard_normal(y.shape), 0, 1)


@given(h=st.integers(1, 90), w=st.integers(1, 90), chunk=st.integers(1, 40), margin=st.integers(0, 50))
def test_interiors_tile_the_image_once_and_pieces_add_the_margin_clipped(h, w, chunk, margin):
    count = np.zeros((h, w), int)
    for (i, j), (rows, cols), (prows, pcols) in block_pieces((h, w), chunk, margin):
        count[rows, cols] += 1
        assert rows.start == i * chunk and cols.start == j * chunk
        assert prows.start == max(0, rows.start - margin) and prows.stop == min(h, rows.stop + margin)
        assert pcols.start == max(0, cols.start - margin) and pcols.stop == min(w, cols.stop + margin)
    assert (count == 1).all()


def test_the_default_margin_adds_the_blur_and_prior_reaches():
    r = blockwise.reach(KERNEL, prior="natural-gray")
    assert r["blur"] == 2 and r["prior"] > 0 and r["factor"] == 1
    assert default_margin(KERNEL) == 8 * -(-4 * (2 + r["prior"]) // 8)
    assert default_margin(motion_kernel(21, 0)) > default_margin(KERNEL)  # a longer blur, more context
    assert default_margin(sr=4) == 8 * -(-4 * (8 + r["prior"]) // 32)  # in the low-resolution pixels
    assert blockwise.default_chunk(128) == 768 and blockwise.default_chunk(40, 4) == 176
    # the unknown-boundary estimate is 2 r_blur wider: 752 + 2 x 128 + 8 = 1016 fits the tile, 768's 1032 would not
    assert blockwise.default_chunk(128, border=8) == 752
    assert blockwise.default_chunk(600) == 64  # never below 64


@pytest.mark.parametrize("colour", [False, True])
def test_with_a_margin_past_the_image_the_blocks_are_the_whole_image_restore(colour):
    y = _observation(56, colour=colour)
    options = {"kernel": KERNEL, "noise": 0.01}
    whole = restore_image(y, **options).x
    stitched = restore_lazy(y, chunk=24, margin=64, **options).compute(scheduler="sync")
    np.testing.assert_array_equal(stitched, whole)


def test_super_resolution_blocks_are_factor_times_larger_and_exact_with_a_wide_margin():
    y = _observation(30)[:27, :30]
    whole = restore_image(y, sr=2, noise=0.01).x
    lazy = restore_lazy(y, sr=2, noise=0.01, chunk=16, margin=40)
    assert lazy.shape == (54, 60) and lazy.chunks == ((32, 22), (32, 28))
    np.testing.assert_array_equal(lazy.compute(scheduler="sync"), whole)


def test_a_small_margin_differs_near_block_edges_and_the_default_is_close():
    y = _observation(64)
    whole = restore_image(y, kernel=KERNEL, noise=0.01).x
    errors = {m: np.abs(restore_lazy(y, kernel=KERNEL, noise=0.01, chunk=32, margin=m).compute(scheduler="sync")
                        - whole).max() for m in (0, default_margin(KERNEL))}
    assert errors[0] > 10 / 255  # cutting without context leaves seams: the comparison can fail
    assert errors[default_margin(KERNEL)] < errors[0] / 4


def test_noise_is_estimated_on_sampled_blocks_close_to_the_truth():
    rng = np.random.default_rng(3)
    y = 0.5 + 0.02 * rng.standard_normal((400, 300))
    assert estimate_noise_sampled(LargeImage(y), chunk=64) == pytest.approx(0.02, rel=0.1)


def test_restore_large_writes_zarr_and_tiff_and_resumes_after_an_interrupt(tmp_path, monkeypatch):
    import tifffile
    import zarr

    y = _observation(64)
    options = {"kernel": KERNEL, "noise": 0.01, "chunk": 32, "margin": 16}
    reference = restore_lazy(y, **options).compute(scheduler="sync")
    full = restore_large(y, tmp_path / "a.zarr", **options)
    assert (full.restored, full.skipped) == (4, 0) and full.margin == 16
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "a.zarr")[...], reference.astype(np.float32))

    calls = []
    real = blockwise.restore_block

    def interrupted(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(blockwise, "restore_block", interrupted)
    with pytest.raises(KeyboardInterrupt):
        restore_large(y, tmp_path / "b.tif", dtype=np.uint8, **options)
    monkeypatch.setattr(blockwise, "restore_block", real)
    resumed = restore_large(y, tmp_path / "b.tif", dtype=np.uint8, **options)
    assert resumed.skipped >= 1 and resumed.skipped + resumed.restored == 4 and not (tmp_path / "b.tif.blocks.zarr").exists()
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "b.tif"), np.rint(reference * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="other settings"):
        restore_large(y, tmp_path / "a.zarr", **{**options, "noise": 0.02})


def test_learned_inverses_are_refused_for_blocks():
    with pytest.raises(ValueError, match="trained per operator"):
        restore_lazy(np.zeros((40, 40)), kernel=KERNEL, noise=0.01, inverse="learned")
