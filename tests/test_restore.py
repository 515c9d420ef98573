"""ppsolve.restore: staged ADMM, sigma schedules, starting points, clipping, patch-wise priors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ppsolve import ADMM, restore
from ppsolve.inverses import FourierInverse
from ppsolve.nn.cpsdae import CPSDAE as CPSDAENet
from ppsolve.nn.dncnn import DnCNN, SigmaDnCNN
from ppsolve.nn.unet import SigmaUNet
from ppsolve.operators import Convolution, gaussian_kernel, motion_kernel, strided_convolution
from ppsolve.patches import Patchwise
from ppsolve.prox import CPSDAE, L2, DenoiserProx
from ppsolve.prox.basic import as_prox
from ppsolve.staged import parse_stages, sigma_schedule, solve_staged


@pytest.fixture(scope="module")
def blur():
    A = Convolution(motion_kernel(5, 30, 5), (24, 24))
    rng = np.random.default_rng(0)
    x = A.adjoint(A.apply(rng.random((24, 24))))
    return A, x, A.apply(x) + 0.01 * rng.standard_normal((24, 24))


def test_parse_stages_accepts_tuples_and_dicts_and_names_bad_entries():
    assert parse_stages([(0.1, 2), {"beta": 0.2, "iterations": 3, "sigma": 0.05}]) == [(0.1, 2, None), (0.2, 3, 0.05)]
    for bad, match in (([(0.0, 2)], r"stages\[0\]: beta"), ([(0.1, 0)], "iterations"), ([(0.1, 2, -1.0)], "sigma"),
                       ([(0.1,)], "expected"), ([], "at least one")):
        with pytest.raises(ValueError, match=match):
            parse_stages(bad)
    with pytest.raises(TypeError):
        parse_stages("0.1, 2")


def test_sigma_schedule_is_geometric_with_beta_scale_over_sigma_squared():
    stages = sigma_schedule(0.1, 0.01, 3, 1e-4, iterations=2)
    sigmas = [s for _, _, s in stages]
    assert np.allclose(sigmas, [0.1, np.sqrt(1e-3), 0.01])
    assert all(it == 2 and np.isclose(beta, 1e-4 / s**2) for beta, it, s in stages)
    with pytest.raises(ValueError):
        sigma_schedule(0.01, 0.1, 3, 1e-4)


def test_one_stage_equals_plain_admm(blur):
    A, x, y = blur
    staged = solve_staged(A, L2(), y, [(0.3, 5)], lam=0.02, x0=y)
    plain = ADMM(A, L2(), "fourier", beta=0.3, lam=0.02).solve(y, iters=5, x0=y)
    assert np.allclose(staged.x, plain.x, atol=1e-12) and staged.iterations == 5


def test_stages_continue_from_the_last_z_and_merge_histories(blur):
    A, x, y = blur
    two = solve_staged(A, L2(), y, [(0.3, 2), (1.0, 3)], lam=0.02, x0=y, x_true=x)
    first = ADMM(A, L2(), "fourier", beta=0.3, lam=0.02).solve(y, iters=2, x0=y)
    second = ADMM(A, L2(), "fourier", beta=1.0, lam=0.02).solve(y, iters=3, x0=first.z)
    assert np.allclose(two.x, second.x, atol=1e-12)
    assert two.iterations == 5 and len(two.history.nmse) == 5
    # with sigma, lam = 2 beta sigma^2, so that tau = sigma^2 reaches a noise-conditional prior
    taus = []

    def spy(v, tau):
        taus.append(tau)
        return v

    solve_staged(A, spy, y, [(0.5, 1, 0.1), (2.0, 1, 0.03)])
    assert np.allclose(taus, [0.01, 0.0009])


def test_inverse_per_stage_from_a_callable_and_instance_checks(blur):
    A, x, y = blur
    made = []

    def factory(op, beta):
        made.append(beta)
        return FourierInverse(op, beta)

    a = solve_staged(A, L2(), y, [(0.3, 2), (1.0, 2)], inverse=factory, lam=0.02)
    b = solve_staged(A, L2(), y, [(0.3, 2), (1.0, 2)], inverse="fourier", lam=0.02)
    assert made == [0.3, 1.0] and np.allclose(a.x, b.x, atol=1e-12)
    with pytest.raises(ValueError, match="beta = 0.3.*beta = 1"):
        solve_staged(A, L2(), y, [(1.0, 1)], inverse=FourierInverse(A, 0.3))
    with pytest.raises(TypeError, match="not a ppsolve Inverse"):
        solve_staged(A, L2(), y, [(1.0, 1)], inverse=lambda op, beta: None)


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

def test_patchwise_denoiser_equals_whole_image():
    torch.manual_seed(0)
    net = DnCNN(features=4, dilations=(1, 2, 1)).double()  # receptive radius 4
    prox = DenoiserProx(net)
    v = np.random.default_rng(0).random((2, 70, 53))
    tiled = Patchwise(prox, patch=32, overlap=12, margin=5)
    assert np.allclose(tiled(v, 0.0), prox(v, 0.0), atol=1e-12)
    small = np.random.default_rng(1).random((20, 20))
    assert np.array_equal(tiled(small, 0.0), prox(small, 0.0))  # no larger than a tile: passed whole


@pytest.mark.parametrize("ensemble", [1, 4])
def test_patchwise_unet_tiles_on_its_grid_and_equals_whole_image(ensemble):
    """A U-Net commutes only with translations by its ``multiple`` (4 here): Patchwise starts every tile at a
    multiple of 4, so with margin >= the receptive radius the tiled result equals the whole-image one on an
    image whose sides are not multiples of 4, also with the flip self-ensemble (the prox pads the image to
    the grid before flipping). Tiles at an arbitrary phase would not match."""
    torch.manual_seed(0)
    net = SigmaUNet(widths=(4, 6, 8)).double().eval()
    for p in net.parameters():  # weights far from the near-identity initialisation
        torch.nn.init.normal_(p, std=0.3)
    prox = DenoiserProx(net, sigma_of_tau=lambda tau: 0.1, ensemble=ensemble)
    r = net.receptive_radius
    v = np.random.default_rng(0).random((130, 113))
    whole = prox(v, 0.0)
    tiled = Patchwise(prox, patch=64, overlap=60, margin=r)  # r = 25
    assert tiled.align == 4
    assert np.allclose(tiled(v, 0.0), whole, atol=1e-10)
    from ppsolve.patches import apply_patchwise

    unaligned = apply_patchwise(lambda t: prox(t, 0.0), v, 64, 57, 4, "hann", r)  # stride 7: off the grid
    assert np.abs(unaligned - whole).max() > 1e-3
    with pytest.raises(ValueError, match="multiple 4"):
        Patchwise(prox, patch=62, overlap=60, margin=r)


def test_patchwise_conditional_prior_gets_each_tiles_measurement():
    """A small cPSDAE (factor 2, 3 x 3 convs, eval mode: translation-equivariant by multiples of 2, receptive
    radius 3 low-resolution pixels = 6 pixels): tiled with margin 8 it equals the whole image."""
    torch.manual_seed(0)
    net = CPSDAENet(factor=2, channels=3, y_channels=1, encoder=(6,), decoder=(6,), kernel_size=3).double().eval()
    for m in net.modules():  # non-trivial BatchNorm statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    prox = CPSDAE(net)
    rng = np.random.default_rng(0)
    v, y = rng.random((3, 64, 48)), rng.random((32, 24))
    tiled = Patchwise(prox, patch=32, overlap=18, margin=8, image_ndim=3)
    assert np.allclose(tiled(v, 0.0, y=y), prox(v, 0.0, y=y), atol=1e-10)
    with pytest.raises(ValueError, match="the prior's factor 2"):
        Patchwise(prox, patch=31, overlap=18)
    with pytest.raises(ValueError, match="y has spatial shape"):
        tiled(v, 0.0, y=y[:-1])


def test_restore_tiles_a_zoo_prior_larger_than_its_patch(monkeypatch, tmp_path):
    """A zoo entry with tile settings: restore wraps it in Patchwise for larger images (same result)."""
    from ppsolve import zoo
    from ppsolve.train import train_denoiser

    torch.manual_seed(0)
    net = SigmaDnCNN(features=4, dilations=(1, 1))
    train_denoiser(net, lambda n, rng: rng.random((n, 16, 16)).astype(np.float32), steps_per_epoch=1, epochs=1,
                   noise_level_input=True, progress=False, log=None, checkpoint=tmp_path / "c.ckpt")
    from ppsolve.train import export_denoiser

    export_denoiser(tmp_path / "c.ckpt", tmp_path / "tiny.pt")
    entry = {"kind": "prox", "class": "ppsolve.prox.learned:DenoiserProx", "weights": str(tmp_path / "tiny.pt"),
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
