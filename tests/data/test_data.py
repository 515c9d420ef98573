"""ppsolve.data: MNIST IDX loaders, image loading / listing / cropping, splits, patches, the vendored sample.

Tests on the real data use the ``shared_data`` fixture (skipped when the folder is absent) and never copy
CelebA images anywhere; everything else uses files written to ``tmp_path``.
"""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from ppsolve.data import (
    holdout_split,
    list_images,
    load_image,
    load_images,
    load_mnist,
    load_mnist_images,
    load_mnist_labels,
    load_mnist_sample,
    random_crops,
)
from ppsolve.data.mnist import MNIST_SAMPLE_PATH

MNIST_IMAGES = "mnist/t10k-images-idx3-ubyte.gz"
MNIST_LABELS = "mnist/t10k-labels-idx1-ubyte.gz"
MNIST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # per digit, from the data README


def idx_bytes(magic: int, shape, data: bytes | None = None) -> bytes:
    header = struct.pack(">I", magic) + struct.pack(f">{len(shape)}I", *shape)
    if data is None:
        data = (np.arange(int(np.prod(shape))) % 256).astype(np.uint8).tobytes()
    return header + data


# ---------------------------------------------------------------------------------------------- MNIST


@pytest.fixture(scope="module")
def mnist(shared_data):
    return load_mnist_images(shared_data / MNIST_IMAGES), load_mnist_labels(shared_data / MNIST_LABELS)


@pytest.mark.data
def test_mnist_shared_shapes_values_labels(mnist):
    images, labels = mnist
    assert images.shape == (10000, 28, 28) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert labels.shape == (10000,) and labels.dtype == np.int64
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(labels, minlength=10).tolist() == MNIST_COUNTS
    # values are exactly k / 255
    assert np.allclose(images[:50] * 255, np.round(images[:50] * 255), atol=1e-4)


@pytest.mark.data
def test_mnist_uncompressed_and_misnamed_copies(shared_data, mnist, tmp_path):
    """Compression is detected by content, not by name."""
    raw_images = gzip.decompress((shared_data / MNIST_IMAGES).read_bytes())
    raw_labels = gzip.decompress((shared_data / MNIST_LABELS).read_bytes())
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(raw_images)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(raw_labels)
    (tmp_path / "plain.gz").write_bytes(raw_labels)  # not gzip despite the name
    (tmp_path / "compressed.idx").write_bytes((shared_data / MNIST_LABELS).read_bytes())  # gzip without the name
    images, labels = mnist
    np.testing.assert_array_equal(load_mnist_images(tmp_path / "t10k-images-idx3-ubyte"), images)
    np.testing.assert_array_equal(load_mnist_labels(str(tmp_path / "t10k-labels-idx1-ubyte")), labels)
    np.testing.assert_array_equal(load_mnist_labels(tmp_path / "plain.gz"), labels)
    np.testing.assert_array_equal(load_mnist_labels(tmp_path / "compressed.idx"), labels)
    im2, lab2 = load_mnist(tmp_path)
    np.testing.assert_array_equal(im2, images)
    np.testing.assert_array_equal(lab2, labels)
    im3, lab3 = load_mnist(shared_data / "mnist", dtype=np.uint8)
    assert im3.dtype == np.uint8 and im3.max() == 255
    np.testing.assert_array_equal(lab3, labels)


def test_mnist_synthetic_roundtrip(tmp_path):
    data = idx_bytes(2051, (3, 28, 28))
    (tmp_path / "im").write_bytes(data)
    (tmp_path / "im.gz").write_bytes(gzip.compress(data))
    (tmp_path / "lab").write_bytes(idx_bytes(2049, (3,), bytes([3, 1, 4])))
    expected = (np.arange(3 * 28 * 28) % 256).reshape(3, 28, 28) / 255.0
    np.testing.assert_allclose(load_mnist_images(tmp_path / "im"), expected, rtol=1e-6)
    np.testing.assert_array_equal(load_mnist_images(tmp_path / "im.gz"), load_mnist_images(tmp_path / "im"))
    assert load_mnist_labels(tmp_path / "lab").tolist() == [3, 1, 4]


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_truncated(tmp_path, compress):
    data = idx_bytes(2051, (3, 28, 28))[:-100]
    path = tmp_path / "truncated"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(ValueError, match=r"truncated: expected 2368 bytes .*got 2268"):
        load_mnist_images(path)
    path.write_bytes(idx_bytes(2051, (3, 28, 28))[:10])  # inside the header
    with pytest.raises(ValueError, match="truncated"):
        load_mnist_images(path)


