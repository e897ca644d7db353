"""Writing MVCC records into bucket ``key``: put, delete, rename and bump, as etcd's store records them.

Callers decide *what* changes (``Write``: this key's latest record gets this value, maybe under a new
key); this module decides *where* the records go (revisions, sub-revisions, tombstones) and encodes
them, following etcd's server/storage/mvcc (kvstore_txn.go writes a put as KeyValue{create_revision,
mod_revision, version, value, lease} and a delete as a tombstone holding only the key; key_index.go
reads each key's records as generations: puts with versions 1, 2, ... ended by a tombstone).

Invariant kept in every mode: for every user key, its records in bucket ``key`` still form valid
generations, and every record written for a key sorts after every record of that key it does not
replace (so a restored etcd rebuilds each key's index exactly as intended).

Two modes.

**In place** (``in_place``): no new store revision. An edit replaces the value of the key's latest
record, at the same revision; create/mod revision, version and lease are kept. A rename of key K
(latest record at revision r) to key K' moves that record to K' and is one of three cases, checked in
this order:

  * *undo*: K''s last record is a tombstone T with T.main == r.main, the record P before it is a put
    and every record of K' but T sorts before r: T was written by an earlier rename of K' to K (or K'
    was deleted in the very transaction that wrote K). T is removed and the record continues P's
    generation: create_revision of P, version of P + 1. When the record holds P's value and lease, it
    is a copy of P (written by a relocated or ``--as-new-revision`` rename, which leave the old record
    in place): it is removed too, so K' ends exactly at P. (A plain rename moved P's successor, whose
    value differs from P's: kube-apiserver never writes an unchanged object again.)
  * *plain*: K' has no record at or after r: the record at r becomes K''s first version (create_revision
    = mod_revision = r.main, version 1). If K still has a put left (earlier versions), a tombstone of K
    is written at the first free sub-revision after r, so K's generation ends there.
  * *relocated*: K' has records after r (it was deleted after K's last write). The record at r stays
    K's; a tombstone of K and then K''s first version are written at the first free sub-revisions after
    K''s last record L (both in L.main), so both sort after everything of K and K'.

Worked example (in place), the IPAddress of a Service moved from 10.96.0.10 to 172.24.0.10; a is the
old key, b the new one, m.s a revision (main.sub):

    A:       a: 5.0 put v1 (create 5)   7.0 put v2   9.0 put v3        b: (none)
    A -> B:  a: 5.0 v1   7.0 v2   9.1 tombstone                         b: 9.0 put v1 (create 9)
    B -> A:  b: its record at 9.0 goes back to a; a's last record is the tombstone 9.1 (main 9 = 9):
             undo: 9.1 removed, 9.0 becomes a's v3 with create 5
             a: 5.0 v1   7.0 v2   9.0 put v3 (create 5)                 b: (none)       == A

So A -> B -> A in place gives back every key, revision, version and value, and the old key's history.
The same holds after a relocated rename, and for an in-place rename back after an ``--as-new-revision``
one, as long as the value comes back byte for byte (a dropped copy leaves P as it was); otherwise the
object keeps one version more.

**As a new revision** (``new_revision``): append-only, as one etcd transaction at revision latest + 1,
sub-revisions in key order (a key's deletion before its put). An edit is a put with the key's
create_revision and version + 1; a rename is a deletion of K and a put of K' starting a generation
(create_revision = latest + 1, version 1). Nothing earlier changes, so A -> B -> A gives back every
live key and value (and the create_revision of edited keys), not the revisions of renamed keys.

**Bump** (``bump``): etcd 3.6's ``snapshot restore --bump-revision``: a record with an empty value at
(last main + N, 0), belonging to no key; with ``--mark-compacted``, meta ``scheduledCompactRev`` =
that revision. It moves the store revision only: every key's records are those of the mode above.
"""

import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from ..errors import SchemaError, UsageError
from ..spill import Spill
from . import kv as kvcodec
from . import revision as revcodec
from . import schema
from .kv import KeyValue
from .mvcc import Record, record_at, record_from_fields, record_from_state
from .revision import Revision
from .snapshot import Snapshot

MAX_REVISION = (1 << 63) - 1  # etcd's revisions are int64


VALUES = Spill()  # where this process's writes keep their values (``Write.of``): not in memory
OPS_CHUNK = 1024  # records ``Batch.ops`` encodes per read of their values


