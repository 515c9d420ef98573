"""ppsolve.nn.registry: a model file names only registered architectures with checked configs, and crafted
files (valid digests, hostile contents) are refused before anything is built, touching nothing on disk."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from ppsolve import modelfile, zoo
from ppsolve.inverses import LearnedInverse
from ppsolve.nn import symmetric
from ppsolve.nn.registry import ARCHITECTURES, build, describe, load_denoiser
from ppsolve.nn.unet import SigmaUNet
from ppsolve.operators import gaussian_kernel, strided_convolution
from ppsolve.prox import DenoiserProx


def _crafted(tmp_path, edit_header=None, edit_tensors=None, source="natural-gray"):
    """A copy of a zoo file with its header and tensors edited, re-saved with a valid digest (anyone can)."""
    header, tensors = modelfile.load(zoo.info(source)["weights"])
    header = {k: v for k, v in header.items() if k not in ("tensors", "sha256", "format", "version")}
    if edit_header:
        edit_header(header)
    if edit_tensors:
        edit_tensors(tensors)
    path = tmp_path / "crafted.safetensors"
    modelfile.save(path, header, tensors)
    return path


def _listing(folder):
    return sorted((p.name, p.stat().st_size) for p in folder.iterdir())


def test_every_registered_architecture_round_trips_through_describe_and_build():
    for name, entry in ARCHITECTURES.items():
        model = entry.cls(factor=2) if name == "CPSDAE" else entry.cls()
        spec = describe(model)
        assert spec["class"] == name
        rebuilt = build(spec)
        assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in
                                                                         model.state_dict().items()}
    assert describe(torch.nn.Linear(2, 2)) == {"class": "Linear", "config": {}}  # your own: read back by factory
    with pytest.raises(ValueError, match="expected an int in"):
        describe(SigmaUNet(widths=(8, 1024)))  # registered, but beyond what a model file may hold


@pytest.mark.parametrize("model", [
    {"class": "Evil", "config": {}},
    {"class": "atomic_write", "module": "ppsolve.files", "config": {"path": "victim.txt", "data": "owned"}},
    {"class": "main", "module": "ppsolve.__main__", "config": {}},
    {"class": "save_checkpoint", "module": "ppsolve.checkpoint", "config": {"path": "victim.txt", "payload": {}}},
])
def test_a_file_naming_any_callable_is_refused_and_nothing_happens(tmp_path, monkeypatch, model):
    path = _crafted(tmp_path, lambda h: h.update(model=model))
    monkeypatch.chdir(tmp_path)
    before = _listing(tmp_path)
    with pytest.raises(ValueError, match="unknown architecture"):
        DenoiserProx.from_file(path)
    with pytest.raises(ValueError, match="unknown architecture"):
        zoo.load("natural-gray", weights=path)
    assert _listing(tmp_path) == before


@pytest.mark.parametrize("config, message", [
    ({"channels": 1, "widths": [32, 64, 128], "blocks": 1, "activation": "os.system"}, "no option"),
    ({"channels": 1, "widths": [32, 64, 100000], "blocks": 1}, r"widths\[2\]: expected an int in \[1, 512\]"),
    ({"channels": 1, "widths": [32] * 40, "blocks": 1}, "1 to 6 ints"),
    ({"channels": 1, "widths": [32, 64, 128], "blocks": 10**9}, r"blocks: expected an int in \[1, 8\]"),
    ({"channels": "1", "widths": [32, 64, 128], "blocks": 1}, "channels: expected an int"),
    ({"channels": 1, "widths": [32, 64, 128], "blocks": True}, "blocks: expected an int"),
])
def test_configs_with_extra_or_oversized_values_are_refused_before_building(tmp_path, monkeypatch, config, message):
    built = []
    monkeypatch.setattr(SigmaUNet, "__init__", lambda self, *a, **k: built.append(k) or None)
    path = _crafted(tmp_path, lambda h: h["model"].update(config=config))
    with pytest.raises(ValueError, match=message):
        load_denoiser(path)
    assert built == []


def test_tensors_of_the_wrong_shape_are_refused_before_the_network_is_allocated(tmp_path, monkeypatch):
    def widen(tensors):
        tensors["model.head.weight"] = torch.zeros((48, 2, 3, 3))

    path = _crafted(tmp_path, edit_tensors=widen)
    with pytest.raises(ValueError, match=r"model\.head\.weight has shape \(48, 2, 3, 3\).*needs \(32, 2, 3, 3\)"):
        DenoiserProx.from_file(path)

    def drop(tensors):
        del tensors["model.tail.weight"]

    with pytest.raises(ValueError, match=r"missing \['tail.weight'\]"):
        DenoiserProx.from_file(_crafted(tmp_path, edit_tensors=drop))


def test_the_wrong_kind_is_refused(tmp_path):
    path = _crafted(tmp_path, lambda h: h.update(kind="learned-inverse"))
    with pytest.raises(ValueError, match="kind 'learned-inverse', expected kind 'denoiser'"):
        DenoiserProx.from_file(path)


# -- learned inverses ---------------------------------------------------------------------------------------------

A = strided_convolution(gaussian_kernel(9, 2.0), (64, 64), 4)
SHIPPED = "learned-inverse-sr4-gauss9s2-linear-beta0.1.safetensors"


def _crafted_inverse(tmp_path, edit):
    header, tensors = modelfile.load(zoo.ZOO_DIR / SHIPPED)
    header = {k: v for k, v in header.items() if k not in ("tensors", "sha256", "format", "version")}
    edit(header, tensors)
    path = tmp_path / "inverse.safetensors"
    modelfile.save(path, header, tensors)
    return path


@pytest.fixture
def networks_built(monkeypatch):
    """The (non-meta) symmetric networks constructed while the test runs."""
    built = []
    real = symmetric.LinearSymmetricNet.__init__

    def counting(self, *args, **kwargs):
        real(self, *args, **kwargs)
        if not self.raw.is_meta:
            built.append(kwargs)

    monkeypatch.setattr(symmetric.LinearSymmetricNet, "__init__", counting)
    return built


def test_the_shipped_inverse_loads(networks_built):
    inverse = LearnedInverse.load(zoo.ZOO_DIR / SHIPPED, A, 0.1)
    assert len(networks_built) == 1 and inverse.form == "woodbury"


@pytest.mark.parametrize("edit, message", [
    (lambda h, t: h["options"].update(kernel_size=100001), r"kernel_size: expected an int in \[1, 255\]"),
    (lambda h, t: h["options"].update(channels=5000), r"channels: expected an int in \[1, 256\]"),
    (lambda h, t: h["options"].update(evil="os.system"), "no option"),
    (lambda h, t: h.update(architecture="subprocess"), "unknown architecture 'subprocess'"),
    (lambda h, t: h.update(beta=0.2), "trained for beta = 0.2"),
    (lambda h, t: h.update(fingerprint="0" * 16, description="x"), "trained for operator"),
    (lambda h, t: h.update(form="direct"), "direct-form inverse"),
    (lambda h, t: h.update(dtype="float16"), "dtype"),
    (lambda h, t: t.update({"network.raw": torch.zeros((16, 1, 9, 9))}), r"network\.raw has shape"),
])
def test_crafted_inverse_files_are_refused_before_a_network_is_allocated(tmp_path, networks_built, edit, message):
    path = _crafted_inverse(tmp_path, edit)
    with pytest.raises(ValueError, match=message):
        LearnedInverse.load(path, A, 0.1)
    assert networks_built == []


def test_loading_never_unpickles(tmp_path):
    """A torch.save file (the old format) is not read at all: no pickle code path."""
    path = tmp_path / "old.pt"
    torch.save({"format": "ppsolve-checkpoint", "metadata": {}, "state": {"x": np.arange(3)}}, path)
    for load in (lambda: LearnedInverse.load(path, A, 0.1), lambda: DenoiserProx.from_file(path)):
        with pytest.raises(ValueError, match="corrupted or truncated"):
            load()
    assert os.path.getsize(path) > 0
