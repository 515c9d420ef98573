"""ppsolve.restore: zoo settings, starting points, clipping, tiles for large images."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ppsolve import restore, zoo
from ppsolve.nn.dncnn import SigmaDnCNN
from ppsolve.operators import Convolution, gaussian_kernel, motion_kernel, strided_convolution
from ppsolve.prox import L2, DenoiserProx, as_prox
from ppsolve.staged import stage_ensembles


def test_restore_with_a_proximal_starting_points_and_clip(blur):
    A, x, y = blur
    r = restore(y, A, prior=L2(), stages=[(0.3, 3)], lam=0.01, x0="y", clip=(0.2, 0.4))
    assert r.x.min() >= 0.2 and r.x.max() <= 0.4
    t = restore(torch.from_numpy(y), A, prior=L2(), stages=[(0.3, 3)], lam=0.01, x0="y", clip=(0.2, 0.4))
    assert isinstance(t.x, torch.Tensor) and np.allclose(t.x.numpy(), r.x, atol=1e-12)
    with pytest.raises(TypeError, match="stages=, or iters= and beta="):
        restore(y, A, prior=L2())
    with pytest.raises(TypeError, match="either stages or iters"):
        restore(y, A, prior=L2(), stages=[(0.3, 3)], iters=3)
    with pytest.raises(ValueError, match="x0 must be"):
        restore(y, A, prior=L2(), stages=[(0.3, 1)], x0="middle")
    zero = Convolution(motion_kernel(5, 30, 5), (24, 24), boundary="zero")
    with pytest.raises(ValueError, match="x0='bicubic' needs A = S H"):
        restore(y, zero, prior=L2(), stages=[(0.3, 1)], x0="bicubic")
    S = strided_convolution(gaussian_kernel(3, 1.0), (24, 24), 4)
    with pytest.raises(ValueError, match="x0='y' needs"):
        restore(S.apply(x), S, prior=L2(), stages=[(0.3, 1)], x0="y")
    # x0="bicubic" starts at the aligned bicubic estimate: with an identity prior and tiny beta, one stage
    # stays near it
    from ppsolve.interpolation import bicubic_upsample

    ys = S.apply(x)
    out = restore(ys, S, prior=as_prox(lambda v: v), stages=[(1e6, 1)], x0="bicubic")
    assert np.allclose(out.x, np.clip(bicubic_upsample(ys, 4), 0, 1), atol=1e-4)


# -- patch-wise priors ---------------------------------------------------------------------------------------------

def test_restore_tiles_a_zoo_prior_larger_than_its_patch(monkeypatch, tmp_path):
    """A zoo entry with tile settings: restore wraps it in Patchwise for larger images (same result)."""
    from ppsolve import zoo
    from ppsolve.train import train_denoiser

    torch.manual_seed(0)
    net = SigmaDnCNN(features=4, dilations=(1, 1))
    train_denoiser(net, lambda n, rng: rng.random((n, 16, 16)).astype(np.float32), steps_per_epoch=1, epochs=1,
                   noise_level_input=True, progress=False, log=None, checkpoint=tmp_path / "c.ckpt")
    from ppsolve.train import export_denoiser

    export_denoiser(tmp_path / "c.ckpt", tmp_path / "tiny.safetensors")
    entry = {"kind": "prox", "class": DenoiserProx, "weights": str(tmp_path / "tiny.safetensors"),
             "training_command": "(test)", "image_shape": None,
             "admm": {"stages": [[0.5, 2, 0.05], [2.0, 1, 0.02]], "x0": "y", "clip": [0, 1]},
             "patch": {"size": 24, "overlap": 12, "margin": 4}}
    monkeypatch.setitem(zoo.REGISTRY, "tiny", entry)
    import ppsolve.patches

    calls = []
    original = ppsolve.patches.apply_patchwise
    monkeypatch.setattr(ppsolve.patches, "apply_patchwise", lambda *a, **k: calls.append(1) or original(*a, **k))
    A = Convolution(gaussian_kernel(3, 1.0), (40, 40))
    y = A.apply(np.random.default_rng(0).random((40, 40)))
    tiled = restore(y, A, prior="tiny")
    assert len(calls) == 3  # one tiled prox per iteration
    whole = restore(y, A, prior="tiny", patch=False)
    assert len(calls) == 3
    assert tiled.iterations == 3 and np.allclose(tiled.x, whole.x, atol=1e-5)
    small = Convolution(gaussian_kernel(3, 1.0), (24, 24))
    restore(y[:24, :24], small, prior="tiny")
    assert len(calls) == 3  # no larger than a tile: whole
    with pytest.raises(ValueError, match="no task 'sr4'"):
        restore(y, A, prior="tiny", task="sr4")
    assert tiled.x.min() >= 0 and tiled.x.max() <= 1


def test_clip_must_be_an_ordered_pair(blur):
    A, _, y = blur
    for clip in [(1, 0), (0,), "01", (0, float("nan"))]:
        with pytest.raises((TypeError, ValueError), match="restore clip"):
            restore(y, A, prior=L2(), stages=[(0.3, 1)], clip=clip)


def test_ensemble_overrides_the_zoo_setting_and_needs_a_network(blur):
    from ppsolve.prox import SoftThreshold

    A, x, y = blur
    for ensemble in (1, 2):
        result = restore(y, A, prior="natural-gray", task="deblur", stages=[(0.05, 1, 0.05)], ensemble=ensemble)
        assert result.x.shape == x.shape
    with pytest.raises(ValueError, match="ensemble must be 1, 2, 4 or 8"):
        restore(y, A, prior="natural-gray", stages=[(0.05, 1, 0.05)], ensemble=3)
    with pytest.raises(TypeError, match="needs a network prior"):
        restore(y, A, prior=SoftThreshold(), stages=[(0.05, 1)], ensemble=2)


def test_the_zoos_ensemble_rule_goes_with_any_stages(blur, monkeypatch):
    """The zoo's self-ensemble is a rule by noise level: it reaches solve_staged as it is, with the task's own
    stages or others (the photo path's), where it gives one size per stage by their sigmas; an explicit
    ensemble= (one size or one per stage) wins."""
    import sys

    restore_module = sys.modules["ppsolve.restore"]  # the package's name ``restore`` is the function
    A, x, y = blur
    seen = []
    real = restore_module.solve_staged
    monkeypatch.setattr(restore_module, "solve_staged",
                        lambda *a, ensemble=None, **k: seen.append(ensemble) or real(*a, ensemble=ensemble, **k))
    own = zoo.info("natural-gray")["tasks"]["deblur"]["ensemble"]
    assert set(own) == {"by_sigma"}
    other = [(0.05, 1, 0.2), (0.1, 1, 0.01)]
    restore(y, A, prior="natural-gray", task="deblur")
    restore(y, A, prior="natural-gray", task="deblur", stages=other)
    restore(y, A, prior="natural-gray", stages=other, ensemble=[2, 1])
    assert seen == [own, own, [2, 1]]
    assert stage_ensembles(own, other) == [1, 4]
    with pytest.raises(ValueError, match="one size per stage"):
        restore(y, A, prior="natural-gray", stages=[(0.05, 1, 0.05)], ensemble=[2, 1])
