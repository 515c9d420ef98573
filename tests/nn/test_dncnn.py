"""ppsolve.nn.dncnn: the dilated DnCNN."""
from __future__ import annotations

import pytest

from ppsolve.nn.dncnn import DnCNN
from tests.nn._shared import check_config_rebuilds


@pytest.mark.parametrize("build", [
    lambda: DnCNN(channels=1, features=8, dilations=(1, 2, 1)),
])
def test_config_rebuilds_the_architecture(build):
    """``config`` is JSON-able and ``type(m)(**config)`` accepts ``m``'s weights (strictly) and computes the same."""
    check_config_rebuilds(build)
