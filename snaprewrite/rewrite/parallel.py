"""Running a pure-Python function over many items in worker processes, results back in order, memory bounded.

Decoding and walking Kubernetes objects holds the GIL, so threads do not help; processes do. Workers
are started from a fork server (the calling process may run threads, e.g. hashing, so it is not forked
itself) and ignore SIGINT/SIGTERM/SIGHUP: the command that owns them handles signals and ends the pool.
"""

import multiprocessing
import os
import pickle
import signal
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import islice

from .. import process
from ..standby import Standby

BATCH = 256  # items per task sent to a worker
SPLIT_LEAST = 4096  # items below which ``split_map`` does not fork (a fork costs tens of milliseconds)
SPLIT_CHUNK = 1024  # results per pickle a ``split_map`` child sends


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


def split_map(items: Sequence, fn: Callable, what: str, child_share: float = 0.5,
              child_fn: Callable | None = None) -> Iterator:
    """split_map yields ``fn(item)`` for every item, in order; a forked child computes the last items meanwhile.

    The rule's plain loop, on both cores: this process computes the first items while a child (forked
    now: it sees everything as it is) computes the other ``child_share``. ``fn`` must be a pure decision
    (what it changes in the child is lost) whose results pickle; ``child_fn`` (default ``fn``) is what the
    child computes instead, for a caller whose ``fn`` leaves its answer on the item (a cache the child
    cannot share) and whose ``child_fn`` returns it. The child pickles its results a chunk at a time into
    an anonymous in-memory file (``_spool``), and they are read back a chunk at a time once it has
    answered: neither process holds them all at once. A child that fails (``fn`` raised there, or it
    died) only costs time: its items are computed here, so an error is raised here, at the same item as
    in the plain loop. With one core, few items or ``SNAPREWRITE_NO_FORK`` the plain loop runs; both
    give the same results. ``Split`` is the same loop with the child forked before the results are asked.
    """
    with Split(items, fn, what, child_share, child_fn) as split:
        yield from split.results()


