"""Pod CIDR rewrites of the CNI fixtures, restored by real etcd and read back through the real kube-apiserver.

Each fixture (fixtures/cni.py) holds one CNI's state as kube-apiserver 1.20.2 stored it. The expected
objects are what the API served when the fixture was made, with every address of the old pod range
moved here by ``ipaddress`` (and Calico's CIDR-derived names recomputed), independently of the rules.
Checked for each: the served objects equal that expectation; no old-range address is left in the
CNI's objects; Calico's IPAM is consistent; the keys that differ in real etcd are exactly those the
report names; and the reverse rewrite gives back every key, revision and value.
"""

import copy
import ipaddress
import json

import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.rehearsal.apiserver import control_plane
from snaprewrite.rehearsal.server import restore

runner = CliRunner()
SERVICE_CIDRS = ["10.96.0.0/12"]
CNIS = ("calico", "cilium", "flannel", "kuberouter")


def move(text: str, table: dict) -> str:
    """move maps an IP, CIDR or ip/prefix interface address of an old range to the new one (else unchanged)."""
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        return text
    for old, new in table.items():
        o, n = ipaddress.ip_network(old), ipaddress.ip_network(new)
        if iface.version != o.version or iface.ip not in o:
            continue
        ip = n.network_address + (int(iface.ip) - int(o.network_address))
        if "/" not in text:
            return str(ip)
        if iface.network == o:
            return str(n)
        return f"{ip}/{iface.network.prefixlen}"
    return text


def moved(doc, table: dict):
    """moved maps every string and every object key (managedFields ``f:<cidr>`` too) of a document."""
    if isinstance(doc, dict):
        out = {}
        for k, v in doc.items():
            nk = "f:" + move(k[2:], table) if k.startswith("f:") else move(k, table)
            out[nk] = moved(v, table)
        return out
    if isinstance(doc, list):
        return [moved(x, table) for x in doc]
    return move(doc, table) if isinstance(doc, str) else doc


def old_addresses(doc, table: dict) -> list[str]:
    """old_addresses lists every string (or key) of a document that is an address in an old range."""
    found = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            for text in (k, k[2:]):
                if move(text, table) != text:
                    found.append(k)
            found += old_addresses(v, table)
    elif isinstance(doc, list):
        for x in doc:
            found += old_addresses(x, table)
    elif isinstance(doc, str) and move(doc, table) != doc:
        found.append(doc)
    return found


def calico_name(cidr: str) -> str:
    return cidr.replace(".", "-").replace(":", "-").replace("/", "-")


def expected_object(path: str, served: dict, table: dict) -> dict:
    if path.startswith("/api/v1/nodes/"):
        return served  # Nodes: compared field by field (the nodes rule owns spec, the CNI rules annotations)
    obj = moved(copy.deepcopy(served), table)
    kind, spec = served["kind"], served.get("spec", {})
    if kind == "IPAMBlock":
        obj["metadata"]["name"] = calico_name(obj["spec"]["cidr"])
    if kind == "BlockAffinity":
        obj["metadata"]["name"] = f"{spec['node']}-{calico_name(obj['spec']['cidr'])}"
    if "selfLink" in served["metadata"]:  # the API computes it from the (new) name
        obj["metadata"]["selfLink"] = served["metadata"]["selfLink"].rsplit("/", 1)[0] + "/" + obj["metadata"]["name"]
    return obj


