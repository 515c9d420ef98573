"""ppsolve._validate: the one place for argument checks (types refused with TypeError, ranges with ValueError)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ppsolve._validate import batch_shape, choice, count, int_tuple, integer, interval, positive_int, real_number, shape


def test_integers():
    assert integer(np.int64(3), "n") == 3 and type(integer(np.int64(3), "n")) is int
    assert positive_int(1, "n") == 1 and count(0, "n") == 0 and integer(5, "n", 1, 5) == 5
    for bad in (2.5, 3.0, float("nan"), float("inf"), "3", None, True, np.bool_(True)):
        with pytest.raises(TypeError, match="n: expected"):
            positive_int(bad, "n")
    with pytest.raises(ValueError, match=r"n: expected a positive int, got 0"):
        positive_int(0, "n")
    with pytest.raises(ValueError, match=r"n: expected an int in \[1, 4\], got 5"):
        integer(5, "n", 1, 4)


def test_real_numbers():
    assert real_number(np.float32(0.5), "beta") == 0.5 and real_number(2, "beta") == 2.0
    assert real_number(-1.5, "shift", signed=True) == -1.5
    for bad in ("0.1", b"0.1", None, True, 1j, [0.1], np.array([0.1])):
        with pytest.raises(TypeError, match="beta: expected a real number"):
            real_number(bad, "beta")
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match="beta: expected a finite real number >= 0"):
            real_number(bad, "beta")
    with pytest.raises(ValueError, match="> 0"):
        real_number(0.0, "beta", positive=True)


def test_choices_intervals_and_tuples():
    assert choice("zero", "boundary", ("zero", "periodic")) == "zero"
    with pytest.raises(ValueError, match="boundary: expected one of 'zero', 'periodic', got 'Zero'"):
        choice("Zero", "boundary", ("zero", "periodic"))
    assert interval((0, 1), "clip") == (0.0, 1.0)
    with pytest.raises(ValueError, match=r"clip: expected low <= high, got \(1, 0\)"):
        interval((1, 0), "clip")
    with pytest.raises(TypeError, match="pair"):
        interval("01", "clip")
    assert int_tuple(3, "k") == (3,) and int_tuple([2, 3], "k", length=2) == (2, 3)
    with pytest.raises(ValueError, match="expected 2 ints"):
        int_tuple((1, 2, 3), "k", length=2)
    assert shape(64) == (64,) and shape((3, 8, 8)) == (3, 8, 8)
    with pytest.raises(ValueError, match="positive ints"):
        shape((0, 4))
    with pytest.raises(TypeError, match="tuple of ints"):
        shape((4.0, 4))


def test_batch_shapes():
    assert batch_shape(np.zeros((2, 3, 8, 8)), (8, 8), "x") == (2, 3)
    assert batch_shape(torch.zeros(8, 8), (8, 8), "x") == ()
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., 8, 8\) .* got \(8, 9\)"):
        batch_shape(np.zeros((8, 9)), (8, 8), "x")
    with pytest.raises(ValueError, match=r"the batch \(2, 0\) is empty"):
        batch_shape(np.zeros((2, 0, 8, 8)), (8, 8), "x")
    for dtype in (np.float16, np.int32, np.complex64):
        with pytest.raises(TypeError, match="float32 or float64"):
            batch_shape(np.zeros((8, 8), dtype), (8, 8), "x")
    with pytest.raises(TypeError, match="half precision"):
        batch_shape(torch.zeros(8, 8, dtype=torch.bfloat16), (8, 8), "x")
