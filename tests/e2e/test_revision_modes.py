"""--as-new-revision and etcd 3.6's --bump-revision/--mark-compacted, read back through real etcd 3.5 and 3.4."""

import json

import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s.decode import decode_value
from snaprewrite.rehearsal.client import EtcdRequestError
from snaprewrite.rehearsal.server import snapshot_status

runner = CliRunner()
MAPS = ["--service-cidr", "192.168.0.0/16=172.24.0.0/16", "--pod-cidr", "10.244.0.0/16=10.55.0.0/16"]


def cli(*args, code=0):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    return r


@pytest.mark.parametrize("tag", ["etcd35", "etcd34"])
def test_as_new_revision_records_one_transaction(tag, etcd35, etcd34, fixture_path, restored_etcd, tmp_path):
    tools = etcd35 if tag == "etcd35" else etcd34
    src = fixture_path(f"k8s-{tag}.db")
    with Snapshot(src) as snap:
        latest = mvcc.current_revision(snap)
        before = {k: mvcc.record_at(snap, r).kv for k, r in mvcc.live_keys(snap).items()}
    out, rep = tmp_path / "o.db", tmp_path / "r.json"
    cli("rewrite", src, "--out", out, "--report", rep, "--as-new-revision", *MAPS)
    report = json.loads(rep.read_text())
    assert report["newRevision"] == latest + 1
    snapshot_status(tools, out)
    server = restored_etcd(tools, out)
    with server.client() as c:
        assert c.revision() == latest + 1
        got = {r.key: r for r in c.range()}
        changed = {ch["key"].encode() for ch in report["changes"]}
        renamed = {ch["key"].encode(): ch["newKey"].encode() for ch in report["changes"] if ch.get("newKey")}
        for key, kv in before.items():
            if key in renamed:
                assert key not in got
                new = got[renamed[key]]
                assert (new.create_revision, new.mod_revision, new.version) == (latest + 1, latest + 1, 1)
            elif key in changed:
                r = got[key]
                assert (r.create_revision, r.mod_revision, r.version) == (kv.create_revision, latest + 1,
                                                                         kv.version + 1)
                assert r.value != kv.value
            else:
                assert (got[key].mod_revision, got[key].value) == (kv.mod_revision, kv.value)
        # the old value is still readable at the previous revision: real history, not an edit
        svc = b"/registry/services/specs/default/web"
        old = c.get(svc, revision=latest)
        assert decode_value(old.value)["spec"]["clusterIP"].startswith("192.168.")
        assert decode_value(c.get(svc).value)["spec"]["clusterIP"].startswith("172.24.")


@pytest.mark.parametrize("tag", ["etcd35", "etcd34"])
def test_bump_revision_and_mark_compacted(tag, etcd35, etcd34, fixture_path, restored_etcd, tmp_path):
    tools = etcd35 if tag == "etcd35" else etcd34
    src = fixture_path(f"k8s-{tag}.db")
    with Snapshot(src) as snap:
        last = mvcc.current_revision(snap)
    out = tmp_path / "o.db"
    cli("rewrite", src, "--out", out, "--bump-revision", "1000", "--mark-compacted", *MAPS)
    cli("check", out)
    server = restored_etcd(tools, out)
    with server.client() as c:
        assert c.revision() == last + 1000
        with pytest.raises(EtcdRequestError, match="compacted"):
            c.get(b"/registry/services/specs/default/web", revision=last)
        assert decode_value(c.get(b"/registry/services/specs/default/web").value)["spec"]["clusterIP"] \
            .startswith("172.24.")
    r = cli("rewrite", src, "--out", tmp_path / "x.db", "--mark-compacted", *MAPS, code=2)
    assert "--bump-revision" in r.stderr
