"""rewrite end to end: real etcd restores the output and reads back exactly the planned changes.

Inputs: the k8s fixtures made by real etcd 3.5.1 and 3.4.23 (Services of every type, dual-stack,
headless, ExternalName, multi-revision and deleted keys, a compaction) and the real kubeadm snapshot.
"""

import base64
import hashlib
import json
import os
import re

import pytest
import yaml
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s import bitmap
from snaprewrite.k8s.decode import decode_value
from snaprewrite.rehearsal.server import snapshot_status

runner = CliRunner()
K8S_MAPS = ["--service-cidr", "192.168.0.0/16=172.24.0.0/16", "--service-cidr", "fd00:10:96::/112=fd00:20:96::/112",
            "--pod-cidr", "10.244.0.0/16=10.55.0.0/16", "--pod-cidr", "fd00:10:244::/56=fd00:55:244::/56"]


def cli(*args, code=0):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    return r


def field_at(obj, path: str):
    """field_at reads ``spec.clusterIPs[0]`` (or ``data.kubelet:clusterDNS[0]``: YAML inside data) paths."""
    if ":" in path:
        data_key, path = path.split(":", 1)
        obj = yaml.safe_load(obj["data"][data_key[len("data."):]])
    for part in path.split("."):
        m = re.fullmatch(r"(\w+)(?:\[(\d+)\])?", part)
        obj = obj[m.group(1)]
        if m.group(2) is not None:
            obj = obj[int(m.group(2))]
    return obj


def sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def read_back(server) -> dict[bytes, object]:
    with server.client() as c:
        return {r.key: r for r in c.range()}


def tools_for(tag, etcd35, etcd34):
    return etcd35 if tag == "etcd35" else etcd34


@pytest.mark.parametrize("tag", ["etcd35", "etcd34"])
def test_k8s_fixture_rewrite_restores_with_new_addresses(tag, etcd35, etcd34, fixture_path, fixture_expected,
                                                        restored_etcd, tmp_path):
    tools = tools_for(tag, etcd35, etcd34)
    src = fixture_path(f"k8s-{tag}.db")
    before = sha(src)
    out, rep_path = tmp_path / "out.db", tmp_path / "report.json"
    cli("rewrite", src, "--out", out, "--report", rep_path, *K8S_MAPS)
    assert sha(src) == before, "the input must never change"
    assert os.stat(out).st_mode & 0o777 == 0o600
    report = json.loads(rep_path.read_text())
    assert report["summary"]["servicesChanged"] >= 6 and report["summary"]["nodesChanged"] >= 3

    # etcd's own bbolt check (tx.Check inside snapshot status) accepts the file, and we agree with it
    status = snapshot_status(tools, out)
    ours = json.loads(cli("status", out, "-o", "json").stdout)
    assert {k: ours[k] for k in status} == status

    got = read_back(restored_etcd(tools, out))
    expected = {base64.b64decode(r["key"]): r for r in fixture_expected("k8s", tag)["keys"]}
    renamed = {c["key"].encode(): c["newKey"].encode() for c in report["changes"] if c.get("newKey")}
    assert len(renamed) == 8  # the IPAddress objects of every moved service IP
    assert set(got) == {renamed.get(k, k) for k in expected}
    service_ips = {ip for k, r in got.items() if k.startswith(b"/registry/services/specs/")
                   for ip in decode_value(r.value)["spec"].get("clusterIPs", [])}
    changed: dict[str, list[dict]] = {}
    for c in report["changes"]:
        changed.setdefault(c["key"], []).append(c)
    for key, exp in expected.items():
        rec = got[renamed.get(key, key)]
        if key in renamed:  # a renamed object is its new key's first version
            assert (rec.create_revision, rec.mod_revision, rec.version) == (exp["mod_revision"],) * 2 + (1,)
            assert decode_value(rec.value)["metadata"]["name"] == renamed[key].decode().rsplit("/", 1)[1]
            continue
        assert (rec.create_revision, rec.mod_revision, rec.version, rec.lease) == \
            (exp["create_revision"], exp["mod_revision"], exp["version"], exp["lease"]), key
        text = key.decode("utf-8", "replace")
        if text not in changed:
            assert rec.value == base64.b64decode(exp["value"]), f"{text} must be byte-identical"
            continue
        obj = decode_value(rec.value)
        for c in changed[text]:
            if c["kind"] == "RangeAllocation" and c["field"] == "data":
                held = bitmap.decode(obj["range"], base64.b64decode(obj["data"]))
                assert held and all(ip in service_ips for ip in held)
                assert len(held) == int(c["new"].split()[0])
                continue
            assert field_at(obj, c["field"]) == c["new"], (text, c)
    # every cluster IP and pod CIDR of a changed object now lies in the new ranges
    for text in changed:
        if text.encode() in renamed:
            continue
        obj = decode_value(got[text.encode()].value)
        for ip in obj.get("spec", {}).get("clusterIPs", []):
            assert ip.startswith(("172.24.", "fd00:20:96::")), (text, ip)
        for cidr in obj.get("spec", {}).get("podCIDRs", []):
            assert cidr.startswith(("10.55.", "fd00:55:244:")), (text, cidr)
    kinds = {c["kind"] for c in report["changes"]}
    assert kinds == {"Service", "Node", "RangeAllocation", "ServiceCIDR", "IPAddress", "ConfigMap", "IPPool"}
    # no key still refers to the old CIDRs unless a warning of the report says why
    explained = tuple(w["key"] for w in report["warnings"])
    old = ("192.168.", "fd00:10:96:", "10.244.", "fd00:10:244:")
    for key, rec in got.items():
        try:
            text = json.dumps(decode_value(rec.value))
        except Exception:
            text = rec.value.decode("utf-8", "replace")
        if any(o in text for o in old):
            assert key.decode().startswith(explained), f"{key} still mentions an old CIDR without a warning"


