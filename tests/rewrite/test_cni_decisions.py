"""The CNI rules' decisions over objects shaped as the CNIs store them, without a snapshot or a server.

Each test hands a rule a few objects (values copied in shape from what kube-apiserver 1.20.2 stored in
the CNI fixtures: compact JSON for custom resources) and checks the decision byte for byte: the new value
is the old one with exactly the expected address texts replaced, renamed keys are the CNI's own names of
the moved CIDRs, and what must stay (node addresses, near-miss values, other pools) stays. What real etcd
and the real kube-apiserver make of the rewritten fixtures is tests/e2e/test_cni_rewrite.py's.
"""

import json

import pytest

from snaprewrite.errors import PlanError
from snaprewrite.etcd import kv as kvcodec
from snaprewrite.etcd import revision as revcodec
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.cidr import CidrMap
from snaprewrite.rewrite.rules import calico, cilium, cni, cniconfig, flannel, kuberouter

CALICO = "/registry/crd.projectcalico.org/"


def compact(doc: dict) -> str:
    """compact is a document as kube-apiserver stores a custom resource: JSON without spaces."""
    return json.dumps(doc, separators=(",", ":"))


def managed(fields: dict) -> list:
    return [{"apiVersion": "crd.projectcalico.org/v1", "fieldsType": "FieldsV1", "fieldsV1": fields,
             "manager": "calico", "operation": "Update", "time": "2026-12-01T10:00:00Z"}]

class MemoryRecords(dict):
    """A key bucket in a dict: no element hints (``get_hinted`` finds none: ``record_at`` asks ``get``)."""

    def get_hinted(self, key: bytes) -> None:
        return None


class MemorySnap:
    """Stands in for a Snapshot: ``key_bucket().get(revkey)`` answers from a dict (all ``Object`` reads)."""

    def __init__(self):
        self.records: dict[bytes, bytes] = MemoryRecords()
        self.path = "memory.db"

    def key_bucket(self):
        return self.records


def context(pod: list[str], objects: dict[str, list[tuple[str, str]]], prefixes: dict[str, str] | None = None
            ) -> planning.Context:
    """context builds a planning Context holding ``objects`` ({kind: [(key, value)]}) at revisions 10, 11, ..."""
    snap = MemorySnap()
    loaded: dict[str, list[planning.Object]] = {}
    main = 10
    for kind, items in objects.items():
        for key, value in items:
            k = key.encode()
            revkey = revcodec.encode(revcodec.Revision(main, 0))
            snap.records[revkey] = kvcodec.encode(kvcodec.KeyValue(k, main - 5, main, 2, value.encode(), 0))
            prefix = next(p for p in (prefixes or {}) if key.startswith(p)) if prefixes else key.rsplit("/", 1)[0] + "/"
            ns, name = planning.split_key(k, prefix.encode())
            loaded.setdefault(kind, []).append(planning.Object(k, revkey, kind, ns, name, snap))
            main += 1
    opts = planning.Options(CidrMap(()), CidrMap.parse(pod) if pod else CidrMap(()))
    return planning.Context(opts, planning.Plan("memory.db", main), loaded, snap)


def edits(ctx: planning.Context) -> dict[str, tuple[str | None, str]]:
    """edits maps each edited key to (new key or None, new value text)."""
    return {e.key.decode(): (e.new_key.decode() if e.new_key else None, e.new_value.decode()) for e in ctx.plan.edits}


def replaced(text: str, *pairs: tuple[str, str]) -> str:
    """replaced is ``text`` with each old substring replaced, each one required to be there."""
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    return text


# -- Calico ---------------------------------------------------------------------------------------------


def calico_object(kind: str, name: str, spec: dict, fields: dict | None = None) -> str:
    meta = {"managedFields": managed(fields), "name": name} if fields else {"name": name}
    return compact({"apiVersion": "crd.projectcalico.org/v1", "kind": kind, "metadata": meta, "spec": spec})


