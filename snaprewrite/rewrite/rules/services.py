"""Services: move ``spec.clusterIPs`` (and ``spec.clusterIP``, its first entry) into the new service CIDRs.

Headless (``None``) and ExternalName services have no cluster IP and are left alone; an IP in no old
service CIDR is left alone with a warning. Records the moves in ``ctx.moved_ips`` for the rules that
follow (allocator bitmap, IPAddress objects, kubelet clusterDNS).
"""

import sys

from ... import standby
from ...k8s.located import Located
from .. import parallel
from ..plan import Context, Object
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
    waiting = standby.take(STANDBY)  # forked at the run's start (``job.run``): not the planner's heap
    remote = None if waiting is None else parallel.Remote(waiting, _rows, _read_packed)
    return parallel.Split(objs, _read, "reading the Services", share if options.crypt is None else 0.0, _read_aside,
                          remote=remote)


STANDBY = "reading the Services"  # the ``standby.Standby`` (holding the open snapshot) a caller may reserve


def _rows(objs: list, mid: int) -> tuple:
    """_rows is what ``_read_aside`` needs of ``objs[mid:]`` (``parallel.Remote``): rows of each Service's key, record
    key, namespace, name and where its record lies, made as they are sent."""
    hints = objs[0].snap.key_bucket().element_hints if objs else {}
    return None, parallel.rows_in_pieces(objs, mid, lambda o: (o.key, o.revkey, o.namespace, o.name, hints.get(o.revkey)))


def _read_packed(snap, shared, rows: list):
    """_read_packed yields ``_read_aside`` of each Service ``_rows`` packed, made again on ``snap`` (in a ``standby.Standby``)."""
    hints = snap.key_bucket().element_hints
    for i, (key, revkey, namespace, name, hint) in enumerate(rows):
        rows[i] = None
        if hint is not None:
            hints[revkey] = hint
        yield _read_aside(Object(key, revkey, kind, namespace, name, snap))
        hints.pop(revkey, None)


def begin(objs: list, options) -> parallel.Split:
    """begin starts reading the Services in a forked child as soon as the scan found them (``plan.scan``).

    The reads need nothing but the objects: the child works while ``rewrite`` checks the cluster's facts.
    """
    return _split(objs, options, EARLY_SHARE)


def run(ctx: Context) -> None:
    """run plans the cluster IP moves of every live Service."""
    slots: list[Slot] = []
    held: dict[bytes, tuple] = {}  # key -> what ``object_edits`` reads of a Service with slots (``_pack``)
    objs = ctx.objects.get(kind, [])
    split = ctx.started.pop(name, None) or _split(objs, ctx.options, CHILD_SHARE)
    with split:
        _absorb(ctx, split, slots, held)
    assign(ctx, slots, ctx.options.service_map, subnets=False, what="service")
    for s in slots:
        ctx.service_ips.append(s.new if s.new is not None else s.old)
        if s.new is not None:
            ctx.moved_ips[s.old] = s.new
    ctx.moves_known()  # the IPAddress renames begin in a child while the new values are made here
    object_edits(ctx, slots, "v1", "clusterIP", ready=_unpacker(held))
    for obj in ctx.objects.get(kind, []):
        obj.cache.clear()  # fields read for this rule (and records no edit took): no later rule needs them


def _absorb(ctx: Context, split: parallel.Split, slots: list[Slot], held: dict[bytes, tuple]) -> None:
    """_absorb takes the reads, in key order, and gathers the Services' slots.

    What ``object_edits`` will read of a Service with slots waits in ``held``, packed (``_pack``), and its
    cache is emptied: at 8 GiB 283k caches (a dict, a Located with its array, a list per field) weighed
    ~1.3 KB a Service, ~350 MB at once; packed ~0.45 KB. A Service without slots keeps nothing.
    """
    pack = ctx.options.crypt is None  # (encrypted: the record read here stays, with how it was sealed)
    for obj, got in zip(split.items, split.results(), strict=True):
        state = None
        if got is not None:  # read in a child: its fields, where they lie (``Located.state``), ...
            if pack and got[1] is not None:
                obj.cache.update(zip(PATHS, got[0]))  # what ``_slots`` reads; the Located is made when edited
                state = got[1]
            else:
                absorb_read(obj, PATHS, got)
        mine = _slots(ctx, obj)
        if not mine:
            obj.clear()
        elif pack:
            packed = _pack(obj, state)
            if packed is not None:
                held[obj.key] = packed
                obj.clear()
            else:  # (located on the plain path: the cache stays as it is, without the record)
                if state is not None:
                    obj.cache["located"] = Located.restore(state)
                obj.cache.pop("record", None)
        slots.extend(mine)


def _pack(obj: Object, state: tuple | None) -> tuple | None:
    """_pack is what ``object_edits`` reads of a Service, compactly: (type, clusterIPs, clusterIP or None when it is
    clusterIPs' first entry, where the fields lie: ``Located.state`` without its texts); None when it was not
    located in one walk (the cache then stays). ``_unpack`` gives the cache back."""
    cache = obj.cache
    if state is None:
        loc = cache.get("located")
        if loc is None:
            return None
        state = loc.state()
    type_names, names, texts, flat = state
    if names == PATHS:
        names = PATHS  # one tuple for every Service
    if tuple(names) != PATHS or [cache.get(p) for p in PATHS] != list(texts):
        return None
    kinds, ips, mirror = texts
    if len(kinds) > 1:
        return None
    return (type_names, sys.intern(kinds[0]) if kinds else None, ips, None if mirror == ips[:1] else mirror,
            flat)


def _unpack(obj: Object, packed: tuple) -> None:
    """_unpack gives a Service the cache ``_pack`` packed: its fields and where they lie."""
    type_names, kind_text, ips, mirror, flat = packed
    texts = [[kind_text] if kind_text is not None else [], ips, ips[:1] if mirror is None else mirror]
    cache = obj.cache
    cache.update(zip(PATHS, texts))
    cache["located"] = Located.restore((type_names, PATHS, texts, flat))


def _unpacker(held: dict[bytes, tuple]):
    """_unpacker is ``object_edits``' ``ready``: a Service's packed cache is given back before its edit is made,
    and what the one before it was given is dropped once its edit is made."""
    last: list[Object] = []

    def ready(obj: Object) -> None:
        if last:
            last.pop().clear()
        packed = held.pop(obj.key, None)
        if packed is not None:
            _unpack(obj, packed)
            last.append(obj)

    return ready


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
