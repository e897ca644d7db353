"""The rewrite report's ``changes``: a read-only list of dicts made from the plan's Changes when read.

A big rewrite changes hundreds of thousands of fields. The plan already holds each as a ``Change``;
the report used to hold each again as a dict (about 80 MB at 160k changes) from planning until the
report file was written at the end of the run, when the process is at its largest. ``ChangeList``
makes each entry's dict (``Change.as_json`` plus the fields added to it, such as a rename's
``newRecord``) only when it is read, and ``jsontext`` writes it as the list it stands for, an entry at
a time: the report's text is the same (``tests/rewrite/test_changelist.py``).
"""

from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from operator import add
from typing import Any

from ..jsontext import LazyList
from .edits import Change

Observe = Callable[[int, str, str, str], None]  # entry, kind, key, field: told as each entry is written
_FIELDS = ("key", "kind", "namespace", "name", "field", "old", "new")  # ``Change.as_json``'s names, in order


class _Object:
    """A JSON object added to an entry, kept as its values (the names are shared) until the entry is read."""

    __slots__ = ("names", "values")

    def __init__(self, names: tuple[str, ...], values: tuple):
        self.names = names
        self.values = values


class ChangeList(LazyList):
    """ChangeList is ``[c.as_json() for c in changes]``, each dict made when it is read.

    ``add(i, name, value)`` appends a field to entry ``i`` (after its own fields, as a dict assignment
    would) and ``add_object(i, name, names, values)`` one whose value is the object ``dict(zip(names,
    values))``, made when the entry is read (a rename's ``newRecord``: 100k of them as dicts weighed
    ~25 MB); the entries are otherwise read-only. Equal to any sequence with equal entries (a list of dicts).

    Objects of the same name and field names, with int64 values, added in ascending entry order (the
    renames' ``newRecord``: ~330k at 8 GiB) wait in two arrays, 32 bytes each, not as tuples in a dict.
    """

    __slots__ = ("_changes", "_added", "_name", "_names", "_at", "_values", "_observe")

    def __init__(self, changes: Sequence):
        self._changes = changes  # objects with ``as_json()`` (rewrite.plan.Change)
        self._added: dict[int, tuple] = {}  # entry -> (name, value, name, value, ...) in the order added
        self._name: str | None = None  # the packed objects' field name and their names
        self._names: tuple[str, ...] = ()
        self._at = array("q")  # entries with a packed object, ascending
        self._values = array("q")  # their values, len(names) per entry
        self._observe: Observe | None = None  # ``observed``

    def observed(self, observe: Observe) -> "ChangeList":
        """observed is this list (the same entries, sharing what was added) whose ``json_texts`` tells
        ``observe`` each entry's (position, kind, key, field) as it writes it: the table's counts gathered in
        the pass that writes the report."""
        view = ChangeList(self._changes)
        view._added, view._name, view._names, view._at, view._values = (
            self._added, self._name, self._names, self._at, self._values)
        view._observe = observe
        return view

    @property
    def items(self) -> Sequence:
        """items are the Change objects themselves, in report order."""
        return self._changes

    def _index(self, i: int) -> int:
        if not -len(self._changes) <= i < len(self._changes):
            raise IndexError(i)
        return i % len(self._changes)

    def _packed(self, i: int) -> int:
        """_packed is where entry ``i``'s object lies in ``_at`` (-1: none)."""
        at = self._at
        j = bisect_left(at, i)
        return j if j < len(at) and at[j] == i else -1

    def add(self, i: int, name: str, value: Any) -> None:
        """add sets field ``name`` of entry ``i`` to ``value`` (a new field goes last, like a dict assignment)."""
        i = self._index(i)
        j = self._packed(i)
        if j >= 0:  # the entry's packed object becomes an ordinary field first (it was added before)
            n = len(self._names)
            values = tuple(self._values[j * n : (j + 1) * n])
            del self._at[j]
            del self._values[j * n : (j + 1) * n]
            self._added[i] = (self._name, _Object(self._names, values))
        pairs = self._added.get(i, ())
        names = pairs[0::2]
        if name in names:  # a field set again keeps its place, as in a dict
            at = 2 * names.index(name) + 1
            self._added[i] = pairs[:at] + (value,) + pairs[at + 1:]
        else:
            self._added[i] = pairs + (name, value)

    def add_objects(self, name: str, names: tuple[str, ...], rows: list[tuple[int, tuple]]) -> None:
        """add_objects is ``add_object(i, name, names, values)`` for each (i, values) of ``rows`` in turn.

        The rows ``add_object`` would pack (see there) are packed without a call each; from the first
        that it would not, each goes through ``add_object``.
        """
        names = tuple(names)
        if rows and (self._name is None or (name, names) == (self._name, self._names)):
            n, k, added = len(self._changes), len(names), self._added
            last = self._at[-1] if self._at else -1
            at: list[int] = []
            values: list[int] = []
            done = 0  # rows packed so far
            for i, vals in rows:
                if not (last < i < n and i not in added and len(vals) == k
                        and all(type(v) is int and -(1 << 63) <= v < (1 << 63) for v in vals)):
                    break
                at.append(i)
                values.extend(vals)
                last = i
                done += 1
            if at:
                self._name, self._names = name, names
                self._at.extend(at)
                self._values.extend(values)
            rows = rows[done:]
        for i, vals in rows:
            self.add_object(i, name, names, vals)

    def add_object(self, i: int, name: str, names: tuple[str, ...], values: tuple) -> None:
        """add_object is ``add(i, name, dict(zip(names, values)))``, the dict made only when the entry is read."""
        i = self._index(i)
        if (i not in self._added and (not self._at or i > self._at[-1]) and len(values) == len(names)
                and (self._name is None or (name, names) == (self._name, self._names))
                and all(type(v) is int and -(1 << 63) <= v < (1 << 63) for v in values)):
            self._name, self._names = name, tuple(names)
            self._at.append(i)
            self._values.extend(values)
            return
        self.add(i, name, _Object(names, values))

    def _more(self, out: dict, i: int) -> None:
        j = self._packed(i) if self._at else -1
        if j >= 0:
            n = len(self._names)
            out[self._name] = dict(zip(self._names, self._values[j * n : (j + 1) * n]))
        pairs = self._added.get(i)
        if pairs:
            for k in range(0, len(pairs), 2):
                v = pairs[k + 1]
                out[pairs[k]] = dict(zip(v.names, v.values)) if type(v) is _Object else v

    def _entry(self, i: int) -> dict:
        out = self._changes[i].as_json()
        self._more(out, i)
        return out

    def __len__(self) -> int:
        return len(self._changes)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._entry(j) for j in range(*i.indices(len(self._changes)))]
        n = len(self._changes)
        if not -n <= i < n:
            raise IndexError("ChangeList index out of range")
        return self._entry(i % n)

    def __iter__(self) -> Iterator[dict]:
        added, at, values, name, names = self._added, self._at, self._values, self._name, self._names
        n = len(names)
        j = 0  # the next packed object, in ``at`` order
        rows = getattr(self._changes, "iter_json", None)  # entries made without their Changes (``plan.EditChanges``)
        for i, out in enumerate(rows() if rows is not None else (c.as_json() for c in self._changes)):
            if j < len(at) and at[j] == i:
                out[name] = dict(zip(names, values[j * n : (j + 1) * n]))
                j += 1
            if added:
                pairs = added.get(i)
                if pairs:
                    for k in range(0, len(pairs), 2):
                        v = pairs[k + 1]
                        out[pairs[k]] = dict(zip(v.names, v.values)) if type(v) is _Object else v
            yield out

    def _rows(self) -> Iterator[tuple] | None:
        """_rows is each Change's fields as a tuple (``EditChanges.iter_rows``), None for other objects."""
        rows = getattr(self._changes, "iter_rows", None)
        if rows is not None:
            return rows()
        if not all(type(c) is Change for c in self._changes):
            return None
        return ((c.key, c.kind, c.namespace, c.name, c.field, c.old, c.new, c.new_key) for c in self._changes)

    def json_texts(self, enc: Callable[[str], str], level: int, value: Callable[[Any, int], str]) -> Iterator[str] | None:
        """json_texts is each entry's text as ``jsontext`` writes it nested ``level`` deep (``value(entry, level)``,
        ``enc`` its string encoder), made from the Changes' fields without their dicts; None when the changes are
        not ``Change``s. An entry with a field ``add`` gave, or a value that is no string, goes through ``value``.
        ``tests/rewrite/test_changelist.py`` holds the text equal to ``json.dumps`` of the list of dicts.
        """
        rows = self._rows()
        return None if rows is None else self._texts(rows, enc, level, value)

    def _texts(self, rows: Iterator[tuple], enc, level: int, value) -> Iterator[str]:
        pad = "\n" + "  " * (level + 1)
        end = "\n" + "  " * level + "}"
        first, *after = [enc(n) + ": " for n in (*_FIELDS, "newKey")]
        n_kind, n_ns, n_name, n_field, n_old, n_new, n_nk = ["," + pad + n for n in after]
        first = "{" + pad + first
        # the packed objects (a rename's newRecord), one level deeper
        obj_head = "," + pad + enc(self._name) + ": {" if self._name is not None else ""
        obj_sep = "," + pad + "  "
        obj_names = [enc(n) + ": " for n in self._names]
        obj_end = pad + "}"
        at, values, width, added, observe = self._at, self._values, len(self._names), self._added, self._observe
        j = 0  # the next packed object, in ``at`` order
        last = (None, None, None, None)
        head = ""
        for i, row in enumerate(rows):
            key, kind, namespace, name, f, old, new, nk = row
            if observe is not None:
                observe(i, kind, key, f)
            text = None
            if not added or i not in added:
                try:
                    if key is not last[0] or kind is not last[1] or namespace is not last[2] or name is not last[3]:
                        head = f"{first}{enc(key)}{n_kind}{enc(kind)}{n_ns}{enc(namespace)}{n_name}{enc(name)}{n_field}"
                        last = (key, kind, namespace, name)
                    text = (f"{head}{enc(f)}{n_old}{'null' if old is None else enc(old)}{n_new}"
                            f"{'null' if new is None else enc(new)}{'' if nk is None else n_nk + enc(nk)}")
                except TypeError:  # a value that is no string: the plain writer decides
                    text = None
            packed = j < len(at) and at[j] == i
            if text is None or packed and not width:  # (an empty object: the plain writer's "{}")
                out = dict(zip(_FIELDS, row))
                if nk is not None:
                    out["newKey"] = nk
                self._more(out, i)
                yield value(out, level)
            elif packed:
                numbers = map(int.__repr__, values[j * width : (j + 1) * width])
                yield f"{text}{obj_head}{pad}  {obj_sep.join(map(add, obj_names, numbers))}{obj_end}{end}"
            else:
                yield text + end
            if packed:
                j += 1

    def __eq__(self, other) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # a list is not hashable either

    def __repr__(self) -> str:
        return f"ChangeList({len(self)} changes)"
