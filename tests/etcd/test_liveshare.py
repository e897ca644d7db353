"""``etcd.liveshare``: two walks sharing bucket ``key`` by chunks taken from a pipe give the one walk's answer.

The chunked split must equal the plain path (``status(plain=True)``, itself checked against real etcd in
``test_livecount.py``) and etcdutl's own hash, with any number of chunks (one, uneven, more chunks than
units), with the units at the leaves or at a branch level, in one process and two. Walks sharing one pipe
of tokens take every unit exactly once, in key order; a page two chunks' subtrees share is found, on
every path; damaged files give the plain path's answer or its error.
"""

import json
import os
import random
import struct
import subprocess
from pathlib import Path

import pytest

from snaprewrite import query
from snaprewrite.bbolt import format as fmt
from snaprewrite.bbolt.tree import Bucket
from snaprewrite.errors import CorruptError
from snaprewrite.etcd import livecount, liveshare
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite import cnifind

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
ROOT = b"/registry/"


def tokens(chunks: int) -> int:
    r, w = os.pipe()
    os.write(w, b"".join(i.to_bytes(2, "little") for i in range(chunks)))
    os.close(w)
    return r


def branch_units(monkeypatch) -> None:
    """Cut one level below the root: on these small trees the units are then branches, their leaves batched."""
    def frontier(self, n):
        off, size, flags, count = self.pf.span(self.root)
        return (1, count) if flags == fmt.BRANCH_PAGE else (0, 1)
    monkeypatch.setattr(Bucket, "_frontier", frontier)


def walk_pair(bucket, chunks: int, order):
    """Two walks interleaved as ``order`` says (0 or 1 per step), sharing one pipe of tokens."""
    fd = tokens(chunks)
    try:
        claims = [liveshare.Claims(fd, chunks), liveshare.Claims(fd, chunks)]
        seens = [bytearray(bucket.pf.meta.pgid) for _ in range(2)]
        walks = [bucket.leaf_batches(None, seens[i], claim=claims[i]) for i in range(2)]
        got: list[list] = [[], []]
        done = [False, False]
        for i in order:
            if done[i]:
                i = 1 - i
            if done[i]:
                break
            b = next(walks[i], None)
            if b is None:
                done[i] = True
                continue
            got[i].append((claims[i].tag, b.pgids, b.ks))
        for i in range(2):
            got[i] += [(claims[i].tag, b.pgids, b.ks) for b in walks[i]]
        return got, seens
    finally:
        os.close(fd)


@pytest.mark.parametrize("units", ["leaves", "branches"])
@pytest.mark.parametrize("chunks", [1, 2, 3, 7, 64, 1000])
def test_walks_sharing_chunks_take_every_unit_once(real_snapshot, monkeypatch, units, chunks):
    if units == "branches":
        branch_units(monkeypatch)
    with Snapshot(real_snapshot) as snap:
        bucket = snap.key_bucket()
        whole = [(b.pgids, b.ks) for b in bucket.leaf_batches()]
        pages = [p for pgids, _ in whole for p in pgids]
        rnd = random.Random(chunks)
        got, seens = walk_pair(bucket, chunks, [rnd.randrange(2) for _ in range(4 * len(pages))])
        for side in got:
            tags = [t for t, _, _ in side]
            assert tags == sorted(tags) and all(0 <= t < chunks for t in tags)  # each walk in key order
        assert not {t for t, _, _ in got[0]} & {t for t, _, _ in got[1]}  # a chunk is one walk's
        merged = sorted(got[0] + got[1], key=lambda x: x[0])  # stable: a chunk's batches in walk order
        assert [p for _, pgids, _ in merged for p in pgids] == pages
        assert [k for _, _, ks in merged for k in ks] == [k for _, ks in whole for k in ks]
        assert liveshare._shared(*seens) is None
        if chunks > 1 and units == "leaves":
            assert got[0] and got[1]  # both walks worked


