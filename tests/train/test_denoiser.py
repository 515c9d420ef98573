"""ppsolve.train.denoiser: the denoiser trainer (losses, metadata, resumable checkpoints, the learning-rate
schedule) and export_denoiser."""
from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ppsolve import modelfile
from ppsolve.nn.registry import load_denoiser
from ppsolve.train import export_denoiser, train_denoiser
from tests.train._shared import SIZE, TRAIN, TinyDenoiser, _images, _sampler


def _progress(path):
    return modelfile.read_header(path)["progress"]


class NoConfig(nn.Module):
    """A stand-in without ``.config``."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, v):
        return self.conv(v.reshape(-1, 1, *v.shape[-2:])).reshape(v.shape)


class TinyConditional(nn.Module):
    """G(v, y): v (B, H, W), y (B, H/2, W/2) upsampled and concatenated."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, 3, padding=1)

    def forward(self, v, y):
        up = F.interpolate(y.unsqueeze(1), scale_factor=2, mode="nearest")
        return v + self.conv(torch.cat([v.unsqueeze(1), up], 1)).squeeze(1)


class TinyDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 4, stride=2, padding=1)
        self.head = nn.Linear(2, 1)

    def forward(self, x):
        h = F.leaky_relu(self.conv(x.unsqueeze(1)), 0.2).mean(dim=(2, 3))
        return self.head(h).squeeze(1)


