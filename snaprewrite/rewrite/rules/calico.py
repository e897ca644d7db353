"""Calico's IPAM state (crd.projectcalico.org/v1, stored by kube-apiserver as JSON) moved with the pod CIDR.

* IPPool ``spec.cidr`` (``blockSize``, ``nodeSelector``, ``ipipMode`` unchanged). A pool the mapping
  does not cover (or that overlaps an old CIDR without lying inside it) is left alone with a warning,
  and so are its blocks, affinities and handles: membership stays consistent.
* IPAMBlock ``spec.cidr`` and its name and key (``192-168-136-64-26``: the CIDR with ``.``, ``:`` and
  ``/`` as ``-``), renamed to the new block's; ``allocations``, ``unallocated`` and ``attributes`` are
  ordinals and handles inside the block and stay as they are.
* BlockAffinity ``spec.cidr`` and its name and key (``<node>-<block name>``).
* IPAMHandle ``spec.block`` keys (``"10.244.1.0/26": 1``).
* Every ``f:<cidr>`` key of those objects' ``metadata.managedFields``.
* The Node annotations Calico writes (``projectcalico.org/IPv4IPIPTunnelAddr``, ``IPv4VXLANTunnelAddr``,
  ``IPv6VXLANTunnelAddr``, the Wireguard interface addresses, ``IPv4Address``/``IPv6Address`` only when
  they lie in a moved pool).

Each block keeps its size and its offset in the pod CIDR (10.244.1.64/26 -> 10.55.1.64/26); a block that
would not fit the new CIDR is an error naming it. Renames follow ``cni.rename``.
"""

import ipaddress
import json

from ...errors import PlanError
from .. import jsonedit
from ..plan import Context, Object, Warning
from . import cni

name = "calico"
kind = "IPPool"
GROUP = b"crd.projectcalico.org/"  # relative to the layout root
POOLS, BLOCKS, AFFINITIES, HANDLES = (GROUP + r for r in (b"ippools/", b"ipamblocks/", b"blockaffinities/",
                                                             b"ipamhandles/"))
prefixes = {POOLS: "IPPool", BLOCKS: "IPAMBlock", AFFINITIES: "BlockAffinity", HANDLES: "IPAMHandle",
            cni.NODE_PREFIX: "Node"}
renames = (BLOCKS, AFFINITIES)  # their keys follow their CIDR: the planner gathers these keys' histories
follows = ("IPAMBlock", "BlockAffinity", "IPAMHandle")  # move with their IPPool, whatever --exclude names
NODE_ANNOTATIONS = ("projectcalico.org/IPv4IPIPTunnelAddr", "projectcalico.org/IPv4VXLANTunnelAddr",
                    "projectcalico.org/IPv6VXLANTunnelAddr", "projectcalico.org/IPv4WireguardInterfaceAddr",
                    "projectcalico.org/IPv6WireguardInterfaceAddr", "projectcalico.org/IPv4Address",
                    "projectcalico.org/IPv6Address")


def cidr_name(cidr: str) -> str:
    """cidr_name is Calico's resource name of a CIDR: ``10.244.1.64/26`` -> ``10-244-1-64-26``."""
    return cidr.replace(".", "-").replace(":", "-").replace("/", "-")


def _spec(obj: Object, text: str) -> dict:
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise PlanError(f"{obj.key_text}: broken json ({e.msg})") from None
    return doc.get("spec") or {}


def _net(text: str):
    try:
        return ipaddress.ip_network(text, strict=False)
    except (TypeError, ValueError):
        return None


def _edit(ctx: Context, obj: Object, text: str, transform, new_key: bytes | None = None) -> None:
    new_text, done = cni.edit_json_text(text, obj.key_text, transform)
    changes = cni.token_changes(obj, text, done)
    if new_key is not None:
        cni.rename(ctx, obj, new_text.encode("utf-8"), changes, new_key)
    elif changes:
        cni.put_edit(ctx, obj, new_text.encode("utf-8"), changes)


def _pools(ctx: Context) -> list[tuple[object, object | None]]:
    """_pools plans the IPPool moves and returns every pool as (old network, new network or None)."""
    cmap = ctx.options.pod_map
    out = []
    for obj in ctx.objects.get("IPPool", []):
        text = cni.json_object(obj)
        cidr = str(_spec(obj, text).get("cidr", ""))
        ctx.plan.cni.setdefault("calico", []).append(cidr)
        net = _net(cidr)
        if net is None:
            ctx.plan.warnings.append(Warning(obj.key_text, f"IPPool spec.cidr {cidr!r} is no CIDR; left as it is"))
            continue
        m = cmap.map_subnet(cidr) if cmap.mappings else None
        if obj.excluded:
            ctx.excluded.add(obj.key)
            m = None
        if m is None or not m.fits and not net.subnet_of(m.mapping.old):
            out.append((net, None))
            if cmap.mappings and not obj.excluded:
                ctx.plan.warnings.append(Warning(obj.key_text, f"IPPool {obj.name} ({cidr}) is not covered by the "
                                                 f"pod CIDR mapping {cmap}; left as it is, with its blocks"))
            continue
        if not m.fits:
            raise PlanError(f"{obj.key_text}: IPPool {cidr} does not fit the new pod CIDR {m.mapping.new}: {m.reason}")
        new = m.new
        out.append((net, ipaddress.ip_network(new)))
        if new != cidr:
            _edit(ctx, obj, text, lambda ref, new=new: new if ref.path == ("spec", "cidr") and not ref.is_key else None)
    return out


