"""Patch-wise application (ppsolve.patches, paper section 3.4)."""
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ppsolve import zoo
from ppsolve.nn.cpsdae import CPSDAE as CPSDAENet
from ppsolve.nn.dncnn import DnCNN
from ppsolve.nn.unet import SigmaUNet
from ppsolve.patches import Patchwise, apply_patchwise, patch_spans, patch_window
from ppsolve.prox import CPSDAEProx, DenoiserProx


def _net(channels=1, dilations=(1, 2, 1)):
    torch.manual_seed(0)
    net = DnCNN(channels=channels, features=8, dilations=dilations).double().eval()
    return net


def test_starts_cover_and_end_flush():
    assert patch_spans(100, 64, 16) == [(0, 58), (42, 58)]  # two balanced tiles, not two of 64
    assert patch_spans(64, 64, 16) == [(0, 64)]
    assert patch_spans(30, 64, 16) == [(0, 30)]
    assert patch_spans(200, 64, 16) == [(0, 62), (46, 62), (92, 62), (138, 62)]
    assert patch_spans(1032, 1024, 60) == [(0, 546), (486, 546)]  # a frame just over one tile: 1092 pixels, not 2048


def test_aligned_starts_are_multiples_and_the_last_tile_reaches_the_end():
    for n in range(130, 140):
        tiles = patch_spans(n, 64, 16, align=4)
        assert all(start % 4 == 0 for start, _ in tiles)
        length = tiles[0][1]
        assert all(t == length for _, t in tiles[:-1]) and length <= 64
        start, last = tiles[-1]
        assert start + last == n and length <= last < length + 4
    with pytest.raises(ValueError, match="multiple of align 4"):
        patch_spans(200, 64, 18, align=4)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 3000), patch=st.integers(8, 1100), overlap=st.integers(0, 200), align=st.sampled_from([1, 4, 16]))
