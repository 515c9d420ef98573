r"""The registry of network architectures a model file may name, and denoisers to and from model files.

A model file (``ppsolve.modelfile``) names its network as ``{"class": NAME, "config": {...}}``. Loading never
imports or calls anything the file names: ``NAME`` must be a key of ``ARCHITECTURES``, an explicit table of
ppsolve's own classes, and every config key must be one that class declares here, with a value of the
declared type inside the declared range. Anything else is refused before a network is built. Then the
network is built on PyTorch's ``meta`` device (no memory) to compare the parameter names and shapes it
expects with the file's tensor table, and only then allocated and loaded.

The ranges are generous bounds on what the recipes and users train (a SigmaUNet of up to 6 levels of 512
channels, a cPSDAE of up to 8 layers of 1024), not a list of shipped sizes: they exist so that a file cannot
make the loader allocate gigabytes for a network no weights in the file could fill.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .. import modelfile
from .._validate import choice, int_tuple, integer, real_number
from .cpsdae import CPSDAE, OUTPUTS
from .dae import DAE
from .discriminator import Discriminator
from .dncnn import DnCNN, SigmaDnCNN
from .symmetric import PADDINGS, LinearSymmetricNet, PaperSymmetricNet
from .unet import SigmaUNet

__all__ = [
    "ARCHITECTURES", "DENOISER", "SYMMETRIC_ARCHITECTURES", "Architecture", "build", "build_symmetric", "check_shapes",
    "describe", "load_denoiser", "load_network", "save_denoiser",
]

#: the model-file kind of a trained denoiser (exported weights, or a training checkpoint with its state)
DENOISER = "denoiser"


def _int(low: int, high: int) -> Callable:
    return lambda value, name: integer(value, name, low, high)


def _ints(max_items: int, low: int, high: int, min_items: int = 1) -> Callable:
    def check(value, name):
        if not isinstance(value, (list, tuple)) or not min_items <= len(value) <= max_items:
            raise ValueError(f"{name}: expected a list of {min_items} to {max_items} ints, got {value!r}")
        return list(int_tuple(value, name, minimum=low, maximum=high)) if value else []

    return check


def _bool(value, name):
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected true or false, got {value!r}")
    return value


def _one_of(options) -> Callable:
    return lambda value, name: choice(value, name, options)


def _real(positive: bool) -> Callable:
    return lambda value, name: real_number(value, name, positive=positive)


@dataclass(frozen=True)
class Architecture:
    """A network class a model file may name, with a check for each of its constructor's config keys."""

    cls: type
    options: dict

    def config(self, config, where: str = "config") -> dict:
        """``config`` checked: a dict with only declared keys, each value of the declared type and range."""
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise ValueError(f"{where}: expected a dict of {self.cls.__name__} options, got {config!r}")
        unknown = sorted(set(config) - set(self.options))
        if unknown:
            raise ValueError(f"{where}: {self.cls.__name__} has no option(s) {unknown}; known: "
                             f"{sorted(self.options) or 'none'}")
        try:
            return {key: self.options[key](value, f"{where}.{key}") for key, value in config.items()}
        except TypeError as err:  # a file's content is wrong, not an argument's type
            raise ValueError(str(err)) from None


ARCHITECTURES: dict[str, Architecture] = {
    "DAE": Architecture(DAE, {}),
    "CPSDAE": Architecture(CPSDAE, {
        "factor": _int(1, 8), "channels": _int(1, 4), "y_channels": _int(1, 4),
        "encoder": _ints(8, 1, 1024), "decoder": _ints(8, 1, 1024, min_items=0), "kernel_size": _int(1, 9),
        "batch_norm": _bool, "output": _one_of(OUTPUTS)}),
    "SigmaUNet": Architecture(SigmaUNet, {"channels": _int(1, 4), "widths": _ints(6, 1, 512), "blocks": _int(1, 8)}),
    "DnCNN": Architecture(DnCNN, {"channels": _int(1, 4), "features": _int(1, 512), "dilations": _ints(32, 1, 16)}),
    "SigmaDnCNN": Architecture(SigmaDnCNN, {"channels": _int(1, 4), "features": _int(1, 512),
                                            "dilations": _ints(32, 1, 16)}),
    "Discriminator": Architecture(Discriminator, {"channels": _int(1, 4), "factor": _int(1, 8), "width": _int(1, 512),
                                                  "depth": _int(1, 8), "batch_norm": _bool}),
}


