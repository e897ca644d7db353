"""A -> B -> A gives back what A held, read back through real etcd (etcdutl 3.5 and etcdctl 3.4 restores).

Snapshot A is written by real etcd: the k8s fixture's cluster, plus IPAddress keys with several
versions (one written in a multi-key transaction), a key with two generations, a new key that held
an IPAddress before (a plain rename) and one that held it after the old key's last write (a
relocated rename, see ``etcd.writes``).

What each mode gives back (``etcd.writes`` states why):
  * in place: every read at every revision from the compaction on (key, value, create and mod
    revision, version, lease), and the store revision: A' == A;
  * ``--bump-revision N``: the same reads at every revision up to A's; the store revision is A's + 2N;
  * ``--as-new-revision``: every read at a revision up to A's (nothing earlier is touched) and every
    live key with its value and lease; the store revision is A's + 2.
"""

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.etcd import mvcc, writes
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rehearsal.server import EtcdServer, restore, snapshot_save

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import generate  # noqa: E402
import kubeobjects as ko  # noqa: E402

runner = CliRunner()
FORWARD = ["--service-cidr", "192.168.0.0/16=172.24.0.0/16", "--service-cidr", "fd00:10:96::/112=fd00:20:96::/112",
           "--pod-cidr", "10.244.0.0/16=10.55.0.0/16", "--pod-cidr", "fd00:10:244::/56=fd00:55:244::/56"]
BACKWARD = ["--service-cidr", "172.24.0.0/16=192.168.0.0/16", "--service-cidr", "fd00:20:96::/112=fd00:10:96::/112",
            "--pod-cidr", "10.55.0.0/16=10.244.0.0/16", "--pod-cidr", "fd00:55:244::/56=fd00:10:244::/56"]
IP = "/registry/ipaddresses/".__add__
DNS, NODEPORT, WEB = IP("192.168.0.10"), IP("192.168.100.7"), IP("192.168.12.34")


def cli(*args, code=0):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    return r


def build_a(r: generate.Recorder) -> None:
    """build_a is the k8s fixture plus the IPAddress histories a rename must carry over and give back."""
    generate.build_k8s(r)
    r.put(IP("172.24.0.10"), ko.ip_address("172.24.0.10", "default", "gone"))  # the new key's earlier life
    r.delete(IP("172.24.0.10"))
    r.put(DNS, ko.ip_address("192.168.0.10", "kube-system", "kube-dns", annotations={"v": "2"}))
    r.txn([(DNS, ko.ip_address("192.168.0.10", "kube-system", "kube-dns", annotations={"v": "3"})),
           ("/registry/configmaps/default/same-txn", ko.config_map("default", "same-txn", {"a": "b"}))])
    r.delete(NODEPORT)  # a second generation: put, delete, put, put
    r.put(NODEPORT, ko.ip_address("192.168.100.7", "default", "nodeport"))
    r.put(NODEPORT, ko.ip_address("192.168.100.7", "default", "nodeport", annotations={"gen": "2"}))
    r.put(IP("172.24.12.34"), ko.ip_address("172.24.12.34", "default", "gone"))  # after web's last write
    r.delete(IP("172.24.12.34"))


@pytest.fixture(scope="module")
def snapshot_a(etcd_tools, tmp_path_factory):
    """snapshot_a is A, saved from a real etcd of the tool set's version."""
    path = tmp_path_factory.mktemp(f"a-{etcd_tools.tag}") / "a.db"
    with EtcdServer(etcd_tools) as server, server.client() as client:
        build_a(generate.Recorder(client))
        snapshot_save(server, path)
    return path


@pytest.fixture(scope="module")
def want(etcd_tools, snapshot_a, tmp_path_factory) -> dict:
    """want is what real etcd serves from A: its reads at every revision and its live keys."""
    return reads(etcd_tools, snapshot_a, tmp_path_factory.mktemp(f"want-{etcd_tools.tag}"))


def reads(tools, snapshot, tmp_path, upto: int | None = None) -> dict:
    """reads restores a snapshot and returns its revision, compaction and full ranges at every revision."""
    with Snapshot(snapshot) as snap:
        compacted = mvcc.compact_state(snap).finished
    data_dir = restore(tools, snapshot, tmp_path / f"restored-{snapshot.stem}")
    with EtcdServer(tools, data_dir) as server, server.client() as c:
        current = c.revision()
        at = {rev: [(k.key, k.value, k.create_revision, k.mod_revision, k.version, k.lease)
                    for k in c.range(revision=rev)] for rev in range(compacted, (upto or current) + 1)}
        live = {k.key: k for k in c.range()}
    return {"revision": current, "compacted": compacted, "at": at, "live": live}


