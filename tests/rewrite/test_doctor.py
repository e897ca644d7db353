"""``doctor``: clean snapshots have no findings; snapshots broken through real etcd (a bitmap bit cleared or set,
a duplicate Service IP, a wrong allocator range, a missing / stray / misdirected IPAddress, overlapping Node
CIDRs) give exactly the finding the control plane would raise, and exit 1 on an error.

Broken snapshots are made the way a cluster would break: restore a snapshot into real etcd 3.5.1, put the
altered value (edited byte-exactly with ``k8s.splice``), ``etcdctl snapshot save``, put the original back.
"""

import base64
import json

import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.k8s import bitmap, registry, splice
from snaprewrite.rehearsal.server import EtcdServer, restore, snapshot_save

runner = CliRunner()
SVC = "/registry/services/specs/"


def cli(*args, code=0):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    return r


def doctor(path, *flags, code=0) -> dict:
    return json.loads(cli("doctor", path, "-o", "json", *flags, code=code).stdout)


def reasons(d: dict) -> list[tuple[str, str, str]]:
    return [(f["severity"], f["reason"], f["key"]) for f in d["findings"]]


def edit(value: bytes, kind: str, names: tuple, new, api="v1") -> bytes:
    return splice.set_fields(value, {registry.resolve_path(api, kind, names): new})


def set_bits(value: bytes, cidr: str, ips: list[str]) -> bytes:
    return edit(value, "RangeAllocation", ("data",), [bitmap.encode(cidr, ips)])


def broken_snapshots(tools, source, workdir, scenarios) -> dict:
    """broken_snapshots saves one snapshot per scenario: {name: {key: new value or None (delete)}}."""
    data = restore(tools, source, workdir / "data")
    out = {}
    with EtcdServer(tools, data) as server, server.client() as c:
        for name, make in scenarios.items():
            changes = make(lambda k: c.get(k).value)
            before = {k: (c.get(k).value if c.get(k) else None) for k in changes}
            for k, v in changes.items():
                c.delete(k) if v is None else c.put(k, v)
            out[name] = snapshot_save(server, workdir / f"{name}.db")
            for k, v in before.items():
                c.delete(k) if v is None else c.put(k, v)
    return out


REAL_RANGE = "10.96.0.0/12"
REAL_SCENARIOS = {
    # kube-dns's bit cleared: the API server's repair says ClusterIPNotAllocated for it
    "cleared-bit": lambda get: {"/registry/ranges/serviceips": set_bits(get("/registry/ranges/serviceips"),
                                                                        REAL_RANGE, ["10.96.0.1"])},
    # a bit no Service holds: logged as leaked, a warning only
    "extra-bit": lambda get: {"/registry/ranges/serviceips": set_bits(get("/registry/ranges/serviceips"), REAL_RANGE,
                                                                      ["10.96.0.1", "10.96.0.10", "10.96.0.77"])},
    # kubernetes takes kube-dns's IP: the second in key order (kube-system/kube-dns) is the duplicate
    "duplicate-ip": lambda get: {SVC + "default/kubernetes": edit(get(SVC + "default/kubernetes"), "Service",
                                                                  ("spec", "clusterIP"), ["10.96.0.10"])},
    # the allocator says another range than the flags
    "wrong-range": lambda get: {"/registry/ranges/serviceips": edit(get("/registry/ranges/serviceips"),
                                                                    "RangeAllocation", ("range",), ["10.97.0.0/16"])},
    # node2 gets a /23 that covers node1's /24
    "node-overlap": lambda get: {"/registry/minions/node2": edit(get("/registry/minions/node2"), "Node",
                                                                 ("spec", "podCIDRs"), ["10.5.0.0/23"])},
    "not-a-cidr": lambda get: {"/registry/ranges/serviceips": edit(get("/registry/ranges/serviceips"),
                                                                   "RangeAllocation", ("range",), ["192.168.0.0/99"])},
}


@pytest.fixture(scope="module")
def real_broken(real_snapshot, etcd35, tmp_path_factory):
    return broken_snapshots(etcd35, real_snapshot, tmp_path_factory.mktemp("real-broken"), REAL_SCENARIOS)