def test_mnist_cut_gzip_stream_and_trailing_bytes(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_bytes(2051, (3, 28, 28)))[:-30])
    with pytest.raises(ValueError, match=str(path.name)):
        load_mnist_images(path)
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(2049, (3,), bytes([1, 2, 3, 4])))
    with pytest.raises(ValueError, match="expected 11 bytes .*got 12"):
        load_mnist_labels(path)


@pytest.mark.data
def test_mnist_wrong_magic(tmp_path, shared_data):
    with pytest.raises(ValueError, match=r"not an MNIST IDX image file \(magic 2049"):
        load_mnist_images(shared_data / MNIST_LABELS)
    with pytest.raises(ValueError, match=r"not an MNIST IDX label file \(magic 2051"):
        load_mnist_labels(shared_data / MNIST_IMAGES)
    path = tmp_path / "png_not_idx"
    Image.new("L", (4, 4)).save(path, format="PNG")
    with pytest.raises(ValueError, match="not an MNIST IDX image file"):
        load_mnist_images(path)


def test_mnist_missing(tmp_path):
    path = tmp_path / "nope" / "t10k-images-idx3-ubyte.gz"
    with pytest.raises(FileNotFoundError, match="nope"):
        load_mnist_images(path)
    with pytest.raises(FileNotFoundError, match="nope"):
        load_mnist_labels(path)
    with pytest.raises(FileNotFoundError):
        load_mnist(tmp_path)


def test_mnist_sample_fixture():
    """Runs without the shared data: the vendored sample is part of the package."""
    assert MNIST_SAMPLE_PATH.stat().st_size < 300_000
    images, labels = load_mnist_sample(return_labels=True)
    assert images.shape == (300, 28, 28) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert labels.shape == (300,) and labels.dtype == np.int64
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
    np.testing.assert_array_equal(load_mnist_sample(), images)
    raw = load_mnist_sample(dtype=np.uint8)
    assert raw.dtype == np.uint8
    np.testing.assert_allclose(images, raw / 255.0, rtol=1e-6)


@pytest.mark.data
def test_mnist_sample_equals_shared(mnist):
    images, labels = mnist
    sample, sample_labels = load_mnist_sample(return_labels=True)
    np.testing.assert_array_equal(sample, images[:300])
    np.testing.assert_array_equal(sample_labels, labels[:300])


# --------------------------------------------------------------------------------------------- images


def write(path, array, **kwargs):
    Image.fromarray(array).save(path, **kwargs)
    return path


@pytest.fixture()
def rgb_u8():
    return np.random.default_rng(0).integers(0, 256, size=(20, 30, 3), dtype=np.uint8)


def test_load_image_grey_and_colour_png(tmp_path, rgb_u8):
    path = write(tmp_path / "c.png", rgb_u8)
    rgb = load_image(path, mode="RGB")
    assert rgb.shape == (3, 20, 30) and rgb.dtype == np.float32 and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb, rgb_u8.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    grey = load_image(str(path))  # default "L"
    assert grey.shape == (20, 30)
    expected = np.asarray(Image.fromarray(rgb_u8).convert("L"), dtype=np.float32) / 255
    np.testing.assert_array_equal(grey, expected)
    # grey file -> RGB replicates the channel
    gpath = write(tmp_path / "g.png", rgb_u8[..., 0])
    g3 = load_image(gpath, "RGB")
    assert g3.shape == (3, 20, 30)
    np.testing.assert_array_equal(g3[0], g3[2])
    np.testing.assert_array_equal(g3[1], load_image(gpath, "L"))
    # RGBA: alpha dropped
    rgba = np.concatenate([rgb_u8, np.full((20, 30, 1), 7, np.uint8)], axis=-1)
    np.testing.assert_array_equal(load_image(write(tmp_path / "a.png", rgba), "RGB"), rgb)
    with pytest.raises(ValueError, match="mode"):
        load_image(path, mode="CMYK")


