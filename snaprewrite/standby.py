"""Children forked at a command's start and sent their work later (``Standby``): their memory is the start's.

A forked child's resident set starts with every page its parent has resident, and ``/usr/bin/time``'s peak
is the largest of a process and its children: work forked late in a run, when the heap is at its largest,
peaks above it. A ``Standby`` is forked while the process is small and waits; ``call`` sends it the function
and the data it needs (pickled, in pieces), and answers through ``process.ForkedCall`` as ``fork_call`` does:
signals, deaths and errors alike. ``standbys``/``take`` let a command reserve them by name for the fork
points below it. Like ``process``, this module imports nothing from snaprewrite but the base modules.
"""

import contextlib
import itertools
import os
import pickle
import signal
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .process import SIGNALS, ForkedCall, _die_with_parent, _state, deferred, may_fork, memlog, memory, reply, trim

REQUEST = b"SNAPREQ1"  # the head of a ``Standby``'s request: frames of a size (8 bytes) and a pickle: (fn, args,
# whether pieces follow), then each piece, then an empty frame


class Standby:
    """Standby is a child forked now, while this process is small, that waits for its work (``call``, once).

    A forked child's resident set starts with every page its parent has resident (``/usr/bin/time``'s peak
    is the largest of the process and its children): work forked late in a run, when the heap is at its
    largest, peaks above it. A Standby forked at the start holds only the start's pages; ``call`` sends it
    the function (module-level: pickled by name) and its arguments (pickled: the data it needs, not the
    whole heap), and gives a ``ForkedCall`` for its answer, as ``fork_call`` does. The child calls
    ``fn(*held, *args)``: ``held`` are objects given at the fork (an open snapshot), not sent. A request cut
    short or garbled is refused: the child ends without an answer (the ``ForkedCall`` raises its ``died``).
    ``spool``: an anonymous file open in both processes, for an answer too big for the pipe (whoever takes
    it sets the attribute to None and closes it). ``close`` ends a Standby not called (idempotent).
    """

    def __init__(self, what: str, held: tuple = (), spool: bool = False):
        self.what = what
        self.pid = 0
        self.fd = self.answer = -1
        self.spool = _spool() if spool else None  # (made before the fork: the child holds it too)
        trim()
        req_r, req_w = os.pipe()
        ans_r, ans_w = os.pipe()
        parent = os.getpid()
        old = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except BaseException:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
            for fd in (req_r, req_w, ans_r, ans_w):
                os.close(fd)
            raise
        if pid == 0:
            try:
                os.close(req_w)
                os.close(ans_r)
                if _state.notes_fd >= 0:
                    os.close(_state.notes_fd)
                    _state.notes_fd = -1
                for s in SIGNALS:
                    signal.signal(s, signal.SIG_DFL)
                _die_with_parent(parent)
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
                request = _read_request(req_r)
                os.close(req_r)
                if request is not None:
                    fn, args = request
                    del request
                    reply(ans_w, lambda: fn(*held, *args), f"standby {what!r}: with its request")
            finally:
                os._exit(0)
        self.pid, self.fd, self.answer = pid, req_w, ans_r
        try:
            os.close(req_r)
            os.close(ans_w)
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        except BaseException:
            self.close()
            raise

    def call(self, fn: Callable[..., Any], *args, what: str | None = None, pieces: Iterable | None = None,
             passes: tuple[type[BaseException], ...] = (), died: type[BaseException] = RuntimeError) -> ForkedCall:
        """call sends ``fn`` and ``args`` to the child and returns the ``ForkedCall`` of ``fn(*held, *args)`` there.

        ``pieces``: data sent a piece at a time (each pickled alone: this process never holds all of it at
        once); the child reads them all, then calls ``fn(*held, *args, list_of_pieces)``. A child that is gone
        already (its request is not taken) ends without an answer: ``result`` raises ``died``.
        """
        if not self.pid:
            raise RuntimeError(f"{self.what}: the standby was used or closed")
        call = ForkedCall(self.pid, self.answer, what or self.what, passes, died)
        fd, self.pid, self.fd, self.answer = self.fd, 0, -1, -1
        sent = 0
        try:
            try:
                for i, piece in enumerate([(fn, args, pieces is not None)] if pieces is None else
                                          itertools.chain([(fn, args, True)], pieces)):
                    data = pickle.dumps(piece, pickle.HIGHEST_PROTOCOL)
                    _write_all(fd, (REQUEST if i == 0 else b"") + len(data).to_bytes(8, "little"))
                    _write_all(fd, data)
                    sent += len(data)
                    del data
                if pieces is not None:
                    _write_all(fd, bytes(8))  # the end of the pieces
            except OSError:  # (the child is gone: its ForkedCall says so)
                pass
            finally:
                os.close(fd)
        except BaseException:
            call.close()
            raise
        trim()  # (as ``fork_call`` does: what the pieces took is handed back, not left resident)
        memlog(f"called {self.what!r}: {sent >> 20} MiB request; {memory()}")
        return call

    def close(self) -> None:
        """close ends the child if it was not called, and reaps it."""
        spool, self.spool = self.spool, None
        if spool is not None:
            spool.close()
        if self.pid:
            with deferred():
                for fd in (self.fd, self.answer):
                    os.close(fd)
                self.fd = self.answer = -1
                ForkedCall(self.pid, -1, self.what, (), RuntimeError).close()
                self.pid = 0

    def __enter__(self) -> "Standby":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _spool():
    """_spool is an anonymous file: in memory where the system has ``memfd_create``."""
    if hasattr(os, "memfd_create"):
        return open(os.memfd_create("snaprewrite-standby", os.MFD_CLOEXEC), "w+b")  # noqa: SIM115 - the caller's
    import tempfile

    return tempfile.TemporaryFile()  # noqa: SIM115 - the caller's


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_request(fd: int) -> tuple | None:
    """_read_request is a ``Standby``'s request read from ``fd``: (fn, args), the pieces (a list) as its last
    argument when it has some; None when it is cut short or garbled."""
    first = _read_frame(fd, REQUEST)
    if not (isinstance(first, tuple) and len(first) == 3 and callable(first[0]) and isinstance(first[1], tuple)):
        return None
    fn, args, has_pieces = first
    if has_pieces is not True:
        return None if has_pieces is not False else (fn, args)
    pieces = []
    while (piece := _read_frame(fd)) is not _END:
        if piece is None:
            return None
        pieces.append(piece)
    return fn, (*args, pieces)


