"""rewrite of the kube-apiserver-made fixture, restored by real etcd 3.5 and 3.4: what the API served, moved.

The expectation is built from the API's own answers (``objects`` of fixtures/apiserver-etcdNN.expected.json,
what ``kubectl get -o json`` returned) with the addresses mapped here by ``ipaddress``, independently of
snaprewrite's rules; every key the rewrite does not name must come back byte-identical.
"""

import base64
import copy
import hashlib
import ipaddress
import json

import pytest
import yaml
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.k8s import bitmap
from snaprewrite.k8s.decode import decode_value

runner = CliRunner()
SERVICES = {"10.96.0.0/12": "10.128.0.0/12", "fd00:10:96::/112": "fd00:20:96::/112"}
PODS = {"10.244.0.0/16": "10.55.0.0/16", "fd00:10:244::/56": "fd00:55:244::/56"}
MAPS = [a for old, new in SERVICES.items() for a in ("--service-cidr", f"{old}={new}")] + \
       [a for old, new in PODS.items() for a in ("--pod-cidr", f"{old}={new}")]


def move_ip(ip: str, table: dict) -> str:
    addr = ipaddress.ip_address(ip)
    for old, new in table.items():
        o, n = ipaddress.ip_network(old), ipaddress.ip_network(new)
        if addr in o:
            return str(n[int(addr) - int(o.network_address)])
    return ip


def move_net(cidr: str, table: dict) -> str:
    net = ipaddress.ip_network(cidr)
    for old, new in table.items():
        o, n = ipaddress.ip_network(old), ipaddress.ip_network(new)
        if net == o:
            return str(n)
        if net.version == o.version and net.subnet_of(o):
            return f"{move_ip(str(net.network_address), table)}/{net.prefixlen}"
    return cidr


def moved_csv(text: str, table: dict) -> str:
    return ",".join(move_net(c, table) for c in text.split(","))


def expected_object(key: str, served: dict) -> dict:
    """expected_object is what the API served with this test's idea of the migration applied."""
    obj = copy.deepcopy(served)
    spec = obj.get("spec", {})
    if key.startswith("/registry/services/specs/") and spec.get("clusterIP") not in (None, "None", ""):
        spec["clusterIPs"] = [move_ip(ip, SERVICES) for ip in spec["clusterIPs"]]
        spec["clusterIP"] = spec["clusterIPs"][0]
    if key.startswith("/registry/minions/") and "podCIDRs" in spec:
        spec["podCIDRs"] = [move_net(c, PODS) for c in spec["podCIDRs"]]
        spec["podCIDR"] = spec["podCIDRs"][0]
    if key.startswith("/registry/crd.projectcalico.org/ippools/"):  # the calico rule moves the pool
        spec["cidr"] = move_net(spec["cidr"], PODS)
    data = obj.get("data", {})
    if key == "/registry/configmaps/kube-system/kubeadm-config":
        text = data["ClusterConfiguration"]
        for old, new in (("10.96.0.0/12,fd00:10:96::/112", "10.128.0.0/12,fd00:20:96::/112"),
                         ("10.244.0.0/16,fd00:10:244::/56", "10.55.0.0/16,fd00:55:244::/56")):
            text = text.replace(old, new)
        data["ClusterConfiguration"] = text
    if key == "/registry/configmaps/kube-system/kubelet-config-1.20":
        data["kubelet"] = data["kubelet"].replace("- 10.96.0.10\n", f"- {move_ip('10.96.0.10', SERVICES)}\n")
    if key == "/registry/configmaps/kube-system/kube-proxy":
        conf = yaml.safe_load(data["config.conf"])
        data["config.conf"] = data["config.conf"].replace(
            f"clusterCIDR: {conf['clusterCIDR']}", f"clusterCIDR: {moved_csv(conf['clusterCIDR'], PODS)}")
    return obj


@pytest.mark.parametrize("tag", ["etcd35", "etcd34"])
def test_apiserver_fixture_rewrite_restores_as_the_api_served_it_moved(tag, etcd35, etcd34, fixture_path,
                                                                      fixture_expected, restored_etcd, tmp_path):
    tools = etcd35 if tag == "etcd35" else etcd34
    src = fixture_path(f"apiserver-{tag}.db")
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    out, rep = tmp_path / "out.db", tmp_path / "report.json"
    r = runner.invoke(app, ["rewrite", str(src), "--out", str(out), "--report", str(rep), *MAPS])
    assert r.exit_code == 0, r.output
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    changed = {c["key"] for c in json.loads(rep.read_text())["changes"]}

    exp = fixture_expected("apiserver", tag)
    with restored_etcd(tools, out).client() as c:
        assert c.revision() == exp["revision"]
        got = {rec.key.decode(): rec for rec in c.range()}
    assert sorted(got) == [k["key"] for k in exp["keys"]]
    for k in exp["keys"]:
        rec = got[k["key"]]
        assert (rec.create_revision, rec.mod_revision, rec.version, rec.lease) == \
            (k["create_revision"], k["mod_revision"], k["version"], k["lease"]), k["key"]
        same = (len(rec.value), hashlib.sha256(rec.value).hexdigest()) == (k["value_len"], k["value_sha256"])
        assert same == (k["key"] not in changed), k["key"]

    objects = exp["objects"]
    for key, served in objects.items():
        obj = decode_value(got[key].value)
        if "raw" in obj or key.startswith("/registry/apiextensions.k8s.io/"):
            continue
        obj["metadata"]["resourceVersion"] = str(got[key].mod_revision)
        assert obj == expected_object(key, served), key
    want = {o["metadata"]["name"] for k, o in objects.items()
            if k.startswith(("/registry/services/specs/", "/registry/minions/")) and expected_object(k, o) != o}
    assert want == {"kubernetes", "kube-dns", "web", "auto", "nodeport", "lb", "dual", "v6only",
                    "cp-1", "worker-1", "worker-2"}

    # the allocator bitmaps: the new ranges, exactly the moved addresses of every Service
    service_ips = {ip for o in objects.values() if o["kind"] == "Service"
                   for ip in expected_object("/registry/services/specs/", o)["spec"].get("clusterIPs", [])
                   if ip != "None"}
    held = set()
    for name, rng in (("serviceips", "10.128.0.0/12"), ("secondaryserviceips", "fd00:20:96::/112")):
        alloc = decode_value(got[f"/registry/ranges/{name}"].value)
        assert alloc["range"] == rng
        held |= set(bitmap.decode(alloc["range"], base64.b64decode(alloc["data"])))
    assert held == service_ips
