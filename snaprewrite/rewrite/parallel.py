"""Running a pure-Python function over many items in worker processes, results back in order, memory bounded.

Decoding and walking Kubernetes objects holds the GIL, so threads do not help; processes do. Workers
are started from a fork server (the calling process may run threads, e.g. hashing, so it is not forked
itself) and ignore SIGINT/SIGTERM/SIGHUP: the command that owns them handles signals and ends the pool.
"""

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

BATCH = 256  # items per task sent to a worker


def cpus() -> int:
    """cpus is how many cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _quiet_worker() -> None:
    """_quiet_worker makes a worker leave signals to the command (it ends the pool; no worker prints)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


class OrderedPool:
    """OrderedPool applies ``fn`` (a module-level function: list of args -> list of results) to batches of items.

    ``add(tag, arg)`` queues one item; ``done(tag, result)`` is called for every item in the order the
    items were added, as results come back (at most ``2 * workers`` batches in flight, so memory stays
    flat). With ``workers`` <= 1 no process is started: each item is done at once, in this process, by
    the same ``fn``. ``finish()`` waits for the rest and ends the workers; ``close()`` ends them at once.
    """

    def __init__(self, workers: int, fn: Callable[[list], list], done: Callable[[object, object], None],
                 preload: str | None = None):
        self.fn, self.done, self.workers = fn, done, workers
        self.pool = None
        if workers > 1:
            ctx = multiprocessing.get_context("forkserver")
            if preload:
                ctx.set_forkserver_preload([preload])
            self.pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_quiet_worker)
        self.tags: list = []
        self.args: list = []
        self.inflight: deque = deque()

    def add(self, tag, arg) -> None:
        if self.pool is None:
            self.done(tag, self.fn([arg])[0])
            return
        self.tags.append(tag)
        self.args.append(arg)
        if len(self.args) >= BATCH:
            self._submit()

    def _submit(self) -> None:
        self.inflight.append((self.tags, self.pool.submit(self.fn, self.args)))
        self.tags, self.args = [], []
        while len(self.inflight) > 2 * self.workers:
            self._collect()

    def _collect(self) -> None:
        tags, fut = self.inflight.popleft()
        for tag, result in zip(tags, fut.result(), strict=True):
            self.done(tag, result)

    def finish(self) -> None:
        """finish waits for every item added, calling ``done`` for each, then ends the workers."""
        try:
            if self.args:
                self._submit()
            while self.inflight:
                self._collect()
        finally:
            self.close()

    def close(self) -> None:
        """close ends the workers without waiting for what is still queued (idempotent)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def __enter__(self) -> "OrderedPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
