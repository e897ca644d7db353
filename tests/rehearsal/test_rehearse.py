"""rehearse on real etcd 3.5.1 and 3.4.23: restore, start, read back, compare; always stop etcd and clean up."""

import hashlib
import json
import os
import tempfile
from pathlib import Path

import pytest

from snaprewrite.errors import ChecksumError, CorruptError, NotSnapshotError, SnapshotError, UsageError
from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rehearsal import rehearse as rh
from snaprewrite.rehearsal.binaries import EtcdNotFoundError
from snaprewrite.rehearsal.server import EtcdServer, error_line

REAL_MAPS = {"service_cidrs": ["10.96.0.0/12=172.30.0.0/16"], "pod_cidrs": ["10.5.0.0/16=10.66.0.0/16"]}
APISERVER_MAPS = {"service_cidrs": ["10.96.0.0/12=10.128.0.0/12", "fd00:10:96::/112=fd00:20:96::/112"],
                  "pod_cidrs": ["10.244.0.0/16=10.55.0.0/16", "fd00:10:244::/56=fd00:55:244::/56"]}
K8S_MAPS = {"service_cidrs": ["192.168.0.0/16=172.24.0.0/16", "fd00:10:96::/112=fd00:20:96::/112"],
            "pod_cidrs": ["10.244.0.0/16=10.55.0.0/16", "fd00:10:244::/56=fd00:55:244::/56"]}


def etcd_children() -> set[int]:
    """etcd_children lists the pids of this process's children running an etcd binary (scanning /proc)."""
    me, found = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and fields[0] != "Z" and any(Path(os.fsdecode(a)).name.startswith("etcd")
                                                              for a in cmdline if a):
            found.add(int(entry.name))
    return found


@pytest.fixture
def scratch_root(tmp_path, monkeypatch):
    """scratch_root points tempfile at an empty dir, so a test sees every scratch dir rehearse leaves behind."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    before = etcd_children()
    yield root
    assert etcd_children() == before, "an etcd process was left running"


def listening_addresses(pid: int) -> set[str]:
    """listening_addresses lists the local "ip:port" (hex, as /proc/net/tcp shows it) a process listens on."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                found.add(cols[1])
    return found


def test_etcd_listens_on_loopback_only(etcd_tools, real_snapshot, scratch_root):
    seen = []

    def stage(name):
        if name == "verify":
            for pid in etcd_children():
                seen.extend(listening_addresses(pid))

    assert rh.rehearse(real_snapshot, etcd=etcd_tools.version_str, stage=stage).ok
    assert len(seen) >= 2, "client and peer listeners"
    assert all(addr.startswith("0100007F:") for addr in seen), seen


def digest(path) -> tuple[str, int]:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest(), os.stat(path).st_mtime_ns


def live_count(path) -> tuple[int, int]:
    with Snapshot(path) as snap:
        return len(mvcc.live_keys(snap)), mvcc.current_revision(snap)


def check_clean(result: rh.Rehearsal, path, scratch_root) -> dict:
    out = result.as_json()
    assert json.loads(json.dumps(out)) == out
    assert out["mismatches"] == [] and out["ok"], out["mismatches"]
    keys, revision = live_count(path)
    assert (out["keys"], out["expectedKeys"]) == (keys, keys)
    assert (out["revision"], out["expectedRevision"]) == (revision, revision)
    assert out["verified"] == out["planned"] + out["renamed"] + out["sampled"] > 0
    assert out["restoreSeconds"] > 0 and out["startSeconds"] > 0
    assert list(scratch_root.iterdir()) == [], "the scratch dir must be removed"
    return out


def test_real_snapshot_as_is(etcd_tools, real_snapshot, scratch_root):
    before = digest(real_snapshot)
    stages = []
    result = rh.rehearse(real_snapshot, etcd=str(etcd_tools.etcd), stage=stages.append)
    out = check_clean(result, real_snapshot, scratch_root)
    assert stages == ["restore", "expect", "start", "verify", "stop"]
    assert out["etcdVersion"] == etcd_tools.version_str and not out["rewritten"] and out["planned"] == 0
    assert out["sampled"] == out["keys"], "a small snapshot is sampled whole"
    assert digest(real_snapshot) == before


def test_real_snapshot_with_cidr_move(etcd_tools, real_snapshot, scratch_root):
    before = digest(real_snapshot)
    result = rh.rehearse(real_snapshot, etcd=etcd_tools.version_str, **REAL_MAPS)
    out = check_clean(result, real_snapshot, scratch_root)
    assert out["rewritten"] and out["rewriteSummary"]["servicesChanged"] >= 2
    assert out["planned"] == out["rewriteSummary"]["objectsChanged"] > 0
    assert out["planned"] + out["sampled"] == out["keys"]
    assert digest(real_snapshot) == before