_END = object()  # (``_read_frame``: the frame that ends the pieces)


def _read_frame(fd: int, magic: bytes = b""):
    """_read_frame is one framed, pickled object read from ``fd`` (after ``magic``); ``_END`` for the empty frame,
    None for one cut short or garbled (a pickle's own None is refused as garbled too)."""
    head = _read_exactly(fd, len(magic) + 8)
    if head is None or head[: len(magic)] != magic:
        return None
    size = int.from_bytes(head[len(magic):], "little")
    if not size:
        return _END if not magic else None
    if size > 1 << 40:
        return None
    data = _read_exactly(fd, size)
    if data is None:
        return None
    try:
        return pickle.loads(data)
    except Exception:  # noqa: BLE001 - a garbled request is refused like a short one
        return None


def _read_exactly(fd: int, size: int) -> bytearray | None:
    """_read_exactly is the next ``size`` bytes of ``fd``, or None when it ends before."""
    data = bytearray(size)
    got = 0
    with memoryview(data) as view:
        while got < size and (n := os.readv(fd, [view[got:]])):
            got += n
    return data if got == size else None


_reserved: dict[str, Standby] = {}


@contextlib.contextmanager
def standbys(wanted: dict[str, tuple]) -> Iterator[None]:
    """standbys forks a ``Standby`` per name in ``wanted`` (name -> its ``held``, with a ``spool``) where work may
    fork (``may_fork``); the fork points ``take`` them by name; those not taken end with the block."""
    made = []
    try:
        if may_fork():
            for name, held in wanted.items():
                made.append(name)
                _reserved[name] = Standby(name, held, spool=True)
        yield
    finally:
        for name in made:
            standby = _reserved.pop(name, None)
            if standby is not None:
                standby.close()


def take(name: str) -> Standby | None:
    """take is the ``Standby`` reserved under ``name`` (``standbys``), once; None when there is none."""
    return _reserved.pop(name, None)
