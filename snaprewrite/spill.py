"""Bytes parked in an unlinked temp file instead of memory: the new values a plan makes.

A 1.3 GB rewrite makes ~100k new values (~80 MB; ~500 MB at 8 GiB). Held as bytes objects they are
the largest part of the process at its peak (the end of planning), and every child forked after that
(the doctor, the structure check) starts with them resident too. ``Spill.add`` appends a value to a
temp file (through a small buffer) and returns a handle; ``get`` reads the same bytes back. The file
is unlinked from the start (the kernel removes it when the process ends, however it ends); what sits
in the page cache is not the process's memory.

Reads use ``pread``: safe from any thread, and from a forked child, which sees the file as it was
written plus its own copy of the buffer. Only the process that made the file appends to it (``add``
in a child forked later returns None: the caller keeps its bytes). A file that cannot be made or written
(no space) costs memory only: ``add`` returns None and the caller keeps the value.
"""

import os
import tempfile
import threading

from .fileio import pread_full, pwrite_all

FLUSH = 1 << 20  # buffered bytes written to the file at once
MIN_SIZE = 128  # smaller values are kept as they are: a handle costs about as much memory
MAX_SIZE = (1 << 32) - 1  # the handle's length field
READ_AHEAD = 1 << 18  # bytes read at once when values are read back in the order they were added
GAP = 1 << 14  # ``get_many``: values at most this far apart come with one pread (a pread costs about that copy)
SPAN = 1 << 20  # ``get_many``: bytes read at most at once

_forks = [0]  # how many forks lie between the first process and this one (``os.register_at_fork``)


def _forked() -> None:
    _forks[0] += 1


if hasattr(os, "register_at_fork"):  # a child is told without a getpid() per add
    os.register_at_fork(after_in_child=_forked)


