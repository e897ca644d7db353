"""What a rewrite report says the new snapshot holds: its change entries as ``Listed`` tuples, and ways to hold them.

``verify --report`` reads a report of hundreds of thousands of entries while it compares snapshots:
``Packed`` keeps them as zlib'ed marshal chunks; ``Expected`` is every entry as objects (the plain
form); ``Lookup`` answers the same questions as ``Expected`` from a ``Packed``, a chunk or two at a
time, with an index of the keys (``verify.uncovered`` gives the same lines with either).
"""

import marshal
import sys
import zlib
from dataclasses import dataclass
from typing import NamedTuple


class Listed(NamedTuple):
    """One entry of a report's ``changes``: key, field, old and new value, ``newKey``, ``newRecord``."""

    key: str
    field: str
    old: str | None
    new: str | None
    new_key: str | None
    new_record: tuple | None  # (createRevision, modRevision, version), each as the report gives it


def listed_or_dict(d: dict):
    """listed_or_dict is a ``json.load`` object hook: a report's change entry becomes a ``Listed``, any other object stays.

    A change entry has a string ``key`` and ``field`` (and ``newKey``, if any, a string).
    """
    key, fld, new_key = d.get("key"), d.get("field"), d.get("newKey")
    if isinstance(key, str) and isinstance(fld, str) and ("newKey" not in d or isinstance(new_key, str)):
        rec = d.get("newRecord")
        if isinstance(rec, dict):
            rec = (rec.get("createRevision"), rec.get("modRevision"), rec.get("version"))
        else:
            rec = None
        # many entries share a key and most share a field name: one string object each
        return Listed(sys.intern(key), sys.intern(fld), d.get("old"), d.get("new"), new_key, rec)
    return d


def _listed(report: dict):
    """_listed yields the report's change entries as ``Listed`` (parsed with ``listed_or_dict`` or not)."""
    for c in report.get("changes", []):
        yield c if isinstance(c, Listed) else listed_or_dict(c)


@dataclass(slots=True)
class Expected:
    """What a rewrite report says the new snapshot holds: the part of the report ``uncovered`` reads.

    ``listed``: key -> its entries in report order; ``recorded``: key -> its ``newRecord`` (``Listed.new_record``);
    the report's mode.
    Kept instead of the report itself (whose other parts verify does not need) while snapshots are compared.
    """

    listed: dict[str, list[Listed]]
    recorded: dict[str, tuple]
    as_new_revision: bool
    new_revision: int | None

    @classmethod
    def of(cls, report: dict) -> "Expected":
        listed: dict[str, list[Listed]] = {}
        recorded: dict[str, tuple] = {}
        for c in _listed(report):
            listed.setdefault(c.key, []).append(c)
            if c.new_record is not None:
                recorded[c.key] = c.new_record
        return cls(listed, recorded, bool(report.get("asNewRevision")), report.get("newRevision"))

    def entries(self, key: str) -> dict[str, tuple]:
        """entries maps each field the report lists for ``key`` to its (old, new) (the last entry of a field wins)."""
        return {c.field: (c.old, c.new) for c in self.listed.get(key, ())}


class Packed:
    """Packed is a report's ``Expected`` compressed: marshal'ed chunks of its entries, zlib level 1.

    A big rewrite's report lists hundreds of thousands of changes; verify needs them only after the
    snapshots are compared, so they wait as a few MB of bytes instead of a hundred MB of objects.
    """

    CHUNK = 16384  # entries per compressed chunk (unpacking holds one chunk's bytes at a time)

    def __init__(self, report: dict | None = None):
        """Packed of a report's entries; None: empty, ``add`` each entry as it is read, then ``finish(report)``."""
        self.chunks: list[bytes] = []
        self._batch: list[tuple] = []
        if report is not None:
            for c in _listed(report):
                self.add(c)
            self.finish(report)

    def add(self, c: Listed) -> None:
        """add appends one entry (in report order)."""
        self._batch.append(tuple(c))
        if len(self._batch) >= self.CHUNK:
            self.chunks.append(zlib.compress(marshal.dumps(self._batch), 1))
            self._batch = []

    def finish(self, report: dict) -> None:
        """finish packs the last entries and takes the report's mode (its entries are not read here)."""
        if self._batch:
            self.chunks.append(zlib.compress(marshal.dumps(self._batch), 1))
            self._batch = []
        self.as_new_revision, self.new_revision = bool(report.get("asNewRevision")), report.get("newRevision")

    def unpack(self) -> Expected:
        """unpack is ``Expected.of`` the report this was packed from."""
        listed: dict[str, list[Listed]] = {}
        recorded: dict[str, tuple] = {}
        for chunk in self.chunks:
            for t in marshal.loads(zlib.decompress(chunk)):
                c = Listed(sys.intern(t[0]), sys.intern(t[1]), *t[2:])
                listed.setdefault(c.key, []).append(c)
                if c.new_record is not None:
                    recorded[c.key] = c.new_record
        return Expected(listed, recorded, self.as_new_revision, self.new_revision)


