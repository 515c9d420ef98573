"""``ppsolve.interop._inverses.InverseCache``: one inverse per beta for the bridges (no optional library needed)."""
from __future__ import annotations

import numpy as np
import pytest

from ppsolve.interop._inverses import InverseCache
from ppsolve.inverses import ConjugateGradient, FourierInverse, LearnedInverse
from ppsolve.operators import Convolution, gaussian_kernel, strided_convolution


@pytest.fixture(scope="module")
def A():
    return strided_convolution(gaussian_kernel(5, 1.0), (16, 16), 4)


def test_instance_name_and_factory(A):
    given = FourierInverse(A, 0.1)
    cache = InverseCache(A, given, cache_size=2)
    assert cache.get(0.1 * (1 + 1e-14)) is given and cache.kind == "fourier"
    rebuilt = cache.get(0.3)
    assert isinstance(rebuilt, FourierInverse) and rebuilt.beta == 0.3 and cache.get(0.3) is rebuilt
    cache.get(0.7)
    assert len(cache) == 2 and sorted(cache.kept()) == [0.3, 0.7]  # the oldest (the given one) was dropped
    by_name = InverseCache(A, "cg", tol=1e-11)
    assert by_name.get(0.2).tol == 1e-11
    made = []
    factory = InverseCache(A, lambda A, beta: made.append(beta) or ConjugateGradient(A, beta))
    assert factory.get(0.5).beta == 0.5 and factory.get(0.5) is factory.get(0.5) and made == [0.5]


def test_warm_start_only_for_a_matching_array(A):
    cache = InverseCache(A, "cg", tol=1e-12)
    inv = cache.get(0.1)
    b = np.random.default_rng(0).standard_normal(A.in_shape)
    z = cache.solve(inv, b)
    cache.solve(inv, b)
    assert inv.last.iterations <= 1  # warm-started from the solution
    np.testing.assert_allclose(cache.solve(inv, np.stack([b, b])), np.stack([z, z]), atol=1e-10)  # other shape: cold
    assert inv.last.iterations > 1
    cache.solve(inv, b, warm_start=False)
    assert inv.last.iterations > 1


def test_refusals(A):
    with pytest.raises(ValueError, match="built for"):
        InverseCache(A, FourierInverse(Convolution(gaussian_kernel(3, 1.0), (16, 16)), 0.1))
    with pytest.raises(TypeError, match="a name or a factory"):
        InverseCache(A, 3)
    with pytest.raises(TypeError, match="LinearOperator"):
        InverseCache("A")
    learned = InverseCache(A, LearnedInverse(A, 0.1))
    with pytest.raises(ValueError, match="pass a factory"):
        learned.get(0.2)
    with pytest.raises(TypeError, match="factory returned"):
        InverseCache(A, lambda A, beta: None).get(0.2)
    with pytest.raises(ValueError, match="built for beta"):
        InverseCache(A, lambda A, beta: FourierInverse(A, 2 * beta)).get(0.2)
    with pytest.raises(ValueError, match="beta"):
        InverseCache(A).get(0.0)