def count(path, fork):
    """livecount's counts of a file (None: the plain path's)."""
    with Snapshot(path) as snap:
        args = (query._Resources(ROOT), cnifind.keeper(ROOT), query._seal, b"k8s:enc:")
        if fork is None:
            return livecount.count_plain(snap, *args)
        return livecount.count(snap, *args, None, fork)


def keys(parts):
    return sorted(c.tag for p in parts for c in p.chunks)


@pytest.mark.parametrize("units", ["leaves", "branches"])
@pytest.mark.parametrize("chunks", [1, 3, 7, 1000])
def test_chunked_status_equals_the_plain_status(real_snapshot, monkeypatch, units, chunks):
    if units == "branches":
        branch_units(monkeypatch)
    monkeypatch.setattr(liveshare, "CHUNKS", chunks)
    for path in (real_snapshot, FIXTURES / "k8s-etcd35.db", FIXTURES / "encryption/rotation/snapshot.db"):
        want = query.status(str(path), plain=True)
        for fork in (True, False):
            assert query.status(str(path), fork=fork) == want, (path, fork)
        with Snapshot(path) as snap:
            args = (query._Resources(ROOT), cnifind.keeper(ROOT), query._seal, b"k8s:enc:", 1 << livecount.CLASS_BITS)
            parts, _ = liveshare.shared(snap, snap.key_bucket(), args, None, hash)
            tags = keys(parts)
            assert len(tags) == len(set(tags))  # no chunk counted twice
            one = livecount.scan_part(snap.key_bucket(), None, *args)
            assert sum(c.count for p in parts for c in p.chunks) == sum(c.count for c in one.chunks)


def test_chunked_hash_is_etcdutls(real_snapshot, monkeypatch, etcd35):
    monkeypatch.setattr(liveshare, "CHUNKS", 5)
    got = query.status(str(real_snapshot), fork=True)
    ref = json.loads(subprocess.run([str(etcd35.etcdutl), "snapshot", "status", str(real_snapshot), "-w", "json"],
                                    check=True, capture_output=True, text=True).stdout)
    assert (got["hash"], got["revision"], got["totalKey"]) == (ref["hash"], ref["revision"], ref["totalKey"])


def shared_leaf_copy(real_snapshot, tmp_path):
    """A copy where the last leaf's place in its branch points at the first leaf instead (another chunk's)."""
    data = bytearray(real_snapshot.read_bytes())
    with Snapshot(real_snapshot) as snap:
        bucket = snap.key_bucket()
        leaves = [p for b in bucket.leaf_batches() for p in b.pgids]
        ps = snap.pages.page_size
        off, size, flags, count = snap.pages.span(bucket.root)
        root = bytes(snap.pages.data[off : off + size])
        parent = struct.unpack_from("<Q", root, 16 + (count - 1) * 16 + 8)[0]  # the root's last child
    first, last = leaves[0], leaves[-1]
    poff = parent * ps  # the file is the bbolt file (and a trailer)
    _, pflags, pcount, _ = fmt.PAGE_HEADER.unpack_from(data, poff)
    assert pflags == fmt.BRANCH_PAGE
    at = poff + 16 + (pcount - 1) * 16 + 8
    assert struct.unpack_from("<Q", data, at)[0] == last
    struct.pack_into("<Q", data, at, first)
    path = tmp_path / "shared-leaf.db"
    path.write_bytes(bytes(data))
    return path, first


def test_a_page_in_two_chunks_is_caught(real_snapshot, tmp_path, monkeypatch):
    """The first leaf also stands in the last chunk: the walks that took the two chunks both enter it."""
    path, first = shared_leaf_copy(real_snapshot, tmp_path)
    with Snapshot(path) as snap:
        bucket = snap.key_bucket()
        got, seens = walk_pair(bucket, 2, [0, 1] * 10000)  # walk 0 takes chunk 0, walk 1 chunk 1
        assert {t for t, _, _ in got[0]} == {0} and {t for t, _, _ in got[1]} == {1}
        assert liveshare._shared(*seens) == first  # the check that must fail does
    want = str(CorruptError("page referenced twice in one bucket tree", first))
    for chunks in (2, 64):
        monkeypatch.setattr(liveshare, "CHUNKS", chunks)
        for fork in (None, False, True):  # below status (whose layout search would meet the page first)
            with pytest.raises(CorruptError) as e:
                count(path, fork)
            assert str(e.value) == want, (chunks, fork)