_REV_KEY = struct.Struct(">QcQ")  # ``revcodec.encode``'s key of a revision (no tombstone mark)
_BASE = struct.Struct("<?qqqq")  # after a Write's 17-byte revision key: tombstone, create/mod revision, version, lease


@dataclass(frozen=True, slots=True, eq=False)
class Write:
    """A decided change of one key: its latest record (``base``, value not kept) gets ``value``, under ``new_key`` if set.

    A plan holds ~100k Writes, so each is kept small: ``packed`` is the base record without its value as
    one bytes object (its revision key, then ``_BASE``; the Record itself in the rare case it does not
    pack: a record of another key), and ``held`` is the value itself or its handle in ``VALUES`` (the
    new values wait in a temp file, not in memory). ``base`` and ``value`` give them back.
    """

    key: bytes
    packed: bytes | Record
    held: bytes | int
    new_key: bytes | None = None

    @classmethod
    def of(cls, key: bytes, latest: Record, value: bytes, new_key: bytes | None = None) -> "Write":
        """of makes the Write of ``key``'s latest record (its old value is dropped: a plan holds many)."""
        kv = latest.kv
        packed: bytes | Record
        try:
            if kv.key != key:
                raise ValueError(kv.key)
            packed = revcodec.encode(latest.revision) + _BASE.pack(latest.tombstone, kv.create_revision,
                                                                    kv.mod_revision, kv.version, kv.lease)
        except (ValueError, struct.error):  # kept as a Record, without its value
            if kv.value:
                latest = Record(latest.revision, latest.tombstone, KeyValue(kv.key, kv.create_revision,
                                                                            kv.mod_revision, kv.version, b"", kv.lease))
            packed = latest
        return cls._made(key, packed, value, new_key)

    @classmethod
    def _made(cls, key: bytes, packed: "bytes | Record", value: bytes, new_key: bytes | None) -> "Write":
        """_made is the Write of ``packed`` whose new value waits in ``VALUES`` (or is held here where it will not)."""
        handle = VALUES.add(value)
        return cls(key, packed, value if handle is None else handle, new_key)

    @classmethod
    def of_fields(cls, key: bytes, revkey: bytes, fields: tuple, value: bytes, new_key: bytes | None = None) -> "Write":
        """of_fields is ``of(key, latest, value, new_key)`` for the put stored under ``revkey`` (a put's 17-byte bbolt key)
        whose KeyValue's fields are ``fields`` (``mvcc.put_fields_at``), made without the Record: the base packs
        from the key's own bytes (``revcodec.encode`` of its revision gives them back)."""
        k, create, mod, version, _value, lease = fields
        if k == key and len(revkey) == revcodec.REV_BYTES_LEN:
            try:
                packed = revkey + _BASE.pack(False, create, mod, version, lease)
            except struct.error:
                pass
            else:
                return cls._made(key, packed, value, new_key)
        return cls.of(key, record_from_fields(revkey, fields), value, new_key)

    @classmethod
    def of_state(cls, key: bytes, state: tuple, value: bytes, new_key: bytes | None = None) -> "Write":
        """of_state is ``of(key, mvcc.record_from_state(state, key), value, new_key)``, made without the Record."""
        main, sub, tomb, own_key, create, mod, version, _value, lease = state
        if own_key is None:
            try:
                packed = _REV_KEY.pack(main, b"_", sub) + _BASE.pack(tomb, create, mod, version, lease)
            except struct.error:
                pass
            else:
                return cls._made(key, packed, value, new_key)
        return cls.of(key, record_from_state(state, key), value, new_key)

    @property
    def base(self) -> Record:
        """base is the key's latest record as it was, without its value."""
        p = self.packed
        if type(p) is not bytes:
            return p
        tomb, create, mod, version, lease = _BASE.unpack_from(p, revcodec.REV_BYTES_LEN)
        return Record(revcodec.decode(p[: revcodec.REV_BYTES_LEN])[0], tomb,
                      KeyValue(self.key, create, mod, version, b"", lease))

    def base_kv(self) -> KeyValue:
        """base_kv is ``base.kv`` (the record's KeyValue without its value), made without the Record around it."""
        p = self.packed
        if type(p) is not bytes:
            return p.kv
        _tomb, create, mod, version, lease = _BASE.unpack_from(p, revcodec.REV_BYTES_LEN)
        return KeyValue(self.key, create, mod, version, b"", lease)

    def revision_lease(self) -> tuple[Revision, int]:
        """revision_lease is (``base.revision``, ``base.kv.lease``), made without the Record."""
        p = self.packed
        if type(p) is not bytes:
            return p.revision, p.kv.lease
        at = revcodec.REV_BYTES_LEN
        return revcodec.decode(p[:at])[0], _BASE.unpack_from(p, at)[4]

    @property
    def value(self) -> bytes:
        held = self.held
        return VALUES.get(held) if type(held) is int else held

    @staticmethod
    def values_of(writes: list["Write"]) -> list[bytes]:
        """values_of is ``[w.value for w in writes]``, the spilled ones read in file order (``Spill.get_many``)."""
        spilled = [i for i, w in enumerate(writes) if type(w.held) is int]
        out = [w.held for w in writes]
        for i, v in zip(spilled, VALUES.get_many([writes[i].held for i in spilled]), strict=True):
            out[i] = v
        return out

    def __eq__(self, other) -> bool:
        """Writes are equal when their keys, base records and values are (wherever each keeps its value)."""
        if not isinstance(other, Write):
            return NotImplemented
        return self is other or (self.key == other.key and self.new_key == other.new_key and self.base == other.base
                                 and self.value == other.value)

    __hash__ = None  # as the dataclass's own equality left it

    def __reduce__(self):
        """A Write pickles with its value's bytes: a handle names a place in this process's spill only."""
        return (type(self), (self.key, self.packed, self.value, self.new_key))

    @property
    def revkey(self) -> bytes:
        p = self.packed
        return p[: revcodec.REV_BYTES_LEN] if type(p) is bytes else revcodec.encode(p.revision)


