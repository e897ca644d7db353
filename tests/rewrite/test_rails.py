"""The safety rails of ``rewrite`` (and ``rehearse``): each unsafe mapping is refused with one line naming both
ranges and nothing written; ``--force-unsafe-mapping`` goes through, is recorded in the report, and the
output restores with real etcd and holds what was asked.

Inputs: the real kubeadm 1.18 snapshot (service 10.96.0.0/12, pod 10.5.0.0/16, nodes 192.168.0.11-13,
API server 192.168.0.13) and the k8s fixture (service 192.168.0.0/16 + fd00:10:96::/112, pod
10.244.0.0/16 + fd00:10:244::/56, nodes 172.18.0.2-5, API server 172.18.0.2).
"""

import json

import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.errors import PlanError
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s.decode import decode_value
from snaprewrite.rehearsal import rehearse as rh
from snaprewrite.rewrite import facts, rails
from snaprewrite.rewrite.cidr import CidrMap

runner = CliRunner()
FORCE = "--force-unsafe-mapping"
SVC_KEY = b"/registry/services/specs/kube-system/kube-dns"


def cli(*args, code=0):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    return r


def snapshot_facts(path) -> facts.Facts:
    with Snapshot(str(path)) as snap:
        return facts.discover(facts.State.scan(snap))


def refusals(found: facts.Facts, svc: str = "", pod: str = "", ips=()) -> list[rails.Refusal]:
    def cmap(spec: str) -> CidrMap:
        return CidrMap.parse(spec) if spec else CidrMap(())

    return rails.check(found, cmap(svc), cmap(pod), lambda: list(ips))


# -- facts ---------------------------------------------------------------------------------------------

def test_facts_of_the_real_snapshot_name_their_keys(real_snapshot):
    f = snapshot_facts(real_snapshot)
    assert {(x.value, x.key) for x in f.service_ranges} == {
        ("10.96.0.0/12", "/registry/ranges/serviceips"), ("10.96.0.0/12", "/registry/configmaps/kube-system/kubeadm-config")}
    assert {(x.value, x.key, x.field) for x in f.pod_ranges} == {
        ("10.5.0.0/16", "/registry/configmaps/kube-system/kubeadm-config", "data.ClusterConfiguration:networking.podSubnet"),
        ("10.5.0.0/16", "/registry/configmaps/kube-system/kube-proxy", "data.config.conf:clusterCIDR")}
    assert {(x.name, x.value) for x in f.node_pod_cidrs} == {("node1", "10.5.0.0/24"), ("node2", "10.5.1.0/24"),
                                                            ("node3", "10.5.2.0/24")}
    assert {(x.name, x.value) for x in f.node_ips} == {("node1", "192.168.0.13"), ("node2", "192.168.0.12"),
                                                      ("node3", "192.168.0.11")}
    assert {x.key for x in f.apiserver_ips} == {"/registry/masterleases/192.168.0.13",
                                                "/registry/services/endpoints/default/kubernetes",
                                                "/registry/configmaps/kube-system/kubeadm-config"}
    assert {x.value for x in f.apiserver_ips} == {"192.168.0.13"} and f.problems == []


def test_facts_of_the_dual_stack_fixture(fixture_path):
    f = snapshot_facts(fixture_path("k8s-etcd35.db"))
    assert {x.key for x in f.service_ranges} == {"/registry/ranges/serviceips", "/registry/ranges/secondaryserviceips",
                                                 "/registry/servicecidrs/kubernetes",
                                                 "/registry/configmaps/kube-system/kubeadm-config"}
    assert sorted({x.value for x in f.service_ranges}) == ["192.168.0.0/16", "fd00:10:96::/112"]
    assert sorted({x.value for x in f.pod_ranges}) == ["10.244.0.0/16", "fd00:10:244::/56"]
    assert len(f.node_pod_cidrs) == 6 and {x.value for x in f.node_ips} == {f"172.18.0.{i}" for i in range(2, 6)}
    assert [x.value for x in f.apiserver_ips] == ["172.18.0.2"]
    assert f.node_mask_sizes[4].value == "24" and f.node_mask_sizes[6].value == "64"


# -- the rails as pure checks ------------------------------------------------------------------------

def test_safe_mappings_pass(real_snapshot, fixture_path):
    assert refusals(snapshot_facts(real_snapshot), "10.96.0.0/12=172.30.0.0/16", "10.5.0.0/16=10.66.0.0/16") == []
    assert refusals(snapshot_facts(fixture_path("k8s-etcd35.db")),
                    "192.168.0.0/16=172.24.0.0/16,fd00:10:96::/112=fd00:20:96::/112",
                    "10.244.0.0/16=10.55.0.0/16,fd00:10:244::/56=fd00:55:244::/56") == []


