"""A Plan: every change a rewrite will make, computed from a snapshot without writing anything.

``build`` scans bucket ``key`` once for the keys the rules care about, loads the latest live record of
each, and lets each rule (``rules/``) decide its edits. The plan is what the dry run prints and what
``apply`` turns into one bbolt transaction; its ``report()`` is the JSON contract of ``rewrite``.

An ``Edit`` (``edits``) is a decision: the object's latest record gets a new value (and, for a renamed object,
a new key). Where its records go (revisions, tombstones, the new key's generation) is decided when
the plan is applied, by the etcd layer (``etcd.writes``), from the histories the same scan gathered
for keys that may be renamed. A plan is never changed by applying it: it can be applied again.
"""

import bisect
import contextlib
import gc
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import compress, groupby, repeat
from operator import itemgetter
from typing import Any

from .. import process
from ..errors import PlanError
from ..etcd import mvcc, writes
from ..etcd.snapshot import Snapshot
from ..k8s.layout import Layout
from .aside import Aside, Recorder, fan_out, pack
from .aside import paged as paged_visits  # (``paged`` names the observers in ``scan``)
from .changelist import ChangeList
from .cidr import CidrMap
from .edits import Change, Edit, EditChanges
from .parallel import cpus

Progress = Callable[[int], None] | None
ASIDE_CORES = 2  # cores from which the leftovers' search goes to a forked child (``Aside``)


@dataclass(frozen=True)
class Warning:
    """Something the operator should know that did not stop the plan."""

    key: str
    message: str

    def as_json(self) -> dict:
        return {"key": self.key, "message": self.message}