@pytest.mark.parametrize("chunks", [3, 64])
def test_damaged_files_fail_as_the_plain_status_does(real_snapshot, randomly_damaged, monkeypatch, chunks):
    """Bytes changed at random: the same counts or the same error (class and line) on every path and split."""
    monkeypatch.setattr(liveshare, "CHUNKS", chunks)
    data = real_snapshot.read_bytes()
    rnd = random.Random(chunks)
    failed = 0
    for trial in range(12):
        path = randomly_damaged(data, rnd, f"damaged-{trial}.db")
        got = []
        for fork in (None, False, True):  # below status, whose layout search meets some damage first
            try:
                st, c = count(path, fork)
                got.append((st, c.live, dict(c.classes), dict(c.sealed), c.kept))
            except livecount.Unsupported:
                got.append(got[0])  # the caller takes the plain path
            except Exception as e:  # noqa: BLE001 - compared, class and message
                got.append((type(e).__name__, str(e)))
        assert got[1] == got[0] and got[2] == got[0], trial
        failed += isinstance(got[0], tuple)
    assert failed  # some damage is found


def test_the_earlier_error_of_the_two_walks_is_raised():
    """Claims.at orders errors as one walk meets them: by units asked, inside a taken unit first."""
    fd = tokens(4)
    try:
        a, b = liveshare.Claims(fd, 4), liveshare.Claims(fd, 4)
        assert a(0, 8) and not b(0, 8)  # a holds chunk 0 (units 0, 1); b took chunk 1 on its way
        assert b(2, 8) and b.at() == 2 * 3
        assert a(1, 8) and a.at() == 2 * 2  # an error inside unit 1 (a's) comes before one inside unit 2 (b's)
        assert not a(2, 8) and a.at() == 2 * 3 + 1  # met above the cut after unit 2: after b's inside unit 2
        assert a.tag == 2  # a took the next token (chunk 2) on its way past unit 2
    finally:
        os.close(fd)


def test_a_page_in_both_processes_is_caught(real_snapshot, tmp_path, monkeypatch):
    """As above with the two chunks forced into the two processes: the child takes chunk 0 (and waits), this
    process chunk 1; neither walk meets the page twice, the comparison of their pages must."""
    import fcntl
    import termios
    import time

    path, first = shared_leaf_copy(real_snapshot, tmp_path)
    me = os.getpid()
    plain_call = liveshare.Claims.__call__

    def left(fd: int) -> int:
        buf = bytearray(4)
        fcntl.ioctl(fd, termios.FIONREAD, buf)
        return int.from_bytes(buf, "little")

    def call(self, unit, total):
        if self.tag == -1 and os.getpid() == me:
            deadline = time.monotonic() + 10
            while left(self.fd) > 2 and time.monotonic() < deadline:  # until the child took token 0
                time.sleep(0.001)
        took = plain_call(self, unit, total)
        if self.tag == 0 and os.getpid() != me and not getattr(self, "waited", False):
            self.waited = True
            time.sleep(1)  # for this process to take token 1
        return took

    monkeypatch.setattr(liveshare.Claims, "__call__", call)
    seen_parts = []
    real_shared = liveshare._shared
    monkeypatch.setattr(liveshare, "_shared", lambda a, b: seen_parts.append((any(a), any(b))) or real_shared(a, b))
    monkeypatch.setattr(liveshare, "CHUNKS", 2)
    with pytest.raises(CorruptError) as e:
        count(path, True)
    assert seen_parts == [(True, True)]  # both processes walked a chunk
    assert str(e.value) == str(CorruptError("page referenced twice in one bucket tree", first))