IP = "/registry/ipaddresses/"
K8S_SCENARIOS = {
    "ipaddress-missing": lambda get: {IP + "192.168.12.34": None},
    # an IPAddress for a Service that does not exist
    "ipaddress-stray": lambda get: {IP + "192.168.77.7": edit(edit(get(IP + "192.168.12.34"), "IPAddress",
                                                                   ("metadata", "name"), ["192.168.77.7"],
                                                                   "networking.k8s.io/v1"),
                                                              "IPAddress", ("spec", "parentRef", "name"), ["gone"],
                                                              "networking.k8s.io/v1")},
    # kube-dns's IPAddress names default/web, which does not hold 192.168.0.10
    "ipaddress-wrong-parent": lambda get: {IP + "192.168.0.10": edit(edit(get(IP + "192.168.0.10"), "IPAddress",
                                                                          ("spec", "parentRef", "name"), ["web"],
                                                                          "networking.k8s.io/v1"),
                                                                     "IPAddress", ("spec", "parentRef", "namespace"),
                                                                     ["default"], "networking.k8s.io/v1")},
    # default/web takes kube-dns's IP: web (first in key order) is the duplicate, and web's own IPAddress
    # (192.168.12.34) now names a Service that does not hold it
    "ipaddress-duplicate": lambda get: {SVC + "default/web": edit(edit(get(SVC + "default/web"), "Service",
                                                                       ("spec", "clusterIP"), ["192.168.0.10"]),
                                                                  "Service", ("spec", "clusterIPs"), ["192.168.0.10"])},
}


@pytest.fixture(scope="module")
def k8s_broken(fixture_path, etcd35, tmp_path_factory):
    return broken_snapshots(etcd35, fixture_path("k8s-etcd35.db"), tmp_path_factory.mktemp("k8s-broken"),
                            K8S_SCENARIOS)


def test_clean_snapshots_have_no_findings(real_snapshot, fixture_path):
    for path in (real_snapshot, fixture_path("k8s-etcd35.db"), fixture_path("k8s-etcd34.db")):
        d = doctor(path)
        assert d["findings"] == [] and d["errors"] == 0, d
    assert doctor(real_snapshot)["serviceRanges"] == ["10.96.0.0/12"]
    assert doctor(fixture_path("k8s-etcd35.db"))["podRanges"] == ["10.244.0.0/16", "fd00:10:244::/56"]
    assert "no findings" in cli("doctor", real_snapshot).stdout


def test_rewritten_output_is_clean_for_the_new_ranges(real_snapshot, fixture_path, tmp_path):
    maps = ["--service-cidr", "192.168.0.0/16=172.24.0.0/16", "--service-cidr", "fd00:10:96::/112=fd00:20:96::/112",
            "--pod-cidr", "10.244.0.0/16=10.55.0.0/16", "--pod-cidr", "fd00:10:244::/56=fd00:55:244::/56"]
    out = tmp_path / "o.db"
    rep = json.loads(cli("rewrite", fixture_path("k8s-etcd35.db"), "--out", out, "-o", "json", *maps).stdout)
    assert rep["doctor"]["serviceRanges"] == ["172.24.0.0/16", "fd00:20:96::/112"]
    assert rep["doctor"]["findings"] == []
    d = doctor(out)  # the output declares the new ranges itself, and reading it back agrees with the plan
    assert d["serviceRanges"] == ["172.24.0.0/16", "fd00:20:96::/112"] and d["findings"] == []
    # the input against the new ranges: every cluster IP is out of range, every node CIDR outside
    before = doctor(fixture_path("k8s-etcd35.db"), "--service-cidr", "172.24.0.0/16", "--service-cidr",
                    "fd00:20:96::/112", "--pod-cidr", "10.55.0.0/16", code=1)
    got = {r for _, r, _ in reasons(before)}
    assert {"ClusterIPOutOfRange", "MismatchedNetwork", "KubernetesDefaultServiceCIDRInconsistent",
            "CIDRNotAvailable"} <= got


def test_rewrite_with_only_services_predicts_the_stale_ipaddresses(fixture_path):
    rep = json.loads(cli("rewrite", fixture_path("k8s-etcd35.db"), "--dry-run", "-o", "json", "--only", "services",
                         "--service-cidr", "192.168.0.0/16=172.24.0.0/16").stdout)
    got = {(f["reason"], f["key"]) for f in rep["doctor"]["findings"]}
    assert ("ClusterIPNotAllocated", SVC + "kube-system/kube-dns") in got  # the bitmap was not rebuilt
    assert ("IPAddressWrongReference", IP + "192.168.0.10") in got  # nor the IPAddress renamed
    assert rep["doctor"]["errors"] > 0


