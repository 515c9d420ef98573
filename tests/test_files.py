"""ppsolve.files: atomic writes through symlinks, refusing devices / FIFOs / directories, stale temporaries."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ppsolve import files
from ppsolve.files import atomic_write, output_target, remove_stale_temporaries


def test_atomic_write_replaces_and_keeps_the_mode(tmp_path):
    path = tmp_path / "deep" / "f.bin"
    assert atomic_write(path, b"one") == path
    os.chmod(path, 0o640)
    atomic_write(path, lambda f: f.write(b"two"))
    assert path.read_bytes() == b"two" and path.stat().st_mode & 0o777 == 0o640
    assert os.listdir(path.parent) == ["f.bin"]


def test_a_crash_mid_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "f.bin"
    atomic_write(path, b"old")

    def dying(f):
        f.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, dying)

    def interrupted(f):
        f.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, interrupted)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.bin"]


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "real.bin"
    real.write_bytes(b"before")
    link = tmp_path / "link.bin"
    link.symlink_to(real)
    chain = tmp_path / "chain.bin"
    chain.symlink_to(link)
    atomic_write(chain, b"after")
    assert chain.is_symlink() and link.is_symlink() and real.read_bytes() == b"after"
    dangling = tmp_path / "dangling.bin"
    dangling.symlink_to(tmp_path / "sub" / "target.bin")
    atomic_write(dangling, b"made")
    assert dangling.is_symlink() and (tmp_path / "sub" / "target.bin").read_bytes() == b"made"


def test_devices_fifos_and_directories_are_refused_untouched(tmp_path):
    with pytest.raises(ValueError, match="is a character device"):
        atomic_write("/dev/null", b"x")
    assert not os.path.isfile("/dev/null")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="is a FIFO"):
        atomic_write(fifo, b"x")
    link = tmp_path / "to-null"
    link.symlink_to("/dev/null")
    with pytest.raises(ValueError, match="character device"):
        atomic_write(link, b"x")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        atomic_write(tmp_path, b"x")
    assert sorted(os.listdir(tmp_path)) == ["pipe", "to-null"]
    with pytest.raises(ValueError, match="empty path"):
        output_target("")


_KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    from ppsolve.files import atomic_write

    def write(f):
        f.write(b"x" * 1000)
        f.flush()
        print("writing", flush=True)
        signal.pause()  # killed here, before the rename

    atomic_write(sys.argv[1], write)
""")


def _start_writer(path):
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    return proc


def _temporaries(path):
    return sorted(n for n in os.listdir(path.parent) if n.startswith(f".{path.name}.") and n.endswith(".tmp"))


@pytest.mark.skipif(files.fcntl is None, reason="needs fcntl (POSIX) locks")
def test_temporaries_of_killed_writers_do_not_pile_up_and_a_live_writers_is_kept(tmp_path):
    """Ten saves of a 128 MiB file killed with SIGKILL left 7 temporaries (242 MiB); now each save removes the
    stale ones of its target first, and never the temporary a live writer is filling."""
    path = tmp_path / "model.safetensors"
    for _ in range(3):  # saves killed with SIGKILL before their rename
        proc = _start_writer(path)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert len(_temporaries(path)) == 1
    stale = set(_temporaries(path))
    atomic_write(tmp_path / "other.bin", b"unrelated")  # another target's save leaves them alone
    assert set(_temporaries(path)) == stale
    live = _start_writer(path)  # a concurrent writer, still at work: it removed the stale one
    try:
        live_tmp = set(_temporaries(path))
        assert len(live_tmp) == 1 and not live_tmp & stale
        atomic_write(path, b"done")
        assert set(_temporaries(path)) == live_tmp  # the live writer's file survives
        assert remove_stale_temporaries(path) == []
    finally:
        live.kill()
        live.wait()
    assert path.read_bytes() == b"done"
    assert len(remove_stale_temporaries(path)) == 1 and _temporaries(path) == []
