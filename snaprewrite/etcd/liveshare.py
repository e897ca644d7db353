"""Sharing ``livecount``'s scan of bucket ``key`` between this process and a forked child, both busy to the end.

The leaves are cut into ``CHUNKS`` chunks of consecutive units (the subtrees below one level of the tree,
``Bucket.leaf_batches``' ``claim``). The chunks' numbers wait in a pipe as tokens; a walk that reaches a
unit past the chunk it holds reads the next token (a pipe read takes one token whole, and the tokens come
out in order), so each process walks the chunks it took in key order and neither waits for the other
but for at most one chunk at the end. Each records its chunks' CRCs and tags its partition pieces with
their chunk (``livecount.Chunk``, ``livecount.resolve``); the two swap half their partitions through two
more pipes and each resolves half.

Errors come out as one walk in key order would meet them: each walk stops at its first error, which is
ordered by the units its walk had asked about (``Claims.at``), and the earlier of the two is raised; a
page both walks entered below the cut is a page referenced twice.
"""

import os
import signal
from array import array

from .. import process
from ..errors import CorruptError, SnapshotError
from . import backend, livecount, mvcc
from .snapshot import Snapshot

CHUNKS = 128  # chunks of the units: at most one chunk's work left to one process at the end
_AT = "livecount_at"  # the attribute a child's error carries its place in (``Claims.at``) in


