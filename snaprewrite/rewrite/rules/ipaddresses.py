"""IPAddress objects (networking.k8s.io, Kubernetes 1.31+): one per allocated service IP, named by the IP.

A moved service IP renames its IPAddress: new key ``<root>ipaddresses/<new ip>``, new
``metadata.name``, same ``spec.parentRef``. This rule only decides the rename; the records it takes
(the new key's generation, the old key's deletion, an exact undo of an earlier rename) are the etcd
layer's (``etcd.writes``), which reads the histories the planning scan gathers for ``renames`` rules.
"""

from ... import standby
from ...errors import PlanError
from ...etcd import mvcc
from ...k8s import located
from .. import parallel
from ..plan import Context, Edit, Object, Warning, file_order
from .addresses import field_path, read_fields, replace_single, rewrite_value

name = "ipaddresses"
kind = "IPAddress"
prefixes = (b"ipaddresses/",)  # relative to the layout root
API = "networking.k8s.io/v1"
PREFIX = prefixes[0]
renames = True  # keys under ``prefixes`` may change: the planner gathers their histories
follows = (kind,)  # an IPAddress moves with its Service (kept with an excluded one), whatever --exclude names
NAME = (("metadata", "name"),)
CHILD_SHARE = 0.5  # of the IPAddresses decided in a forked child (it is about as fast as this process)
EARLY_SHARE = 0.9  # of those decided in a child begun early (``start``): it works while this process does the rest


def _split(ctx: Context, share: float) -> parallel.Split:
    """_split is the rule's decisions, in the order the records lie in the file (``plan.file_order``), a share
    of them made in a forked child (none when values are encrypted: their sealing stays with the object
    that read them)."""
    objs = ctx.objects.get(kind, [])
    existing = _Names(ctx.layout.key(PREFIX), objs)

    def decide(obj):
        try:
            return _decide(ctx, existing, obj)
        except PlanError as e:
            return ("error", e)

    ordered = [objs[i] for i in file_order(objs)]
    waiting = standby.take(STANDBY)  # forked at the run's start (``job.run``): not the planner's heap at its peak
    remote = None if waiting is None else parallel.Remote(waiting, lambda items, mid: _pack(ctx, existing, items, mid),
                                                           _decide_packed)
    return parallel.Split(ordered, decide, "the IPAddress renames", share if ctx.options.crypt is None else 0.0,
                          remote=remote)


STANDBY = "the IPAddress renames"  # the ``standby.Standby`` (holding the open snapshot) a caller may reserve


def _pack(ctx: Context, existing: set[str], objs: list, mid: int) -> tuple:
    """_pack is what ``_decide`` reads for ``objs[mid:]`` as plain values (``_decide_packed`` decides from them):
    (the service map and the existing names a move may not take: in ``existing`` and not moved), and rows made
    as they are sent: each object's key, record key, name, where its record lies, its move and whether it is kept."""
    moved, kept = ctx.moved_ips, ctx.kept_ips
    hints = ctx.snap.key_bucket().element_hints

    def row(o) -> tuple:
        return o.key, o.revkey, o.name, hints.get(o.revkey), moved.get(o.name), o.name in kept

    return ((ctx.options.service_map, {n for n in existing if moved.get(n) is None}),
            parallel.rows_in_pieces(objs, mid, row))


def _decide_packed(snap, shared: tuple, rows: list):
    """_decide_packed yields ``_decide`` of each object ``_pack`` packed, made again on ``snap`` (in a ``standby.Standby``)."""
    service_map, taken = shared
    ctx = _Decisions({r[2]: r[4] for r in rows if r[4] is not None}, {r[2] for r in rows if r[5]}, service_map)
    hints = snap.key_bucket().element_hints
    for i, (key, revkey, name, hint, _, _) in enumerate(rows):
        rows[i] = None
        if hint is not None:
            hints[revkey] = hint
        obj = Object(key, revkey, kind, "", name, snap)
        try:
            yield _decide(ctx, taken, obj)
        except PlanError as e:
            yield ("error", e)
        hints.pop(revkey, None)


class _Decisions:
    """_Decisions is what ``_decide`` reads of the Context, for a decision made from ``_pack``'s values."""

    def __init__(self, moved_ips: dict[str, str], kept_ips: set[str], service_map):
        self.moved_ips, self.kept_ips = moved_ips, kept_ips
        self.options = self  # (``options.service_map``)
        self.service_map = service_map


def start(ctx: Context) -> parallel.Split:
    """start begins the decisions once the Services' moves are known (``Context.moves_known``).

    They read only what the services rule decided (``moved_ips``, ``kept_ips``): a forked child makes
    most of them while this process makes the Services' new values and runs the rules in between.
    """
    return _split(ctx, EARLY_SHARE)


