r"""Importing deepinv beside this project's torch: the one place that knows how.

deepinv 0.5.0 imports torchvision first thing (``deepinv/__init__.py``: ``import torchvision``). torchvision's
PyPI wheel for Linux is a CUDA build: beside a CPU torch its compiled extension (``torchvision/_C.so``, linked
against ``libtorch_cuda.so``) does not load, and ``import torchvision`` then fails in
``torchvision/_meta_registrations.py`` with ``RuntimeError: operator torchvision::nms does not exist``: it
registers fake (meta) kernels for the two operators ``torchvision::nms`` and ``torchvision::qnms`` that only
the extension defines. Nothing ppsolve uses needs those operators (they are torchvision's box
non-maximum suppression), so ``load`` defines their two schemas with ``torch.library`` and imports again;
where the extension does load (a torchvision built for this torch), the first import succeeds and nothing is
defined.

The packages deepinv needs at import time, without its heavier optional ones, are pinned in
``requirements-deepinv.txt`` at the repository root (``pip install --no-deps -r requirements-deepinv.txt``).
"""
from __future__ import annotations

import sys

import torch

__all__ = ["INSTALL_HINT", "load"]

#: the install line a missing deepinv (or torchvision) error gives
INSTALL_HINT = ("pip install --no-deps deepinv==0.5.0 torchvision==0.28.0 natsort h5py requests urllib3 idna certifi "
                "charset-normalizer (pinned in ppsolve's requirements-deepinv.txt)")

#: the torchvision operators whose schemas are defined when its compiled extension does not load
TORCHVISION_OPS = ("nms", "qnms")
_SCHEMA = "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"


def _define_torchvision_schemas() -> None:
    for name in TORCHVISION_OPS:
        try:
            torch.library.define(f"torchvision::{name}", _SCHEMA)
        except RuntimeError:  # already defined (by an earlier call, or by torchvision itself)
            pass


def _import_torchvision() -> None:
    try:
        import torchvision  # noqa: F401
    except RuntimeError as err:
        if not any(f"torchvision::{name}" in str(err) for name in TORCHVISION_OPS):
            raise
        for module in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[module]  # the failed import's half-initialised submodules
        _define_torchvision_schemas()
        import torchvision  # noqa: F401


def load():
    """The ``deepinv`` module, imported as the module docstring says; ``ImportError`` with the install line
    when deepinv or torchvision is missing."""
    if "deepinv" in sys.modules and sys.modules["deepinv"] is not None:
        return sys.modules["deepinv"]
    try:
        _import_torchvision()
        import deepinv
    except ImportError as err:
        raise ImportError(f"ppsolve.interop.deepinv needs deepinv ({err}): {INSTALL_HINT}") from err
    return deepinv
