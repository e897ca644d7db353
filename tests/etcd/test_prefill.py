"""Prefill: the input copied and hashed aside (a forked child, or a thread) while the plan is made, then patched and checked.

The output must be the same file, byte for byte, with the same Written, as the plain streamed write,
whether the copy ran in a child or in a thread (``SNAPREWRITE_NO_FORK``); a bad input trailer, an input
truncated under the copy, a write that fails, a check that fails, or an error before the write must
leave nothing behind.
"""

import errno
import os
import shutil
from pathlib import Path

import pytest

from snaprewrite.bbolt.writer import Transaction
from snaprewrite.errors import ChecksumError, NotSnapshotError, SnapshotError
from snaprewrite.etcd import kv, revision
from snaprewrite.etcd.output import Prefill, Staging, write_streamed
from snaprewrite.etcd.snapshot import TRAILER_SIZE, Snapshot

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "k8s-etcd35.db"
KEY = (b"key",)


def build_for(snap: Snapshot):
    def build(sink):
        tx = Transaction(snap.pages, sink=sink)
        keys = [bytes(k) for _, k, _ in snap.key_bucket().iter_raw()]
        for k in keys[::3]:
            tx.put(KEY, k, bytes(snap.key_bucket().get(k)) + b"~" * 500)
        last = revision.decode(keys[-1])[0].main
        for i in range(1, 30):
            rec = kv.KeyValue(b"/prefill/%03d" % i, last + i, last + i, 1, b"v" * 3000)
            tx.put(KEY, revision.encode(revision.Revision(last + i, 0)), kv.encode(rec))
        return tx.commit()

    return build


@pytest.fixture(params=["fork", "thread"])
def aside(request, monkeypatch) -> str:
    """aside is where the prefill copies: a forked child (the default) or a thread (``SNAPREWRITE_NO_FORK``)."""
    if request.param == "thread":
        monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    else:
        monkeypatch.delenv("SNAPREWRITE_NO_FORK", raising=False)
    return request.param


@pytest.fixture
def snap_path(tmp_path, aside) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    return Path(shutil.copyfile(FIXTURE, d / "in.db"))


def written_with(snap_path: Path, out: Path, prefilled: bool, verify_input: bool = True, **kw):
    with Snapshot(snap_path) as snap, Staging() as staging:
        prefill = Prefill(snap, str(out), staging, verify_input) if prefilled else None
        try:
            w = write_streamed(snap, str(out), build_for(snap), verify_input=verify_input, staging=staging,
                               prefill=prefill, **kw)
        finally:
            if prefill is not None:
                prefill.__exit__(None, None, None)
        staging.publish()
    return w


@pytest.mark.parametrize("verify_input", [True, False])
def test_a_prefilled_write_is_the_plain_one(snap_path, tmp_path, verify_input):
    checked = []
    a = written_with(snap_path, tmp_path / "plain.db", False, verify_input)
    b = written_with(snap_path, tmp_path / "prefilled.db", True, verify_input,
                     before_rename=lambda p: checked.append(os.path.getsize(p)))
    assert (tmp_path / "plain.db").read_bytes() == (tmp_path / "prefilled.db").read_bytes()
    assert (a.size, a.sha256, a.input_hash_ok, a.file_sha256, a.input_sha256) == \
           (b.size, b.sha256, b.input_hash_ok, b.file_sha256, b.input_sha256)
    assert checked == [b.size - TRAILER_SIZE]  # the check saw the data the trailer covers


def test_a_bad_input_trailer_is_refused_and_nothing_is_left(snap_path, tmp_path):
    with open(snap_path, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 1]))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ChecksumError, match="sha256 trailer"):
        written_with(snap_path, out / "o.db", True)
    assert os.listdir(out) == []


def test_an_input_truncated_under_the_copy_is_refused_and_nothing_is_left(snap_path, tmp_path, monkeypatch):
    import snaprewrite.etcd.output as output

    size = snap_path.stat().st_size
    real_pwrite = output._pwrite_all

    def truncate_first(fd, data, off):  # the prefill's first write: the input shrinks under the reader
        os.truncate(snap_path, 8192)
        monkeypatch.setattr(output, "_pwrite_all", real_pwrite)
        real_pwrite(fd, data, off)

    monkeypatch.setattr(output, "CHUNK", 4096)
    monkeypatch.setattr(output, "_pwrite_all", truncate_first)
    out = tmp_path / "out"
    out.mkdir()
    changed = f"input changed while reading: it was {size} bytes and is now 8192"
    with pytest.raises(NotSnapshotError, match=changed), Snapshot(snap_path) as snap, Staging() as staging, \
            Prefill(snap, str(out / "o.db"), staging) as p:
        p.finish(p.copy_length)
    assert os.listdir(out) == []


def test_a_failed_write_of_the_copy_is_raised_and_nothing_is_left(snap_path, tmp_path, monkeypatch):
    import snaprewrite.etcd.output as output

    def full(fd, data, off):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output, "_pwrite_all", full)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OSError, match="No space left on device"), Snapshot(snap_path) as snap, \
            Staging() as staging, Prefill(snap, str(out / "o.db"), staging) as p:
        p.finish(p.copy_length)
    assert os.listdir(out) == []


def test_a_failing_check_leaves_nothing(snap_path, tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    def refuse(path):
        raise SnapshotError("rejected by the check")

    with pytest.raises(SnapshotError, match="rejected by the check"):
        written_with(snap_path, out / "o.db", True, before_rename=refuse)
    assert os.listdir(out) == []


def test_stopped_before_the_write_leaves_nothing(snap_path, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with Snapshot(snap_path) as snap, Staging() as staging:
        with Prefill(snap, str(out / "o.db"), staging) as p:
            assert os.listdir(out)  # the temp file exists while it copies
        assert not p.running()
    assert os.listdir(out) == []


def test_the_copy_runs_in_a_child_where_work_may_fork(snap_path, tmp_path, aside, monkeypatch):
    """In a thread the copy took the GIL back from the planner at every read, hash and write: a child does not."""
    import snaprewrite.etcd.output as output

    real_pwrite = output._pwrite_all
    writers = tmp_path / "writers"

    def noted(fd, data, off):
        with open(writers, "a") as f:
            f.write(f"{os.getpid()}\n")
        real_pwrite(fd, data, off)

    monkeypatch.setattr(output, "_pwrite_all", noted)
    out = tmp_path / "out"
    out.mkdir()
    with Snapshot(snap_path) as snap, Staging() as staging, Prefill(snap, str(out / "o.db"), staging) as p:
        assert p.finish(p.copy_length) == snap.hashes()[1]  # the input's whole-file sha256
        assert not p.running()
    pids = set(writers.read_text().split())
    assert len(pids) == 1
    assert (pids != {str(os.getpid())}) == (aside == "fork")
