"""Services: move ``spec.clusterIPs`` (and ``spec.clusterIP``, its first entry) into the new service CIDRs.

Headless (``None``) and ExternalName services have no cluster IP and are left alone; an IP in no old
service CIDR is left alone with a warning. Records the moves in ``ctx.moved_ips`` for the rules that
follow (allocator bitmap, IPAddress objects, kubelet clusterDNS).
"""

from .. import parallel
from ..plan import Context
from .addresses import Slot, absorb_read, assign, check_mirror, export_read, object_edits, prefetch, read_fields

name = "services"
kind = "Service"
prefixes = (b"services/specs/",)  # relative to the layout root


PATHS = (("spec", "type"), ("spec", "clusterIPs"), ("spec", "clusterIP"))
CHILD_SHARE = 0.5  # of the Services read in a forked child (``parallel.Split``): as fast as this one
EARLY_SHARE = 0.65  # of those read in a child begun when the scan ends (``begin``): it starts ahead of this one


def _read(obj) -> None:
    """_read reads what the rule needs of a Service into its cache (the record stays for ``object_edits``)."""
    prefetch(obj, "v1", *PATHS, keep=True)


def _read_aside(obj) -> tuple:
    """_read_aside is ``_read`` in a forked child: what it read, as plain values (the child's cache is dropped)."""
    _read(obj)
    got = export_read(obj, *PATHS)
    obj.cache.clear()
    return got


def _split(objs: list, options, share: float) -> parallel.Split:
    """_split reads the Services on both cores (none in a child when values are encrypted: the sealing stays
    with the object that opened the value)."""
    return parallel.Split(objs, _read, "reading the Services", share if options.crypt is None else 0.0, _read_aside)


def begin(objs: list, options) -> parallel.Split:
    """begin starts reading the Services in a forked child as soon as the scan found them (``plan.scan``).

    The reads need nothing but the objects: the child works while ``rewrite`` checks the cluster's facts.
    """
    return _split(objs, options, EARLY_SHARE)


def run(ctx: Context) -> None:
    """run plans the cluster IP moves of every live Service."""
    slots: list[Slot] = []
    objs = ctx.objects.get(kind, [])
    split = ctx.started.pop(name, None) or _split(objs, ctx.options, CHILD_SHARE)
    with split:
        _absorb(ctx, split, slots)
    assign(ctx, slots, ctx.options.service_map, subnets=False, what="service")
    for s in slots:
        ctx.service_ips.append(s.new if s.new is not None else s.old)
        if s.new is not None:
            ctx.moved_ips[s.old] = s.new
    ctx.moves_known()  # the IPAddress renames begin in a child while the new values are made here
    object_edits(ctx, slots, "v1", "clusterIP")
    for obj in ctx.objects.get(kind, []):
        obj.cache.clear()  # fields read for this rule (and records no edit took): no later rule needs them


def _absorb(ctx: Context, split: parallel.Split, slots: list[Slot]) -> None:
    """_absorb takes the reads, in key order, and gathers the Services' slots."""
    for obj, got in zip(split.items, split.results(), strict=True):
        if got is not None:  # read in the child: fields and where they lie, no record
            absorb_read(obj, PATHS, got)
        mine = _slots(ctx, obj)
        if not mine:
            obj.forget()
        elif ctx.options.crypt is None:
            # where the fields lie stays; the record is read again (hinted: one read of the file) for the edit.
            # Held from here to ``object_edits`` every Service's value waited at once (~550 MB at 8 GiB).
            # (Encrypted: the record read here stays, with how it was sealed, for ``object_edits``.)
            obj.cache.pop("record", None)
        slots.extend(mine)


def _slots(ctx: Context, obj) -> list[Slot]:
    """_slots are the Service's cluster IPs that the rewrite may move (none: headless, excluded, ...)."""
    if read_fields(obj, "v1", ("spec", "type")) == ["ExternalName"]:
        return []
    ips = read_fields(obj, "v1", ("spec", "clusterIPs"))
    mirror = read_fields(obj, "v1", ("spec", "clusterIP"))
    field = "clusterIPs"
    if not ips:  # objects written before Kubernetes 1.20 only have clusterIP
        ips, field = mirror, "clusterIP"
    elif not obj.excluded:
        check_mirror(obj, field, ips, "clusterIP", mirror, ctx.options.service_map, subnets=False)
    if not ips or ips[0] in ("", "None"):
        return []
    if obj.excluded:
        ctx.excluded.add(obj.key)
        ctx.service_ips.extend(ips)  # kept where they are, still allocated
        ctx.kept_ips.update(ips)
        ctx.plan.kept_ips[obj.ref()] = list(ips)
        return []
    return [Slot(obj, field, i, ip) for i, ip in enumerate(ips)]
