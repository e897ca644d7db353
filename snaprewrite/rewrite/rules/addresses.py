"""Moving address fields of many objects at once: map, find misfits and clashes, reallocate.

A *slot* is one address (or subnet) in one field of one object, e.g. Service ``spec.clusterIPs[1]``.
``assign`` decides every slot's new value together, because two rules hold across objects:
  * no two objects end up with the same address (or overlapping subnets);
  * a slot whose offset does not fit the new CIDR is an error listing every such slot, unless
    ``--reallocate``, which hands each the lowest free address (subnet) of the new CIDR, in key order.
"""

import functools
import ipaddress
import sys
from dataclasses import dataclass

from ...errors import DecodeError, PlanError
from ...k8s import encryption, envelope, fields, located, registry, splice
from ..cidr import CidrMap, Mapped, Reallocator, parse_ip, parse_subnet
from ..plan import Context, Edit, Object, Warning

SINGULAR = ("clusterIP", "podCIDR")


@dataclass(slots=True)
class Slot:
    """One address in one field of one object, and what it becomes (``new`` None: unchanged)."""

    obj: Object
    list_field: str  # API name of the list field, e.g. "clusterIPs"
    index: int
    old: str
    new: str | None = None
    mapped: Mapped | None = None

    @property
    def singular(self) -> bool:
        """singular tells whether the field is the one-value form (objects that predate the list field)."""
        return self.list_field in SINGULAR

    @property
    def label(self) -> str:
        """label is the report's field name; one string per distinct label (a plan holds 100k+ changes)."""
        got = _LABELS.get((self.list_field, self.index))
        if got is None:
            text = f"spec.{self.list_field}" if self.singular else f"spec.{self.list_field}[{self.index}]"
            got = sys.intern(text)
            if len(_LABELS) < 256:
                _LABELS[(self.list_field, self.index)] = got
        return got


_LABELS: dict[tuple[str, int], str] = {}  # (list field, index) -> Slot.label: a few per plan


def _envelope(obj: Object) -> envelope.Envelope:
    """_envelope classifies the object's stored value once, refusing what a rewrite cannot handle."""
    env = obj.cache.get("envelope")
    if env is None:
        try:
            env = envelope.parse(obj.value)
        except DecodeError as e:
            raise PlanError(f"{obj.key_text}: cannot decode the stored value ({e}); refusing to rewrite") from None
        if env.storage == envelope.ENCRYPTED:
            encryption.refuse_kms(obj.key, obj.value)
            raise PlanError(f"{obj.key_text}: value is encrypted at rest ({env.provider} {env.provider_version}, "
                            f"key {env.key_name!r}); give the API server's --encryption-config FILE to rewrite "
                            f"it, or --exclude {obj.ref()} to leave it")
        if env.storage not in (envelope.PROTOBUF, envelope.JSON):
            raise PlanError(f"{obj.key_text}: not a kubernetes object; refusing to rewrite")
        obj.cache["envelope"] = env
    return env


def field_path(obj: Object, api_version: str, names: tuple[str, ...]) -> registry.FieldPath:
    """field_path resolves API field names for the object's stored apiVersion and kind."""
    loc = obj.cache.get("located")
    if loc is not None:  # ``prefetch`` walked the value once and resolved these names for its type
        path = loc.path(names)
        if path is not None:
            return path
    env = _envelope(obj)
    return registry.resolve_path(env.api_version or api_version, env.kind or obj.kind, names)


