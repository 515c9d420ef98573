"""ppsolve.checkpoint: round trip, corruption detection, kinds, compatibility checks, atomic writes."""
from __future__ import annotations

import collections
import os

import numpy as np
import pytest
import torch

from ppsolve import checkpoint as ck
from ppsolve.checkpoint import check_compatible, load_checkpoint, save_checkpoint


def _payload(seed=0, kind="denoiser"):
    g = torch.Generator().manual_seed(seed)
    model = torch.nn.Linear(6, 4)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    metadata = {
        "kind": kind, "model": {"class": "Linear", "config": {"in": 6, "out": 4}},
        "operator": {"repr": "<Identity: (6,) -> (6,)>", "fingerprint": "0123456789abcdef"},
        "hyper": {"beta": 0.01, "noise": (0.0, 0.2), "shape": [28, 28], "flag": True, "none": None},
        "figures": {"loss": [0.5, 0.25], "psnr": [20.0, float("nan")]},
        "numpy_value": np.float32(1.5),
        "torch_version": torch.__version__,  # a str subclass, stored as a plain str
    }
    state = {
        "model": model.state_dict(),
        "rng": {"torch": torch.Generator().manual_seed(seed).get_state(), "numpy": np.random.default_rng(seed).bit_generator.state},
        "perm": np.arange(5),
        "epoch": 3,
    }
    return {"metadata": metadata, "state": state}


def test_round_trip(tmp_path):
    path = tmp_path / "sub" / "dir" / "c.pt"  # the parent directories are created
    payload = _payload()
    assert save_checkpoint(path, payload) == path
    blob = load_checkpoint(path, expect_kind="denoiser")
    assert blob["format"] == "ppsolve-checkpoint" and blob["version"] == 1 and len(blob["sha256"]) == 64
    meta, state = blob["metadata"], blob["state"]
    assert meta["hyper"]["noise"] == (0.0, 0.2) and meta["hyper"]["flag"] is True and meta["hyper"]["none"] is None
    assert meta["numpy_value"] == 1.5 and type(meta["numpy_value"]) is float
    assert np.isnan(meta["figures"]["psnr"][1])
    assert type(meta["torch_version"]) is str and meta["torch_version"] == torch.__version__
    assert isinstance(state["model"], collections.OrderedDict)
    for key, value in payload["state"]["model"].items():
        assert torch.equal(state["model"][key], value)
    assert torch.equal(state["perm"], torch.arange(5))
    # RNG states restore exactly: the numpy state holds 128-bit ints
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng"]["numpy"]
    assert rng.random() == np.random.default_rng(0).random()
    g = torch.Generator()
    g.set_state(state["rng"]["torch"])
    assert torch.equal(torch.rand(3, generator=g), torch.rand(3, generator=torch.Generator().manual_seed(0)))
    # no temporary file is left behind
    assert sorted(p.name for p in path.parent.iterdir()) == ["c.pt"]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nope.pt")


@pytest.mark.parametrize("keep", [0, 10, 100, 0.5, 0.9, -1])
def test_truncated_file(tmp_path, keep):
    path = tmp_path / "c.pt"
    save_checkpoint(path, _payload())
    data = path.read_bytes()
    n = keep if isinstance(keep, int) and keep >= 0 else int(len(data) * keep) if keep > 0 else len(data) - 1
    path.write_bytes(data[:n])
    with pytest.raises(ValueError, match=r"c\.pt: checkpoint is corrupted or truncated \("):
        load_checkpoint(path)


def test_flipped_bytes_are_detected(tmp_path):
    """A flipped byte either raises ValueError naming the file, or (a byte the zip reader never looks at:
    a local-header timestamp, alignment padding) leaves the loaded content exactly as saved. Never a silently
    different value."""
    path = tmp_path / "c.pt"
    save_checkpoint(path, _payload())
    good = load_checkpoint(path)
    data = path.read_bytes()
    rng = np.random.default_rng(0)
    # every region of the file: zip headers, the pickle, the tensor records, the central directory
    positions = sorted(set(rng.integers(0, len(data), 60).tolist()) | {len(data) // 2, len(data) - 30})
    detected = 0
    for pos in positions:
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        path.write_bytes(bytes(bad))
        try:
            blob = load_checkpoint(path)
        except ValueError as err:
            assert "c.pt" in str(err)
            detected += 1
        else:
            assert blob["sha256"] == good["sha256"], f"byte {pos} changed the content unnoticed"
            assert ck.content_digest(blob["metadata"], blob["state"]) == good["sha256"]
    assert detected >= len(positions) // 2
    # the tensor bytes themselves: flip inside the stored weight
    weight = good["state"]["model"]["weight"].numpy().tobytes()
    pos = data.index(weight) + 5
    bad = bytearray(data)
    bad[pos] ^= 0x01
    path.write_bytes(bytes(bad))
    with pytest.raises(ValueError, match="corrupted or truncated"):
        load_checkpoint(path)


def test_tampered_content_fails_the_digest(tmp_path):
    path = tmp_path / "c.pt"
    payload = _payload()
    save_checkpoint(path, payload)
    blob = load_checkpoint(path)
    blob["state"]["model"]["weight"][0, 0] += 1.0  # re-saved by hand, with the stale digest
    torch.save(blob, path)
    with pytest.raises(ValueError, match="corrupted or truncated.*digest"):
        load_checkpoint(path)


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "raw.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a ppsolve checkpoint"):
        load_checkpoint(path)
    path.write_text("hello")
    with pytest.raises(ValueError, match="corrupted or truncated"):
        load_checkpoint(path)


def test_unsafe_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "ppsolve-checkpoint", "version": 1, "metadata": {}, "state": {"x": collections.Counter()},
                "sha256": ""}, path)
    with pytest.raises(ValueError, match="evil.pt"):
        load_checkpoint(path)


def test_wrong_kind(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, _payload(kind="learned-inverse"))
    with pytest.raises(ValueError, match="kind 'learned-inverse', expected kind 'denoiser'"):
        load_checkpoint(path, expect_kind="denoiser")
    assert load_checkpoint(path)["metadata"]["kind"] == "learned-inverse"


def test_unsupported_values_are_refused_at_save(tmp_path):
    with pytest.raises(TypeError, match=r"metadata\['hyper'\]\['f'\]"):
        save_checkpoint(tmp_path / "c.pt", {"metadata": {"hyper": {"f": object()}}, "state": {}})
    with pytest.raises(ValueError, match="unknown payload keys"):
        save_checkpoint(tmp_path / "c.pt", {"metadata": {}, "state": {}, "extra": 1})
    assert not (tmp_path / "c.pt").exists()


def test_crash_during_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, _payload(seed=1))
    before = path.read_bytes()
    real_save = torch.save

    def crashing_save(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)  # the bytes are written to the temporary file...
        f.write(b"garbage")
        raise OSError("disk full")  # ...and the process dies before the rename

    monkeypatch.setattr(ck.torch, "save", crashing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, _payload(seed=2))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_checkpoint(path)["state"]["epoch"] == 3
    assert os.listdir(tmp_path) == ["c.pt"]  # the temporary file was removed

    def interrupted_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(ck.torch, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, _payload(seed=3))
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["c.pt"]


def test_overwrite_keeps_file_mode(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, _payload())
    os.chmod(path, 0o640)
    save_checkpoint(path, _payload(seed=1))
    assert path.stat().st_mode & 0o777 == 0o640


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