@pytest.mark.parametrize("tag", ["etcd35", "etcd34"])
def test_real_snapshot_rewrite_restores(tag, etcd35, etcd34, real_snapshot, restored_etcd, tmp_path):
    tools = tools_for(tag, etcd35, etcd34)
    out = tmp_path / "out.db"
    cli("rewrite", real_snapshot, "--out", out, "--service-cidr", "10.96.0.0/12=172.30.0.0/16",
        "--pod-cidr", "10.5.0.0/16=10.66.0.0/16", "--only", "services,nodes")
    snapshot_status(tools, out)  # raises if etcd's tx.Check fails
    with Snapshot(real_snapshot) as snap:
        original = {k: mvcc.record_at(snap, r).kv for k, r in mvcc.live_keys(snap).items()}
    got = read_back(restored_etcd(tools, out))
    assert set(got) == set(original)
    moved = 0
    for key, kv in original.items():
        rec = got[key]
        assert (rec.create_revision, rec.mod_revision, rec.version) == (kv.create_revision, kv.mod_revision,
                                                                         kv.version)
        if key.startswith((b"/registry/services/specs/", b"/registry/minions/")):
            obj = decode_value(rec.value)
            if "clusterIP" in obj["spec"]:
                assert obj["spec"]["clusterIP"].startswith("172.30.")
            if "podCIDR" in obj["spec"]:
                assert obj["spec"]["podCIDR"].startswith("10.66.")
            moved += 1
        else:
            assert rec.value == kv.value
    assert moved == 5


def test_round_trip_and_rerun_are_byte_identical(real_snapshot, tmp_path):
    a2b, b2a, again = tmp_path / "b.db", tmp_path / "a.db", tmp_path / "again.db"
    cli("rewrite", real_snapshot, "--out", a2b, "--service-cidr", "10.96.0.0/12=172.30.0.0/16",
        "--pod-cidr", "10.5.0.0/16=10.66.0.0/16")
    cli("rewrite", a2b, "--out", b2a, "--service-cidr", "172.30.0.0/16=10.96.0.0/12",
        "--pod-cidr", "10.66.0.0/16=10.5.0.0/16")
    result = json.loads(cli("verify", real_snapshot, b2a, "-o", "json").stdout)
    assert result["differences"] == []
    # a rerun on the rewritten file: refused (its OLD ranges are gone), and a no-op when forced
    r = cli("rewrite", a2b, "--out", again, "--service-cidr", "10.96.0.0/12=172.30.0.0/16",
            "--pod-cidr", "10.5.0.0/16=10.66.0.0/16", code=1)
    assert "old service cidr 10.96.0.0/12 matches nothing" in r.stderr and "172.30.0.0/16" in r.stderr
    assert not again.exists()
    rep = json.loads(cli("rewrite", a2b, "--out", again, "--service-cidr", "10.96.0.0/12=172.30.0.0/16",
                         "--pod-cidr", "10.5.0.0/16=10.66.0.0/16", "--force-unsafe-mapping", "-o", "json").stdout)
    assert rep["changes"] == []
    assert {f["rail"] for f in rep["forced"]} == {"unmatched-old"} and len(rep["forced"]) == 2
    assert all("still hold old addresses" in w["message"] for w in rep["warnings"])  # pods, endpoints
    assert json.loads(cli("verify", a2b, again, "-o", "json").stdout)["differences"] == []