@pytest.fixture(autouse=True)
def placed(monkeypatch) -> list[bool]:
    """placed checks every ``newRecord`` lookup: where ``in_place`` placed the renamed keys' records
    (``Batch.last_of``) gives the records recomputed from the histories and every put of the batch.
    Returns, per lookup, whether the placed ends were there to compare."""
    plain, seen = writes.latest_records, []

    def both(snap, batch, histories, keys, values=True):
        keys = list(keys)
        got = plain(snap, batch, histories, keys, values)
        kept, batch.last_of = batch.last_of, None
        try:
            assert got == plain(snap, batch, histories, keys, values)
        finally:
            batch.last_of = kept
        seen.append(kept is not None)
        return got

    monkeypatch.setattr(writes, "latest_records", both)
    return seen


def round_trip(a, tmp_path, *mode):
    b, a2 = tmp_path / "b.db", tmp_path / "a2.db"
    cli("rewrite", a, "--out", b, *FORWARD, *mode)
    cli("rewrite", b, "--out", a2, *BACKWARD, *mode)
    return b, a2


def test_in_place_round_trip_is_exact(etcd_tools, snapshot_a, want, tmp_path, placed):
    b, a2 = round_trip(snapshot_a, tmp_path)
    assert placed == [True, True]  # plain, relocated (A -> B) and undo (B -> A) renames: placed == recomputed
    mid = reads(etcd_tools, b, tmp_path)
    # B really moved them: each renamed key lives under its new name only, with its history kept
    assert DNS.encode() not in mid["live"] and WEB.encode() not in mid["live"]
    dns = mid["live"][IP("172.24.0.10").encode()]
    old_dns = want["live"][DNS.encode()]
    assert (dns.create_revision, dns.mod_revision, dns.version) == (old_dns.mod_revision,) * 2 + (1,)
    web = mid["live"][IP("172.24.12.34").encode()]
    assert web.create_revision > want["live"][WEB.encode()].mod_revision  # relocated after the new key's past
    assert mid["revision"] == want["revision"]
    got = reads(etcd_tools, a2, tmp_path)
    assert (got["revision"], got["compacted"]) == (want["revision"], want["compacted"])
    assert old_dns.version == 3 and want["live"][NODEPORT.encode()].version == 2
    for rev, rows in want["at"].items():
        assert got["at"][rev] == rows, f"revision {rev} differs"


def test_bump_revision_round_trip_keeps_every_record(etcd_tools, snapshot_a, want, tmp_path):
    b, a2 = round_trip(snapshot_a, tmp_path, "--bump-revision", "100")
    got = reads(etcd_tools, a2, tmp_path, upto=want["revision"])
    assert got["revision"] == want["revision"] + 200
    assert got["at"] == want["at"]
    assert {k: (r.value, r.create_revision, r.mod_revision, r.version) for k, r in got["live"].items()} == \
        {k: (r.value, r.create_revision, r.mod_revision, r.version) for k, r in want["live"].items()}


def test_as_new_revision_round_trip_keeps_history_and_live_values(etcd_tools, snapshot_a, want, tmp_path):
    b, a2 = round_trip(snapshot_a, tmp_path, "--as-new-revision")
    got = reads(etcd_tools, a2, tmp_path, upto=want["revision"])
    assert got["revision"] == want["revision"] + 2
    assert got["at"] == want["at"]  # append-only: every earlier read is untouched
    assert {k: (r.value, r.lease) for k, r in got["live"].items()} == \
        {k: (r.value, r.lease) for k, r in want["live"].items()}
    dns = got["live"][DNS.encode()]
    assert (dns.create_revision, dns.version) == (want["revision"] + 2, 1)  # a renamed key starts a generation


def test_in_place_undo_of_an_as_new_revision_rename_gives_back_ipaddresses(etcd_tools, snapshot_a, want, tmp_path):
    b, a2 = tmp_path / "b.db", tmp_path / "a2.db"
    cli("rewrite", snapshot_a, "--out", b, *FORWARD, "--as-new-revision")
    cli("rewrite", b, "--out", a2, *BACKWARD)
    got = reads(etcd_tools, a2, tmp_path, upto=want["revision"])
    assert got["revision"] == want["revision"] + 1  # the Services' records of the forward transaction stay
    assert {k: r.value for k, r in got["live"].items()} == {k: r.value for k, r in want["live"].items()}
    ips = {k: (r.create_revision, r.mod_revision, r.version) for k, r in want["live"].items()
           if k.startswith(b"/registry/ipaddresses/")}
    assert {k: (r.create_revision, r.mod_revision, r.version) for k, r in got["live"].items() if k in ips} == ips
    assert got["at"] == want["at"]
