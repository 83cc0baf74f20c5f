"""Where a batch's jobs run: local worker processes or a Dask cluster, with the same results either way.

`run_jobs(fn, jobs, ...)` yields fn(job) as jobs finish. Local: a forkserver pool whose server imported the
engine and loaded the kernels once (basisbt/batch/preload.py runs `warm`), each worker then keeping what it
loaded (basisbt/batch/execute.Memo) for all its jobs; workers ignore Ctrl-C and die with the parent
(basisbt/batch/workers.py). Dask: a LocalCluster (`scheduler='local'`) or a running scheduler's address.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Generator, Iterator
from typing import Any

from basisbt.data.errors import ConfigError


class BatchError(ConfigError):
    """A batch we cannot run as asked (scheduler, sizes, grid, ...): one line, exit 2."""


def warm() -> None:
    """Import the engine and load (or compile) its kernels with a two-day run: a worker pool's forkserver
    does it once and its workers inherit the result."""
    from basisbt.batch.execute import execute
    from basisbt.batch.spec import build_spec
    from basisbt.reports.metrics import compute_metrics
    compute_metrics(execute(build_spec("perp_short", "scenario:feb-2025-crash", end="2025-02-03"), frames=False))


def run_jobs(fn: Callable[[dict[str, Any]], dict[str, Any]], jobs: list[dict[str, Any]], n_jobs: int,
             scheduler: str | None = None, processes: bool = True) -> Generator[dict[str, Any], None, None]:
    """fn(job) for every job, yielded as they finish: on `n_jobs` local processes (scheduler None) or a Dask
    cluster. The backend of sweeps (fn = sweep.run_cells) and stress runs (stress.run_chunk); `fn` must be a
    module-level function so workers can import it."""
    if scheduler is None:
        return _run_local(fn, jobs, n_jobs)
    return _run_dask(fn, jobs, scheduler, n_jobs, processes)


def _run_local(fn: Callable[[dict[str, Any]], dict[str, Any]], jobs: list[dict[str, Any]],
               n_jobs: int) -> Generator[dict[str, Any], None, None]:
    """Results as jobs finish, on `n_jobs` worker processes (in this process when 1)."""
    if n_jobs <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield fn(job)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from basisbt.batch.workers import die_with_parent, stop_pool
    # forkserver: workers fork from a clean server that imported this module once (not from a parent with
    # a progress-bar thread running); each worker then keeps its datasets and loaded kernels for all its cells.
    # Workers ignore Ctrl-C and die with this process (batch/workers.py); on Ctrl-C, an error or the caller
    # closing this generator they are terminated, not waited for.
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["basisbt.batch.preload"])
    pool = ProcessPoolExecutor(max_workers=min(n_jobs, len(jobs)), mp_context=ctx, initializer=die_with_parent,
                               initargs=(os.getpid(),))
    try:
        futures = [pool.submit(fn, job) for job in jobs]
        for fut in as_completed(futures):
            yield fut.result()
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def _run_dask(fn: Callable[[dict[str, Any]], dict[str, Any]], jobs: list[dict[str, Any]], scheduler: str,
              n_jobs: int, processes: bool) -> Generator[dict[str, Any], None, None]:
    """Results as jobs finish on a Dask cluster: `scheduler` tcp://HOST:PORT, or 'local' for a LocalCluster."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as e:                   # pragma: no cover - dask is a dependency
        raise BatchError(f"{{scheduler}} needs dask.distributed ({e})", key="scheduler") from None
    cluster = None
    if scheduler == "local":
        import dask.config
        # our own cluster's workers run like the local pool's: no sampling profiler walking the task's stack
        # every 10 ms, and glibc's own malloc trimming (the nanny's MALLOC_TRIM_THRESHOLD_=64 KiB hands freed
        # memory back to the OS after every cell, and the next cell faults it in again)
        env = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
        with dask.config.set({"distributed.worker.profile.enabled": False,
                              "distributed.admin.system-monitor.gil.enabled": False,
                              "distributed.nanny.pre-spawn-environ": env}), _sigint_ignored():
            # worker processes start with Ctrl-C ignored (an ignored signal stays ignored across exec), so Ctrl-C
            # stops the sweep here, once, instead of printing a traceback from every worker
            cluster = LocalCluster(n_workers=max(1, n_jobs), threads_per_worker=1, processes=processes,
                                   dashboard_address=None)
        client = Client(cluster)
    else:
        check_scheduler(scheduler)
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as e:
            raise BatchError(f"{{scheduler}} {scheduler}: cannot connect ({e})", key="scheduler") from None
    try:
        if jobs:
            client.run(warm)                   # every worker loads the engine and kernels once, in parallel
        futures = [client.submit(fn, job, key=f"basisbt-{fn.__name__}-{job['id']}", pure=False) for job in jobs]
        for fut in as_completed(futures):
            yield fut.result()
    except BaseException:
        if cluster is not None:                 # stopped (Ctrl-C, an error): our workers cancel their tasks quietly
            with contextlib.suppress(Exception):
                client.run(_quiet_worker)
        raise
    finally:
        client.close()
        if cluster is not None:
            import logging
            nanny = logging.getLogger("distributed.nanny")
            level = nanny.level
            nanny.setLevel(logging.ERROR)        # "worker still alive after 4 s, killing" on a busy machine
            try:
                cluster.close()
            finally:
                nanny.setLevel(level)


def _quiet_worker() -> None:
    """In a Dask worker: no warning for each task cancelled when the sweep stops."""
    import logging
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in this process while the block runs (main thread only; elsewhere a no-op)."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def check_scheduler(scheduler: str | None) -> None:
    """BatchError unless `scheduler` is None, 'local' or a Dask address (tcp://HOST:PORT...)."""
    if scheduler is not None and scheduler != "local" and \
            not scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
        raise BatchError(f"{{scheduler}} {scheduler!r}: expected tcp://HOST:PORT or 'local'", key="scheduler")
