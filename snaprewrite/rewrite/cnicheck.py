"""``doctor``'s CNI checks: is each CNI's own address state consistent, as its IPAM and agents need it?

* Calico (crd.projectcalico.org, as ``calicoctl ipam check`` reads it): every IPAMBlock lies inside an
  IPPool (``CalicoBlockOutsidePool``) and is named after its CIDR (``CalicoBlockName``: Calico finds a
  block by that name); every BlockAffinity names an existing block of its node (``CalicoAffinityWithoutBlock``);
  every IPAMHandle's ``spec.block`` keys are existing blocks (``CalicoHandleWithoutBlock``); a Node's
  ``projectcalico.org/IPv4IPIPTunnelAddr``/``VXLANTunnelAddr`` lies in an IPPool (``CalicoTunnelOutsidePool``,
  warning: calico-node allocates a new one).
* Cilium: every CiliumNode's ``spec.ipam.podCIDRs`` lie in ``cilium-config``'s cluster pool
  (``CiliumPodCIDROutsidePool``).
* flannel: ``net-conf.json``'s ``Network`` holds every Node podCIDR (kube-subnet-mgr) and every
  ``/coreos.com/network/subnets/`` lease (``FlannelSubnetOutsideNetwork``: flanneld refuses such a lease).
* kube-router: ``kube-router.io/pod-cidr`` equals the Node's ``spec.podCIDR`` (``KubeRouterPodCIDRMismatch``,
  warning: kube-router prefers the annotation).
"""

import ipaddress
import json

from ..errors import DecodeError
from ..k8s.fields import MAGIC
from .facts import CNI_ABSOLUTE, CNI_PREFIXES, NODES, State, key_text, read_strings

# Relative to the layout root (``State`` joins it), except flannel's own keys, which are absolute.
CALICO = b"crd.projectcalico.org/"
POOLS, BLOCKS, AFFINITIES, HANDLES = (CALICO + r for r in (b"ippools/", b"ipamblocks/", b"blockaffinities/",
                                                            b"ipamhandles/"))
CILIUM_NODES = b"cilium.io/ciliumnodes/"
CONFIGMAPS = b"configmaps/"
FLANNEL = b"/coreos.com/network/"
if CNI_PREFIXES != (CALICO, CILIUM_NODES, CONFIGMAPS) or CNI_ABSOLUTE != (FLANNEL,):  # what State indexes
    raise ImportError("facts.CNI_PREFIXES and cnicheck disagree")
TUNNELS = ("projectcalico.org/IPv4IPIPTunnelAddr", "projectcalico.org/IPv4VXLANTunnelAddr",
           "projectcalico.org/IPv6VXLANTunnelAddr")
ERROR, WARNING = "error", "warning"


def _json(state: State, key: bytes, problems: list) -> dict:
    value = state.value(key)
    try:
        doc = json.loads(value) if value else {}
    except ValueError:
        problems.append(f"{key_text(key)}: cannot decode (not json)")
        return {}
    return doc if isinstance(doc, dict) else {}


def _net(text):
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        return None


def _inside(net, pools) -> bool:
    return net is not None and any(net.version == p.version and net.subnet_of(p) for p in pools)


def _annotations(state: State, key: bytes, value: bytes | None = None) -> tuple[dict[str, str], list[str]]:
    try:
        keys, values, cidrs = read_strings(state.value(key) if value is None else value, "Node", [
            ("metadata", "annotations", "key"), ("metadata", "annotations", "value"), ("spec", "podCIDRs")])
    except DecodeError:
        return {}, []
    return dict(zip(keys, values)), cidrs


def _configmap_data(state: State, name: bytes) -> dict[bytes, dict]:
    out = {}
    for key in state.keys(CONFIGMAPS):
        if key.endswith(b"/" + name):
            try:
                keys, values = read_strings(state.value(key), "ConfigMap", [("data", "key"), ("data", "value")])
            except DecodeError:
                continue
            out[key] = dict(zip(keys, values))
    return out


