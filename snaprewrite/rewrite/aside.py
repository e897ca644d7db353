"""The leftovers' search of every record on the other core (``Aside``), and the leaf-at-a-time pass it makes.

Observers that search whole leaves (``visit_page``/``visit_batch``: the leftovers' address search) need
no index: a forked child makes their pass over bucket ``key`` while the planner indexes and the rules
run, and hands back what they found (``export`` there, ``absorb`` here). The child does not walk the bucket
again: the planner's scan notes where each record lies (``Recorder``) and the child follows that (``replay``).
"""

import os
import tempfile
import time
from array import array
from itertools import repeat
from operator import floordiv
from typing import NamedTuple

from .. import process, spill
from ..bbolt.pages import FAULT_AROUND
from ..etcd import mvcc
from ..etcd.snapshot import Snapshot
from ..fileio import pread_full, pwrite_all


def fan_out(visits: list) -> mvcc.Visit:
    """fan_out calls every observer's visit for each record (None when there is none)."""
    if len(visits) <= 1:
        return visits[0] if visits else None

    def visit(*record) -> None:
        for f in visits:
            f(*record)

    return visit


def paged(observers: dict) -> tuple[mvcc.VisitPage, mvcc.VisitBatch]:
    """paged is (visit_page, visit_batch) for observers that search whole leaves: a batch of leaves at a time
    where the observer can (``visit_batch``), else a leaf at a time."""
    return (fan_out([o.visit_page for o in observers.values() if not hasattr(o, "visit_batch")]),
            fan_out([o.visit_batch for o in observers.values() if hasattr(o, "visit_batch")]))


def pack(observers) -> None:
    """pack lets observers whose pass is over keep what they found compactly until their rule runs (``pack``)."""
    for o in observers:
        pack = getattr(o, "pack", None)
        if pack is not None:
            pack()


def paged_pass(snap: Snapshot, observers: dict) -> None:
    """paged_pass shows every record of bucket ``key`` to observers that search whole leaves (``paged``)."""
    visit_page, visit_batch = paged(observers)
    mvcc.scan_index(snap.key_bucket(), None, visit_page=visit_page, visit_batch=visit_batch)


END = 1 << 62  # a ``Recorder``'s last header: the scan is over
WAIT = 0.002  # seconds a replay that caught up with the scan waits before it reads again


