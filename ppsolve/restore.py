r"""``restore``: solve ``y = A x + noise`` with a pretrained prior from the model zoo in one call.

.. code-block:: python

    from ppsolve import restore
    from ppsolve.operators import gaussian_kernel, strided_convolution

    A = strided_convolution(gaussian_kernel(3, 1.0), (28, 28), 4)
    result = restore(y, A)                 # y: (7, 7) or a batch (N, 7, 7); prior "mnist-dae"
    x = result.x                           # (28, 28) or (N, 28, 28)

It loads the prior (``ppsolve.zoo.load``) and runs ``ADMM`` with the settings the zoo validated it with
(``beta``, ``iterations``, ``lam``; see ``ppsolve.zoo.info(prior)["admm"]``), each overridable.
"""
from __future__ import annotations

from .admm import ADMM, ADMMResult
from .inverses.base import Inverse
from .operators.base import LinearOperator

__all__ = ["restore"]

#: keyword arguments ``restore`` passes on to ``ADMM.solve``; ``lam`` goes to ``ADMM``
_SOLVE_OPTIONS = ("tol", "callback", "x_true")


def restore(y, A: LinearOperator, prior: str = "mnist-dae", inverse="auto", iters: int | None = None,
            beta: float | None = None, x0=None, **admm_options) -> ADMMResult:
    """Restore ``x`` from ``y = A x + noise`` by ADMM with the zoo prior ``prior``; returns the ``ADMMResult``.

    The estimate is ``result.x`` (the prior's output at the last iteration); ``result.history`` holds the
    per-iteration records (pass ``x_true=`` for the NMSE). The whole result is returned, not only ``x``,
    so that convergence can be inspected without a second run.

    Parameters
    ----------
    y : the measurement, ``(*batch, *A.out_shape)`` (NumPy or torch; leading dimensions are a batch).
    A : the forward operator. Its input shape must be one the prior accepts (``info(prior)["image_shape"]``;
        28 x 28 for ``"mnist-dae"``), else ``ValueError`` (patch-wise application to larger images is not
        implemented yet). A DAE prior is operator-agnostic, but the zoo's settings were validated for the
        operator named in ``info(prior)["operator"]``; other operators may want another ``beta``.
    prior : a proximal model of ``ppsolve.zoo.list()``.
    inverse : the least-squares solver, as for ``ADMM``: ``"auto"`` (the exact ``FourierInverse`` for
        periodic (strided) convolutions, else conjugate gradients), another name, or an ``Inverse`` instance
        such as a ``LearnedInverse`` (its ``beta`` is then the default ``beta``).
    iters : ADMM iterations (default: the zoo's validated count).
    beta : the ADMM penalty (default: the zoo's validated value, or the given ``Inverse``'s).
    x0 : the starting point ``z_0`` (default zeros, as validated).
    **admm_options : ``lam`` (default the zoo's; irrelevant for a prior that ignores ``tau``, such as the
        MNIST DAE) and ``ADMM.solve``'s ``tol``, ``callback`` and ``x_true``.
    """
    from . import zoo

    unknown = sorted(set(admm_options) - {"lam", *_SOLVE_OPTIONS})
    if unknown:
        raise TypeError(f"restore: unknown options {unknown}; accepted: lam, {', '.join(_SOLVE_OPTIONS)}")
    if not isinstance(A, LinearOperator):
        raise TypeError(f"restore: A must be a ppsolve LinearOperator, got {type(A).__name__}")
    entry = zoo.info(prior)
    if entry["kind"] != "prox":
        raise ValueError(f"restore: {prior!r} is a {entry['kind']}, not a prior; choose one of "
                         + ", ".join(repr(n) for n in zoo.list() if zoo.info(n)["kind"] == "prox"))
    shape = entry.get("image_shape")
    if shape is not None and tuple(A.in_shape) != tuple(shape):
        raise ValueError(
            f"restore: the prior {prior!r} works on images of shape {tuple(shape)}, but A's input shape is "
            f"{tuple(A.in_shape)}; patch-wise application to other sizes is not implemented yet")
    settings = entry["admm"]
    if beta is None:
        beta = inverse.beta if isinstance(inverse, Inverse) else settings["beta"]
    prox = zoo.load(prior)
    admm = ADMM(A, prox, inverse=inverse, beta=beta, lam=admm_options.pop("lam", settings["lam"]))
    return admm.solve(y, iters=settings["iterations"] if iters is None else iters, x0=x0, **admm_options)
