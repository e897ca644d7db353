"""rehearse --kube-apiserver: the real kube-apiserver 1.20.2 judges the restored store (one start per case).

Clean cases (the real kubeadm snapshot and the API-server-made fixture, as is and migrated) must give no
new repair events, no allocator log lines, every list and PATCH accepted and a fresh Service address
inside the new range; broken ones (allocator range not moved, flags naming another range) must report
the repair events the server raised and fail.
"""

import ipaddress
import json
import os
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snaprewrite import report
from snaprewrite.cli import app
from snaprewrite.errors import UsageError
from snaprewrite.rehearsal import apicheck
from snaprewrite.rehearsal import rehearse as rh
from snaprewrite.rehearsal.apiserver import KubeToolNotFoundError

SETTLE = 1.0
FIXTURE_MAPS = {"service_cidrs": ["10.96.0.0/12=10.128.0.0/12", "fd00:10:96::/112=fd00:20:96::/112"],
                "pod_cidrs": ["10.244.0.0/16=10.55.0.0/16", "fd00:10:244::/56=fd00:55:244::/56"]}
REAL_MAPS = {"service_cidrs": ["10.96.0.0/12=172.24.0.0/16"], "pod_cidrs": ["10.5.0.0/16=10.66.0.0/16"]}


def server_children() -> set[int]:
    """server_children lists live child processes of this test running etcd or kube-apiserver."""
    me, found = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(fields[1]) == me and fields[0] != "Z" and any(
                Path(os.fsdecode(a)).name.startswith(("etcd", "kube-apiserver")) for a in cmd if a):
            found.add(int(entry.name))
    return found


@pytest.fixture
def scratch_root(tmp_path, monkeypatch):
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    before = server_children(), os.readlink("/proc/thread-self/ns/net")
    yield root
    assert (server_children(), os.readlink("/proc/thread-self/ns/net")) == before, "a server outlived the rehearsal"
    assert list(root.iterdir()) == [], "the scratch dir must be removed"


def run(snapshot, kube_apiserver, etcd35, **kw) -> dict:
    stages = []
    result = rh.rehearse(snapshot, etcd=str(etcd35.etcd), kube_apiserver=kube_apiserver, settle=SETTLE,
                         stage=stages.append, **kw)
    out = result.as_json()
    assert json.loads(json.dumps(out)) == out
    assert "apiserver" in stages and stages[-1] == "stop"
    assert out["ok"] == result.ok
    return out


def assert_clean(out: dict, ranges: list[str], patched_at_least: int) -> dict:
    a = out["apiserver"]
    assert out["mismatches"] == []
    assert a["started"], a["startError"]
    assert a["serviceCidrs"] == ranges
    assert a["eventsByReason"] == {} and a["allocatorLog"] == [], (a["eventsByReason"], a["allocatorLog"][:5])
    assert a["resources"]["failed"] == a["resources"]["undecodable"] == []
    assert a["resources"]["listed"] >= 40 and a["resources"]["objects"] > 0
    assert a["patches"]["failed"] == [] and a["patches"]["accepted"] >= patched_at_least
    assert {s["key"] for s in a["patches"]["skipped"]} <= {out["layout"]["prefix"] + k.decode() for k in rh.RANGE_KEYS}
    nets = [ipaddress.ip_network(r) for r in ranges]
    probe = a["probe"]
    assert len(probe["clusterIPs"]) == len(ranges) and probe["collisions"] == {}
    assert all(any(ipaddress.ip_address(ip) in n for n in nets) for ip in probe["clusterIPs"]), probe
    if os.geteuid() == 0:
        assert a["networkNamespace"], a["networkNamespaceNote"]
    assert a["ok"] and out["ok"]
    return a


def test_real_snapshot_as_is(real_snapshot, kube_apiserver, etcd35, scratch_root, monkeypatch):
    monkeypatch.setattr(apicheck, "PAGE", 7)  # every LIST and the Events take several pages
    out = run(real_snapshot, kube_apiserver, etcd35)
    a = assert_clean(out, ["10.96.0.0/12"], 0)
    assert a["serviceCidrsFrom"] == "snapshot"
    assert a["baselineEvents"] > 7, "the snapshot's own Events (several pages of them) are not findings"
    assert a["resources"]["objects"] > 400