@dataclass
class Histories:
    """The bbolt keys of every record of the user keys under ``prefixes``, oldest first.

    Filled by the planning scan (``mvcc.scan_index(..., histories=)``, for keys it indexes); renames
    consult it to know what a key held before and after a record. Read-only once the scan is over.
    """

    prefixes: tuple[bytes, ...]
    revkeys: dict[bytes, list[bytes] | bytes] = field(default_factory=dict)  # a key's one record: its bbolt key itself

    def of(self, key: bytes) -> list[bytes]:
        """of returns a copy of ``key``'s record keys (empty if it has none)."""
        got = self.revkeys.get(key)
        if got is None:
            return []
        return [got] if type(got) is bytes else list(got)


Op = tuple[bytes, bytes | None]  # (bbolt key in bucket ``key``, encoded KeyValue; None deletes the record)


class _Puts(Mapping):
    """The records a Batch puts, as KeyValues (without a write's value): a view of ``Batch._puts``."""

    __slots__ = ("_puts",)

    def __init__(self, puts: dict):
        self._puts = puts

    def __getitem__(self, revkey: bytes) -> KeyValue:
        v = self._puts[revkey]
        return v.base_kv() if type(v) is Write else v

    def __contains__(self, revkey) -> bool:
        return revkey in self._puts

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._puts)

    def __len__(self) -> int:
        return len(self._puts)