def prefetch(obj: Object, api_version: str, *paths: tuple[str, ...], keep: bool = False) -> None:
    """prefetch reads several field paths of an object in one walk of its value, into its cache.

    The record read for it is forgotten, unless ``keep``: the caller is about to edit the object (and
    calls ``forget`` itself if it does not); then where the fields lie stays too (``located``), so
    that ``field_path`` and ``rewrite_value`` do not walk the value again.
    """
    wanted = [p for p in paths if p not in obj.cache]
    if not wanted:
        return
    loc = located.locate(obj.value, wanted)
    if loc is not None:  # one walk answers as the plain path below (tests/k8s/test_located.py)
        obj.cache.update(zip(wanted, loc.texts))
        if keep:
            obj.cache["located"] = loc
        else:
            obj.forget()
        return
    resolved = [field_path(obj, api_version, p) for p in wanted]
    env = _envelope(obj)
    try:
        got = fields.read(obj.value, env.api_version or api_version, env.kind or obj.kind, resolved)
    except DecodeError as e:
        raise PlanError(f"{obj.key_text}: cannot read its fields ({e}); refusing to rewrite") from None
    obj.cache.update(zip(wanted, got))
    if not keep:
        obj.forget()


def forget_record(obj: Object) -> None:
    """forget_record drops the record ``prefetch(..., keep=True)`` kept, but where the fields lie (``located``): a
    rule holding many objects until it edits some reads the record again then, in one read (its element hint)."""
    cache = obj.cache
    if "located" in cache:
        cache.pop("record", None)
        cache.pop("fields", None)
    else:
        obj.forget()


def export_read(obj: Object, *paths: tuple[str, ...]) -> tuple:
    """export_read is what ``prefetch(obj, ..., *paths, keep=True)`` left in the object's cache, as plain values,
    but the record: the fields and where they lie.

    For a prefetch made in another process (``parallel.split_map``): ``absorb_read`` puts it back. The record
    (its value: most of what would cross) is read again where it is edited: its element hint makes that one
    read of the file (``bbolt.tree.Bucket.get_hinted``).
    """
    loc = obj.cache.get("located")
    return [obj.cache[p] for p in paths], loc.state() if loc is not None else None


def absorb_read(obj: Object, paths: tuple[tuple[str, ...], ...], got: tuple) -> None:
    """absorb_read gives the object the cache ``export_read`` exported (the record is read when asked)."""
    texts, loc = got
    obj.cache.update(zip(paths, texts))
    if loc is not None:
        obj.cache["located"] = located.Located.restore(loc)


def read_fields(obj: Object, api_version: str, names: tuple[str, ...]) -> list[str]:
    """read_fields returns the strings at a field path of an object (cached), refusing values it cannot read."""
    hit = obj.cache.get(names)
    if hit is not None:
        return hit
    path = field_path(obj, api_version, names)
    try:
        got = splice.get_fields(obj.value, path)
    except DecodeError as e:
        raise PlanError(f"{obj.key_text}: cannot read {'.'.join(names)} ({e}); refusing to rewrite") from None
    obj.cache[names] = got
    return got


def rewrite_value(obj: Object, edits: dict) -> bytes:
    """rewrite_value applies field edits to the object's value, refusing (by key) one it cannot edit exactly."""
    loc = obj.cache.get("located")
    if loc is not None:  # where ``prefetch`` found the fields: the same bytes as the splice below
        out = loc.rewrite(obj.value, edits)
        if out is not None:
            return out
    try:
        return splice.set_fields(obj.value, edits)
    except (DecodeError, ValueError) as e:
        raise PlanError(f"{obj.key_text}: cannot rewrite ({e})") from None


def replace_single(obj: Object, path: registry.FieldPath, old: str, new: str) -> bytes | None:
    """replace_single is the value with the one string stored at ``path``, ``old``, set to ``new``, in one walk.

    None unless the value holds exactly one occurrence of ``path`` and it reads ``old``: then
    ``read_fields`` reads ``[old]`` too and ``rewrite_value(obj, {path: [new]})`` gives these bytes, so a
    caller that falls back to those on None decides as if it had called them (they also name the error).
    """
    seen: list = []

    def swap(text: str) -> str:
        seen.append(text)
        return new

    try:
        out = splice.set_fields(obj.value, {path: swap})
    except (DecodeError, ValueError):
        return None
    return out if seen == [old] else None


