"""ServiceCIDR objects (networking.k8s.io, Kubernetes 1.31+): ``spec.cidrs`` move like the flags they mirror.

The default ServiceCIDR ``kubernetes`` is created from the API server's ``--service-cluster-ip-range``;
after the move it must name the new ranges, or the API server reports it inconsistent.
"""

from ...errors import PlanError
from ..plan import Change, Context, Edit
from .addresses import field_path, read_fields, rewrite_value

name = "servicecidrs"
kind = "ServiceCIDR"
prefixes = (b"servicecidrs/",)  # relative to the layout root
API = "networking.k8s.io/v1"


def run(ctx: Context) -> None:
    """run plans the new ``spec.cidrs`` of every ServiceCIDR whose ranges are old service CIDRs."""
    for obj in ctx.objects.get(kind, []):
        if obj.excluded:
            ctx.excluded.add(obj.key)
            continue
        cidrs = read_fields(obj, API, ("spec", "cidrs"))
        new: list[str | None] = []
        changes = []
        for i, c in enumerate(cidrs):
            m = ctx.options.service_map.map_subnet(c)
            if m is None or m.new == c:
                new.append(None)
                continue
            if not m.fits:
                raise PlanError(f"{obj.key_text}: spec.cidrs[{i}] {c} does not fit: {m.reason}")
            new.append(m.new)
            changes.append(Change(obj.key_text, kind, "", obj.name, f"spec.cidrs[{i}]", c, m.new))
        if changes:
            value = rewrite_value(obj, {field_path(obj, API, ("spec", "cidrs")): new})
            ctx.plan.edits.append(Edit.of(obj, value, changes))
