"""An Edit: one object's decided new value (and key, for a rename) and the report's Changes of it.

The planner (``plan``) makes Edits; the report reads their Changes. A plan at 8 GiB holds ~600k Edits
and ~1M Changes, so an Edit keeps its changes packed (one marshal string, in the ``CHANGES`` spill file
when long enough) and makes them again when read; ``EditChanges`` reads a plan's edits as one list.
"""

import marshal
import sys
from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate

from ..etcd import writes
from ..spill import Spill


@dataclass(frozen=True, slots=True)
class Change:
    """One field of one object that changes: the report's ``changes`` entry."""

    key: str
    kind: str
    namespace: str
    name: str
    field: str
    old: str | None  # None: the field is absent before (a moved JSON object key's new field) or after
    new: str | None

    new_key: str | None = None  # set on the metadata.name change of a renamed object

    def as_json(self) -> dict:
        out = {"key": self.key, "kind": self.kind, "namespace": self.namespace, "name": self.name,
               "field": self.field, "old": self.old, "new": self.new}
        if self.new_key is not None:
            out["newKey"] = self.new_key
        return out


CHANGES = Spill()  # the report's changes of every Edit, packed (``Edit``): not in memory
BATCH = 16384  # edits whose changes ``EditChanges`` reads from ``CHANGES`` at once


def _pack_changes(changes: tuple) -> bytes:
    """_pack_changes is the fields of ``changes`` as one marshal string (an object's own fields once if all share them)."""
    first = changes[0]
    head = (first.key, first.kind, first.namespace, first.name)
    if all((c.key, c.kind, c.namespace, c.name) == head for c in changes):
        return marshal.dumps((0, *head, tuple((c.field, c.old, c.new, c.new_key) for c in changes)))
    return marshal.dumps((1, tuple((c.key, c.kind, c.namespace, c.name, c.field, c.old, c.new, c.new_key)
                                   for c in changes)))


def _unpack_changes(data: bytes) -> tuple:
    """_unpack_changes is the Changes ``_pack_changes`` packed, equal to them."""
    got = marshal.loads(data)
    if got[0] == 0:
        _, key, kind, namespace, name, rows = got
        return tuple(Change(key, kind, namespace, name, f, old, new, nk) for f, old, new, nk in rows)
    return tuple(Change(*row) for row in got[1])


def _unpack_json(data: bytes) -> list[dict]:
    """_unpack_json is ``[c.as_json() for c in _unpack_changes(data)]``, without making the Changes."""
    got = marshal.loads(data)
    if got[0] != 0:
        return [Change(*row).as_json() for row in got[1]]
    _, key, kind, namespace, name, rows = got
    out = []
    for f, old, new, nk in rows:
        d = {"key": key, "kind": kind, "namespace": namespace, "name": name, "field": f, "old": old, "new": new}
        if nk is not None:
            d["newKey"] = nk
        out.append(d)
    return out