def pool(name: str, cidr: str) -> tuple[str, str]:
    return f"{CALICO}ippools/{name}", calico_object("IPPool", name, {
        "allowedUses": ["Workload", "Tunnel"], "blockSize": 26, "cidr": cidr, "ipipMode": "Always",
        "natOutgoing": True, "nodeSelector": "all()", "vxlanMode": "Never"})


def block(cidr: str, node: str) -> tuple[str, str]:
    name = calico.cidr_name(cidr)
    return f"{CALICO}ipamblocks/{name}", calico_object("IPAMBlock", name, {
        "affinity": f"host:{node}", "allocations": [0, 1] + [None] * 62,
        "attributes": [{"handle_id": f"ipip-tunnel-addr-{node}", "secondary": {"node": node, "type": "ipipTunnelAddress"}},
                       {"handle_id": "k8s-pod-network.01", "secondary": {"namespace": "default", "node": node, "pod": "web-0"}}],
        "cidr": cidr, "deleted": False, "strictAffinity": False, "unallocated": [2, 3, 4]}, {"f:spec": {"f:cidr": {}}})


def affinity(node: str, cidr: str) -> tuple[str, str]:
    name = f"{node}-{calico.cidr_name(cidr)}"
    return f"{CALICO}blockaffinities/{name}", calico_object("BlockAffinity", name, {
        "cidr": cidr, "deleted": "false", "node": node, "state": "confirmed"})


def handle(handle_id: str, *cidrs: str) -> tuple[str, str]:
    fields = {"f:spec": {".": {}, "f:block": {".": {}, **{f"f:{c}": {} for c in cidrs}}, "f:handleID": {}}}
    return f"{CALICO}ipamhandles/{handle_id}", calico_object("IPAMHandle", handle_id, {
        "block": dict.fromkeys(cidrs, 1), "deleted": False, "handleID": handle_id}, fields)


def node(name: str, annotations: dict[str, str]) -> tuple[str, str]:
    return f"/registry/minions/{name}", compact({"kind": "Node", "apiVersion": "v1", "metadata": {
        "name": name, "annotations": annotations}, "spec": {}})


def calico_objects(node_name: str = "node-1") -> dict:
    return {
        "IPPool": [pool("default-ipv4-ippool", "192.168.0.0/16"), pool("legacy", "172.30.0.0/16")],
        "IPAMBlock": [block("192.168.136.64/26", node_name), block("192.168.136.128/26", node_name),
                      block("172.30.5.0/26", node_name)],
        "BlockAffinity": [affinity(node_name, "192.168.136.64/26"), affinity(node_name, "192.168.136.128/26"),
                          affinity(node_name, "172.30.5.0/26")],
        "IPAMHandle": [handle(f"ipip-tunnel-addr-{node_name}", "192.168.136.64/26"),
                       handle("k8s-pod-network.01", "192.168.136.64/26", "192.168.136.128/26"),
                       handle("k8s-pod-network.02", "172.30.5.0/26")],
        "Node": [node(node_name, {"projectcalico.org/IPv4Address": "172.18.1.1/24",
                                  "projectcalico.org/IPv4IPIPTunnelAddr": "192.168.136.64",
                                  "projectcalico.org/IPv4VXLANTunnelAddr": "192.168.136.65",
                                  "unrelated.example/cidr": "192.168.136.64/26"})],
    }


