"""Running a pure-Python function over many items in worker processes, results back in order, memory bounded.

Decoding and walking Kubernetes objects holds the GIL, so threads do not help; processes do. Workers
are started from a fork server (the calling process may run threads, e.g. hashing, so it is not forked
itself) and ignore SIGINT/SIGTERM/SIGHUP: the command that owns them handles signals and ends the pool.
"""

import mmap
import multiprocessing
import os
import pickle
import signal
import struct
import tempfile
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

from .. import process

BATCH = 256  # items per task sent to a worker
MIN_SPLIT = 2048  # items below which ``halves`` does all of them here (a fork costs more than it saves)
CHUNK = 256  # items ``halves`` takes at a time
_BOUNDS = struct.Struct("<qq")


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


def halves(fn: Callable[[object], object], items: Sequence, what: str, min_split: int | None = None) -> list:
    """halves is ``[fn(x) for x in items]``, shared with a forked child (the other core) as each is free.

    This process takes chunks of items from the front, the child from the back, until they meet: a child
    that gets no core leaves its share to this process, which never waits for more than the chunk the
    child is on. The same results, and the same first error, as the plain comprehension: the child
    stops at a chunk that raises and this process does that chunk itself, after its own (in order),
    so what it raises is what the plain loop raises. A child that dies or cannot start only costs time.
    Results come back pickled; ``fn`` sees what this process holds (copy-on-write) and what it changes
    in the child is lost. Where work may not be forked (``process.may_fork``), on one core, or for fewer
    than ``min_split`` (default ``MIN_SPLIT``) items: the plain loop.
    """
    n = len(items)
    if n < (MIN_SPLIT if min_split is None else min_split) or cpus() < 2 or not process.may_fork():
        return [fn(x) for x in items]
    bounds = mmap.mmap(-1, 16)  # shared with the child: [front, back) is what neither has taken yet
    _BOUNDS.pack_into(bounds, 0, 0, n)
    lock = multiprocessing.get_context("fork").Lock()

    def take(from_front: bool) -> tuple[int, int]:
        with lock:
            front, back = _BOUNDS.unpack_from(bounds, 0)
            if from_front:
                start, stop = front, min(front + CHUNK, back)
                _BOUNDS.pack_into(bounds, 0, stop, back)
            else:
                start, stop = max(back - CHUNK, front), back
                _BOUNDS.pack_into(bounds, 0, front, start)
        return start, stop

    with _scratch() as answer, bounds:
        fd = answer.fileno()

        def child() -> list:
            chunks = []
            with open(os.dup(fd), "wb", buffering=1 << 20) as out:
                while True:
                    start, stop = take(False)
                    if start >= stop:
                        break
                    try:
                        got = [fn(x) for x in items[start:stop]]
                    except Exception:  # noqa: BLE001 - the parent does this chunk again and raises it there
                        break
                    pickle.dump(got, out, pickle.HIGHEST_PROTOCOL)
                    chunks.append((start, stop))
            return chunks

        try:
            call = process.fork_call(child, what)
        except OSError:
            return [fn(x) for x in items]
        out: list = [None] * n
        with call:  # an error here leaves the with block: the child is killed
            while True:
                start, stop = take(True)
                if start >= stop:
                    break
                out[start:stop] = [fn(x) for x in items[start:stop]]
            try:
                chunks = call.result()
            except Exception:  # noqa: BLE001 - a child that died: what it took is done here
                chunks = []
        mine = _BOUNDS.unpack_from(bounds, 0)[1]  # everything from here on was the child's to do
        done = [False] * (n - mine)
        if chunks:
            with open(os.dup(fd), "rb") as f:
                f.seek(0)
                for start, stop in chunks:
                    out[start:stop] = pickle.load(f)
                    done[start - mine : stop - mine] = [True] * (stop - start)
        for i in range(mine, n):  # what the child did not do, in order (its error, if any, is raised here)
            if not done[i - mine]:
                out[i] = fn(items[i])
        return out


def _scratch():
    """_scratch is an unnamed file for a child's answer (in memory where the platform has memfd)."""
    if hasattr(os, "memfd_create"):
        return open(os.memfd_create("snaprewrite-halves", os.MFD_CLOEXEC), "r+b", buffering=0)
    return tempfile.TemporaryFile()