class Spill:
    """Spill stores byte strings in an unlinked temp file; ``add`` gives a handle (an int), ``get`` the bytes."""

    def __init__(self, directory: str | None = None):
        self._dir = directory
        self._pid = 0  # the process that made the file (a supervisor may fork the worker after import)
        self._gen = 0  # ``_forks`` in that process
        self._file = None  # made at the first add
        self._fd = -1
        self._broken = False  # the file could not be made or written: nothing more is added
        self._buf = bytearray()
        self._base = 0  # file offset of _buf[0]
        self._lock = threading.Lock()
        self._window: tuple[int, bytes] | None = None  # (offset, bytes) read ahead from the file
        self._next = -1  # where the value after the last one read starts: the next read is sequential there

    def add(self, data: bytes) -> int | None:
        """add stores ``data`` and returns its handle; None when it is not stored (the caller keeps ``data``)."""
        n = len(data)
        if n < MIN_SIZE or n > MAX_SIZE or self._broken:
            return None
        with self._lock:
            if self._file is None:
                try:
                    self._file = tempfile.TemporaryFile(buffering=0, dir=self._dir)  # noqa: SIM115 - kept open
                except OSError:
                    self._broken = True
                    return None
                self._pid, self._gen = os.getpid(), _forks[0]
                self._fd = self._file.fileno()
            elif self._gen != _forks[0] or not hasattr(os, "register_at_fork") and os.getpid() != self._pid:
                return None  # a forked child: the file's space past its copy is its parent's
            at = self._base + len(self._buf)
            self._buf += data
            if len(self._buf) >= FLUSH and not self._flush():
                del self._buf[at - self._base:]
                return None
        return at << 32 | n

    def _flush(self) -> bool:
        """_flush writes the buffer at its offset (False, and nothing more is added, when the write fails)."""
        try:
            at = pwrite_all(self._fd, self._buf, self._base)
        except OSError:
            self._broken = True
            return False
        self._base = at
        self._buf = bytearray()
        return True

    def get(self, handle: int) -> bytes:
        """get returns the bytes ``add`` stored under ``handle``."""
        at, n = handle >> 32, handle & MAX_SIZE
        if at + n > self._base:  # (the file only grows: what lies below its end stays as it is, no lock needed)
            with self._lock:
                if at + n > self._base + len(self._buf) or self._file is None:
                    raise ValueError(f"no value of {n} bytes at {at} in this spill (it holds {self.size()} bytes)")
                if at >= self._base:
                    start = at - self._base
                    return bytes(self._buf[start : start + n])
        win = self._window
        if win is not None and win[0] <= at and at + n <= win[0] + len(win[1]):
            self._next = at + n
            return win[1][at - win[0] : at + n - win[0]]
        if at == self._next and n < READ_AHEAD:  # read in the order added: what follows comes with it
            size = min(READ_AHEAD, self._base - at)  # (below the file's end: it does not change)
            data = self._pread(at, size)
            self._window = (at, data)
            self._next = at + n
            return data[:n]
        self._next = at + n
        return self._pread(at, n)

    def get_many(self, handles: list[int]) -> list[bytes]:
        """get_many is ``[get(h) for h in handles]``, read in the order the values lie in the file.

        Values at most ``GAP`` bytes apart come with one pread of up to ``SPAN`` bytes: a batch of values
        added in another order (a plan's renamed IPAddresses, read by their new names) costs a few reads, not
        one each. Does not move ``get``'s read-ahead window.
        """
        out: list = [None] * len(handles)
        order = sorted(range(len(handles)), key=handles.__getitem__)  # a handle sorts by its offset
        base = self._base  # below it the file does not change (``get``)
        i, count = 0, len(order)
        while i < count:
            h = handles[order[i]]
            start = h >> 32
            end = start + (h & MAX_SIZE)
            if end > base:  # in the buffer: ``get`` takes the lock
                out[order[i]] = self.get(h)
                i += 1
                continue
            j = i + 1
            while j < count:
                h2 = handles[order[j]]
                at2 = h2 >> 32
                end2 = at2 + (h2 & MAX_SIZE)
                if at2 - end > GAP or end2 - start > SPAN or end2 > base:
                    break
                end = max(end, end2)
                j += 1
            if j == i + 1:
                out[order[i]] = self._pread(start, end - start)
            else:
                data = self._pread(start, end - start)
                for k in order[i:j]:
                    at2 = (handles[k] >> 32) - start
                    out[k] = data[at2 : at2 + (handles[k] & MAX_SIZE)]
            i = j
        return out

    def _pread(self, at: int, n: int) -> bytes:
        """_pread reads ``n`` bytes of the file at ``at`` (all of them lie below its end)."""
        data = pread_full(self._fd, n, at)
        if len(data) < n:
            raise OSError(f"spill file ends at {at + len(data)}, before the value's end at {at + n}")
        return data

    def size(self) -> int:
        """size is the number of bytes stored (in the file and the buffer)."""
        return self._base + len(self._buf)

    def close(self) -> None:
        """close removes the file (handles from it are no longer readable)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
                self._fd = -1
            self._buf = bytearray()
            self._base = 0
            self._broken = True
            self._window = None
            self._next = -1


class Text:
    """A long text (a warning that lists every key still holding an old address) kept in a ``Spill``.

    It is given as UTF-8 bytes a piece at a time (``append``; each piece decodes on its own, errors replaced
    with backslashes) and read back the same way (``chunks``): ``jsontext`` writes it to a report piece by
    piece, so the whole text is never in memory. Anything else sees it as its ``str``: comparisons, ``in``,
    indexing and str's methods make the text once for the call. A handle names a place in this process's
    spill (and in its forked children's).
    """

    __slots__ = ("_spill", "_items", "_len")

    def __init__(self, spill: Spill):
        self._spill = spill
        self._items: list[bytes | int] = []
        self._len = 0

    def append(self, data: bytes) -> None:
        """append adds the text ``data`` decodes to (UTF-8, backslashes for undecodable bytes) at the end."""
        self._len += len(data) if data.isascii() else len(data.decode("utf-8", "backslashreplace"))
        handle = self._spill.add(data)
        self._items.append(data if handle is None else handle)

    def extend(self, other: "Text") -> None:
        """extend adds ``other``'s text at the end (the same spill's: its pieces are not copied)."""
        if other._spill is not self._spill:
            raise ValueError("a Text extends only a Text of its own spill")
        self._items += other._items
        self._len += other._len

    def chunks(self):
        """chunks yields the text in the pieces it was given (decoded)."""
        get = self._spill.get
        for item in self._items:
            yield (get(item) if type(item) is int else item).decode("utf-8", "backslashreplace")

    def __str__(self) -> str:
        return "".join(self.chunks())

    def as_json(self) -> str:
        return str(self)

    def __len__(self) -> int:
        return self._len

    def __contains__(self, sub: str) -> bool:
        """``sub in text``, read a piece at a time (a match across pieces is found too)."""
        if not sub:
            return True
        tail = ""
        for chunk in self.chunks():
            if sub in tail + chunk[: max(len(sub) - 1, 0)] or sub in chunk:
                return True
            tail = (tail + chunk)[-(len(sub) - 1):] if len(sub) > 1 else ""
        return False

    def __eq__(self, other) -> bool:
        if isinstance(other, (str, Text)):
            return len(self) == len(other) and str(self) == str(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    def __getitem__(self, i):
        return str(self)[i]

    def __getattr__(self, name: str):
        return getattr(str(self), name)  # startswith, count, rfind, ...: str's, on the whole text

    def __repr__(self) -> str:
        return repr(str(self))


class Part:
    """Part is ``size`` bytes at ``offset`` of an open file (a forked child's answer left there, not in memory).

    ``read`` gives a piece of them (``pread``, whole or OSError); the file stays open while a Part of it
    is kept (``file`` is the open file object: it closes, and an unlinked one goes, with the last one).
    """

    __slots__ = ("file", "offset", "size")

    def __init__(self, file, offset: int, size: int):
        self.file, self.offset, self.size = file, offset, size

    def __len__(self) -> int:
        return self.size

    def read(self, at: int, n: int) -> bytes:
        """read is the ``n`` bytes at ``at`` (clipped to the part's end)."""
        n = max(0, min(n, self.size - at))
        got = pread_full(self.file.fileno(), n, self.offset + at)
        if len(got) < n:
            raise OSError(f"{self.file.name}: {n} bytes at {self.offset + at} cut short")
        return got

    def part(self, at: int, n: int | None = None) -> "Part":
        """part is the bytes from ``at`` (``n`` of them, default all) as a Part of the same file."""
        n = self.size - at if n is None else min(n, self.size - at)
        return Part(self.file, self.offset + at, max(0, n))