def test_calico_blocks_and_affinities_are_renamed_to_the_moved_cidrs_names():
    objs = calico_objects()
    ctx = context(["192.168.0.0/16=10.60.0.0/16"], objs)
    calico.run(ctx)
    got = edits(ctx)
    # a block keeps its offset and size; its key and name are Calico's name of the new CIDR; allocations,
    # attributes and unallocated (ordinals and handles inside the block) keep their bytes
    for old, new in (("192.168.136.64/26", "10.60.136.64/26"), ("192.168.136.128/26", "10.60.136.128/26")):
        key, value = block(old, "node-1")
        assert got[key] == (f"{CALICO}ipamblocks/{calico.cidr_name(new)}",
                            replaced(value, (f'"{old}"', f'"{new}"'), (f'"name":"{calico.cidr_name(old)}"',
                                                                       f'"name":"{calico.cidr_name(new)}"')))
        key, value = affinity("node-1", old)
        assert got[key] == (f"{CALICO}blockaffinities/node-1-{calico.cidr_name(new)}",
                            replaced(value, (f'"{old}"', f'"{new}"'), (calico.cidr_name(old), calico.cidr_name(new))))
    assert got[f"{CALICO}ipamblocks/192-168-136-64-26"][0].endswith("/ipamblocks/10-60-136-64-26")
    # the pool moves, blockSize and nodeSelector stay; the legacy pool and its block, affinity, handle stay
    key, value = pool("default-ipv4-ippool", "192.168.0.0/16")
    assert got[key] == (None, replaced(value, ('"192.168.0.0/16"', '"10.60.0.0/16"')))
    assert not any("172" in k for k in got)
    assert any(w.key.endswith("/ippools/legacy") and "172.30.0.0/16" in w.message for w in ctx.plan.warnings)
    assert ctx.plan.cni == {"calico": ["192.168.0.0/16", "172.30.0.0/16"]}


def test_calico_handles_move_their_block_keys_and_managed_fields_keys_without_a_rename():
    ctx = context(["192.168.0.0/16=10.60.0.0/16"], calico_objects())
    calico.run(ctx)
    got = edits(ctx)
    key, value = handle("k8s-pod-network.01", "192.168.136.64/26", "192.168.136.128/26")
    want = replaced(value, ('"192.168.136.64/26"', '"10.60.136.64/26"'), ('"192.168.136.128/26"', '"10.60.136.128/26"'),
                    ('"f:192.168.136.64/26"', '"f:10.60.136.64/26"'), ('"f:192.168.136.128/26"', '"f:10.60.136.128/26"'))
    assert got[key] == (None, want)
    assert json.loads(want)["spec"]["block"] == {"10.60.136.64/26": 1, "10.60.136.128/26": 1}
    # the block's own managedFields name f:cidr (a field), not a CIDR: it stays
    assert '"f:cidr"' in got[f"{CALICO}ipamblocks/192-168-136-64-26"][1]
    # a moved key is reported as verify sees it: that field gone, another one there, with the same value
    mf = "metadata.managedFields[0].fieldsV1.f:spec.f:block.f:"
    assert {(c.field, c.old, c.new) for c in ctx.plan.changes if c.key == key} == {
        ("spec.block.192.168.136.64/26", "1", None), ("spec.block.10.60.136.64/26", None, "1"),
        ("spec.block.192.168.136.128/26", "1", None), ("spec.block.10.60.136.128/26", None, "1"),
        (mf + "192.168.136.64/26", "{}", None), (mf + "10.60.136.64/26", None, "{}"),
        (mf + "192.168.136.128/26", "{}", None), (mf + "10.60.136.128/26", None, "{}")}


def test_calico_affinity_of_a_node_whose_name_looks_like_a_cidr_keeps_the_node_part():
    node_name = "ip-192-168-136-64"  # an EC2-style node name: only the suffix is the block's name
    ctx = context(["192.168.0.0/16=10.60.0.0/16"], calico_objects(node_name))
    calico.run(ctx)
    got = edits(ctx)
    key, _ = affinity(node_name, "192.168.136.64/26")
    assert key.endswith("/ip-192-168-136-64-192-168-136-64-26")
    assert got[key][0] == f"{CALICO}blockaffinities/ip-192-168-136-64-10-60-136-64-26"
    assert json.loads(got[key][1])["spec"]["node"] == node_name


