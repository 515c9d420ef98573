"""Every Python block of README.md runs, each on its own in a fresh interpreter (so none relies on another's
names), in an empty working folder."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.M | re.S)


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs_on_its_own(index, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "PPSOLVE_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", BLOCKS[index]], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, f"README block {index + 1} failed:\n{BLOCKS[index]}\n{done.stderr[-3000:]}"
