"""Block-wise restoration and batches on a real dask.distributed LocalCluster of 2 workers: the same output as
Dask's threaded scheduler, bitwise, also when a worker is killed in the middle of a run."""
from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

pytest.importorskip("distributed", reason="the cluster tests need the dask extra: pip install 'ppsolve[dask]'")
zarr = pytest.importorskip("zarr")
dask = pytest.importorskip("dask")

from ppsolve import cluster  # noqa: E402
from ppsolve.batch import restore_batch  # noqa: E402
from ppsolve.blockwise import restore_large  # noqa: E402
from ppsolve.imagefile import read_image, write_image  # noqa: E402

from .test_blockwise import KERNEL, _observation  # noqa: E402

OPTIONS = {"kernel": KERNEL, "noise": 0.01, "chunk": 24, "margin": 16}


@pytest.fixture(scope="module")
def client():
    with cluster.client(workers=2, threads_per_worker=1, quiet=True) as c:
        yield c


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory):
    """The block-wise result on the threaded scheduler in this process (one thread per task)."""
    y = _observation(72, seed=5)
    out = tmp_path_factory.mktemp("ref") / "x.zarr"
    restore_large(y, out, **OPTIONS)
    return y, zarr.open_array(out)[...]


def test_workers_start_with_one_thread_per_task(client):
    expected = cluster.worker_environment(1)
    env = client.run(lambda: {k: os.environ.get(k) for k in expected})
    assert len(env) == 2 and all(e == expected for e in env.values())
    # without Dask's MALLOC_TRIM_THRESHOLD_ (glibc's dynamic mmap threshold stays on), its profiler off
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        assert set(client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()) == {None}
    profiling = client.run(lambda: dask.config.get("distributed.worker.profile.enabled"))
    assert set(profiling.values()) == {False}
    assert all(w["nthreads"] == 1 for w in client.scheduler_info()["workers"].values())


def test_the_cluster_gives_the_threaded_result_bitwise(client, undisturbed, tmp_path):
    y, reference = undisturbed
    result = restore_large(y, tmp_path / "x.zarr", client=client, **OPTIONS)
    assert result.restored == 9 and len(result.peak_rss_per_worker()) == 2  # both workers took blocks
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "x.zarr")[...], reference)


def test_a_worker_killed_mid_run_loses_nothing(client, undisturbed, tmp_path):
    y, reference = undisturbed
    out = tmp_path / "x.zarr"
    pids = client.run(os.getpid)
    outcome = {}
    run = threading.Thread(target=lambda: outcome.update(result=restore_large(y, out, client=client, **OPTIONS)))
    run.start()
    deadline = time.monotonic() + 120
    while not list((out / "c").rglob("*")) if out.exists() else True:  # the first block is written
        assert time.monotonic() < deadline, "no block written in 2 minutes"
        time.sleep(0.05)
    written_before = sum(1 for p in (out / "c").rglob("*") if p.is_file())
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    run.join(timeout=300)
    assert "result" in outcome, "the run did not finish after the worker was killed"
    assert written_before < 9  # the kill came in the middle of the run
    assert victim not in client.run(os.getpid).values()  # a new worker process replaced it
    np.testing.assert_array_equal(zarr.open_array(out)[...], reference)


def test_a_batch_on_the_cluster_skips_a_bad_file_and_reruns_skip_finished_outputs(client, tmp_path):
    src, refs, out = tmp_path / "in", tmp_path / "refs", tmp_path / "out"
    src.mkdir(), refs.mkdir()
    for i in range(3):
        sharp = _observation(40, seed=i)
        write_image(refs / f"im{i}.png", sharp)
        write_image(src / f"im{i}.png", sharp)  # denoising: the references are the inputs themselves
    (src / "broken.png").write_bytes(b"not a png")
    first = restore_batch(sorted(src.iterdir()), out, client=client, reference_dir=refs, noise=0.01)
    summary = first.summary()
    assert (summary["restored"], summary["failed"], summary["skipped"]) == (3, 1, 0)
    assert "broken.png" in first.failures[0]["input"] and first.failures[0]["error"]
    assert summary["mean_psnr"] > 30 and sorted(p.name for p in out.iterdir()) == ["im0.png", "im1.png", "im2.png"]
    assert read_image(out / "im0.png").pixels.shape == (40, 40)
    again = restore_batch(sorted(src.iterdir()), out, client=client, noise=0.01)
    assert again.summary()["skipped"] == 3 and again.summary()["restored"] == 0 and len(again.failures) == 1