class TinyComparator(nn.Module):
    """Fixed features with the FeatureComparator interface ``feature_loss(x, x_hat)``."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3)

    def feature_loss(self, x, x_hat):
        return F.mse_loss(self.conv(x_hat.unsqueeze(1)), self.conv(x.unsqueeze(1)).detach())


VAL = _images(6, 1)
COMMON = {"noise": (0.05, 0.3), "epochs": 2, "batch_size": 8, "lr": 1e-2, "seed": 3, "val_images": VAL,
          "checkpoint_every": 3, "progress": False, "log": None}


def _run(ckpt=None, model_cls=TinyDenoiser, images=TRAIN, **overrides):
    torch.manual_seed(0)  # identical initial weights in every run
    model = model_cls()
    kwargs = {**COMMON, **overrides}
    meta = train_denoiser(model, images, checkpoint=ckpt, **kwargs)
    return model, meta


def _assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=1e-6, msg=key)


def _stop_at(global_step, exc=KeyboardInterrupt):
    def callback(info):
        if info["global_step"] == global_step:
            raise exc("stop")

    return callback


@pytest.fixture(scope="module")
def reference():
    return _run()


def test_trains_and_records_metadata(tmp_path, reference):
    model, meta = reference
    fig = meta["figures"]
    assert fig["epoch"] == [1, 2] and len(fig["loss"]) == 2 and fig["loss"][1] < fig["loss"][0]
    assert fig["adv"] == [None, None] and fig["val_psnr"][1] > fig["val_input_psnr"]
    assert 0 < fig["val_ssim"][1] <= 1 and len(fig["seconds"]) == 2
    assert meta["kind"] == "denoiser" and meta["model"]["class"] == "TinyDenoiser"
    assert meta["model"]["config"] == {"width": 4} and meta["operator"] is None
    assert meta["hyper"]["noise"] == [0.05, 0.3] and meta["hyper"]["steps_per_epoch"] == 5
    assert meta["progress"] == {"epoch": 2, "step": 0, "global_step": 10, "complete": True}
    assert "40 images of shape (12, 12)" in meta["data"]
    assert not model.training
    # the caller's global RNG is left alone
    model = TinyDenoiser()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_denoiser(model, TRAIN, **{**COMMON, "epochs": 1})
    assert torch.equal(torch.rand(3), expected)


def test_interrupt_mid_epoch_and_resume(tmp_path, reference):
    ckpt = tmp_path / "run.safetensors"
    with pytest.raises(KeyboardInterrupt):
        _run(ckpt, callback=_stop_at(4))  # epoch 1, step 4 of 5: a checkpoint is written before stopping
    progress = _progress(ckpt)
    assert progress == {"epoch": 0, "step": 4, "global_step": 4, "complete": False}
    model, meta = _run(ckpt)
    _assert_same_weights(model, reference[0])
    np.testing.assert_allclose(meta["figures"]["loss"], reference[1]["figures"]["loss"], rtol=1e-6)
    np.testing.assert_allclose(meta["figures"]["val_psnr"], reference[1]["figures"]["val_psnr"], rtol=1e-6)
    assert meta["progress"]["complete"]
    # a finished run given again does nothing more
    again, _ = _run(ckpt)
    _assert_same_weights(again, reference[0])


def test_crash_resumes_from_the_last_periodic_checkpoint(tmp_path, reference):
    ckpt = tmp_path / "run.safetensors"
    with pytest.raises(RuntimeError, match="stop"):
        _run(ckpt, callback=_stop_at(8, RuntimeError))  # no save on a crash: the last one was at step 6
    progress = _progress(ckpt)
    assert progress == {"epoch": 1, "step": 1, "global_step": 6, "complete": False}  # mid-epoch (every 3 steps)
    model, _ = _run(ckpt)
    _assert_same_weights(model, reference[0])


def test_ctrl_c_stops_at_a_step_boundary(tmp_path, reference):
    ckpt = tmp_path / "run.safetensors"

    def press_ctrl_c(info):
        if info["global_step"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        _run(ckpt, callback=press_ctrl_c)
    assert _progress(ckpt)["global_step"] == 2
    model, _ = _run(ckpt)
    _assert_same_weights(model, reference[0])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is restored


def test_more_epochs_continue_a_finished_run(tmp_path, reference):
    ckpt = tmp_path / "run.safetensors"
    _run(ckpt, epochs=1)
    model, meta = _run(ckpt, epochs=2)
    _assert_same_weights(model, reference[0])
    assert meta["figures"]["epoch"] == [1, 2]


def test_adversarial_feature_conditional_sampler_resume(tmp_path):
    from ppsolve.operators import Downsample

    A = Downsample(2, (SIZE, SIZE))

    def sampler(batch_size, rng):
        return TRAIN[rng.integers(0, len(TRAIN), batch_size)]

    def run(ckpt, **kw):
        torch.manual_seed(1)
        disc, comparator = TinyDiscriminator(), TinyComparator()
        model, meta = _run(ckpt, model_cls=TinyConditional, images=sampler, steps_per_epoch=4, operator=A,
                           conditional=True, measurement_noise=0.01, loss="l1", adversarial=(disc, 0.1),
                           feature=(comparator, 0.5), data_description="40 test images, sampled", **kw)
        return model, disc, meta

    ref_model, ref_disc, ref_meta = run(None)
    fig = ref_meta["figures"]
    assert all(len(fig[k]) == 2 and all(v is not None for v in fig[k]) for k in ("disc", "adv", "feat", "rec"))
    assert ref_meta["operator"]["fingerprint"] == A.fingerprint() and "Downsample" in ref_meta["operator"]["repr"]
    assert ref_meta["hyper"]["adversarial"]["weight"] == 0.1 and ref_meta["hyper"]["feature"]["weight"] == 0.5
    assert ref_meta["hyper"]["loss"] == "l1" and ref_meta["conditional"] is True

    ckpt = tmp_path / "gan.safetensors"
    with pytest.raises(KeyboardInterrupt):
        run(ckpt, callback=_stop_at(5))
    model, disc, _ = run(ckpt)
    _assert_same_weights(model, ref_model)
    _assert_same_weights(disc, ref_disc)

    # a checkpoint made for another operator is refused
    with pytest.raises(ValueError, match="operator.fingerprint"):
        torch.manual_seed(1)
        _run(ckpt, model_cls=TinyConditional, images=sampler, steps_per_epoch=4, operator=Downsample(2, (SIZE, SIZE),
             offset=1), conditional=True, measurement_noise=0.01, loss="l1", adversarial=(TinyDiscriminator(), 0.1),
             feature=(TinyComparator(), 0.5), data_description="40 test images, sampled")


def test_mismatched_checkpoint_is_refused(tmp_path):
    ckpt = tmp_path / "run.safetensors"
    _run(ckpt, epochs=1, val_images=None)
    with pytest.raises(ValueError, match=r"cannot resume.*'hyper\.lr' expected 0\.001, found 0\.01"):
        _run(ckpt, epochs=1, val_images=None, lr=1e-3)
    with pytest.raises(ValueError, match=r"cannot resume.*'data'"):
        _run(ckpt, epochs=1, val_images=None, images=TRAIN[:32])
    with pytest.raises(ValueError, match=r"cannot resume.*'model'"):
        _run(ckpt, epochs=1, val_images=None, model_cls=NoConfig)
    _run(ckpt, epochs=1, val_images=None, lr=1e-3, resume=False)  # overwrite on request
    assert modelfile.read_header(ckpt)["hyper"]["lr"] == 1e-3


def test_argument_errors():
    with pytest.raises(ValueError, match="conditional=True needs the operator"):
        _run(conditional=True)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        _run(images=lambda n, rng: TRAIN[:n])
    with pytest.raises(ValueError, match="loss"):
        _run(loss="l3")
    with pytest.raises(ValueError, match="noise"):
        _run(noise=(0.3, 0.1))
    with pytest.raises(TypeError, match="float array"):
        _run(images=(TRAIN * 255).astype(np.uint8))


def test_export_and_load_denoiser(tmp_path, reference):
    ckpt = tmp_path / "run.safetensors"
    trained, _ = _run(ckpt, epochs=1, val_images=None)
    out = export_denoiser(ckpt, tmp_path / "zoo" / "tiny.safetensors")
    header = modelfile.read_header(out, "denoiser")
    assert "resume" not in header and all(name.startswith("model.") for name in header["tensors"])  # weights only
    model, meta = load_denoiser(out, model_factory=TinyDenoiser)
    _assert_same_weights(model, trained)
    assert not model.training and meta["model"]["config"] == {"width": 4}
    model2, _ = load_denoiser(ckpt, model_factory=TinyDenoiser)  # the training checkpoint loads too
    _assert_same_weights(model2, trained)
    with pytest.raises(ValueError, match="a model file of a 'TinyDenoiser', not of a NoConfig"):
        load_denoiser(out, model_factory=NoConfig)
    with pytest.raises(ValueError, match="unknown architecture 'TinyDenoiser'"):
        load_denoiser(out)  # a class of your own is only built by the factory you pass
    with pytest.raises(ValueError, match="no training state"):
        _run(out, epochs=1, val_images=None)
    # a model without .config is rebuilt with no arguments
    _run(tmp_path / "nc.safetensors", model_cls=NoConfig, epochs=1, val_images=None)
    model3, meta3 = load_denoiser(tmp_path / "nc.safetensors", model_factory=NoConfig)
    assert meta3["model"]["config"] == {} and isinstance(model3, NoConfig)


def test_noise_level_input_lr_schedule_and_warmup(tmp_path):
    """A noise-conditional model gets each sample's sigma; the learning rate warms up, then decays to lr_final."""
    from ppsolve.nn.dncnn import SigmaDnCNN
    from ppsolve.prox import DenoiserProx, sqrt_tau

    seen = []

    class Spy(SigmaDnCNN):
        def forward(self, v, sigma):
            seen.append(torch.as_tensor(sigma).reshape(-1).clone())
            return super().forward(v, sigma)

    torch.manual_seed(0)
    model = Spy(features=4, dilations=(1, 1))
    meta = train_denoiser(model, _sampler, steps_per_epoch=5, epochs=2, batch_size=3, noise=(0.1, 0.2),
                          noise_level_input=True, lr=1e-2, lr_final=1e-4, warmup_steps=4, progress=False, log=None,
                          val_images=np.random.default_rng(1).random((2, SIZE, SIZE)).astype(np.float32),
                          checkpoint=tmp_path / "sigma.ckpt")
    sigmas = torch.cat(seen)
    assert sigmas.numel() >= 30 and float(sigmas.min()) >= 0.1 and float(sigmas.max()) <= 0.2
    assert meta["hyper"]["noise_level_input"] is True and meta["hyper"]["lr_final"] == 1e-4
    assert meta["hyper"]["warmup_steps"] == 4
    header, tensors = modelfile.load(tmp_path / "sigma.ckpt")
    state = modelfile.unpack(header["resume"], tensors)["trainer"]
    # the last of 10 steps ran at lr_final
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-4)
    exported = export_denoiser(tmp_path / "sigma.ckpt", tmp_path / "sigma.safetensors")
    prox = DenoiserProx.from_file(exported, model_factory=lambda **config: SigmaDnCNN(**config))
    assert prox.sigma_of_tau is sqrt_tau  # a noise-level-input checkpoint gets sigma = sqrt(tau)
    with pytest.raises(ValueError, match="warmup_steps"):
        train_denoiser(model, _sampler, steps_per_epoch=1, warmup_steps=-1, progress=False, log=None)
    with pytest.raises(ValueError, match="lr_final"):
        train_denoiser(model, _sampler, steps_per_epoch=1, lr_final=0.0, progress=False, log=None)
