"""write_streamed: pages straight into the temp file give the same snapshot as the in-memory patch, safely."""

import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest

from snaprewrite.bbolt.check import check
from snaprewrite.bbolt.writer import Transaction
from snaprewrite.errors import ChecksumError, CorruptError, SnapshotError
from snaprewrite.etcd import kv, revision
from snaprewrite.etcd.output import write_patched, write_streamed
from snaprewrite.etcd.snapshot import TRAILER_SIZE, Snapshot

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "k8s-etcd35.db"
KEY = (b"key",)


def _edit(tx: Transaction, snap: Snapshot) -> None:
    """_edit grows every third record of bucket key (in order) and appends a few revisions."""
    keys = [bytes(k) for _, k, _ in snap.key_bucket().iter_raw()]
    for k in keys[::3]:
        tx.put(KEY, k, bytes(snap.key_bucket().get(k)) + b"~" * 500)
    last = revision.decode(keys[-1])[0].main
    for i in range(1, 50):
        rec = kv.KeyValue(b"/stream/%03d" % i, last + i, last + i, 1, b"v" * 2000)
        tx.put(KEY, revision.encode(revision.Revision(last + i, 0)), kv.encode(rec))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def snap_path(tmp_path) -> Path:
    return Path(shutil.copyfile(FIXTURE, tmp_path / "in.db"))


def test_streamed_equals_in_memory_patch(snap_path, tmp_path):
    in_sha = _sha(snap_path)
    mem_out, stream_out = tmp_path / "mem.db", tmp_path / "stream.db"
    with Snapshot(snap_path) as snap:
        tx = Transaction(snap.pages)
        _edit(tx, snap)
        patch = tx.commit()
        a = write_patched(snap, patch.copy_length, list(patch.overwrites), patch.append, str(mem_out))

        def build(sink):
            tx = Transaction(snap.pages, sink=sink)
            _edit(tx, snap)
            return tx.commit()

        b = write_streamed(snap, str(stream_out), build)
    assert mem_out.read_bytes() == stream_out.read_bytes()
    assert (a.size, a.sha256, a.input_hash_ok) == (b.size, b.sha256, True)
    data = stream_out.read_bytes()
    assert len(data) == b.size and hashlib.sha256(data[:-TRAILER_SIZE]).digest() == data[-TRAILER_SIZE:]
    assert stat.S_IMODE(os.stat(stream_out).st_mode) == 0o600
    with Snapshot(stream_out) as out:
        assert out.verify_trailer() is True
        assert check(out.pages) == []
        last = out.key_bucket().last_key()
        assert kv.decode(bytes(out.key_bucket().get(last))).key == b"/stream/049"
    assert _sha(snap_path) == in_sha, "the input changed"
    assert sorted(os.listdir(tmp_path)) == ["in.db", "mem.db", "stream.db"]


def _leftovers(tmp_path: Path) -> list[str]:
    return sorted(f for f in os.listdir(tmp_path) if f != "in.db")


def test_failure_in_the_transaction_leaves_nothing(snap_path, tmp_path):
    out = tmp_path / "out.db"
    with Snapshot(snap_path) as snap:
        def build(sink):
            tx = Transaction(snap.pages, sink=sink)
            _edit(tx, snap)
            tx.commit()
            raise CorruptError("boom after the pages were written")

        with pytest.raises(CorruptError, match="boom"):
            write_streamed(snap, str(out), build)
    assert _leftovers(tmp_path) == []


def test_check_failure_and_bad_input_hash_leave_nothing(snap_path, tmp_path):
    out = tmp_path / "out.db"

    def build_with(snap):
        def build(sink):
            tx = Transaction(snap.pages, sink=sink)
            _edit(tx, snap)
            return tx.commit()
        return build

    with Snapshot(snap_path) as snap:
        def reject(tmp):
            assert Path(tmp).parent == tmp_path and stat.S_IMODE(os.stat(tmp).st_mode) == 0o600
            raise SnapshotError("rejected by the check")

        with pytest.raises(SnapshotError, match="rejected"):
            write_streamed(snap, str(out), build_with(snap), before_rename=reject)
    assert _leftovers(tmp_path) == []
    with open(snap_path, "r+b") as f:  # damage one byte of history: the trailer no longer matches
        f.seek(os.path.getsize(snap_path) - TRAILER_SIZE - 1)
        last = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([last[0] ^ 0xFF]))
    with Snapshot(snap_path) as snap, pytest.raises(ChecksumError):
        write_streamed(snap, str(out), build_with(snap))
    assert _leftovers(tmp_path) == []


def test_refuses_to_write_the_input(snap_path):
    with Snapshot(snap_path) as snap, pytest.raises(SnapshotError, match="input"):
        write_streamed(snap, str(snap_path), lambda sink: None)


def test_file_sink_gathering_writes_what_page_by_page_writes(tmp_path, pwrite_sizes):
    """FileSink gathers following pages into WRITE_PIECE writes: the same file and the same reads as one pwrite
    per page, over runs, gaps, pages out of order, multi-page images and reads of pages still gathered."""
    import random

    from snaprewrite.etcd import output

    ps = 512
    rng = random.Random(7)
    ops = []
    pgid = 10
    for _ in range(600):
        roll = rng.random()
        if roll < 0.1:
            pgid += rng.randrange(1, 5)  # a gap
        elif roll < 0.15:
            pgid = max(2, pgid - rng.randrange(1, 20))  # back, over a page written before
        n = rng.choice([1, 1, 1, 2, 3])
        ops.append(("w", pgid, bytes([rng.randrange(256)]) * (n * ps)))
        pgid += n
        if rng.random() < 0.05:
            back = max(2, pgid - rng.randrange(1, 40))
            ops.append(("r", back, ps * rng.randrange(1, 3)))
    calls = pwrite_sizes
    results = {}
    for name in ("gathered", "plain"):
        path = tmp_path / name
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        sink = output.FileSink(fd, ps)
        got = []
        for op, p, x in ops:
            if op == "w":
                if name == "gathered":
                    sink.write(p, x)
                else:
                    output._pwrite_all(fd, x, p * ps)
                    sink.end = max(sink.end, p * ps + len(x))
            elif (p + x // ps) * ps <= sink.end:
                got.append(sink.read(p, x))
        sink.flush()
        os.close(fd)
        results[name] = (path.read_bytes(), got, len(calls))
        calls.clear()
    assert results["gathered"][:2] == results["plain"][:2]
    assert results["gathered"][2] < results["plain"][2] / 2  # fewer system calls, else it gathers nothing
