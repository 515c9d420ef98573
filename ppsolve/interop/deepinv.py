r"""ppsolve inverses and priors inside deepinv's own loops (``deepinv.optim``: ADMM, HQS, DPIR, ...).

**The data term.** deepinv's ``L2(sigma)`` is ``f(x) = 1 / (2 sigma^2) ||A x - y||^2`` and its proximal operator
(``L2().prox(x, y, physics, gamma=gamma)``, i.e. ``physics.prox_l2(x, y, gamma / sigma^2)``) is

    prox_{gamma f}(x) = argmin_u  gamma / (2 sigma^2) ||A u - y||^2 + 1/2 ||u - x||^2.

Multiplying by ``2 sigma^2 / gamma`` and setting the gradient to zero,

    (A^T A + beta I) u = A^T y + beta x,        beta = sigma^2 / gamma        (= 1 / gamma for sigma = 1),

which is ppsolve's z-update ``z = (A^T A + beta I)^{-1} b`` with ``b = A^T y + beta x`` (``docs/design.md``): one
``Inverse.solve``. ``InverseL2(A, inverse, sigma)`` is deepinv's ``L2(sigma)`` (the same value and gradient,
computed with ``A``) whose ``prox`` is that solve by a ppsolve inverse: Fourier (exact, two FFTs), CG, a
``LearnedInverse`` (no inner loop) or CG preconditioned by the learned network (exact, fewer iterations). deepinv's
loops change ``gamma`` (a DPIR schedule, every iteration), so the inverse is built per ``beta`` on first use and
cached (``ppsolve.interop._inverses.InverseCache``: an instance for its own ``beta``, a name for
``make_inverse``, or a factory ``(A, beta) -> Inverse``, e.g. a learned preconditioner reused at every ``beta``).
The objective deepinv minimises, ``1 / (2 sigma^2) ||A x - y||^2 + lambda R(x)``, is ppsolve's
``||y - A x||^2 + lam R(x)`` with ``lam = 2 sigma^2 lambda``.

**The prior.** ``ProxDenoiser(prox)`` is any ppsolve proximal operator, e.g. ``ppsolve.zoo.load("natural-gray")``,
as a ``deepinv.models.Denoiser`` ``D(x, sigma) = prox(x, tau = sigma^2)``: ppsolve's plug-and-play rule is
``sigma = sqrt(tau)`` (``prox.plug_and_play.sqrt_tau``, what a noise-conditional zoo denoiser feeds its network), so
``deepinv.optim.PnP(ProxDenoiser(...))`` works in any deepinv loop. ``dpir(fidelity, denoiser, sigma)`` is deepinv's
``DPIR`` (HQS with its decreasing-noise schedule) with any data fidelity in place of its fixed ``L2()``.

**Operators** both ways: ``to_deepinv``, ``from_deepinv``, ``PhysicsOperator`` (``deepinv_physics``).

Needs deepinv (and torchvision, imported as ``_deepinv_import`` explains): ``pip install --no-deps -r
requirements-deepinv.txt``.
"""
from __future__ import annotations

import torch

from .._validate import positive_int, real_number
from ..inverses.base import Inverse
from ..operators.base import LinearOperator
from ._deepinv_import import load
from ._inverses import InverseCache
from .deepinv_physics import (
    PhysicsOperator,
    PpsolvePhysics,
    from_deepinv,
    to_deepinv,
    to_deepinv_tensor,
    to_ppsolve_tensor,
)

deepinv = load()
from deepinv.models import Denoiser  # noqa: E402  (after load(): torchvision first)
from deepinv.optim import L2, BaseOptim, PnP  # noqa: E402
from deepinv.optim.dpir import get_DPIR_params  # noqa: E402
from deepinv.optim.optimizers import create_iterator  # noqa: E402

__all__ = ["InverseL2", "PhysicsOperator", "PpsolvePhysics", "ProxDenoiser", "as_deepinv", "dpir", "from_deepinv",
           "to_deepinv"]


