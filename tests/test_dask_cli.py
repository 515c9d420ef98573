"""ppsolve restore on Dask from the command line: a large image block by block (killed and resumed), a folder
with a bad file, --list, and the options' one-line errors."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("distributed", reason="the Dask paths need the dask extra: pip install 'ppsolve[dask]'")
zarr = pytest.importorskip("zarr")

from ppsolve.blockwise import restore_lazy  # noqa: E402
from ppsolve.cli import main  # noqa: E402
from ppsolve.imagefile import write_image  # noqa: E402
from ppsolve.operators import motion_kernel  # noqa: E402

from .test_blockwise import _observation  # noqa: E402

LARGE = ["--motion", "5", "30", "--noise", "0.01", "--chunk", "24", "--margin", "16", "--workers", "1"]


def _run(capsys, *args):
    code = main(["restore", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def large_input(tmp_path_factory):
    folder = tmp_path_factory.mktemp("large")
    y = _observation(72, seed=7).astype(np.float32)
    z = zarr.create_array(folder / "y.zarr", shape=y.shape, chunks=(32, 32), dtype=np.float32)
    z[...] = y
    reference = restore_lazy(y.astype(np.float64), kernel=motion_kernel(5, 30), noise=0.01, chunk=24,
                             margin=16).compute(scheduler="sync")
    return folder / "y.zarr", reference


def test_a_large_image_killed_mid_run_resumes_from_the_blocks_written(large_input, tmp_path):
    source, reference = large_input
    out = tmp_path / "x.zarr"
    command = [sys.executable, "-m", "ppsolve", "restore", str(source), "-o", str(out), *LARGE, "--quiet"]
    first = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while not (out / "c").exists() or not any(p.is_file() for p in (out / "c").rglob("*")):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "no block written in 3 minutes"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)  # the command, its scheduler and its worker, at once
    first.wait()
    done = run = subprocess.run(command + ["--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["blocks_skipped"] >= 1 and summary["blocks_skipped"] + summary["blocks_restored"] == 9
    np.testing.assert_array_equal(zarr.open_array(out)[...], reference.astype(np.float32))


def test_a_folder_and_a_list_restore_each_image_and_report_the_bad_one(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(2):
        write_image(src / f"a{i}.png", _observation(40, seed=i))
    (src / "bad.png").write_bytes(b"nope")
    code, out, err = _run(capsys, src, "-o", tmp_path / "out", "--noise", "0.01", "--workers", "1", "--quiet")
    assert code == 1  # the others were restored; the failure is reported after them
    assert "bad.png: skipped:" in err and "Traceback" not in err
    assert "3 image(s): 2 restored, 0 already done, 1 failed" in out
    listing = tmp_path / "list.txt"
    listing.write_text("# two of them\nin/a0.png\n\nin/a1.png\n")
    code, out, err = _run(capsys, "--list", listing, "-o", tmp_path / "out", "--noise", "0.01", "--workers", "1",
                          "--quiet", "--json")
    assert code == 0 and json.loads(out.splitlines()[-1])["summary"]["skipped"] == 2


@pytest.mark.parametrize("args,message", [
    (["{img}", "-o", "{tmp}/o.png", "--workers", "2"], "are for a folder, --list or a large image"),
    (["{tmp}/big.zarr", "-o", "{tmp}/o.png", "--noise", "0.01"], "written to a Zarr folder (.zarr) or a TIFF"),
    (["{tmp}/big.zarr", "-o", "{tmp}/o.zarr", "--inverse", "learned", "--noise", "0.01"], "trained per operator"),
    (["-o", "{tmp}/o"], "expected an image file, a folder or --list FILE"),
    (["{img}", "-o", "{tmp}/o.png", "--chunk", "0"], "expected a positive integer"),
    (["--list", "{tmp}/missing.txt", "-o", "{tmp}/o"], "no such file"),
])
def test_bad_options_get_one_line_and_a_non_zero_exit(tmp_path, capsys, args, message):
    img = tmp_path / "a.png"
    write_image(img, _observation(32))
    zarr.create_array(tmp_path / "big.zarr", shape=(40, 40), chunks=(20, 20), dtype=np.float32)
    args = [a.format(tmp=tmp_path, img=img) for a in args]
    try:
        code, out, err = _run(capsys, *args, "--quiet", "--workers", "1") if "--workers" not in args else \
            _run(capsys, *args, "--quiet")
    except SystemExit as exit_:  # argparse's own errors
        code, err = exit_.code, capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_a_running_scheduler_is_used_by_address(tmp_path, capsys):
    from ppsolve import cluster

    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "a.png", _observation(32))
    with cluster.client(workers=1, quiet=True) as c:
        address = c.scheduler.address
        code, out, err = _run(capsys, src, "-o", tmp_path / "out", "--noise", "0.01", "--scheduler", address, "--json")
        processed = c.run(lambda dask_worker: len(dask_worker.state.log))  # its worker ran the task
    assert code == 0 and json.loads(out.splitlines()[-1])["summary"]["restored"] == 1
    assert f"at {address}" in err and list(processed.values())[0] > 0
    with pytest.raises(ValueError, match="workers of a running cluster are its own"):
        with cluster.client(workers=2, scheduler="tcp://127.0.0.1:1"):
            pass
