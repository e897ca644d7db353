"""Objects a rewrite would half-move are refused by name; fields stored twice are read as Go reads them.

The snapshot is written by real etcd: a Service whose clusterIP is not clusterIPs[0], a Service whose
spec holds clusterIP twice (kube-apiserver's Go decoder keeps the last one), an allocator whose
stored range is not a CIDR, and a healthy Service. Each refusal is one line naming the key; with the
bad objects excluded the rewrite goes through and real etcd serves the result.
"""

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.k8s import fields, registry, splice
from snaprewrite.k8s.decode import decode_value
from snaprewrite.k8s.proto import runtime_pb2
from snaprewrite.rehearsal.server import EtcdServer, snapshot_save

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import kubeobjects as ko  # noqa: E402

runner = CliRunner()
MAP = ["--service-cidr", "192.168.0.0/16=172.24.0.0/16"]
SVC = "/registry/services/specs/default/".__add__


def twice(value: bytes, shadowed_ip: str) -> bytes:
    """twice stores spec.clusterIP a second time, before the real one (so Go reads the real one)."""
    u = runtime_pb2.Unknown.FromString(value[4:])
    raw = u.raw
    spec = next(f for f in splice.scan(raw) if f.number == 2)
    extra = b"\x1a" + splice.encode_varint(len(shadowed_ip)) + shadowed_ip.encode()
    payload = extra + raw[spec.value_start:spec.value_end]
    u.raw = raw[:spec.len_start] + splice.encode_varint(len(payload)) + payload + raw[spec.value_end:]
    return b"k8s\x00" + u.SerializeToString(deterministic=True)


DOUBLED = twice(ko.service("default", "twice", "192.168.4.4"), "192.168.3.3")


def test_a_field_stored_twice_reads_as_go_reads_it():
    paths = [registry.resolve_path("v1", "Service", ("spec", n)) for n in ("clusterIP", "clusterIPs")]
    assert decode_value(DOUBLED)["spec"]["clusterIP"] == "192.168.4.4"  # the protobuf runtime, like Go
    assert splice.get_many(DOUBLED, paths) == fields.read(DOUBLED, "v1", "Service", paths) == \
        [["192.168.4.4"], ["192.168.4.4"]]
    assert splice.get_fields(DOUBLED, paths[0]) == ["192.168.4.4"]
    with pytest.raises(ValueError, match="stored more than once"):
        splice.set_fields(DOUBLED, {paths[0]: ["172.24.4.4"]})


@pytest.fixture(scope="module")
def snapshot(etcd35, tmp_path_factory):
    path = tmp_path_factory.mktemp("inconsistent") / "s.db"
    mismatch = ko.service("default", "mismatch", "192.168.1.1")
    paths = {registry.resolve_path("v1", "Service", ("spec", "clusterIPs")): ["192.168.2.2"]}
    mismatch = splice.set_fields(mismatch, paths)  # clusterIP 192.168.1.1, clusterIPs [192.168.2.2]
    node = splice.set_fields(ko.node("odd", pod_cidrs=["10.244.1.0/24"]),
                             {registry.resolve_path("v1", "Node", ("spec", "podCIDR")): ["10.244.9.0/24"]})
    with EtcdServer(etcd35) as server, server.client() as c:
        c.put("/registry/minions/odd", node)
        c.put(SVC("good"), ko.service("default", "good", "192.168.5.5"))
        c.put(SVC("mismatch"), mismatch)
        c.put(SVC("twice"), DOUBLED)
        c.put("/registry/ranges/serviceips", ko.range_allocation("192.168.0.0/99", b""))
        snapshot_save(server, path)
    return path


def test_inconsistent_objects_are_refused_by_name(snapshot, etcd35, restored_etcd, tmp_path):
    out = tmp_path / "o.db"
    refusals = [
        ([], "/registry/services/specs/default/mismatch: spec.clusterIP 192.168.1.1 differs from "
             "spec.clusterIPs[0] 192.168.2.2"),
        (["default/mismatch"], "/registry/services/specs/default/twice: cannot rewrite (spec.clusterIP: 1 "
                               "replacements for 2 values (a field stored more than once?))"),
        (["default/mismatch", "default/twice"], "/registry/ranges/serviceips: stored range '192.168.0.0/99' "
                                                "is not a CIDR"),
    ]
    for excludes, message in refusals:
        args = [a for e in excludes for a in ("--exclude", e)]
        r = runner.invoke(app, ["rewrite", str(snapshot), "--out", str(out), *MAP, *args])
        assert r.exit_code == 1, (r.stdout, r.stderr)
        assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "internal error" not in r.stderr and not out.exists()
    r = runner.invoke(app, ["rewrite", str(snapshot), "--out", str(out), "--pod-cidr", "10.244.0.0/16=10.55.0.0/16"])
    assert r.exit_code == 1 and "/registry/minions/odd: spec.podCIDR 10.244.9.0/24 differs from spec.podCIDRs[0] " \
        "10.244.1.0/24; refusing to move an inconsistent Node (fix it, or --exclude odd)" in r.stderr, r.stderr
    args = ["--exclude", "default/mismatch", "--exclude", "default/twice", "--exclude", "serviceips"]
    r = runner.invoke(app, ["rewrite", str(snapshot), "--out", str(out), *MAP, *args])
    assert r.exit_code == 0, r.stderr
    with restored_etcd(etcd35, out).client() as c:
        assert decode_value(c.get(SVC("good")).value)["spec"]["clusterIPs"] == ["172.24.5.5"]
        assert c.get(SVC("twice")).value == DOUBLED
