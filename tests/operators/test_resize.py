"""ppsolve.operators.resize: Pillow's antialiased bicubic (and bilinear) resampling, matched exactly."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ppsolve.operators import Resize, dot_test


@pytest.mark.parametrize("filter, pillow", [("bicubic", Image.BICUBIC), ("bilinear", Image.BILINEAR)])
@pytest.mark.parametrize("shape, size", [((256, 256), (64, 64)), ((321, 481), (107, 160)), ((31, 29), (10, 7)),
                                         ((20, 30), (40, 45))])
def test_matches_pillow_on_float_images_border_included(filter, pillow, shape, size):
    x = np.random.default_rng(0).random(shape).astype(np.float32)
    expected = np.asarray(Image.fromarray(x, mode="F").resize(size[::-1], pillow))
    ours = Resize(shape, size, filter).apply(x.astype(np.float64))
    np.testing.assert_allclose(ours, expected, atol=2e-7)


def test_operator_properties():
    A = Resize((3, 24, 20), (6, 5))
    assert A.out_shape == (3, 6, 5) and dot_test(A) < 1e-12 and dot_test(A, backend="torch") < 1e-12
    x = np.random.default_rng(1).random((2, 3, 24, 20))
    np.testing.assert_allclose(A.apply(torch.tensor(x)).numpy(), A.apply(x), atol=1e-14)
    np.testing.assert_allclose(A.apply(np.ones((24, 20 * 1)).reshape(1, 24, 20).repeat(3, 0)), 1.0)  # sums to one
    assert Resize.downscaler((64, 48), 4).out_shape == (16, 12)
    with pytest.raises(ValueError, match="multiple of the factor"):
        Resize.downscaler((65, 48), 4)
    with pytest.raises(ValueError, match="filter"):
        Resize((8, 8), (4, 4), "lanczos")
