"""doctor agrees with the real kube-apiserver 1.20.2: on the same restored snapshot, the ClusterIP findings
doctor predicts offline are exactly the repair events (reason, Service) and "may have leaked" log lines the
API server's ipallocator repair loop produces when it starts.

Snapshots: the API-server-made dual-stack fixture migrated by ``rewrite`` (no findings, no events; the
fixture as is is the same case, left out for time) and broken through real etcd (web's bitmap bit
cleared, auto given nodeport's IP, lb moved outside the service range).
"""

import json
import re
import time

import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.k8s import bitmap, registry, splice
from snaprewrite.rehearsal.apiserver import control_plane
from snaprewrite.rehearsal.server import EtcdServer, restore, snapshot_save

runner = CliRunner()
SVC = "/registry/services/specs/"
RANGES = ["10.96.0.0/12", "fd00:10:96::/112"]
MIGRATED = ["10.128.0.0/12", "fd00:20:96::/112"]
EVENT_REASONS = ("ClusterIPNotValid", "ClusterIPOutOfRange", "ClusterIPAlreadyAllocated", "ClusterIPNotAllocated")
LEAK = re.compile(r"the cluster IP (\S+) may have leaked: flagging for later clean up")


def cli(*args, code=0):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    return r


def edit(value: bytes, kind: str, edits: dict) -> bytes:
    return splice.set_fields(value, {registry.resolve_path("v1", kind, names): new for names, new in edits.items()})


def predicted(path, ranges) -> tuple[set, set]:
    """predicted is doctor's (reason, key) set of event findings and the set of leaked IPs."""
    flags = [a for r in ranges for a in ("--service-cidr", r)]
    d = json.loads(runner.invoke(app, ["doctor", str(path), "-o", "json", *flags]).stdout)
    events = {(f["reason"], f["key"]) for f in d["findings"] if f["reason"] in EVENT_REASONS}
    leaks = {f["message"].split()[3] for f in d["findings"] if f["reason"] == "ClusterIPLeaked"}
    return events, leaks


def observed(tools, snapshot, ranges, kube_apiserver, workdir) -> tuple[set, set]:
    """observed starts kube-apiserver on the restored snapshot and collects its repair events and leak lines."""
    from kubernetes import client as k8s

    data = restore(tools, snapshot, workdir / "data")
    with control_plane(tools, ranges, data_dir=data, kube_apiserver=kube_apiserver) as cp:
        core = k8s.CoreV1Api(cp.apiserver.api_client())
        got: set = set()
        stable_since, deadline = time.monotonic(), time.monotonic() + 15
        while time.monotonic() < deadline:  # events are flushed asynchronously after the first repair pass
            now = {(e.reason, f"{SVC}{e.involved_object.namespace}/{e.involved_object.name}")
                   for e in core.list_event_for_all_namespaces().items if e.reason in EVENT_REASONS}
            if now != got:
                got, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since > 2:
                break
            time.sleep(0.5)
        leaks = set(LEAK.findall(cp.apiserver.log_text()))
    return got, leaks


@pytest.fixture(scope="module")
def snapshots(fixture_path, etcd35, tmp_path_factory):
    """as-is, migrated and broken versions of the API-server-made fixture."""
    src = fixture_path("apiserver-etcd35.db")
    work = tmp_path_factory.mktemp("doctor-apiserver")
    migrated = work / "migrated.db"
    cli("rewrite", src, "--out", migrated, "--service-cidr", f"{RANGES[0]}={MIGRATED[0]}",
        "--service-cidr", f"{RANGES[1]}={MIGRATED[1]}")
    with EtcdServer(etcd35, restore(etcd35, src, work / "data")) as server, server.client() as c:
        ranges = c.get("/registry/ranges/serviceips").value
        # every Service's bit but web's (10.96.10.10)
        c.put("/registry/ranges/serviceips", edit(ranges, "RangeAllocation", {("data",): [bitmap.encode(
            RANGES[0], ["10.96.0.1", "10.96.0.10", "10.96.20.20", "10.96.30.30", "10.96.40.40", "10.107.239.87"])]}))
        c.put(SVC + "default/auto", edit(c.get(SVC + "default/auto").value, "Service",
                                         {("spec", "clusterIP"): ["10.96.20.20"], ("spec", "clusterIPs"): ["10.96.20.20"]}))
        c.put(SVC + "default/lb", edit(c.get(SVC + "default/lb").value, "Service",
                                       {("spec", "clusterIP"): ["10.200.0.5"], ("spec", "clusterIPs"): ["10.200.0.5"]}))
        broken = snapshot_save(server, work / "broken.db")
    return {"as-is": (src, RANGES), "migrated": (migrated, MIGRATED), "broken": (broken, RANGES)}


@pytest.mark.parametrize("name", ["migrated", "broken"])
def test_doctor_predicts_the_apiserver_repair(name, snapshots, etcd35, kube_apiserver, tmp_path):
    path, ranges = snapshots[name]
    events, leaks = predicted(path, ranges)
    if name == "broken":  # what the scenario is built to cause, so an empty agreement cannot pass
        assert events == {("ClusterIPNotAllocated", SVC + "default/web"),
                          ("ClusterIPAlreadyAllocated", SVC + "default/nodeport"),
                          ("ClusterIPOutOfRange", SVC + "default/lb")}
        assert leaks == {"10.96.30.30", "10.107.239.87"}
    else:
        assert events == set() and leaks == set()
    assert observed(etcd35, path, ranges, kube_apiserver, tmp_path) == (events, leaks)