class Tracked:
    """Tracked answers ``uncovered``'s questions from an ``Expected`` and notes which listed fields were matched.

    ``about(key)``: the fields the report lists for ``key`` (field -> (old, new)) and its ``newRecord``;
    ``matched(key, entries, fields)``: a difference of ``key`` showed ``fields``; ``unmatched()``: every
    listed (key, field, old, new) no difference showed, in report order.
    """

    def __init__(self, expected: Expected):
        self.expected = expected
        self.as_new_revision, self.new_revision = expected.as_new_revision, expected.new_revision
        self._matched: set[tuple[str, str]] = set()

    def about(self, key: str) -> tuple[dict[str, tuple], tuple | None]:
        return self.expected.entries(key), self.expected.recorded.get(key)

    def matched(self, key: str, entries: dict[str, tuple], fields: set[str]) -> None:
        self._matched.update((key, f) for f in fields)

    def unmatched(self):
        for key in self.expected.listed:
            for f, (old, new) in self.expected.entries(key).items():
                if (key, f) not in self._matched:
                    yield key, f, old, new


class Lookup:
    """Lookup is ``Tracked`` over a ``Packed``: the entries stay compressed, a chunk or two is open at a time.

    It holds an index of the listed keys (key -> first and last chunk holding it, and whether a difference
    looked at it) and, per key a difference looked at, only the fields no difference showed (mostly
    none). ``verify`` reads the differences in key order, the order a rewrite's report lists its objects
    in, so each chunk opens about once; when the reads jump about (a report edited by hand, reordered)
    and chunks open more than ``BUDGET`` times each, every entry is unpacked at once (``Expected``).
    Gives ``Tracked``'s answers (tests hold ``uncovered`` equal on both).
    """

    BUDGET = 4  # chunk openings per chunk before everything is unpacked at once
    OPEN = 2  # chunks kept open
    _LAST = 20  # span value: first chunk << _LAST | last chunk << 1 | looked-at bit

    def __init__(self, packed: "Packed"):
        self.packed = packed
        self.as_new_revision, self.new_revision = packed.as_new_revision, packed.new_revision
        self.span: dict[str, int] = {}
        for i, chunk in enumerate(packed.chunks):
            for t in marshal.loads(zlib.decompress(chunk)):
                v = self.span.get(t[0])
                self.span[t[0]] = (i << self._LAST | i << 1) if v is None else (v >> self._LAST << self._LAST | i << 1)
        self.left: dict[str, list[tuple]] = {}  # a looked-at key -> its (field, old, new) no difference showed
        self._open: dict[int, dict[str, list[Listed]]] = {}
        self._opened = 0
        self._all: dict[str, list[Listed]] | None = None

    def _chunk(self, i: int) -> dict[str, list[Listed]]:
        got = self._open.get(i)
        if got is None:
            self._opened += 1
            got = {}
            for t in marshal.loads(zlib.decompress(self.packed.chunks[i])):
                got.setdefault(t[0], []).append(Listed(sys.intern(t[0]), sys.intern(t[1]), *t[2:]))
            if len(self._open) >= self.OPEN:
                del self._open[next(iter(self._open))]
            self._open[i] = got
        return got

    def _listed(self, key: str) -> list[Listed]:
        v = self.span.get(key)
        if v is None:
            return []
        if self._all is None and self._opened > self.BUDGET * len(self.packed.chunks) + 8:
            self._all, self._open = self.packed.unpack().listed, {}
        if self._all is not None:
            return self._all.get(key, [])
        out: list[Listed] = []
        for i in range(v >> self._LAST, ((v >> 1) & ((1 << (self._LAST - 1)) - 1)) + 1):
            out += self._chunk(i).get(key, ())
        return out

    def about(self, key: str) -> tuple[dict[str, tuple], tuple | None]:
        entries: dict[str, tuple] = {}
        recorded = None
        for c in self._listed(key):
            entries[c.field] = (c.old, c.new)
            if c.new_record is not None:
                recorded = c.new_record
        return entries, recorded

    def matched(self, key: str, entries: dict[str, tuple], fields: set[str]) -> None:
        v = self.span.get(key)
        if v is None:
            return  # not listed: nothing to account for
        if v & 1:  # looked at before: what is still unmatched, less these
            rest = [x for x in self.left.get(key, ()) if x[0] not in fields]
        else:
            self.span[key] = v | 1
            rest = [(f, old, new) for f, (old, new) in entries.items() if f not in fields]
        if rest:
            self.left[key] = rest
        else:
            self.left.pop(key, None)

    def unmatched(self):
        for key, v in self.span.items():
            if v & 1:
                yield from ((key, *x) for x in self.left.get(key, ()))
            else:
                for f, (old, new) in self.about(key)[0].items():
                    yield key, f, old, new
