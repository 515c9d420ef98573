r"""A ``dask.distributed`` client for ppsolve's out-of-core and batch runs (``ppsolve.blockwise``,
``ppsolve.batch``); Dask is the optional extra ``ppsolve[dask]``.

``client(workers=2, threads_per_worker=1, memory_limit=None, scheduler=None)`` is a context manager:

* ``scheduler="tcp://host:port"``: connect to a running cluster (its workers are yours to configure);
* otherwise a ``LocalCluster`` of ``workers`` processes (default: one per core) with ``memory_limit`` each
  (Dask's units: ``"4GiB"``, a byte count, ``"auto"``).

Threads. ``threads_per_worker`` is the package's thread knob inside each worker (``PPSOLVE_THREADS``, and
the OpenMP / BLAS pools', ``worker_environment``): a worker runs one task at a time (one block, one image)
with that many threads, so that its memory is one task's whatever the thread count, and ``workers x
threads_per_worker`` threads use that many cores without pools spinning against each other
(``docs/threads.md``). The environment is Dask's ``distributed.nanny.pre-spawn-environ``, set before a worker
process starts, so it holds before torch or NumPy is imported there. It drops Dask's own entry there,
``MALLOC_TRIM_THRESHOLD_=65536``: setting it at all switches off glibc's dynamic mmap threshold, so every large
tensor is mapped and unmapped afresh, and restoring one 504^2 piece took 19.0 s of system time with it against
1.85 without (27.9 against 46.7 CPU-s in all; ``docs/large-images.md``). A ``MALLOC_TRIM_THRESHOLD_`` in your own
environment still reaches the workers.

Overhead. Dask's statistical profiler (``distributed.worker.profile``), which samples every worker thread's
stack every 10 ms for the dashboard's profile page, is off in a local cluster: restoring one block it cost 9 %
of the worker's CPU time (``docs/large-images.md``). ``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=True`` in the
environment turns it back on.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys

__all__ = ["client", "current", "map_tasks", "peak_rss_mib", "require_dask", "worker_environment"]


def peak_rss_mib() -> float:
    """This process's peak resident memory in MiB: ``VmHWM`` of ``/proc/self/status`` on Linux (the process's
    own high-water mark, which starts afresh at ``exec``), else ``getrusage``'s ``ru_maxrss``. Not ``ru_maxrss``
    on Linux: a spawned worker inherits its parent's there, so an idle worker spawned by a large client would
    report the client's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_environment(threads: int = 1) -> dict:
    """What every local worker process starts with: ``threads`` threads for its one task at a time."""
    n = str(threads)
    return {"PPSOLVE_THREADS": n, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n,
            "OMP_WAIT_POLICY": "PASSIVE"}


def require_dask():
    """Import ``dask.array`` and ``distributed``, or fail with a one-line install hint."""
    try:
        import dask.array  # noqa: F401
        import distributed
    except ImportError as err:
        raise ImportError(f"this needs Dask ({err.name} is missing): pip install 'ppsolve[dask]'") from None
    return distributed


def _positive(value, name: str):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return value


@contextlib.contextmanager
def client(workers: int | None = None, threads_per_worker: int = 1, memory_limit=None, scheduler: str | None = None,
           quiet: bool = False):
    """A ``distributed.Client`` for the block: on ``scheduler`` if given, else on a new ``LocalCluster`` (see the
    module docstring), closed afterwards. Unless ``quiet``, prints the dashboard's address when one runs."""
    distributed = require_dask()
    workers = _positive(workers, "workers")
    threads_per_worker = _positive(threads_per_worker, "threads per worker")
    if scheduler is not None:
        if workers is not None or memory_limit is not None or threads_per_worker != 1:
            raise ValueError("--scheduler: the workers of a running cluster are its own; --workers, "
                             "--threads-per-worker and --memory-limit are for the local cluster")
        with distributed.Client(scheduler, timeout="30s") as c:
            _announce(c, quiet)
            yield c
        return
    import dask

    # None unsets a variable of Dask's default pre-spawn environment (distributed.nanny._get_env_variables)
    environment = {"MALLOC_TRIM_THRESHOLD_": None, **worker_environment(threads_per_worker)}
    settings = {"distributed.nanny.pre-spawn-environ": environment,
                "distributed.worker.daemon": False,  # a worker may start processes of its own (data loaders)
                "distributed.admin.system-monitor.gil.enabled": False}
    if "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED" not in os.environ:
        settings["distributed.worker.profile.enabled"] = False
    with dask.config.set(settings):
        cluster = distributed.LocalCluster(n_workers=workers or os.cpu_count() or 1,
                                           threads_per_worker=1,
                                           memory_limit="auto" if memory_limit is None else memory_limit,
                                           processes=True, dashboard_address=":0",
                                           silence_logs=logging.ERROR)
        try:
            with distributed.Client(cluster) as c:
                _announce(c, quiet)
                yield c
        finally:
            cluster.close()


def _announce(c, quiet: bool) -> None:
    if quiet:
        return
    link = getattr(c, "dashboard_link", None)
    n = len(c.scheduler_info().get("workers", {}))
    where = f", dashboard {link}" if link else ""
    print(f"dask: {n} worker(s) at {c.scheduler.address}{where}", file=sys.stderr)


def current(given=None):
    """``given``, else the ``distributed`` client of the calling context, else None (Dask's threaded scheduler)."""
    if given is not None:
        return given
    try:
        from distributed import get_client
        return get_client()
    except (ImportError, ValueError):
        return None


def map_tasks(fn, calls, client=None, progress: bool = False) -> list:
    """``[fn(*args) for args in calls]``, one Dask task each: on ``client`` (a ``distributed.Client``; with Dask's
    progress bar on standard error when ``progress``, so that standard output stays the caller's), or on Dask's
    threaded scheduler when ``client`` is None."""
    if not calls:
        return []
    if client is None:
        import dask

        return list(dask.compute(*[dask.delayed(fn)(*args) for args in calls], scheduler="threads"))
    futures = [client.submit(fn, *args, pure=False) for args in calls]
    if progress:
        from distributed import progress as show

        with contextlib.redirect_stdout(sys.stderr):
            show(futures)
            print()
    return client.gather(futures)
