"""IPAddress objects (networking.k8s.io, Kubernetes 1.31+): one per allocated service IP, named by the IP.

A moved service IP renames its IPAddress: new key ``<root>ipaddresses/<new ip>``, new
``metadata.name``, same ``spec.parentRef``. This rule only decides the rename; the records it takes
(the new key's generation, the old key's deletion, an exact undo of an earlier rename) are the etcd
layer's (``etcd.writes``), which reads the histories the planning scan gathers for ``renames`` rules.
"""

from ...errors import PlanError
from ...k8s import located
from ..plan import Change, Context, Edit, Warning
from .addresses import field_path, read_fields, replace_single, rewrite_value

name = "ipaddresses"
kind = "IPAddress"
prefixes = (b"ipaddresses/",)  # relative to the layout root
API = "networking.k8s.io/v1"
PREFIX = prefixes[0]
renames = True  # keys under ``prefixes`` may change: the planner gathers their histories
NAME = (("metadata", "name"),)


def run(ctx: Context) -> None:
    """run renames the IPAddress of every moved service IP."""
    existing = {o.name for o in ctx.objects.get(kind, [])}
    for obj in ctx.objects.get(kind, []):
        new_ip = ctx.moved_ips.get(obj.name)
        if obj.name in ctx.kept_ips:  # its Service was excluded and keeps this address
            ctx.excluded.add(obj.key)
            continue
        if new_ip is None:
            m = ctx.options.service_map.map_ip(obj.name)
            if m is not None and m.new != obj.name:
                ctx.plan.warnings.append(Warning(obj.key_text, "IPAddress in an old service CIDR has no moved "
                                                 "Service; left as it is"))
            continue
        if new_ip in existing and ctx.moved_ips.get(new_ip) is None:
            raise PlanError(f"{obj.key_text}: cannot rename to {new_ip}: an IPAddress of that name exists")
        value = _renamed(obj, new_ip)
        if value is None:  # not one plain metadata.name equal to the key's: the careful path says why
            name_path = field_path(obj, API, ("metadata", "name"))
            value = replace_single(obj, name_path, obj.name, new_ip)
        if value is None:
            if read_fields(obj, API, ("metadata", "name")) != [obj.name]:
                raise PlanError(f"{obj.key_text}: metadata.name does not match the key")
            value = rewrite_value(obj, {name_path: [new_ip]})
        new_key = ctx.layout.key(PREFIX + new_ip.encode())
        change = Change(obj.key_text, kind, "", obj.name, "metadata.name", obj.name, new_ip,
                        new_key=new_key.decode())
        ctx.plan.edits.append(Edit.of(obj, value, [change], new_key=new_key))


def _renamed(obj, new_ip: str) -> bytes | None:
    """_renamed is the value with ``metadata.name`` set to ``new_ip``, in one walk of a plain protobuf value.

    None unless the walk finds the one name and it is the key's: then ``replace_single`` gives these
    bytes (``tests/rewrite/test_rules_fast.py``); otherwise the rule asks it (and the careful path).
    """
    loc = located.locate(obj.value, NAME)
    if loc is None or loc.texts[0] != [obj.name]:
        return None
    return loc.rewrite(obj.value, {loc.paths[0]: [new_ip]})
