r"""Training on several processes with ``torch.distributed``: which process this is, and the few collectives
the trainer needs (``docs/distributed-training.md``).

A ``World`` is this process's ``rank`` among ``size`` processes, read from ``torch.distributed``'s default
process group (``world()``), with nothing kept in module state. With one process (no group, or
``distributed=False``) every method below is the identity and costs nothing, so a one-process run is
exactly what it was before.

The rule that makes ``W`` processes train as one: the global batch of ``B`` samples is prepared in full on every
rank from the same seeded streams (so it is the one-process batch), and rank ``r`` keeps rows
``[r B/W, (r+1) B/W)`` (``share``); ``B`` must be a multiple of ``W``. Every rank's loss is its share's mean,
and DistributedDataParallel (or ``average_gradients``) averages the gradients over the ``W`` ranks, which for
equal shares is the gradient of the global batch's mean: ``(1/W) sum_r (W/B) sum_{i in r} g_i = (1/B) sum_i
g_i``. The result differs from one process only by float rounding (the sums run in another order).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["World", "init_from_env", "rank_seed", "world"]


def _dist():
    import torch.distributed as dist

    return dist


def _initialized() -> bool:
    dist = _dist()
    return dist.is_available() and dist.is_initialized()


@dataclass(frozen=True)
class World:
    """This process's ``rank`` (0-based) among ``size`` processes of the default process group."""

    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes files, shows progress and logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def _device(self) -> torch.device:
        """Where the small tensors of these collectives go: the current CUDA device under NCCL, else the CPU."""
        if self.distributed and _dist().get_backend() == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    def check_batch(self, batch: int, what: str) -> None:
        """``ValueError`` unless a global batch of ``batch`` samples splits evenly over the processes."""
        if batch % self.size:
            raise ValueError(f"{what} {batch}: the global batch must split evenly over the {self.size} processes; "
                             f"choose a multiple of {self.size}")

    def share(self, batch: int) -> slice:
        """The rows of a global batch of ``batch`` samples that this rank trains on (``check_batch`` first)."""
        self.check_batch(batch, "batch")
        n = batch // self.size
        return slice(self.rank * n, (self.rank + 1) * n)

    def mean(self, values: dict) -> dict:
        """The mean over the ranks of each float of ``values`` (the same keys on every rank): with equal
        shares, the global batch's mean of a per-sample loss."""
        if not self.distributed:
            return values
        keys = sorted(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=self._device())
        _dist().all_reduce(t)
        return {k: float(v) / self.size for k, v in zip(keys, t.tolist())}

    def any(self, *flags: bool) -> tuple[bool, ...]:
        """For each flag, whether it is set on some rank (so every rank takes the same decision)."""
        if not self.distributed:
            return tuple(bool(f) for f in flags)
        t = torch.tensor([int(bool(f)) for f in flags], dtype=torch.int64, device=self._device())
        _dist().all_reduce(t)
        return tuple(bool(v) for v in t.tolist())

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every rank (a picklable value)."""
        if not self.distributed:
            return obj
        box = [obj]
        _dist().broadcast_object_list(box, src=0, device=self._device())
        return box[0]

    def gather(self, obj) -> list:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.distributed:
            return [obj]
        out = [None] * self.size
        _dist().all_gather_object(out, obj)
        return out

    def check_same(self, value, what: str) -> None:
        """``ValueError`` on every rank unless ``value`` (picklable, comparable) is the same on all of them."""
        values = self.gather(value)
        if any(v != values[0] for v in values):
            raise ValueError(f"{what} differs between the processes: " + ", ".join(
                f"rank {r}: {v!r}" for r, v in enumerate(values)))

    def on_main(self, fn) -> None:
        """Run ``fn()`` on rank 0 while the other ranks wait; an error there is raised on every rank (the others
        get a ``RuntimeError`` naming it), so no rank is left waiting at the next collective."""
        error = None
        if self.main:
            try:
                fn()
            except Exception as err:  # re-raised below, after telling the others
                error = err
        if self.distributed:
            message = self.broadcast(None if error is None else f"{type(error).__name__}: {error}")
            if message is not None and error is None:
                raise RuntimeError(f"rank 0 failed: {message}")
        if error is not None:
            raise error

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers of ``module`` to every rank."""
        if self.distributed:
            for t in list(module.parameters()) + list(module.buffers()):
                _dist().broadcast(t.data, src=0)

    def average_gradients(self, parameters) -> None:
        """Replace each parameter's gradient by its mean over the ranks (what DistributedDataParallel does
        during ``backward``), for a module that cannot be wrapped (the discriminator: called several times
        per step and frozen for the generator's loss)."""
        if not self.distributed:
            return
        for p in parameters:
            if p.grad is not None:
                _dist().all_reduce(p.grad)
                p.grad.div_(self.size)

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """``model`` in ``DistributedDataParallel`` (which copies rank 0's weights and buffers to every rank
        now, and rank 0's buffers again at every forward), or ``model`` itself with one process."""
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" \
            else None
        return DistributedDataParallel(model, device_ids=ids)


def world(distributed: bool | None = None) -> World:
    """This process's ``World``: from the default process group when ``torch.distributed`` is initialised
    (``distributed=None``, the default) or required (``True``); one process when there is none or
    ``distributed=False``."""
    if distributed is None:
        distributed = _initialized()
    elif distributed and not _initialized():
        raise ValueError("distributed=True: torch.distributed is not initialised; call "
                         "torch.distributed.init_process_group first (torchrun sets its environment)")
    if not distributed:
        return World()
    dist = _dist()
    return World(dist.get_rank(), dist.get_world_size())


def rank_seed(seed: int, rank: int, step: int) -> int:
    """A seed for the global torch RNG of ``rank`` from step ``step`` on (layers such as dropout must not draw
    the same masks on every rank)."""
    return int(np.random.SeedSequence([int(seed), int(rank), int(step)]).generate_state(1, np.uint64)[0] >> 1)


def init_from_env(device=None) -> bool:
    """Initialise the default process group from torchrun's environment (``env://``: ``MASTER_ADDR``,
    ``MASTER_PORT``, ``RANK``, ``WORLD_SIZE``) when ``WORLD_SIZE > 1`` and none exists yet; the backend is
    NCCL for a CUDA ``device`` (after ``torch.cuda.set_device(LOCAL_RANK)``), else gloo. True when it
    initialised one (the caller then destroys it)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or _initialized():
        return False
    dist = _dist()
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1, but this torch has no torch.distributed")
    cuda = device is not None and torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if cuda else "gloo", init_method="env://")
    return True
