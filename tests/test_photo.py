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


# -- on real photographs (BSD68 crops past the four tuning images) --------------------------------------------------

def _photo(shared_data, size=112, index=4, sigma=0.01):
    """(sharp crop, its photograph): the whole image blurred by the motion kernel, the central crop kept (the
    scene goes on past the frame), noise ``sigma`` (seed 0)."""
    from scipy.ndimage import correlate

    from ppsolve.data import list_images, load_image

    full = np.asarray(load_image(list_images(shared_data / "bsd68")[index], mode="L"), dtype=np.float64)
    k = np.loadtxt(shared_data / "kernels" / "motion9_30deg.txt")
    t, left = (full.shape[0] - size) // 2, (full.shape[1] - size) // 2
    crop = (slice(t, t + size), slice(left, left + size))
    y = correlate(full, k, mode="reflect")[crop] + sigma * np.random.default_rng(0).standard_normal((size, size))
    return full[crop], y, k


def test_unknown_boundary_restores_a_photo_that_the_periodic_model_ruins(shared_data):
    """test005, 112 x 112. Measured when written: blurred 26.67 dB, periodic model 14.39, unknown boundary (the
    default) 30.36, and the noise estimated as 0.0102 (auto: 30.31 dB); asserted: the default beats
    the periodic model by 5 dB and the blurred input by 2.5 dB, auto within 0.1 dB of the given noise."""
    from ppsolve.metrics import psnr

    x, y, k = _photo(shared_data)
    default = restore_image(y, kernel=k, noise=0.01)
    periodic = restore_image(y, kernel=k, noise=0.01, boundary="periodic")
    auto = restore_image(y, kernel=k)
    assert default.x.shape == x.shape and auto.noise_estimated and abs(auto.noise - 0.01) < 0.05 * 0.01
    assert psnr(default.x, x) > psnr(periodic.x, x) + 5.0
    assert psnr(default.x, x) > psnr(y, x) + 2.5
    assert abs(psnr(auto.x, x) - psnr(default.x, x)) < 0.1


def test_super_resolution_of_a_pillow_downscaled_photo_beats_pillow(shared_data):
    """test005's central 96 x 96, made 24 x 24 by Pillow's bicubic resize and stored as 8-bit, restored 4x under
    Pillow's own downscaler model. Measured when written: Pillow's upscaling 28.09 dB, ours 29.08;
    asserted: ours ahead by 0.6 dB."""
    from PIL import Image

    from ppsolve.metrics import psnr

    x, _, _ = _photo(shared_data, size=96)
    small = Image.fromarray(np.rint(x * 255).astype(np.uint8)).resize((24, 24), Image.BICUBIC)
    y = np.asarray(small, dtype=np.float64) / 255
    pillow = np.asarray(small.resize((96, 96), Image.BICUBIC), dtype=np.float64) / 255
    ours = restore_image(y, sr=4, noise=1 / (255 * np.sqrt(12)))
    assert ours.x.shape == (96, 96) and ours.model.task == "sr"
    assert psnr(ours.x, x) > psnr(pillow, x) + 0.6, (psnr(ours.x, x), psnr(pillow, x))
