"""``ppsolve.interop``: ``import ppsolve`` imports none of the bridged libraries, each bridge fails with a one-line
install hint when its library is missing."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, sys
import ppsolve, ppsolve.interop, ppsolve.interop._inverses
out = {"loaded": [m for m in ("pyproximal", "pylops", "deepinv", "torchvision", "scico", "jax") if m in sys.modules]}
for module, libraries in (("ppsolve.interop.pyproximal", ["pyproximal"]), ("ppsolve.interop.deepinv", ["deepinv"]),
                          ("ppsolve.interop.deepinv_physics", ["torchvision"]), ("ppsolve.interop.scico", ["jax"])):
    saved = {name: sys.modules.pop(name, None) for name in libraries}
    sys.modules.update({name: None for name in libraries})  # "not installed"
    try:
        __import__(module)
        out[module] = "imported"
    except ImportError as err:
        out[module] = str(err)
    for name in libraries:
        del sys.modules[name]
        if saved[name] is not None:
            sys.modules[name] = saved[name]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def report():
    env = {**os.environ, "PPSOLVE_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, env=env,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_ppsolve_imports_no_bridged_library(report):
    assert report["loaded"] == []


@pytest.mark.parametrize("module, hint", [
    ("ppsolve.interop.pyproximal", "pip install ppsolve[interop]"),
    ("ppsolve.interop.deepinv", "pip install --no-deps deepinv==0.5.0 torchvision==0.28.0"),
    ("ppsolve.interop.deepinv_physics", "requirements-deepinv.txt"),
    ("ppsolve.interop.scico", "pip install ppsolve[interop]"),
])
def test_a_missing_library_is_a_one_line_install_hint(report, module, hint):
    message = report[module]
    assert message != "imported" and hint in message and "\n" not in message
    assert message.startswith(f"{module.replace('_physics', '')} needs")


def test_torchvision_schemas_are_idempotent():
    shim = pytest.importorskip("ppsolve.interop._deepinv_import")
    pytest.importorskip("ppsolve.interop.deepinv", exc_type=ImportError)
    import torch

    shim._define_torchvision_schemas()  # already there (defined by the shim, or by torchvision): no error
    shim._define_torchvision_schemas()
    assert hasattr(torch.ops.torchvision, "nms") and shim.load() is sys.modules["deepinv"]