def test_calico_node_annotations_move_only_the_tunnel_addresses_in_a_moved_pool():
    ctx = context(["192.168.0.0/16=10.60.0.0/16"], calico_objects())
    calico.run(ctx)
    key, value = calico_objects()["Node"][0]
    assert edits(ctx)[key] == (None, replaced(value, ('"192.168.136.64"', '"10.60.136.64"'),
                                              ('"192.168.136.65"', '"10.60.136.65"')))
    # IPv4Address is the node's own address (not in a pool): it stays; so does another program's annotation
    assert '"projectcalico.org/IPv4Address":"172.18.1.1/24"' in edits(ctx)[key][1]
    assert '"unrelated.example/cidr":"192.168.136.64/26"' in edits(ctx)[key][1]


def test_calico_ipv6_blocks_use_calicos_dashed_names():
    v6 = "fd00:10:244:0:1::/122"
    assert calico.cidr_name(v6) == "fd00-10-244-0-1---122"
    objs = {"IPPool": [pool("default-ipv6-ippool", "fd00:10:244::/48")], "IPAMBlock": [block(v6, "node-1")],
            "BlockAffinity": [affinity("node-1", v6)], "IPAMHandle": [handle("k8s-pod-network.01", v6)]}
    ctx = context(["fd00:10:244::/48=fd00:66::/48"], objs)
    calico.run(ctx)
    got = edits(ctx)
    assert got[f"{CALICO}ipamblocks/fd00-10-244-0-1---122"][0] == f"{CALICO}ipamblocks/fd00-66-0-0-1---122"
    assert got[f"{CALICO}blockaffinities/node-1-fd00-10-244-0-1---122"][0] == \
        f"{CALICO}blockaffinities/node-1-fd00-66-0-0-1---122"
    assert json.loads(got[f"{CALICO}ipamhandles/k8s-pod-network.01"][1])["spec"]["block"] == {"fd00:66:0:0:1::/122": 1}


def test_calico_block_that_would_not_fit_is_refused_with_both_cidrs():
    ctx = context(["192.168.0.0/16=10.60.0.0/17"], calico_objects())
    with pytest.raises(PlanError) as e:
        calico.run(ctx)
    assert "192-168-136-64-26 192.168.136.64/26" in str(e.value) and "10.60.0.0/17" in str(e.value)
    assert ctx.plan.edits == [] or all(not e.new_key for e in ctx.plan.edits)


# -- flannel ----------------------------------------------------------------------------------------------

NET_CONF = ('{\n  "Network": "10.244.0.0/16",\n  "SubnetLen": 24,\n  "EnableIPv6": true,\n'
            '  "IPv6Network": "fd00:10:244::/56",\n  "IPv6SubnetLen": 64,\n  "Backend": {\n    "Type": "vxlan"\n  }\n}\n')


def flannel_cm(namespace: str, conf: str) -> tuple[str, str]:
    return (f"/registry/configmaps/{namespace}/kube-flannel-cfg",
            json.dumps({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "kube-flannel-cfg",
                        "namespace": namespace}, "data": {"cni-conf.json": '{"name":"cbr0"}', "net-conf.json": conf}}))


def test_flannel_net_conf_moves_network_and_ipv6network_keeping_its_formatting():
    objs = {"ConfigMap": [flannel_cm("kube-flannel", NET_CONF)]}
    ctx = context(["10.244.0.0/16=10.66.0.0/16", "fd00:10:244::/56=fd00:66::/56"], objs)
    flannel.run(ctx)
    (key, (new_key, value)), = edits(ctx).items()
    assert key == "/registry/configmaps/kube-flannel/kube-flannel-cfg" and new_key is None
    want = replaced(NET_CONF, ('"10.244.0.0/16"', '"10.66.0.0/16"'), ('"fd00:10:244::/56"', '"fd00:66::/56"'))
    assert json.loads(value)["data"]["net-conf.json"] == want  # SubnetLen, IPv6SubnetLen, spacing unchanged
    assert json.loads(value)["data"]["cni-conf.json"] == '{"name":"cbr0"}'
    assert {(c.field, c.old, c.new) for c in ctx.plan.changes} == {
        ("data.net-conf.json:Network", "10.244.0.0/16", "10.66.0.0/16"),
        ("data.net-conf.json:IPv6Network", "fd00:10:244::/56", "fd00:66::/56")}
    assert ctx.plan.cni == {"flannel": ["10.244.0.0/16", "fd00:10:244::/56"]}