def test_verify_with_report_catches_unlisted_differences(real_snapshot, tmp_path):
    out, rep = tmp_path / "o.db", tmp_path / "r.json"
    cli("rewrite", real_snapshot, "--out", out, "--report", rep, "--service-cidr", "10.96.0.0/12=172.30.0.0/16")
    cli("verify", real_snapshot, out, "--report", rep)
    report = json.loads(rep.read_text())
    report["changes"] = report["changes"][1:]
    rep.write_text(json.dumps(report))
    r = cli("verify", real_snapshot, out, "--report", rep, code=1)
    assert "not in the report" in r.stdout


def test_safety_refusals(real_snapshot, tmp_path):
    out = tmp_path / "o.db"
    out.write_bytes(b"keep me")
    r = cli("rewrite", real_snapshot, "--out", out, "--service-cidr", "10.96.0.0/12=172.30.0.0/16", code=2)
    assert "exists" in r.stderr and out.read_bytes() == b"keep me"
    r = cli("rewrite", real_snapshot, "--out", real_snapshot, "--service-cidr", "10.96.0.0/12=172.30.0.0/16",
            "--force", code=2)
    assert "input" in r.stderr
    r = cli("rewrite", real_snapshot, "--out", tmp_path / "x.db", "--service-cidr", "10.96.0.0/12=172.30.0.0/29",
            code=1)
    assert "do not fit" in r.stderr and "kube-dns" in r.stderr
    assert not (tmp_path / "x.db").exists()
    dry = cli("rewrite", real_snapshot, "--out", tmp_path / "y.db", "--dry-run",
              "--service-cidr", "10.96.0.0/12=172.30.0.0/16")
    assert "dry run" in dry.stdout and not (tmp_path / "y.db").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["o.db"]


def test_reallocate_gives_lowest_free_addresses(real_snapshot, tmp_path):
    r = cli("rewrite", real_snapshot, "--dry-run", "--reallocate", "-o", "json",
            "--service-cidr", "10.96.0.0/12=172.30.0.0/29")
    rep = json.loads(r.stdout)
    new = {c["name"]: c["new"] for c in rep["changes"] if c["kind"] == "Service"}
    assert new == {"kubernetes": "172.30.0.1", "kube-dns": "172.30.0.2"}
    dns = [c for c in rep["changes"] if c["field"].startswith("data.kubelet:clusterDNS")]
    assert [c["new"] for c in dns] == ["172.30.0.2"]  # kubelet follows kube-dns to its reallocated address
    assert any("reallocated" in w["message"] for w in rep["warnings"])


def test_corrupt_trailer_is_refused_unless_skipped(real_snapshot, tmp_path):
    bad = tmp_path / "bad.db"
    with open(real_snapshot, "rb") as f:
        data = bytearray(f.read())
    data[-1] ^= 0xFF
    bad.write_bytes(bytes(data))
    r = cli("rewrite", bad, "--out", tmp_path / "o.db", "--service-cidr", "10.96.0.0/12=172.30.0.0/16", code=1)
    assert "sha256" in r.stderr and not (tmp_path / "o.db").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.db"]
    cli("rewrite", bad, "--out", tmp_path / "o.db", "--service-cidr", "10.96.0.0/12=172.30.0.0/16",
        "--skip-hash-check")
    cli("check", tmp_path / "o.db")


def test_exclude_kube_dns_keeps_kubelet_dns_and_its_ipaddress(fixture_path):
    rep = json.loads(cli("rewrite", fixture_path("k8s-etcd35.db"), "--dry-run", "-o", "json",
                         "--service-cidr", "192.168.0.0/16=172.24.0.0/16", "--exclude", "kube-system/kube-dns").stdout)
    keys = {c["key"] for c in rep["changes"]}
    assert "/registry/services/specs/kube-system/kube-dns" not in keys
    assert "/registry/ipaddresses/192.168.0.10" not in keys
    assert not any(c["field"].startswith("data.kubelet:clusterDNS") for c in rep["changes"])
    assert "/registry/services/specs/default/kubernetes" in keys
    excluded = [w for w in rep["warnings"] if "--exclude" in w["message"]]
    assert excluded and "kube-dns" in excluded[0]["message"]
    cm = json.loads(cli("rewrite", fixture_path("k8s-etcd35.db"), "--dry-run", "-o", "json",
                        "--service-cidr", "192.168.0.0/16=172.24.0.0/16",
                        "--exclude", "kube-system/kubeadm-config").stdout)
    assert not any(c["name"] == "kubeadm-config" for c in cm["changes"])
    assert all(c["namespace"] == "kube-system" for c in cm["changes"] if c["kind"] == "ConfigMap")
