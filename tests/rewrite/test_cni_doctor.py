"""``doctor``'s CNI checks: the CNI fixtures and their rewrites are consistent; half-moved CNI state is caught.

Broken snapshots are made through real etcd 3.5.1 (restore the fixture, put or delete the keys a half-done
migration would leave, ``etcdctl snapshot save``); a half-move is also made by rewriting only the Nodes.
"""

import json

import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.rehearsal.server import EtcdServer, restore, snapshot_save

runner = CliRunner()
CALICO = "/registry/crd.projectcalico.org/"


def doctor(path, code=None) -> list[tuple[str, str, str]]:
    r = runner.invoke(app, ["doctor", str(path), "-o", "json"])
    if code is not None:
        assert r.exit_code == code, r.output
    return sorted((f["severity"], f["reason"], f["key"]) for f in json.loads(r.stdout)["findings"])


def broken(tools, source, workdir, changes: dict) -> object:
    """broken saves the fixture with ``changes`` ({key: edit(old value) -> new value, or None to delete}) applied."""
    data = restore(tools, source, workdir / "data")
    with EtcdServer(tools, data) as server, server.client() as c:
        for key, make in changes.items():
            if make is None:
                c.delete(key)
            else:
                old = c.get(key)
                c.put(key, make(old.value if old else b""))
        return snapshot_save(server, workdir / "broken.db")


def json_edit(fn):
    def edit(value: bytes) -> bytes:
        doc = json.loads(value)
        fn(doc)
        return json.dumps(doc, separators=(",", ":")).encode() + b"\n"
    return edit


@pytest.mark.parametrize("cni", ["calico", "cilium", "flannel", "kuberouter"])
def test_cni_fixtures_and_their_rewrites_are_consistent(cni, fixture_path, tmp_path):
    src = fixture_path(f"cni-{cni}.db")
    exp = json.loads(fixture_path(f"cni-{cni}.expected.json").read_text())
    assert doctor(src, 0) == []
    out = tmp_path / "out.db"
    args = ["rewrite", str(src), "--out", str(out), "--report", str(tmp_path / "r.json")]
    for old, new in exp["pod_cidrs"].items():
        args += ["--pod-cidr", f"{old}={new}"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert doctor(out, 0) == []
    assert json.loads((tmp_path / "r.json").read_text())["doctor"]["findings"] == []  # the planned state too


def test_calico_half_moves_are_named(etcd35, fixture_path, tmp_path):
    # a block deleted under its affinity and handles; the default pool moved without its blocks
    db = broken(etcd35, fixture_path("cni-calico.db"), tmp_path, {
        CALICO + "ipamblocks/192-168-43-192-26": None,
        CALICO + "ippools/default-ipv4-ippool": json_edit(lambda d: d["spec"].update(cidr="10.99.0.0/16")),
    })
    found = doctor(db, 1)
    reasons = {(s, r) for s, r, _ in found}
    assert reasons == {("error", "CalicoBlockOutsidePool"), ("error", "CalicoAffinityWithoutBlock"),
                       ("error", "CalicoHandleWithoutBlock"), ("warning", "CalicoTunnelOutsidePool")}
    assert ("error", "CalicoAffinityWithoutBlock", CALICO + "blockaffinities/node-2-192-168-43-192-26") in found
    assert sum(r == "CalicoBlockOutsidePool" for _, r, _ in found) == 6  # the moved pool's 7 blocks, one deleted
    assert sum(r == "CalicoHandleWithoutBlock" for _, r, _ in found) == 2  # the deleted block's two pods
    assert sum(r == "CalicoTunnelOutsidePool" for _, r, _ in found) == 3


def test_cilium_and_flannel_leftovers_are_named(etcd35, fixture_path, tmp_path):
    db = broken(etcd35, fixture_path("cni-cilium.db"), tmp_path / "c", {
        "/registry/cilium.io/ciliumnodes/node-1":
            json_edit(lambda d: d["spec"]["ipam"].update(podCIDRs=["10.9.1.0/24", "fd00::100/120"]))})
    assert doctor(db, 1) == [("error", "CiliumPodCIDROutsidePool", "/registry/cilium.io/ciliumnodes/node-1")]
    db = broken(etcd35, fixture_path("cni-flannel.db"), tmp_path / "f", {
        "/coreos.com/network/subnets/10.99.1.0-24": lambda _: b'{"PublicIP":"172.18.1.99","BackendType":"vxlan"}'})
    assert doctor(db, 1) == [("error", "FlannelSubnetOutsideNetwork", "/coreos.com/network/subnets/10.99.1.0-24")]


@pytest.mark.parametrize("cni,reason,severity", [("flannel", "FlannelSubnetOutsideNetwork", "error"),
                                                 ("kuberouter", "KubeRouterPodCIDRMismatch", "warning")])
def test_moving_only_the_nodes_leaves_the_cni_behind(cni, reason, severity, fixture_path, tmp_path):
    exp = json.loads(fixture_path(f"cni-{cni}.expected.json").read_text())
    (old, new), = exp["pod_cidrs"].items()
    out = tmp_path / "nodes-only.db"
    r = runner.invoke(app, ["rewrite", str(fixture_path(f"cni-{cni}.db")), "--out", str(out),
                            "--pod-cidr", f"{old}={new}", "--only", "nodes"])
    assert r.exit_code == 0, r.output
    found = doctor(out)
    assert found and {(s, r) for s, r, _ in found} == {(severity, reason)}
    assert {k for _, _, k in found} == {k for k in (f"/registry/minions/node-{n}" for n in range(3))}
