"""ppsolve.kernels_from_pairs and ppsolve kernel: the blur kernel from calibration pairs."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from ppsolve.cli import main
from ppsolve.imagefile import write_image
from ppsolve.kernels_from_pairs import estimate_kernel
from ppsolve.operators import Convolution, motion_kernel


def _scene(shape=(96, 96), seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(gaussian_filter(rng.random(shape), 1.0) * 3 - 1.0, 0, 1)


def _asymmetric():
    k = np.zeros((7, 7))
    k[3, 1:6] = [0.1, 0.2, 0.4, 0.2, 0.1]
    k[2, 4] = 0.3
    return k / k.sum()


def test_exact_on_noiseless_pairs_with_an_asymmetric_kernel_and_the_valid_model():
    k = _asymmetric()
    x = _scene()
    # "reflect" outside the frame: the estimate uses only the valid pixels, so the boundary does not matter
    y = Convolution(k, x.shape, boundary="reflect").apply(x)
    estimate = estimate_kernel([(x, y)], 7)
    assert np.linalg.norm(estimate - k) / np.linalg.norm(k) < 1e-6
    assert estimate.min() >= 0 and estimate.sum() == pytest.approx(1.0)
    padded = estimate_kernel([(x, y)], 11)  # a larger support: the extra taps come out zero
    assert np.abs(padded[2:9, 2:9] - k).max() < 1e-6 and padded.sum() == pytest.approx(1.0)


def test_noisy_quantised_pairs_and_several_of_them():
    k = motion_kernel(7, 30, 7)
    pairs = []
    for seed in range(3):
        x = np.round(_scene(seed=seed) * 255) / 255
        y = Convolution(k, x.shape, boundary="zero").apply(x) + 0.01 * np.random.default_rng(seed).standard_normal(x.shape)
        pairs.append((x, np.round(np.clip(y, 0, 1) * 255) / 255))
    one = np.linalg.norm(estimate_kernel(pairs[:1], 7) - k) / np.linalg.norm(k)
    three = np.linalg.norm(estimate_kernel(pairs, 7) - k) / np.linalg.norm(k)
    assert three < 0.1 and three < one


def test_the_command(tmp_path, capsys):
    k = _asymmetric()
    x = _scene()
    write_image(tmp_path / "sharp.png", x, bit_depth=16)
    write_image(tmp_path / "blurred.png", Convolution(k, x.shape, boundary="reflect").apply(x), bit_depth=16)
    assert main(["kernel", "--sharp", str(tmp_path / "sharp.png"), "--blurred", str(tmp_path / "blurred.png"),
                 "--size", "7", "-o", str(tmp_path / "k.txt")]) == 0
    assert "a 7x7 kernel from 1 pair(s)" in capsys.readouterr().out
    assert np.abs(np.loadtxt(tmp_path / "k.txt") - k).max() < 1e-3  # 16-bit files
    assert main(["kernel", "--sharp", str(tmp_path / "sharp.png"), "--size", "7", "--blurred", str(tmp_path / "sharp.png"),
                 "--blurred", str(tmp_path / "blurred.png"), "-o", str(tmp_path / "k.txt")]) == 2
    assert "expected pairs" in capsys.readouterr().err
    with pytest.raises(ValueError, match="too small"):
        estimate_kernel([(x[:10, :10], x[:10, :10])], 7)