def test_k8s_fixture_with_its_mapping(etcd_tools, fixture_path, scratch_root):
    for name in {"k8s-etcd35.db", f"k8s-{etcd_tools.tag}.db"}:
        src = fixture_path(name)
        out = check_clean(rh.rehearse(src, etcd=etcd_tools.version_str, full=True, **K8S_MAPS), src, scratch_root)
        assert out["full"] and out["rewriteSummary"]["servicesChanged"] >= 6
        assert out["rewriteSummary"]["nodesChanged"] >= 3 and out["planned"] > 9


def test_apiserver_fixture_with_its_mapping(etcd_tools, fixture_path, scratch_root):
    """The snapshot the real kube-apiserver wrote (fixtures/apiserver.py), migrated, read back key by key."""
    src = fixture_path(f"apiserver-{etcd_tools.tag}.db")
    out = check_clean(rh.rehearse(src, etcd=etcd_tools.version_str, full=True, **APISERVER_MAPS), src, scratch_root)
    assert out["rewriteSummary"]["servicesChanged"] == 8 and out["rewriteSummary"]["nodesChanged"] == 3
    assert out["planned"] == out["rewriteSummary"]["objectsChanged"] == 17  # 16 + the Calico IPPool (CNI rules)


def test_sample_every_nth_plus_cidr_objects(etcd35, real_snapshot, scratch_root):
    out = rh.rehearse(real_snapshot, etcd=etcd35.version_str, sample_every=50).as_json()
    with Snapshot(real_snapshot) as snap:
        keys = mvcc.live_keys(snap)
    wanted = rh.sample_keys(keys, 50)
    assert out["sampleEvery"] == 50 and out["sampled"] == len(wanted) < len(keys)
    assert {k for k in keys if k.startswith(b"/registry/services/specs/")} <= set(wanted)
    assert out["mismatches"] == []
    assert rh.sample_keys([b"/z", b"/a", b"/b", b"/c", b"/d", b"/registry/minions/n"], 3) == \
        [b"/a", b"/d", b"/registry/minions/n"]
    assert rh.sample_step(5000, False, None) == 5 and rh.sample_step(5000, True, 7) == 1
    with pytest.raises(UsageError):
        rh.sample_step(10, False, 0)


