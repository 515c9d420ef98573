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


@pytest.mark.data
def test_cli_start_from(tmp_path, shared_data, capsys):
    """--start-from: fine-tuning starts from a model file's weights (recorded, checked on resume); another
    network's file is refused before training."""
    import torch

    common = ["natural-gray", "--data", str(shared_data / "train400"), "--patch", "32", "--widths", "4,8",
              "--steps-per-epoch", "2", "--batch-size", "4", "--no-progress", "--threads", "1"]
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    assert main(common + ["--epochs", "1", "--out", str(first), "--checkpoint", str(tmp_path / "a.ckpt")]) == 0
    assert main(common + ["--epochs", "1", "--seed", "1", "--out", str(second),
                          "--checkpoint", str(tmp_path / "b.ckpt")]) == 0
    tuned, ckpt = tmp_path / "ft.safetensors", tmp_path / "ft.ckpt"
    tune = common + ["--start-from", str(first), "--lr", "1e-30", "--lr-final", "1e-30", "--out", str(tuned),
                     "--checkpoint", str(ckpt)]
    assert main(tune + ["--epochs", "1"]) == 0
    start, meta = load_denoiser(first)
    end, tuned_meta = load_denoiser(tuned)
    other, _ = load_denoiser(second)
    for name, t in end.state_dict().items():  # a learning rate of 1e-30 keeps the starting weights
        torch.testing.assert_close(t, start.state_dict()[name])
    assert not all(torch.equal(t, other.state_dict()[n]) for n, t in end.state_dict().items())
    assert tuned_meta["extra"]["init"] == {"file": "a.safetensors", "sha256": meta["sha256"], "steps": 2,
                                           "data": meta["data"]}
    capsys.readouterr()
    resumed = tune + ["--epochs", "2"]
    resumed[resumed.index(str(first))] = str(second)
    assert main(resumed) == 2  # the checkpoint was started from another file
    err = capsys.readouterr().err
    assert "extra.init" in err and err.count("\n") == 1
    assert main(tune + ["--epochs", "2"]) == 0  # the same file resumes
    wide = [a if a != "4,8" else "8,16" for a in tune]
    assert main(wide + ["--epochs", "1", "--checkpoint", str(tmp_path / "w.ckpt")]) == 2
    err = capsys.readouterr().err
    assert "expected the recipe's SigmaUNet" in err and err.count("\n") == 1