@dataclass(frozen=True, slots=True, init=False, eq=False)
class Edit:
    """The decided new value (and key, for a rename) of one object's latest record, and the report's changes.

    A plan at 8 GiB makes ~600k Edits and ~1M Changes: the changes wait packed (one marshal string, in
    ``CHANGES`` when it is long enough) and ``changes`` makes them again when read; ``kind`` (the first
    change's) and ``count`` answer the report's summary without reading them.
    """

    write: writes.Write
    packed: bytes | int | None  # the changes as ``_pack_changes`` made them, or their handle in ``CHANGES``
    kind: str | None  # the first change's kind (None: no change)
    count: int  # how many changes
    sealed_with: str | None  # the value was encrypted at rest and is again, with this provider/key

    def __init__(self, write: writes.Write, changes: tuple = (), sealed_with: str | None = None):
        changes = tuple(changes)
        packed: bytes | int | None = None
        if changes:
            packed = _pack_changes(changes)
            handle = CHANGES.add(packed)
            packed = packed if handle is None else handle
        self._set(write, packed, sys.intern(changes[0].kind) if changes else None, len(changes), sealed_with)

    def _set(self, write: writes.Write, packed: bytes | int | None, kind: str | None, count: int,
             sealed_with: str | None) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "write", write)
        setattr_(self, "packed", packed)
        setattr_(self, "kind", kind)
        setattr_(self, "count", count)
        setattr_(self, "sealed_with", sealed_with)

    @property
    def changes(self) -> tuple:
        """changes are the report's Changes of this edit, in the order given (made when read)."""
        p = self.packed
        if p is None:
            return ()
        return _unpack_changes(CHANGES.get(p) if type(p) is int else p)

    def change_keys(self) -> list[tuple[str, str | None]]:
        """change_keys is ``[(c.key, c.new_key) for c in self.changes]``, made without the Changes."""
        p = self.packed
        if p is None:
            return []
        got = marshal.loads(CHANGES.get(p) if type(p) is int else p)
        if got[0] == 0:
            return [(got[1], row[3]) for row in got[5]]
        return [(row[0], row[7]) for row in got[1]]

    @staticmethod
    def change_keys_of(edits: list["Edit"]) -> list[list[tuple[str, str | None]]]:
        """change_keys_of is ``[e.change_keys() for e in edits]``, the packed changes read from the spill at once."""
        got = CHANGES.get_many([e.packed for e in edits if type(e.packed) is int])
        out = []
        i = 0
        for e in edits:
            p = e.packed
            if p is None:
                out.append([])
                continue
            if type(p) is int:
                p = got[i]
                i += 1
            t = marshal.loads(p)
            out.append([(t[1], row[3]) for row in t[5]] if t[0] == 0 else [(row[0], row[7]) for row in t[1]])
        return out

    def changes_json(self) -> list[dict]:
        """changes_json is ``[c.as_json() for c in self.changes]`` (the report's entries), made without the Changes."""
        p = self.packed
        if p is None:
            return []
        return _unpack_json(CHANGES.get(p) if type(p) is int else p)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Edit):
            return NotImplemented
        return self is other or (self.write == other.write and self.sealed_with == other.sealed_with
                                 and self.changes == other.changes)

    __hash__ = None

    def __repr__(self) -> str:
        return f"Edit(write={self.write!r}, changes={self.changes!r}, sealed_with={self.sealed_with!r})"

    def __reduce__(self):
        """An Edit pickles with its changes: a handle names a place in this process's spill only."""
        return (type(self), (self.write, self.changes, self.sealed_with))

    @classmethod
    def of(cls, obj, new_value: bytes, changes: list[Change], new_key: bytes | None = None) -> "Edit":
        """of makes the Edit of an object's latest record; ``new_value`` is plaintext, sealed again if it was.

        The record's old value is not kept. An object read decrypted (``Object.value``) is encrypted again
        with the same provider and key and a fresh IV/nonce (AES-GCM binds it to the key it is written
        under, the new one for a rename).
        """
        write, sealed = _write_of(obj, new_value, new_key)
        return cls(write, changes, sealed.label if sealed is not None else None)

    @classmethod
    def of_rows(cls, obj, new_value: bytes, rows: list[tuple], new_key: bytes | None = None,
                namespace: str | None = None, base: tuple | None = None) -> "Edit":
        """of_rows is ``of`` for changes that are all the object's own: each row (field, old, new, new_key) stands for
        ``Change(obj.key_text, obj.kind, obj.namespace, obj.name, *row)`` (``namespace``, if given, for the object's).

        The rows are packed as ``_pack_changes`` packs such Changes, without making them (a plan makes ~100k
        per 1.3 GB): ``tests/rewrite/test_edit_rows.py`` checks the Edit equals ``of``'s. ``base``: the latest
        record as ``mvcc.record_state`` gave it (without its value), for an object whose record is not cached.
        """
        write, sealed = _write_of(obj, new_value, new_key, base)
        self = cls.__new__(cls)
        packed: bytes | int | None = None
        kind = None
        if rows:
            kind = sys.intern(obj.kind)
            packed = marshal.dumps((0, obj.key_text, kind, obj.namespace if namespace is None else namespace, obj.name,
                                    tuple(rows)))
            handle = CHANGES.add(packed)
            if handle is not None:
                packed = handle
        self._set(write, packed, kind, len(rows), sealed.label if sealed is not None else None)
        return self

    @property
    def key(self) -> bytes:
        return self.write.key

    @property
    def new_key(self) -> bytes | None:
        return self.write.new_key

    @property
    def new_value(self) -> bytes:
        return self.write.value