def test_real_snapshot_migrated(real_snapshot, kube_apiserver, etcd35, scratch_root):
    out = run(real_snapshot, kube_apiserver, etcd35, **REAL_MAPS)
    a = assert_clean(out, ["172.24.0.0/16"], 5)
    assert [s["key"] for s in a["patches"]["skipped"]] == ["/registry/ranges/serviceips"]
    assert a["patches"]["accepted"] == out["rewriteSummary"]["objectsChanged"] - 1


def test_fixture_as_is(fixture_path, kube_apiserver, etcd35, scratch_root):
    out = run(fixture_path("apiserver-etcd35.db"), kube_apiserver, etcd35)
    assert_clean(out, ["10.96.0.0/12", "fd00:10:96::/112"], 0)


def test_fixture_migrated(fixture_path, kube_apiserver, etcd35, scratch_root):
    out = run(fixture_path("apiserver-etcd35.db"), kube_apiserver, etcd35, **FIXTURE_MAPS)
    a = assert_clean(out, ["10.128.0.0/12", "fd00:20:96::/112"], 8 + 3 + 3)
    # every changed Service, Node and ConfigMap was PATCHed; RangeAllocation is no API resource
    assert sorted(s["key"] for s in a["patches"]["skipped"]) == sorted("/registry/" + k.decode() for k in rh.RANGE_KEYS)
    assert a["patches"]["accepted"] == out["rewriteSummary"]["objectsChanged"] - 2


def test_fixture_allocator_range_not_moved_is_reported(fixture_path, fixture_expected, kube_apiserver, etcd35,
                                                       scratch_root):
    """--only services moves the Services but not the RangeAllocation: the server keeps the old range."""
    out = run(fixture_path("apiserver-etcd35.db"), kube_apiserver, etcd35, only="services", **FIXTURE_MAPS)
    a = out["apiserver"]
    assert out["mismatches"] == [] and not out["ok"] and not a["ok"]
    assert a["serviceCidrs"] == ["10.96.0.0/12", "fd00:10:96::/112"]
    services = [o for k, o in fixture_expected("apiserver", "etcd35")["objects"].items()
                if k.startswith("/registry/services/specs/") and o["spec"].get("clusterIP", "None") != "None"]
    n_ips = sum(len(o["spec"]["clusterIPs"]) for o in services)
    # one event per Service IP that left the range; every one is also an allocator log line
    assert a["eventsByReason"] == {"ClusterIPOutOfRange": n_ips}
    assert {e["object"] for e in a["events"]} == {f"Service/{o['metadata']['namespace']}/{o['metadata']['name']}"
                                                 for o in services}
    assert sum("not within the service CIDR" in line for line in a["allocatorLog"]) == n_ips
    assert all(e["count"] >= 1 and e["type"] == "Warning" for e in a["events"])
    assert any("may have leaked" in line for line in a["allocatorLog"])


def test_cli_flags_naming_the_old_range_fail_with_one_line(real_snapshot, kube_apiserver, etcd35, scratch_root):
    """The migrated snapshot against an API server still configured with the old range: exit 1, one line."""
    r = CliRunner().invoke(app, ["rehearse", str(real_snapshot), "--etcd", str(etcd35.etcd), "-o", "json",
                                 "--service-cidr", "10.96.0.0/12=172.24.0.0/16", "--kube-apiserver", str(kube_apiserver),
                                 "--service-cidr-flags", "10.96.0.0/12", "--settle", str(SETTLE)])
    assert r.exit_code == 1, r.output
    a = json.loads(r.stdout)["apiserver"]
    assert a["serviceCidrsFrom"] == "flags" and a["serviceCidrs"] == ["10.96.0.0/12"]
    assert a["eventsByReason"] == {"ClusterIPOutOfRange": 2}  # the two Services with a cluster IP
    assert {e["object"] for e in a["events"]} == {"Service/default/kubernetes", "Service/kube-system/kube-dns"}
    assert any("172.24.0.10 may have leaked" in line for line in a["allocatorLog"])
    assert r.stderr.count("\n") == 1 and "2 ClusterIPOutOfRange" in r.stderr and "Traceback" not in r.stderr
    assert "mismatch" not in r.stderr