def run(ctx: Context) -> None:
    """run renames the IPAddress of every moved service IP."""
    split = ctx.started.pop(name, None) or _split(ctx, CHILD_SHARE)
    ctx.let_go(kind)  # the split's list holds them: each goes once its Edit is made (``Split.pairs``)
    warnings: list[tuple[bytes, Warning]] = []
    errors: list[tuple[bytes, PlanError]] = []
    with split:
        for obj, decision in split.pairs():
            if decision is None:
                continue
            what = decision[0]
            if what == "rename":
                _, value, new_ip, base = decision
                new_key = ctx.layout.key(PREFIX + new_ip.encode())
                # the Change (obj.key_text, kind, "", obj.name, "metadata.name", obj.name, new_ip, new key)
                row = ("metadata.name", obj.name, new_ip, new_key.decode())
                ctx.plan.edits.append(Edit.of_rows(obj, value, [row], new_key=new_key, namespace="", base=base))
            elif what == "excluded":
                ctx.excluded.add(obj.key)
            elif what == "warning":
                warnings.append((obj.key, Warning(obj.key_text, decision[1])))
            else:
                errors.append((obj.key, decision[1]))
    if errors:  # the error of the first object in key order, as the plain loop raises
        raise min(errors, key=lambda e: e[0])[1]
    warnings.sort(key=lambda w: w[0])
    ctx.plan.warnings.extend(w for _, w in warnings)


class _Names:
    """_Names answers ``name in {o.name for o in objs}`` for the IPAddresses ``objs`` (under ``prefix``) from their keys.

    A name asked is a service IP (no ``/``, no ``\\``): an object's name equals it exactly when its key is
    ``prefix`` and the IP, or, for a key with a ``/`` past the prefix (read as namespace/name), its name does.
    The keys are the objects' own: 334k names at 8 GiB would weigh ~25 MB while the renames are decided.
    """

    __slots__ = ("prefix", "keys", "odd")

    def __init__(self, prefix: bytes, objs: list):
        self.prefix = prefix
        self.keys = {o.key for o in objs}
        cut = len(prefix)
        self.odd = {o.name for o in objs if not o.key.startswith(prefix) or o.key.find(b"/", cut) >= 0}

    def __contains__(self, name: str) -> bool:
        return name in self.odd or self.prefix + name.encode("utf-8", "surrogateescape") in self.keys

    def __iter__(self):
        """Every name (in no order; two keys that read as one name give it twice): the names read from the keys, then
        those of ``odd`` keys. Names are made as they are asked, none kept (the caller keeps those it wants)."""
        prefix, cut, odd = self.prefix, len(self.prefix), self.odd
        for key in self.keys:
            if key.startswith(prefix) and key.find(b"/", cut) < 0:
                name = key[cut:].decode("utf-8", "backslashreplace")
                if name not in odd:
                    yield name
        yield from self.odd


def _decide(ctx: Context, existing: "_Names", obj) -> tuple | None:
    """_decide is what becomes of one IPAddress, without changing anything: None (left alone), ("excluded",),
    ("warning", message) or ("rename", new value, new ip, its record's fields but the value).

    The decision pickles (``parallel.split_map`` may make it in a child) and the record read for it is
    forgotten: the rule keeps the record without its value for the Edit, as ``Edit.of`` would.
    """
    new_ip = ctx.moved_ips.get(obj.name)
    if obj.name in ctx.kept_ips:  # its Service was excluded and keeps this address
        return ("excluded",)
    if new_ip is None:
        m = ctx.options.service_map.map_ip(obj.name)
        if m is not None and m.new != obj.name:
            return ("warning", "IPAddress in an old service CIDR has no moved Service; left as it is")
        return None
    if new_ip in existing and ctx.moved_ips.get(new_ip) is None:
        raise PlanError(f"{obj.key_text}: cannot rename to {new_ip}: an IPAddress of that name exists")
    value = _renamed(obj, new_ip)
    if value is None:  # not one plain metadata.name equal to the key's: the careful path says why
        name_path = field_path(obj, API, ("metadata", "name"))
        value = replace_single(obj, name_path, obj.name, new_ip)
        if value is None:
            if read_fields(obj, API, ("metadata", "name")) != [obj.name]:
                raise PlanError(f"{obj.key_text}: metadata.name does not match the key")
            value = rewrite_value(obj, {name_path: [new_ip]})
    base = mvcc.put_state(obj.revkey, obj.stored(), obj.key)
    obj.forget()
    return ("rename", value, new_ip, base)


def _renamed(obj, new_ip: str) -> bytes | None:
    """_renamed is the value with ``metadata.name`` set to ``new_ip``, in one walk of a plain protobuf value.

    None unless the walk finds the one name and it is the key's: then ``replace_single`` gives these
    bytes (``tests/rewrite/test_rules_fast.py``); otherwise the rule asks it (and the careful path).
    """
    loc = located.locate(obj.value, NAME)
    if loc is None or loc.texts[0] != [obj.name]:
        return None
    return loc.rewrite(obj.value, {loc.paths[0]: [new_ip]})