#: the learned inverse's networks on the measurement space (``ppsolve.inverses.learned``), by architecture name;
#: they are built with the operator's measurement shape, a seed and a dtype besides these options
SYMMETRIC_ARCHITECTURES: dict[str, Architecture] = {
    "linear": Architecture(LinearSymmetricNet, {
        "channels": _int(1, 256), "kernel_size": _int(1, 255), "padding": _one_of(PADDINGS),
        "init_noise": _real(False), "edge": _int(0, 64), "scale": _real(True)}),
    "paper": Architecture(PaperSymmetricNet, {"channels": _ints(2, 1, 1024, min_items=2), "kernel_size": _int(1, 16),
                                              "scale": _real(True)}),
}


def build_symmetric(architecture: str, measurement_shape, options: dict, *, seed: int = 0, dtype=torch.float32,
                    meta: bool = False, where: str = "learned inverse") -> nn.Module:
    """A learned inverse's network, after checking ``architecture`` and ``options`` against
    ``SYMMETRIC_ARCHITECTURES``; ``meta=True`` builds it on the meta device (shapes only)."""
    if architecture not in SYMMETRIC_ARCHITECTURES:
        raise ValueError(f"{where}: unknown architecture {architecture!r}; expected one of "
                         f"{', '.join(SYMMETRIC_ARCHITECTURES)}")
    entry = SYMMETRIC_ARCHITECTURES[architecture]
    options = entry.config(options, f"{where} options")
    if meta:
        with torch.device("meta"):
            return entry.cls(measurement_shape, seed=seed, dtype=dtype, **options)
    return entry.cls(measurement_shape, seed=seed, dtype=dtype, **options)


def describe(model: nn.Module) -> dict:
    """``{"class": NAME, "config": {...}}``: what a model file records of ``model`` (its class name and its
    ``config``, the constructor's arguments). For a registered architecture the config is checked against the
    registry (a model file could not be read back otherwise); a network of your own class is recorded as it
    is, and reading it back needs its factory (``load_denoiser(..., model_factory=...)``)."""
    name = type(model).__name__
    config = getattr(model, "config", None)
    config = dict(config() if callable(config) else config or {})
    entry = ARCHITECTURES.get(name)
    if entry is not None and type(model) is entry.cls:
        config = entry.config(config, f"{name}.config")
    return {"class": name, "config": config}


def _spec(spec, where: str) -> tuple[Architecture, dict]:
    if not isinstance(spec, dict) or set(spec) - {"class", "config", "module"} or "class" not in spec:
        raise ValueError(f"{where}: expected {{'class': NAME, 'config': {{...}}}}, got {spec!r}")
    name = spec["class"]
    if name not in ARCHITECTURES:
        raise ValueError(f"{where}: unknown architecture {name!r}; a model file may name only "
                         f"{', '.join(ARCHITECTURES)}")
    entry = ARCHITECTURES[name]
    return entry, entry.config(spec.get("config"), f"{where}.config")


def build(spec: dict, *, device=None, meta: bool = False, where: str = "architecture") -> nn.Module:
    """The network ``spec = {"class", "config"}`` describes, after checking both against the registry;
    ``meta=True`` builds it on the meta device (shapes only, no memory)."""
    entry, config = _spec(spec, where)
    if meta:
        with torch.device("meta"):
            return entry.cls(**config)
    model = entry.cls(**config)
    return model if device is None else model.to(device)


