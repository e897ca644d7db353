"""CNI settings outside the CNIs' own objects: workload env/args and host-local IPAM conflists in ConfigMaps.

* DaemonSets and Deployments (apps/v1, protobuf): a container's (or init container's) env ``value``
  that is exactly an old pod CIDR (``CALICO_IPV4POOL_CIDR=192.168.0.0/16``), or a ``command``/``args``
  item ``--flag=<old pod CIDR>`` (``--cluster-cidr=``, ``--cluster-pool-ipv4-cidr=``), becomes the new
  CIDR. Comma-separated dual-stack values move item by item; nothing else in the template changes.
* ConfigMaps holding a CNI config (JSON, templates with bare ``__PLACEHOLDERS__`` too): inside ``ipam``,
  the ``subnet``, ``rangeStart``, ``rangeEnd`` and ``gateway`` of host-local ranges and Calico's
  ``ipv4_pools``/``ipv6_pools`` entries that lie in an old pod CIDR move at their offset.

Changing a DaemonSet's template makes its controller roll its pods when the control plane starts: the
runbook says to restart the CNI agents anyway.
"""

from ...errors import DecodeError, PlanError
from ...k8s import envelope, registry, splice
from .. import jsonedit
from ..cidr import CidrMap
from ..plan import Change, Context, Object
from . import cni
from .addresses import field_path

name = "cniconfig"
kind = "DaemonSet"
prefixes = {b"daemonsets/": "DaemonSet", b"deployments/": "Deployment",  # relative to the layout root
            cni.CONFIGMAP_PREFIX: "ConfigMap"}
API = "apps/v1"
IPAM_FIELDS = ("subnet", "rangeStart", "rangeEnd", "gateway")
POOL_LISTS = ("ipv4_pools", "ipv6_pools")
OWN_CONFIGS = {"kube-flannel-cfg": ("net-conf.json",), "cilium-config": ()}  # the CNI rules' own entries


def _exact(cmap: CidrMap, text: str) -> str | None:
    """_exact moves a value that is exactly an old pod CIDR (or a comma list of them)."""
    olds = {str(m.old): str(m.new) for m in cmap if not m.is_noop}
    items = text.split(",")
    if not items or any(i.strip() not in olds for i in items):
        return None
    return ",".join(i.replace(i.strip(), olds[i.strip()]) for i in items)


def _arg(cmap: CidrMap, arg: str) -> str | None:
    flag, sep, value = arg.partition("=")
    if not sep or not flag.startswith("-"):
        return None
    new = _exact(cmap, value)
    return None if new is None else f"{flag}={new}"


def _workload(ctx: Context, obj: Object) -> None:
    cmap = ctx.options.pod_map
    value = obj.value
    env = envelope.parse(value)
    if env.storage != envelope.PROTOBUF or (env.api_version, env.kind) != (API, obj.kind):
        return
    msg = registry.message_class(API, obj.kind)()
    try:
        msg.ParseFromString(env.raw(value))
    except Exception as e:  # noqa: BLE001 - protobuf raises its own DecodeError types
        raise PlanError(f"{obj.key_text}: cannot decode ({e}); refusing to rewrite") from None
    edits: dict = {}
    changes: list[Change] = []
    for group in ("containers", "initContainers"):
        containers = getattr(msg.spec.template.spec, group)
        values: list[str | None] = []
        for ci, c in enumerate(containers):
            for ei, e in enumerate(c.env):
                if not e.HasField("value"):
                    continue
                new = _exact(cmap, e.value)
                values.append(new)
                if new is not None:
                    changes.append(Change(obj.key_text, obj.kind, obj.namespace, obj.name,
                                          f"spec.template.spec.{group}[{ci}].env[{ei}].value", e.value, new))
        if any(v is not None for v in values):
            edits[field_path(obj, API, ("spec", "template", "spec", group, "env", "value"))] = values
        for list_name in ("command", "args"):
            items: list[str | None] = []
            for ci, c in enumerate(containers):
                for i, a in enumerate(getattr(c, list_name)):
                    new = _arg(cmap, a)
                    items.append(new)
                    if new is not None:
                        changes.append(Change(obj.key_text, obj.kind, obj.namespace, obj.name,
                                              f"spec.template.spec.{group}[{ci}].{list_name}[{i}]", a, new))
            if any(v is not None for v in items):
                edits[field_path(obj, API, ("spec", "template", "spec", group, list_name))] = items
    if not edits:
        return
    if obj.excluded:
        ctx.excluded.add(obj.key)
        return
    try:
        new_value = splice.set_fields(cni.current_value(ctx, obj), edits)
    except (DecodeError, ValueError) as e:
        raise PlanError(f"{obj.key_text}: cannot rewrite ({e})") from None
    cni.put_edit(ctx, obj, new_value, changes)


def _conflist(ctx: Context, obj: Object) -> None:
    cmap = ctx.options.pod_map
    skip = OWN_CONFIGS.get(obj.name)
    if skip == ():
        return
    try:
        data = cni.configmap_data(obj)
    except PlanError:
        return  # encrypted or undecodable: no conflist can be seen (nor edited) in it
    new_data, changes = {}, []
    for key, text in data.items():
        if (skip and key in skip) or not text.lstrip().startswith("{") or '"ipam"' not in text:
            continue

        def tf(ref) -> str | None:
            if ref.is_key or "ipam" not in ref.path:
                return None
            last = ref.path[-1]
            parent = ref.path[-2] if len(ref.path) > 1 else None
            if last in IPAM_FIELDS or (isinstance(last, int) and parent in POOL_LISTS):
                return cni.move_text(cmap, ref.value)
            return None

        try:
            new_text, done = cni.edit_json_text(text, f"{obj.key_text}: data.{key}", tf)
        except PlanError:
            continue  # not a JSON document after all (a shell script that mentions "ipam")
        if done:
            new_data[key] = new_text
            changes.extend(Change(obj.key_text, "ConfigMap", obj.namespace, obj.name,
                                  f"data.{key}:{jsonedit.label(ref.path)}", ref.value, new) for ref, new in done)
    if changes and obj.excluded:
        ctx.excluded.add(obj.key)
        return
    cni.set_configmap_data(ctx, obj, new_data, changes)


def run(ctx: Context) -> None:
    """run moves pod CIDRs in CNI workloads' env/args and in host-local IPAM conflists."""
    if not ctx.options.pod_map.mappings:
        return
    for k in ("DaemonSet", "Deployment"):
        for obj in ctx.objects.get(k, []):
            _workload(ctx, obj)
    for obj in ctx.objects.get("ConfigMap", []):
        _conflist(ctx, obj)
        obj.clear()  # its record and fields: thousands of ConfigMaps' held until the rule ends weighed ~25 MB
