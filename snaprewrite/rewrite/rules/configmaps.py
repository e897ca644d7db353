"""kube-system ConfigMaps that carry the CIDRs as embedded YAML: kubeadm-config, kubelet-config, kube-proxy.

Only the values change; every other character of the embedded YAML (comments, order, quoting) stays
(``yamledit``). Fields are reported as ``data.<data key>:<path in the YAML>``, e.g.
``data.ClusterConfiguration:networking.serviceSubnet`` or ``data.kubelet:clusterDNS[0]``.
"""

from collections.abc import Callable

from ...errors import DecodeError, PlanError
from ...k8s import envelope, splice
from ..cidr import each_csv_item
from ..plan import Change, Context, Edit, Object
from ..yamledit import EACH, Match, path_text, replace_scalars
from .addresses import field_path, read_fields

name = "configmaps"
kind = "ConfigMap"
prefixes = (b"configmaps/",)  # relative to the layout root
NAMESPACE = "kube-system"

Transform = Callable[[str], str | None]


def _arg_paths(component: str, flag: str) -> list[tuple]:
    """_arg_paths selects a component flag in kubeadm's extraArgs, map form (v1beta3) or list form (v1beta4)."""
    return [(component, "extraArgs", flag), (component, "extraArgs", Match("name", flag), "value")]


def _edits_for(ctx: Context, obj: Object) -> list[tuple[str, list[tuple[tuple, Transform]]]]:
    """_edits_for lists (data key, [(YAML path, transform)]) for one of the known ConfigMaps."""
    obj_name = obj.name
    services = each_csv_item(ctx.options.service_map.rewrite_subnet)
    pods = each_csv_item(ctx.options.pod_map.rewrite_subnet)

    def dns(ip: str) -> str | None:
        if ip in ctx.kept_ips:  # kube-dns excluded: kubelets keep pointing at it (reduced-downtime variant)
            ctx.excluded.add(obj.key)
            return None
        return ctx.moved_ips.get(ip) or ctx.options.service_map.rewrite_ip(ip)

    if obj_name == "kubeadm-config":
        paths = [(("networking", "serviceSubnet"), services), (("networking", "podSubnet"), pods)]
        for p in _arg_paths("apiServer", "service-cluster-ip-range") + \
                _arg_paths("controllerManager", "service-cluster-ip-range"):
            paths.append((p, services))
        for p in _arg_paths("controllerManager", "cluster-cidr"):
            paths.append((p, pods))
        return [("ClusterConfiguration", paths)]
    if obj_name == "kubelet-config" or obj_name.startswith("kubelet-config-"):
        return [("kubelet", [(("clusterDNS", EACH), dns)])]
    if obj_name == "kube-proxy":
        return [("config.conf", [(("clusterCIDR",), pods)])]
    return []


def label(data_key: str, path: tuple) -> str:
    """label names a scalar inside a data entry as the report does: ``data.kubelet:clusterDNS[0]``."""
    return f"data.{data_key}:{path_text(path)}"


def _data(obj: Object, data_key: str) -> tuple[object, list[str | None], int]:
    """_data returns (field path, aligned replacement list, index) locating one data entry's value."""
    env = envelope.parse(obj.value)
    if env.storage == envelope.JSON:
        return ("data", data_key), [None], 0
    keys = read_fields(obj, "v1", ("data", "key"))
    if data_key not in keys:
        return None, [], -1
    return field_path(obj, "v1", ("data", "value")), [None] * len(keys), keys.index(data_key)


def run(ctx: Context) -> None:
    """run plans the value edits inside the known kube-system ConfigMaps."""
    for obj in ctx.objects.get(kind, []):
        plan = _edits_for(ctx, obj) if obj.namespace == NAMESPACE else []
        if not plan:
            continue
        if obj.excluded:
            ctx.excluded.add(obj.key)
            continue
        edits: dict = {}
        changes: list[Change] = []
        for data_key, paths in plan:
            path, replacement, index = _data(obj, data_key)
            if path is None:
                continue
            text = splice.get_fields(obj.value, path)[index]
            try:
                new_text, done = replace_scalars(text, paths)
            except PlanError as e:
                raise PlanError(f"{obj.key_text}: data.{data_key}: {e}") from None
            if not done:
                continue
            replacement[index] = new_text
            edits[path] = replacement
            changes.extend(Change(obj.key_text, kind, obj.namespace, obj.name, label(data_key, c.path), c.old, c.new)
                           for c in done)
        if edits:
            try:
                value = splice.set_fields(obj.value, edits)
            except (DecodeError, ValueError) as e:
                raise PlanError(f"{obj.key_text}: cannot rewrite ({e})") from None
            ctx.plan.edits.append(Edit.of(obj, value, changes))
