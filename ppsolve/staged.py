r"""Staged ADMM: a schedule of penalties (and noise levels) for learned priors, as in IRCNN and DPIR.

ADMM with a learned denoiser works best with a penalty that grows (or, for a noise-conditional denoiser, a
noise level that falls) over the run. ``stages`` is a list of ``(beta, iterations)`` or ``(beta, iterations,
sigma)``: each stage is one ``ADMM`` solve warm-started at the previous stage (``z_0`` = its last z-update;
``dual="reset"`` (default) starts each stage at ``u_0 = 0``, and with one iteration per stage this is
half-quadratic splitting; ``dual="keep"`` carries ``u`` over, which is continuing ADMM with a changed penalty:
ADMM's ``u`` is the unscaled dual, so keeping it rescales the scaled dual ``u / (2 beta)`` by
``beta_old / beta_new``, the usual update when the penalty changes). With ``sigma`` the stage's
``lam`` is ``2 beta sigma^2``, so that ``tau = lam / (2 beta) = sigma^2`` and a noise-conditional prior
(``sigma_of_tau = sqrt``) denoises at ``sigma``; without it ``lam`` is the given value (which a blind prior
ignores). One stage is the plain ADMM of the paper.

Memory: a stage keeps only the iterates the next stage starts from; the history of every stage is merged
into one ``History`` of scalars as the stages run, so the peak memory does not grow with the number of
stages.
"""
from __future__ import annotations

import numpy as np

from ._validate import positive_int, real_number
from .admm import ADMM, ADMMResult, History
from .inverses.base import Inverse
from .operators.base import LinearOperator

__all__ = ["parse_stages", "sigma_schedule", "solve_staged", "stage_ensembles"]


def parse_stages(stages) -> list[tuple[float, int, float | None]]:
    """``[(beta, iterations, sigma or None), ...]`` from a list of 2- or 3-sequences or dicts with keys
    ``beta``, ``iterations`` and optionally ``sigma``; ``ValueError`` naming the bad entry."""
    if isinstance(stages, (str, bytes)) or not hasattr(stages, "__iter__"):
        raise TypeError(f"stages: expected a list of (beta, iterations[, sigma]), got {stages!r}")
    out = []
    for i, stage in enumerate(stages):
        if isinstance(stage, dict):
            stage = (stage.get("beta"), stage.get("iterations"), stage.get("sigma"))
        stage = tuple(stage)
        if len(stage) == 2:
            stage = stage + (None,)
        if len(stage) != 3:
            raise ValueError(f"stages[{i}]: expected (beta, iterations) or (beta, iterations, sigma), got {stage!r}")
        beta, iters, sigma = stage
        out.append((real_number(beta, f"stages[{i}]: beta", positive=True),
                    positive_int(iters, f"stages[{i}]: iterations"),
                    None if sigma is None else real_number(sigma, f"stages[{i}]: sigma")))
    if not out:
        raise ValueError("stages: expected at least one stage")
    return out


def sigma_schedule(sigma_start: float, sigma_end: float, steps: int, beta_scale: float,
                   iterations: int = 1) -> list[tuple[float, int, float]]:
    r"""Stages for a noise-conditional prior, as in DPIR (Zhang et al., TPAMI 2021): ``steps`` noise levels
    ``sigma_k`` log-spaced from ``sigma_start`` down to ``sigma_end``, each with ``beta_k = beta_scale /
    sigma_k^2`` (the penalty grows as the prior's noise level falls; DPIR's ``mu_k = lambda / sigma_k^2``
    in our scaling, ``beta_scale = lambda sigma_noise^2``) and ``iterations`` ADMM iterations. With one
    iteration per stage (``u`` restarts at 0) this is half-quadratic splitting, DPIR's own loop."""
    sigma_start = real_number(sigma_start, "sigma_schedule sigma_start", positive=True)
    sigma_end = real_number(sigma_end, "sigma_schedule sigma_end", positive=True)
    if sigma_end > sigma_start:
        raise ValueError(f"sigma_schedule: need sigma_start >= sigma_end, got {sigma_start:g} < {sigma_end:g}")
    steps = positive_int(steps, "sigma_schedule steps")
    beta_scale = real_number(beta_scale, "sigma_schedule beta_scale", positive=True)
    iterations = positive_int(iterations, "sigma_schedule iterations")
    sigmas = np.geomspace(sigma_start, sigma_end, steps)
    return [(float(beta_scale / s**2), iterations, float(s)) for s in sigmas]


def _inverse_for(inverse, A: LinearOperator, beta: float):
    """The z-update solver for one stage: a name (``ADMM`` builds it), an ``Inverse`` (its beta must match)
    or a callable ``(A, beta) -> Inverse``."""
    if isinstance(inverse, Inverse):
        if abs(inverse.beta - beta) > 1e-12 * beta:
            raise ValueError(f"restore: the given {type(inverse).__name__} is for beta = {inverse.beta:g}, a stage "
                             f"needs beta = {beta:g}; pass a callable (A, beta) -> Inverse for several betas")
        return inverse
    if callable(inverse):
        made = inverse(A, beta)
        if not isinstance(made, Inverse):
            raise TypeError(f"restore: inverse(A, beta) returned {type(made).__name__}, not a ppsolve Inverse")
        return made
    return inverse


