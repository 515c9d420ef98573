"""ppsolve.photo: the forward model from options, the stages from the noise level."""
from __future__ import annotations

import numpy as np
import pytest

from ppsolve import zoo
from ppsolve.operators import Convolution, Identity, Resize, ValidModel, dot_test, motion_kernel
from ppsolve.photo import forward_model, restore_image, stages_for


@pytest.mark.parametrize("shape", [(40, 36), (3, 40, 36)])
def test_forward_models(shape):
    k = motion_kernel(7, 45)
    assert isinstance(forward_model(shape).operator, Identity)
    unknown = forward_model(shape, kernel=k)
    assert isinstance(unknown.operator, ValidModel) and unknown.operator.out_shape == shape
    assert unknown.frame.apply(np.zeros(unknown.operator.in_shape)).shape == shape
    assert isinstance(forward_model(shape, kernel=k, boundary="reflect").operator, Convolution)
    sr = forward_model(shape, sr=3)
    assert isinstance(sr.operator, Resize) and sr.operator.in_shape[-2:] == (120, 108) and sr.factor == 3
    for options in ({"sr": 2, "downscaler": "gaussian"}, {"sr": 2, "kernel": k}, {"sr": 4, "downscaler": "gaussian",
                                                                                   "boundary": "periodic"}):
        model = forward_model(shape, **options)
        assert model.operator.out_shape == shape and dot_test(model.operator) < 1e-12
    with pytest.raises(ValueError, match="larger than the image"):
        forward_model((8, 8), kernel=np.ones((9, 9)))
    with pytest.raises(ValueError, match="not both"):
        forward_model(shape, sr=2, downscaler="bicubic", kernel=k)
    with pytest.raises((TypeError, ValueError), match="sr"):
        forward_model(shape, sr=5)


def test_stages_follow_the_noise_and_reproduce_the_validated_settings():
    """At the benchmarks' noise level 0.01 the deblurring rule gives exactly the zoo's validated stages: the
    benchmark kernel gets what any other kernel gets."""
    ours = [[float(f"{b:.6g}"), i, float(f"{s:.6g}")] for b, i, s in stages_for("deblur", 0.01)]
    assert ours == zoo.info("natural-gray")["tasks"]["deblur"]["stages"]
    for factor in (2, 3, 4):
        assert stages_for("sr", 0.01, factor)[-1][2] == pytest.approx(0.01)
    louder = stages_for("deblur", 0.05)
    assert louder[-1][2] == pytest.approx(0.05) and louder[0][2] == pytest.approx(0.3)
    assert stages_for("deblur", 0.0)[-1][2] == pytest.approx(0.002)  # the floor: 8-bit quantisation
    assert stages_for("denoise", 0.03) == [(1e-6, 1, 0.03)]


def test_denoising_is_one_application_of_the_prior_at_the_noise_level():
    from scipy.ndimage import gaussian_filter

    x = np.clip(4 * gaussian_filter(np.random.default_rng(0).random((48, 48)), 2) - 1.5, 0, 1)
    y = x + 0.05 * np.random.default_rng(1).standard_normal(x.shape)
    result = restore_image(y, noise=0.05)
    assert result.model.task == "denoise" and not result.noise_estimated
    assert np.mean((result.x - x) ** 2) < 0.3 * np.mean((y - x) ** 2)