def test_ctrl_c_while_the_apiserver_starts_stops_everything(real_snapshot, kube_apiserver, etcd35, scratch_root,
                                                           monkeypatch):
    from snaprewrite.rehearsal.apiserver import KubeApiServer

    seen = []

    def interrupt(self):
        seen.append(server_children())
        raise KeyboardInterrupt

    monkeypatch.setattr(KubeApiServer, "ready", interrupt)
    with pytest.raises(KeyboardInterrupt):
        rh.rehearse(real_snapshot, etcd=str(etcd35.etcd), kube_apiserver=kube_apiserver)
    assert len(seen) == 1 and len(seen[0]) == 2, "etcd and kube-apiserver were running"


# -- no API server needed ---------------------------------------------------------------------------

def test_option_refusals(tmp_path, real_snapshot):
    with pytest.raises(UsageError, match="needs --kube-apiserver"):
        rh.api_options(None, ["10.0.0.0/16"], 5)
    with pytest.raises(UsageError, match="is not a CIDR"):
        rh.api_options(tmp_path, ["10.0.0.1/16"], 5)
    with pytest.raises(UsageError, match="one IPv4 and one IPv6"):
        rh.api_options(tmp_path, ["10.0.0.0/16,10.1.0.0/16"], 5)
    with pytest.raises(KubeToolNotFoundError, match="not an executable"):
        rh.api_options(tmp_path / "nope", None, 5)
    r = CliRunner().invoke(app, ["rehearse", str(real_snapshot), "--kube-apiserver", str(tmp_path / "nope")])
    assert r.exit_code == 1 and r.stderr.count("\n") == 1 and "nope" in r.stderr
    r = CliRunner().invoke(app, ["rehearse", str(real_snapshot), "--service-cidr-flags", "10.0.0.0/16"])
    assert r.exit_code == 2 and "needs --kube-apiserver" in r.stderr


def test_key_prefixes():
    assert apicheck.key_prefixes(apicheck.Served("v1", "services", True)) == [b"/registry/services/specs/"]
    assert apicheck.key_prefixes(apicheck.Served("v1", "nodes", False)) == [b"/registry/minions/"]
    assert apicheck.key_prefixes(apicheck.Served("v1", "configmaps", True)) == [b"/registry/configmaps/"]
    assert apicheck.key_prefixes(apicheck.Served("crd.projectcalico.org/v1", "ippools", False)) == [
        b"/registry/ippools/", b"/registry/crd.projectcalico.org/ippools/"]


def test_resource_for_key():
    served = [apicheck.Served("v1", "services", True), apicheck.Served("v1", "nodes", False),
              apicheck.Served("v1", "endpoints", True), apicheck.Served("v1", "events", True),
              apicheck.Served("events.k8s.io/v1", "events", True), apicheck.Served("apps/v1", "deployments", True),
              apicheck.Served("crd.projectcalico.org/v1", "ippools", False)]
    got = {k: (lambda t: t and (t[0].path(t[1], t[2])))(apicheck.resource_for_key(k, served)) for k in (
        "/registry/services/specs/default/web", "/registry/services/endpoints/kube-system/kube-dns",
        "/registry/minions/cp-1", "/registry/events/default/x.1", "/registry/deployments/kube-system/coredns",
        "/registry/crd.projectcalico.org/ippools/default-ipv4-ippool", "/registry/ranges/serviceips",
        "/registry/servicecidrs/kubernetes")}
    assert got == {
        "/registry/services/specs/default/web": "/api/v1/namespaces/default/services/web",
        "/registry/services/endpoints/kube-system/kube-dns": "/api/v1/namespaces/kube-system/endpoints/kube-dns",
        "/registry/minions/cp-1": "/api/v1/nodes/cp-1",
        "/registry/events/default/x.1": "/api/v1/namespaces/default/events/x.1",
        "/registry/deployments/kube-system/coredns": "/apis/apps/v1/namespaces/kube-system/deployments/coredns",
        "/registry/crd.projectcalico.org/ippools/default-ipv4-ippool":
            "/apis/crd.projectcalico.org/v1/ippools/default-ipv4-ippool",
        "/registry/ranges/serviceips": None, "/registry/servicecidrs/kubernetes": None}


