"""Helpers of the network tests (tests/nn): forward-hook shape recording and the ``config`` round trip."""
from __future__ import annotations

import json

import torch

from ppsolve.nn.cpsdae import CPSDAE
from ppsolve.nn.dae import DAE
from ppsolve.nn.unet import SigmaUNet


def record_outputs(modules):
    """Attach forward hooks; returns (shapes list, handles)."""
    shapes: list[tuple] = []
    handles = [m.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:]))) for m in modules]
    return shapes, handles


def check_config_rebuilds(build):
    """``config`` is JSON-able and ``type(m)(**config)`` accepts ``m``'s weights (strictly) and computes the same
    (the body of each module's ``test_config_rebuilds_the_architecture``)."""
    torch.manual_seed(0)
    model = build().eval()
    config = json.loads(json.dumps(model.config))
    assert config == model.config
    clone = type(model)(**config).eval()
    assert clone.config == model.config
    clone.load_state_dict(model.state_dict())
    assert clone.state_dict().keys() == model.state_dict().keys()
    if isinstance(model, DAE):
        assert config == {}
        inputs = (torch.rand(2, 28, 28),)
    elif isinstance(model, CPSDAE):
        r, c, yc = model.factor, model.channels, model.y_channels
        inputs = (torch.rand(2, c, 8 * r, 8 * r), torch.rand(2, yc, 8, 8))
    else:
        inputs = (torch.rand(2, model.channels, 32, 32),)
    if isinstance(model, SigmaUNet):
        inputs = inputs + (0.1,)
    with torch.no_grad():
        torch.testing.assert_close(clone(*inputs), model(*inputs))