def test_spans_are_the_fewest_balanced_tiles_that_cover(n, patch, overlap, align):
    overlap = min(overlap, patch - align)
    patch -= (patch - overlap) % align
    assume(patch > overlap >= 0)
    tiles = patch_spans(n, patch, overlap, align)
    if n <= patch:
        assert tiles == [(0, n)]
        return
    fewest = -(-(n - overlap) // (patch - overlap))  # no fewer tiles of at most `patch` can cover
    # (alignment may let the last tile, up to align - 1 longer than the others, stand in for one more)
    assert len(tiles) == fewest if align == 1 else len(tiles) <= fewest
    assert tiles[0][0] == 0 and sum(tiles[-1]) == n
    assert all(start % align == 0 for start, _ in tiles)
    assert all(length <= patch for _, length in tiles[:-1]) and tiles[-1][1] < patch + align
    for (a, la), (b, lb) in zip(tiles, tiles[1:]):
        assert a < b and a + la - b >= overlap  # neighbours overlap by at least `overlap`
    assert max(t for _, t in tiles) - min(t for _, t in tiles) < align  # balanced


def test_hann_is_partition_of_unity_on_regular_grid():
    # tiles at 0, 48, 96 of length 64 on a 160 axis: interior weights add up to exactly 1
    n, p, o = 160, 64, 16
    total = np.zeros(n)
    tiles = patch_spans(n, p, o)
    assert tiles == [(0, 64), (48, 64), (96, 64)]
    for s, length in tiles:
        total[s:s + length] += patch_window(length, o, 0, s > 0, s + length < n)
    np.testing.assert_allclose(total, 1.0, atol=1e-12)


@pytest.mark.parametrize("shape,image_ndim", [((150, 173), 2), ((2, 150, 173), 2), ((3, 97, 130), 3)])
def test_stitched_equals_whole_image_for_translation_equivariant_net(shape, image_ndim):
    channels = 3 if image_ndim == 3 else 1
    net = _net(channels)
    r = net.receptive_radius  # 4
    rng = np.random.default_rng(0)
    image = rng.random(shape)
    with torch.no_grad():
        whole = net(torch.from_numpy(image)).numpy()

    def fn(tiles):
        with torch.no_grad():
            return net(torch.from_numpy(tiles)).numpy()

    stitched = apply_patchwise(fn, image, patch=32, overlap=2 * r + 4, margin=r, batch=5, image_ndim=image_ndim)
    assert stitched.shape == whole.shape
    # exact everywhere (tiles on the border see the same zero padding); in particular away from the borders
    np.testing.assert_allclose(stitched, whole, atol=1e-12)
    # with no margin the blend differs from the whole-image result, but only near interior tile seams
    blended = apply_patchwise(fn, image, patch=32, overlap=2 * r + 4, margin=0, batch=5, image_ndim=image_ndim)
    assert np.abs(blended - whole).max() > 1e-6
    # ... and exact where only one tile has weight (the corner before the second tile starts at 20)
    np.testing.assert_allclose(blended[..., :16, :16], whole[..., :16, :16],
                               atol=1e-12)


def test_margin_smaller_than_receptive_field_is_not_exact():
    net = _net(dilations=(1, 3, 3, 1))  # r = 8
    image = np.random.default_rng(1).random((100, 100))
    with torch.no_grad():
        whole = net(torch.from_numpy(image)).numpy()
        fn = lambda t: net(torch.from_numpy(t)).numpy()
        exact = apply_patchwise(fn, image, patch=40, overlap=20, margin=8)
        short = apply_patchwise(fn, image, patch=40, overlap=20, margin=2)
    np.testing.assert_allclose(exact, whole, atol=1e-12)
    assert np.abs(short - whole).max() > 1e-8


def test_torch_in_torch_out_and_flat_window():
    net = _net()
    image = torch.rand(1, 70, 90, dtype=torch.float64)
    with torch.no_grad():
        out = apply_patchwise(net, image, patch=32, overlap=12, margin=4, batch=3)
        whole = net(image)
    assert isinstance(out, torch.Tensor) and out.dtype == image.dtype and out.shape == image.shape
    torch.testing.assert_close(out, whole, atol=1e-12, rtol=0)
    # the flat window is a plain average: for the identity it is the identity
    ident = apply_patchwise(lambda t: t, image, patch=32, overlap=12, window="flat")
    torch.testing.assert_close(ident, image)


def test_small_image_single_tile_and_channel_change():
    image = np.random.default_rng(2).random((20, 30))
    out = apply_patchwise(lambda t: np.stack([t, 2 * t], axis=1), image, patch=64, overlap=16)
    assert out.shape == (2, 20, 30)
    np.testing.assert_allclose(out[1], 2 * image)


def test_bad_arguments():
    image = np.zeros((100, 100))
    with pytest.raises(ValueError, match="overlap"):
        apply_patchwise(lambda t: t, image, patch=32, overlap=32)
    with pytest.raises(ValueError, match="margin"):
        apply_patchwise(lambda t: t, image, patch=32, overlap=8, margin=4)
    with pytest.raises(ValueError, match="window"):
        apply_patchwise(lambda t: t, image, window="gauss")
    with pytest.raises(ValueError, match="expected"):
        apply_patchwise(lambda t: t[..., :-1], image, patch=32, overlap=8)


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
    prox = CPSDAEProx(net)
    rng = np.random.default_rng(0)
    v, y = rng.random((3, 64, 48)), rng.random((32, 24))
    tiled = Patchwise(prox, patch=32, overlap=18, margin=8, image_ndim=3)
    assert np.allclose(tiled(v, 0.0, y=y), prox(v, 0.0, y=y), atol=1e-10)
    with pytest.raises(ValueError, match="the prior's factor 2"):
        Patchwise(prox, patch=31, overlap=18)
    with pytest.raises(ValueError, match="y has spatial shape"):
        tiled(v, 0.0, y=y[:-1])


def test_patchwise_forwards_the_self_ensemble():
    from ppsolve.prox import SoftThreshold

    tiled = Patchwise(zoo.load("natural-gray"), patch=64, overlap=24, margin=8)
    tiled.ensemble = 2
    assert tiled.prox.ensemble == 2 == tiled.ensemble
    plain = Patchwise(SoftThreshold(), patch=64, overlap=24, margin=8)
    assert not hasattr(plain, "ensemble")
    with pytest.raises(AttributeError, match="no self-ensemble"):
        plain.ensemble = 2