def _scalar(value, what: str) -> float:
    """A step or noise level given as a float, or as a torch tensor holding one value (or equal values)."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().reshape(-1)
        if flat.numel() == 0 or not bool(torch.all(flat == flat[0])):
            raise ValueError(f"{what}: expected one value for the whole batch, got a tensor of shape "
                             f"{tuple(value.shape)} with different values")
        value = float(flat[0])
    return real_number(value, what, positive=True)


class InverseL2(L2):
    r"""deepinv's ``L2(sigma)`` data fidelity whose ``prox`` is a ppsolve inverse (see the module docstring).

    ``prox(x, y, physics, gamma=gamma)`` returns ``(A^T A + beta I)^{-1} (A^T y + beta x)`` with
    ``beta = sigma^2 / gamma``, by the inverse for that ``beta`` (built on first use, ``cache_size`` kept), warm-
    started from its previous solution (iterative inverses). ``fn`` (the value, per batch item) and ``grad`` are
    ``L2``'s, computed with ``A`` (checked equal to ``physics``) rather than through ``physics``: on the same operator,
    ppsolve's FFTs are what makes a deepinv loop that evaluates its cost every iteration fast.

    Parameters
    ----------
    A : the ppsolve operator the inverse solves for; ``physics`` in the loop must be the same operator:
        ``to_deepinv(A)``, or a deepinv physics equal to it (``from_deepinv(physics)``). The first ``prox`` call
        with a new physics object compares ``physics.A`` with ``A`` on a random probe (relative 1e-6 in
        float64, 1e-4 in float32) and refuses a different operator; ``check_physics=False`` skips it.
    inverse : an ``Inverse`` for ``A`` (used for its ``beta``; other ``beta`` get a new one of the same kind), a name
        for ``make_inverse`` ("auto": ``FourierInverse`` where ``A`` allows it, else CG), or a factory
        ``(A, beta) -> Inverse``.
    sigma : deepinv's noise level in ``1 / (2 sigma^2) ||A x - y||^2`` (default 1).
    **inverse_options : for inverses built by name (e.g. ``tol`` for CG).
    """

    def __init__(self, A: LinearOperator, inverse="auto", sigma: float = 1.0, cache_size: int = 8,
                 check_physics: bool = True, warm_start: bool = True, **inverse_options):
        if not isinstance(A, LinearOperator):
            raise TypeError(f"InverseL2: A must be a ppsolve LinearOperator, got {type(A).__name__}")
        sigma = real_number(sigma, "InverseL2 sigma", positive=True)
        super().__init__(sigma=sigma)
        self.operator, self.sigma = A, sigma
        self.inverses = InverseCache(A, inverse, positive_int(cache_size, "InverseL2 cache_size"), "InverseL2",
                                     **inverse_options)
        self.check_physics, self.warm_start = bool(check_physics), bool(warm_start)
        self._checked = ()  # (the last physics found equal to A,): a tuple, so that torch does not adopt it
        self._aty = None  # (y, y._version, A^T y) of the last measurement

    def beta_of(self, gamma) -> float:
        """ppsolve's penalty for deepinv's step: ``beta = sigma^2 / gamma``."""
        return self.sigma**2 / _scalar(gamma, "InverseL2 gamma")

    def inverse_for(self, gamma) -> Inverse:
        """The inverse that ``prox(..., gamma=gamma)`` uses (``beta = sigma^2 / gamma``)."""
        return self.inverses.get(self.beta_of(gamma))

    def _check(self, physics, x):
        if not self.check_physics or (self._checked and physics is self._checked[0]):
            return
        A = self.operator
        if isinstance(physics, PpsolvePhysics):
            other = physics.ppsolve_operator
            same = other is A or (other.in_shape == A.in_shape and other.out_shape == A.out_shape
                                  and other.fingerprint() == A.fingerprint())
            difference = 0.0 if same else float("inf")
        else:
            gen = torch.Generator(device=x.device).manual_seed(2024)
            probe = torch.randn((1,) + tuple(x.shape[1:]), generator=gen, dtype=x.dtype, device=x.device)
            theirs = physics.A(probe)
            ours = A.apply(to_ppsolve_tensor(probe, A.in_shape, "InverseL2.prox x"))
            if tuple(theirs.shape) != (1,) + tuple(to_deepinv_tensor(ours, A.out_shape).shape[1:]):
                raise ValueError(f"InverseL2: physics.A gives shape {tuple(theirs.shape)}, the operator {A!r} "
                                 f"{(1,) + tuple(ours.shape[1:])}: not the operator this fidelity solves for")
            ours = to_deepinv_tensor(ours, A.out_shape)
            scale = torch.linalg.vector_norm(ours).clamp_min(1e-300)
            difference = float(torch.linalg.vector_norm(theirs - ours) / scale)
        tolerance = 1e-6 if x.dtype == torch.float64 else 1e-4
        if not difference <= tolerance:
            raise ValueError(f"InverseL2: the physics {type(physics).__name__} is not the operator {A!r} this fidelity "
                             f"solves for (relative difference {difference:.3g}); build it with to_deepinv(A) or pass "
                             "check_physics=False")
        self._checked = (physics,)

    def _adjoint_y(self, y):
        cached = self._aty
        if cached is not None and cached[0] is y and cached[1] == y._version:
            return cached[2]
        aty = self.operator.adjoint(to_ppsolve_tensor(y, self.operator.out_shape, "InverseL2.prox y"))
        self._aty = (y, y._version, aty)
        return aty

    def _residual(self, x, y, physics):
        A = self.operator
        self._check(physics, x)
        ys = to_ppsolve_tensor(y, A.out_shape, "InverseL2 y")
        return A.apply(to_ppsolve_tensor(x, A.in_shape, "InverseL2 x")) - ys

    def fn(self, x, y, physics, *args, **kwargs):
        """``1 / (2 sigma^2) ||A x - y||^2`` per batch item (deepinv's ``L2.fn``), with ppsolve's ``A``."""
        r = self._residual(x, y, physics)
        return 0.5 * self.norm * torch.sum(r.reshape(r.shape[0], -1) ** 2, dim=1)

    def grad(self, x, y, physics, *args, **kwargs):
        """``A^T (A x - y) / sigma^2`` (deepinv's ``L2.grad``), with ppsolve's ``A``."""
        A = self.operator
        return to_deepinv_tensor(self.norm * A.adjoint(self._residual(x, y, physics)), A.in_shape)

    def prox(self, x, y, physics, *args, gamma=1.0, **kwargs):
        r"""``argmin_u gamma / (2 sigma^2) ||A u - y||^2 + 1/2 ||u - x||^2`` by the ppsolve inverse for
        ``beta = sigma^2 / gamma``."""
        A = self.operator
        inv = self.inverse_for(gamma)
        xs = to_ppsolve_tensor(x, A.in_shape, "InverseL2.prox x")
        self._check(physics, x)
        z = self.inverses.solve(inv, self._adjoint_y(y) + inv.beta * xs, self.warm_start)
        return to_deepinv_tensor(z, A.in_shape)

    def __repr__(self):
        return f"InverseL2(A={self.operator!r}, inverse={self.inverses.kind!r}, sigma={self.sigma:g})"


def as_deepinv(inverse: Inverse, sigma: float = 1.0, **kwargs) -> InverseL2:
    """``InverseL2(inverse.A, inverse, sigma)``: deepinv's ``L2(sigma)`` whose prox is solved by ``inverse``."""
    if not isinstance(inverse, Inverse):
        raise TypeError(f"as_deepinv: expected a ppsolve Inverse, got {type(inverse).__name__}")
    return InverseL2(inverse.A, inverse, sigma, **kwargs)


class ProxDenoiser(Denoiser):
    r"""A ppsolve proximal operator as a ``deepinv.models.Denoiser``: ``forward(x, sigma) = prox(x, tau(sigma))``.

    ``tau = tau_of_sigma`` defaults to ``sigma ** 2``, the inverse of ppsolve's plug-and-play rule ``sigma = sqrt(tau)``
    (what a noise-conditional zoo denoiser such as ``natural-gray`` feeds its network): ``ProxDenoiser(zoo.load(
    "natural-gray"))(x, sigma)`` denoises at noise level ``sigma``. For a classical prior it is the proximal
    operator at weight ``tau`` (``SoftThreshold``: soft-thresholding at ``sigma^2``). ``x`` is deepinv's
    ``(B, C, H, W)`` tensor, passed to ``prox`` as it is (grey zoo denoisers take ``(B, 1, H, W)``); ``sigma`` a float
    or a tensor of equal values.
    """

    def __init__(self, prox, tau_of_sigma=None):
        if not callable(getattr(prox, "prox", None)):
            raise TypeError(f"ProxDenoiser: expected a ppsolve proximal operator (with prox(v, tau)), "
                            f"got {type(prox).__name__}")
        if tau_of_sigma is not None and not callable(tau_of_sigma):
            raise TypeError("ProxDenoiser: tau_of_sigma must be a callable sigma -> tau")
        super().__init__()
        self.ppsolve_prox = prox
        self.tau_of_sigma = tau_of_sigma

    def forward(self, x, sigma, *args, **kwargs):
        s = _scalar(sigma, "ProxDenoiser sigma")
        tau = s * s if self.tau_of_sigma is None else self.tau_of_sigma(s)
        return self.ppsolve_prox.prox(x, tau)


def dpir(data_fidelity, denoiser, sigma: float = 0.1) -> BaseOptim:
    r"""deepinv's DPIR (``deepinv.optim.DPIR``: 8 HQS iterations, the denoiser's noise level falling geometrically
    from 49/255 to ``sigma`` and the step ``gamma_k = (sigma_k / max(0.01, sigma))^2 / 0.23``,
    ``deepinv.optim.dpir.get_DPIR_params``) with ``data_fidelity`` in place of its fixed ``L2()`` (e.g. an
    ``InverseL2``) and a given denoiser (no download). ``dpir(L2(), denoiser, sigma)`` is ``DPIR(sigma, denoiser)``.
    Run it as ``dpir(...)(y, physics)``."""
    sigma_denoiser, stepsize, max_iter = get_DPIR_params(sigma)
    prior = PnP(denoiser=denoiser)
    return BaseOptim(create_iterator("HQS", prior=prior, cost_fn=None, g_first=False), max_iter=max_iter,
                     data_fidelity=data_fidelity, prior=prior, early_stop=False,
                     params_algo={"stepsize": stepsize, "g_param": sigma_denoiser})