@pytest.mark.parametrize("svc, pod, rail, usage, words", [
    ("10.96.0.0/12=10.96.0.0/12", "", "identity", False, ["nothing to do", "10.96.0.0/12=10.96.0.0/12"]),
    ("10.96.0.0/12=172.30.0.0/16", "10.5.0.0/16=172.30.128.0/17", "new-overlap", True,
     ["new service cidr 172.30.0.0/16", "new pod cidr 172.30.128.0/17"]),
    ("10.96.0.0/12=10.5.0.0/20", "", "overlap", False, ["new service cidr 10.5.0.0/20", "pod cidr 10.5.0.0/16",
                                                        "kubeadm-config"]),
    ("10.96.0.0/12=10.5.2.0/24", "10.5.0.0/16=10.66.0.0/16", "overlap", False, ["10.5.2.0/24", "pod cidr 10.5"]),
    ("", "10.5.0.0/16=10.100.0.0/16", "overlap", False, ["new pod cidr 10.100.0.0/16", "service cidr 10.96.0.0/12",
                                                         "/registry/ranges/serviceips range"]),
    ("10.96.0.0/12=192.168.0.0/24", "", "host-address", False, ["192.168.0.0/24", "node", "192.168.0.1"]),
    ("", "10.5.0.0/16=192.168.0.0/16", "host-address", False, ["new pod cidr 192.168.0.0/16", "192.168.0.1"]),
    ("10.96.0.0/16=172.30.0.0/16", "", "unmatched-old", False,
     ["old service cidr 10.96.0.0/16 matches nothing", "the cluster uses 10.96.0.0/12 (/registry/ranges/serviceips"]),
    ("", "10.244.0.0/16=10.55.0.0/16", "unmatched-old", False,
     ["old pod cidr 10.244.0.0/16", "the cluster uses 10.5.0.0/16"]),
])
def test_each_rail_fires_on_the_real_snapshot(real_snapshot, svc, pod, rail, usage, words):
    got = refusals(snapshot_facts(real_snapshot), svc, pod)
    assert got and got[0].rail == rail and got[0].usage == usage, got
    for w in words:
        assert w in got[0].message, (w, got[0].message)
    assert "\n" not in got[0].message


def test_api_server_address_and_undeclared_family(real_snapshot):
    f = snapshot_facts(real_snapshot)
    f.node_ips.clear()  # the API server's own address is checked on its own
    got = refusals(f, "10.96.0.0/12=192.168.0.0/28")
    assert got[0].rail == "host-address" and "API server address 192.168.0.13" in got[0].message
    assert "/registry/masterleases/192.168.0.13" in got[0].message or "kubeadm-config" in got[0].message
    # no ipv6 range declared anywhere: OLD must then hold a Service address
    got = refusals(f, "fd00:1::/112=fd00:2::/112", ips=["10.96.0.1"])
    assert [r.rail for r in got] == ["unmatched-old"] and "declares no ipv6 service range" in got[0].message
    assert refusals(f, "fd00:1::/112=fd00:2::/112", ips=["fd00:1::a"]) == []


# -- the command line: refusals write nothing; forced outputs restore with real etcd ------------------

@pytest.mark.parametrize("args, code, words", [
    (["--service-cidr", "10.96.0.0/12=10.96.0.0/12"], 1, ["nothing to do"]),
    (["--service-cidr", "10.96.0.0/12=172.30.0.0/16", "--pod-cidr", "10.5.0.0/16=172.30.0.0/20"], 2,
     ["172.30.0.0/16", "172.30.0.0/20"]),
    (["--service-cidr", "10.96.0.0/12=10.5.0.0/16"], 1, ["new service cidr 10.5.0.0/16", "pod cidr 10.5.0.0/16"]),
    (["--pod-cidr", "10.5.0.0/16=10.96.0.0/16"], 1, ["new pod cidr 10.96.0.0/16", "service cidr 10.96.0.0/12"]),
    (["--service-cidr", "10.96.0.0/12=192.168.0.0/16"], 1, ["192.168.0.0/16", "node1", "192.168.0.13"]),
    (["--service-cidr", "10.96.0.0/16=172.30.0.0/16"], 1, ["10.96.0.0/16 matches nothing", "10.96.0.0/12"]),
])
def test_cli_refuses_with_one_line_and_writes_nothing(real_snapshot, tmp_path, args, code, words):
    out, rep = tmp_path / "o.db", tmp_path / "r.json"
    r = cli("rewrite", real_snapshot, "--out", out, "--report", rep, *args, code=code)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("snaprewrite: error: ") and FORCE in lines[0]
    for w in words:
        assert w in lines[0]
    assert r.stdout == "" and list(tmp_path.iterdir()) == []  # no snapshot, no report, no runbook
    dry = cli("rewrite", real_snapshot, "--dry-run", *args, code=code)
    assert dry.stdout == ""


