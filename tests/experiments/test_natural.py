"""ppsolve.experiments.natural: the natural-image operators and data splits every benchmark and recipe share."""
from __future__ import annotations

import numpy as np
import pytest

from ppsolve.experiments.natural import (
    CELEBA_HELD_OUT,
    CUB_HELD_OUT,
    celeba_faces,
    cub_birds,
    deblur_inverse_options,
    deblur_operator,
    joint_sr_color_operator,
    split_last,
    sr_operator,
)
from ppsolve.inverses import FourierInverse
from tests.helpers import dense_solve


def test_operators_and_shapes(shared_data):
    A = deblur_operator((32, 40))
    assert A.in_shape == A.out_shape == (32, 40)
    kernel = np.loadtxt(shared_data / "kernels" / "motion9_30deg.txt")
    e = np.zeros((32, 40))
    e[16, 20] = 1.0
    assert np.allclose(A.apply(e)[12:21, 16:25], kernel[::-1, ::-1], atol=1e-12)  # the file's kernel, centred
    assert sr_operator((3, 16, 16), 4).out_shape == (3, 4, 4)
    J = joint_sr_color_operator(16, 2)
    assert J.in_shape == (3, 16, 16) and J.out_shape == (8, 8)


def test_fourier_inverse_is_exact_for_the_joint_operator():
    """A = S H R (colour to grey, blur, every 2nd pixel): the closed form equals a dense solve."""
    A = joint_sr_color_operator(8, 2)
    b = np.random.default_rng(0).standard_normal(A.in_shape)
    assert np.allclose(FourierInverse(A, 0.05).solve(b), dense_solve(A, 0.05, b), atol=1e-10)


def test_split_last():
    train, test = split_last(list(range(10)), 3)
    assert train == list(range(7)) and test == [7, 8, 9]
    for bad in (0, 10):
        with pytest.raises(ValueError, match="cannot hold out"):
            split_last(range(10), bad)


def test_cub_and_celeba_splits(shared_data):
    x, paths = cub_birds(shared_data / "cub200" / "images", "test")
    assert x.shape == (CUB_HELD_OUT, 3, 128, 128) and x.dtype == np.float32 and 0 <= x.min() <= x.max() <= 1
    train = cub_birds(shared_data / "cub200" / "images", "train", crop=None)[1]
    assert not set(train) & set(paths) and len(train) + len(paths) == 1000
    faces, names = celeba_faces(shared_data / "celeba" / "images", "test", limit=3)
    assert faces.shape == (3, 3, 64, 64) and names[0].name == "004501.jpg"
    assert CELEBA_HELD_OUT == 500
    with pytest.raises(ValueError, match="split"):
        cub_birds(shared_data / "cub200" / "images", "val")


def test_deblur_inverse_options_widen_below_beta_001():
    """The learned inverse of the motion blur: 31 x 31 kernels from beta = 0.01 up, 63 x 63 trained 4x longer
    below (the options are valid LearnedInverse.train keywords: a tiny training run accepts them)."""
    from ppsolve.inverses import LearnedInverse
    from ppsolve.operators import Convolution, motion_kernel

    assert deblur_inverse_options(0.01) == {"kernel_size": 31}
    assert deblur_inverse_options(0.0099) == {"kernel_size": 63, "steps": 8000}
    wide = {**deblur_inverse_options(0.001), "steps": 2, "kernel_size": 5}
    inv = LearnedInverse.train(Convolution(motion_kernel(5, 30, 5), (16, 16)), 0.001, progress=False, **wide)
    assert inv.solve(np.ones((16, 16))).shape == (16, 16)