class Batch:
    """The records a set of writes puts into (or removes from) bucket ``key``, and the store revision after.

    ``puts`` gives each record as a KeyValue; a record whose value is a Write's is kept without it
    (``value`` b""): ``ops`` reads the value back and encodes the records one at a time as the
    transaction takes them, so the batch never holds every new value at once (``record`` gives one
    record whole). An edit in place (``put_edit``: the Write's own record, new value) is kept as the
    Write alone, its KeyValue made when read: ~600k edits at 8 GiB held a KeyValue and two dict
    entries each (~90 MB).
    """

    __slots__ = ("_puts", "deletes", "last_of", "revision", "_held")

    def __init__(self, revision: int = 0):
        self._puts: dict[bytes, KeyValue | Write] = {}  # revkey -> the record, or the Write whose record it is
        self.deletes: set[bytes] = set()
        self.revision = revision
        self._held: dict[bytes, Write] = {}  # revkey -> the Write whose value a KeyValue put holds
        # user key -> its last record's bbolt key once the batch is applied (None: no record), for the keys
        # ``in_place`` renamed to, as it placed them (``latest_records`` reads it; None: not kept,
        # or the batch changed since)
        self.last_of: dict[bytes, bytes | None] | None = None

    @property
    def puts(self) -> Mapping[bytes, KeyValue]:
        return _Puts(self._puts)

    def put(self, revkey: bytes, kv: KeyValue) -> None:
        self.last_of = None
        self.deletes.discard(revkey)
        self._held.pop(revkey, None)
        self._puts[revkey] = kv

    def put_write(self, revkey: bytes, kv: KeyValue, w: Write) -> None:
        """put_write puts ``kv`` with ``w``'s value (``kv`` is given without it)."""
        self.put(revkey, kv)
        self._held[revkey] = w

    def put_edit(self, w: Write) -> None:
        """put_edit is ``put_write(w.revkey, w.base_kv(), w)``: the Write's record, in place, with its new value."""
        revkey = w.revkey
        self.last_of = None
        self.deletes.discard(revkey)
        self._held.pop(revkey, None)
        self._puts[revkey] = w

    def delete(self, revkey: bytes) -> None:
        self.last_of = None
        self._puts.pop(revkey, None)
        self._held.pop(revkey, None)
        self.deletes.add(revkey)

    def key_of(self, revkey: bytes) -> bytes:
        """key_of is the user key of the record put under ``revkey`` (KeyError: no put there)."""
        v = self._puts[revkey]
        if type(v) is Write and type(v.packed) is not bytes:  # a base record of another key (``Write.of``)
            return v.packed.kv.key
        return v.key

    def base_at(self, revkey: bytes) -> KeyValue | None:
        """base_at is ``puts.get(revkey)``: the record put under ``revkey``, a write's value left out (None: no put)."""
        v = self._puts.get(revkey)
        return v.base_kv() if type(v) is Write else v

    def put_under(self, keys: set[bytes]) -> dict[bytes, list[bytes]]:
        """put_under is, for each of ``keys`` with records put, their revkeys in put order (``key_of`` of every put)."""
        added: dict[bytes, list[bytes]] = {}
        for revkey, v in self._puts.items():
            if type(v) is Write:
                p = v.packed
                key = v.key if type(p) is bytes else p.kv.key
            else:
                key = v.key
            if key in keys:
                added.setdefault(key, []).append(revkey)
        return added

    def record(self, revkey: bytes) -> KeyValue | None:
        """record is the record put under ``revkey``, value included (None: no put there)."""
        v = self._puts.get(revkey)
        if v is None:
            return None
        if type(v) is Write:
            kv, w = v.base_kv(), v
        else:
            kv, w = v, self._held.get(revkey)
            if w is None:
                return kv
        return KeyValue(kv.key, kv.create_revision, kv.mod_revision, kv.version, w.value, kv.lease)

    def ops(self) -> Iterator[Op]:
        """ops yields every put (encoded) and deletion in bbolt key order (the order a streamed transaction wants).

        The writes' values are read back ``OPS_CHUNK`` records at a time (``Spill.get_many``: neighbours
        in the spill file in one read), not one read each nor all at once.
        """
        puts, held = self._puts, self._held
        encode = kvcodec.encode_fields
        unpack = _BASE.unpack_from
        at = revcodec.REV_BYTES_LEN
        order = sorted([*puts, *self.deletes])
        for c in range(0, len(order), OPS_CHUNK):
            chunk = order[c : c + OPS_CHUNK]
            recs = list(map(puts.get, chunk))
            ws = [v if type(v) is Write else None if v is None else held.get(k) for k, v in zip(chunk, recs)]
            spilled = [w.held for w in ws if w is not None and type(w.held) is int]
            values = iter(VALUES.get_many(spilled)) if spilled else None
            for k, v, w in zip(chunk, recs, ws):
                if v is None:
                    yield k, None
                    continue
                if w is None:
                    yield k, encode(v.key, v.create_revision, v.mod_revision, v.version, v.value, v.lease)
                    continue
                value = next(values) if type(w.held) is int else w.held
                if v is w:
                    p = w.packed
                    if type(p) is bytes:  # an edit in place: its record, packed, with the write's value
                        _tomb, create, mod, version, lease = unpack(p, at)
                        yield k, encode(w.key, create, mod, version, value, lease)
                        continue
                    v = p.kv
                yield k, encode(v.key, v.create_revision, v.mod_revision, v.version, value, v.lease)


def _is_tomb(revkey: bytes) -> bool:
    return len(revkey) == revcodec.MARKED_REV_BYTES_LEN