def test_cleared_bitmap_bit(real_broken):
    d = doctor(real_broken["cleared-bit"], code=1)
    assert reasons(d) == [("error", "ClusterIPNotAllocated", SVC + "kube-system/kube-dns")]
    assert d["findings"][0]["message"] == "Cluster IP [IPv4]:10.96.0.10 is not allocated; repairing"


def test_leaked_bitmap_bit_is_a_warning(real_broken):
    d = doctor(real_broken["extra-bit"])
    assert reasons(d) == [("warning", "ClusterIPLeaked", "/registry/ranges/serviceips")]
    assert "10.96.0.77 may have leaked" in d["findings"][0]["message"]


def test_duplicate_service_ip(real_broken):
    d = doctor(real_broken["duplicate-ip"], code=1)
    assert reasons(d) == [("error", "ClusterIPAlreadyAllocated", SVC + "kube-system/kube-dns"),
                          ("warning", "ClusterIPLeaked", "/registry/ranges/serviceips")]
    assert d["findings"][0]["message"] == ("Cluster IP [IPv4]:10.96.0.10 was assigned to multiple services; "
                                           "please recreate service")


def test_allocator_range_other_than_the_flags(real_broken):
    d = doctor(real_broken["wrong-range"], "--service-cidr", REAL_RANGE, code=1)
    got = reasons(d)
    assert got[0] == ("error", "MismatchedNetwork", "/registry/ranges/serviceips")
    assert ("error", "ClusterIPNotAllocated", SVC + "default/kubernetes") in got
    assert [r for _, r, _ in got].count("ClusterIPLeaked") == 2  # 10.97.0.1 and 10.97.0.10 as the bitmap reads


def test_service_ip_outside_the_flags_and_family_not_configured(real_snapshot, fixture_path):
    d = doctor(real_snapshot, "--service-cidr", "10.100.0.0/16", code=1)
    out = [f for f in d["findings"] if f["reason"] == "ClusterIPOutOfRange"]
    assert [f["key"] for f in out] == [SVC + "default/kubernetes", SVC + "kube-system/kube-dns"]
    assert out[0]["message"] == ("Cluster IP [IPv4]:10.96.0.1 is not within the service CIDR 10.100.0.0/16; "
                                 "please recreate service")
    d = doctor(fixture_path("k8s-etcd35.db"), "--service-cidr", "192.168.0.0/16", code=1)
    invalid = {f["key"] for f in d["findings"] if f["reason"] == "ClusterIPNotValid"}
    assert invalid == {SVC + "default/dual", SVC + "default/v6only"}
    assert ("error", "KubernetesDefaultServiceCIDRInconsistent", "/registry/servicecidrs/kubernetes") in reasons(d)


def test_node_cidrs_outside_overlapping_and_of_wrong_size(real_snapshot, real_broken):
    d = doctor(real_snapshot, "--pod-cidr", "10.66.0.0/16", code=1)
    assert reasons(d) == [("error", "CIDRNotAvailable", f"/registry/minions/node{i}") for i in (1, 2, 3)]
    d = doctor(real_broken["node-overlap"], code=1)
    assert reasons(d) == [("warning", "PodCIDRMaskSize", "/registry/minions/node2"),
                          ("error", "PodCIDROverlap", "/registry/minions/node1")]
    assert "10.5.0.0/24" in d["findings"][1]["message"] and "10.5.0.0/23" in d["findings"][1]["message"]


def test_allocator_range_that_is_no_cidr(real_broken):
    d = doctor(real_broken["not-a-cidr"], "--service-cidr", REAL_RANGE, code=1)
    assert reasons(d) == [("error", "Undecodable", "/registry/ranges/serviceips")]


def test_ipaddress_missing_stray_and_misdirected(k8s_broken):
    d = doctor(k8s_broken["ipaddress-missing"], code=1)
    assert reasons(d) == [("error", "ClusterIPNotAllocated", SVC + "default/web")]
    assert d["findings"][0]["message"] == "Cluster IP [IPv4]: 192.168.12.34 is not allocated; repairing"
    d = doctor(k8s_broken["ipaddress-stray"])  # a leaked IPAddress is cleaned up by the API server: a warning
    assert reasons(d) == [("warning", "IPAddressNotAllocated", IP + "192.168.77.7")]
    d = doctor(k8s_broken["ipaddress-wrong-parent"], code=1)
    assert reasons(d) == [("error", "ClusterIPNotAllocated", SVC + "kube-system/kube-dns"),
                          ("error", "IPAddressWrongReference", IP + "192.168.0.10")]
    assert "has a wrong reference" in d["findings"][0]["message"]


