"""Services: move ``spec.clusterIPs`` (and ``spec.clusterIP``, its first entry) into the new service CIDRs.

Headless (``None``) and ExternalName services have no cluster IP and are left alone; an IP in no old
service CIDR is left alone with a warning. Records the moves in ``ctx.moved_ips`` for the rules that
follow (allocator bitmap, IPAddress objects, kubelet clusterDNS).
"""

import marshal
import sys
from array import array

from ... import standby
from ...k8s.located import Located
from .. import parallel
from ..plan import Context, Edit, Object
from .addresses import Slot, absorb_read, assign, check_mirror, export_read, object_edit, prefetch, read_fields

name = "services"
kind = "Service"
prefixes = (b"services/specs/",)  # relative to the layout root


PATHS = (("spec", "type"), ("spec", "clusterIPs"), ("spec", "clusterIP"))
CHILD_SHARE = 0.5  # of the Services read in a forked child (``parallel.Split``): as fast as this one
EARLY_SHARE = 0.65  # of those read in a child begun when the scan ends (``begin``): it starts ahead of this one
FAST = True  # a Service's Edit is made from its packed reads (``_edit_packed``); False: always ``object_edit``'s


def _read(obj) -> None:
    """_read reads what the rule needs of a Service into its cache (the record stays for ``object_edits``)."""
    prefetch(obj, "v1", *PATHS, keep=True)


def _read_aside(obj) -> tuple:
    """_read_aside is ``_read`` in a forked child: what it read, as plain values (the child's cache is dropped): packed
    (``_pack``, a 5-tuple) where it packs, else as ``export_read`` gives it (a 2-tuple)."""
    _read(obj)
    got = _pack(obj, None)
    if got is None:
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
    held: dict[bytes, bytes] = {}  # key -> what ``object_edits`` reads of a Service with slots (``_compact``)
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
    _edits(ctx, slots, held)
    for obj in ctx.objects.get(kind, []):
        obj.cache.clear()  # fields read for this rule (and records no edit took): no later rule needs them


def _absorb(ctx: Context, split: parallel.Split, slots: list[Slot], held: dict[bytes, bytes]) -> None:
    """_absorb takes the reads, in key order, and gathers the Services' slots.

    What ``object_edits`` will read of a Service with slots waits in ``held``, packed (``_pack``), and its
    cache is emptied: at 8 GiB 283k caches (a dict, a Located with its array, a list per field) weighed
    ~1.3 KB a Service, ~350 MB at once; packed ~0.45 KB, held ``_compact`` ~0.15 KB. A Service without slots
    keeps nothing.
    """
    pack = ctx.options.crypt is None  # (encrypted: the record read here stays, with how it was sealed)
    for obj, got in zip(split.items, split.results(), strict=True):
        if got is not None and len(got) == 5:  # packed in a child (``_read_aside``): the slots read from the pack
            kind_text = got[1]
            packed = (got[0], sys.intern(kind_text) if kind_text is not None else None, *got[2:])
            mine = _slots_of(ctx, obj, [kind_text] if kind_text is not None else [], got[2],
                             got[2][:1] if got[3] is None else got[3])
            if mine:
                held[obj.key] = _compact(packed)
            slots.extend(mine)
            continue
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
                held[obj.key] = _compact(packed)
                obj.clear()
            else:  # (located on the plain path: the cache stays as it is, without the record)
                if state is not None:
                    obj.cache["located"] = Located.restore(state)
                obj.cache.pop("record", None)
                obj.cache.pop("fields", None)
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


def _compact(packed: tuple) -> bytes:
    """_compact is a ``_pack`` as one marshal string, its offsets in the narrowest array that holds them: what waits in
    ``held`` between a Service's read and its edit. ``_expand`` gives the pack back, equal to it.

    At 8 GiB ~280k Services wait there: as the pack (a tuple, a list of texts, the offsets as int64 bytes) a Service
    weighed ~0.48 KB, as one string ~0.15 KB (~90 MB less at the planning peak).
    """
    type_names, kind_text, ips, mirror, flat = packed
    offsets = array("q", flat)
    for code in "hi":  # (an entry the narrower array cannot hold raises: cheaper than asking min and max first)
        try:
            narrow = array(code, offsets).tobytes()
            break
        except OverflowError:
            pass
    else:
        code, narrow = "q", offsets.tobytes()
    return marshal.dumps((tuple(type_names), kind_text, tuple(ips), None if mirror is None else tuple(mirror),
                          code, narrow))