def rewrite(src, out, table: dict, report=None) -> dict:
    args = ["rewrite", str(src), "--out", str(out)]
    for old, new in table.items():
        args += ["--pod-cidr", f"{old}={new}"]
    if report is not None:
        args += ["--report", str(report)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return json.loads(report.read_text()) if report is not None else {}


def records(client, revision=None) -> dict:
    return {r.key: (r.create_revision, r.mod_revision, r.version, r.lease, r.value)
            for r in client.range(revision=revision)}


def check_calico(served: dict) -> None:
    """IPAM membership: allocations inside their block, blocks inside a pool, affinities and handles on blocks."""
    kinds: dict[str, list] = {}
    for obj in served.values():
        kinds.setdefault(obj["kind"], []).append(obj)
    pools = [ipaddress.ip_network(p["spec"]["cidr"]) for p in kinds["IPPool"]]
    blocks = {b["spec"]["cidr"]: b for b in kinds["IPAMBlock"]}
    for cidr, b in blocks.items():
        net = ipaddress.ip_network(cidr)
        assert b["metadata"]["name"] == calico_name(cidr)
        assert any(net.subnet_of(p) for p in pools), cidr
        assert len(b["spec"]["allocations"]) == net.num_addresses
        for ordinal, attr in enumerate(b["spec"]["allocations"]):
            if attr is not None:
                assert 0 <= attr < len(b["spec"]["attributes"])
                assert net.network_address + ordinal in net
    for a in kinds["BlockAffinity"]:
        block = blocks[a["spec"]["cidr"]]  # the affinity's block exists
        assert block["spec"]["affinity"] == f"host:{a['spec']['node']}"
        assert a["metadata"]["name"] == f"{a['spec']['node']}-{calico_name(a['spec']['cidr'])}"
    for h in kinds["IPAMHandle"]:
        for cidr in h["spec"]["block"]:
            assert any(at["handle_id"] == h["spec"]["handleID"] for at in blocks[cidr]["spec"]["attributes"])


def test_the_checks_fail_on_what_they_must_catch(fixture_path):
    """check_calico and old_addresses judge the rewrite: they must fail on a half-moved IPAM and a leftover."""
    exp = json.loads(fixture_path("cni-calico.expected.json").read_text())
    table = exp["pod_cidrs"]
    crs = {p: o for p, o in exp["objects"].items() if not p.startswith("/api/v1/nodes/")}
    check_calico(crs)  # as Calico wrote it: consistent
    assert old_addresses(crs, table)
    moved_crs = {p: expected_object(p, o, table) for p, o in crs.items()}
    check_calico(moved_crs)
    assert old_addresses(moved_crs, table) == []
    half = copy.deepcopy(moved_crs)
    block = next(o for o in half.values() if o["kind"] == "IPAMBlock" and o["spec"]["cidr"].startswith("10.60."))
    block["spec"]["cidr"] = "192.168.7.0/26"  # a block left behind: its affinity's block is gone
    block["metadata"]["name"] = calico_name("192.168.7.0/26")
    with pytest.raises((AssertionError, KeyError)):
        check_calico(half)
    assert old_addresses(half, table) == ["192.168.7.0/26"]


@pytest.mark.parametrize("cni,tag", [(c, t) for c in CNIS for t in ("etcd35", "etcd34")])
def test_cni_pod_cidr_rewrite_read_back_through_the_api(cni, tag, etcd35, etcd34, fixture_path, kube_apiserver,
                                                        restored_etcd, tmp_path):
    tools = etcd35 if tag == "etcd35" else etcd34
    src = fixture_path(f"cni-{cni}.db")
    exp = json.loads(fixture_path(f"cni-{cni}.expected.json").read_text())
    table = exp["pod_cidrs"]
    reverse = {v: k for k, v in table.items()}
    out, back, rep = tmp_path / "out.db", tmp_path / "back.db", tmp_path / "report.json"
    report = rewrite(src, out, table, rep)
    rewrite(out, back, reverse)
    r = runner.invoke(app, ["verify", str(src), str(out), "--report", str(rep)])
    assert r.exit_code == 0, r.output  # every difference is one the report lists

    with restored_etcd(tools, src).client() as c:
        latest = c.revision()
        before = records(c)
        history = {rev: records(c, rev) for rev in range(2, latest + 1, max(1, latest // 25))}
    with restored_etcd(tools, back).client() as c:  # A -> B -> A: every key, revision and value
        assert c.revision() == latest
        assert records(c) == before
        for rev, want in history.items():
            assert records(c, rev) == want, rev

    data = restore(tools, out, tmp_path / "out-data")
    with control_plane(tools, SERVICE_CIDRS, data_dir=data, kube_apiserver=kube_apiserver) as cp:
        with cp.etcd.client() as c:  # as restored: the API server's own writes come after this revision
            after = records(c, latest)
        served = {}
        for path in exp["collections"] + ["/api/v1/nodes"]:
            for item in cp.apiserver.get(path)["items"]:
                served[f"{path}/{item['metadata']['name']}"] = item
        configmaps = {f"{i['metadata']['namespace']}/{i['metadata']['name']}": i
                      for i in cp.apiserver.get("/api/v1/configmaps")["items"]}
        workloads = cp.apiserver.get("/apis/apps/v1/daemonsets")["items"] + \
            cp.apiserver.get("/apis/apps/v1/deployments")["items"]

    # the report names exactly the keys whose records differ in real etcd (renamed keys: old and new)
    differ = {k.decode() for k in set(before) | set(after) if before.get(k) != after.get(k)}
    named = {c["key"] for c in report["changes"]} | {c["newKey"] for c in report["changes"] if "newKey" in c}
    assert differ == named
    assert all("..." not in w["message"] for w in report["warnings"])

    # every CNI object as served before, moved; nothing of the old range left in them
    expected = {}
    for path, obj in exp["objects"].items():
        want = expected_object(path, obj, table)
        expected[path.rsplit("/", 1)[0] + "/" + want["metadata"]["name"]] = want
    assert sorted(served) == sorted(expected)
    for path, obj in served.items():
        if path.startswith("/api/v1/nodes/"):
            old = exp["objects"][path]
            assert obj["metadata"].get("annotations") == moved(old["metadata"].get("annotations"), table), path
            assert obj["spec"].get("podCIDRs") == moved(old["spec"].get("podCIDRs"), table), path
            assert old_addresses(obj["metadata"].get("annotations", {}), table) == []
            continue
        obj["metadata"].pop("resourceVersion")
        expected[path]["metadata"].pop("resourceVersion")
        assert obj == expected[path], path
        assert old_addresses(obj, table) == [], path
    for w in workloads:
        assert old_addresses(w["spec"]["template"]["spec"], table) == [], w["metadata"]["name"]

    if cni == "calico":
        check_calico({p: o for p, o in served.items() if not p.startswith("/api/v1/nodes/")})
        tunnels = {o["metadata"]["name"]: o["metadata"]["annotations"]["projectcalico.org/IPv4IPIPTunnelAddr"]
                   for p, o in served.items() if p.startswith("/api/v1/nodes/")}
        assert tunnels == {"node-1": "10.60.136.64", "node-2": "10.60.43.128", "node-3": "10.60.200.0"}
        assert "10.60.0.0/16" in configmaps["kube-system/calico-config"]["data"]["cni_network_config"]
        assert any("legacy-pool" in w["key"] for w in report["warnings"])
        assert served[f"{exp['collections'][0]}/legacy-pool"]["spec"]["cidr"] == "172.30.0.0/16"
    if cni == "cilium":
        conf = configmaps["kube-system/cilium-config"]["data"]
        assert (conf["cluster-pool-ipv4-cidr"], conf["cluster-pool-ipv6-cidr"]) == ("10.80.0.0/16", "fd00:80::/104")
        assert (conf["cluster-pool-ipv4-mask-size"], conf["cluster-pool-ipv6-mask-size"]) == ("24", "120")
        for p, o in served.items():
            if p.startswith(exp["collections"][0]):
                v4, v6 = (ipaddress.ip_network(c) for c in o["spec"]["ipam"]["podCIDRs"])
                assert v4.subnet_of(ipaddress.ip_network("10.80.0.0/16")) and v4.prefixlen == 24
                assert v6.subnet_of(ipaddress.ip_network("fd00:80::/104")) and v6.prefixlen == 120
        stays = [w for w in report["warnings"] if w["key"] == "/registry/cilium.io/ciliumendpoints/"]
        assert stays and "/registry/cilium.io/ciliumendpoints/default/web-2" in stays[0]["message"]
    if cni == "flannel":
        net_conf = json.loads(configmaps["kube-flannel/kube-flannel-cfg"]["data"]["net-conf.json"])
        assert net_conf == {"Network": "10.66.0.0/16", "Backend": {"Type": "vxlan"}}
        keys = {k.decode(): v for k, v in after.items() if k.startswith(b"/coreos.com/")}
        assert sorted(keys) == ["/coreos.com/network/config"] + \
            [f"/coreos.com/network/subnets/10.66.{n}.0-24" for n in (10, 11, 12)]
        assert json.loads(keys["/coreos.com/network/config"][4])["Network"] == "10.66.0.0/16"
        assert all(v[3] != 0 for k, v in keys.items() if "/subnets/" in k)  # each keeps its lease
    if cni == "kuberouter":
        for o in served.values():
            ann = o["metadata"]["annotations"]
            assert ann["kube-router.io/pod-cidr"] == ann["kube-router.io/pod-cidrs"] == o["spec"]["podCIDR"]


@pytest.mark.parametrize("cni", ["calico", "flannel"])
def test_cni_rules_follow_the_layout_root_and_flannel_keys_stay_absolute(cni, etcd35, fixture_path, restored_etcd,
                                                                         tmp_path):
    """The CNI fixture's live records under /kubernetes.io/ (OpenShift's root), put into real etcd 3.5 and saved:
    the rewrite moves the same objects as under /registry/, renamed Calico keys stay below the root, and
    flannel's /coreos.com/ keys (its own tree, never below a Kubernetes root) move where they are."""
    from snaprewrite.etcd import mvcc
    from snaprewrite.etcd.snapshot import Snapshot
    from snaprewrite.rehearsal.server import EtcdServer, snapshot_save

    root = "/kubernetes.io/"
    src = fixture_path(f"cni-{cni}.db")
    table = json.loads(fixture_path(f"cni-{cni}.expected.json").read_text())["pod_cidrs"]
    with Snapshot(str(src)) as snap:
        live = {k: mvcc.record_at(snap, rk).kv.value for k, rk in sorted(mvcc.live_keys(snap).items())}
    copy_db = tmp_path / "openshift.db"
    with EtcdServer(etcd35) as server, server.client() as c:
        for k, v in live.items():
            c.put(root.encode() + k[len(b"/registry/"):] if k.startswith(b"/registry/") else k, v)
        snapshot_save(server, copy_db)

    def unplaced(rep: dict, prefix: str) -> dict:  # where renamed records land depends on each file's history
        text = json.dumps({p: rep[p] for p in ("changes", "warnings")}).replace(prefix, "/registry/")
        doc = json.loads(text)
        for c in doc["changes"]:
            c.pop("newRecord", None)
        return doc

    plain = rewrite(src, tmp_path / "plain.db", table, tmp_path / "plain.json")
    os_rep = rewrite(copy_db, tmp_path / "out.db", table, tmp_path / "out.json")
    assert os_rep["layout"]["prefix"] == root
    assert unplaced(os_rep, root) == unplaced(plain, "/registry/")
    st = runner.invoke(app, ["status", str(tmp_path / "out.db"), "-o", "json"])
    assert json.loads(st.stdout)["cni"] == json.loads(runner.invoke(
        app, ["status", str(tmp_path / "plain.db"), "-o", "json"]).stdout)["cni"]
    assert runner.invoke(app, ["doctor", str(tmp_path / "out.db"), "-o", "json"]).exit_code == 0
    with restored_etcd(etcd35, tmp_path / "out.db").client() as c:
        keys = {r.key.decode() for r in c.range()}
    assert not any(k.startswith("/registry/") for k in keys)
    if cni == "calico":
        assert root + "crd.projectcalico.org/ipamblocks/10-60-136-64-26" in keys
        assert root + "crd.projectcalico.org/ipamblocks/192-168-136-64-26" not in keys
    else:
        assert sorted(k for k in keys if k.startswith("/coreos.com/")) == ["/coreos.com/network/config"] + \
            [f"/coreos.com/network/subnets/10.66.{n}.0-24" for n in (10, 11, 12)]