def _pool_of(pools: list, net) -> tuple | None:
    for old, new in pools:
        if old.version == net.version and net.subnet_of(old):
            return old, new
    return None


def run(ctx: Context) -> None:
    """run moves Calico's pools, blocks, affinities, handles and Node annotations into the new pod CIDRs."""
    if not any(ctx.objects.get(k) for k in ("IPPool", "IPAMBlock")):
        return
    cmap = ctx.options.pod_map
    pools = _pools(ctx)
    if not cmap.mappings:
        return
    moved_pools = [(old, new) for old, new in pools if new is not None]

    # blocks: old CIDR -> new CIDR, for the blocks of moved pools
    blocks: dict[str, str] = {}
    misfits = []
    for obj in ctx.objects.get("IPAMBlock", []):
        cidr = str(_spec(obj, cni.json_object(obj)).get("cidr", ""))
        net = _net(cidr)
        if net is None or _pool_of(moved_pools, net) is None:
            continue
        m = cmap.map_subnet(cidr)
        if m is None or not m.fits:
            misfits.append(f"{obj.name} {cidr} ({m.reason if m else 'in no old pod CIDR'})")
            continue
        blocks[cidr] = m.new
    if misfits:
        raise PlanError(f"{len(misfits)} Calico IPAM block(s) do not fit the new pod CIDR: {'; '.join(misfits)}")

    def in_moved_pool(text: str) -> bool:
        net = _net(text)
        return net is not None and _pool_of(moved_pools, net) is not None

    def moved(ref: jsonedit.JStr) -> str | None:
        managed = ref.is_key and ref.value.startswith("f:")  # a managedFields key: f:10.244.1.0/26
        new = blocks.get(ref.value[2:] if managed else ref.value)
        if new is None:
            return None
        return "f:" + new if managed else new

    renames: dict[bytes, bytes] = {}
    planned: list[tuple[Object, str, object, bytes | None]] = []
    for obj in ctx.objects.get("IPAMBlock", []):
        text = cni.json_object(obj)
        cidr = str(_spec(obj, text).get("cidr", ""))
        if cidr not in blocks:
            continue
        new_name = cidr_name(blocks[cidr])
        new_key = None
        if obj.name == cidr_name(cidr):
            new_key = ctx.layout.key(BLOCKS + new_name.encode())
            renames[obj.key] = new_key

        def block_tf(ref, new_name=new_name, new_key=new_key):
            if ref.path == ("metadata", "name") and not ref.is_key and new_key is not None:
                return new_name
            return moved(ref)

        planned.append((obj, text, block_tf, new_key))
    for obj in ctx.objects.get("BlockAffinity", []):
        text = cni.json_object(obj)
        spec = _spec(obj, text)
        cidr = str(spec.get("cidr", ""))
        if cidr not in blocks:
            continue
        new_key = None
        suffix = "-" + cidr_name(cidr)
        if obj.name.endswith(suffix):
            new_name = obj.name[: -len(suffix)] + "-" + cidr_name(blocks[cidr])
            new_key = ctx.layout.key(AFFINITIES + new_name.encode())
            renames[obj.key] = new_key
        else:
            new_name = obj.name
            ctx.plan.warnings.append(Warning(obj.key_text, f"BlockAffinity name does not end in {suffix}; "
                                             "its cidr moves, its name stays"))

        def affinity_tf(ref, new_name=new_name, new_key=new_key):
            if ref.path == ("metadata", "name") and not ref.is_key and new_key is not None:
                return new_name
            return moved(ref)

        planned.append((obj, text, affinity_tf, new_key))
    for what, prefix in (("IPAMBlock", BLOCKS), ("BlockAffinity", AFFINITIES)):
        live = {o.key for o in ctx.objects.get(what, [])}
        cni.check_renames(ctx, live, {k: v for k, v in renames.items() if k.startswith(ctx.layout.key(prefix))}, what)
    for obj in ctx.objects.get("IPAMHandle", []):
        planned.append((obj, cni.json_object(obj), moved, None))
    for obj, text, transform, new_key in planned:
        _edit(ctx, obj, text, transform, new_key)

    def node_tf(key: str, value: str) -> str | None:
        if key not in NODE_ANNOTATIONS:
            return None
        ip = value.split("/", 1)[0]
        return cni.move_text(cmap, value) if in_moved_pool(ip) else None

    for obj in ctx.objects.get("Node", []):
        if obj.excluded:
            continue
        cni.edit_annotations(ctx, obj, node_tf)
