"""kube-router's Node annotations moved with the pod CIDR: ``kube-router.io/pod-cidr`` and ``kube-router.io/pod-cidrs``.

kube-router reads a node's pod CIDR from these annotations before ``spec.podCIDR``; left in the old
range they would route pods to the old subnets. Each subnet keeps its mask and offset (the nodes rule's
mapping); a comma-separated list moves item by item.
"""

from ..cidr import each_csv_item
from ..plan import Context
from . import cni

name = "kuberouter"
kind = "Node"
prefixes = (cni.NODE_PREFIX,)
ANNOTATIONS = ("kube-router.io/pod-cidr", "kube-router.io/pod-cidrs")


def run(ctx: Context) -> None:
    """run moves the kube-router pod CIDR annotations of every Node."""
    cmap = ctx.options.pod_map
    move = each_csv_item(lambda c: cni.move_text(cmap, c) or c)
    for obj in ctx.objects.get(kind, []):
        pairs = [(k, v) for k, v in cni.annotations(obj) if k in ANNOTATIONS]
        if not pairs:
            continue
        found = ctx.plan.cni.setdefault("kube-router", [])
        found.extend(c for _, v in pairs for c in v.split(",") if c and c not in found)
        if obj.excluded or not cmap.mappings:
            continue
        cni.edit_annotations(ctx, obj, lambda k, v: move(v) if k in ANNOTATIONS else None)
