"""ppsolve.train.cli: the ``ppsolve train`` command line (``python -m ppsolve.train``)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ppsolve.nn.registry import load_denoiser
from ppsolve.train.cli import main
from ppsolve.train.recipes import RECIPES


def test_cli_help():
    assert "mnist-dae" in RECIPES
    with pytest.raises(SystemExit) as exit_info:
        main(["mnist-dae", "--help"])
    assert exit_info.value.code == 0
    done = subprocess.run([sys.executable, "-m", "ppsolve.train", "--help"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0 and "mnist-dae" in done.stdout


@pytest.mark.data
def test_cli_mnist_dae(tmp_path, shared_data, capsys):
    from ppsolve.prox import DAEProx

    out, ckpt = tmp_path / "zoo" / "mnist-dae.safetensors", tmp_path / "ck.safetensors"
    args = ["mnist-dae", "--data", str(shared_data / "mnist"), "--train-range", "0:64", "--val-range",
            "7000:7016", "--epochs", "1", "--batch-size", "32", "--out", str(out), "--checkpoint", str(ckpt),
            "--no-progress", "--threads", "1"]
    assert main(args) == 0
    assert "validation PSNR" in capsys.readouterr().out
    _, meta = load_denoiser(out)
    assert meta["extra"]["split"] == {"train": [0, 64], "val": [7000, 7016], "held_out": [8000, 10000]}
    assert meta["model"]["class"] == "DAE" and out.with_suffix(".json").is_file()
    prox = DAEProx.from_file(out)
    assert prox(np.zeros((2, 28, 28)), 0.1).shape == (2, 28, 28)
    for bad, message in ((["--val-range", "7000:8001"], "held out"), (["--train-range", "0:9000"], "held out"),
                         (["--val-range", "50:100"], "overlap")):
        assert main(args + bad) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.data
def test_cli_natural_gray_unet_and_dncnn(tmp_path, shared_data, capsys):
    """The natural-gray recipe: a (tiny) SigmaUNet by default, the dilated SigmaDnCNN with --arch dncnn; the
    exported prior takes its noise level from tau and tiles on the U-Net's grid."""
    from ppsolve.nn import SigmaDnCNN, SigmaUNet
    from ppsolve.patches import Patchwise
    from ppsolve.prox import DenoiserProx

    common = ["natural-gray", "--data", str(shared_data / "train400"), "--epochs", "1", "--steps-per-epoch", "2",
              "--batch-size", "4", "--no-progress", "--threads", "1"]
    out = tmp_path / "unet.safetensors"
    assert main(common + ["--patch", "32", "--widths", "4,8", "--out", str(out),
                          "--checkpoint", str(tmp_path / "u.ckpt")]) == 0
    prox = DenoiserProx.from_file(out)
    assert isinstance(prox.model, SigmaUNet) and prox.model.widths == (4, 8) and prox.sigma_of_tau is not None
    assert prox.metadata["extra"]["split"]["val"] == ["test_381.png", "test_400.png"]
    assert Patchwise(prox, patch=64, overlap=24, margin=8).align == 2
    out = tmp_path / "dncnn.safetensors"
    assert main(common + ["--arch", "dncnn", "--patch", "30", "--features", "4", "--dilations", "1,2,1",
                          "--out", str(out), "--checkpoint", str(tmp_path / "d.ckpt")]) == 0
    assert isinstance(DenoiserProx.from_file(out).model, SigmaDnCNN)
    capsys.readouterr()
    for bad, message in ((["--patch", "30"], "multiple of 4"), (["--blind"], "--blind is for --arch dncnn")):
        assert main(common + bad + ["--out", str(tmp_path / "x.safetensors"), "--checkpoint",
                                    str(tmp_path / "x.ckpt")]) == 2
        assert message in capsys.readouterr().err