def _calico(state: State, dx, problems: list) -> None:
    pool_keys = state.keys(POOLS)
    if not pool_keys and not state.keys(BLOCKS):
        return
    pools = [n for n in (_net(_json(state, k, problems).get("spec", {}).get("cidr")) for k in pool_keys) if n]
    blocks: dict[str, str] = {}  # cidr -> node of its affinity ("host:<node>")
    for key in state.keys(BLOCKS):
        spec = _json(state, key, problems).get("spec", {})
        cidr = str(spec.get("cidr", ""))
        blocks[cidr] = str(spec.get("affinity", ""))
        name = key[len(state.key(BLOCKS)):].decode("utf-8", "replace")
        if name != cidr.replace(".", "-").replace(":", "-").replace("/", "-"):
            dx.add(key_text(key), ERROR, "CalicoBlockName", f"IPAMBlock {name} holds {cidr}: Calico looks it up "
                                                             "by the name of its CIDR")
        if not _inside(_net(cidr), pools):
            dx.add(key_text(key), ERROR, "CalicoBlockOutsidePool", f"IPAMBlock {cidr} is in no IPPool "
                                                                   f"({', '.join(map(str, pools)) or 'none'})")
    for key in state.keys(AFFINITIES):
        spec = _json(state, key, problems).get("spec", {})
        cidr, node = str(spec.get("cidr", "")), str(spec.get("node", ""))
        if blocks.get(cidr) != f"host:{node}":
            what = "no such block" if cidr not in blocks else f"the block's affinity is {blocks[cidr]!r}"
            dx.add(key_text(key), ERROR, "CalicoAffinityWithoutBlock",
                   f"BlockAffinity of node {node} names block {cidr}: {what}")
    for key in state.keys(HANDLES):
        for cidr in (_json(state, key, problems).get("spec", {}).get("block") or {}):
            if cidr not in blocks:
                dx.add(key_text(key), ERROR, "CalicoHandleWithoutBlock", f"IPAMHandle counts addresses in block "
                                                                         f"{cidr}, which does not exist")
    for key in state.keys(NODES):
        ann, _ = _annotations(state, key)
        for name in TUNNELS:
            if name in ann and not _inside(_net(ann[name].split("/")[0]), pools):
                dx.add(key_text(key), WARNING, "CalicoTunnelOutsidePool",
                       f"{name} {ann[name]} is in no IPPool; calico-node will allocate another tunnel address")


def _cilium(state: State, dx, problems: list) -> None:
    nodes = state.keys(CILIUM_NODES)
    if not nodes:
        return
    pools = [n for data in _configmap_data(state, b"cilium-config").values()
             for k in ("cluster-pool-ipv4-cidr", "cluster-pool-ipv6-cidr")
             for n in (_net(c) for c in data.get(k, "").replace(",", " ").split()) if n]
    if not pools:
        return
    for key in nodes:
        for cidr in _json(state, key, problems).get("spec", {}).get("ipam", {}).get("podCIDRs") or []:
            if not _inside(_net(cidr), pools):
                dx.add(key_text(key), ERROR, "CiliumPodCIDROutsidePool",
                       f"CiliumNode podCIDR {cidr} is outside the cluster pool {', '.join(map(str, pools))}")


def _flannel(state: State, dx, problems: list) -> None:
    nets = []
    for data in _configmap_data(state, b"kube-flannel-cfg").values():
        try:
            conf = json.loads(data.get("net-conf.json", "{}"))
        except ValueError:
            continue
        nets += [n for n in (_net(conf.get(k)) for k in ("Network", "IPv6Network") if conf.get(k)) if n]
    config = state.value(FLANNEL + b"config")
    etcd_nets = [n for n in (_net(_json(state, FLANNEL + b"config", problems).get(k))
                             for k in ("Network", "IPv6Network")) if n] if config else []
    if nets:
        for key in state.keys(NODES):
            for cidr in _annotations(state, key)[1]:
                if not _inside(_net(cidr), nets):
                    dx.add(key_text(key), ERROR, "FlannelSubnetOutsideNetwork",
                           f"Node podCIDR {cidr} is outside flannel's Network {', '.join(map(str, nets))}")
    if etcd_nets:
        for key in state.keys(FLANNEL + b"subnets/"):
            leaf = key.rsplit(b"/", 1)[1].decode("utf-8", "replace")
            for part in leaf.split("&"):
                addr, _, plen = part.rpartition("-")
                if not _inside(_net(f"{addr}/{plen}"), etcd_nets):
                    dx.add(key_text(key), ERROR, "FlannelSubnetOutsideNetwork",
                           f"lease {addr}/{plen} is outside flannel's Network {', '.join(map(str, etcd_nets))}")


KUBE_ROUTER_CIDR = b"kube-router.io/pod-cidr"


def _kube_router(state: State, dx) -> None:
    keys = state.keys(NODES)
    for key, value in ((k, v) for at in range(0, len(keys), 256) for k, v in  # a few Nodes' values at a time
                       zip(keys[at : at + 256], state.values(keys[at : at + 256]), strict=True)):
        if value is not None and value[:4] == MAGIC and KUBE_ROUTER_CIDR not in value:
            continue  # a protobuf value holds a map key's bytes as they are: no annotation, nothing to say
        ann, cidrs = _annotations(state, key, value)
        if "kube-router.io/pod-cidr" in ann and cidrs and ann["kube-router.io/pod-cidr"] != cidrs[0]:
            dx.add(key_text(key), WARNING, "KubeRouterPodCIDRMismatch",
                   f"kube-router.io/pod-cidr {ann['kube-router.io/pod-cidr']} differs from spec.podCIDR {cidrs[0]}")


def check(state: State, dx) -> None:
    """check adds the CNI findings of ``state`` to the diagnosis ``dx`` (see the module docstring)."""
    problems: list[str] = []
    _calico(state, dx, problems)
    _cilium(state, dx, problems)
    _flannel(state, dx, problems)
    _kube_router(state, dx)
    for p in problems:
        dx.add(p.split(":", 1)[0], ERROR, "Undecodable", p)
