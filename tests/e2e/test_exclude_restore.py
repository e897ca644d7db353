"""``--exclude`` leaves each named object's record as it was, read back through real etcd.

One object of every kind the rules edit is excluded: a Service, a Node, a kube-system ConfigMap, the
service IP allocator, the ServiceCIDR, Calico's IPPool (k8s fixture), and Cilium's CiliumNode (with
its Node of the same name), cilium-config and the cilium-operator Deployment (cilium fixture). Real
etcd restores the input, the rewrite with the exclusions and the rewrite without them: each excluded
key's record (value, revisions, version, lease) equals the input's, and without the exclusion its
value changes, so the exclusion (marked once by the planner) is what kept it.
"""

import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app

runner = CliRunner()
K8S_MAPS = ["--service-cidr", "192.168.0.0/16=172.24.0.0/16", "--service-cidr", "fd00:10:96::/112=fd00:20:96::/112",
            "--pod-cidr", "10.244.0.0/16=10.55.0.0/16", "--pod-cidr", "fd00:10:244::/56=fd00:55:244::/56"]
CILIUM_MAPS = ["--pod-cidr", "10.0.0.0/16=10.80.0.0/16", "--pod-cidr", "fd00::/104=fd00:80::/104"]
CASES = {
    "k8s-etcd35.db": (K8S_MAPS, {
        "default/web": ["/registry/services/specs/default/web"],
        "worker-1": ["/registry/minions/worker-1"],
        "kube-system/kube-proxy": ["/registry/configmaps/kube-system/kube-proxy"],
        "serviceips": ["/registry/ranges/serviceips"],
        "/kubernetes": ["/registry/servicecidrs/kubernetes"],
        "default-ipv4-ippool": ["/registry/crd.projectcalico.org/ippools/default-ipv4-ippool"],
    }, ["/registry/services/specs/default/dual", "/registry/minions/worker-2"]),
    "cni-cilium.db": (CILIUM_MAPS, {
        "node-1": ["/registry/cilium.io/ciliumnodes/node-1", "/registry/minions/node-1"],
        "kube-system/cilium-config": ["/registry/configmaps/kube-system/cilium-config"],
        "kube-system/cilium-operator": ["/registry/deployments/kube-system/cilium-operator"],
    }, ["/registry/cilium.io/ciliumnodes/node-2", "/registry/minions/node-2"]),
}


def rewrite(src, out, maps, excludes=()) -> None:
    args = ["rewrite", str(src), "--out", str(out), *maps, *(a for e in excludes for a in ("--exclude", e))]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output


def records(server, keys) -> dict:
    with server.client() as c:
        return {k: (r.value, r.create_revision, r.mod_revision, r.version, r.lease) if (r := c.get(k)) else None
                for k in keys}


@pytest.mark.parametrize("name", sorted(CASES))
def test_excluded_objects_keep_their_records(name, fixture_path, etcd35, restored_etcd, tmp_path):
    maps, excluded, moved = CASES[name]
    keys = [k for ks in excluded.values() for k in ks]
    src = fixture_path(name)
    rewrite(src, tmp_path / "excluded.db", maps, excluded)
    rewrite(src, tmp_path / "plain.db", maps)
    before = records(restored_etcd(etcd35, src), keys + moved)
    kept = records(restored_etcd(etcd35, tmp_path / "excluded.db"), keys + moved)
    plain = records(restored_etcd(etcd35, tmp_path / "plain.db"), keys + moved)
    assert all(before[k] is not None for k in keys + moved)
    assert {k: kept[k] for k in keys} == {k: before[k] for k in keys}
    assert [k for k in keys if plain[k][0] == before[k][0]] == []  # each would have moved without --exclude
    assert [k for k in moved if kept[k][0] == before[k][0]] == []  # its neighbours of the same kinds still move
