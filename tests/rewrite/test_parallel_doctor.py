"""The doctor on the planned output runs in a forked child while the snapshot is written (``job.diagnose``),
and the input is copied while the plan is made (``etcd.output.Prefill``).

The forked path must give the serial ``planned_diagnosis`` result exactly, and whatever goes wrong in the
child (an error, a crash, a death by signal) must stop the run with one line and leave nothing behind:
no snapshot, no report, no temp file.
"""

import json
import os
import signal
from pathlib import Path

import pytest

from snaprewrite import process
from snaprewrite.errors import ChecksumError, CorruptError, PlanError, SnapshotError
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s import layout
from snaprewrite.rewrite import facts as clusterfacts
from snaprewrite.rewrite import job
from snaprewrite.rewrite import plan as planning

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SNAP = FIXTURES / "k8s-etcd35.db"
SERVICE = ["192.168.0.0/16=172.24.0.0/16"]
POD = ["10.244.0.0/16=10.55.0.0/16"]


def request(tmp_path, **kw) -> job.Request:
    return job.Request(str(SNAP), str(tmp_path / "out.db"), SERVICE, POD, [], report=str(tmp_path / "r.json"), **kw)


def planned(req: job.Request):
    opts = job.options(req)
    snap = Snapshot(req.snapshot)
    lay = layout.detect(snap, None)
    scanned = planning.scan(snap, opts, None, lay, also=clusterfacts.indexed(lay))
    state = clusterfacts.State.of_index(snap, scanned.also_index, lay, None)
    return snap, state, planning.build(snap, opts, None, lay, scanned), opts


def test_the_forked_doctor_gives_the_serial_result(tmp_path):
    snap, state, plan, opts = planned(request(tmp_path))
    with snap:
        serial = job.planned_diagnosis(state, plan, opts)
        with job.diagnose(state, plan, opts) as forked:
            assert isinstance(forked, process.ForkedCall)  # the fork path is what is compared
            got = forked.result()
    assert got == serial
    assert json.dumps(got) == json.dumps(serial)


def test_a_rewrite_writes_the_same_files_with_and_without_the_fork(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    job.run(request(a))
    monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    job.run(request(b))
    assert (a / "out.db").read_bytes() == (b / "out.db").read_bytes()
    text = (b / "r.json").read_text().replace(str(b), str(a))
    assert (a / "r.json").read_text() == text


def test_a_rewrite_writes_the_same_files_with_and_without_the_prefill(tmp_path, monkeypatch):
    import contextlib

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    ra = job.run(request(a))
    monkeypatch.setattr(job, "Prefill", lambda *args, **kw: contextlib.nullcontext())  # the plain copy
    rb = job.run(request(b))
    assert (a / "out.db").read_bytes() == (b / "out.db").read_bytes()
    assert (a / "r.json").read_text() == (b / "r.json").read_text().replace(str(b), str(a))
    assert ra.written.input_sha256 == rb.written.input_sha256 and ra.written.input_hash_ok is True


def left_behind(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def test_a_doctor_error_in_the_child_stops_the_run_with_the_same_error(tmp_path, monkeypatch):
    def fail(state, plan, opts):
        raise PlanError("doctor: the planned output is broken (10.0.0.1 vs 10.0.0.2)")

    monkeypatch.setattr(job, "planned_diagnosis", fail)
    with pytest.raises(PlanError) as e:
        job.run(request(tmp_path))
    assert str(e.value) == "doctor: the planned output is broken (10.0.0.1 vs 10.0.0.2)"
    assert left_behind(tmp_path) == []


def test_a_doctor_child_killed_by_a_signal_stops_the_run(tmp_path, monkeypatch):
    def die(state, plan, opts):
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(job, "planned_diagnosis", die)
    with pytest.raises(SnapshotError, match="doctor on the planned output: its process was killed by SIGKILL"):
        job.run(request(tmp_path))
    assert left_behind(tmp_path) == []


def test_a_bug_in_the_child_keeps_its_traceback(tmp_path, monkeypatch):
    def bug(state, plan, opts):
        return {}["missing"]

    monkeypatch.setattr(job, "planned_diagnosis", bug)
    with pytest.raises(process.ChildFailed, match="KeyError: 'missing'"):
        job.run(request(tmp_path))
    assert left_behind(tmp_path) == []


def test_a_failing_write_kills_the_running_child(tmp_path, monkeypatch):
    pids = []
    real = process.fork_call

    def slow(state, plan, opts):
        import time

        time.sleep(60)

    def fork_call(*a, **kw):
        call = real(*a, **kw)
        pids.append(call.pid)
        return call

    def broken(path):
        raise CorruptError("output failed the check: injected")

    monkeypatch.setattr(job, "planned_diagnosis", slow)
    monkeypatch.setattr(process, "fork_call", fork_call)
    monkeypatch.setattr(job.applying, "verify_file", broken)
    with pytest.raises(CorruptError, match="injected"):
        job.run(request(tmp_path))
    assert left_behind(tmp_path) == []
    with pytest.raises(ChildProcessError):
        os.waitpid(pids[0], os.WNOHANG)  # reaped: not left running nor a zombie


def test_errors_cross_with_their_class_and_message():
    def fail():
        raise ChecksumError("x: sha256 trailer", "aa", "bb")

    with pytest.raises(ChecksumError) as e:
        process.fork_call(fail, "test", passes=(SnapshotError,)).result()
    assert str(e.value) == "x: sha256 trailer mismatch: expected aa, got bb"
    assert (e.value.expected, e.value.got) == ("aa", "bb")

    def corrupt():
        raise CorruptError("bad page", 7)

    with pytest.raises(CorruptError) as c:
        process.fork_call(corrupt, "test", passes=(SnapshotError,)).result()
    assert (str(c.value), c.value.pgid) == ("page 7: bad page", 7)
    assert process.fork_call(lambda: {"a": [1, "b", None]}, "test").result() == {"a": [1, "b", None]}


def test_a_dry_run_hashes_the_input_while_it_plans_with_the_same_report(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    ra = job.run(job.Request(str(SNAP), None, SERVICE, POD, [], dry_run=True, report=str(a / "r.json")))
    real = job._input_sha256
    monkeypatch.setattr(job, "_input_sha256", lambda snap, skip, hashing=None: real(snap, skip))  # plain
    rb = job.run(job.Request(str(SNAP), None, SERVICE, POD, [], dry_run=True, report=str(b / "r.json")))
    assert ra.report["input"] == rb.report["input"]
    assert (a / "r.json").read_text() == (b / "r.json").read_text().replace(str(b), str(a))


def test_a_dry_run_still_refuses_a_bad_input_trailer(tmp_path):
    bad = tmp_path / "bad.db"
    data = bytearray(SNAP.read_bytes())
    data[-1] ^= 1
    bad.write_bytes(bytes(data))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ChecksumError, match="sha256 trailer mismatch"):
        job.run(job.Request(str(bad), None, SERVICE, POD, [], dry_run=True, report=str(out / "r.json")))
    assert left_behind(out) == []