def test_ipaddress_taken_by_another_service(k8s_broken):
    d = doctor(k8s_broken["ipaddress-duplicate"], code=1)
    # web: kube-dns's IPAddress names kube-dns, which holds the IP; kube-dns: the bitmap loop saw web take it
    # first; web's old IP is left set in the bitmap and its IPAddress names web, which no longer holds it
    assert reasons(d) == [("error", "ClusterIPAlreadyAllocated", SVC + "default/web"),
                          ("error", "ClusterIPAlreadyAllocated", SVC + "kube-system/kube-dns"),
                          ("warning", "ClusterIPLeaked", "/registry/ranges/serviceips"),
                          ("error", "IPAddressWrongReference", IP + "192.168.12.34")]


def test_quick_ipaddress_checks_equal_the_plain_ones(k8s_broken, real_broken, real_snapshot, fixture_path):
    """examine's quick path (one Service at a time, allocators as bits, IPAddresses found correct not read
    again) finds what the plain one (every Service kept, sets of IP strings, every IPAddress read) finds."""
    from snaprewrite.etcd.snapshot import Snapshot
    from snaprewrite.k8s.layout import detect
    from snaprewrite.rewrite import doctor as doctoring
    from snaprewrite.rewrite import facts

    found_any = 0
    for path in [*k8s_broken.values(), *real_broken.values(), real_snapshot, fixture_path("k8s-etcd35.db"),
                 fixture_path("k8s-etcd34.db")]:
        with Snapshot(path) as snap:
            state = facts.State.scan(snap, None, detect(snap))
            found = facts.discover(state)
            quick = doctoring.examine(state, found).as_json()
            assert quick == doctoring.examine(state, found, quick=False).as_json(), path
            found_any += len(quick["findings"])
            for ranges in (["10.100.0.0/16"], ["192.168.0.0/24", "fd00:10:96::/112"]):  # out of range, leaked
                assert doctoring.examine(state, found, ranges).as_json() == \
                    doctoring.examine(state, found, ranges, quick=False).as_json(), (path, ranges)
    assert found_any >= len(k8s_broken) + len(real_broken)  # the broken ones did find their problems


def test_facts_kept_on_the_state_equal_a_fresh_read(fixture_path):
    from snaprewrite.etcd.snapshot import Snapshot
    from snaprewrite.k8s.layout import detect
    from snaprewrite.rewrite import facts

    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        state = facts.State.scan(snap, None, detect(snap))
        kept = facts.discover(state)
        assert facts.discover(state) is kept and kept.service_ranges and kept.node_pod_cidrs
        assert facts.discover(facts.State.scan(snap, None, detect(snap))) == kept


def test_bad_flags_are_usage_errors(real_snapshot):
    r = cli("doctor", real_snapshot, "--service-cidr", "10.96.0.1/12", code=2)
    assert "not a cidr network" in r.stderr and len(r.stderr.splitlines()) == 1
    r = cli("doctor", real_snapshot, "--service-cidr", "10.96.0.0/12,10.100.0.0/16", code=2)
    assert "more than one range" in r.stderr


def test_bitmap_scenarios_really_changed_the_stored_bytes(real_broken):
    """The broken files differ from the real one exactly where the scenario says (read back raw)."""
    got = cli("get", real_broken["cleared-bit"], "/registry/ranges/serviceips", "-o", "json").stdout
    assert bitmap.decode(REAL_RANGE, base64.b64decode(json.loads(got)["data"])) == ["10.96.0.1"]


