"""ppsolve.modelfile: safetensors with a JSON header; round trip, training-state trees, damage detection, limits."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import safetensors.torch
import torch

from ppsolve import modelfile
from ppsolve.modelfile import check_compatible


def _tensors(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"model.weight": torch.randn((4, 6), generator=g), "model.bias": torch.randn(4, generator=g),
            "model.count": torch.tensor(3), "flags": torch.tensor([True, False])}


def _header(kind="denoiser"):
    return {"kind": kind, "model": {"class": "Linear", "config": {"in": 6, "out": 4}},
            "hyper": {"beta": 0.01, "noise": (0.0, 0.2), "flag": True, "none": None},
            "figures": {"psnr": [20.0, float("nan")]}, "numpy_value": np.float32(1.5),
            "torch_version": torch.__version__}


def test_round_trip(tmp_path):
    path = tmp_path / "sub" / "dir" / "m.safetensors"  # the parent directories are created
    assert modelfile.save(path, _header(), _tensors()) == path
    header, tensors = modelfile.load(path, "denoiser")
    assert header["format"] == "ppsolve-model" and header["version"] == 2 and len(header["sha256"]) == 64
    assert header["hyper"]["noise"] == [0.0, 0.2] and header["hyper"]["flag"] is True and header["hyper"]["none"] is None
    assert header["numpy_value"] == 1.5 and np.isnan(header["figures"]["psnr"][1])
    assert header["tensors"]["model.weight"] == ("F32", (4, 6))
    for name, value in _tensors().items():
        assert torch.equal(tensors[name], value) and tensors[name].dtype == value.dtype
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.safetensors"]  # no temporary left
    # an ordinary safetensors reader sees the same tensors: the format is open
    assert torch.equal(safetensors.torch.load_file(path)["model.weight"], _tensors()["model.weight"])


def test_training_state_trees_survive_exactly(tmp_path):
    optimizer = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    optimizer.zero_grad()
    sum(p.sum() for group in optimizer.param_groups for p in group["params"]).backward()
    optimizer.step()
    rng = np.random.default_rng(7)
    tree = {"optimizer": optimizer.state_dict(), "rng": {"numpy": rng.bit_generator.state,
                                                         "torch": torch.Generator().manual_seed(3).get_state()},
            "perm": np.arange(5), "pair": (1, "a"), "__odd": {1: [2.5, None]}, "epoch": 3}
    json_tree, tensors = modelfile.pack(tree)
    json.dumps(json_tree)  # plain JSON
    modelfile.save(tmp_path / "s.safetensors", {"kind": "training-state", "resume": json_tree}, tensors)
    header, loaded = modelfile.load(tmp_path / "s.safetensors")
    back = modelfile.unpack(header["resume"], loaded)
    assert back["pair"] == (1, "a") and back["__odd"] == {1: [2.5, None]} and back["epoch"] == 3
    assert torch.equal(back["perm"], torch.arange(5))
    fresh = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    fresh.load_state_dict(back["optimizer"])  # int keys of the state survive
    assert list(fresh.state_dict()["state"]) == [0, 1]
    again = np.random.default_rng()
    again.bit_generator.state = back["rng"]["numpy"]  # 128-bit ints survive
    assert again.random() == np.random.default_rng(7).random()
    with pytest.raises(TypeError, match="cannot be stored"):
        modelfile.pack({"f": object()})


def test_missing_and_not_a_model_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        modelfile.read_header(tmp_path / "nope.safetensors")
    plain = tmp_path / "plain.safetensors"
    safetensors.torch.save_file({"w": torch.zeros(2)}, plain)
    with pytest.raises(ValueError, match="not a ppsolve model file"):
        modelfile.read_header(plain)
    pickle = tmp_path / "old.pt"
    torch.save({"weight": torch.zeros(2)}, pickle)
    with pytest.raises(ValueError, match="corrupted or truncated"):
        modelfile.read_header(pickle)
    (tmp_path / "text").write_text("hello world")
    with pytest.raises(ValueError, match="corrupted or truncated"):
        modelfile.read_header(tmp_path / "text")
    with pytest.raises(IsADirectoryError):
        modelfile.read_header(tmp_path)


@pytest.mark.parametrize("keep", [0, 7, 8, 100, 0.5, 0.9, -1])
def test_truncated_file(tmp_path, keep):
    path = tmp_path / "m.safetensors"
    modelfile.save(path, _header(), _tensors())
    data = path.read_bytes()
    n = keep if isinstance(keep, int) and keep >= 0 else int(len(data) * keep) if keep > 0 else len(data) - 1
    path.write_bytes(data[:n])
    with pytest.raises(ValueError, match=r"m\.safetensors: model file is corrupted or truncated \("):
        modelfile.load(path)


def test_every_flipped_byte_is_detected_or_harmless(tmp_path):
    """A flipped byte raises ValueError naming the file, or (white space of the JSON header) changes nothing."""
    path = tmp_path / "m.safetensors"
    modelfile.save(path, _header(), _tensors())
    data = path.read_bytes()
    good_header, good = modelfile.load(path)
    positions = sorted(set(np.random.default_rng(0).integers(0, len(data), 80).tolist()) | {len(data) - 1, 3})
    detected = 0
    for pos in positions:
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        path.write_bytes(bytes(bad))
        try:
            header, tensors = modelfile.load(path)
        except ValueError as err:
            assert "m.safetensors" in str(err)
            detected += 1
        else:
            assert header["sha256"] == good_header["sha256"]
            assert all(torch.equal(tensors[k], good[k]) for k in good)
    assert detected >= len(positions) - 2
    tensor_byte = len(data) - 20  # inside the tensor data
    bad = bytearray(data)
    bad[tensor_byte] ^= 0x01
    path.write_bytes(bytes(bad))
    with pytest.raises(ValueError, match="digest does not match"):
        modelfile.load(path)


def test_hand_edited_headers_are_refused(tmp_path):
    path = tmp_path / "m.safetensors"
    modelfile.save(path, _header(), _tensors())
    header = modelfile.read_header(path)
    tensors = modelfile.read_tensors(path, header)
    edited = {k: v for k, v in header.items() if k != "tensors"}
    edited["hyper"]["beta"] = 1.0  # the digest still says 0.01
    safetensors.torch.save_file(tensors, path, metadata={"ppsolve": json.dumps(edited)})
    with pytest.raises(ValueError, match="digest does not match"):
        modelfile.load(path)
    edited = {**edited, "version": 99}
    safetensors.torch.save_file(tensors, path, metadata={"ppsolve": json.dumps(edited)})
    with pytest.raises(ValueError, match="version 99 is newer"):
        modelfile.read_header(path)


def test_a_header_larger_than_the_limit_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    modelfile.save(path, {**_header(), "padding": "x" * 5000}, _tensors())
    monkeypatch.setattr(modelfile, "MAX_HEADER_BYTES", 4096)
    with pytest.raises(ValueError, match="more than the 4096"):
        modelfile.read_header(path)
    huge = tmp_path / "claims.safetensors"
    huge.write_bytes(struct.pack("<Q", 2**62) + b"{}")
    with pytest.raises(ValueError, match="claims"):
        modelfile.read_header(huge)


def test_wrong_kind_and_bad_values(tmp_path):
    path = tmp_path / "m.safetensors"
    modelfile.save(path, _header(kind="learned-inverse"), _tensors())
    with pytest.raises(ValueError, match="kind 'learned-inverse', expected kind 'denoiser'"):
        modelfile.read_header(path, "denoiser")
    with pytest.raises(TypeError, match=r"header\['hyper'\]\['f'\]"):
        modelfile.save(tmp_path / "x.safetensors", {"kind": "k", "hyper": {"f": object()}}, {})
    with pytest.raises(TypeError, match="kind"):
        modelfile.save(tmp_path / "x.safetensors", {}, {})
    assert not (tmp_path / "x.safetensors").exists()


def test_check_compatible():
    meta = {"kind": "learned-inverse", "beta": 0.1 + 0.2, "shape": [64, 64], "fingerprint": "abc",
            "hyper": {"lr": 1e-3}}
    check_compatible(meta, kind="learned-inverse", beta=0.3, shape=(64, 64), fingerprint="abc", hyper__lr=1e-3)
    with pytest.raises(ValueError, match=r"'fingerprint' expected 'xyz', found 'abc'"):
        check_compatible(meta, fingerprint="xyz")
    with pytest.raises(ValueError, match=r"'beta' expected 0\.01, found 0\.3"):
        check_compatible(meta, beta=0.01)
    with pytest.raises(ValueError, match=r"'shape' expected \(32, 32\), found \[64, 64\]"):
        check_compatible(meta, shape=(32, 32))
    with pytest.raises(ValueError, match=r"'hyper\.lr' expected 0\.1"):
        check_compatible(meta, hyper__lr=0.1)
    with pytest.raises(ValueError, match=r"records no 'operator'"):
        check_compatible(meta, operator="x")
    with pytest.raises(ValueError, match="'flag'"):
        check_compatible({"flag": 1}, flag=True)  # a bool is not the number 1
