"""Cilium's cluster-pool IPAM state moved with the pod CIDR.

* CiliumNode (``<root>cilium.io/ciliumnodes/<node>``, cilium.io/v2, stored as JSON):
  ``spec.ipam.podCIDRs[i]`` and every other address of the node's own pod range it holds (the
  ``CiliumInternalIP`` of ``spec.addresses``, ``spec.health.ipv4``/``ipv6``, ``spec.ingress``,
  IPs that key ``spec.ipam.pool``), each at its offset in the new pod CIDR.
* ConfigMap ``cilium-config`` (any namespace): ``cluster-pool-ipv4-cidr``, ``cluster-pool-ipv6-cidr``
  (space-separated lists allowed) and the native-routing CIDRs when they lie in an old pod CIDR; the
  mask sizes (``cluster-pool-ipv4-mask-size``) are unchanged.
* The Node annotations Cilium writes: ``io.cilium.network.ipv4-pod-cidr``, ``ipv4-cilium-host``,
  ``ipv4-health-ip`` and the IPv6 twins.

CiliumEndpoints keep the pods' old addresses: Cilium rebuilds them when the pods are recreated.
"""

import json

from ..plan import Change, Context
from . import cni

name = "cilium"
kind = "CiliumNode"
NODES = b"cilium.io/ciliumnodes/"  # relative to the layout root
prefixes = {NODES: "CiliumNode", cni.CONFIGMAP_PREFIX: "ConfigMap", cni.NODE_PREFIX: "Node"}
CONFIG = "cilium-config"
CONFIG_KEYS = ("cluster-pool-ipv4-cidr", "cluster-pool-ipv6-cidr", "ipv4-native-routing-cidr",
               "ipv6-native-routing-cidr", "native-routing-cidr")
POOL_KEYS = CONFIG_KEYS[:2]
ANNOTATIONS = tuple(f"io.cilium.network.{a}" for a in (
    "ipv4-pod-cidr", "ipv6-pod-cidr", "ipv4-cilium-host", "ipv6-cilium-host", "ipv4-health-ip", "ipv6-health-ip"))


def _each_word(cmap, text: str) -> str | None:
    """_each_word moves every address of a space- or comma-separated list, keeping the separators."""
    out, changed = [], False
    for sep_part in text.split(" "):
        items = []
        for item in sep_part.split(","):
            new = cni.move_text(cmap, item) if item else None
            items.append(new if new is not None else item)
            changed |= new is not None
        out.append(",".join(items))
    return " ".join(out) if changed else None


def run(ctx: Context) -> None:
    """run moves CiliumNodes, the cilium-config pool CIDRs and Cilium's Node annotations."""
    cmap = ctx.options.pod_map
    configs = [o for o in ctx.objects.get("ConfigMap", []) if o.name == CONFIG]
    found = bool(ctx.objects.get("CiliumNode") or configs)
    if not found:
        return
    pools = ctx.plan.cni.setdefault("cilium", [])
    for obj in configs:
        data = cni.configmap_data(obj)
        pools.extend(c for k in POOL_KEYS for c in data.get(k, "").replace(",", " ").split() if c)
        if not cmap.mappings or obj.excluded:
            continue
        new_data, changes = {}, []
        for k in CONFIG_KEYS:
            if k in data:
                new = _each_word(cmap, data[k])
                if new is not None:
                    new_data[k] = new
                    changes.append(Change(obj.key_text, "ConfigMap", obj.namespace, obj.name, f"data.{k}",
                                          data[k], new))
        cni.set_configmap_data(ctx, obj, new_data, changes)
    if not pools:  # no cilium-config: the nodes' own pod CIDRs are what is known
        pools.extend(sorted({c for o in ctx.objects.get("CiliumNode", [])
                             for c in json.loads(cni.json_object(o)).get("spec", {}).get("ipam", {}).get("podCIDRs", [])}))
    if not cmap.mappings:
        return
    for obj in ctx.objects.get("CiliumNode", []):
        if obj.excluded:
            ctx.excluded.add(obj.key)
            continue
        text = cni.json_object(obj)
        new_text, done = cni.edit_json_text(
            text, obj.key_text,
            lambda ref: cni.moved_token(cmap, ref) if ref.path[:1] == ("spec",) or ref.is_key else None)
        cni.put_edit(ctx, obj, new_text.encode("utf-8"), cni.token_changes(obj, text, done))

    def node_tf(key: str, value: str) -> str | None:
        return cni.move_text(cmap, value) if key in ANNOTATIONS else None

    for obj in ctx.objects.get("Node", []):
        if not obj.excluded:
            cni.edit_annotations(ctx, obj, node_tf)
