"""The rehearsal runner against real etcd 3.5 and 3.4: start, write, snapshot, restore, restart, read back, clean up."""

import os
from pathlib import Path

import pytest

from snaprewrite.errors import SnapshotError
from snaprewrite.rehearsal.binaries import EtcdNotFoundError, find_etcd
from snaprewrite.rehearsal.client import EtcdClient, EtcdRequestError, prefix_end
from snaprewrite.rehearsal.server import (
    EtcdServer,
    EtcdServerError,
    restore,
    snapshot_save,
    snapshot_status,
)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); it counts as gone only once reaped, which stop() does.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_find_etcd_tells_versions_apart(etcd35, etcd34):
    assert etcd35.version[:2] == (3, 5) and etcd35.etcdutl is not None
    assert etcd34.version[:2] == (3, 4) and etcd34.etcdutl is None
    assert find_etcd(etcd34.etcd.parent.as_posix()).version == etcd34.version
    assert find_etcd(str(etcd35.etcd)).version == etcd35.version
    assert find_etcd(etcd35.version_str) == etcd35


def test_find_etcd_reports_what_it_found(etcd35):
    with pytest.raises(EtcdNotFoundError, match=r"cannot find etcd 9\.9.*3\.5\.1"):
        find_etcd("9.9")
    with pytest.raises(EtcdNotFoundError, match="neither a path nor a version"):
        find_etcd("latest")
    with pytest.raises(EtcdNotFoundError, match="does not exist"):
        find_etcd("/nonexistent/etcd")
    assert issubclass(EtcdNotFoundError, SnapshotError)


def test_save_restore_restart_round_trip(etcd_tools, tmp_path):
    snap = tmp_path / "snap.db"
    with EtcdServer(etcd_tools) as server, server.client() as c:
        pid, workdir = server.proc.pid, server.data_dir.parent
        lease = c.lease_grant(3600, 0x77)
        assert lease == 0x77
        first = c.put("/r/a", "1")
        assert c.put("/r/a", "2") == first + 1
        c.put("/r/lease", "held", lease=lease)
        txn = c.txn_put_many([(f"/r/t/{i}", bytes([i]) * 3000) for i in range(50)])
        assert {r.mod_revision for r in c.range(prefix="/r/t/")} == {txn}, "one txn, one revision"
        c.put("/r/gone", "x")
        c.delete("/r/gone")
        before = list(c.range(prefix="/r/"))
        revision = c.revision()
        snapshot_save(server, snap)
    assert _gone(pid) and not workdir.exists()

    status = snapshot_status(etcd_tools, snap)
    assert status["revision"] == revision
    assert status["totalSize"] > 0

    data_dir = restore(etcd_tools, snap, tmp_path / "restored")
    with EtcdServer(etcd_tools, data_dir) as server, server.client() as c:
        pid = server.proc.pid
        assert list(c.range(prefix="/r/")) == before
        assert c.revision() == revision
        assert c.get("/r/lease").lease == 0x77
        assert c.get("/r/gone") is None
        assert c.get("/r/a", revision=first).value == b"1"
        c.put("/r/after", "restore")  # the restored member accepts writes
    assert _gone(pid)
    assert data_dir.is_dir(), "a given data dir is left in place"


def test_server_stops_on_exceptions(etcd35):
    for exc in (RuntimeError, KeyboardInterrupt):
        with pytest.raises(exc), EtcdServer(etcd35) as server:
            pid, workdir = server.proc.pid, server.data_dir.parent
            raise exc()
        assert _gone(pid) and not workdir.exists()
        assert server.proc is None


def test_start_failure_names_the_cause(etcd35, tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("not a data dir")
    server = EtcdServer(etcd35, not_a_dir, start_timeout=20)
    with pytest.raises(EtcdServerError, match="etcd 3.5.1"):
        server.start()
    assert server.proc is None


def test_restore_refuses_a_non_empty_target(etcd34, tmp_path, fixture_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "x").write_text("")
    with pytest.raises(EtcdServerError, match="not empty"):
        restore(etcd34, fixture_path("tiny-etcd34.db"), target)


def test_range_pages_at_one_revision(etcd_tools):
    with EtcdServer(etcd_tools) as server, server.client() as c:
        for i in range(25):
            c.put(f"/p/{i:02d}", str(i))
        c.put("/q", "outside the prefix")
        seen = []
        for rec in c.range(prefix="/p/", limit=7):
            seen.append(rec.key)
            c.put(f"/p/{len(seen):02d}x", "written mid-scan")  # not visible: the scan is pinned
        assert seen == [f"/p/{i:02d}".encode() for i in range(25)]
        assert c.count("/p/") == 50
        assert [r.key for r in c.range(start="/p/05", end="/p/07")] == [b"/p/05", b"/p/05x", b"/p/06", b"/p/06x"]
        assert sum(1 for _ in c.range(limit=3)) == 51


def test_compaction_hides_old_revisions(etcd34):
    with EtcdServer(etcd34) as server, server.client() as c:
        first = c.put("k", "old")
        c.put("k", "new")
        assert c.get("k", revision=first).value == b"old"
        c.compact(c.revision())
        with pytest.raises(EtcdRequestError, match="compacted"):
            c.get("k", revision=first)
        assert c.get("k").version == 2


def test_client_only_talks_to_loopback():
    with pytest.raises(EtcdRequestError, match="only 127.0.0.1"):
        EtcdClient(2379, host="10.0.0.1")


def test_prefix_end():
    assert prefix_end(b"/a/") == b"/a0"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff\xff") == b"\x00"
