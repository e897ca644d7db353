"""check and rewrite refuse a snapshot whose small buckets hold what etcd fails on after restore.

Each case puts one bad record into a copy of the k8s fixture with snaprewrite's own bbolt writer (the
file stays a valid bbolt database with a correct sha256 trailer), then: ``check`` exits 1 naming the
bucket and key, ``rewrite`` refuses with one line and writes nothing. The lease case is proven to matter
with real etcd: 3.5 restores it and then fails to start, 3.4's restore itself fails, while the
undamaged copy written the same way restores and starts.
"""

import hashlib

import pytest
from typer.testing import CliRunner

from snaprewrite.bbolt.writer import Transaction, apply_patch
from snaprewrite.cli import app
from snaprewrite.etcd import startup
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rehearsal.server import EtcdServerError, restore

runner = CliRunner()
LEASE_KEY = bytes.fromhex("000000005eed0002")  # the fixture's one lease
GOOD_LEASE = bytes.fromhex("0882 80b4 f705 10 901c".replace(" ", ""))

# (bucket, key, bad value, what the key is shown as)
CASES = {
    "lease-value": (b"lease", LEASE_KEY, b"\x0a\x02ab", "0x000000005eed0002"),  # ID with wire type 2
    "lease-truncated": (b"lease", LEASE_KEY, b"\x08\x82\x80", "0x000000005eed0002"),
    "lease-key": (b"lease", b"\x00\x01", GOOD_LEASE, "0x0001"),
    "alarm": (b"alarm", b"\x08\xff", b"", "0x08ff"),  # the key is the AlarmMember: truncated varint
    "members": (b"members", b"not-a-member", b"{}", "not-a-member"),
    "members-json": (b"members", b"8e1f35f35b051b2e", b"{not json", "8e1f35f35b051b2e"),
    "members_removed": (b"members_removed", b"xyz", b"removed", "xyz"),
    "cluster": (b"cluster", b"clusterVersion", b"3.5", "clusterVersion"),
    "auth-revision": (b"auth", b"authRevision", b"\x01", "authRevision"),
    "auth-enabled": (b"auth", b"authEnabled", b"yes", "authEnabled"),
    "authUsers": (b"authUsers", b"root", b"\x0a\x04root\x12\xff", "root"),  # password length past the end
    "authRoles": (b"authRoles", b"root", b"\x0a\x04root\x12\x02\x08", "root"),  # Permission: truncated varint
    "meta-index": (b"meta", b"consistent_index", b"\x00\x40", "consistent_index"),
    "meta-compact": (b"meta", b"finishedCompactRev", b"\x00" * 8, "finishedCompactRev"),
}


def damaged(src, dst, bucket: bytes, key: bytes, value: bytes):
    """damaged writes ``src`` with one record put (bucket created if missing) to ``dst``, trailer recomputed."""
    raw = dst.with_suffix(".raw")
    with Snapshot(src) as snap:
        tx = Transaction(snap.pages)
        if snap.bucket(bucket) is None:
            tx.create_bucket((bucket,))
        tx.put((bucket,), key, value)
        apply_patch(src, tx.commit(), raw)
    data = raw.read_bytes()
    dst.write_bytes(data + hashlib.sha256(data).digest())
    raw.unlink()
    return dst


@pytest.mark.parametrize("case", CASES)
def test_check_and_rewrite_refuse_a_bad_record(case, fixture_path, tmp_path):
    bucket, key, value, shown = CASES[case]
    bad = damaged(fixture_path("k8s-etcd35.db"), tmp_path / "bad.db", bucket, key, value)
    r = runner.invoke(app, ["check", str(bad)])
    assert r.exit_code == 1
    assert f"bucket {bucket.decode()}: key {shown}: " in r.stdout, r.stdout
    assert r.stderr.count("\n") == 1
    out = tmp_path / "out.db"
    for extra in (["--dry-run"], ["--out", str(out)]):
        r = runner.invoke(app, ["rewrite", str(bad), *extra, "--service-cidr", "10.96.0.0/12=10.100.0.0/16"])
        assert r.exit_code == 1 and r.stdout == ""
        assert r.stderr.count("\n") == 1 and f"bucket {bucket.decode()}: key {shown}: " in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == [bad]


def test_undamaged_copy_passes(fixture_path, tmp_path):
    """Control: the same writer putting the lease's own bytes back makes a file check accepts."""
    good = damaged(fixture_path("k8s-etcd35.db"), tmp_path / "good.db", b"lease", LEASE_KEY, GOOD_LEASE)
    r = runner.invoke(app, ["check", str(good)])
    assert r.exit_code == 0, r.stdout + r.stderr


@pytest.mark.parametrize("value, ok", [
    (GOOD_LEASE, True), (b"", True), (b"\x08\x01\x20\x05", True),  # unknown field 4 is skipped
    (b"\x08\x01\x2b\x08\x01\x2c", True), (b"\x08\x01\x1b\x1c", False),  # unknown group 5 closed; known field 3 as a group
    (b"\x08\x01\x1c", False), (b"\x0f", False), (b"\x00\x01", False), (b"\x10" + b"\xff" * 10 + b"\x01", False),
    (b"\x2a\x05abc", False), (b"\x21\x01\x02", False),
])
def test_lease_wire_rules(value, ok):
    """Each rule of gogo's Unmarshal: unknown fields and groups skipped; bad tags, wire types, lengths fail."""
    try:
        startup.check_message(value, startup.LEASE)
        got = True
    except startup.WireError:
        got = False
    assert got is ok


def _restores_and_starts(tools, snapshot, data_dir, start_etcd) -> str | None:
    """_restores_and_starts returns None if real etcd restores and serves the snapshot, else what failed.

    A failed start answers with etcd's whole log (its panic line sits above the Go stack trace).
    """
    try:
        restored = restore(tools, snapshot, data_dir)
    except EtcdServerError as e:
        return f"restore: {e}"
    log = data_dir.parent / (data_dir.name + ".log")
    try:
        with start_etcd(tools, restored, log_path=log).client() as c:
            assert c.get("/registry/namespaces/default") is not None
    except EtcdServerError as e:
        return f"start: {e}: {log.read_text(errors='replace')}"
    return None


def test_real_etcd_fails_on_the_bad_lease(etcd_tools, fixture_path, start_etcd, tmp_path):
    """The damage matters: real etcd panics on the lease record check refuses, and accepts the control."""
    src = fixture_path("k8s-etcd35.db" if etcd_tools.version[:2] == (3, 5) else "k8s-etcd34.db")
    good = damaged(src, tmp_path / "good.db", b"lease", LEASE_KEY, GOOD_LEASE)
    bad = damaged(src, tmp_path / "bad.db", b"lease", LEASE_KEY, CASES["lease-value"][2])
    assert _restores_and_starts(etcd_tools, good, tmp_path / "good", start_etcd) is None
    failed = _restores_and_starts(etcd_tools, bad, tmp_path / "bad", start_etcd)
    assert failed is not None and "failed to unmarshal lease proto item" in failed.lower(), failed
