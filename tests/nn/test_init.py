"""ppsolve.nn.init: LSUV initialisation."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.train._shared import TRAIN


def test_lsuv_init_gives_unit_variance_layers():
    from ppsolve.nn.init import lsuv_init

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(),
                        nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1))
    x = torch.from_numpy(TRAIN[:16]).unsqueeze(1)
    names = lsuv_init(net, x)
    assert names == ["0", "2", "4", "6"]
    h = x
    with torch.no_grad():
        for layer in net:
            h = layer(h)
            if not isinstance(layer, nn.ReLU):
                assert float(h.std()) == pytest.approx(1.0, rel=1e-3)
                assert not layer.bias.any()
