"""ppsolve restore end to end on small files: bit depths, colour modes, alpha, odd sizes, SR, bad inputs."""
from __future__ import annotations

import json

import numpy as np
import png
import pytest
import tifffile
from PIL import Image
from scipy.ndimage import gaussian_filter

from ppsolve.cli import main
from ppsolve.imagefile import read_image, write_image
from ppsolve.operators import motion_kernel


def _scene(shape, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(4 * gaussian_filter(rng.random(shape), (0, 2, 2) if len(shape) == 3 else 2) - 1.5, 0, 1)


def _run(capsys, *args):
    code = main(["restore", *map(str, args), "--quiet"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_grey_png_deblur_with_reference_and_compare(tmp_path, capsys):
    from scipy.ndimage import correlate

    x = _scene((41, 47))
    y = correlate(x, motion_kernel(5, 30), mode="reflect") + 0.01 * np.random.default_rng(1).standard_normal(x.shape)
    write_image(tmp_path / "in.png", y)
    write_image(tmp_path / "sharp.png", x)
    code, out, _ = _run(capsys, tmp_path / "in.png", "-o", tmp_path / "out.png", "--motion", 5, 30, "--reference",
                        tmp_path / "sharp.png", "--compare", tmp_path / "cmp.png", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["task"] == "deblur" and report["prior"] == "natural-gray" and report["noise_estimated"]
    restored = read_image(tmp_path / "out.png")
    assert restored.shape == (41, 47) and restored.bit_depth == 8 and not restored.colour
    blurred_psnr = 10 * np.log10(1 / np.mean((np.round(y * 255) / 255 - x) ** 2))
    assert report["psnr"] > blurred_psnr and 0 < report["ssim"] <= 1
    assert read_image(tmp_path / "cmp.png").shape == (41, 2 * 47 + 8)


def test_sixteen_bit_colour_tiff_with_alpha_keeps_depth_mode_and_alpha(tmp_path, capsys):
    x = _scene((3, 32, 30))
    samples = np.rint(np.moveaxis(x, 0, -1) * 65535).astype(np.uint16)
    alpha = np.random.default_rng(2).integers(0, 65536, (32, 30)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", np.concatenate([samples, alpha[..., None]], -1), photometric="rgb",
                     extrasamples=("unassalpha",))
    code, _, _ = _run(capsys, tmp_path / "in.tif", "-o", tmp_path / "out.tif", "--gaussian", 0.8, "--noise", 0.01)
    assert code == 0
    out = read_image(tmp_path / "out.tif")
    assert out.bit_depth == 16 and out.colour and out.shape == (32, 30)
    np.testing.assert_array_equal(out.alpha, alpha)


def test_super_resolution_of_an_odd_size_and_a_folder_of_jpegs(tmp_path, capsys):
    low = _scene((21, 17))
    Image.fromarray(np.rint(low * 255).astype(np.uint8)).save(tmp_path / "a.jpg", quality=95)
    Image.fromarray(np.rint(_scene((21, 17), 3) * 255).astype(np.uint8)).save(tmp_path / "b.jpg", quality=95)
    code, out, _ = _run(capsys, tmp_path / "a.jpg", tmp_path / "b.jpg", "-o", tmp_path / "big", "--sr", 2)
    assert code == 0 and out.count("->") == 2
    for name in ("a.png", "b.png"):  # a JPEG input gets a PNG output
        assert read_image(tmp_path / "big" / name).shape == (42, 34)
    rgba = np.concatenate([np.rint(np.moveaxis(_scene((3, 16, 16)), 0, -1) * 255),
                           np.full((16, 16, 1), 200)], -1).astype(np.uint8)
    png.from_array(rgba.reshape(16, -1), "RGBA").save(tmp_path / "alpha.png")
    code, _, _ = _run(capsys, tmp_path / "alpha.png", "-o", tmp_path / "alpha4.png", "--sr", 4, "--noise", 0.0)
    out = read_image(tmp_path / "alpha4.png")
    assert code == 0 and out.shape == (64, 64) and out.alpha.shape == (64, 64) and np.all(out.alpha == 200)


@pytest.mark.parametrize("args, message", [
    (["missing.png", "-o", "out.png"], "no such image file"),
    (["text.png", "-o", "out.png"], "not a readable image"),
    (["small.png", "-o", "out.png", "--kernel", "big.txt"], "larger than the image"),
    (["small.png", "-o", "out.png", "--prior", "nope"], "unknown model 'nope'"),
    (["small.png", "-o", "out.gif"], "unknown output format"),
    (["small.png", "-o", "out.png", "--kernel", "negative.txt"], "non-negative"),
    (["small.png", "-o", "out.png", "--inverse", "fourier", "--motion", "3", "0"], "--inverse fourier needs"),
    (["small.png", "-o", "out.png", "--sr", "2", "--reference", "small.png"], "expected shape (24, 24)"),
])
def test_bad_inputs_get_one_line_and_a_non_zero_exit(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "small.png", _scene((12, 12)))
    (tmp_path / "text.png").write_text("not an image")
    np.savetxt(tmp_path / "big.txt", np.ones((15, 15)))
    np.savetxt(tmp_path / "negative.txt", -np.ones((3, 3)))
    code, _, err = _run(capsys, *args)
    assert code == 2 and message in err and err.strip().count("\n") == 0, err
    assert not (tmp_path / "out.png").exists()
    with pytest.raises(SystemExit):  # argparse's own errors: exit 2 with usage
        main(["restore", "small.png", "-o", "out.png", "--noise", "-3"])


def test_ensemble_sets_the_flips_per_evaluation_and_costs_in_proportion(tmp_path, capsys, monkeypatch):
    """--ensemble reaches the prior: each evaluation of the network is averaged over that many flips."""
    from ppsolve.nn.unet import SigmaUNet

    calls = []
    forward = SigmaUNet.forward

    def counting(self, v, sigma):
        calls.append(1)
        return forward(self, v, sigma)

    monkeypatch.setattr(SigmaUNet, "forward", counting)
    write_image(tmp_path / "in.png", _scene((24, 24)))
    counts = {}
    for ensemble in (1, 2):
        calls.clear()
        code, _, _ = _run(capsys, tmp_path / "in.png", "-o", tmp_path / f"out{ensemble}.png", "--noise", 0.02,
                          "--ensemble", ensemble)
        assert code == 0
        counts[ensemble] = len(calls)
    assert counts[2] == 2 * counts[1] > 0
    with pytest.raises(SystemExit):
        main(["restore", str(tmp_path / "in.png"), "-o", str(tmp_path / "x.png"), "--ensemble", "3"])


def test_backend_onnxruntime_runs_the_prior_through_onnx_runtime(tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnxruntime")
    from ppsolve.nn.onnx import OnnxNetwork

    calls, run = [], OnnxNetwork.__call__
    monkeypatch.setattr(OnnxNetwork, "__call__", lambda self, v, s: calls.append(1) or run(self, v, s))
    write_image(tmp_path / "in.png", _scene((24, 24)))
    code, _, _ = _run(capsys, tmp_path / "in.png", "-o", tmp_path / "out.png", "--noise", 0.02,
                      "--backend", "onnxruntime")
    assert code == 0 and calls and read_image(tmp_path / "out.png").shape == (24, 24)
