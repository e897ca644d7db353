"""The service IP allocator's RangeAllocation (``/registry/ranges/serviceips``, ``secondaryserviceips``).

``range`` becomes the new CIDR (as the API server spells its flag) and the allocation bitmap is
rebuilt from every live Service's cluster IPs after the move, so the restored API server finds its
allocator consistent with the Services (and its repair loop has nothing to fix).
"""

import base64
import ipaddress

from ...errors import DecodeError, PlanError
from ...k8s import bitmap, decode
from ..cidr import parse_ip_int
from ..plan import Change, Context, Edit, Warning
from .addresses import field_path, read_fields, rewrite_value

name = "ranges"
kind = "RangeAllocation"
prefixes = (b"ranges/",)  # relative to the layout root


def run(ctx: Context) -> None:
    """run plans the new range and bitmap of each service IP RangeAllocation."""
    addrs: dict[str, tuple | None] = {}  # each service IP parsed once for both families' ranges
    for obj in ctx.objects.get(kind, []):
        if not obj.name.endswith("serviceips"):
            continue
        if obj.excluded:
            ctx.excluded.add(obj.key)
            continue
        old_range = (read_fields(obj, "v1", ("range",)) or [""])[0]
        if not ctx.options.service_map.mappings:
            continue
        net = _network(obj.key_text, old_range)
        m = ctx.options.service_map.map_subnet(old_range)
        if m is None:
            already = net is not None and any(m.version == net.version and net.subnet_of(m.new)
                                              for m in ctx.options.service_map)
            if net is not None and not already and ctx.options.service_map.for_version(net.version) is not None:
                ctx.plan.warnings.append(Warning(obj.key_text, f"range {old_range} is not an old service CIDR; "
                                                 "allocator left as it is"))
            continue
        new_range = bitmap.range_spec(str(m.mapping.new))
        net = ipaddress.ip_network(new_range)
        if not addrs:
            addrs.update(zip(ctx.service_ips, map(parse_ip_int, ctx.service_ips)))
        held = _held(ctx.service_ips, addrs, net)  # one family
        stored = decode.decode_value(obj.value).get("data")
        edits: dict = {field_path(obj, "v1", ("range",)): [new_range]}
        changes = [Change(obj.key_text, kind, obj.namespace, obj.name, "range", old_range, new_range)]
        if stored is not None:
            old_bytes, new_bytes = base64.b64decode(stored), _encode(new_range, held, addrs)
            try:
                bitmap.decode_bits(old_range, old_bytes)  # refuses a stored bitmap that does not fit its range
            except DecodeError as e:
                raise PlanError(f"{obj.key_text}: {e}") from None
            edits[field_path(obj, "v1", ("data",))] = [new_bytes]
            changes.append(Change(obj.key_text, kind, obj.namespace, obj.name, "data",
                                  bitmap.summary(old_range, old_bytes), bitmap.summary(new_range, new_bytes)))
        elif held:
            ctx.plan.warnings.append(Warning(obj.key_text, "allocator has no bitmap field; the API server's repair "
                                             "loop will rebuild it"))
        ctx.plan.edits.append(Edit.of(obj, rewrite_value(obj, edits), changes))


def _encode(range_cidr: str, ips: list[str], addrs: dict) -> bytes:
    """_encode is ``bitmap.encode(range_cidr, ips)`` from the addresses already parsed (``addrs``: ip -> (version, int)).

    ``ips`` lie in the range's network (``run`` keeps those): where each is an allocatable offset the
    bitmap is made from the offsets at once; otherwise ``bitmap.encode`` names the address it refuses.
    """
    first, count = bitmap.allocatable(range_cidr)
    offsets = [addrs[ip][1] - first for ip in ips]
    if all(0 <= k < count for k in offsets):
        return bitmap.encode_offsets(offsets)
    return bitmap.encode(range_cidr, ips)


def _network(key: str, text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """_network parses a stored allocator range (None if empty), refusing one that is not a CIDR."""
    if not text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise PlanError(f"{key}: stored range {text!r} is not a CIDR") from None


def _held(ips: list[str], addrs: dict, net) -> list[str]:
    """_held is the distinct ``ips`` whose address lies in ``net``, in address order: ``addr in net`` (same version, the
    network's bits) of each address ``addrs`` holds as (version, int) (``cidr.parse_ip_int``)."""
    version, mask, base = net.version, int(net.netmask), int(net.network_address)
    inside = {ip for ip in ips if (a := addrs[ip]) is not None and a[0] == version and a[1] & mask == base}
    return sorted(inside, key=lambda ip: addrs[ip][1])
