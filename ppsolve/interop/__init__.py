r"""Bridges that put ppsolve's inverses (and priors, and operators) into other libraries' own loops.

One module per library, each importing its library when it is imported itself (``import ppsolve`` and
``import ppsolve.interop`` import none of them) and failing with a one-line install hint when it is absent:

``ppsolve.interop.pyproximal``
    ``DataFidelity``: ``||y - A x||^2`` as a ``pyproximal.ProxOperator`` whose ``prox(v, tau)`` is the z-update
    with ``beta = 1 / (2 tau)`` (``pip install ppsolve[interop]``).
``ppsolve.interop.deepinv``
    ``InverseL2``: deepinv's ``L2(sigma)`` whose ``prox(x, y, physics, gamma)`` is the z-update with
    ``beta = sigma^2 / gamma``; ``ProxDenoiser`` (a ppsolve prior as a deepinv denoiser), ``dpir``; operators both
    ways (``to_deepinv``, ``from_deepinv``, ``PhysicsOperator``) in ``deepinv_physics``
    (``pip install --no-deps -r requirements-deepinv.txt``).
``ppsolve.interop.scico``
    ``InverseSolver``: the x-step of ``scico.optimize.ADMM`` with ``beta = sum(rho) / (2 scale)`` (``rho = 2 beta``
    for ``SquaredL2Loss(scale=1)``); ``to_scico`` (a ppsolve operator as a ``scico.linop.LinearOperator``)
    (``pip install ppsolve[interop]``).

All three derive ppsolve's ``beta`` from the library's step and solve ``(A^T A + beta I) z = A^T y + beta v`` with
an ``Inverse`` built per ``beta`` (``_inverses.InverseCache``): an instance, a name for ``make_inverse``, or a
factory ``(A, beta) -> Inverse``. The SciPy / PyLops conversions the core itself uses stay in
``ppsolve.operators`` (``LinearOperator.to_scipy``, ``to_pylops``, ``from_scipy``, ``from_pylops``). Conventions,
install lines and measured figures: ``docs/interop.md``.
"""