def test_load_image_jpeg_tiff_16bit(tmp_path, rgb_u8):
    jpg = load_image(write(tmp_path / "c.jpg", rgb_u8, quality=95), "RGB")
    assert jpg.shape == (3, 20, 30) and 0 <= jpg.min() and jpg.max() <= 1
    tif = load_image(write(tmp_path / "c.tif", rgb_u8), "RGB")
    np.testing.assert_array_equal(tif, rgb_u8.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    u16 = (np.arange(20 * 30, dtype=np.uint16).reshape(20, 30) * 100).astype(np.uint16)
    p16 = tmp_path / "g16.png"
    Image.fromarray(u16).save(p16)
    g16 = load_image(p16)
    np.testing.assert_allclose(g16, u16 / 65535.0, rtol=1e-6, atol=1e-7)
    assert load_image(p16, "RGB", crop=10, size=5).shape == (3, 5, 5)
    pf = tmp_path / "f.tif"
    Image.fromarray(np.linspace(-0.5, 1.5, 600, dtype=np.float32).reshape(20, 30), mode="F").save(pf)
    f = load_image(pf, size=(10, 15))
    assert f.shape == (10, 15) and f.min() == 0.0 and f.max() == 1.0


def test_load_image_centre_crop_and_resize(tmp_path, rgb_u8):
    path = write(tmp_path / "c.png", rgb_u8)
    full = load_image(path, "RGB")
    np.testing.assert_array_equal(load_image(path, "RGB", crop=10), full[:, 5:15, 10:20])
    np.testing.assert_array_equal(load_image(path, "RGB", crop=(19, 27)), full[:, 0:19, 1:28])
    np.testing.assert_array_equal(load_image(path, "RGB", crop=(20, 30)), full)
    assert load_image(path, "L", crop=(20, 10)).shape == (20, 10)
    assert load_image(path, "RGB", size=(40, 50)).shape == (3, 40, 50)
    assert load_image(path, "L", crop=16, size=8).shape == (8, 8)
    for resample in ("lanczos", "bilinear", "box", "nearest"):
        out = load_image(path, "L", size=7, resample=resample)
        assert out.shape == (7, 7) and 0 <= out.min() and out.max() <= 1
    flat = write(tmp_path / "flat.png", np.full((20, 30), 128, np.uint8))
    np.testing.assert_allclose(load_image(flat, size=(9, 13)), 128 / 255, atol=1e-6)
    with pytest.raises(ValueError, match=r"crop 21x10 .*larger than the image \(20x30\)"):
        load_image(path, crop=(21, 10))
    with pytest.raises(ValueError, match="larger"):
        load_image(path, crop=31)
    with pytest.raises(ValueError):
        load_image(path, size=0)
    with pytest.raises(TypeError):
        load_image(path, crop=(1, 2, 3))
    with pytest.raises(ValueError, match="resample"):
        load_image(path, size=5, resample="fancy")


def test_load_image_missing_and_corrupt(tmp_path, rgb_u8):
    missing = tmp_path / "missing.png"
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_image(missing)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(np.random.default_rng(1).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match="garbage.jpg"):
        load_image(garbage)
    good = write(tmp_path / "full.jpg", rgb_u8, quality=90).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="cut.jpg"):
        load_image(cut, "RGB")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.png"):
        load_image(empty)
    with pytest.raises(IsADirectoryError):
        load_image(tmp_path)


def make_tree(root, rng):
    files = {
        "b/2.png": (8, 8),
        "b/10.PNG": (8, 8),
        "a/z.jpg": (8, 8),
        "a/sub/x.tif": (8, 8),
        "c.bmp": (8, 8),
    }
    for rel, shape in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = {"png": "PNG", "jpg": "JPEG", "tif": "TIFF", "bmp": "BMP"}[rel.rsplit(".", 1)[1].lower()]
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path, format=fmt)
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden.png").write_bytes(b"junk")
    (root / ".cache").mkdir()
    (root / ".cache" / "y.png").write_bytes(b"junk")
    return root