def check_mirror(obj: Object, list_field: str, values: list[str], mirror: str, mirror_values: list[str],
                 cmap: CidrMap, subnets: bool) -> None:
    """check_mirror refuses an object whose singular field (``clusterIP``) is not its list's first entry.

    The API server keeps them equal; an object that breaks this would be half-moved (one field in the
    new CIDR, the other in the old), so it is refused by name when any of its addresses would move.
    """
    if not values or mirror_values == values[:1]:
        return
    moving = cmap.map_subnet if subnets else cmap.map_ip
    if any(moving(v) is not None for v in values + mirror_values):
        shown = mirror_values[0] if mirror_values else "(unset)"
        raise PlanError(f"{obj.key_text}: spec.{mirror} {shown} differs from spec.{list_field}[0] {values[0]}; "
                        f"refusing to move an inconsistent {obj.kind} (fix it, or --exclude {obj.ref()})")


def assign(ctx: Context, slots: list[Slot], cmap: CidrMap, *, subnets: bool, what: str) -> None:
    """assign sets ``new`` on every slot that moves, or raises PlanError listing misfits and clashes."""
    parse = parse_subnet if subnets else parse_ip
    misfits: list[Slot] = []
    pools: dict[int, Reallocator] = {}  # id of a Mapping of ``cmap`` -> ``_service_pool`` of its new CIDR

    def usable(m: Mapped) -> bool:  # ``_usable``, its pool looked up by the mapping's identity, not its hash
        pool = pools.get(id(m.mapping))
        if pool is None:
            pool = pools[id(m.mapping)] = _service_pool(m.mapping.new)
        return pool.usable(m.new)

    for s in slots:
        m = cmap.map_subnet(s.old) if subnets else cmap.map_ip(s.old)
        if m is None:
            addr = parse(s.old)
            if addr is not None and cmap.for_version(addr.version) is not None and not _inside_new(cmap, addr):
                ctx.plan.warnings.append(Warning(s.obj.key_text,
                                                 f"{s.label} {s.old} is in no old {what} CIDR; left as it is"))
            continue
        if m.fits and (subnets or usable(m)):
            s.new = m.new if m.new != s.old else None
        else:  # (only a misfit keeps its mapping: 370k of them, with their ip objects, weighed ~55 MB at 8 GiB)
            s.mapped = m
            misfits.append(s)
    if misfits and not ctx.options.reallocate:
        detail = "; ".join(f"{s.obj.ref()} {s.label} {s.old} ({s.mapped.reason or 'reserved address'})"
                           for s in misfits)
        raise PlanError(f"{len(misfits)} {what} address(es) do not fit the new CIDR (use --reallocate): {detail}")
    _check_clashes(slots, misfits, cmap, subnets, what)
    if misfits:
        _reallocate(ctx, slots, misfits, subnets, what)


def _usable(m: Mapped) -> bool:
    """_usable tells whether a mapped service IP is one the apiserver's allocator could hold."""
    return _service_pool(m.mapping.new).usable(m.new)


@functools.lru_cache(maxsize=16)
def _service_pool(cidr) -> Reallocator:
    """_service_pool is an empty allocator of a service CIDR (a network), used read-only to ask what it may hand out."""
    return Reallocator.for_service_ips(str(cidr))


def _inside_new(cmap: CidrMap, addr) -> bool:
    """_inside_new tells whether an address already lies in a new CIDR (a rerun of the same rewrite)."""
    for m in cmap:
        if m.version == addr.version:
            net = addr if isinstance(addr, (ipaddress.IPv4Network, ipaddress.IPv6Network)) else None
            if (net is not None and net.subnet_of(m.new)) or (net is None and addr in m.new):
                return True
    return False


def _final(s: Slot) -> str:
    return s.new if s.new is not None else s.old