def _write_of(obj, new_value: bytes, new_key: bytes | None, base: tuple | None = None) -> tuple:
    """_write_of is (the Write of ``obj``'s latest record, how its value was sealed or None) for ``Edit.of`` and
    ``Edit.of_rows``; the object's record is forgotten. ``writes.Write.of`` of ``obj.record``, made from what the
    object read (``Object.stored``) or ``base`` (``mvcc.record_state``) without the Record where it can."""
    cache = obj.cache
    sealed = cache.get("sealed")
    if sealed is not None:
        new_value = obj.crypt.seal(new_key if new_key is not None else obj.key, new_value, sealed)
    if base is not None:
        write = writes.Write.of_state(obj.key, base, new_value, new_key)
    elif "record" in cache or "fields" not in cache:
        write = writes.Write.of(obj.key, obj.record, new_value, new_key)
    else:
        write = writes.Write.of_fields(obj.key, obj.revkey, cache["fields"], new_value, new_key)
    obj.forget()
    return write, sealed


class EditChanges(Sequence):
    """EditChanges is ``[c for e in edits for c in e.changes]``, each edit's Changes made when read.

    The report's ``ChangeList`` reads it an entry at a time; at 8 GiB the list would hold ~1M Changes.
    """

    __slots__ = ("_edits", "_ends")

    def __init__(self, edits: list[Edit]):
        self._edits = edits
        self._ends: array | None = None  # cumulative counts, made at the first indexing

    def __len__(self) -> int:
        ends = self._offsets()
        return ends[-1] if ends else 0

    def _offsets(self) -> array:
        if self._ends is None:
            self._ends = array("q", accumulate(e.count for e in self._edits))
        return self._ends

    def __iter__(self) -> Iterator[Change]:
        for e in self._edits:
            yield from e.changes

    def _packed(self) -> Iterator[bytes]:
        """_packed is each edit's packed changes (``_pack_changes``; none for an edit without changes), those in
        ``CHANGES`` read ``BATCH`` edits at a time in file order (``Spill.get_many``): the edits are sorted by
        key, the changes lie in the order the rules made them."""
        edits = self._edits
        for at in range(0, len(edits), BATCH):
            chunk = edits[at : at + BATCH]
            spilled = [p for e in chunk if type(p := e.packed) is int]
            read = iter(CHANGES.get_many(spilled)) if spilled else None
            for e in chunk:
                p = e.packed
                if p is not None:
                    yield next(read) if type(p) is int else p

    def iter_json(self) -> Iterator[dict]:
        """iter_json is ``(c.as_json() for c in self)``: the report's entries, no Change made (``ChangeList``)."""
        for data in self._packed():
            yield from _unpack_json(data)

    def iter_rows(self) -> Iterator[tuple]:
        """iter_rows is each Change's fields as a tuple, in ``Change``'s order (``changelist.ChangeList.json_texts``)."""
        for data in self._packed():
            got = marshal.loads(data)
            if got[0] == 0:
                _, key, kind, namespace, name, rows = got
                for f, old, new, nk in rows:
                    yield key, kind, namespace, name, f, old, new, nk
            else:
                yield from got[1]

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError("change index out of range")
        i %= n
        ends = self._offsets()
        at = bisect_right(ends, i)
        return self._edits[at].changes[i - (ends[at - 1] if at else 0)]