def test_list_and_load_images(tmp_path):
    root = make_tree(tmp_path / "set", np.random.default_rng(2))
    found = [p.relative_to(root).as_posix() for p in list_images(root)]
    assert found == ["a/sub/x.tif", "a/z.jpg", "b/10.PNG", "b/2.png", "c.bmp"]
    assert [p.name for p in list_images(root, extensions=("png",))] == ["10.PNG", "2.png"]
    stack = load_images(root)
    assert stack.shape == (5, 8, 8) and stack.dtype == np.float32
    np.testing.assert_array_equal(stack[1], load_image(root / "a/z.jpg"))
    assert load_images(str(root), mode="RGB", limit=2, size=4).shape == (2, 3, 4, 4)
    picked = load_images([root / "c.bmp", root / "b/2.png"])
    np.testing.assert_array_equal(picked[0], load_image(root / "c.bmp"))
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(root / "d.png")
    with pytest.raises(ValueError, match="d.png"):
        load_images(root)
    assert load_images(root, crop=8).shape == (6, 8, 8)
    with pytest.raises(ValueError, match="no images"):
        load_images(root, limit=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        load_images(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="absent"):
        list_images(tmp_path / "absent")


@pytest.mark.data
def test_shared_images(shared_data):
    grey = load_image(shared_data / "set12" / "01.png")
    assert grey.shape == (256, 256) and grey.dtype == np.float32
    bridge = load_image(shared_data / "set14" / "bridge.png", "RGB")  # a grey PNG
    assert bridge.shape == (3, 512, 512)
    np.testing.assert_array_equal(bridge[0], bridge[1])
    # CelebA: the paper's 64 x 64 faces, loaded in place (never copied)
    face = load_image(shared_data / "celeba" / "images" / "000001.jpg", "RGB", crop=88, size=64)
    assert face.shape == (3, 64, 64) and face.dtype == np.float32
    assert 0.0 <= face.min() and face.max() <= 1.0 and face.std() > 0.05
    assert load_image(shared_data / "celeba" / "images" / "000001.jpg", "RGB").shape == (3, 109, 89)
    faces = load_images(shared_data / "celeba" / "images", "RGB", crop=88, size=64, limit=3)
    assert faces.shape == (3, 3, 64, 64)
    np.testing.assert_array_equal(faces[0], face)


@pytest.mark.data
def test_shared_cub_listing_and_holdout(shared_data):
    paths = list_images(shared_data / "cub200" / "images")
    assert len(paths) == 1000
    rel = [p.relative_to(shared_data / "cub200" / "images").parts for p in paths]
    assert rel == sorted(rel)
    train, test = holdout_split(len(paths), 200)
    assert len(train) == 800 and len(test) == 200 and test[0] == 800
    birds = load_images([paths[i] for i in test[:2]], "RGB", size=64)
    assert birds.shape == (2, 3, 64, 64)


def test_holdout_split():
    train, test = holdout_split(10000, 2000)
    assert train.dtype == np.int64 and len(train) == 8000 and len(test) == 2000
    np.testing.assert_array_equal(np.concatenate([train, test]), np.arange(10000))
    train, test = holdout_split(5000, 500)  # CelebA 004501..005000 are indices 4500..4999
    assert test[0] == 4500 and test[-1] == 4999
    assert [len(a) for a in holdout_split(3, 0)] == [3, 0]
    assert [len(a) for a in holdout_split(3, 3)] == [0, 3]
    with pytest.raises(ValueError):
        holdout_split(3, 4)
    with pytest.raises(ValueError):
        holdout_split(3, -1)
    with pytest.raises(TypeError):
        holdout_split(3, 0.5)


def test_random_crops():
    images = [
        np.arange(30 * 40, dtype=np.float32).reshape(30, 40),
        10000 + np.arange(20 * 20, dtype=np.float32).reshape(20, 20),
    ]
    patches = random_crops(images, 8, 50, seed=0)
    assert patches.shape == (50, 8, 8) and patches.dtype == np.float32
    np.testing.assert_array_equal(patches, random_crops(images, 8, 50, seed=0))
    assert not np.array_equal(patches, random_crops(images, 8, 50, seed=1))
    seen = set()
    for p in patches:  # every patch is a genuine sub-array of one of the images
        im = images[0] if p[0, 0] < 10000 else images[1]
        base = p[0, 0] - (0 if im is images[0] else 10000)
        top, left = divmod(int(base), im.shape[1])
        np.testing.assert_array_equal(p, im[top : top + 8, left : left + 8])
        seen.add(im is images[0])
    assert seen == {True, False}
    rect = random_crops(images, (4, 6), 5, seed=np.random.default_rng(3))
    assert rect.shape == (5, 4, 6)
    aug = random_crops(images, 8, 20, seed=0, augment=True)
    assert aug.shape == (20, 8, 8)
    for p in aug:  # a flip / rotation keeps the set of values
        im = images[0] if p.min() < 10000 else images[1]
        base = p.min() - (0 if im is images[0] else 10000)
        top, left = divmod(int(base), im.shape[1])
        np.testing.assert_array_equal(np.sort(p, axis=None), np.sort(im[top : top + 8, left : left + 8], axis=None))
    colour = random_crops(np.zeros((3, 3, 16, 16), np.uint8), 5, 4, seed=0, augment=True)
    assert colour.shape == (4, 3, 5, 5) and colour.dtype == np.uint8
    with pytest.raises(ValueError, match="larger"):
        random_crops(images, 21, 1, seed=0)
    with pytest.raises(ValueError):
        random_crops([np.zeros((3, 8, 8)), np.zeros((1, 8, 8))], 4, 1)
    with pytest.raises(ValueError):
        random_crops([], 4, 1)