class Recorder:
    """Recorder notes where the planner's scan finds the records of bucket ``key`` (``note``: ``mvcc.scan_index``'s
    ``leaves``, which makes no user key for it), so that the ``Aside`` child searches them without a walk of the
    tree and a decode of every leaf of its own.

    The child is forked before the scan (its memory is then the parent's small one, not the index's) and follows
    the recording as it grows (``replay``). Per batch of leaves, appended to an unlinked temp file: the number of
    records (8 bytes), then every record's key start, value start and value end in the file mapping
    (``LeafBatch.ks``/``vs``/``ends``, 8 bytes each): 24 bytes a record (20 MB at 1.3 GB, ~145 MB of temp file at
    8 GiB, not memory); ``finish`` appends ``END``. A write that fails leaves it ``broken`` (``Aside.finish`` then
    ends the child and the search is made here). A bucket in its parent's page (``root`` 0) is not recorded
    (``usable``): the child walks it.
    """

    def __init__(self, snap: Snapshot):
        bucket = snap.key_bucket()
        self.raw = bucket.pf.data.obj
        self.usable = bucket.root != 0
        self.at = 0
        self.broken = False
        self.file = None
        if self.usable:
            try:
                self.file = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 - closed by ``close`` (the Aside's)
            except OSError:
                self.usable = False

    def note(self, b) -> None:
        """note appends where a batch of leaves' records lie (``bbolt.tree.LeafBatch``)."""
        if self.broken:
            return
        n = len(b.ks)
        if b.raw is not self.raw:  # (not in the file mapping: never for a bucket with a root page)
            self.broken = True
            return
        self._append([n.to_bytes(8, "little"), array("q", b.ks), array("q", b.vs), array("q", b.ends)], 8 + 24 * n)

    def finish(self) -> bool:
        """finish appends ``END`` (the scan is over); False if the recording is broken."""
        if not self.broken:
            self._append([END.to_bytes(8, "little")], 8)
        return not self.broken

    def _append(self, parts: list, size: int) -> None:
        try:
            wrote = os.pwritev(self.file.fileno(), parts, self.at)
        except OSError:
            wrote = -1
        if wrote != size:
            self.broken = True
            return
        self.at += size

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class Replayed(NamedTuple):
    """A batch of records as ``Recorder`` noted it: what ``visit_batch`` reads of a ``bbolt.tree.LeafBatch``."""

    raw: object
    view: memoryview
    ks: list[int]
    vs: list[int]
    ends: list[int]


def replay(snap: Snapshot, observers: dict, fd: int, follow: bool = False) -> None:
    """replay shows the observers (each with ``visit_batch``) the records a ``Recorder`` noted, batch by batch as
    the scan saw them (``paged_pass``'s calls, without its walk), up to ``END``.

    ``follow``: the scan is still writing it; a batch not there yet is waited for. Else a recording without its
    end is ValueError. A file grows a page at a time, never past what was written: a batch read whole is whole.
    """
    pf = snap.key_bucket().pf
    view = pf.data
    raw = view.obj
    visits = [o.visit_batch for o in observers.values()]
    at = 0
    while True:
        head = pread_full(fd, 8, at)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if n == END:
            return
        body = pread_full(fd, 24 * n, at + 8) if 0 <= n < END else b""
        if n < 0 or len(body) != 24 * n:
            if follow and n < END:
                time.sleep(WAIT)
                continue
            raise ValueError("a recording of the scan cut short")
        at += 8 + 24 * n
        if not n:
            continue
        words = array("q")
        words.frombytes(body)
        del body
        ks, vs, ends = words[:n].tolist(), words[n : 2 * n].tolist(), words[2 * n :].tolist()
        # the leaves searched are resident in this process too: released as the walk would (``PageFile.spans``)
        pf.touched(max(sum(ends) - sum(ks), len(set(map(floordiv, ks, repeat(FAULT_AROUND)))) * FAULT_AROUND))
        ukeys = mvcc.user_keys(raw, view, vs, ends)
        batch = Replayed(raw, view, ks, vs, ends)
        for visit in visits:
            visit(batch, ukeys)


class Aside:
    """Observers that search whole leaves (``visit_page``, e.g. the leftovers' address search) on the other core.

    A forked child makes their pass over bucket ``key`` while this process indexes and plans: with a ``Recorder``
    it follows this process's scan (``note`` there, ``finish`` once it ends), else it walks the bucket itself.
    ``settle`` takes what they gathered (``export`` there, bytes; ``absorb`` here, a view of them) before the
    first rule that reads them runs. A child that fails or dies only costs time: ``settle`` then makes the same
    pass here, so the observers end as the plain single pass leaves them. Leaving its ``with`` block ends a
    child still running.
    """

    def __init__(self, snap: Snapshot, observers: dict, recorder: Recorder | None = None):
        self.snap = snap
        self.observers = observers
        self.call = self.file = None  # (``close`` may run before either is made: a signal during the fork)
        self.lost = False  # the child was ended before its answer (``finish``): ``settle`` makes the pass here
        # the child searches the records the scan notes (``Recorder``), with no walk of its own
        replayed = (recorder is not None and recorder.usable
                    and all(hasattr(o, "visit_batch") for o in observers.values()))
        self.recorder = recorder if replayed else None  # (closed with this)
        if recorder is not None and not replayed:
            recorder.close()
        self.note = self.recorder.note if replayed else None  # for the scan to call (``mvcc.scan_index``'s ``leaves``)
        # the child's answer goes to an unlinked temp file, read from there a piece at a time (at 8 GiB the ~75 MB
        # of keys arrive at the peak of planning); with no temp file it comes back as one buffer
        try:
            self.file = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 - kept open until the answer is read
        except OSError:
            self.file = None
        fd = self.file.fileno() if self.file is not None else -1

        def child() -> bytes | int:
            if replayed:
                replay(snap, observers, recorder.file.fileno(), follow=True)
            else:
                paged_pass(snap, observers)
            # packed first (the leftovers' dict of keys goes before its bytes are made: at 8 GiB the dict, its
            # packed keys and their bytes were all held at once, the child's peak); the same bytes either way
            pack(observers.values())
            # each one's length (8 bytes) and its bytes, written in the pieces it gives them in (``export_pieces``)
            parts = [o.export_pieces() if hasattr(o, "export_pieces") else [o.export()] for o in observers.values()]
            sizes = [sum(memoryview(x).nbytes for x in pieces) for pieces in parts]
            if fd < 0:
                return b"".join(x for size, pieces in zip(sizes, parts) for x in (size.to_bytes(8, "little"), *pieces))
            at = 0
            for size, pieces in zip(sizes, parts):
                at = pwrite_all(fd, size.to_bytes(8, "little"), at)
                for x in pieces:
                    at = pwrite_all(fd, x, at)
            return at  # how many bytes it wrote

        try:
            self.call = process.fork_call(child, "the address search of every record")
        except BaseException:
            self.close()
            raise

    def finish(self) -> None:
        """finish tells a child following the scan (``Recorder``) that the scan is over; a recording that broke
        (a write failed) ends the child instead: ``settle`` then makes the pass here."""
        recorder, self.recorder, self.note = self.recorder, None, None
        if recorder is None:
            return
        try:
            if not recorder.finish() and self.call is not None:
                self.call.close()
                self.call, self.lost = None, True
        finally:
            recorder.close()

    def settle(self) -> None:
        """settle gives the observers what the child gathered (or makes their pass here); once."""
        call, self.call = self.call, None
        if call is None:
            if self.lost:
                self.lost = False
                paged_pass(self.snap, self.observers)
                pack(self.observers.values())
            return
        file, self.file = self.file, None  # (closed with the last Part of it)
        try:
            with call:
                got = call.result()
        except Exception:  # noqa: BLE001 - the child's pass is made again here (its error, if any, raised here)
            got = None
        if isinstance(got, bytearray):
            parts = split_answer(got, len(self.observers))
        elif type(got) is int and file is not None and os.fstat(file.fileno()).st_size == got:
            parts = split_answer(spill.Part(file, 0, got), len(self.observers))
        else:
            parts = None
        del file
        if parts is None:
            paged_pass(self.snap, self.observers)
        else:
            for o, part in zip(self.observers.values(), parts, strict=True):
                o.absorb(part)
            del part, parts, got  # the answer's buffer goes: the observers keep their copies of it
        pack(self.observers.values())

    def close(self) -> None:
        if self.call is not None:
            self.call.close()
            self.call = None
        if self.file is not None:
            self.file.close()
            self.file = None
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = self.note = None

    def __enter__(self) -> "Aside":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def split_answer(got: "bytearray | spill.Part", n: int) -> "list[memoryview | spill.Part] | None":
    """split_answer splits the ``Aside`` child's answer into its ``n`` observers' exports, or None if it is not one:
    views of a buffer, or ``spill.Part``s of the file it lies in."""
    inline = not isinstance(got, spill.Part)
    view, at, parts = memoryview(got) if inline else got, 0, []
    while at + 8 <= len(view) and len(parts) < n:
        size = int.from_bytes(view[at : at + 8] if inline else view.read(at, 8), "little")
        parts.append(view[at + 8 : at + 8 + size] if inline else view.part(at + 8, size))
        at += 8 + size
    return parts if at == len(view) and len(parts) == n else None
