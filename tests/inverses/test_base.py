"""ppsolve.inverses.base: per-call reports (also across threads) and the checks every inverse shares."""
from __future__ import annotations

import copy
import pickle
import threading

import numpy as np
import pytest
import torch

from ppsolve import ADMM
from ppsolve.inverses import ConjugateGradient, FourierInverse, GradientDescent, SolveReport
from ppsolve.operators import gaussian_kernel, strided_convolution
from ppsolve.prox import SoftThreshold

A = strided_convolution(gaussian_kernel(9, 2.0), (32, 32), 4)


def _b(seed=0, shape=(32, 32)):
    return np.random.default_rng(seed).standard_normal(shape)


def test_solve_report_is_the_report_of_that_call():
    cg = ConjugateGradient(A, 0.01, tol=1e-10)
    z, report = cg.solve_report(_b())
    assert isinstance(report, SolveReport) and report.converged and report.stop_reason == "tol"
    assert report.iterations > 0 and len(report.history) == report.iterations + 1 and report.seconds > 0
    assert cg.last == report and cg.last_history == report.history and cg.last_converged
    np.testing.assert_array_equal(z, cg.solve(_b()))
    assert FourierInverse(A, 0.01).solve_report(_b())[1].stop_reason == "exact"
    assert GradientDescent(A, 0.01, maxiter=3).solve_report(_b())[1].stop_reason == "steps"


def test_an_inverse_shared_by_threads_reports_each_thread_its_own_call():
    """Two ADMM runs share one CG: loose and tight right-hand sides need different inner iteration counts, and each
    run's history must record its own (a shared ``last`` was overwritten by the other thread)."""
    cg = ConjugateGradient(A, 0.05, tol=1e-6)
    ys = [A.apply(_b(1)), 1e-3 * A.apply(_b(2)) + A.apply(np.ones((32, 32)))]

    def run(y):
        return ADMM(A, SoftThreshold(), cg, lam=1e-3).solve(y, iters=15).history.inverse_iterations

    alone = [run(y) for y in ys]
    assert alone[0] != alone[1]
    results = [None, None]
    barrier = threading.Barrier(2)

    def worker(i):
        barrier.wait()
        for _ in range(3):
            results[i] = run(ys[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == alone


def test_copies_and_pickles_keep_working():
    cg = ConjugateGradient(A, 0.01)
    cg.solve(_b())
    for clone in (copy.deepcopy(cg), pickle.loads(pickle.dumps(cg))):
        assert clone.last == SolveReport()  # a fresh clone has made no call yet
        np.testing.assert_allclose(clone.solve(_b()), cg.solve(_b()))


@pytest.mark.parametrize("make", [lambda: ConjugateGradient(A, 0.01), lambda: FourierInverse(A, 0.01),
                                  lambda: GradientDescent(A, 0.01, maxiter=2)])
def test_bad_right_hand_sides_get_one_clear_error(make):
    inverse = make()
    with pytest.raises(ValueError, match=r"batch \(0,\) is empty"):
        inverse.solve(np.zeros((0, 32, 32)))
    for dtype in (torch.float16, torch.bfloat16):
        with pytest.raises(TypeError, match="half precision is not supported"):
            inverse.solve(torch.zeros((32, 32), dtype=dtype))
    with pytest.raises(TypeError, match="half precision is not supported"):
        inverse.solve(np.zeros((32, 32), dtype=np.float16))
    with pytest.raises(TypeError, match="x0 is a numpy.ndarray but b is a torch.Tensor"):
        inverse.solve(torch.zeros((32, 32), dtype=torch.float64), x0=np.zeros((32, 32)))
    z = inverse.solve(np.ones((32, 32)), x0=np.zeros((32, 32), dtype=np.float32))  # x0 takes b's dtype
    assert z.dtype == np.float64


@pytest.mark.parametrize("beta", ["0.1", b"0.1", None, float("nan"), -1.0, 0.0, True, 1j])
def test_beta_must_be_a_positive_number(beta):
    with pytest.raises((TypeError, ValueError), match="beta"):
        ConjugateGradient(A, beta)