def _check_clashes(slots: list[Slot], misfits: list[Slot], cmap: CidrMap, subnets: bool, what: str) -> None:
    """_check_clashes refuses a plan in which two objects would share an address (or overlap)."""
    pending = {id(s) for s in misfits}
    seen: dict[str, Slot] = {}
    nets: list[tuple[object, Slot]] = []
    for s in slots:
        if id(s) in pending:
            continue
        final = _final(s)
        prev = seen.get(final)
        if prev is not None and prev.obj.key != s.obj.key:
            raise PlanError(f"{what} address {final} would be held by both {prev.obj.ref()} and {s.obj.ref()}")
        seen[final] = s
        if subnets:
            net = parse_subnet(final)
            if net is not None:
                nets.append((net, s))
    if subnets:
        nets.sort(key=lambda p: (p[0].version, p[0].network_address, p[0].prefixlen))
        for (a, sa), (b, sb) in zip(nets, nets[1:]):
            if a.version == b.version and a.overlaps(b) and sa.obj.key != sb.obj.key:
                raise PlanError(f"{what} subnets {a} ({sa.obj.ref()}) and {b} ({sb.obj.ref()}) would overlap")


def _reallocate(ctx: Context, slots: list[Slot], misfits: list[Slot], subnets: bool, what: str) -> None:
    """_reallocate gives each misfit the lowest free address (subnet) of its new CIDR, in key order."""
    pending = {id(s) for s in misfits}
    pools: dict[str, Reallocator] = {}
    for s in misfits:
        new_net = str(s.mapped.mapping.new)
        if new_net not in pools:
            pool = Reallocator.for_subnets(new_net) if subnets else Reallocator.for_service_ips(new_net)
            for other in slots:
                if id(other) not in pending:
                    pool.take(_final(other))
            pools[new_net] = pool
        pool = pools[new_net]
        if subnets:
            s.new = pool.allocate_subnet(parse_subnet(s.old).prefixlen)
        else:
            s.new = pool.allocate_ip()
        ctx.plan.warnings.append(Warning(
            s.obj.key_text, f"{s.label} {s.old} does not fit {new_net} at its offset; reallocated to {s.new}"))


def object_edits(ctx: Context, slots: list[Slot], api_version: str, mirror: str, ready=None) -> None:
    """object_edits turns decided slots into one Edit per object: the list field and its scalar mirror.

    ``mirror`` is the singular field that must equal the list's first entry (``clusterIP``, ``podCIDR``).
    Objects that predate the list field only have the mirror; their slot's ``list_field`` is the mirror.
    ``ready(obj)``, if given, is called before an object's edit is made (a rule that held its reads packed).
    """
    by_obj: dict[bytes, list[Slot]] = {}
    for s in slots:
        if s.new is not None:
            by_obj.setdefault(s.obj.key, []).append(s)
    mirror_label = sys.intern(f"spec.{mirror}")
    for moved in by_obj.values():
        obj = moved[0].obj
        if ready is not None:
            ready(obj)
        ctx.plan.edits.append(object_edit(obj, moved, api_version, mirror, mirror_label))


def object_edit(obj: Object, moved: list[Slot], api_version: str, mirror: str, mirror_label: str) -> Edit:
    """object_edit is ``object_edits``' Edit of one object, from its moved slots (``mirror_label``: ``spec.<mirror>``)."""
    edits: dict = {}
    rows: list[tuple] = []  # the object's Changes: (field, old, new, new_key) (``Edit.of_rows``)
    field_name = moved[0].list_field
    if moved[0].singular:  # no list field: the singular one is all there is
        path = field_path(obj, api_version, ("spec", mirror))
        edits[path] = [moved[0].new]
        rows.append((mirror_label, moved[0].old, moved[0].new, None))
    else:
        list_path = field_path(obj, api_version, ("spec", field_name))
        current = read_fields(obj, api_version, ("spec", field_name))
        new_list: list[str | None] = [None] * len(current)
        for s in moved:
            new_list[s.index] = s.new
            rows.append((s.label, s.old, s.new, None))
        edits[list_path] = new_list
        first = next((s for s in moved if s.index == 0), None)
        mirror_path = field_path(obj, api_version, ("spec", mirror))
        mirror_now = read_fields(obj, api_version, ("spec", mirror))
        if first is not None and mirror_now and mirror_now[0] == first.old:
            edits[mirror_path] = [first.new]
            rows.append((mirror_label, first.old, first.new, None))
    return Edit.of_rows(obj, rewrite_value(obj, edits), rows)
