"""Nodes: move ``spec.podCIDRs`` (and ``spec.podCIDR``, its first entry) into the new pod CIDRs.

Each subnet keeps its own mask and its offset in the cluster CIDR (10.244.1.0/24 -> 10.55.1.0/24).
Records the moves in ``ctx.moved_subnets``.
"""

from ..plan import Context
from .addresses import Slot, assign, check_mirror, forget_record, object_edits, prefetch, read_fields

name = "nodes"
kind = "Node"
prefixes = (b"minions/",)  # relative to the layout root
PATHS = (("spec", "podCIDRs"), ("spec", "podCIDR"))


def run(ctx: Context) -> None:
    """run plans the pod CIDR moves of every live Node."""
    slots: list[Slot] = []
    for obj in ctx.objects.get(kind, []):
        if obj.excluded:
            ctx.excluded.add(obj.key)
            continue
        prefetch(obj, "v1", *PATHS, keep=True)  # where the fields lie stays: the edit walks the value no more
        forget_record(obj)
        cidrs = read_fields(obj, "v1", ("spec", "podCIDRs"))
        mirror = read_fields(obj, "v1", ("spec", "podCIDR"))
        field = "podCIDRs"
        if not cidrs:  # objects written before Kubernetes 1.16 only have podCIDR
            cidrs, field = mirror, "podCIDR"
        else:
            check_mirror(obj, field, cidrs, "podCIDR", mirror, ctx.options.pod_map, subnets=True)
        slots.extend(Slot(obj, field, i, c) for i, c in enumerate(cidrs) if c)
    assign(ctx, slots, ctx.options.pod_map, subnets=True, what="pod")
    for s in slots:
        if s.new is not None:
            ctx.moved_subnets[s.old] = s.new
    object_edits(ctx, slots, "v1", "podCIDR")
    for obj in ctx.objects.get(kind, []):
        obj.cache.clear()  # fields read for this rule: no later rule needs them
