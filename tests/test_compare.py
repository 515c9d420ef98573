"""ppsolve.compare: the paper's comparison of inverses as a function, and its report."""
from __future__ import annotations

import json

import pytest

from ppsolve.compare import INVERSE_NAMES, compare, write_report


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return compare(sizes=[64], betas=[0.1], iters=5, inverses=INVERSE_NAMES, cache_dir=cache, progress=False,
                   log=lambda line: None)


def test_every_inverse_matches_the_exact_run(result):
    rows = {r["inverse"]: r for r in result["rows"]}
    assert set(rows) == set(INVERSE_NAMES)  # the 64 x 64 learned inverses are shipped: nothing trained
    for name in ("gd", "cg", "dense", "learned", "learned-pcg"):
        assert rows[name]["max_objective_deviation"] <= 1e-6, name
    assert rows["gd"]["steps"] >= rows["cg"]["steps"] >= 1 and rows["learned-pcg"]["steps"] <= rows["cg"]["steps"]
    assert rows["learned"]["max_relative_distance"] < 1e-3
    assert rows["fourier"]["speedup_vs_gd"] > 1 and rows["gd"]["speedup_vs_gd"] == 1.0
    assert len(result["curves"]["64/0.1/cg"]["objective"]) == 5


def test_write_report(result, tmp_path):
    written = write_report(result, tmp_path / "out")
    assert [p.name for p in written] == ["compare.json", "compare.md", "compare_64_beta0.1.png"]
    assert json.loads(written[0].read_text())["rows"] == result["rows"]
    assert "| learned-pcg |" in written[1].read_text()
    assert written[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("options, message", [
    ({"sizes": [30]}, "multiples of the sampling factor 4"),
    ({"sizes": [8]}, r"compare sizes: expected an int >= 16"),
    ({"betas": [0.0]}, "compare betas"),
    ({"iters": 0}, "compare iters"),
    ({"inverses": ["fourier", "magic"]}, "unknown inverse names"),
])
def test_bad_arguments_are_refused_before_any_run(options, message):
    with pytest.raises(ValueError, match=message):
        compare(**options, progress=False, log=None)