def test_quick_checks_of_a_planned_state_equal_the_plain_ones(k8s_broken, fixture_path, monkeypatch):
    """On the state a plan leaves (its new values waiting in its temp file), the quick path reads the Services and
    their IPAddresses a batch at a time (``doctorsets.CHUNK``), in the order the values lie in that file: it finds
    what the plain path finds reading each value alone, in batches of any size; ``State.values`` and the keys
    ``with_plan`` merges are the plain ones. The broken snapshots' planned outputs keep their findings."""
    from snaprewrite.errors import PlanError
    from snaprewrite.etcd import writes
    from snaprewrite.etcd.snapshot import Snapshot
    from snaprewrite.k8s.layout import detect
    from snaprewrite.rewrite import doctor as doctoring
    from snaprewrite.rewrite import doctorsets, facts, job
    from snaprewrite.rewrite import plan as planning

    found_any = planned = 0
    for path in [fixture_path("k8s-etcd35.db"), *k8s_broken.values()]:
        opts = job.options(job.Request(str(path), None, ["192.168.0.0/16=172.24.0.0/16"], [], [], dry_run=True))
        with Snapshot(str(path)) as snap:
            lay = detect(snap)
            scanned = planning.scan(snap, opts, None, lay, also=facts.indexed(lay))
            state = facts.State.of_index(snap, scanned.also_index, lay)
            try:
                plan = planning.build(snap, opts, None, lay, scanned)
            except PlanError:
                continue
            after = state.with_plan(plan)
            spilled = [v for v in after.overlay.values() if isinstance(v, writes.Write) and type(v.held) is int]
            assert len(spilled) >= 6  # the new values are read back from the temp file
            assert after._keys == facts.State(snap, state.index, after.overlay, lay)._keys  # as sorted from scratch
            assert after.keys(facts.IPADDRESSES) != state.keys(facts.IPADDRESSES)  # renamed
            assert after.values(after._keys) == [after.value(k) for k in after._keys]
            plain = None
            for chunk in (1, 3, 2048):
                monkeypatch.setattr(doctorsets, "CHUNK", chunk)
                quick = job.planned_diagnosis(state, plan, opts)
                if plain is None:
                    service, pod = doctoring.default_ranges(facts.discover(state))
                    plain = doctoring.examine(after, facts.discover(after),
                                              doctoring.mapped_ranges(service, opts.service_map),
                                              doctoring.mapped_ranges(pod, opts.pod_map), quick=False).as_json()
                assert quick == plain, (path, chunk)
            found_any += len(plain["findings"])
            planned += 1
    assert planned >= 4 and found_any >= 3  # the breakage carried into the planned output is found


def test_service_fields_read_from_the_message_equal_read_strings(real_snapshot, fixture_path):
    """facts.service_fields (a protobuf Service's type and cluster IPs straight from the parsed message) is
    read_strings' answer for every Service of the fixtures and the real snapshot (1.18: clusterIP only), for a
    Service without spec or IPs, and a JSON one; bytes that do not parse raise read_strings' error."""
    from snaprewrite.errors import DecodeError
    from snaprewrite.etcd.snapshot import Snapshot
    from snaprewrite.k8s.proto import runtime_pb2
    from snaprewrite.rewrite import facts

    values = []
    for path in (real_snapshot, fixture_path("k8s-etcd35.db"), fixture_path("k8s-etcd34.db"),
                 fixture_path("cni-calico.db")):
        with Snapshot(str(path)) as snap:
            state = facts.State.scan(snap)
            values += [state.value(k) for k in state.keys(facts.SERVICES)]
    cls = registry.message_class("v1", "Service")
    for build in (lambda m: None, lambda m: m.spec.SetInParent(), lambda m: setattr(m.spec, "type", "ExternalName"),
                  lambda m: m.spec.clusterIPs.extend(["10.0.0.1", "fd00::1"])):
        msg = cls()
        build(msg)
        unknown = runtime_pb2.Unknown(raw=msg.SerializeToString())
        unknown.typeMeta.apiVersion, unknown.typeMeta.kind = "v1", "Service"
        values.append(b"k8s\x00" + unknown.SerializeToString())
    values.append(b'{"kind":"Service","apiVersion":"v1","spec":{"clusterIP":"10.1.2.3","type":"NodePort"}}')
    assert len(values) > 20 and any(not facts.service_fields(v)[1] and facts.service_fields(v)[2] for v in values)
    for v in values:
        assert facts.service_fields(v) == facts.read_strings(v, "Service", facts.SERVICE_PATHS), v
    broken = values[-2][:-3]
    with pytest.raises(DecodeError) as plain_error:
        facts.read_strings(broken, "Service", facts.SERVICE_PATHS)
    with pytest.raises(DecodeError) as fast_error:
        facts.service_fields(broken)
    assert str(fast_error.value) == str(plain_error.value)
