"""The command line (ppsolve.cli, ppsolve._cli, python -m ppsolve.train): the main job, one-line errors,
outputs checked before any work."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ppsolve import zoo
from ppsolve.cli import main


def _run(*args, timeout=300):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, check=False)


def test_ppsolve_compare_runs_the_main_job(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["compare", "--sizes", "64", "--betas", "0.1", "--iters", "3", "--inverses", "fourier", "cg",
                 "learned", "--out", str(out), "--cache", str(tmp_path / "cache"), "--quiet", "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert "| learned |" in printed and "wrote" in printed
    rows = json.loads((out / "compare.json").read_text())["rows"]
    assert [r["inverse"] for r in rows] == ["fourier", "cg", "learned"]


@pytest.mark.parametrize("args, message", [
    (["-m", "ppsolve", "compare", "--sizes", "30"], "compare sizes: expected multiples of the sampling factor 4"),
    (["-m", "ppsolve.train", "mnist-dae", "--data", "/nonexistent"], "/nonexistent"),
    (["-m", "ppsolve", "train", "natural-gray", "--epochs", "0"], "--epochs 0: expected at least 1"),
])
def test_errors_print_one_line_and_exit_non_zero(args, message):
    done = _run(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr, done.stderr
    shown = _run(*args, "--traceback")
    assert shown.returncode != 0 and "Traceback" in shown.stderr


def test_training_outputs_are_checked_before_training(tmp_path, capsys):
    shipped = zoo.ZOO_DIR / "natural-gray.safetensors"
    before = shipped.read_bytes()
    assert main(["train", "natural-gray", "--out", str(shipped)]) == 2
    assert "inside the installed package's zoo" in capsys.readouterr().err and shipped.read_bytes() == before
    assert main(["train", "natural-gray", "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:  # CelebA's weights may never be shipped: no such option
        main(["train", "celeba-sr2-color", "--to-zoo"])
    assert stop.value.code == 2 and "unrecognized arguments: --to-zoo" in capsys.readouterr().err


def test_help_of_every_command():
    for args in (["-m", "ppsolve", "--help"], ["-m", "ppsolve", "compare", "--help"],
                 ["-m", "ppsolve", "train", "--help"], ["-m", "ppsolve.train", "natural-gray", "--help"]):
        done = _run(*args)
        assert done.returncode == 0 and "usage:" in done.stdout
    assert "--threads" in _run("-m", "ppsolve", "compare", "--help").stdout
