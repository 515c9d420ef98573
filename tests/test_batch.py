"""ppsolve.batch without a cluster (Dask's threaded scheduler): listing, names, references, skips, clashes."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("dask", reason="batches need the dask extra: pip install 'ppsolve[dask]'")

from ppsolve.batch import images_in, images_listed, output_name, reference_for, restore_batch  # noqa: E402
from ppsolve.imagefile import write_image  # noqa: E402

from .test_blockwise import _observation  # noqa: E402


def test_folders_lists_and_names(tmp_path):
    for name in ("b.png", "a.JPG", "c.tif", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    assert [p.name for p in images_in(tmp_path)] == ["a.JPG", "b.png", "c.tif"]
    listing = tmp_path / "list.txt"
    listing.write_text("# comment\n\nb.png\n/abs/x.png\n")
    assert images_listed(listing) == [tmp_path / "b.png", Path("/abs/x.png")]
    assert output_name(tmp_path / "a.JPG", tmp_path / "out") == tmp_path / "out" / "a.png"
    assert output_name(tmp_path / "c.tif", tmp_path / "out") == tmp_path / "out" / "c.tif"
    assert output_name(tmp_path / "c.tif", tmp_path / "out", "png") == tmp_path / "out" / "c.png"
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / "b.tif").write_bytes(b"")
    assert reference_for(tmp_path / "b.png", refs) == refs / "b.tif" and reference_for(tmp_path / "z.png", refs) is None
    with pytest.raises(NotADirectoryError):
        images_in(tmp_path / "b.png")
    with pytest.raises(FileNotFoundError, match="--list"):
        images_listed(tmp_path / "missing.txt")


def test_a_batch_without_a_cluster_restores_skips_and_refuses_clashes(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "a.png", _observation(32, seed=1))
    write_image(src / "b.png", _observation(32, seed=2))
    first = restore_batch(sorted(src.iterdir()), tmp_path / "out", noise=0.01)
    assert first.summary()["restored"] == 2 and first.summary()["images_per_second"] > 0
    again = restore_batch(sorted(src.iterdir()), tmp_path / "out", noise=0.01)
    assert again.summary()["skipped"] == 2 and again.reports == []
    redo = restore_batch(sorted(src.iterdir()), tmp_path / "out", noise=0.01, skip_existing=False)
    assert redo.summary()["restored"] == 2
    write_image(src / "a.tif", _observation(32, seed=3))
    with pytest.raises(ValueError, match="both be written to"):
        restore_batch(sorted(src.iterdir()), tmp_path / "out", fmt="png", noise=0.01)
    with pytest.raises(ValueError, match="no image files"):
        restore_batch([], tmp_path / "out")
