r"""The resumable training loop every learned component shares: denoisers (``ppsolve.train.denoiser``) and
learned inverses (``ppsolve.inverses.learned``).

``Trainer`` runs ``total_steps`` optimisation steps. Around the step that a subclass provides it does what
every training needs, once:

* **learning-rate schedule**: ``lr`` decaying geometrically to ``lr_final`` at the last step (constant when
  ``lr_final`` is None), times a linear warm-up ``(step + 1) / warmup_steps`` over the first steps;
* **checkpoints**: the weights and the whole training state (optimiser moments, RNG states, counters, logs)
  are written atomically to ``checkpoint`` (a ``ppsolve.modelfile`` with a ``"resume"`` entry) every
  ``checkpoint_every`` steps, at the end, and when the run is interrupted;
* **resume**: a run started with an existing checkpoint checks that it was made for the same set-up
  (``check_resumable``), loads it and goes on; it ends with the weights an uninterrupted run would have. A
  finished checkpoint returns at once (a cache);
* **stop**: Ctrl-C (``DeferredSigint``) or a ``KeyboardInterrupt`` raised by the callback stops at the next
  step boundary, after saving; a non-finite loss raises ``FloatingPointError`` naming the step;
* **progress**: a tqdm bar with the running losses;
* **threads**: the run uses ``ppsolve.threads`` (``PPSOLVE_THREADS``, default 1) unless told otherwise;
* **several processes** (``torch.distributed`` initialised, e.g. by torchrun; ``distributed`` and
  ``ppsolve.train.distributed``): ``self.world`` is this process's rank among ``world.size``. Every rank runs
  the same steps; the losses a step returns (its share's means) are averaged over the ranks, the global
  batch's means, before they are checked, logged and passed on; only rank 0 writes the checkpoint (``state``
  is still called on every rank, which may gather per-rank parts) while the others wait, and an error
  writing it is raised on every rank; every rank resumes from the same file, and a file one rank finds and
  another does not (no shared file system) is refused; only rank 0 shows the progress bar; a Ctrl-C or a
  callback's ``KeyboardInterrupt`` on any rank stops every rank at the same step boundary. How a step
  splits its batch over the ranks is the subclass's (``DenoiserTrainer``: DistributedDataParallel on equal
  shares of the one-process batch).

A subclass implements the small methods below (as deepinv's ``Trainer`` does): ``train_step`` (one step,
returning its losses), ``after_step`` (logs, validation, epoch ends), ``state`` / ``load_state`` (what a
checkpoint must hold to resume), ``header`` / ``weights`` / ``load_weights`` (what the file is for, and its
tensors) and ``check_resumable``.
"""
from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .. import modelfile, threads
from .._validate import count, positive_int, real_number
from .distributed import world

__all__ = ["DeferredSigint", "SeededGlobalRNG", "Trainer", "learning_rate"]


class DeferredSigint:
    """While active (main thread only), Ctrl-C sets ``requested`` instead of interrupting mid-step; the loop
    checks it at step boundaries, saves its checkpoint and raises ``KeyboardInterrupt``, so an interrupted run
    always leaves a resumable file. A second Ctrl-C interrupts at once."""

    def __init__(self):
        self.requested = False
        self._previous = None
        self._installed = False

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.getsignal(signal.SIGINT)
                signal.signal(signal.SIGINT, self._handler)
                self._installed = True
            except (ValueError, OSError):
                self._installed = False
        return self

    def __exit__(self, *exc):
        if self._installed:
            signal.signal(signal.SIGINT, self._previous if self._previous is not None else signal.SIG_DFL)
        return False


def learning_rate(step: int, total_steps: int, lr: float, lr_final: float | None = None,
                  warmup_steps: int = 0) -> float:
    """The rate of step ``step`` (0-based): ``lr (lr_final / lr)^(step / (total_steps - 1))`` (``lr`` when
    ``lr_final`` is None), times ``min(1, (step + 1) / warmup_steps)`` when ``warmup_steps > 0``."""
    rate = lr if lr_final is None else lr * (lr_final / lr) ** (step / max(total_steps - 1, 1))
    return rate * min(1.0, (step + 1) / warmup_steps) if warmup_steps else rate