def test_flannel_net_conf_of_another_range_or_another_configmap_stays():
    other = ("/registry/configmaps/kube-system/not-flannel", flannel_cm("kube-system", NET_CONF)[1])
    ctx = context(["10.9.0.0/16=10.66.0.0/16"], {"ConfigMap": [flannel_cm("kube-system", NET_CONF), other]})
    flannel.run(ctx)
    assert ctx.plan.edits == []
    assert ctx.plan.cni == {"flannel": ["10.244.0.0/16", "fd00:10:244::/56"]}


def test_flannel_subnet_key_names():
    assert flannel.subnet_key_name("10.244.1.0/24") == "10.244.1.0-24"
    assert flannel.subnet_key_name("10.244.1.0/24", "fd00:10:244:1::/64") == "10.244.1.0-24&fd00:10:244:1::-64"
    cmap = CidrMap.parse(["10.244.0.0/16=10.66.0.0/16"])
    assert flannel._move_subnet_name(cmap, "10.244.17.0-24") == "10.66.17.0-24"
    assert flannel._move_subnet_name(cmap, "10.244.17.0-24&fd00:10:244:1::-64") == "10.66.17.0-24&fd00:10:244:1::-64"


# -- Cilium -----------------------------------------------------------------------------------------------

CILIUM_NODE = (
    '{"apiVersion":"cilium.io/v2","kind":"CiliumNode","metadata":{"name":"node-1"},"spec":{"addresses":['
    '{"ip":"172.18.1.1","type":"InternalIP"},{"ip":"10.0.1.217","type":"CiliumInternalIP"},'
    '{"ip":"fc00:c111::1","type":"InternalIP"},{"ip":"fd00::1a3","type":"CiliumInternalIP"}],'
    '"health":{"ipv4":"10.0.1.46","ipv6":"fd00::1c7"},"ipam":{"podCIDRs":["10.0.1.0/24","fd00::100/120"],'
    '"pool":{"10.0.1.17":{"owner":"default/web-0"}}}},"status":{"ipam":{"operator-status":{}}}}')
CILIUM_CONFIG = json.dumps({"kind": "ConfigMap", "apiVersion": "v1",
                            "metadata": {"name": "cilium-config", "namespace": "kube-system"},
                            "data": {"cluster-pool-ipv4-cidr": "10.0.0.0/16", "cluster-pool-ipv4-mask-size": "24",
                                     "cluster-pool-ipv6-cidr": "fd00::/104", "cluster-pool-ipv6-mask-size": "120",
                                     "ipam": "cluster-pool", "tunnel": "vxlan"}})
DUAL = ["10.0.0.0/16=10.80.0.0/16", "fd00::/104=fd00:80::/104"]


