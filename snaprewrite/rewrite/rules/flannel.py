"""flannel's state moved with the pod CIDR: its net-conf.json, and its own etcd keys when they share this etcd.

* ConfigMap ``kube-flannel-cfg`` (any namespace: kube-system, kube-flannel), data ``net-conf.json``:
  ``Network`` and ``IPv6Network`` (``SubnetLen``, ``SubnetMin``/``Max`` sizes unchanged; ``SubnetMin``
  and ``SubnetMax`` addresses move with the range).
* flannel's etcd subnet manager keys (``--etcd-prefix``, default ``/coreos.com/network``, or any prefix
  found by its shape: ``<prefix>/config`` holding a JSON ``Network`` and ``<prefix>/subnets/<a-b-c-d-len>``
  keys): the config's CIDRs, and each subnet key renamed to its moved subnet (``10.244.1.0-24`` ->
  ``10.55.1.0-24``; dual-stack keys ``10.244.1.0-24&fd00:10:244:1::-64`` move both halves). The lease
  values (``PublicIP``, ``BackendType``, ``BackendData``) hold node addresses and stay; the key keeps its lease.

With kube-subnet-mgr, the node's subnet is ``spec.podCIDR`` (the nodes rule); the annotations flannel
writes (``flannel.alpha.coreos.com/public-ip``, ``backend-data``) hold no pod addresses.
"""

import json
import pickle
import re
from itertools import repeat

from ...etcd import revision as revcodec
from ...k8s.layout import KNOWN_ROOTS
from ..plan import Change, Context, Object, Warning
from . import cni

name = "flannel"
kind = "ConfigMap"
prefixes = (cni.CONFIGMAP_PREFIX,)
renames = ()  # subnet keys follow their subnet; their histories come from this rule's observer (found by shape)
CONFIG = "kube-flannel-cfg"
NET_CONF = "net-conf.json"
SUBNET_KEY = re.compile(rb"^(/.+)/subnets/(\d+\.\d+\.\d+\.\d+-\d+(?:&[0-9A-Fa-f:]+-\d+)?)$")
CONFIG_KEY = re.compile(rb"^(/.+)/config$")
NETWORK_FIELDS = ("Network", "IPv6Network", "SubnetMin", "SubnetMax", "IPv6SubnetMin", "IPv6SubnetMax")


class EtcdKeys:
    """Observes the plan's scan: flannel-shaped keys outside the known Kubernetes roots, the bbolt key of their
    last put and of every record (the history a rename needs, as the planner gathers it for indexed keys).

    flannel's keys are absolute (``--etcd-prefix``), never below the layout root; ``run`` also drops any
    found under the root of a ``--prefix`` layout.

    It sees the records a batch of leaves at a time (``visit_batch``; ``visit_page``: a leaf at a time) with the
    user keys the pass made anyway, so it joins the leftovers' search in the forked child (``rewrite.aside.Aside``:
    ``export`` there, ``absorb`` here); the planning pass, with no observer left, then makes only the user keys
    under the rules' prefixes (``etcd.mvcc.Column``). ``visit`` record by record is the plain path (encrypted
    values) and ``tests/rewrite/test_flannel_observer.py`` checks the others find the same."""

    skip = KNOWN_ROOTS  # ``visit`` ignores every key under these: the scan need not call it for them
    rides = True  # it joins the leftovers' pass in the forked child (``rewrite.plan.scan``), never forks one alone

    def __init__(self):
        self.keys: dict[bytes, bytes] = {}
        self.history: dict[bytes, list[bytes]] = {}

    def visit(self, key: bytes, revkey: memoryview, value: memoryview) -> None:
        if key.startswith(KNOWN_ROOTS) or not (key.endswith(b"/config") or b"/subnets/" in key):
            return
        if not (SUBNET_KEY.match(key) or CONFIG_KEY.match(key)):
            return
        rk = bytes(revkey)
        self.history.setdefault(key, []).append(rk)
        if len(rk) != revcodec.REV_BYTES_LEN:
            self.keys.pop(key, None)
        else:
            self.keys[key] = rk

    def visit_batch(self, batch, ukeys: list) -> None:
        """visit_batch is ``visit`` for the records of a batch of leaves (``bbolt.tree.LeafBatch``; ``ukeys`` their
        user keys, None for a record without a value) outside the known roots: usually none, one pass."""
        if None not in ukeys and all(map(bytes.startswith, ukeys, repeat(self.skip))):
            return
        view = batch.view
        for u, k, v, e in zip(ukeys, batch.ks, batch.vs, batch.ends):
            if u is not None and not u.startswith(self.skip):
                self.visit(u, view[k:v], view[v:e])

    def visit_page(self, _run, records: list) -> None:
        """visit_page is ``visit`` for a leaf's (user key, bbolt key, value) records."""
        for u, k, v in records:
            if not u.startswith(self.skip):
                self.visit(u, k, v)

    def export(self) -> bytes:
        """export is what was found, as bytes: a forked child's answer (``rewrite.aside.Aside``); a few keys, if any."""
        return pickle.dumps((self.keys, self.history), pickle.HIGHEST_PROTOCOL)

    def absorb(self, found) -> None:
        """absorb takes what ``export`` gave in the child (a view of it, or a ``spill.Part`` of the file it lies in)."""
        self.keys, self.history = pickle.loads(found.read(0, len(found)) if hasattr(found, "read") else found)