def corrupt_copy(src, dst) -> Path:
    data = bytearray(Path(src).read_bytes())
    for off in (4096 * 3 + 100, 4096 * 40 + 17, len(data) // 2):
        for i in range(16):
            data[off + i] ^= 0xA5
    dst.write_bytes(bytes(data))
    return dst


def test_corrupted_snapshot_fails_cleanly(etcd_tools, real_snapshot, tmp_path, scratch_root):
    bad = corrupt_copy(real_snapshot, tmp_path / "bad.db")
    before = digest(bad)
    with pytest.raises(SnapshotError) as e:
        rh.rehearse(bad, etcd=etcd_tools.version_str)
    msg = str(e.value)
    assert msg.startswith("restore failed: ") and "sha256" in msg and "\n" not in msg
    with pytest.raises(SnapshotError) as e:  # our reader refuses it before anything is rewritten
        rh.rehearse(bad, etcd=etcd_tools.version_str, **REAL_MAPS)
    assert isinstance(e.value, (CorruptError, ChecksumError)) and "\n" not in str(e.value)
    with pytest.raises(SnapshotError) as e:  # past the hash check, etcd's bbolt falls over the broken pages
        rh.rehearse(bad, etcd=etcd_tools.version_str, skip_hash_check=True)
    assert str(e.value).startswith("restore failed: panic: ") and "\n" not in str(e.value)
    assert list(scratch_root.iterdir()) == [] and digest(bad) == before


@pytest.mark.parametrize("every", [None, 7], ids=["whole", "every7"])
def test_mismatches_are_detected_without_showing_values(every, etcd_tools, real_snapshot, scratch_root, monkeypatch):
    secret_key = b"/registry/secrets/kube-system/"
    real_read = rh._read_records
    changed = {}

    def tampered(snap, wanted, index):
        records = real_read(snap, wanted, index)
        for key, kv in records.items():
            if key.startswith(secret_key) and not changed:
                changed[key] = kv
                records[key] = rh.KeyValue(kv.key, kv.create_revision, kv.mod_revision, kv.version + 1,
                                           kv.value[:-1] + bytes([kv.value[-1] ^ 1]), kv.lease)
        return records

    monkeypatch.setattr(rh, "_read_records", tampered)
    out = rh.rehearse(real_snapshot, etcd=etcd_tools.version_str, sample_every=every).as_json()
    (key, kv), = changed.items()
    assert out["sampleEvery"] == (every or 1)
    assert not out["ok"]
    assert {(m["key"], m["what"]) for m in out["mismatches"]} == {(key.decode(), "value"), (key.decode(), "version")}
    text = json.dumps(out)
    assert kv.value.hex() not in text and kv.value.decode("latin-1") not in text
    assert list(scratch_root.iterdir()) == []


def test_serving_the_unrewritten_data_is_a_mismatch(etcd35, real_snapshot, scratch_root, monkeypatch):
    real_restore = rh.restore

    def restore_the_source(tools, snapshot, data_dir, skip_hash_check=False):
        return real_restore(tools, real_snapshot, data_dir, skip_hash_check)

    monkeypatch.setattr(rh, "restore", restore_the_source)
    out = rh.rehearse(real_snapshot, etcd=etcd35.version_str, **REAL_MAPS).as_json()
    assert out["planned"] > 0
    assert {m["what"] for m in out["mismatches"]} == {"value"}
    assert len({m["key"] for m in out["mismatches"]}) == out["planned"]


def test_keep_keeps_the_data_dir_and_rewritten_snapshot(etcd_tools, real_snapshot, tmp_path, scratch_root):
    kept = tmp_path / "kept"
    out = rh.rehearse(real_snapshot, etcd=etcd_tools.version_str, keep=kept, **REAL_MAPS).as_json()
    assert out["keptIn"] == str(kept) and out["ok"]
    assert {p.name for p in kept.iterdir()} == {"data", "rewritten.db", "etcd.log"}
    assert list(scratch_root.iterdir()) == []
    with EtcdServer(etcd_tools, kept / "data") as server, server.client() as c:
        assert c.revision() == out["revision"]
    raw = kept / "data" / "member" / "snap" / "db"  # a raw backend (no sha256 trailer) rehearses as it is
    again = check_clean(rh.rehearse(raw, etcd=etcd_tools.version_str), raw, scratch_root)
    assert again["revision"] == out["revision"] and not again["rewritten"]
    with pytest.raises(UsageError, match="not empty"):
        rh.rehearse(real_snapshot, etcd=etcd_tools.version_str, keep=kept)


@pytest.mark.parametrize("at", ["rewrite", "restore", "start", "verify"])
def test_ctrl_c_stops_etcd_and_removes_the_scratch_dir(at, etcd35, real_snapshot, scratch_root):
    running = []

    def stage(name):
        if name == at:
            running.append(etcd_children())
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rh.rehearse(real_snapshot, etcd=etcd35.version_str, stage=stage, **REAL_MAPS)
    assert running and list(scratch_root.iterdir()) == []
    if at == "verify":
        assert running[0], "etcd was up when the interrupt came"


def test_ctrl_c_with_keep_leaves_what_was_made(etcd34, real_snapshot, tmp_path, scratch_root):
    def stage(name):
        if name == "verify":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rh.rehearse(real_snapshot, etcd=etcd34.version_str, keep=tmp_path / "k", stage=stage)
    assert (tmp_path / "k" / "data" / "member").is_dir()


def test_no_etcd_is_one_clear_line(real_snapshot, scratch_root):
    with pytest.raises(EtcdNotFoundError) as e:
        rh.rehearse(real_snapshot, etcd="9.9")
    assert "cannot find etcd 9.9" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(NotSnapshotError, match="no such file"):
        rh.rehearse(scratch_root / "missing.db")
    with pytest.raises(UsageError, match="need --service-cidr"):
        rh.rehearse(real_snapshot, excludes=["default/kubernetes"])
    assert list(scratch_root.iterdir()) == []


def test_error_line_picks_the_cause():
    assert error_line('{"level":"info","msg":"restoring"}\nError: expected sha256 [1 2]\n') == \
        "Error: expected sha256 [1 2]"
    assert error_line("panic: runtime error: slice bounds\n\ngoroutine 1 [running]:\nmain.main()\n\t/x.go:2") == \
        "panic: runtime error: slice bounds"
    assert error_line('{"level":"fatal","msg":"failed to open","error":"bad page"}\n') == "failed to open: bad page"
    assert error_line("just this\n") == "just this" and error_line("") == "no output"
    assert rh._go_bytes_as_hex("expected sha256 [" + " ".join(["255"] * 8) + "]") == "expected sha256 " + "ff" * 8
