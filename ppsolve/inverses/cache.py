r"""Learned inverses trained on demand and kept in a cache folder, by operator fingerprint and beta.

``learned_inverse(A, beta)`` returns a ``LearnedInverse`` for ``(A, beta)``: the cached model file if one
was trained for them (``<cache>/learned-inverse-<fingerprint>-beta<beta>.safetensors``), else it trains one
(with a progress bar; resumable: an interrupted training goes on the next time) and caches it. ``train_on``:
a smaller version of the same operator to train on (it is then loaded for ``A`` with ``allow_resize``, see
``LearnedInverse.load``), which makes training several times cheaper for large images.

The cache folder is ``$PPSOLVE_CACHE``, else ``~/.cache/ppsolve``. A cached file is an ordinary model file,
checked as any other when it is read.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..operators.base import LinearOperator
from .learned import LearnedInverse

__all__ = ["cache_folder", "learned_inverse"]


def cache_folder() -> Path:
    """``$PPSOLVE_CACHE``, else ``~/.cache/ppsolve`` (not created until something is written)."""
    env = os.environ.get("PPSOLVE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ppsolve"


def learned_inverse(A: LinearOperator, beta: float, *, train_on: LinearOperator | None = None, progress: bool = True,
                    **options) -> LearnedInverse:
    """The learned inverse of ``(A, beta)`` from the cache, trained first when missing (see the module
    docstring). ``options`` go to ``LearnedInverse.train`` (architecture, kernel_size, steps, ...) and are part
    of the cached file's name."""
    source = A if train_on is None else train_on
    suffix = "".join(f"-{k}{v}" for k, v in sorted(options.items()))
    path = cache_folder() / "inverses" / f"learned-inverse-{source.fingerprint()}-beta{beta:.6g}{suffix}.safetensors"
    LearnedInverse.train(source, beta, checkpoint=path, progress=progress, **options)  # returns at once when cached
    return LearnedInverse.load(path, A, beta, allow_resize=train_on is not None)