def test_allocator_lines():
    log = "\n".join([
        "I1207 06:38:01.865706   21528 controller.go:606] quota admission added evaluator",
        "E1207 06:38:01.865745   21528 repair.go:240] the cluster IP [IPv4]:172.27.239.87 for service auto/default "
        "is not allocated; repairing",
        "E1207 06:38:01.875939   21528 repair.go:301] the cluster IP 10.96.0.1 may have leaked: flagging for later clean up",
        "E1207 06:38:01.9   21528 reflector.go:138] failed to list *v1.Foo: connection refused",
        "W1207 06:38:02.000001   21528 repair.go:99] the node port 30080 for service nodeport/default is not allocated",
        "E1207 06:41:01.875939   21528 repair.go:301] the cluster IP 10.96.0.1 may have leaked: flagging for later clean up",
    ])
    assert apicheck.allocator_lines(log) == [
        "E repair.go: the cluster IP [IPv4]:172.27.239.87 for service auto/default is not allocated; repairing",
        "E repair.go: the cluster IP 10.96.0.1 may have leaked: flagging for later clean up",
        "W repair.go: the node port 30080 for service nodeport/default is not allocated"]


def test_probe_verdict():
    cidrs = ["172.16.0.0/12", "fd00:20:96::/112"]
    assert apicheck.probe_verdict(["172.20.1.2", "fd00:20:96::7"], cidrs, {"172.20.1.3": "default/web"})["ok"]
    bad = apicheck.probe_verdict(["10.96.0.5", "fd00:20:96::7"], cidrs, {"fd00:20:96::7": "default/web"})
    assert not bad["ok"] and bad["outsideRange"] == ["10.96.0.5"] and bad["collisions"] == {"fd00:20:96::7": "default/web"}
    one = apicheck.probe_verdict(["172.20.1.2"], cidrs, {})
    assert not one["ok"] and "1 address(es) for 2" in one["error"]


def test_a_server_that_does_not_start_is_a_finding(kube_apiserver, etcd35, scratch_root):
    from snaprewrite.rehearsal.server import EtcdServer

    with EtcdServer(etcd35) as etcd:
        check = apicheck.run(kube_apiserver, etcd, ["10.96.0.0/12"], "flags", [], 1, 0, scratch_root, False,
                             extra_args=["--no-such-flag"])
    a = check.as_json()
    assert not a["started"] and not a["ok"] and "exited with code" in a["startError"]
    assert "did not start" in report.apiserver_findings(a)


def test_openshift_layout_migrated(real_snapshot, kube_apiserver, etcd35, scratch_root, tmp_path):
    """The real snapshot's live objects under /kubernetes.io/ (OpenShift's layout, put with real etcd): rewritten,
    restored, and served by kube-apiserver started with --etcd-prefix=/kubernetes.io: clean, and patched at the new keys."""
    from snaprewrite.etcd import mvcc
    from snaprewrite.etcd.snapshot import Snapshot
    from snaprewrite.rehearsal.server import EtcdServer, snapshot_save

    with Snapshot(real_snapshot) as snap:
        live = {k: mvcc.record_at(snap, rk).kv.value for k, rk in sorted(mvcc.live_keys(snap).items())}
    path = tmp_path / "openshift.db"
    with EtcdServer(etcd35) as server, server.client() as client:
        for k, v in live.items():
            client.put(b"/kubernetes.io/" + k[len(b"/registry/"):] if k.startswith(b"/registry/") else k, v)
        snapshot_save(server, path)
    out = run(path, kube_apiserver, etcd35, **REAL_MAPS)
    assert out["layout"]["prefix"] == "/kubernetes.io/"
    a = assert_clean(out, ["172.24.0.0/16"], 5)
    assert [s["key"] for s in a["patches"]["skipped"]] == ["/kubernetes.io/ranges/serviceips"]
    assert a["patches"]["accepted"] == out["rewriteSummary"]["objectsChanged"] - 1
    # resources and Events were read through the prefix: the snapshot's own Events are its baseline
    assert a["baselineEvents"] > 0 and a["resources"]["objects"] > 300