class Trainer:
    """A resumable loop of optimisation steps (see the module docstring).

    Parameters
    ----------
    total_steps : steps of the whole run (>= 1).
    lr, lr_final, warmup_steps : the schedule (see ``learning_rate``).
    checkpoint : path of the resumable checkpoint, or None (nothing saved).
    checkpoint_every : steps between checkpoints (None: only at the end and on interruption).
    resume : False ignores (and then overwrites) an existing checkpoint.
    progress : show a progress bar.
    threads : threads for the run (None: ``ppsolve.threads.configured()``).
    distributed : None (default): one of several processes when ``torch.distributed`` is initialised; True:
        require it; False: one process even then (``ppsolve.train.distributed.world``).
    """

    #: what the progress bar says
    description = "training"

    def __init__(self, *, total_steps: int, lr: float, lr_final: float | None = None, warmup_steps: int = 0,
                 checkpoint=None, checkpoint_every: int | None = None, resume: bool = True, progress: bool = True,
                 threads: int | None = None, distributed: bool | None = None):
        self.world = world(distributed)
        self.total_steps = positive_int(total_steps, "total_steps")
        self.lr = real_number(lr, "lr", positive=True)
        self.lr_final = None if lr_final is None else real_number(lr_final, "lr_final", positive=True)
        self.warmup_steps = count(warmup_steps, "warmup_steps")
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.checkpoint_every = None if checkpoint_every is None else positive_int(checkpoint_every,
                                                                                     "checkpoint_every")
        self.resume_from_checkpoint = bool(resume)
        self.progress = bool(progress)
        self.threads = threads
        self.step = 0  # steps done
        self.seconds = 0.0  # training seconds, over every run that led here
        self.interrupted = False  # True after a run stopped early at a step boundary (Ctrl-C or the callback)
        self._saved_at = None
        self._bar = None
        self._started = None

    # -- to provide ---------------------------------------------------------------------------------------------
    def scheduled_optimizers(self) -> list:
        """The optimisers whose learning rate follows the schedule."""
        raise NotImplementedError

    def train_step(self) -> dict:
        """One optimisation step (step number ``self.step``, 0-based); returns its losses as floats, among
        them ``"loss"``, the total (checked finite)."""
        raise NotImplementedError

    def after_step(self, losses: dict) -> None:
        """After step ``self.step`` (now counting it): logs, validation, epoch ends. May call ``save``."""

    def finish(self) -> None:
        """At the end of the run, before the final save (e.g. a last validation)."""

    def notify(self, losses: dict) -> None:
        """Call the user's callback (in the subclass's signature); a ``KeyboardInterrupt`` it raises stops the
        run cleanly."""

    def state(self) -> dict:
        """The training state to resume from: a tree of tensors and plain values (``modelfile.pack``)."""
        raise NotImplementedError

    def load_state(self, state: dict) -> None:
        """Restore what ``state`` returned."""
        raise NotImplementedError

    def header(self) -> dict:
        """The model-file header: what is being trained and what for (with its ``"kind"``)."""
        raise NotImplementedError

    def weights(self) -> dict:
        """The tensors of the trained component, as a model file stores them (without the training state)."""
        raise NotImplementedError

    def load_weights(self, tensors: dict) -> None:
        """Load what ``weights`` returned (from a checkpoint's tensors, which hold the training state too)."""
        raise NotImplementedError

    def check_resumable(self, header: dict, path) -> None:
        """Raise ``ValueError`` naming the difference if the checkpoint ``header`` was made for another set-up."""

    def progress_text(self) -> str:
        """Extra text for the progress bar (e.g. the epoch)."""
        return ""

    # -- provided -----------------------------------------------------------------------------------------------
    def learning_rate(self, step: int) -> float:
        return learning_rate(step, self.total_steps, self.lr, self.lr_final, self.warmup_steps)

    @property
    def finished(self) -> bool:
        return self.step >= self.total_steps

    def elapsed(self) -> float:
        """Training seconds so far, this run included."""
        return self.seconds + (0.0 if self._started is None else time.perf_counter() - self._started)

    def save(self) -> None:
        """Write the checkpoint (weights, header and training state) atomically; a no-op without a path."""
        if self.checkpoint is None:
            return
        state = {"step": self.step, "seconds": self.elapsed(), "trainer": self.state()}  # on every rank

        def write():
            tree, tensors = modelfile.pack(state, prefix="resume")
            modelfile.save(self.checkpoint, {**self.header(), "resume": tree}, {**self.weights(), **tensors})

        self.world.on_main(write)  # rank 0 writes, the others wait
        self._saved_at = self.step

    def resume(self) -> bool:
        """Load the checkpoint if there is one (and ``resume``); True when it was loaded."""
        if self.checkpoint is None or not self.resume_from_checkpoint:
            return False
        found = self.checkpoint.exists()
        if self.world.distributed:
            self.world.check_same(found, f"{self.checkpoint}: whether the checkpoint exists (it must be on a "
                                         "file system every process sees, or at the same path on every machine)")
        if not found:
            return False
        header = modelfile.read_header(self.checkpoint)
        if not isinstance(header.get("resume"), dict):
            raise ValueError(f"{self.checkpoint}: holds only exported weights, no training state to resume from; "
                             "choose another checkpoint path")
        self.check_resumable(header, self.checkpoint)
        tensors = modelfile.read_tensors(self.checkpoint, header)
        tree = modelfile.unpack(header["resume"], tensors)
        self.load_weights(tensors)
        self.load_state(tree["trainer"])
        self.step, self.seconds = int(tree["step"]), float(tree["seconds"])
        self._saved_at = self.step
        if self.world.distributed:
            self.world.check_same(self.step, f"{self.checkpoint}: the step resumed from")
        return True

    def run_context(self):
        """A context manager around the whole run (the denoiser forks the global torch RNG here)."""
        return contextlib.nullcontext()

    def _stop(self) -> None:
        self.interrupted = True
        if self._saved_at != self.step:
            self.save()
        raise KeyboardInterrupt

    def fit(self):
        """Run (or resume) the training to ``total_steps``; returns ``self``."""
        self.resume()
        if self.finished:
            return self
        with threads.limit(self.threads), self.run_context(), DeferredSigint() as sigint:
            self._started = time.perf_counter()
            self._bar = _progress_bar(self.total_steps, self.step, self.description, self.progress and self.world.main)
            try:
                while not self.finished:
                    rate = self.learning_rate(self.step)
                    for optimizer in self.scheduled_optimizers():
                        for group in optimizer.param_groups:
                            group["lr"] = rate
                    losses = self.world.mean(self.train_step())  # the global batch's means
                    if not math.isfinite(losses["loss"]):
                        raise FloatingPointError(f"{type(self).__name__}: the loss became {losses['loss']} at step "
                                                 f"{self.step}; lower lr (now {self.lr:g}) or check the data")
                    self.step += 1
                    self.after_step(losses)
                    if self._bar is not None:
                        self._bar.update(1)
                        text = self.progress_text()
                        self._bar.set_postfix_str((text + " " if text else "") + f"loss {losses['loss']:.4g}",
                                                  refresh=False)
                    stopped = False
                    try:
                        self.notify(losses)
                    except KeyboardInterrupt:
                        stopped = True
                    stopped, requested = self.world.any(stopped, sigint.requested)  # the same on every rank
                    if stopped or (requested and not self.finished):
                        self._stop()
                    every = self.checkpoint_every
                    if every and self.step % every == 0 and not self.finished and self._saved_at != self.step:
                        self.save()
                self.finish()
                self.save()
            finally:
                if self._bar is not None:
                    self._bar.close()
                    self._bar = None
                self.seconds, self._started = self.elapsed(), None
        return self


class SeededGlobalRNG:
    """A context that forks the global torch RNG and seeds it (or restores a checkpoint's ``state``), so that
    layers drawing from it (dropout) are reproducible and the caller's RNG is left as it was; ``devices``:
    CUDA devices to fork too. A trainer returns it from ``run_context``."""

    def __init__(self, seed: int, state=None, devices=()):
        self.fork = torch.random.fork_rng(devices=list(devices))
        self.state, self.seed = state, int(seed)

    def __enter__(self):
        self.fork.__enter__()
        if self.state is not None:
            torch.set_rng_state(self.state)
        else:
            torch.manual_seed(self.seed)
        return self

    def __exit__(self, *exc):
        return self.fork.__exit__(*exc)


def _progress_bar(total, initial, desc, enabled):
    if not enabled:
        return None
    return tqdm(total=total, initial=initial, desc=desc, leave=False, dynamic_ncols=True, file=sys.stderr)
