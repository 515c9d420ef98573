"""ppsolve.threads: the one knob (PPSOLVE_THREADS / --threads), honoured by the entry points and undone after."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ppsolve import LearnedInverse, restore, threads
from ppsolve.operators import gaussian_kernel, strided_convolution
from ppsolve.prox import L2


def test_parse_and_configured(monkeypatch):
    assert threads.parse("3") == 3 and threads.parse(2) == 2 and threads.parse("auto") is None
    for bad in ("0", "-1", "two", 1.5, True):
        with pytest.raises(ValueError, match="expected a positive number of threads"):
            threads.parse(bad)
    monkeypatch.delenv(threads.ENV, raising=False)
    assert threads.configured() == threads.DEFAULT == 1
    monkeypatch.setenv(threads.ENV, "auto")
    assert threads.configured() is None
    monkeypatch.setenv(threads.ENV, "nope")
    with pytest.raises(ValueError, match="PPSOLVE_THREADS"):
        threads.configured()


def test_limit_sets_and_restores(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    before = torch.get_num_threads()
    with threads.limit(2) as n:
        assert n == 2 and torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
    with threads.limit("auto") as n:
        assert n is None and torch.get_num_threads() == before


def test_training_and_restore_honour_the_knob(monkeypatch):
    monkeypatch.setenv(threads.ENV, "2")
    torch.set_num_threads(1)
    seen = []
    A = strided_convolution(gaussian_kernel(5, 1.0), (16, 16), 2)
    LearnedInverse.train(A, 0.1, steps=3, progress=False, callback=lambda step, loss: seen.append(
        torch.get_num_threads()))
    assert seen == [2, 2, 2] and torch.get_num_threads() == 1
    LearnedInverse.train(A, 0.1, steps=2, progress=False, threads=1,
                         callback=lambda step, loss: seen.append(torch.get_num_threads()))
    assert seen[-2:] == [1, 1]
    during = []
    y = A.apply(np.random.default_rng(0).random((16, 16)))
    restore(y, A, prior=L2(), stages=[(0.1, 2)], callback=lambda k, s: during.append(torch.get_num_threads()))
    assert during == [2, 2] and torch.get_num_threads() == 1
