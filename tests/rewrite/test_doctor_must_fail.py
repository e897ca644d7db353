"""MUST FAIL: the doctor on the planned output (``job.planned_diagnosis``, forked in ``rewrite``) catches a
wrong migration: a rule that writes a Service's new value with another Service's new cluster IP.

The tampered plan is exactly what a buggy services rule would hand over (a new value whose cluster IP is
spliced wrong, every length intact): the doctor reads the planned bytes, not what the rule meant to write,
so it must report the duplicate, on one core and in its forked child alike, and the untampered plan must
be clean (the finding is the tampering's).
"""

import json
from pathlib import Path

import pytest

from snaprewrite.etcd import writes
from snaprewrite.rewrite import facts as clusterfacts
from snaprewrite.rewrite import job
from snaprewrite.rewrite import plan as planning

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SNAP = FIXTURES / "k8s-etcd35.db"
SERVICE = ["192.168.0.0/16=172.24.0.0/16"]
POD = ["10.244.0.0/16=10.55.0.0/16"]
SERVICES = b"/registry/services/specs/"


def request(tmp_path) -> job.Request:
    return job.Request(str(SNAP), str(tmp_path / "out.db"), SERVICE, POD, [], report=str(tmp_path / "r.json"))


def swap_one_cluster_ip(plan: planning.Plan) -> tuple[str, str, str]:
    """swap_one_cluster_ip gives one planned Service the new cluster IP of another (same length: the protobuf
    stays sound) in its new value, as a rule splicing the wrong address would. Returns (its key, its own new
    IP, the other's IP it now holds)."""
    by_ip: dict[str, object] = {}
    for e in plan.edits:
        if e.write.key.startswith(SERVICES) and e.write.new_key is None:
            _type, ips, single = clusterfacts.service_fields(e.write.value)
            for ip in ips or single:
                by_ip.setdefault(ip, e)
    for a_ip, a in by_ip.items():
        for b_ip, b in by_ip.items():
            if a is not b and a_ip != b_ip and len(a_ip) == len(b_ip) and ":" not in a_ip:
                w = a.write
                wrong = w.value.replace(a_ip.encode(), b_ip.encode())
                object.__setattr__(a, "write", writes.Write(w.key, w.packed, wrong, w.new_key))
                return w.key.decode(), a_ip, b_ip
    raise AssertionError("no two planned Services with cluster IPs of one length")


def findings(diagnosis: dict) -> set[tuple[str, str]]:
    return {(f["reason"], f["key"]) for f in diagnosis["findings"]}


@pytest.mark.parametrize("no_fork", [False, True])
def test_a_rule_writing_another_services_cluster_ip_is_caught_by_the_planned_doctor(tmp_path, monkeypatch, no_fork):
    if no_fork:
        monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    (tmp_path / "clean").mkdir()
    clean = job.run(request(tmp_path / "clean"))
    assert clean.report["doctor"]["findings"] == []  # the rules' own plan: nothing to say

    real_build = planning.build
    swapped = []

    def tampered_build(*args, **kw):
        plan = real_build(*args, **kw)
        swapped.append(swap_one_cluster_ip(plan))
        return plan

    monkeypatch.setattr(planning, "build", tampered_build)
    (tmp_path / "bad").mkdir()
    got = job.run(request(tmp_path / "bad")).report["doctor"]
    key, own, other = swapped[0]
    assert got["errors"] > 0
    found = findings(got)
    assert ("ClusterIPAlreadyAllocated", key) in found, got  # two Services hold ``other`` now
    assert any(other in f["message"] for f in got["findings"] if f["reason"] == "ClusterIPAlreadyAllocated")
    assert ("IPAddressWrongReference", f"/registry/ipaddresses/{own}") in found  # its IPAddress names it, it does not hold it
    assert ("ClusterIPLeaked", "/registry/ranges/serviceips") in found  # its own address is held by nobody
    report = json.loads((tmp_path / "bad" / "r.json").read_text())
    assert report["doctor"] == got  # the report file says it too
