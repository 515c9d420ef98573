"""ppsolve.imagefile: bit depths, grey and colour, alpha, EXIF orientation, float TIFFs, bad files."""
from __future__ import annotations

import numpy as np
import png
import pytest
import tifffile
from PIL import Image, ImageOps

from ppsolve.imagefile import read_image, write_image


def _samples(shape, depth, seed=0):
    top = 2**depth - 1
    return np.random.default_rng(seed).integers(0, top + 1, shape).astype(np.uint16 if depth > 8 else np.uint8)


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("planes", [1, 2, 3, 4])  # L, LA, RGB, RGBA
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_round_trip_keeps_depth_mode_and_alpha(tmp_path, depth, planes, suffix):
    samples = _samples((5, 7, planes), depth)  # odd sizes
    path = tmp_path / f"in{suffix}"
    if suffix == ".png":
        png.Writer(7, 5, greyscale=planes < 3, alpha=planes in (2, 4), bitdepth=depth).write_array(
            open(path, "wb"), samples.reshape(-1))
    else:
        tifffile.imwrite(path, samples[..., 0] if planes == 1 else samples,
                         photometric="minisblack" if planes < 3 else "rgb",
                         extrasamples=("unassalpha",) if planes in (2, 4) else None)
    image = read_image(path)
    colour = planes >= 3
    assert image.bit_depth == depth and image.colour == colour and image.shape == (5, 7)
    assert image.pixels.shape == ((3, 5, 7) if colour else (5, 7)) and image.pixels.dtype == np.float64
    values = samples[..., : 3 if colour else 1]
    expected = np.moveaxis(values, -1, 0) if colour else values[..., 0]
    np.testing.assert_array_equal(image.pixels * (2**depth - 1), expected)
    assert (image.alpha is None) == (planes not in (2, 4))
    out = write_image(tmp_path / f"out{suffix}", image.pixels, like=image)
    again = read_image(out)
    assert again.bit_depth == depth and np.array_equal(again.pixels, image.pixels)
    if image.alpha is not None:
        np.testing.assert_array_equal(again.alpha, image.alpha)  # carried through untouched


def test_sixteen_bit_colour_png_keeps_its_sixteen_bits(tmp_path):
    """Pillow reads a 16-bit RGB PNG as 8-bit; these 16-bit values differ only below the 8th bit."""
    samples = (np.arange(3 * 4 * 6).reshape(4, 6, 3) * 7 + 20000).astype(np.uint16)
    path = tmp_path / "deep.png"
    png.Writer(6, 4, greyscale=False, bitdepth=16).write_array(open(path, "wb"), samples.reshape(-1))
    assert Image.open(path).mode == "RGB"  # what Pillow would have given
    image = read_image(path)
    np.testing.assert_array_equal(np.rint(image.pixels * 65535), np.moveaxis(samples, -1, 0))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_pillow(tmp_path, orientation):
    samples = _samples((6, 9, 3), 8, seed=orientation)
    im = Image.fromarray(samples)
    exif = im.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.png"
    im.save(path, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    image = read_image(path)
    np.testing.assert_array_equal(np.rint(np.moveaxis(image.pixels, 0, -1) * 255), expected)


def test_jpeg_in_and_float_tiff(tmp_path):
    Image.fromarray(_samples((8, 8, 3), 8)).save(tmp_path / "a.jpg", quality=98)
    image = read_image(tmp_path / "a.jpg")
    assert image.format == "JPEG" and image.colour and image.bit_depth == 8
    out = write_image(tmp_path / "a.png", image.pixels, like=image)
    assert read_image(out).bit_depth == 8
    values = np.random.default_rng(1).random((4, 5)).astype(np.float32)
    tifffile.imwrite(tmp_path / "f.tif", values)
    image = read_image(tmp_path / "f.tif")
    assert image.bit_depth == "float" and np.allclose(image.pixels, values)
    out = write_image(tmp_path / "f2.tif", image.pixels, like=image)
    assert tifffile.imread(out).dtype == np.float32
    assert read_image(write_image(tmp_path / "f.png", image.pixels, like=image)).bit_depth == 16


def test_bad_files_and_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such image file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(ValueError, match="broken.png: not a readable image"):
        read_image(tmp_path / "broken.png")
    (tmp_path / "text.jpg").write_text("hello")
    with pytest.raises(ValueError, match="not a readable image"):
        read_image(tmp_path / "text.jpg")
    with pytest.raises(ValueError, match="unknown output format"):
        write_image(tmp_path / "out.gif", np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"expected pixels \(H, W\) or \(3, H, W\)"):
        write_image(tmp_path / "out.png", np.zeros((2, 4, 4)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.png", "text.jpg"]
