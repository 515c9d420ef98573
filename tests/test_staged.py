"""ppsolve.staged: parsing stages, sigma schedules, stages continuing from the last z, bounded memory."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from ppsolve import ADMM
from ppsolve.inverses import FourierInverse
from ppsolve.prox import L2
from ppsolve.staged import parse_stages, sigma_schedule, solve_staged, stage_ensembles


def test_parse_stages_accepts_tuples_and_dicts_and_names_bad_entries():
    assert parse_stages([(0.1, 2), {"beta": 0.2, "iterations": 3, "sigma": 0.05}]) == [(0.1, 2, None), (0.2, 3, 0.05)]
    for bad, match in (([(0.0, 2)], r"stages\[0\]: beta"), ([(0.1, 0)], "iterations"), ([(0.1, 2, -1.0)], "sigma"),
                       ([(0.1,)], "expected"), ([], "at least one")):
        with pytest.raises(ValueError, match=match):
            parse_stages(bad)
    with pytest.raises(TypeError):
        parse_stages("0.1, 2")


def test_sigma_schedule_is_geometric_with_beta_scale_over_sigma_squared():
    stages = sigma_schedule(0.1, 0.01, 3, 1e-4, iterations=2)
    sigmas = [s for _, _, s in stages]
    assert np.allclose(sigmas, [0.1, np.sqrt(1e-3), 0.01])
    assert all(it == 2 and np.isclose(beta, 1e-4 / s**2) for beta, it, s in stages)
    with pytest.raises(ValueError):
        sigma_schedule(0.01, 0.1, 3, 1e-4)


def test_one_stage_equals_plain_admm(blur):
    A, x, y = blur
    staged = solve_staged(A, L2(), y, [(0.3, 5)], lam=0.02, x0=y)
    plain = ADMM(A, L2(), "fourier", beta=0.3, lam=0.02).solve(y, iters=5, x0=y)
    assert np.allclose(staged.x, plain.x, atol=1e-12) and staged.iterations == 5


def test_stages_continue_from_the_last_z_and_merge_histories(blur):
    A, x, y = blur
    two = solve_staged(A, L2(), y, [(0.3, 2), (1.0, 3)], lam=0.02, x0=y, x_true=x)
    first = ADMM(A, L2(), "fourier", beta=0.3, lam=0.02).solve(y, iters=2, x0=y)
    second = ADMM(A, L2(), "fourier", beta=1.0, lam=0.02).solve(y, iters=3, x0=first.z)
    assert np.allclose(two.x, second.x, atol=1e-12)
    assert two.iterations == 5 and len(two.history.nmse) == 5
    # with sigma, lam = 2 beta sigma^2, so that tau = sigma^2 reaches a noise-conditional prior
    taus = []

    def spy(v, tau):
        taus.append(tau)
        return v

    solve_staged(A, spy, y, [(0.5, 1, 0.1), (2.0, 1, 0.03)])
    assert np.allclose(taus, [0.01, 0.0009])


def test_keeping_the_dual_is_one_admm_run_with_a_changed_penalty(blur):
    A, x, y = blur
    kept = solve_staged(A, L2(), y, [(0.3, 2), (1.0, 3)], lam=0.02, x0=y, dual="keep")
    first = ADMM(A, L2(), "fourier", beta=0.3, lam=0.02).solve(y, iters=2, x0=y)
    second = ADMM(A, L2(), "fourier", beta=1.0, lam=0.02).solve(y, iters=3, x0=first.z, u0=first.u)
    assert np.allclose(kept.x, second.x, atol=1e-12) and np.allclose(kept.u, second.u, atol=1e-12)
    reset = solve_staged(A, L2(), y, [(0.3, 2), (1.0, 3)], lam=0.02, x0=y)
    assert not np.allclose(kept.x, reset.x, atol=1e-6)  # the dual matters: the two are different runs
    # one stage of k iterations = k stages of one iteration at the same beta, when the dual is kept
    one = solve_staged(A, L2(), y, [(0.3, 4)], lam=0.02, x0=y)
    split = solve_staged(A, L2(), y, [(0.3, 1)] * 4, lam=0.02, x0=y, dual="keep")
    assert np.allclose(one.x, split.x, atol=1e-12)
    with pytest.raises(ValueError, match="dual must be 'reset' or 'keep'"):
        solve_staged(A, L2(), y, [(0.3, 1)], dual="scaled")


def test_inverse_per_stage_from_a_callable_and_instance_checks(blur):
    A, x, y = blur
    made = []

    def factory(op, beta):
        made.append(beta)
        return FourierInverse(op, beta)

    a = solve_staged(A, L2(), y, [(0.3, 2), (1.0, 2)], inverse=factory, lam=0.02)
    b = solve_staged(A, L2(), y, [(0.3, 2), (1.0, 2)], inverse="fourier", lam=0.02)
    assert made == [0.3, 1.0] and np.allclose(a.x, b.x, atol=1e-12)
    with pytest.raises(ValueError, match="beta = 0.3.*beta = 1"):
        solve_staged(A, L2(), y, [(1.0, 1)], inverse=FourierInverse(A, 0.3))
    with pytest.raises(TypeError, match="not a ppsolve Inverse"):
        solve_staged(A, L2(), y, [(1.0, 1)], inverse=lambda op, beta: None)


def test_a_stage_keeps_only_what_the_next_one_needs(blur):
    """16 stages at 2048 x 2048 grew from 568 to 2057 MiB: every stage's x, z and u lived until the end. Now,
    while stage k runs, the arrays of stage k - 2 are gone."""
    A, _, y = blur
    seen = []  # (stage, weak references to that stage's last x, z, u)
    alive_during = []

    def callback(k, state):
        gc.collect()
        alive_during.append([all(r() is not None for r in refs) for _, refs in seen])
        seen.append((len(seen), [weakref.ref(state.x), weakref.ref(state.z), weakref.ref(state.u)]))

    result = solve_staged(A, L2(), y, [(0.3, 1)] * 6, lam=0.02, callback=callback)
    assert result.iterations == 6 and len(result.history) == 6
    for stage, alive in enumerate(alive_during):
        assert not any(alive[: max(stage - 1, 0)]), f"stage {stage} still holds the arrays of {alive}"


class _Recording(L2):
    """An L2 prior with a self-ensemble attribute that records the size each call saw."""

    def __init__(self):
        super().__init__()
        self.ensemble, self.seen = 1, []

    def _prox(self, v, tau, y):
        self.seen.append(self.ensemble)
        return super()._prox(v, tau, y)


def test_ensemble_per_stage_is_set_before_each_stage_and_put_back(blur):
    A, x, y = blur
    stages = [(0.1, 2, 0.05), (0.2, 1, 0.03), (0.4, 2, 0.02)]
    prox = _Recording()
    staged = solve_staged(A, prox, y, stages, x0=y, ensemble=[1, 4, 2])
    assert prox.seen == [1, 1, 4, 2, 2] and prox.ensemble == 1
    plain = solve_staged(A, L2(), y, stages, x0=y)
    assert np.allclose(staged.x, plain.x, atol=1e-12)  # the size reaches the prior, the maths is unchanged
    prox.seen.clear()
    solve_staged(A, prox, y, stages, x0=y, ensemble=8)
    assert prox.seen == [8] * 5 and prox.ensemble == 1
    two = [(0.1, 1), (0.2, 1)]
    assert stage_ensembles(None, two) == [None, None] and stage_ensembles(np.int64(2), two) == [2, 2]
    for bad, error, match in (([1, 4], ValueError, r"one size per stage \(3\), got 2"),
                              ([1, 3, 4], ValueError, r"ensemble\[1\] must be 1, 2, 4 or 8, got 3"),
                              (5, ValueError, "ensemble must be 1, 2, 4 or 8, got 5"),
                              (True, TypeError, "expected 1, 2, 4, 8, a list"), ("4", TypeError, "expected"),
                              ({"by_sigma": [[0.03, 1], [0.0, 3]]}, ValueError, r"ensemble\[2\] must be 1, 2, 4 or 8"),
                              ({"by_sigma": [[0.01, 1], [0.03, 2], [0, 4]]}, ValueError, "falling strictly to 0"),
                              ({"by_sigma": [[0.03, 1]]}, ValueError, "falling strictly to 0"),
                              ({"sigma": [[0, 1]]}, ValueError, r"expected \{'by_sigma'")):
        with pytest.raises(error, match=match):
            solve_staged(A, prox, y, stages, x0=y, ensemble=bad)
    with pytest.raises(TypeError, match="needs a network prior"):
        solve_staged(A, L2(), y, stages, x0=y, ensemble=2)


def test_ensemble_rule_by_noise_level_fits_any_stages(blur):
    """{"by_sigma": [[s_1, e_1], ..., [0, e_k]]}: each stage takes the size of the first s_i <= its sigma, so one
    rule serves schedules of any length; stages without a sigma cannot use it."""
    A, x, y = blur
    rule = {"by_sigma": [[0.1, 1], [0.03, 2], [0, 4]]}
    assert stage_ensembles(rule, sigma_schedule(0.3, 0.01, 8, 1e-4)) == [1, 1, 1, 2, 2, 4, 4, 4]
    assert stage_ensembles(rule, sigma_schedule(0.05, 0.001, 3, 1e-4)) == [2, 4, 4]
    assert stage_ensembles(rule, [(1.0, 1, 0.1), (1.0, 1, 0.03), (1.0, 1, 0.0)]) == [1, 2, 4]  # boundaries: >=
    prox = _Recording()
    solve_staged(A, prox, y, [(0.1, 2, 0.2), (0.2, 1, 0.05), (0.4, 1, 0.01)], x0=y, ensemble=rule)
    assert prox.seen == [1, 1, 2, 4] and prox.ensemble == 1
    with pytest.raises(ValueError, match="stage 1 has none"):
        stage_ensembles(rule, [(0.1, 1, 0.2), (0.2, 1)])