def test_cilium_dual_stack_node_moves_both_families_and_keeps_node_addresses():
    objs = {"CiliumNode": [("/registry/cilium.io/ciliumnodes/node-1", CILIUM_NODE)],
            "ConfigMap": [("/registry/configmaps/kube-system/cilium-config", CILIUM_CONFIG)],
            "Node": [node("node-1", {"io.cilium.network.ipv4-pod-cidr": "10.0.1.0/24",
                                     "io.cilium.network.ipv6-pod-cidr": "fd00::100/120",
                                     "io.cilium.network.ipv4-cilium-host": "10.0.1.217",
                                     "io.cilium.network.ipv4-health-ip": "10.0.1.46",
                                     "io.cilium.network.ipv6-health-ip": "fd00::1c7"})]}
    ctx = context(DUAL, objs)
    cilium.run(ctx)
    got = edits(ctx)
    assert got["/registry/cilium.io/ciliumnodes/node-1"] == (None, replaced(
        CILIUM_NODE, ('"10.0.1.0/24"', '"10.80.1.0/24"'), ('"fd00::100/120"', '"fd00:80::100/120"'),
        ('"10.0.1.217"', '"10.80.1.217"'), ('"fd00::1a3"', '"fd00:80::1a3"'), ('"10.0.1.46"', '"10.80.1.46"'),
        ('"fd00::1c7"', '"fd00:80::1c7"'), ('"10.0.1.17"', '"10.80.1.17"')))  # InternalIPs (the host's) stay
    conf = json.loads(got["/registry/configmaps/kube-system/cilium-config"][1])["data"]
    assert conf == {**json.loads(CILIUM_CONFIG)["data"], "cluster-pool-ipv4-cidr": "10.80.0.0/16",
                    "cluster-pool-ipv6-cidr": "fd00:80::/104"}  # mask sizes as they were
    ann = json.loads(got["/registry/minions/node-1"][1])["metadata"]["annotations"]
    assert ann == {"io.cilium.network.ipv4-pod-cidr": "10.80.1.0/24", "io.cilium.network.ipv6-pod-cidr": "fd00:80::100/120",
                   "io.cilium.network.ipv4-cilium-host": "10.80.1.217", "io.cilium.network.ipv4-health-ip": "10.80.1.46",
                   "io.cilium.network.ipv6-health-ip": "fd00:80::1c7"}
    assert ctx.plan.cni == {"cilium": ["10.0.0.0/16", "fd00::/104"]}


def test_cilium_one_family_mapped_leaves_the_other():
    objs = {"CiliumNode": [("/registry/cilium.io/ciliumnodes/node-1", CILIUM_NODE)]}
    ctx = context(DUAL[:1], objs)
    cilium.run(ctx)
    value = edits(ctx)["/registry/cilium.io/ciliumnodes/node-1"][1]
    assert '"fd00::100/120"' in value and '"10.80.1.0/24"' in value and "10.0.1." not in value


# -- kube-router ------------------------------------------------------------------------------------------


def test_kube_router_annotations_move_item_by_item():
    objs = {"Node": [node("node-1", {"kube-router.io/pod-cidr": "10.32.1.0/24",
                                     "kube-router.io/pod-cidrs": "10.32.1.0/24,fd00:32:0:1::/64",
                                     "kube-router.io/node.asn": "64512"})]}
    ctx = context(["10.32.0.0/16=10.70.0.0/16", "fd00:32::/48=fd00:70::/48"], objs)
    kuberouter.run(ctx)
    key, value = objs["Node"][0]
    assert edits(ctx)[key] == (None, replaced(value, ('"10.32.1.0/24"', '"10.70.1.0/24"'),
                                              ('"10.32.1.0/24,fd00:32:0:1::/64"', '"10.70.1.0/24,fd00:70:0:1::/64"')))


# -- workloads and conflists ------------------------------------------------------------------------------


@pytest.mark.parametrize("value,want", [
    ("192.168.0.0/16", "10.60.0.0/16"),
    ("192.168.0.0/16,fd00:10:244::/56", "10.60.0.0/16,fd00:66::/56"),
    ("192.168.0.0/24", None),  # a subnet of the old pod CIDR is not the pod CIDR: left as it is
    ("192.168.0.1", None),
    ("192.168.0.0/16,10.1.0.0/16", None),  # not every item is an old pod CIDR
    ("10.244.0.0/16", None),
    ("", None),
])
def test_workload_env_values_move_only_when_exactly_an_old_pod_cidr(value, want):
    cmap = CidrMap.parse(["192.168.0.0/16=10.60.0.0/16", "fd00:10:244::/56=fd00:66::/56"])
    assert cniconfig._exact(cmap, value) == want