def _expand(data: bytes) -> tuple:
    """_expand is the pack ``_compact`` made ``data`` of."""
    type_names, kind_text, ips, mirror, code, flat = marshal.loads(data)
    return (type_names, sys.intern(kind_text) if kind_text is not None else None, list(ips),
            None if mirror is None else list(mirror), flat if code == "q" else array("q", array(code, flat)).tobytes())


def _unpack(obj: Object, packed: tuple) -> None:
    """_unpack gives a Service the cache ``_pack`` packed: its fields and where they lie."""
    type_names, kind_text, ips, mirror, flat = packed
    texts = [[kind_text] if kind_text is not None else [], ips, ips[:1] if mirror is None else mirror]
    cache = obj.cache
    cache.update(zip(PATHS, texts))
    cache["located"] = Located.restore((type_names, PATHS, texts, flat))


def _edits(ctx: Context, slots: list[Slot], held: dict[bytes, bytes]) -> None:
    """_edits is ``object_edits(ctx, slots, "v1", "clusterIP")``: a Service whose reads wait packed in ``held`` gets its
    Edit from them (``_edit_packed``), without its cache made again; any other (or one that path leaves) gets
    ``object_edit``'s, its packed cache given back first (``_unpack``) and dropped once its Edit is made."""
    by_obj: dict[bytes, list[Slot]] = {}
    for s in slots:
        if s.new is not None:
            by_obj.setdefault(s.obj.key, []).append(s)
    label = sys.intern("spec.clusterIP")
    out = ctx.plan.edits
    for moved in by_obj.values():
        obj = moved[0].obj
        packed = held.pop(obj.key, None)
        if packed is None:
            out.append(object_edit(obj, moved, "v1", "clusterIP", label))
            continue
        packed = _expand(packed)
        edit = _edit_packed(obj, moved, packed, label) if FAST else None
        if edit is None:
            _unpack(obj, packed)
            edit = object_edit(obj, moved, "v1", "clusterIP", label)
        obj.clear()
        out.append(edit)


_PATHS_OF: dict[tuple[str, str], tuple] = {}  # stored (apiVersion, kind) -> ``PATHS`` resolved for it (``Located.paths``)


def _edit_packed(obj: Object, moved: list[Slot], packed: tuple, label: str):
    """_edit_packed is the Edit ``object_edit`` makes of a Service from its packed reads (``_unpack`` then the edit), made
    from the pack: None where it would not be the same (its only list is ``clusterIP``, or ``Located.rewrite`` cannot
    say: the plain path then decides and names any error). ``tests/rewrite/test_services_packed.py`` compares the plans."""
    if moved[0].singular:
        return None
    type_names, kind_text, ips, mirror, flat = packed
    paths = _PATHS_OF.get(type_names)
    if paths is None:
        paths = Located.restore((type_names, PATHS, [[], [], []], b"")).paths
        if len(_PATHS_OF) < 64:
            _PATHS_OF[type_names] = paths
    mirror_now = ips[:1] if mirror is None else mirror
    new_list: list = [None] * len(ips)
    rows = []
    first = None
    for s in moved:
        new_list[s.index] = s.new
        rows.append((s.label, s.old, s.new, None))
        if s.index == 0 and first is None:
            first = s
    edits = {paths[1]: new_list}
    if first is not None and mirror_now and mirror_now[0] == first.old:
        edits[paths[2]] = [first.new]
        rows.append((label, first.old, first.new, None))
    loc = Located(type_names, paths, [[kind_text] if kind_text is not None else [], ips, mirror_now], array("q", flat))
    new_value = loc.rewrite(obj.value, edits)
    if new_value is None:
        return None
    return Edit.of_rows(obj, new_value, rows)


def _slots(ctx: Context, obj) -> list[Slot]:
    """_slots are the Service's cluster IPs that the rewrite may move (none: headless, excluded, ...)."""
    kinds = read_fields(obj, "v1", ("spec", "type"))
    if kinds == ["ExternalName"]:
        return []
    return _slots_of(ctx, obj, kinds, read_fields(obj, "v1", ("spec", "clusterIPs")),
                     read_fields(obj, "v1", ("spec", "clusterIP")))


def _slots_of(ctx: Context, obj, kinds: list[str], ips: list[str], mirror: list[str]) -> list[Slot]:
    """_slots_of is ``_slots`` of a Service whose type, clusterIPs and clusterIP read ``kinds``, ``ips`` and ``mirror``."""
    if kinds == ["ExternalName"]:
        return []
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