def stage_ensembles(ensemble, stages) -> list[int | None]:
    """One self-ensemble size per stage of ``stages`` (``parse_stages``' input), from ``ensemble``.

    ``ensemble``: ``None`` (each stage keeps the prior's own), one of 1, 2, 4, 8 for every stage, a sequence of
    one per stage, or a rule by noise level ``{"by_sigma": [[sigma_1, size_1], [sigma_2, size_2], [0,
    size_3]]}`` (any number of pairs, noise levels falling to 0): a stage at noise level ``sigma`` takes the
    size of the first pair with ``sigma_i <= sigma``, so the rule fits any stages (the averaging pays where the
    noise level is low; ``docs/speed.md``). ``ValueError`` naming what came otherwise."""
    parsed = parse_stages(stages)
    count = len(parsed)
    if ensemble is None:
        return [None] * count
    if isinstance(ensemble, dict):
        values = _by_sigma(ensemble, [sigma for _, _, sigma in parsed])
    elif isinstance(ensemble, (int, np.integer)) and not isinstance(ensemble, bool):
        values = [int(ensemble)] * count
    elif isinstance(ensemble, (list, tuple)):
        if len(ensemble) != count:
            raise ValueError(f"ensemble: expected one size per stage ({count}), got {len(ensemble)}: {list(ensemble)}")
        values = list(ensemble)
    else:
        raise TypeError(f"ensemble: expected 1, 2, 4, 8, a list of them per stage or {{'by_sigma': ...}}, "
                        f"got {ensemble!r}")
    for i, e in enumerate(values):
        if isinstance(e, bool) or e not in (1, 2, 4, 8):
            where = "ensemble" if isinstance(ensemble, (int, np.integer)) else f"ensemble[{i}]"
            raise ValueError(f"{where} must be 1, 2, 4 or 8, got {e!r}")
    return [int(e) for e in values]


def _by_sigma(rule: dict, sigmas) -> list:
    """The self-ensemble sizes that a rule by noise level gives stages at the noise levels ``sigmas``.

    ``rule``: ``{"by_sigma": [[sigma_1, size_1], [sigma_2, size_2], [0, size_3]]}`` with falling noise levels
    (any number of pairs, the last at 0; see ``stage_ensembles``), checked once for all the stages."""
    pairs = rule.get("by_sigma") if set(rule) == {"by_sigma"} else None
    try:
        pairs = [(float(s), e) for s, e in pairs]
    except (TypeError, ValueError):
        raise ValueError(f"ensemble: expected {{'by_sigma': [[sigma, size], ..., [0, size]]}}, got {rule!r}") from None
    levels = [s for s, _ in pairs]
    if not pairs or levels != sorted(levels, reverse=True) or len(set(levels)) != len(levels) or levels[-1] != 0:
        raise ValueError(f"ensemble: by_sigma needs noise levels falling strictly to 0, got {levels}")
    missing = [i for i, sigma in enumerate(sigmas) if sigma is None]
    if missing:
        raise ValueError(f"ensemble: a rule by noise level needs stages with a sigma; stage {missing[0]} has none")
    return [next(e for s, e in pairs if s <= sigma) for sigma in sigmas]


def solve_staged(A: LinearOperator, prox, y, stages, inverse="auto", x0=None, lam: float = 0.0,
                 dual: str = "reset", ensemble=None, **solve_options) -> ADMMResult:
    """Staged ADMM (see the module docstring): one ``ADMM(A, prox, inverse, beta, lam)`` solve per stage, each
    started at the previous stage's last ``z``. Returns the last stage's ``ADMMResult`` with ``history`` holding the
    records of all stages in order (``time`` and ``wall`` restart at each stage) and ``iterations`` their
    total. ``inverse``: a name, an ``Inverse`` (one beta only) or a callable ``(A, beta) -> Inverse``, called
    once per stage. ``dual``: "reset" (``u_0 = 0`` at every stage) or "keep" (the previous stage's ``u``; see the
    module docstring). ``ensemble``: the network prior's self-ensemble per stage (``stage_ensembles``: one size,
    one per stage, or a rule by noise level; e.g. 1 in the early, high-noise stages and 4 in the last ones), set
    as ``prox.ensemble`` before each stage and put back afterwards; None keeps the prior's. ``solve_options`` go
    to ``ADMM.solve`` (``tol``, ``callback``, ``x_true``); a callback that stops a stage stops the whole run."""
    if dual not in ("reset", "keep"):
        raise ValueError(f"solve_staged: dual must be 'reset' or 'keep', got {dual!r}")
    parsed = parse_stages(stages)
    ensembles = stage_ensembles(ensemble, parsed)
    if ensemble is not None and not hasattr(prox, "ensemble"):
        raise TypeError(f"solve_staged: ensemble= needs a network prior (a DenoiserProx), got {type(prox).__name__}")
    own = getattr(prox, "ensemble", None)
    history, iterations, result = History(), 0, None
    z, u = x0, None
    try:
        for (beta, iters, sigma), stage_ensemble in zip(parsed, ensembles):
            if stage_ensemble is not None:
                prox.ensemble = stage_ensemble
            stage_lam = 2.0 * beta * sigma**2 if sigma is not None else lam
            inv = _inverse_for(inverse, A, beta)
            admm = ADMM(A, prox, inverse=inv, beta=None if isinstance(inv, Inverse) else beta, lam=stage_lam)
            result = None  # the previous stage's x, z and u are not needed any more: let them go
            result = admm.solve(y, iters=iters, x0=z, u0=u, **solve_options)
            history.extend(result.history)
            iterations += result.iterations
            if result.stop_reason == "callback":
                break
            z = result.z  # the data-consistent iterate: the next stage's first x is prox(z), as ADMM would go on
            u = result.u if dual == "keep" else None
    finally:
        if ensemble is not None:
            prox.ensemble = own
    result.history, result.iterations = history, iterations
    return result