@pytest.mark.parametrize("arg,want", [
    ("--cluster-cidr=192.168.0.0/16", "--cluster-cidr=10.60.0.0/16"),
    ("--cluster-pool-ipv4-cidr=192.168.0.0/16", "--cluster-pool-ipv4-cidr=10.60.0.0/16"),
    ("-cidr=192.168.0.0/16", "-cidr=10.60.0.0/16"),
    ("192.168.0.0/16", None),  # a bare word is no flag
    ("--cluster-cidr", None),
    ("--cluster-cidr=192.168.0.0/17", None),
    ("--route=192.168.0.0/16 via 172.18.0.1", None),
    ("CIDR=192.168.0.0/16", None),  # not a flag
])
def test_workload_args_move_only_as_a_flag_equal_to_an_old_pod_cidr(arg, want):
    assert cniconfig._arg(CidrMap.parse(["192.168.0.0/16=10.60.0.0/16"]), arg) == want


CONFLIST = ('{\n  "cniVersion": "0.3.1", "name": "k8s-pod-network", "subnet": "192.168.0.0/16",\n  "plugins": [{\n'
            '    "type": "bridge", "ipam": {"type": "host-local", "ranges": [[{"subnet": "192.168.7.0/24", '
            '"rangeStart": "192.168.7.10", "rangeEnd": "192.168.7.200", "gateway": "192.168.7.1"}]],\n'
            '      "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "/var/lib/cni/192.168.7.0"}\n  }]\n}')


def test_conflist_moves_host_local_ipam_ranges_only():
    cm = ("/registry/configmaps/kube-system/cni-config",
          json.dumps({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "cni-config",
                      "namespace": "kube-system"}, "data": {"10-bridge.conflist": CONFLIST, "note": "192.168.0.0/16"}}))
    ctx = context(["192.168.0.0/16=10.60.0.0/16"], {"ConfigMap": [cm]})
    cniconfig.run(ctx)
    data = json.loads(edits(ctx)[cm[0]][1])["data"]
    assert data["10-bridge.conflist"] == replaced(
        CONFLIST, ('"192.168.7.0/24"', '"10.60.7.0/24"'), ('"192.168.7.10"', '"10.60.7.10"'),
        ('"192.168.7.200"', '"10.60.7.200"'), ('"192.168.7.1"', '"10.60.7.1"'))
    # outside ipam (a top-level "subnet"), a dataDir path, a plain text entry: not a host-local range, they stay
    assert '"subnet": "192.168.0.0/16"' in data["10-bridge.conflist"] and data["note"] == "192.168.0.0/16"


def test_conflist_skips_the_cni_rules_own_entries():
    cm = flannel_cm("kube-system", NET_CONF.replace('"Backend"', '"ipam": {"subnet": "10.244.0.0/16"}, "Backend"'))
    ctx = context(["10.244.0.0/16=10.66.0.0/16"], {"ConfigMap": [cm]})
    cniconfig.run(ctx)
    assert ctx.plan.edits == []  # net-conf.json belongs to the flannel rule


# -- shared helpers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,want", [
    ("192.168.136.64", "10.60.136.64"),
    ("192.168.136.64/26", "10.60.136.64/26"),
    ("192.168.136.65/16", "10.60.136.65/16"),  # an interface address keeps its host bits and prefix
    ("172.18.1.1/24", None),
    ("192.0.0.0/8", None),  # a supernet of the old range is not an address of it
    ("not-an-ip", None),
])
def test_move_text(text, want):
    assert cni.move_text(CidrMap.parse(["192.168.0.0/16=10.60.0.0/16"]), text) == want


def test_move_text_refuses_an_address_that_does_not_fit_the_new_range():
    with pytest.raises(PlanError, match="192.168.200.0/26 does not fit"):
        cni.move_text(CidrMap.parse(["192.168.0.0/16=10.60.0.0/17"]), "192.168.200.0/26")