def _rev(revkey: bytes) -> Revision:
    return revcodec.decode(revkey)[0]


class _Subs:
    """Free sub-revisions: not in the snapshot's bucket ``key`` (either form) and not taken by this batch."""

    def __init__(self, snap: Snapshot, batch: Batch):
        self.bucket = snap.key_bucket()
        self.batch = batch

    def taken(self, rev: Revision) -> bool:
        for k in (revcodec.encode(rev), revcodec.encode(rev, tombstone=True)):
            if k in self.batch.puts or (k not in self.batch.deletes and self.bucket.get(k) is not None):
                return True
        return False

    def after(self, rev: Revision) -> Revision:
        """after is the first free revision (rev.main, s) with s > rev.sub."""
        sub = rev.sub + 1
        while self.taken(Revision(rev.main, sub)):
            sub += 1
        if sub > MAX_REVISION:
            raise SchemaError(f"no free sub-revision after {rev.main}/{rev.sub}")
        return Revision(rev.main, sub)


def _rename_order(renames: list[Write]) -> list[Write]:
    """_rename_order puts a rename whose target is another rename's source after that one (chains a->b, b->c)."""
    by_source = {w.key: w for w in renames}
    done: set[bytes] = set()
    out: list[Write] = []
    for w in renames:
        path: list[Write] = []
        cur: Write | None = w
        while cur is not None and cur.key not in done:
            if cur in path:
                raise SchemaError(f"renames form a cycle through {cur.key.decode('utf-8', 'replace')}")
            path.append(cur)
            cur = by_source.get(cur.new_key) if cur.new_key is not None else None
        for p in reversed(path):
            done.add(p.key)
            out.append(p)
    return out


