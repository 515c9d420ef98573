"""ppsolve.inverses.cache: learned inverses trained on demand, cached by operator fingerprint and beta."""
from __future__ import annotations

import numpy as np
import pytest

from ppsolve.inverses import LearnedInverse
from ppsolve.inverses import cache as cache_module
from ppsolve.inverses.learned_training import DEFAULT_TRAINING
from ppsolve.operators import motion_kernel, valid_convolution


@pytest.fixture
def quick(monkeypatch, tmp_path):
    """A cache folder of the test's own and 40-step trainings."""
    monkeypatch.setenv("PPSOLVE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(DEFAULT_TRAINING, "linear", {**DEFAULT_TRAINING["linear"], "steps": 40})
    return tmp_path / "cache"


def test_trains_once_then_loads_from_the_cache(quick, monkeypatch):
    A = valid_convolution(motion_kernel(5, 30), (16, 16))
    first = cache_module.learned_inverse(A, 0.05, progress=False)
    files = sorted((quick / "inverses").iterdir())
    assert len(files) == 1 and A.fingerprint() in files[0].name and "beta0.05" in files[0].name
    trainings = []
    real_train = LearnedInverse.train
    monkeypatch.setattr(LearnedInverse, "train", classmethod(
        lambda cls, *a, **k: trainings.append(a) or real_train.__func__(cls, *a, **k)))
    again = cache_module.learned_inverse(A, 0.05, progress=False)
    b = np.random.default_rng(0).standard_normal(A.in_shape)
    assert np.array_equal(first.solve(b), again.solve(b))  # the same network, read back
    assert len(sorted((quick / "inverses").iterdir())) == 1
    cache_module.learned_inverse(A, 0.1, progress=False)  # another beta: another file
    other = valid_convolution(motion_kernel(5, 60), (16, 16))
    cache_module.learned_inverse(other, 0.05, progress=False)  # another operator: another file
    assert len(sorted((quick / "inverses").iterdir())) == 3


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PPSOLVE_CACHE", str(tmp_path / "here"))
    assert cache_module.cache_folder() == tmp_path / "here"
    monkeypatch.delenv("PPSOLVE_CACHE")
    assert cache_module.cache_folder().name == "ppsolve"


@pytest.mark.parametrize("inverse", ["learned", "learned-pcg", "cg"])
def test_restore_image_with_each_inverse_on_the_unknown_boundary(quick, inverse, capsys):
    """The photo path's --inverse choices on the valid model (no closed form): each trains what it needs into
    the cache (one learned inverse per stage's beta, quietly unless asked) and restores. CG, and CG with the
    learned preconditioner, restore a small blurred scene better than its input whatever the preconditioner's
    quality; the learned inverse alone, after 40 training steps, is only checked to run (its error at small
    beta is amplified by ||A||^2 / beta: it needs its full training)."""
    from scipy.ndimage import correlate, gaussian_filter

    from ppsolve import restore_image

    rng = np.random.default_rng(0)
    scene = np.clip(4 * gaussian_filter(rng.random((40, 40)), 2) - 1.5, 0, 1)
    k = motion_kernel(5, 30)
    x = scene[4:-4, 4:-4]
    y = correlate(scene, k, mode="reflect")[4:-4, 4:-4] + 0.01 * rng.standard_normal(x.shape)
    out = restore_image(y, kernel=k, noise=0.01, inverse=inverse)
    assert out.x.shape == x.shape and np.all(np.isfinite(out.x))
    assert "LearnedInverse" not in capsys.readouterr().err
    if inverse != "cg":
        assert len(list((quick / "inverses").iterdir())) == len(out.stages)  # one per stage's beta
    if inverse != "learned":
        assert np.mean((out.x - x) ** 2) < 0.5 * np.mean((y - x) ** 2)
