"""Which CNI a snapshot's cluster runs, and its pools, from the few objects that say so (``status``'s ``cni``).

Reads only the records named by an index of live keys the caller already has (``status`` builds one
in its single pass): Calico IPPools (``spec.cidr``), Cilium's ``cilium-config`` cluster-pool CIDRs (or
its CiliumNodes' pod CIDRs), flannel's ``kube-flannel-cfg`` net-conf ``Network``/``IPv6Network`` and
its own etcd keys (``<prefix>/config``), kube-router's Node annotations (else the Nodes' podCIDRs)
when a kube-router DaemonSet is there. Result: ``[{"name": "calico", "pools": ["192.168.0.0/16"]}, ...]`` sorted by name.
"""

import json
import re
from itertools import compress, repeat
from operator import not_

from ..errors import DecodeError
from ..etcd import mvcc
from ..etcd.snapshot import Snapshot
from ..k8s.layout import DEFAULT_ROOT

# Relative to the layout root (``/registry/``, ``/kubernetes.io/``, a --prefix); flannel's keys lie outside it.
# ``facts.NODES`` and ``rules.flannel``'s key patterns, repeated here so ``status`` does not load the rules
# (``tests/rewrite/test_cnifind_imports.py`` holds them equal).
NODES = b"minions/"
SUBNET_KEY = re.compile(rb"^(/.+)/subnets/(\d+\.\d+\.\d+\.\d+-\d+(?:&[0-9A-Fa-f:]+-\d+)?)$")
CONFIG_KEY = re.compile(rb"^(/.+)/config$")
CALICO_POOLS = b"crd.projectcalico.org/ippools/"
CILIUM_NODES = b"cilium.io/ciliumnodes/"
CONFIGMAPS = b"configmaps/"
DAEMONSETS = b"daemonsets/"

def _object(snap: Snapshot, revkey: bytes) -> dict | None:
    from ..k8s.decode import decode_value

    try:
        return decode_value(mvcc.record_at(snap, revkey).kv.value)
    except DecodeError:
        return None


def _json(text) -> dict:
    try:
        doc = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def keeper(root: bytes = DEFAULT_ROOT):
    """keeper is ``find``'s choice of keys, for a scan that keeps only those keys' latest bbolt keys (``livecount.Keep``).

    ``find`` given the index of just these keys answers as given the index of every key.
    """
    pools_at, cilium_at, configmaps_at, daemonsets_at, nodes_at = (
        root + p for p in (CALICO_POOLS, CILIUM_NODES, CONFIGMAPS, DAEMONSETS, NODES))
    heads = (pools_at, cilium_at, configmaps_at, daemonsets_at, nodes_at)
    startswith = bytes.startswith
    line_heads = [b"\n" + h for h in heads]
    outside_line = re.compile(b"\n(?!" + re.escape(root) + b")")

    def keep(keys: list[bytes]) -> list[int]:
        joined = b"\n" + b"\n".join(keys)  # each key starts a line: a leaf with none of them is passed over at once
        if not any(h in joined for h in line_heads) and not outside_line.search(joined):
            return []
        out = [i for i in compress(range(len(keys)), map(startswith, keys, repeat(heads)))
               if not keys[i].startswith(configmaps_at) or keys[i].endswith((b"/cilium-config", b"/kube-flannel-cfg"))
               if not keys[i].startswith(daemonsets_at) or keys[i].endswith(b"/kube-router")]
        outside = [i for i in compress(range(len(keys)), map(not_, map(startswith, keys, repeat(root))))
                   if CONFIG_KEY.match(keys[i]) or SUBNET_KEY.match(keys[i])]
        return sorted(out + outside) if outside else out

    return keep


def find(snap: Snapshot, index: dict[bytes, bytes], root: bytes = DEFAULT_ROOT) -> list[dict]:
    """find names the CNIs found through ``index`` (live key -> bbolt key of its last record) and their pools.

    ``root`` is the layout's key root (``k8s.layout``): the CNIs' Kubernetes objects lie below it.
    """
    pools_at, cilium_at, configmaps_at, daemonsets_at, nodes_at = (
        root + p for p in (CALICO_POOLS, CILIUM_NODES, CONFIGMAPS, DAEMONSETS, NODES))
    wanted = (pools_at, cilium_at, configmaps_at, daemonsets_at)
    found: dict[str, list[str]] = {}
    live = {k: rk for k, rk in index.items() if len(rk) == 17 and (k.startswith(wanted) or not k.startswith(root))}
    kube_router = False
    for key in sorted(live):
        if key.startswith(pools_at):
            obj = _object(snap, live[key]) or {}
            found.setdefault("calico", []).append(str(obj.get("spec", {}).get("cidr", "")))
        elif key.startswith(cilium_at):
            found.setdefault("cilium", [])
        elif key.startswith(configmaps_at) and key.endswith((b"/cilium-config", b"/kube-flannel-cfg")):
            data = (_object(snap, live[key]) or {}).get("data") or {}
            if key.endswith(b"/cilium-config"):
                found.setdefault("cilium", []).extend(
                    c for k in ("cluster-pool-ipv4-cidr", "cluster-pool-ipv6-cidr") for c in data.get(k, "").split())
            else:
                net = _json(data.get("net-conf.json"))
                found.setdefault("flannel", []).extend(net[k] for k in ("Network", "IPv6Network") if k in net)
        elif key.startswith(daemonsets_at) and key.endswith(b"/kube-router"):
            kube_router = True
        elif not key.startswith(root) and CONFIG_KEY.match(key):
            net = _json(bytes(mvcc.record_at(snap, live[key]).kv.value))
            if "Network" in net:
                found.setdefault("flannel", []).extend(net[k] for k in ("Network", "IPv6Network") if k in net)
        elif not key.startswith(root) and SUBNET_KEY.match(key):
            found.setdefault("flannel", [])
    if "cilium" in found and not found["cilium"]:
        for key in sorted(k for k in live if k.startswith(cilium_at)):
            obj = _object(snap, live[key]) or {}
            found["cilium"].extend(obj.get("spec", {}).get("ipam", {}).get("podCIDRs", []))
    if kube_router:  # its pools: the nodes' kube-router.io/pod-cidr annotations, else their podCIDRs
        pools = found.setdefault("kube-router", [])
        for key, rk in sorted(index.items()):
            if key.startswith(nodes_at) and len(rk) == 17:
                node = _object(snap, rk) or {}
                ann = (node.get("metadata") or {}).get("annotations") or {}
                cidrs = [c for c in ann.get("kube-router.io/pod-cidr", "").split(",") if c]
                pools.extend(cidrs or (node.get("spec") or {}).get("podCIDRs") or [])
    return [{"name": name, "pools": list(dict.fromkeys(p for p in pools if p))} for name, pools in sorted(found.items())]