class Claims:
    """A ``Bucket.leaf_batches`` claim taking chunks from a pipe of tokens shared with the other walk.

    Unit k of ``total`` lies in chunk ``k * chunks // total``; ``tag`` is the chunk held (``chunks``: none
    left). Tokens are read only when the walk reaches a unit past the chunk it holds, so a walk never holds
    a chunk it is not working on.
    """

    def __init__(self, fd: int, chunks: int):
        self.fd = fd
        self.chunks = chunks
        self.tag = -1
        self.asked = 0  # units asked about
        self.took = False  # whether the last one was taken

    def __call__(self, unit: int, total: int) -> bool:
        c = min(unit * self.chunks // max(total, 1), self.chunks - 1)
        while c > self.tag:  # a token below c is a chunk without units (the walk asked about every unit before)
            got = os.read(self.fd, 2)
            self.tag = int.from_bytes(got, "little") if len(got) == 2 else self.chunks
        self.asked = unit + 1
        self.took = c == self.tag
        return self.took

    def at(self) -> int:
        """at orders an error met now among the other walk's: by the units asked about, and one inside a unit
        this walk took before one met above the cut after a unit the other walk took."""
        return 2 * self.asked + (0 if self.took else 1)


def shared(snap: Snapshot, bucket, args: tuple, progress: mvcc.Progress, key_hash,
           chunks: int | None = None) -> tuple[list, list]:
    """shared is ``livecount``'s (parts, codes) from two processes sharing the chunks (``livecount.count``).

    The child's part comes first; ``chunks``: ``CHUNKS`` when None. A tree whose upper levels cannot be
    read is walked here alone (its error is then the one a walk in key order meets first).
    """
    try:
        bucket._frontier(2)
    except SnapshotError:
        part = livecount.scan_part(bucket, None, *args, progress, key_hash)
        return [part], livecount.resolve([part], livecount._reader(snap))
    chunks = chunks or CHUNKS
    tok_r, tok_w = os.pipe()
    try:
        os.write(tok_w, b"".join(i.to_bytes(2, "little") for i in range(chunks)))
    finally:
        os.close(tok_w)
    try:
        return _two(snap, bucket, args, progress, key_hash, tok_r, chunks)
    finally:
        os.close(tok_r)


def _two(snap: Snapshot, bucket, args: tuple, progress: mvcc.Progress, key_hash, tok: int,
         chunks: int) -> tuple[list, list]:
    """_two runs the shared scan: the child sends its share of the upper half of the partitions (and the pages
    it walked) and receives this process's share of the lower half; its counts and the rest come back as JSON."""
    half = livecount.PARTS // 2
    up_r, up_w = os.pipe()
    down_r, down_w = os.pipe()
    reader = livecount._reader(snap)

    def child() -> dict:  # pragma: no cover - runs in the child
        os.close(up_r)
        os.close(down_w)
        claims = Claims(tok, chunks)
        with os.fdopen(up_w, "wb") as up:
            try:
                part = livecount.scan_part(bucket, claims, *args, None, key_hash)
            except livecount.Unsupported as e:
                return {"unsupported": str(e)}
            except SnapshotError as e:
                setattr(e, _AT, claims.at())
                raise
            _send(up, part, range(half, livecount.PARTS))
            up.write(part.seen)
        with os.fdopen(down_r, "rb") as down:
            theirs = _receive(down, range(half))
        if theirs is None:
            return {"orphan": True}  # this process stopped: nobody reads this
        codes = livecount.resolve([part, theirs], reader, range(half))
        return {"chunks": [[c.tag, c.crc, c.length, c.count, c.last.hex() if c.last is not None else None]
                           for c in part.chunks],
                "kept": [[k.hex(), v.hex()] for k, v in part.kept.items()], "seals": part.seals, "names": part.names,
                "codes": [list(c.items()) for c in codes]}

    call = process.fork_call(child, f"{snap.path}: a share of bucket 'key'", (SnapshotError,), backend._Died)
    os.close(up_w)
    os.close(down_r)
    claims = Claims(tok, chunks)
    theirs = None
    try:
        with os.fdopen(up_r, "rb") as up, os.fdopen(down_w, "wb") as down:
            try:
                mine = livecount.scan_part(bucket, claims, *args, progress, key_hash)
            except SnapshotError as e:
                down.close()
                while up.read(1 << 20):
                    pass
                _first_error(call, e, claims.at())
            theirs = _receive(up, range(half, livecount.PARTS))
            if theirs is not None:
                theirs.seen = bytearray(up.read(len(mine.seen)))
                try:
                    _send(down, mine, range(half))
                    down.close()
                except BrokenPipeError:  # the child is gone: its answer says why
                    theirs = None
        if theirs is not None:
            codes = livecount.resolve([theirs, mine], reader, range(half, livecount.PARTS))
        answer = _result(call)
    finally:
        call.close()
    if "unsupported" in answer:
        raise livecount.Unsupported(answer["unsupported"])
    if theirs is None or len(theirs.seen) != len(mine.seen):
        raise backend._Died(f"{snap.path}: a share of bucket 'key': its process sent a short answer")
    both = _shared(mine.seen, theirs.seen)
    if both is not None:
        raise CorruptError("page referenced twice in one bucket tree", both)
    theirs.chunks = [livecount.Chunk(t, crc, n, count, bytes.fromhex(last) if last is not None else None)
                     for t, crc, n, count, last in answer["chunks"]]
    theirs.kept = {bytes.fromhex(k): bytes.fromhex(v) for k, v in answer["kept"]}
    theirs.seals = [tuple(s) for s in answer["seals"]]
    theirs.names = [tuple(n) if isinstance(n, list) else n for n in answer["names"]]  # JSON made tuples lists
    for side, pairs in zip(codes, answer["codes"]):
        side.update(dict(pairs))
    if progress is not None:
        progress(sum(c.count for c in theirs.chunks))
    return [theirs, mine], codes


def _first_error(call, mine: SnapshotError, at: int) -> None:
    """_first_error raises the error one walk in key order meets first: this process's (met at ``at``) or the
    child's; a child that met a bucket the index cannot hold sends the caller to the plain path instead."""
    place: list = []
    try:
        answer = _result(call, place)
    except SnapshotError as theirs:
        if place[0] is not None and place[0] < at:
            raise theirs from None
        raise mine from None
    if "unsupported" in answer:
        raise livecount.Unsupported(answer["unsupported"])
    raise mine


def _send(f, part, ps) -> None:
    """_send writes partitions ``ps`` of a part to a pipe: the pieces' tags and lengths, then their hashes and words."""
    meta = array("Q")
    for p in ps:
        meta.append(len(part.hs[p]))
        for t, x in zip(part.tags[p], part.hs[p]):
            meta.extend((t, len(x)))
    f.write(memoryview(array("Q", (len(meta),))).cast("B"))
    f.write(memoryview(meta).cast("B"))
    for p in ps:
        for pieces in (part.hs[p], part.ls[p]):
            for x in pieces:
                f.write(memoryview(x).cast("B"))


def _receive(f, ps) -> "livecount._Part | None":
    """_receive reads what ``_send`` wrote into a part holding partitions ``ps``, or None when the pipe ends early."""
    head = f.read(8)
    if len(head) != 8:
        return None
    n = array("Q", head)[0]
    raw = f.read(8 * n)
    if len(raw) != 8 * n:
        return None
    meta = array("Q", raw)
    out = livecount._Part()
    i = 0
    for p in ps:
        k = meta[i]
        specs = list(zip(meta[i + 1 : i + 1 + 2 * k : 2], meta[i + 2 : i + 2 + 2 * k : 2]))
        i += 1 + 2 * k
        for kind, dest in (("q", out.hs[p]), ("Q", out.ls[p])):
            for _t, m in specs:
                a = array(kind, bytes(8 * m))
                if f.readinto(memoryview(a).cast("B")) != 8 * m:
                    return None
                dest.append(a)
        out.tags[p] = [t for t, _m in specs]
    return out


def _shared(a: bytearray, b: bytearray) -> int | None:
    """_shared is the lowest page both walks entered (a byte per page each), or None."""
    both = int.from_bytes(a, "little") & int.from_bytes(b, "little")
    return (both & -both).bit_length() // 8 if both else None


def _result(call, place: list | None = None) -> dict:
    """_result is the child's answer; a child killed by SIGBUS (the input shrank) takes this process down the same
    way, for the supervisor to name the file (as ``backend.StatsJob`` does). Its error is raised without its
    place (``Claims.at``), which goes to ``place``."""
    try:
        return call.result()
    except backend._Died as e:
        if "SIGBUS" in str(e):  # pragma: no cover - the input shrank under the child
            signal.signal(signal.SIGBUS, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGBUS)
        raise
    except SnapshotError as e:
        at = e.__dict__.pop(_AT, None)
        if place is not None:
            place.append(at)
        raise