def test_flannel_etcd_keys_under_a_custom_prefix_are_found_by_shape_and_renamed():
    prefix = "/mycluster/flannel/network"
    items = [(f"{prefix}/config", '{"Network":"10.244.0.0/16","SubnetLen":24,"Backend":{"Type":"vxlan"}}'),
             (f"{prefix}/subnets/10.244.3.0-24", '{"PublicIP":"172.18.1.3","BackendType":"vxlan"}'),
             (f"{prefix}/subnets/10.244.4.0-24", '{"PublicIP":"172.18.1.4","BackendType":"vxlan"}'),
             ("/registry/minions/subnets/10.244.9.0-24", "{}"),  # below the Kubernetes root: not flannel's
             ("/other/app/config", '{"listen":"10.244.0.1"}')]  # a /config key without flannel's shape
    ctx = context(["10.244.0.0/16=10.66.0.0/16"], {"FlannelKey": items})
    seen = flannel.observer(ctx.options)
    for obj in ctx.objects.pop("FlannelKey"):
        seen.visit(obj.key, memoryview(obj.revkey), memoryview(b""))
    ctx.observed[flannel.name] = seen
    flannel.run(ctx)
    got = edits(ctx)
    assert got[f"{prefix}/config"] == (None, items[0][1].replace("10.244.0.0/16", "10.66.0.0/16"))
    for n in (3, 4):  # a lease keeps its value (node addresses) and moves its key
        assert got[f"{prefix}/subnets/10.244.{n}.0-24"] == (f"{prefix}/subnets/10.66.{n}.0-24", items[n - 2][1])
    assert set(got) == {f"{prefix}/config", f"{prefix}/subnets/10.244.3.0-24", f"{prefix}/subnets/10.244.4.0-24"}
    assert {(c.field, c.old, c.new) for c in ctx.plan.changes if c.new_key} == {
        ("(key)", f"{prefix}/subnets/10.244.{n}.0-24", f"{prefix}/subnets/10.66.{n}.0-24") for n in (3, 4)}
    assert ctx.plan.cni == {"flannel": ["10.244.0.0/16"]}


class FakeSealed:
    label = "fake/key1"


class FakeCrypt:
    """Stands in for an EncryptionConfig: a sealed value is ``k8s:enc:fake:v1:key1:`` + the plaintext reversed."""

    PREFIX = b"k8s:enc:fake:v1:key1:"

    def open(self, etcd_key: bytes, value: bytes):
        assert value.startswith(self.PREFIX), value[:30]
        return bytes(value[len(self.PREFIX):])[::-1], FakeSealed()

    def seal(self, etcd_key: bytes, plaintext: bytes, sealed) -> bytes:
        return self.PREFIX + plaintext[::-1]


def test_two_rules_editing_one_encrypted_node_edit_its_plaintext_and_seal_it_again():
    crypt = FakeCrypt()
    key, plain = node("node-1", {"kube-router.io/pod-cidr": "10.0.1.0/24", "io.cilium.network.ipv4-pod-cidr": "10.0.1.0/24"})
    ctx = context(["10.0.0.0/16=10.80.0.0/16"], {"Node": [(key, crypt.seal(b"", plain.encode(), None).decode("latin-1"))],
                                                 "ConfigMap": [("/registry/configmaps/kube-system/cilium-config",
                                                                CILIUM_CONFIG)]})
    for obj in ctx.objects["Node"]:
        obj.crypt = crypt
    kuberouter.run(ctx)
    cilium.run(ctx)  # edits the value kuberouter's edit left: its plaintext, not the sealed bytes
    edit = next(e for e in ctx.plan.edits if e.key == key.encode())
    assert edit.sealed_with == "fake/key1" and edit.new_value.startswith(FakeCrypt.PREFIX)
    assert crypt.open(edit.key, edit.new_value)[0].decode() == plain.replace('"10.0.1.0/24"', '"10.80.1.0/24"')
    assert len(edit.changes) == 2
