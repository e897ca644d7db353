"""IPAddress objects (networking.k8s.io, Kubernetes 1.31+): one per allocated service IP, named by the IP.

A moved service IP renames its IPAddress: new key ``<root>ipaddresses/<new ip>``, new
``metadata.name``, same ``spec.parentRef``. This rule only decides the rename; the records it takes
(the new key's generation, the old key's deletion, an exact undo of an earlier rename) are the etcd
layer's (``etcd.writes``), which reads the histories the planning scan gathers for ``renames`` rules.
"""

from ...errors import PlanError
from ...etcd import writes
from .. import parallel
from ..plan import Change, Context, Edit, Warning
from .addresses import field_path, read_fields, replace_single, rewrite_value

name = "ipaddresses"
kind = "IPAddress"
prefixes = (b"ipaddresses/",)  # relative to the layout root
API = "networking.k8s.io/v1"
PREFIX = prefixes[0]
renames = True  # keys under ``prefixes`` may change: the planner gathers their histories


def run(ctx: Context) -> None:
    """run renames the IPAddress of every moved service IP."""
    existing = {o.name for o in ctx.objects.get(kind, [])}
    todo: list = []  # (object, its new IP), in key order; a PlanError ends it
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
            todo.append(PlanError(f"{obj.key_text}: cannot rename to {new_ip}: an IPAddress of that name exists"))
            break
        todo.append((obj, new_ip))
    # the renamed values are made on two cores; edits and errors follow in key order (as one loop meets them)
    work = [t for t in todo if not isinstance(t, PlanError)]
    made = iter(parallel.halves(renamed, work, "renaming IPAddresses") if ctx.options.crypt is None
                else map(renamed, work))
    for item in todo:
        got = item if isinstance(item, PlanError) else next(made)
        if isinstance(got, PlanError):
            raise got
        obj, new_ip = item
        value, obj.cache["record"] = got
        new_key = ctx.layout.key(PREFIX + new_ip.encode())
        change = Change(obj.key_text, kind, "", obj.name, "metadata.name", obj.name, new_ip,
                        new_key=new_key.decode())
        ctx.plan.edits.append(Edit.of(obj, value, [change], new_key=new_key))


def renamed(item: tuple) -> tuple | PlanError:
    """renamed is (the IPAddress's value with ``metadata.name`` set to its new IP, the record read), or the error.

    The record (without its old value) goes back with the value so that the Edit is made of the same
    record read (possibly in another process: ``parallel.halves``).
    """
    obj, new_ip = item
    try:
        name_path = field_path(obj, API, ("metadata", "name"))
        value = replace_single(obj, name_path, obj.name, new_ip)
        if value is None:  # not one plain metadata.name equal to the key's: the careful path says why
            if read_fields(obj, API, ("metadata", "name")) != [obj.name]:
                raise PlanError(f"{obj.key_text}: metadata.name does not match the key")
            value = rewrite_value(obj, {name_path: [new_ip]})
    except PlanError as e:
        return e
    base = writes.Write.of(obj.key, obj.record, b"").base  # the record without its old value (all an Edit keeps)
    obj.forget()
    return value, base