def check_shapes(expected: dict, table: dict, path, prefix: str = "") -> None:
    """``ValueError`` unless the model file's tensor ``table`` (``{name: (dtype, shape)}``) holds, under
    ``prefix``, exactly the tensors ``expected`` (``{name: shape}``) with those shapes."""
    found = {name[len(prefix):]: shape for name, (_, shape) in table.items() if name.startswith(prefix)}
    missing, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or extra:
        raise ValueError(f"{path}: the weights do not fit the recorded architecture (missing {missing[:4]}, "
                         f"unexpected {extra[:4]})")
    for name, shape in expected.items():
        if tuple(found[name]) != tuple(shape):
            raise ValueError(f"{path}: tensor {prefix}{name} has shape {tuple(found[name])}, the recorded "
                             f"architecture needs {tuple(shape)}")


def load_network(path, header: dict, *, spec_key: str = "model", prefix: str = "model.", device=None) -> nn.Module:
    """The network of a model file whose ``header`` (``modelfile.read_header``) names it under ``spec_key``:
    checked against the registry, its expected shapes against the tensor table, then built, loaded from the
    tensors stored under ``prefix`` and put in eval mode on ``device``."""
    spec = header.get(spec_key)
    meta = build(spec, meta=True, where=f"{path}: {spec_key}")
    check_shapes({k: tuple(v.shape) for k, v in meta.state_dict().items()}, header["tensors"], path, prefix)
    tensors = modelfile.read_tensors(path, header)
    state = {name[len(prefix):]: t for name, t in tensors.items() if name.startswith(prefix)}
    # the meta-built network takes the file's tensors as they are: no random initialisation to overwrite (it
    # cost about 3 CPU-s per process, mostly the lazy imports of torch's initialisers)
    model = meta
    model.load_state_dict(state, assign=True)
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):  # a tensor the file does not hold
        model = build(spec, where=f"{path}: {spec_key}")
        model.load_state_dict(state)
    if device is not None:
        model.to(device)
    return model.eval()


def save_denoiser(path, model: nn.Module, header: dict, extra_tensors: dict | None = None):
    """Write the denoiser ``model`` (a registered architecture) to a model file of kind ``DENOISER``: ``header``
    (what it was trained for: data, noise, figures, ...) with ``header["model"] = describe(model)``, its state
    dict under ``model.``, and ``extra_tensors`` (a training state) beside it. Returns the path written."""
    tensors = {f"model.{name}": value for name, value in model.state_dict().items()}
    tensors.update(extra_tensors or {})
    return modelfile.save(path, {**header, "kind": DENOISER, "model": describe(model)}, tensors)


def load_denoiser(path, *, expect: dict | None = None, device=None, model_factory=None):
    """``(model, header)`` from a denoiser model file (exported weights or a training checkpoint).

    ``expect``: keys ``modelfile.check_compatible`` verifies before the network is built, e.g.
    ``{"operator__fingerprint": A.fingerprint()}``. The network is one of ``ARCHITECTURES`` (see the module
    docstring); ``model_factory`` instead builds a network of your own class (trusted code you pass, called
    with the recorded config as keywords), whose recorded class name must match. The model is returned in
    eval mode on ``device``; ``header`` is the file's header without its tensor table."""
    header = modelfile.read_header(path, DENOISER)
    if expect:
        try:
            modelfile.check_compatible(header, **expect)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
    if model_factory is None:
        model = load_network(path, header, device=device)
    else:
        recorded = header.get("model") or {}
        if isinstance(model_factory, type) and recorded.get("class") != model_factory.__name__:
            raise ValueError(f"{path}: a model file of a {recorded.get('class')!r}, not of a {model_factory.__name__}")
        config = recorded.get("config") or {}
        if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
            raise ValueError(f"{path}: the recorded config is not a dict of options: {config!r}")
        model = model_factory(**config)
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        check_shapes(expected, header["tensors"], path, "model.")
        tensors = modelfile.read_tensors(path, header)
        model.load_state_dict({name[6:]: t for name, t in tensors.items() if name.startswith("model.")})
        model = (model if device is None else model.to(device)).eval()
    header = {k: v for k, v in header.items() if k != "tensors"}
    return model, header