def _label(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace")


def in_place(snap: Snapshot, writes: Iterable[Write], histories: Histories, latest: int) -> Batch:
    """in_place places every write at its own revision (see the module docstring); nothing is mutated."""
    batch = Batch(revision=latest)
    subs = _Subs(snap, batch)
    renames = []
    for w in writes:
        if w.new_key is None:
            batch.put_edit(w)  # the record as it was, with the write's value
        else:
            renames.append(w)
    hist: dict[bytes, list[bytes]] = {}

    def history(key: bytes) -> list[bytes]:
        if key not in hist:
            hist[key] = histories.of(key)
        return hist[key]

    for w in _rename_order(renames):
        _rename_in_place(snap, w, history(w.key), history(w.new_key), batch, subs)
    batch.last_of = {w.new_key: hist[w.new_key][-1] if hist[w.new_key] else None for w in renames}
    return batch


def _rename_in_place(snap: Snapshot, w: Write, src: list[bytes], dst: list[bytes], batch: Batch,
                     subs: _Subs) -> None:
    """_rename_in_place moves ``w``'s record from ``src`` (its key's record keys) to ``dst`` (the new key's)."""
    rk = w.revkey
    r, lease = w.revision_lease()
    if not src or src[-1] != rk:
        raise SchemaError(f"{_label(w.key)}: revision {r.main}/{r.sub} is not the key's latest record "
                          "(or its history was not gathered)")
    rk = src[-1]  # (the same bytes, held by the history already: not a copy per rename in the batch, ~17 MB at 8 GiB)
    if dst and not _is_tomb(dst[-1]):
        raise SchemaError(f"cannot rename {_label(w.key)} to {_label(w.new_key)}: that key exists")
    last = dst[-1] if dst else None
    if last is not None and _rev(last).main == r.main and len(dst) >= 2 and not _is_tomb(dst[-2]) \
            and all(x < rk for x in dst[:-1]):
        # undo: the new key's generation was ended by a rename in r's main revision
        prev = record_at(snap, dst[-2]).kv
        batch.delete(last)
        if prev.value == w.value and prev.lease == lease:
            # the record is a copy of P (a relocated or --as-new-revision rename): dropping it gives back P
            batch.delete(rk)
            dst.pop()
        else:
            batch.put_write(rk, KeyValue(w.new_key, prev.create_revision, r.main, prev.version + 1, b"", lease), w)
            dst[-1] = rk
        _leave(w, src, r, batch, subs)
    elif last is None or last < rk:  # plain: the record becomes the new key's first version
        batch.put_write(rk, KeyValue(w.new_key, r.main, r.main, 1, b"", lease), w)
        dst.append(rk)
        _leave(w, src, r, batch, subs)
    else:  # relocated: the new key has records after r; the old record stays, both new records go after them
        tomb = subs.after(_rev(last))
        put = subs.after(tomb)
        tomb_key, put_key = revcodec.encode(tomb, tombstone=True), revcodec.encode(put)
        batch.put(tomb_key, KeyValue(w.key))
        batch.put_write(put_key, KeyValue(w.new_key, put.main, put.main, 1, b"", lease), w)
        src.append(tomb_key)
        dst.append(put_key)


def _leave(w: Write, src: list[bytes], r: Revision, batch: Batch, subs: _Subs) -> None:
    """_leave ends the old key's generation after its record at ``r`` moved away (if a put of it is left)."""
    src.pop()
    if src and not _is_tomb(src[-1]):
        tomb = revcodec.encode(subs.after(r), tombstone=True)
        batch.put(tomb, KeyValue(w.key))
        src.append(tomb)


def latest_records(snap: Snapshot, batch: Batch, histories: Histories, keys: Iterable[bytes],
                   values: bool = True) -> dict[bytes, KeyValue | None]:
    """latest_records is each key's latest record once ``batch`` is applied (None: no record, or a deletion).

    ``histories`` must hold the keys' records in the snapshot (as the planning scan gathered them).
    ``values`` False: a record the batch puts with a write's value may come without it (``value`` b""),
    for callers that read revisions only (the values are not all read back at once).
    """
    keys = set(keys)
    ends = batch.last_of if batch.last_of is not None and keys <= batch.last_of.keys() else None
    added = batch.put_under(keys) if ends is None else {}
    puts = batch.puts
    out: dict[bytes, KeyValue | None] = {}
    for key in keys:
        if ends is not None:  # as ``in_place`` placed the key's records
            last = ends[key]
        else:
            # a record of the key's history the batch puts again under another key (renamed away) is no longer its
            revkeys = [k for k in histories.of(key) if k not in batch.deletes and (k not in puts or batch.key_of(k) == key)]
            revkeys += added.get(key, [])
            last = max(revkeys) if revkeys else None  # bbolt key order is revision order
        if last is None or _is_tomb(last):
            out[key] = None
            continue
        kv = batch.record(last) if values else batch.base_at(last)
        out[key] = kv if kv is not None else kvcodec.decode(snap.key_bucket().get(last))
    return out


def new_revision(writes: Iterable[Write], latest: int) -> Batch:
    """new_revision records every write as one etcd transaction at revision ``latest`` + 1."""
    main = latest + 1
    ops: list[tuple[bytes, bool, KeyValue, Write | None]] = []  # (user key, is deletion, record, write of its value)
    for w in writes:
        r = w.base_kv()
        if w.new_key is not None:
            ops.append((w.key, True, KeyValue(w.key), None))
            ops.append((w.new_key, False, KeyValue(w.new_key, main, main, 1, b"", r.lease), w))
        else:
            ops.append((w.key, False, KeyValue(w.key, r.create_revision, main, r.version + 1, b"", r.lease), w))
    batch = Batch(revision=main if ops else latest)
    for sub, (_key, tomb, rec, w) in enumerate(sorted(ops, key=lambda op: (op[0], not op[1]))):
        revkey = revcodec.encode(Revision(main, sub), tombstone=tomb)
        if w is None:
            batch.put(revkey, rec)
        else:
            batch.put_write(revkey, rec, w)
    return batch


def check_bump(last_main: int, n: int) -> None:
    """check_bump refuses a bump that would leave etcd's int64 revision range."""
    if n < 0 or n > MAX_REVISION:
        raise UsageError(f"--bump-revision {n} is out of range (0..{MAX_REVISION})")
    if last_main + n > MAX_REVISION:
        raise UsageError(f"--bump-revision {n}: revision {last_main} + {n} exceeds etcd's maximum {MAX_REVISION}")


def bump(last_main: int, n: int, mark_compacted: bool) -> list[tuple[bytes, bytes, bytes]]:
    """bump returns (bucket, key, value) of etcd 3.6's bump marker at (last_main + n, 0) and its compaction mark."""
    check_bump(last_main, n)
    rev = revcodec.encode(Revision(last_main + n, 0))
    out = [(schema.KEY, rev, b"")]
    if mark_compacted:
        out.append((schema.META, schema.SCHEDULED_COMPACT_REV, rev))
    return out
