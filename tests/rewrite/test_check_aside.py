"""The output's check in a forked child while the run goes on: its staging waits for the answer before it
publishes anything.

``apply.verify_file`` on a staged temp file forks the full check and returns; ``Staging.publish`` waits
for it. A damaged file must still be refused (MUST FAIL), with the message the check made in place gives,
nothing published and the temp file removed; a check process that dies refuses too; a run that stops
before publishing ends the check's process. Publishing waits for the output's fsync as well.
"""

import os
import shutil
import signal
import stat
import time
from pathlib import Path

import pytest

from snaprewrite import process
from snaprewrite.bbolt.writer import Transaction
from snaprewrite.errors import CorruptError
from snaprewrite.etcd import kv, mvcc, revision, schema
from snaprewrite.etcd.output import Staging, write_patched
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite import apply as applying

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "k8s-etcd35.db"


@pytest.fixture
def bad(tmp_path) -> tuple[Path, int]:
    """bad is a snapshot with one record whose mod_revision is not its key's revision (and that revision)."""
    path = tmp_path / "src" / "bad.db"
    path.parent.mkdir()
    with Snapshot(FIXTURE) as snap:
        main = mvcc.current_revision(snap) + 1
        tx = Transaction(snap.pages)
        record = kv.KeyValue(b"/registry/bad", main, main + 5, 1, b"x")
        tx.put((schema.KEY,), revision.encode(revision.Revision(main, 0)), kv.encode(record))
        patch = tx.commit()
        write_patched(snap, patch.copy_length, list(patch.overwrites), patch.append, str(path))
    return path, main


def staged_copy(staging: Staging, src: Path, target: Path) -> str:
    fd, tmp = staging.create(str(target))
    with open(src, "rb") as f:
        os.write(fd, f.read())
    return tmp


def test_a_damaged_staged_output_is_refused_when_published(bad, tmp_path):
    """MUST FAIL: the forked check of a staged output with a bad record refuses it at publish: nothing published."""
    src, main = bad
    target = tmp_path / "out" / "o.db"
    target.parent.mkdir()
    with pytest.raises(CorruptError) as e, Staging() as staging:
        tmp = staged_copy(staging, src, target)
        applying.verify_file(tmp)  # forks the check and returns
        assert staging._pending, "the check runs aside"
        staging.publish()
    assert str(e.value) == f"output failed the check: bucket key: record at revision {main}: mod_revision {main + 5} (1 problems)"
    assert os.listdir(target.parent) == []


def test_in_place_the_same_refusal_comes_at_once(bad, tmp_path, monkeypatch):
    """Without fork the check is made before verify_file returns: the same message."""
    monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    src, main = bad
    target = tmp_path / "out" / "o.db"
    target.parent.mkdir()
    with Staging() as staging:
        tmp = staged_copy(staging, src, target)
        with pytest.raises(CorruptError) as e:
            applying.verify_file(tmp)
        assert not staging._pending
    assert str(e.value) == f"output failed the check: bucket key: record at revision {main}: mod_revision {main + 5} (1 problems)"
    assert os.listdir(target.parent) == []


def test_a_sound_staged_output_is_published_after_its_check(tmp_path):
    target = tmp_path / "o.db"
    with Staging() as staging:
        tmp = staged_copy(staging, FIXTURE, target)
        applying.verify_file(tmp)
        staging.publish()
    assert target.read_bytes() == FIXTURE.read_bytes()


def test_a_check_process_that_dies_refuses(tmp_path, monkeypatch):
    """MUST FAIL: the check's process killed (e.g. SIGBUS on a file cut short) is a refusal, not a pass."""

    def killed(path):
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(applying, "_problems", killed)
    target = tmp_path / "o.db"
    with pytest.raises(CorruptError, match="check of the output: its process was killed by SIGKILL"), Staging() as staging:
        tmp = staged_copy(staging, FIXTURE, target)
        applying.verify_file(tmp)
        staging.publish()
    assert os.listdir(tmp_path) == []


def test_a_run_stopping_before_publish_ends_the_check(tmp_path, monkeypatch):
    """An error after the check started (before publishing) kills and reaps its process and removes the file."""
    pids = []
    real = process.fork_call

    def fork_call(*a, **kw):
        call = real(*a, **kw)
        pids.append(call.pid)
        return call

    monkeypatch.setattr(applying, "_problems", lambda path: time.sleep(60))
    monkeypatch.setattr(process, "fork_call", fork_call)
    target = tmp_path / "o.db"
    with pytest.raises(RuntimeError, match="stopped"), Staging() as staging:
        tmp = staged_copy(staging, FIXTURE, target)
        applying.verify_file(tmp)
        raise RuntimeError("stopped")
    assert os.listdir(tmp_path) == []
    with pytest.raises(ChildProcessError):
        os.waitpid(pids[0], os.WNOHANG)  # reaped: not left running nor a zombie


def test_publish_waits_for_pending_work_and_its_error_publishes_nothing(tmp_path):
    order = []

    class Work:
        def __init__(self, name, error=None):
            self.name, self.error = name, error

        def result(self):
            order.append(self.name)
            if self.error:
                raise self.error

        def close(self):
            order.append(f"close {self.name}")

    target = tmp_path / "o.db"
    with Staging() as staging:
        staged_copy(staging, FIXTURE, target)
        staging.wait_for(Work("a"))
        staging.publish()
    assert order == ["a", "close a"] and target.exists()
    order.clear()
    target2 = tmp_path / "o2.db"
    with pytest.raises(CorruptError, match="refused"), Staging() as staging:
        staged_copy(staging, FIXTURE, target2)
        staging.wait_for(Work("a", CorruptError("refused")))
        staging.wait_for(Work("b"))
        staging.publish()
    assert order == ["a", "close a", "close b"]  # b is ended, not waited for
    assert sorted(os.listdir(tmp_path)) == ["o.db"]


def test_a_prefilled_write_is_synced_before_it_is_published(tmp_path, monkeypatch):
    """The fsyncs run in a thread: publishing waits for them (data, then the trailer after it)."""
    from snaprewrite.etcd import output

    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        if stat.S_ISREG(os.fstat(fd).st_mode):  # not the directory's, after the rename
            time.sleep(0.2)
            synced.append(os.fstat(fd).st_size)
        real_fsync(fd)

    real_replace = os.replace

    def replace(a, b, **kw):
        synced.append("published")
        return real_replace(a, b, **kw)

    src = tmp_path / "in" / "in.db"
    src.parent.mkdir()
    shutil.copyfile(FIXTURE, src)
    monkeypatch.setattr(output.os, "fsync", fsync)
    monkeypatch.setattr(output.os, "replace", replace)
    with Snapshot(src) as snap, Staging() as staging:
        prefill = output.Prefill(snap, str(tmp_path / "o.db"), staging)
        w = output.write_streamed(snap, str(tmp_path / "o.db"), lambda sink: Transaction(snap.pages, sink=sink).commit(),
                                  staging=staging, prefill=prefill)
        staging.publish()
    assert synced == [synced[0], w.size, "published"]  # the data's, the trailer's, then the rename
