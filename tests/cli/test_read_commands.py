"""status/ls/get/dump/history against what real etcd answered for the same data (fixtures/*.expected.json)."""

import base64
import hashlib
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app

FIXTURES = ["basic-etcd35", "basic-etcd34", "tiny-etcd35", "tiny-etcd34"]
runner = CliRunner()


def run(*args) -> str:
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, (r.exit_code, r.output, r.exception)
    return r.stdout


def split(name):
    fixture, tag = name.rsplit("-", 1)
    return fixture, tag


def value_matches(rec: dict, value: bytes) -> bool:
    if "value" in rec:
        return base64.b64decode(rec["value"]) == value
    return len(value) == rec["value_len"] and hashlib.sha256(value).hexdigest() == rec["value_sha256"]


@pytest.mark.parametrize("name", FIXTURES)
def test_status_matches_etcd(name, fixture_path, fixture_expected):
    exp = fixture_expected(*split(name))
    st = json.loads(run("status", fixture_path(name + ".db"), "--output", "json", "--verify"))
    for k in ("hash", "revision", "totalKey", "totalSize"):
        assert st[k] == exp["snapshot_status"][k], k
    assert st["trailer"] is True and st["hashOk"] is True
    assert st["liveKeys"] == exp["count"]
    assert st["compactRevision"] == (exp["compact_revision"] or 0)
    assert sum(st["buckets"].values()) == st["totalKey"]


def test_status_matches_etcdutl_on_real_snapshot(real_snapshot, etcd35):
    from snaprewrite.rehearsal.server import snapshot_status
    st = json.loads(run("status", real_snapshot, "-o", "json"))
    want = snapshot_status(etcd35, real_snapshot)
    assert {k: st[k] for k in want} == want
    assert st["resources"]["services"] == 2 and st["resources"]["minions"] == 3


@pytest.mark.parametrize("name", FIXTURES)
def test_ls_and_dump_match_etcd_range(name, fixture_path, fixture_expected):
    exp = fixture_expected(*split(name))
    snap = fixture_path(name + ".db")
    want_keys = [base64.b64decode(r["key"]) for r in exp["keys"]]
    listed = json.loads(run("ls", snap, "--output", "json"))
    assert listed == [k.decode("utf-8", "backslashreplace") for k in sorted(want_keys)]
    text = run("ls", snap).splitlines()
    assert text == listed
    lines = [json.loads(x) for x in run("dump", snap).splitlines()]
    assert len(lines) == len(exp["keys"])
    for got, rec in zip(lines, exp["keys"]):
        assert got["key"] == base64.b64decode(rec["key"]).decode("utf-8", "backslashreplace")
        assert (got["createRevision"], got["modRevision"], got["version"], got["lease"]) == \
            (rec["create_revision"], rec["mod_revision"], rec["version"], rec["lease"])
        assert value_matches(rec, base64.b64decode(got["value"]["base64"]))


@pytest.mark.parametrize("name", ["basic-etcd35", "basic-etcd34"])
def test_get_at_revisions_matches_etcd(name, fixture_path, fixture_expected):
    exp = fixture_expected(*split(name))
    snap = fixture_path(name + ".db")
    checked = 0
    for h in exp["history"]:
        key = base64.b64decode(h["key"]).decode("utf-8", "surrogateescape")
        if h["revision"] < (exp["compact_revision"] or 0):
            continue
        r = runner.invoke(app, ["get", str(snap), key, "--revision", str(h["revision"]), "-o", "raw"])
        if h["record"] is None:
            assert r.exit_code == 1 and ("not found" in r.stderr or "deleted" in r.stderr)
        else:
            assert r.exit_code == 0, r.stderr
            assert value_matches(h["record"], r.stdout_bytes)
        checked += 1
    assert checked > 10


def test_history_lists_puts_and_deletions(fixture_path, fixture_expected):
    exp = fixture_expected("basic", "etcd35")
    deleted_after_compaction = [h for h in exp["history"] if h["record"] is None
                                and h["revision"] > exp["compact_revision"]]
    assert deleted_after_compaction
    key = base64.b64decode(deleted_after_compaction[0]["key"]).decode()
    rows = json.loads(run("history", fixture_path("basic-etcd35.db"), key, "-o", "json"))
    assert [r["type"] for r in rows][-1] == "DELETE"
    assert all(r["key"] == key for r in rows)
    assert [r["revision"] for r in rows] == sorted(r["revision"] for r in rows)


def test_real_snapshot_every_command(real_snapshot):
    keys = json.loads(run("ls", real_snapshot, "-o", "json"))
    assert len(keys) == 345
    svc = json.loads(run("get", real_snapshot, "/registry/services/specs/default/kubernetes", "-o", "json"))
    assert svc["kind"] == "Service" and svc["spec"]["clusterIP"] == "10.96.0.1"
    for line in run("dump", real_snapshot, "--prefix", "/registry/secrets/").splitlines():
        value = json.loads(line)["value"]
        assert value["kind"] == "Secret"
        assert all(v == "<redacted>" for v in value.get("data", {}).values())
    rows = json.loads(run("history", real_snapshot, "/registry/minions/node1", "-o", "json"))
    assert rows[-1]["type"] == "PUT" and len(rows) >= 1


def test_missing_key_and_bad_input_exit_1_without_traceback(tmp_path, real_snapshot):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not a snapshot at all" * 100)
    for args in (["get", real_snapshot, "/no/such/key"], ["status", bad], ["ls", tmp_path / "missing.db"]):
        p = subprocess.run([sys.executable, "-m", "snaprewrite.cli", *map(str, args)], capture_output=True, text=True)
        assert p.returncode == 1, p
        assert p.stderr.count("\n") == 1 and p.stderr.startswith("snaprewrite: error:")
        assert "Traceback" not in p.stderr
    p = subprocess.run([sys.executable, "-m", "snaprewrite.cli", "get"], capture_output=True, text=True)
    assert p.returncode == 2


def test_count_resources_fast_path_matches_per_key_counting(real_snapshot):
    from collections import Counter

    from snaprewrite.etcd import mvcc
    from snaprewrite.etcd.snapshot import Snapshot
    from snaprewrite.query import count_resources, resource_of

    with Snapshot(real_snapshot) as snap:
        keys = list(mvcc.live_keys(snap))
    want = dict(sorted(Counter(r for r in map(resource_of, keys) if r).items()))
    assert count_resources(keys) == want
    assert count_resources(keys + [b"/registry/pods/odd\nkey"]) == {**want, "pods": want["pods"] + 1}