@dataclass(slots=True, init=False)
class Object:
    """A live Kubernetes object a rule looks at: its key, where its latest record is, and its identity.

    The record is read from the snapshot when asked for and kept only until a rule calls ``forget``:
    a plan over 50,000 Services would otherwise hold every old value at once. A plan at 8 GiB holds
    ~650k Objects through planning: ``cache`` is made when a rule first uses it and dropped again
    (``clear``), not an empty dict per object (64 bytes each, ~40 MB).
    """

    key: bytes
    revkey: bytes  # bbolt key of its latest record in bucket ``key``
    kind: str
    namespace: str
    _name: str | int  # its name, or where in ``key`` the path that ends in its name starts (``name``)
    snap: Snapshot = field(repr=False)
    _cache: dict | None = field(repr=False)  # what rules already read from the value (None: nothing yet)
    crypt: Any = field(repr=False)  # k8s.encryption.EncryptionConfig: values are read decrypted
    excluded: bool  # ``--exclude`` names it: set by the planner (``mark_excluded``), read by the rules

    def __init__(self, key: bytes, revkey: bytes, kind: str, namespace: str, name: str | int, snap: Snapshot,
                 cache: dict | None = None, crypt: Any = None, excluded: bool = False):
        self.key, self.revkey, self.kind, self.namespace, self._name, self.snap = key, revkey, kind, namespace, name, snap
        self._cache = cache or None
        self.crypt = crypt
        self.excluded = excluded

    @property
    def name(self) -> str:
        """name is the object's name: given, or read from its key when asked (``load_objects`` gives where it lies:
        at 8 GiB ~620k names held beside their keys weighed ~40 MB through planning).

        From the key as ``split_key`` reads it: past the cut, the part after the namespace's ``/`` (all of it for a
        cluster-scoped object).
        """
        n = self._name
        if type(n) is not int:
            return n
        ns, sep, name = self.key[n:].decode("utf-8", "backslashreplace").partition("/")
        return name if sep else ns

    @property
    def cache(self) -> dict:
        """cache is what rules already read from the value (made at the first use)."""
        c = self._cache
        if c is None:
            c = self._cache = {}
        return c

    @property
    def record(self) -> mvcc.Record:
        cache = self.cache
        rec = cache.get("record")
        if rec is None:
            fields = cache.get("fields")  # (read for ``value``: the same record, made now)
            rec = cache["record"] = (mvcc.record_at(self.snap, self.revkey) if fields is None
                                     else mvcc.record_from_fields(self.revkey, fields))
        return rec

    def stored(self) -> tuple:
        """stored is the latest record's KeyValue fields as a tuple (``mvcc.put_fields_at``: no Record made for ``value``
        and ``Edit.of_rows``, ~80k records per 1.3 GB), read when first asked; ``record``'s where that read declines."""
        cache = self.cache
        fields = cache.get("fields")
        if fields is None:
            rec = cache.get("record")
            if rec is None and (fields := mvcc.put_fields_at(self.snap, self.revkey)) is not None:
                cache["fields"] = fields
                return fields
            kv = (rec or self.record).kv
            fields = (kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.value, kv.lease)
        return fields

    def forget(self) -> None:
        """forget drops the record read for a rule (fields read from it stay cached, not where they lie)."""
        cache = self._cache
        if cache is not None:
            cache.pop("record", None)
            cache.pop("fields", None)
            cache.pop("plain", None)
            cache.pop("located", None)

    def clear(self) -> None:
        """clear drops everything rules read from the object but how an encrypted value was sealed (``Edit.of``)."""
        cache = self._cache
        sealed = cache.get("sealed") if cache is not None else None
        self._cache = {"sealed": sealed} if sealed is not None else None

    @property
    def value(self) -> bytes:
        """value is what rules read: the stored value, decrypted when it is encrypted and a config is given.

        How it was sealed stays in the cache (``sealed``) so that ``Edit.of`` seals the edit the same way.
        """
        stored = self.stored()[4]
        if self.crypt is None or not stored.startswith(b"k8s:enc:"):
            return stored
        plain = self.cache.get("plain")
        if plain is None:
            plain, self.cache["sealed"] = self.crypt.open(self.key, stored)
            self.cache["plain"] = plain
        return plain

    @property
    def key_text(self) -> str:
        return self.key.decode("utf-8", "backslashreplace")

    def ref(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def file_order(objs: list[Object]) -> list[int]:
    """file_order is the positions of ``objs`` in the order their latest records lie in the file.

    The scan notes where each record lies (``etcd.mvcc.scan_index``'s hints); records lie in revision
    order, not key order, so a rule that reads many objects in key order jumps across the whole file
    (46k Services: ~3,500 windows of 1 GB, each mapped again after the mapping is released); read in
    this order, the same records cost about half. A record without a hint comes first: it is read as before.
    """
    if not objs:
        return []
    hints = objs[0].snap.key_bucket().element_hints
    where = [hints.get(o.revkey, -1) for o in objs]
    return sorted(range(len(objs)), key=where.__getitem__)


@dataclass
class Options:
    """What the operator asked for."""

    service_map: CidrMap
    pod_map: CidrMap
    excludes: frozenset[str] = frozenset()
    reallocate: bool = False
    only: frozenset[str] | None = None  # rule names; None = every rule
    crypt: Any = None  # k8s.encryption.EncryptionConfig (--encryption-config): encrypted values are edited

    def excluded(self, obj: Object) -> bool:
        """excluded tells whether ``--exclude`` names the object (``ns/name``, or ``name`` if cluster-scoped).

        Only the planner asks (``mark_excluded``); rules read ``Object.excluded``.
        """
        return obj.ref() in self.excludes or (not obj.namespace and f"/{obj.name}" in self.excludes)


@dataclass
class Plan:
    """Every change of a rewrite, and the warnings, in key order."""

    input: str
    revision: int
    edits: list[Edit] = field(default_factory=list)
    histories: writes.Histories = field(default_factory=lambda: writes.Histories(()))  # of keys renames touch
    warnings: list[Warning] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kept_ips: dict[str, list[str]] = field(default_factory=dict)  # ns/name -> cluster IPs of Services --exclude kept
    cni: dict[str, list[str]] = field(default_factory=dict)  # CNI found -> its pools (CIDRs), set by the CNI rules
    layout: Layout = field(default_factory=Layout)  # the key root the rules' keys were joined to

    @property
    def changes(self) -> list[Change]:
        return list(self.iter_changes())

    def iter_changes(self) -> Iterator[Change]:
        """iter_changes yields ``changes`` one at a time (a big plan's Changes are never all made at once)."""
        for e in self.edits:
            yield from e.changes

    def count_kind(self, kind: str) -> int:
        """count_kind is the number of objects of ``kind`` that change."""
        return sum(1 for e in self.edits if e.kind == kind)

    def objects_by_kind(self) -> dict[str, int]:
        """objects_by_kind counts the changed objects of every kind."""
        out: dict[str, int] = {}
        for e in self.edits:
            if e.kind is not None:
                out[e.kind] = out.get(e.kind, 0) + 1
        return dict(sorted(out.items()))

    def report(self, output: str | None) -> dict:
        """report is the JSON of the plan, as ``rewrite --report`` writes it.

        ``changes`` is a ``ChangeList``: each entry's dict is made from its Change when it is read.

        ``encrypted`` (present when some changed object was encrypted at rest) lists those objects and the
        provider/key name each was sealed with again (never key material).
        """
        out = {
            "input": self.input,
            "output": output,
            "revision": self.revision,
            "changes": ChangeList(EditChanges(self.edits)),
            "warnings": [w.as_json() for w in self.warnings],
            "summary": {
                "servicesChanged": self.count_kind("Service"),
                "nodesChanged": self.count_kind("Node"),
                "objectsChanged": len(self.edits),
                "byKind": self.objects_by_kind(),
                "changes": sum(e.count for e in self.edits),
                "warnings": len(self.warnings),
            },
        }
        sealed = [{"key": (e.new_key or e.key).decode("utf-8", "backslashreplace"),
                   "provider": e.sealed_with.split("/", 1)[0], "keyName": e.sealed_with.split("/", 1)[1]}
                  for e in self.edits if e.sealed_with]
        if sealed:
            out["encrypted"] = sealed
            out["summary"]["encryptedChanged"] = len(sealed)
        return out


def split_key(key: bytes, prefix: bytes) -> tuple[str, str]:
    """split_key returns (namespace, name) of a registry key under ``prefix`` (namespace '' if cluster-scoped)."""
    rest = key[len(prefix):].decode("utf-8", "backslashreplace")
    ns, sep, name = rest.partition("/")
    return (sys.intern(ns), name) if sep else ("", ns)  # a namespace's name is held once, not per object


def load_objects(snap: Snapshot, prefixes: dict[bytes, str], progress: Progress = None,
                 visit: mvcc.Visit = None, histories: writes.Histories | None = None,
                 crypt: Any = None, visit_page: mvcc.VisitPage = None,
                 also: tuple[bytes, ...] = (), also_index: dict[bytes, bytes] | None = None,
                 visit_batch: mvcc.VisitBatch = None, visit_skip: tuple[bytes, ...] = (),
                 leaves: mvcc.Leaves = None) -> dict[str, list[Object]]:
    """load_objects returns, per kind, the live objects under the given key prefixes, in key order.

    ``visit`` (per record), ``visit_page`` (per leaf) and ``visit_batch`` (per batch of leaves) see every
    record of the same pass and ``histories`` gathers the record keys of the keys under its prefixes (see ``mvcc.scan_index``).
    The live keys under the prefixes ``also`` (indexed by the same pass) go to ``also_index``.
    ``visit_skip``: key prefixes ``visit`` need not see; ``leaves`` sees each batch of leaves (``mvcc.scan_index``).
    """
    wanted = tuple(prefixes) or None
    indexed = tuple(dict.fromkeys((wanted or ()) + tuple(also))) or None
    scan = indexed or visit or visit_page or visit_batch or leaves
    index = mvcc.live_keys(snap, indexed, progress, visit, histories, visit_page, hint_leaves=True,
                           visit_batch=visit_batch, visit_skip=visit_skip, leaves=leaves) if scan else {}
    if also_index is not None:
        also_index.update(compress(index.items(), map(bytes.startswith, index, repeat(also))))
    out: dict[str, list[Object]] = {kind: [] for kind in prefixes.values()}
    keys = sorted(index)
    for prefix, run in groupby(zip(_owners(keys, wanted or ()), keys), itemgetter(0)):
        if prefix is None:
            continue  # only under ``also``
        kind, cut, intern = prefixes[prefix], len(prefix), sys.intern  # a namespace's name is held once
        ks = [k for _, k in run]
        parts = map(str.partition, [k[cut:].decode("utf-8", "backslashreplace") for k in ks], repeat("/"))
        # (the name is read from the key when asked: ``Object.name``)
        out[kind].extend([Object(k, rk, kind, intern(ns) if sep else "", cut, snap, crypt=crypt)
                          for k, rk, (ns, sep, _) in zip(ks, map(index.__getitem__, ks), parts)])
    return out


def _owners(keys: list[bytes], wanted: tuple[bytes, ...]) -> list[bytes | None]:
    """_owners gives each of the sorted ``keys`` the first of ``wanted`` it starts with (None: none).

    The keys under a prefix are one run of the sorted list (found by bisection); the prefixes are laid over
    it last to first, so where two nest the one named first wins, as ``split_key``'s caller chose it.
    """
    owner: list[bytes | None] = [None] * len(keys)
    for p in reversed(wanted):
        lo = bisect.bisect_left(keys, p)
        hi = lo
        if lo < len(keys) and keys[lo].startswith(p):
            after = p.rstrip(b"\xff")
            hi = bisect.bisect_left(keys, after[:-1] + bytes([after[-1] + 1])) if after else len(keys)
        owner[lo:hi] = repeat(p, hi - lo)
    return owner


def _rule_prefixes(rule, layout: Layout) -> dict[bytes, str]:
    """_rule_prefixes maps a rule's key prefixes, joined to the layout root, to the kinds it loads under them.

    ``prefixes`` is a tuple (all of the rule's ``kind``) or a {prefix: kind} dict, relative to the root.
    """
    given = rule.prefixes if isinstance(rule.prefixes, dict) else dict.fromkeys(rule.prefixes, rule.kind)
    return {layout.key(p): kind for p, kind in given.items()}


def _rename_prefixes(rule, layout: Layout) -> tuple[bytes, ...]:
    """_rename_prefixes are the prefixes whose keys a rule may rename: ``renames`` = True (all its prefixes) or a tuple."""
    renames = getattr(rule, "renames", False)
    rels = tuple(renames) if isinstance(renames, tuple) else (tuple(rule.prefixes) if renames else ())
    return layout.keys(rels)


def _decrypting(visit: mvcc.Visit, crypt) -> mvcc.Visit:
    """_decrypting lets observers see encrypted records' plaintext (records it cannot open: as stored)."""
    from ..errors import SnapshotError
    from ..etcd import kv as kvcodec

    find = re.compile(re.escape(b"k8s:enc:")).search  # values are memoryviews: no `in`

    def observe(key: bytes, revkey, value) -> None:
        if find(value) is not None:
            stored = kvcodec.decode(value).value
            try:
                value = crypt.open(key, stored)[0]
            except SnapshotError:  # an old revision under a retired key, a kms value: left to the rules
                pass
        visit(key, revkey, value)

    return observe


@dataclass
class Scanned:
    """What the planning pass over bucket ``key`` found (``scan``), for ``build`` to run the rules on."""

    layout: Layout
    selected: list
    observers: dict
    histories: writes.Histories
    objects: dict[str, list[Object]]
    also_index: dict[bytes, bytes]  # live keys under ``scan``'s ``also`` prefixes -> bbolt key of their last put
    aside: "Aside | None" = None  # observers scanning in a forked child meanwhile (close it if ``build`` is not run)
    begun: dict = field(default_factory=dict)  # rule name -> what its ``begin`` started once the scan ended

    def close_begun(self) -> None:
        """close_begun ends what the rules began after the scan and ``build`` did not take (``build`` not run)."""
        close_all(self.begun)


def close_all(begun: dict) -> None:
    """close_all ends what rules began ahead of their turn (``Scanned.begun``, ``Context.started``) and was not taken.

    A caller that must close them later holds this dict, not what holds it (the scan's objects).
    """
    while begun:
        begun.popitem()[1].close()


def build(snap: Snapshot, options: Options, progress: Progress = None, layout: Layout | None = None,
          scanned: Scanned | None = None, release: bool = False) -> Plan:
    """build computes the Plan of a rewrite of ``snap`` under ``options`` (nothing is written).

    Rules name their keys relative to the key root (``services/specs/``); ``layout`` (default: detected
    from the snapshot) joins the root here, once, and rules reach it as ``ctx.layout``. ``scanned``: the
    pass ``scan`` already made for these options (its ``also`` index serves another reader).
    ``release``: ``scanned`` is not built on again: each kind's objects are dropped from it once no later
    rule loads that kind (at 8 GiB the 283k Services and 334k IPAddresses, ~110 MB, are gone before the
    last rules run, where planning peaks), and each rule's observer once the rule has run.
    """
    sc = scanned if scanned is not None else scan(snap, options, progress, layout)
    release = release or scanned is None
    with contextlib.ExitStack() as stack:
        if scanned is None and sc.aside is not None:
            stack.enter_context(sc.aside)
        plan = Plan(snap.path, mvcc.current_revision(snap), histories=sc.histories, layout=sc.layout)
        ctx = Context(options, plan, sc.objects, snap, observed=sc.observers, layout=sc.layout,
                      early=tuple(r for r in sc.selected if hasattr(r, "start")))
        stack.callback(ctx.close_started)
        ctx.started.update(sc.begun)  # (closed with the rest if a rule fails before taking it)
        sc.begun.clear()
        mark_excluded(sc.objects, options)
        plan.warnings.extend(unmatched_excludes(sc.objects, options, sc.selected))
        excluded = ctx.marked = _excluded_kinds(sc.objects, options)  # (objects go as rules finish: ``release``)
        later = [{k for r in sc.selected[i + 1:] for k in _rule_prefixes(r, sc.layout).values()}
                 for i in range(len(sc.selected))]
        with no_cycle_collection():
            for i, rule in enumerate(sc.selected):
                if sc.aside is not None and rule.name in sc.aside.observers:
                    sc.aside.settle()
                ctx.last = frozenset(k for k in sc.objects if k not in later[i]) if release else frozenset()
                rule.run(ctx)
                _forget_all(sc.objects)
                if release:
                    for kind, objs in sc.objects.items():
                        if objs and kind not in later[i]:
                            sc.objects[kind] = []
                    # what the rule's observer gathered is read: it goes (leftovers' keys: ~75 MB at 8 GiB, else
                    # held through the write, and by every child forked after planning)
                    sc.observers.pop(rule.name, None)
                    if sc.aside is not None:
                        sc.aside.observers.pop(rule.name, None)
                process.trim()  # what the rule read and dropped leaves the heap: the next starts lower
        _check_excluded(plan, excluded, sc.selected)
    plan.edits.sort(key=lambda e: e.key)
    return plan


def mark_excluded(objects: dict[str, list[Object]], options: Options) -> None:
    """mark_excluded sets ``Object.excluded`` on every loaded object ``--exclude`` names, before any rule runs.

    The one place ``options.excludes`` is read: rules decide per kind what an excluded object still
    tells them (an excluded Service's cluster IPs stay allocated) and whether it is reported as excluded.
    """
    for objs in objects.values():
        for obj in objs:
            obj.excluded = bool(options.excludes) and options.excluded(obj)


def unmatched_excludes(objects: dict[str, list[Object]], options: Options, rules: list) -> list[Warning]:
    """unmatched_excludes warns of each ``--exclude`` that keeps nothing (the objects are marked: ``mark_excluded``).

    An exclusion that names no object the selected rules read (a typo, a missing namespace) or only
    objects that move with another one (an IPAddress moves with its Service) would otherwise be
    silently without effect: the operator believes an object is kept that is moved.
    """
    if not options.excludes:
        return []
    follows = {k for r in rules for k in getattr(r, "follows", ())}
    kept: set[str] = set()
    moving: dict[str, str] = {}
    for objs in objects.values():
        for obj in objs:
            if obj.excluded:
                names = (obj.ref(),) if obj.namespace else (obj.ref(), f"/{obj.name}")
                for name in names:
                    if obj.kind in follows:
                        moving.setdefault(name, obj.kind)
                    else:
                        kept.add(name)
    out = []
    for ex in sorted(options.excludes - kept):
        if ex in moving:
            out.append(Warning("", f"--exclude {ex} names a {moving[ex]} object; those move with the object "
                                   "they belong to whatever --exclude says: exclude that object instead"))
        else:
            out.append(Warning("", f"--exclude {ex}: no object the rewrite edits has this name (want NAMESPACE/NAME, "
                                   "or NAME for a cluster-scoped object); nothing is kept by it"))
    return out


def _excluded_kinds(objects: dict[str, list[Object]], options: Options) -> dict[bytes, str]:
    """_excluded_kinds maps the key of every object ``--exclude`` names (``mark_excluded``) to its kind."""
    if not options.excludes:
        return {}
    return {o.key: o.kind for objs in objects.values() for o in objs if o.excluded}


def _check_excluded(plan: Plan, excluded: dict[bytes, str], rules: list) -> None:
    """_check_excluded refuses a plan that changes an object ``--exclude`` names (a rule that ignored ``Object.excluded``).

    ``excluded``: ``_excluded_kinds`` before the rules ran. Kinds a rule names in ``follows`` move with the
    object they belong to whatever ``--exclude`` says: an IPAddress with its Service, Calico's blocks,
    affinities and handles with their IPPool.
    """
    if not excluded:
        return
    follows = {k for r in rules for k in getattr(r, "follows", ())}
    for e in plan.edits:
        kind = excluded.get(e.key)
        if kind is not None and kind not in follows:
            raise PlanError(f"{e.key.decode('utf-8', 'backslashreplace')}: --exclude names this {kind} but the "
                            "plan changes it (internal error: a rule ignored the exclusion)")


def _forget_all(objects: dict[str, list[Object]]) -> None:
    """_forget_all empties every object's cache once a rule is done with them.

    What a rule read (records a rule kept, envelopes, fields) would otherwise stay until planning ends,
    beside the plan's new values: ~90 MB of a 1.3 GB rewrite (5k ConfigMaps' records, 56k IPAddresses'
    envelopes). A later rule that looks at the same object reads it again; its record does not change.
    How an encrypted value was sealed stays: a later rule editing an earlier edit seals it the same way.
    """
    for objs in objects.values():
        for obj in objs:
            if obj._cache is not None:
                obj.clear()


@contextlib.contextmanager
def no_cycle_collection():
    """no_cycle_collection pauses Python's cycle collector while the rules run (and ``rewrite`` while it works).

    The rules make about ten objects per object they look at (records, slots, edits, changes), almost
    all acyclic and long-lived: each full collection walked every one of them again, a quarter of
    the rules' time on a 100k-object plan; the scan, the report and the batch grow the heap the same way
    (five full collections, ~2 s of a 1.3 GB rewrite). Reference counting still frees what they drop; a
    cycle made meanwhile (an exception kept with its traceback) is collected once the collector runs again.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def scan(snap: Snapshot, options: Options, progress: Progress = None, layout: Layout | None = None,
         also: tuple[bytes, ...] = ()) -> Scanned:
    """scan is the one pass over bucket ``key`` that planning needs; it also indexes the live keys under ``also``.

    The observers see each record once and the rules' objects are found; ``rewrite`` indexes the
    cluster facts' keys (``facts.State``) in this same pass instead of a second one.
    """
    from ..k8s.layout import detect
    from .rules import RULES  # the rules depend on this module's types

    layout = layout or detect(snap)

    selected = [r for r in RULES if options.only is None or r.name in options.only]
    unknown = (options.only or frozenset()) - {r.name for r in RULES}
    if unknown:
        raise PlanError(f"unknown --only value(s): {', '.join(sorted(unknown))} "
                        f"(known: {', '.join(r.name for r in RULES)})")
    prefixes: dict[bytes, str] = {}
    for r in selected:
        prefixes.update(_rule_prefixes(r, layout))
    # Rules that must see every record (not only their objects) observe the same single scan, and so
    # does the history of the keys a rename may leave or take (``etcd.writes`` places renames by it).
    observers = {r.name: r.observer(options) for r in selected if hasattr(r, "observer")}
    observers = {name: o for name, o in observers.items() if o is not None}
    histories = writes.Histories(tuple(p for r in selected for p in _rename_prefixes(r, layout)))
    aside = None
    if options.crypt is None:  # raw bytes are what observers look for: a leaf at a time where they can
        paged = {name: o for name, o in observers.items() if hasattr(o, "visit_page")}
        # from two cores: the child searches while this pass indexes and the input's copy and hash run (1.3 GB,
        # 2 shared cores, 13 A/B pairs: median 24.0 s against 25.4, 8 faster; its answer is one buffer read
        # when the rule runs: peak 200-205 MB against 206-209). It follows this pass (``Recorder``): no second walk
        # and decode of every leaf (child ~3.3 -> ~2.6 s CPU at 1.3 GB, this pass +~0.05 s)
        # (an observer that only ``rides`` joins the child's pass, never makes one for itself: flannel's keys)
        if (paged and process.may_fork() and cpus() >= ASIDE_CORES and all(hasattr(o, "export") for o in paged.values())
                and not all(getattr(o, "rides", False) for o in paged.values())):
            aside = Aside(snap, paged, Recorder(snap))  # their search runs on another core, following this pass
            paged = {}
        per_page, per_batch = paged_visits(paged)
        per_record = [o for o in observers.values() if not hasattr(o, "visit_page")]
    else:  # encrypted values hide their text from a search of the raw leaf: every record is opened first
        per_page = per_batch = None
        per_record = list(observers.values())
    visit = fan_out([o.visit for o in per_record])
    if visit is not None and options.crypt is not None:
        visit = _decrypting(visit, options.crypt)
    # keys no per-record observer wants (``skip``: prefixes whose records its visit ignores) are not visited
    skips = {getattr(o, "skip", ()) for o in per_record}
    skip = skips.pop() if len(skips) == 1 else ()
    also_index: dict[bytes, bytes] = {}
    try:
        objects = load_objects(snap, prefixes, progress, visit, histories, options.crypt, per_page,
                               tuple(also), also_index, per_batch, skip, aside.note if aside is not None else None)
        if aside is not None:
            aside.finish()  # (the child following the scan reads its end)
    except BaseException:
        if aside is not None:
            aside.close()
        raise
    pack(o for name, o in observers.items() if aside is None or name not in aside.observers)
    # rules that only read their objects begin in a forked child now: it works while the caller checks
    # the cluster's facts (``rewrite``: ``refuse_unsafe``) and until the rule's turn
    begun = {r.name: r.begin(objects.get(r.kind, []), options) for r in selected if hasattr(r, "begin")}
    return Scanned(layout, selected, observers, histories, objects, also_index, aside, begun)


@dataclass
class Context:
    """What rules share while planning: options, the plan so far, loaded objects, moved addresses."""

    options: Options
    plan: Plan
    objects: dict[str, list[Object]]
    snap: Snapshot
    observed: dict = field(default_factory=dict)  # rule name -> what its observer gathered in the scan
    moved_ips: dict[str, str] = field(default_factory=dict)  # service IP old -> new, filled by the service rule
    moved_subnets: dict[str, str] = field(default_factory=dict)  # node pod CIDR old -> new
    service_ips: list[str] = field(default_factory=list)  # every live Service's cluster IPs after the move
    excluded: set[bytes] = field(default_factory=set)  # keys a rule left alone because of --exclude
    marked: dict[bytes, str] = field(default_factory=dict)  # key -> kind of every object --exclude names (the planner's)
    kept_ips: set[str] = field(default_factory=set)  # cluster IPs of excluded Services (they stay where they are)
    edit_index: dict[bytes, int] = field(default_factory=dict)  # key -> position in plan.edits (rules.cni keeps it)
    layout: Layout = field(default_factory=Layout)  # the key root: ``layout.key(b"ranges/serviceips")``
    early: tuple = ()  # rules with a ``start``: begun by ``moves_known``, before their turn
    started: dict = field(default_factory=dict)  # rule name -> what its ``start`` began (closed by ``close_started``)
    last: frozenset = frozenset()  # kinds no rule after this one loads (``build`` with ``release``): see ``let_go``

    def let_go(self, kind: str) -> None:
        """let_go drops the running rule's hold on ``kind``'s objects if no later rule loads them (``last``): a rule
        that holds them in its own list frees each once done with it (334k IPAddresses at 8 GiB, ~60 MB)."""
        if kind in self.last:
            self.objects[kind] = []

    def moves_known(self) -> None:
        """moves_known begins the rules that need only the Services' moves (``start``): the services rule calls
        it once ``moved_ips`` and ``kept_ips`` are final; each rule takes what it began when its turn comes."""
        for rule in self.early:
            if rule.name not in self.started:
                self.started[rule.name] = rule.start(self)

    def close_started(self) -> None:
        """close_started ends what a rule began and did not take (a rule before it failed)."""
        close_all(self.started)
