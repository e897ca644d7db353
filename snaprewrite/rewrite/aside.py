"""The leftovers' search of every record on the other core (``Aside``), and the leaf-at-a-time pass it makes.

Observers that search whole leaves (``visit_page``/``visit_batch``: the leftovers' address search) need
no index: a forked child makes their pass over bucket ``key`` while the planner indexes and the rules
run, and hands back what they found (``export`` there, ``absorb`` here).
"""

import os
import tempfile

from .. import process, spill
from ..etcd import mvcc
from ..etcd.snapshot import Snapshot
from ..fileio import pwrite_all


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


class Aside:
    """Observers that search whole leaves (``visit_page``, e.g. the leftovers' address search) on the other core.

    A forked child makes their pass over bucket ``key`` while this process indexes and plans; ``settle``
    takes what they gathered (``export`` there, bytes; ``absorb`` here, a view of them) before the first
    rule that reads them runs. A child that fails or dies only costs time: ``settle`` then makes the same
    pass here, so the observers end as the plain single pass leaves them. Leaving its ``with`` block ends a
    child still running.
    """

    def __init__(self, snap: Snapshot, observers: dict):
        self.snap = snap
        self.observers = observers
        self.call = self.file = None  # (``close`` may run before either is made: a signal during the fork)
        # the child's answer goes to an unlinked temp file, read from there a piece at a time (at 8 GiB the ~75 MB
        # of keys arrive at the peak of planning); with no temp file it comes back as one buffer
        try:
            self.file = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 - kept open until the answer is read
        except OSError:
            self.file = None
        fd = self.file.fileno() if self.file is not None else -1

        def child() -> bytes | int:
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

    def settle(self) -> None:
        """settle gives the observers what the child gathered (or makes their pass here); once."""
        call, self.call = self.call, None
        if call is None:
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