def test_two_new_ranges_of_one_kind_that_overlap_are_a_usage_error(real_snapshot, tmp_path):
    """Not forcible: a mapping must stay a function both ways, so CidrMap refuses it before the rails."""
    r = cli("rewrite", real_snapshot, "--out", tmp_path / "o.db", FORCE, "--service-cidr", "10.96.0.0/13=172.30.0.0/16",
            "--service-cidr", "10.104.0.0/13=172.30.128.0/17", code=2)
    assert "new cidrs 172.30.0.0/16 and 172.30.128.0/17 overlap" in r.stderr and list(tmp_path.iterdir()) == []


def test_help_documents_the_escape_hatch():
    for command in ("rewrite", "rehearse"):
        assert FORCE in cli(command, "--help").stdout


def read_value(server, key: bytes) -> dict:
    with server.client() as c:
        rec = c.get(key)
    assert rec is not None, key
    return decode_value(rec.value)


@pytest.mark.parametrize("args, rails_forced, dns_ip", [
    (["--service-cidr", "10.96.0.0/12=10.96.0.0/12"], {"identity"}, "10.96.0.10"),
    (["--service-cidr", "10.96.0.0/12=172.30.0.0/16", "--pod-cidr", "10.5.0.0/16=172.30.128.0/17"],
     {"new-overlap"}, "172.30.0.10"),
    (["--service-cidr", "10.96.0.0/12=10.5.128.0/17"], {"overlap"}, "10.5.128.10"),
    (["--service-cidr", "10.96.0.0/12=192.168.0.0/16"], {"host-address"}, "192.168.0.10"),
    (["--service-cidr", "10.96.0.0/16=172.30.0.0/16", "--only", "services"], {"unmatched-old"}, "172.30.0.10"),
])
def test_forced_rewrite_goes_through_and_restores(real_snapshot, etcd35, restored_etcd, tmp_path, args,
                                                  rails_forced, dns_ip):
    out = tmp_path / "o.db"
    rep = json.loads(cli("rewrite", real_snapshot, "--out", out, FORCE, "-o", "json", *args).stdout)
    assert {f["rail"] for f in rep["forced"]} == rails_forced
    assert all(f["message"] for f in rep["forced"])
    server = restored_etcd(etcd35, out)
    svc = read_value(server, SVC_KEY)
    assert svc["spec"]["clusterIP"] == dns_ip  # 1.18 stores no clusterIPs


def test_safe_rewrite_has_no_forced_entry(real_snapshot):
    rep = json.loads(cli("rewrite", real_snapshot, "--dry-run", "-o", "json",
                         "--service-cidr", "10.96.0.0/12=172.30.0.0/16", FORCE).stdout)
    assert "forced" not in rep


def test_rehearse_refuses_and_forces_like_rewrite(real_snapshot, etcd35):
    with pytest.raises(PlanError) as e:
        rh.rehearse(real_snapshot, service_cidrs=["10.96.0.0/12=10.5.0.0/16"], etcd=etcd35.version_str)
    assert "new service cidr 10.5.0.0/16 overlaps the pod cidr 10.5.0.0/16" in str(e.value)
    result = rh.rehearse(real_snapshot, service_cidrs=["10.96.0.0/12=10.5.128.0/17"],
                         etcd=etcd35.version_str, force_unsafe=True)
    assert result.ok and [f["rail"] for f in result.as_json()["forced"]] == ["overlap"]


def test_the_cni_pools_are_found_from_the_keys_cnifind_reads(real_snapshot, fixture_path):
    """refuse_unsafe gives cnifind only the keys it reads (``job.cni_index``, by bisection): the same CNIs and
    pools as from every key the State holds; State.keys and keys_outside are the plain selections."""
    from snaprewrite.rewrite import cnifind, job

    found = 0
    for path in [real_snapshot, *(fixture_path(f"cni-{c}.db") for c in ("calico", "cilium", "flannel", "kuberouter")),
                 fixture_path("k8s-etcd35.db")]:
        with Snapshot(str(path)) as snap:
            state = facts.State.scan(snap)
            root = state.layout.root
            whole = cnifind.find(snap, state.index, root)
            assert cnifind.find(snap, job.cni_index(state), root) == whole
            found += bool(whole)
            everything = sorted(state.index)
            for prefix in (b"", b"minions/", b"configmaps/", b"/coreos.com/network/", b"/registry/\xff", b"zz\xff\xff",
                           b"/", b"/registry/services/specs/kube-system/"):
                under = [k for k in everything if k.startswith(state.key(prefix))]
                assert state.keys(prefix) == under
                assert state.keys_outside(prefix) == [k for k in everything if k not in set(under)]
    assert found >= 4  # Calico's, Cilium's, flannel's fixtures and k8s' (kube-router is known by its DaemonSet: not held)
