"""Shared test set-up: the ``shared_data`` fixture and the hypothesis profiles."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

from ppsolve.operators import Convolution, motion_kernel

REPO = Path(__file__).resolve().parent.parent

# The tests' tensors are tiny: torch's thread pool only adds latency, and on a busy 2-core machine two threads
# contending made the learned-inverse tests 10x slower (190 s instead of 17 s).
torch.set_num_threads(1)

# "ci": reproducible (derandomize) and a little wider; "dev": quick. No deadlines: timings vary on shared CPUs.
settings.register_profile(
    "ci", deadline=None, max_examples=40, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def shared_data_dir() -> Path | None:
    """The real-image data folder: ``$PPSOLVE_DATA`` if set, else ``<repo>/../shared/data``; None if absent."""
    env = os.environ.get("PPSOLVE_DATA")
    path = Path(env).expanduser() if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the shared data folder (read-only; e.g. ``shared_data / "set12"``); skips the test if absent."""
    path = shared_data_dir()
    if path is None:
        where = os.environ.get("PPSOLVE_DATA") or str(REPO.parent / "shared" / "data")
        pytest.skip(f"shared data folder not found: {where} (set PPSOLVE_DATA)")
    return path


@pytest.fixture(scope="module")
def blur():
    """A small periodic motion-blur problem ``(A, x, y)`` shared by the staged-ADMM and restore tests."""
    A = Convolution(motion_kernel(5, 30, 5), (24, 24))
    rng = np.random.default_rng(0)
    x = A.adjoint(A.apply(rng.random((24, 24))))
    return A, x, A.apply(x) + 0.01 * rng.standard_normal((24, 24))