def observer(options) -> EtcdKeys | None:
    """observer finds flannel's etcd keys in the same scan that loads the rules' objects (pod moves only)."""
    return EtcdKeys() if options.pod_map.mappings else None


def subnet_key_name(v4: str, v6: str | None = None) -> str:
    """subnet_key_name is flannel's key of a lease: ``10.244.1.0-24`` (``&<v6 net>-<len>`` when dual-stack)."""
    text = v4.replace("/", "-")
    return text + ("&" + v6.replace("/", "-") if v6 else "")


def _move_subnet_name(cmap, text: str) -> str | None:
    parts = text.split("&")
    out = []
    for p in parts:
        addr, _, plen = p.rpartition("-")
        moved = cni.move_text(cmap, f"{addr}/{plen}")
        out.append(moved.replace("/", "-") if moved else p)
    new = "&".join(out)
    return None if new == text else new


def _net_conf(ctx: Context, obj: Object, text: str) -> tuple[str, list] | None:
    cmap = ctx.options.pod_map

    def tf(ref):
        if not ref.is_key and len(ref.path) == 1 and ref.path[0] in NETWORK_FIELDS:
            return cni.move_text(cmap, ref.value)
        return None

    return cni.edit_json_text(text, f"{obj.key_text}: data.{NET_CONF}", tf)


def _pools_of(text: str) -> list[str]:
    try:
        doc = json.loads(text)
    except ValueError:
        return []
    return [doc[k] for k in ("Network", "IPv6Network") if isinstance(doc, dict) and isinstance(doc.get(k), str)]


def run(ctx: Context) -> None:
    """run moves flannel's net-conf.json and its etcd keys."""
    cmap = ctx.options.pod_map
    pools: list[str] = []
    for obj in ctx.objects.get("ConfigMap", []):
        if obj.name != CONFIG:
            continue
        data = cni.configmap_data(obj)
        if NET_CONF not in data:
            continue
        pools.extend(_pools_of(data[NET_CONF]))
        if not cmap.mappings or obj.excluded:
            continue
        new_text, done = _net_conf(ctx, obj, data[NET_CONF])
        changes = [Change(obj.key_text, "ConfigMap", obj.namespace, obj.name, f"data.{NET_CONF}:{ref.path[0]}",
                          ref.value, new) for ref, new in done]
        cni.set_configmap_data(ctx, obj, {NET_CONF: new_text}, changes)
    seen: EtcdKeys | None = ctx.observed.get(name)
    keys = {k: rk for k, rk in (seen.keys if seen is not None else {}).items() if not k.startswith(ctx.layout.root)}
    for key, revkeys in (seen.history.items() if seen is not None else ()):
        ctx.plan.histories.revkeys.setdefault(key, revkeys)
    by_prefix: dict[bytes, dict] = {}
    for key in keys:
        m = SUBNET_KEY.match(key)
        if m:
            by_prefix.setdefault(m.group(1), {"subnets": []})["subnets"].append(key)
    for key in keys:
        m = CONFIG_KEY.match(key)
        if m:
            by_prefix.setdefault(m.group(1), {"subnets": []})["config"] = key
    for _prefix, found in sorted(by_prefix.items()):
        config = found.get("config")
        objs = {k: Object(k, keys[k], "FlannelConfig" if k == config else "FlannelSubnet", "", k.decode(), ctx.snap)
                for k in ([config] if config else []) + sorted(found["subnets"])}
        if config is not None:
            text = bytes(objs[config].value).decode("utf-8", "replace")
            found_pools = _pools_of(text)
            if not found_pools and not found["subnets"]:
                continue  # some other program's /config key
            pools.extend(found_pools)
        if not cmap.mappings:
            continue
        if config is not None:
            obj = objs[config]
            new_text, done = _net_conf(ctx, obj, bytes(obj.value).decode("utf-8"))
            changes = [Change(obj.key_text, obj.kind, "", obj.key_text, ref.path[0], ref.value, new)
                       for ref, new in done]
            cni.put_edit(ctx, obj, new_text.encode("utf-8"), changes)
        moves: dict[bytes, bytes] = {}
        for key in found["subnets"]:
            leaf = key.rsplit(b"/", 1)[1].decode()
            new_leaf = _move_subnet_name(cmap, leaf)
            if new_leaf is not None:
                moves[key] = key[: -len(leaf)] + new_leaf.encode()
        cni.check_renames(ctx, set(found["subnets"]), moves, "flannel subnet")
        for key, new_key in sorted(moves.items()):
            obj = objs[key]
            change = Change(obj.key_text, obj.kind, "", obj.key_text, "(key)", key.decode(), new_key.decode(),
                            new_key=new_key.decode())
            cni.rename(ctx, obj, bytes(obj.value), [change], new_key)
    if pools:
        ctx.plan.cni["flannel"] = list(dict.fromkeys(pools))
    elif by_prefix and cmap.mappings:
        ctx.plan.warnings.append(Warning(sorted(by_prefix)[0].decode(), "flannel-shaped keys without a config"))