class Split:
    """Split is ``split_map`` whose child starts now and whose results are asked later (``results``, once).

    A caller that knows its decisions' inputs before it needs the decisions lets the child work while
    this process does something else (the IPAddress renames, once the Services' moves are known, while
    the Services' new values are made). ``close`` (or leaving its ``with`` block) ends a child still running.
    """

    def __init__(self, items: Sequence, fn: Callable, what: str, child_share: float = 0.5,
                 child_fn: Callable | None = None, remote: "Remote | None" = None):
        self.items, self.fn = items, fn
        n = len(items)
        self.mid = n  # items[mid:] are the child's
        self.call = self.spool = None
        if n < SPLIT_LEAST or int(n * child_share) == 0 or cpus() < 2 or not process.may_fork():
            if remote is not None:
                remote.standby.close()
            return
        mid = self.mid = n - int(n * child_share)
        if remote is not None and remote.standby.spool is None:  # (none to write in: a child forked now)
            remote.standby.close()
            remote = None
        if remote is not None:  # the child's items go to a child forked earlier, as the data it needs
            spool, remote.standby.spool = remote.standby.spool, None  # (its spool: made before that fork)
            self.spool = spool
            try:
                shared, pieces = remote.pack(items, mid)
                self.call = remote.standby.call(_remote, remote.fn, spool.fileno(), shared, what=what, pieces=pieces)
            except BaseException:
                remote.standby.close()
                self.close()
                raise
            return
        spool = self.spool = _spool()

        def child() -> int:
            chunk: list = []
            with open(spool.fileno(), "wb", closefd=False) as out:
                for x in items[mid:]:
                    chunk.append((child_fn or fn)(x))
                    if len(chunk) == SPLIT_CHUNK:
                        pickle.dump(chunk, out, pickle.HIGHEST_PROTOCOL)
                        chunk = []
                pickle.dump(chunk, out, pickle.HIGHEST_PROTOCOL)
            return n - mid

        try:
            self.call = process.fork_call(child, what)
        except BaseException:
            self.close()
            raise

    def results(self) -> Iterator:
        """results yields ``fn(item)`` for every item, in order: this process's first, then what the child sent."""
        items, fn, mid = self.items, self.fn, self.mid
        n = len(items)
        done = 0  # of the child's items, yielded from what it sent
        call, spool = self.call, self.spool
        try:
            if call is not None:
                with call:
                    yield from map(fn, islice(items, mid))  # an error (or the caller stopping) here ends the child
                    try:
                        sent = call.result()
                    except Exception:  # noqa: BLE001 - the child's items are computed here (an error raised here)
                        sent = None
                if sent == n - mid:
                    spool.seek(0)
                    while done < sent:
                        try:
                            chunk = pickle.load(spool)
                        except Exception:  # noqa: BLE001 - (cannot happen) the rest is computed here
                            break
                        if not isinstance(chunk, list) or done + len(chunk) > sent:
                            break
                        yield from chunk
                        done += len(chunk)
            else:
                mid = 0
        finally:
            self.close()
        yield from map(fn, islice(items, mid + done, None))

    def pairs(self) -> Iterator[tuple]:
        """pairs is ``zip(items, results())``, letting go of each item once it is yielded: ``items`` (a list the
        caller gave away) holds None in its place, so an item nothing else holds goes once the caller is done with it."""
        items = self.items
        for i, result in enumerate(self.results()):
            yield _take(items, i), result  # (no name here holds the item while the caller has it)

    def close(self) -> None:
        """close ends the child if it still runs and drops what it sent (idempotent)."""
        call, spool, self.call, self.spool = self.call, self.spool, None, None
        try:
            if call is not None:
                call.close()
        finally:
            if spool is not None:
                spool.close()

    def __enter__(self) -> "Split":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Remote:
    """Remote is how a ``Split`` hands its child's share to a ``standby.Standby`` (forked before the heap grew)
    instead of forking now: ``pack(items, mid)`` is what the child needs of ``items[mid:]``: (what all need,
    pieces of rows made as they are sent: this process never holds them all); ``fn(*held, shared, rows)``
    (module-level; ``held``: the Standby's) yields ``fn(item)`` for each of them, in order. The spool is
    the Standby's (made before its fork): the child writes there as a forked one does."""

    def __init__(self, standby: Standby, pack: Callable[[Sequence, int], tuple], fn: Callable):
        self.standby, self.pack, self.fn = standby, pack, fn


def rows_in_pieces(items: Sequence, start: int, row: Callable, size: int = SPLIT_CHUNK) -> Iterator[list]:
    """rows_in_pieces is ``[row(x) for x in items[start:]]`` in lists of ``size`` (``Remote.pack``'s pieces)."""
    for at in range(start, len(items), size):
        yield [row(x) for x in islice(items, at, at + size)]


def _remote(*args) -> int:
    """_remote runs in a Standby: the results of ``fn(*held, shared, rows)`` (the pieces' rows, in order) pickled a
    chunk at a time into the file ``fd`` (the Split's spool, open in both processes); returns how many."""
    *held, fn, fd, shared, pieces = args
    rows = [r for piece in pieces for r in piece]
    del pieces[:]
    n, chunk = 0, []
    with open(fd, "wb", closefd=False) as out:
        for result in fn(*held, shared, rows):
            chunk.append(result)
            n += 1
            if len(chunk) == SPLIT_CHUNK:
                pickle.dump(chunk, out, pickle.HIGHEST_PROTOCOL)
                chunk = []
        pickle.dump(chunk, out, pickle.HIGHEST_PROTOCOL)
    return n


def _spool():
    """_spool is an anonymous file for a child's results: in memory where the system has ``memfd_create``."""
    if hasattr(os, "memfd_create"):
        return open(os.memfd_create("snaprewrite-split", os.MFD_CLOEXEC), "w+b")
    return tempfile.TemporaryFile()


def _take(items: list, i: int):
    """_take is ``items[i]``, leaving None in its place."""
    item, items[i] = items[i], None
    return item
