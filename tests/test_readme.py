"""Every code block of README.md runs, each on its own in a fresh process (so none relies on another's names),
in an empty working folder that holds only a link to the repository's ``docs/`` and ``examples/`` (the photo
workflow's files). Python blocks run in a fresh interpreter; shell blocks in bash, except the install lines
(``python3 -m venv ... pip install``), which ``.ci/run`` and the set-up run as written."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text()
PYTHON = re.findall(r"^```python\n(.*?)^```", TEXT, flags=re.M | re.S)
SHELL = re.findall(r"^```bash\n(.*?)^```", TEXT, flags=re.M | re.S)
INSTALL = re.compile(r"^python3 -m venv .*pip install", re.M)


def _commands(block: str) -> str:
    """A shell block without its install lines (``ppsolve`` is installed where the tests run)."""
    return "\n".join(line for line in block.splitlines() if not INSTALL.match(line))


RUNNABLE_SHELL = [b for b in SHELL if _commands(b).strip()]


def _folder(tmp_path: Path) -> Path:
    for name in ("docs", "examples"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    return tmp_path


def _run(args, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "PPSOLVE_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(args, cwd=_folder(tmp_path), env=env, capture_output=True, text=True, timeout=900,
                          check=False)


def test_the_readme_has_code_blocks():
    assert len(PYTHON) >= 5 and len(RUNNABLE_SHELL) >= 2
    assert all(INSTALL.search(b) for b in SHELL if not _commands(b).strip())


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(PYTHON)))
def test_readme_python_block_runs_on_its_own(index, tmp_path):
    done = _run([sys.executable, "-c", PYTHON[index]], tmp_path)
    assert done.returncode == 0, f"README block {index + 1} failed:\n{PYTHON[index]}\n{done.stderr[-3000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(RUNNABLE_SHELL)))
def test_readme_shell_block_runs_on_its_own(index, tmp_path):
    block = _commands(RUNNABLE_SHELL[index])
    done = _run(["bash", "-euo", "pipefail", "-c", block], tmp_path)
    assert done.returncode == 0, f"README shell block failed:\n{block}\n{done.stderr[-3000:]}"
