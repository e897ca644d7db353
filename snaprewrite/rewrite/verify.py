"""Comparing two snapshots key by key at their latest revisions, and checking each difference's values against a report.

Every live key of either snapshot is compared: present in both with identical records, or listed as
a difference with each differing field's old and new value. Fields are named and their values
written the way the rewrite report writes its changes, so the two can be compared value for value:
  * object fields by path (``spec.clusterIPs[0]``), scalars as text, anything else as JSON;
  * a ConfigMap data entry holding YAML by the scalars that changed inside it
    (``data.kubelet:clusterDNS[0]``), provided the new text is exactly the old one with those scalars
    rewritten in place; any other change of the text is the whole entry's change;
  * a RangeAllocation's bitmap ``data`` by ``bitmap.summary`` (count, range and sha256 of the bytes);
  * the record's own fields as ``(create_revision)``, ``(mod_revision)``, ``(version)``, ``(lease)``;
  * a value that is not a Kubernetes object (or encrypted) as ``(value)``: its size and sha256;
  * a renamed key whose value does not change (flannel's subnet leases) may be listed as ``(key)``,
    old key -> new key;
  * with the API server's EncryptionConfiguration (``crypt``), encrypted values are compared decrypted
    (sealed again with a fresh IV/nonce is no difference), and a value sealed with another provider/key
    than before (or no longer, or newly, encrypted) as ``(encryption)`` with both ``provider/key`` names.
Secret values are never shown.

``uncovered`` then holds the differences against the report: every changed field must be listed
with the same old and new value, every listed change must be there, a renamed key (the report's
``newKey``) must hold the old object under its new name, and revisions and versions must be exactly
what the rewrite mode writes (in place: unchanged; ``--as-new-revision``: the new revision).
"""

import base64
import hashlib
import json
import marshal
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from ..errors import DecodeError, SnapshotError
from ..etcd import diffwalk, mvcc
from ..etcd.kv import KeyValue
from ..etcd.snapshot import Snapshot
from ..jsontext import LazyList
from ..k8s import bitmap, decode
from . import parallel, yamledit
from .expected import Expected, Listed, Lookup, Packed, Tracked, _listed, listed_or_dict  # noqa: F401 - verify's API
from .rules.configmaps import label

Progress = Callable[[int], None] | None
META_FIELDS = ("create_revision", "mod_revision", "version", "lease")
REDACTED = "(redacted)"
RELEASE_EVERY = 16  # keys read between releases of both mappings' resident pages (each fault maps a window)
PARALLEL_MIN = 4096  # live keys compared before worker processes are worth starting (below: this process)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One differing field: its name and old and new values as text (None: the field is absent)."""

    field: str
    old: str | None
    new: str | None

    def as_json(self) -> dict:
        return {"field": self.field, "old": self.old, "new": self.new}


@dataclass(slots=True)
class Difference:
    """One key that differs: how (``changed``, ``renamed``, ``added``, ``removed``) and its field changes.

    A ``renamed`` difference pairs the old key with the report's ``newKey`` (``new_key``).
    """

    key: str
    how: str
    changes: list[FieldChange] = field(default_factory=list)
    new_key: str | None = None
    old_kv: "Meta | None" = field(default=None, repr=False)  # the records' metadata (value dropped)
    new_kv: "Meta | None" = field(default=None, repr=False)

    @property
    def fields(self) -> list[str]:
        return [c.field for c in self.changes]

    def as_json(self) -> dict:
        out = {"key": self.key, "how": self.how, "fields": self.fields,
               "changes": [c.as_json() for c in self.changes]}
        if self.new_key is not None:
            out["newKey"] = self.new_key
        return out


def _text(v) -> str | None:
    """_text writes a decoded value the way the report does: strings as they are, the rest as JSON."""
    if v is None or isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def value_diff(a, b, path: str = "") -> list[FieldChange]:
    """value_diff lists where two decoded objects differ (``spec.clusterIPs[0]``), with both values.

    A dict or list equal to the other side with the same text (``repr``: same types, same key order)
    holds no difference and is not walked (``value_diff_plain`` walks it; tests hold them equal).
    """
    return _value_diff(a, b, path, True)


def value_diff_plain(a, b, path: str = "") -> list[FieldChange]:
    """value_diff_plain is ``value_diff`` walking every dict and list, equal or not (the reference)."""
    return _value_diff(a, b, path, False)


def _value_diff(a, b, path: str, skip_equal: bool) -> list[FieldChange]:
    if type(a) is not type(b):
        return [FieldChange(path or ".", _text(a), _text(b))]
    if isinstance(a, (dict, list)) and skip_equal and a == b and repr(a) == repr(b):
        return []  # == alone would take 1 for 1.0 or True; NaN is never equal, so it is walked
    if isinstance(a, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{k}" if path else str(k)
            if k not in a or k not in b:
                out.append(FieldChange(sys.intern(sub), _text(a.get(k)), _text(b.get(k))))
            else:
                out.extend(_value_diff(a[k], b[k], sub, skip_equal))
        return out
    if isinstance(a, list):
        if len(a) != len(b):
            return [FieldChange(path or ".", _text(a), _text(b))]
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out.extend(_value_diff(x, y, f"{path}[{i}]", skip_equal))
        return out
    return [] if a == b else [FieldChange(sys.intern(path or "."), _text(a), _text(b))]


def field_diff(a, b, path: str = "") -> list[str]:
    """field_diff lists the paths where two decoded objects differ (``spec.clusterIPs[0]``)."""
    return [c.field for c in value_diff(a, b, path)]


def _view(obj: dict) -> dict:
    """_view is the object as verify compares it: a RangeAllocation's bitmap as its ``bitmap.summary``."""
    if obj.get("kind") == "RangeAllocation" and isinstance(obj.get("data"), str):
        try:
            data = base64.b64decode(obj["data"], validate=True)
        except ValueError:  # a JSON-stored object with a bitmap that is not base64: compared as text
            return obj
        obj = dict(obj)
        obj["data"] = bitmap.summary(str(obj.get("range", "")), data)
    return obj


def _yaml_fields(a: dict, b: dict, changes: list[FieldChange]) -> list[FieldChange]:
    """_yaml_fields splits a ConfigMap's changed data entries into the YAML scalars edited in place."""
    da = a["data"] if isinstance(a.get("data"), dict) else {}
    db = b["data"] if isinstance(b.get("data"), dict) else {}
    out = []
    for c in changes:
        key = c.field[len("data."):] if c.field.startswith("data.") else None
        old, new = da.get(key), db.get(key)
        edits = yamledit.scalar_changes(old, new) if isinstance(old, str) and isinstance(new, str) else None
        if edits:
            out.extend(FieldChange(label(key, e.path), e.old, e.new) for e in edits)
        else:
            out.append(c)
    return out


def _opaque(value: bytes) -> str:
    return f"{len(value)} bytes, sha256 {hashlib.sha256(value).hexdigest()}"


def value_changes(old: bytes, new: bytes) -> list[FieldChange]:
    """value_changes lists the field changes between two stored values (see the module docstring)."""
    if old == new:
        return []
    try:
        a, b = decode.decode_value(old), decode.decode_value(new)
        if not isinstance(a, dict) or not isinstance(b, dict):
            raise DecodeError("not an object")
        secret = "Secret" in (a.get("kind"), b.get("kind"))
        a, b = _view(a), _view(b)
        changes = value_diff(a, b)
        if a.get("kind") == "ConfigMap" and b.get("kind") == "ConfigMap":
            changes = _yaml_fields(a, b, changes)
    except (DecodeError, ValueError, RecursionError):  # not a Kubernetes object (or JSON too deep to walk)
        return [FieldChange("(value)", _opaque(old), _opaque(new))]
    if secret:
        changes = [FieldChange(c.field, REDACTED, REDACTED) for c in changes]
    return changes or [FieldChange("(encoding)", _opaque(old), _opaque(new))]


def _meta(a: KeyValue, b: KeyValue) -> list[FieldChange]:
    return [FieldChange(f"({n})", str(getattr(a, n)), str(getattr(b, n)))
            for n in META_FIELDS if getattr(a, n) != getattr(b, n)]


def _whole(kv: KeyValue, new: bool) -> list[FieldChange]:
    """_whole lists a key that only one side holds: its record fields and value, the other side absent."""
    values = [(f"({n})", str(getattr(kv, n))) for n in META_FIELDS] + [("(value)", _opaque(kv.value))]
    return [FieldChange(f, None, v) if new else FieldChange(f, v, None) for f, v in values]


class Meta(NamedTuple):
    """A record's metadata without its value (what a Difference keeps of each side: a tuple, there are many)."""

    key: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int


def _bare(kv: KeyValue, key: bytes | None = None) -> Meta:
    """_bare is a record's metadata; ``key`` (equal to ``kv.key``) lets many Differences share one bytes object."""
    return Meta(kv.key if key is None else key, kv.create_revision, kv.mod_revision, kv.version, kv.lease)


def sealed_changes(a: KeyValue, b: KeyValue, crypt=None) -> list[FieldChange]:
    """sealed_changes is ``value_changes`` of two records' values, decrypted first with ``crypt`` if given.

    ``crypt`` is a ``k8s.encryption.EncryptionConfig``; each value opens under its own etcd key (AES-GCM
    binds it there). A value it cannot open raises EncryptionError (one line, never the bytes).
    """
    head, va, vb = _opened(a, b, crypt)
    return head + value_changes(va, vb)


def _opened(a: KeyValue, b: KeyValue, crypt) -> tuple[list[FieldChange], bytes, bytes]:
    """_opened is the ``(encryption)`` change of two records (if any) and their values, decrypted with ``crypt``."""
    va, vb = a.value, b.value
    if crypt is None or va == vb:
        return [], va, vb
    (va, sa), (vb, sb) = crypt.open(a.key, va), crypt.open(b.key, vb)
    la, lb = (sa.label if sa else "identity"), (sb.label if sb else "identity")
    return ([FieldChange("(encryption)", la, lb)] if la != lb else []), va, vb


def _pack(d: Difference) -> bytes:
    """_pack is a Difference as marshal bytes (``_unpack`` makes it again, equal in every field)."""
    return marshal.dumps((d.key, d.how, [(c.field, c.old, c.new) for c in d.changes], d.new_key,
                          None if d.old_kv is None else tuple(d.old_kv), None if d.new_kv is None else tuple(d.new_kv)))


def _unpack(blob: bytes) -> Difference:
    key, how, changes, new_key, old_kv, new_kv = marshal.loads(blob)
    return Difference(key, how, [FieldChange(sys.intern(f), o, n) for f, o, n in changes], new_key,
                      None if old_kv is None else Meta(*old_kv), None if new_kv is None else Meta(*new_kv))


class Differences(LazyList):
    """Differences is ``compare``'s answer, a list of ``Difference`` kept as zlib'ed chunks, rebuilt when read.

    A big rewrite differs in hundreds of thousands of keys; as objects they were the largest thing verify
    held (about 130 MB at 100k keys) while the report's entries were checked and the answer printed,
    both of which read them once, in order. Equal to any sequence of equal Differences (a list).
    """

    __slots__ = ("_chunks", "_n")
    CHUNK = 2048  # Differences per compressed chunk (reading holds one chunk's objects at a time)

    def __init__(self, blobs: list[bytes] = ()):
        """Differences of ``_pack``'ed blobs, in order."""
        self._chunks = [self.compress(blobs[i : i + self.CHUNK]) for i in range(0, len(blobs), self.CHUNK)]
        self._n = len(blobs)

    @staticmethod
    def compress(blobs: list[bytes]) -> bytes:
        """compress is one chunk of ``_pack``'ed blobs (at most ``CHUNK``) as kept."""
        return zlib.compress(marshal.dumps(blobs), 1)

    @classmethod
    def of_chunks(cls, chunks: list[bytes], n: int) -> "Differences":
        """of_chunks is the Differences of ``compress``'ed chunks (all full but the last) holding ``n`` in all."""
        out = cls()
        out._chunks, out._n = chunks, n
        return out

    @classmethod
    def of(cls, diffs) -> "Differences":
        """of packs ``diffs`` (Difference objects, in order)."""
        return cls([_pack(d) for d in diffs])

    def _chunk(self, c: int) -> list[bytes]:
        return marshal.loads(zlib.decompress(self._chunks[c]))

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if not -self._n <= i < self._n:
            raise IndexError("Differences index out of range")
        i %= self._n
        return _unpack(self._chunk(i // self.CHUNK)[i % self.CHUNK])

    def __iter__(self):
        for c in range(len(self._chunks)):
            yield from map(_unpack, self._chunk(c))

    def __eq__(self, other) -> bool:
        if not isinstance(other, (list, tuple, Differences)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None

    def __repr__(self) -> str:
        return f"Differences({self._n} keys)"


def _changes_of(pairs: list[tuple[bytes, bytes]]) -> list[list[FieldChange]]:
    """_changes_of is ``value_changes`` of each pair (what a worker process does with a batch)."""
    return [value_changes(va, vb) for va, vb in pairs]


def compare(old_path: str, new_path: str, progress: Progress = None,
            renames: dict[bytes, bytes] | None = None, crypt=None, workers: int | None = 0) -> "Differences":
    """compare returns every key whose latest live record differs between two snapshots, in key order.

    The answer is a ``Differences`` (compressed, each Difference made again when read).

    ``renames`` (old key -> new key, from a report) pairs a key of the old snapshot with another key
    of the new one; without it keys are paired by name. With ``crypt`` (``k8s.encryption.EncryptionConfig``)
    encrypted values are compared as plaintext (``sealed_changes``).

    Only keys with a record that is not byte for byte the same in both ``key`` buckets can differ
    (``etcd.diffwalk``), so only those (and the report's renamed keys) are looked up and decoded; the
    answer is ``compare_plain``'s, which reads every live key of both (tests hold them equal).
    ``workers``: processes that decode the differing values (0: none, this process; None: as many as the
    cores when there are many keys). Worker processes import the main module as multiprocessing does, so
    only a program whose main module is guarded (the CLI, ``python -m``) should ask for them.
    """
    renames = renames or {}
    renamed_from = {new: old for old, new in renames.items()}
    with Snapshot(old_path) as a, Snapshot(new_path) as b:
        ka, kb = a.key_bucket(), b.key_bucket()
        # both sides' latest records by slot (diffwalk.Latest); the report's keys first, so a key in both
        # is the report's bytes object (the walk's copy goes with its set)
        keys = set(renames)
        keys.update(renamed_from)
        diffwalk.differing_keys(ka, kb, progress, keys.add)  # straight into the set: no second set
        slots = diffwalk.Slots(keys)  # numbered by sorted order, no dict of numbers
        del keys  # the set is the Slots' own now (its ``release_members`` lets it go)
        la = diffwalk.latest_compact(ka, slots, progress)
        lb = diffwalk.latest_compact(kb, slots, progress)
        slots.release_members()  # what follows looks up a few keys each: the sorted list is enough
        return _differences(a, b, la, lb, renames, renamed_from, crypt, workers, packed=True)


def _record(snap: Snapshot, index, key: bytes) -> KeyValue:
    """_record is the latest record of ``key`` in ``index`` (a ``diffwalk.Latest`` reads it in the leaf it noted)."""
    revkey = index[key]
    if not isinstance(index, diffwalk.Latest):
        return mvcc.record_at(snap, revkey).kv
    hints = snap.key_bucket().leaf_hints
    hints[revkey] = index.leaf(key)  # only while it is read: a hint per key is what Latest saves
    try:
        return mvcc.record_at(snap, revkey).kv
    finally:
        hints.pop(revkey, None)


def compare_plain(old_path: str, new_path: str, progress: Progress = None,
                  renames: dict[bytes, bytes] | None = None, crypt=None) -> list[Difference]:
    """compare_plain is ``compare`` reading and comparing every live key of both snapshots (the reference)."""
    renames = renames or {}
    renamed_from = {new: old for old, new in renames.items()}
    with Snapshot(old_path) as a, Snapshot(new_path) as b:
        la = mvcc.live_keys(a, progress=progress)
        lb = mvcc.live_keys(b, progress=progress)
        return _differences(a, b, la, lb, renames, renamed_from, crypt)


def _workers(keys: int) -> int:
    """_workers is how many worker processes decode values when ``keys`` keys are compared (0: this process)."""
    n = parallel.cpus()
    return min(n, 4) if keys >= PARALLEL_MIN and n > 1 else 0


def _order(la: "Mapping[bytes, bytes]", lb: "Mapping[bytes, bytes]", renames: dict[bytes, bytes],
           renamed_from: dict[bytes, bytes]) -> list[tuple]:
    """_order is every key pair's place in the answer: ``(source key, how, key in b or None)``, sorted.

    ``how`` is ``added``, ``changed``, ``removed`` or ``renamed`` (a ``changed`` pair with the same
    records is dropped when read). Knowing the order before any record is read lets each Difference
    be packed and compressed as soon as it is complete, instead of all of them kept to be sorted.
    The plain path's list; ``_ordered`` yields the same without holding it.
    """
    events: list[tuple] = []
    used: set[bytes] = set()
    for key in lb:
        src = renamed_from.get(key, None if key in renames else key)
        if src is None or src not in la:
            events.append((key, "added", key))
            continue
        used.add(src)
        events.append((src, "changed" if src == key else "renamed", key))
    events.extend((key, "removed", None) for key in la if key not in used)
    del used
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def _ordered(keys: "Iterable[bytes]", la: "Mapping[bytes, bytes]", lb: "Mapping[bytes, bytes]",
             renames: dict[bytes, bytes], renamed_from: dict[bytes, bytes]) -> "Iterator[tuple]":
    """_ordered yields ``_order``'s events one at a time: for each of ``keys`` (every key of ``la`` and ``lb``, maybe
    more; sorted) the events it is the source of, in ``how``'s order.

    A key K of b pairs with its source (``renamed_from``'s, else K unless K is renamed away): ``added`` when
    that is not in a, else ``changed`` (K itself) or a rename of the source; a key of a no key of b takes is
    ``removed``. At 8 GiB the list of a million events held ~70 MB; the sorted keys are one reference each
    (``diffwalk.Slots`` holds them so already).
    """
    # both sides over the very ``Slots`` whose sorted keys these are: key i is slot i (no search)
    at = (isinstance(la, diffwalk.Latest) and isinstance(lb, diffwalk.Latest) and la.slots is lb.slots
          and isinstance(la.slots, diffwalk.Slots) and keys is la.slots.keys)
    for i, key in enumerate(keys):
        in_a = la.live(i) if at else key in la
        if lb.live(i) if at else key in lb:
            src = renamed_from.get(key, None if key in renames else key)
            if src is None or not (in_a if src == key else src in la):
                yield key, "added", key
                changed = False
            else:
                changed = src == key
                if changed:
                    yield key, "changed", key
        else:
            changed = False
        if in_a:
            new = renames.get(key)
            renamed = new is not None and new != key and renamed_from.get(new) == key and new in lb
            if not (changed or renamed):
                yield key, "removed", None
            if renamed:
                yield key, "renamed", new


class _Sink:
    """_Sink takes each key pair's Difference (or None: no difference) by its place, in any order, and keeps them in order.

    Packed, a full chunk is compressed at once (``Differences.CHUNK``); only results waiting for an earlier
    one (a worker's batch still out) are held as they are.
    """

    def __init__(self, packed: bool):
        self.packed = packed
        self.ready: dict[int, object] = {}
        self.next = 0
        self.done: list = []
        self.chunks: list[bytes] = []
        self.n = 0

    def put(self, i: int, diff: "Difference | None") -> None:
        self.ready[i] = None if diff is None else (_pack(diff) if self.packed else diff)
        while self.next in self.ready:
            d = self.ready.pop(self.next)
            self.next += 1
            if d is not None:
                self.done.append(d)
                if self.packed and len(self.done) >= Differences.CHUNK:
                    self._compress()

    def _compress(self) -> None:
        self.chunks.append(Differences.compress(self.done))
        self.n += len(self.done)
        self.done = []

    def result(self) -> "list[Difference] | Differences":
        assert not self.ready
        if not self.packed:
            return self.done
        if self.done:
            self._compress()
        return Differences.of_chunks(self.chunks, self.n)


def _differences(a: Snapshot, b: Snapshot, la: "Mapping[bytes, bytes]", lb: "Mapping[bytes, bytes]",
                 renames: dict[bytes, bytes], renamed_from: dict[bytes, bytes], crypt,
                 workers: int | None = None, packed: bool = False) -> "list[Difference] | Differences":
    """_differences pairs the live keys ``la`` of ``a`` with ``lb`` of ``b`` (user key -> bbolt key) and lists how they differ.

    Values are decoded and compared by ``_changes_of`` (in ``workers`` processes; None: by the number of keys).
    With ``packed`` each Difference is packed (``_pack``) as soon as it is complete and the answer is a
    ``Differences``; else a list (the plain path: tests hold the two equal).
    """
    if isinstance(la, diffwalk.Latest) and isinstance(lb, diffwalk.Latest):
        keys = la.slots.keys if isinstance(la.slots, diffwalk.Slots) else sorted(la.slots)
        events = _ordered(keys, la, lb, renames, renamed_from)  # the same events, not held in a list
    else:
        events = iter(_order(la, lb, renames, renamed_from))
    sink = _Sink(packed)

    def done(item, changes: list[FieldChange]) -> None:
        i, diff, head = item
        diff.changes = head + changes
        if diff.how == "changed" and not diff.changes:
            diff = None  # the same plaintext sealed again with the same key (a fresh IV/nonce)
        sink.put(i, diff)

    with parallel.OrderedPool(_workers(len(lb)) if workers is None else workers, _changes_of, done,
                              preload=__name__) as pending:
        for i, (src, how, key) in enumerate(events):
            if i % RELEASE_EVERY == 0:  # records read in key order jump between distant leaves
                a.pages.release()
                b.pages.release()
            if how == "added":
                rb = _record(b, lb, key)
                text = key.decode("utf-8", "backslashreplace")
                sink.put(i, Difference(text, "added", _whole(rb, new=True), new_kv=_bare(rb, key)))
                continue
            if how == "removed":
                ra = _record(a, la, src)
                sink.put(i, Difference(src.decode("utf-8", "backslashreplace"), "removed",
                                       _whole(ra, new=False), old_kv=_bare(ra, src)))
                continue
            ra, rb = _record(a, la, src), _record(b, lb, key)
            if how == "renamed":
                diff = Difference(src.decode("utf-8", "backslashreplace"), "renamed",
                                  new_key=key.decode("utf-8", "backslashreplace"))
            elif ra != rb:
                diff = Difference(key.decode("utf-8", "backslashreplace"), "changed")
            else:
                sink.put(i, None)
                continue
            diff.old_kv, diff.new_kv = _bare(ra, src), _bare(rb, key)
            head, va, vb = _opened(ra, rb, crypt)
            pending.add((i, diff, _meta(ra, rb) + head), (va, vb))
        pending.finish()
    return sink.result()


def identity(snap: Snapshot, sha256: str, revision: int | None = None) -> dict:
    """identity is the report's ``input``: what names one snapshot file exactly."""
    out = {"path": snap.path, "size": snap.identity.size, "sha256": sha256}
    trailer = snap.stored_trailer()
    if trailer is not None:
        out["trailerSha256"] = trailer.hex()
    out["revision"] = mvcc.current_revision(snap) if revision is None else revision
    return out


def check_identity(report: dict, report_path: str, old_path: str, sha256: str | None = None) -> None:
    """check_identity raises SnapshotError unless the report was made from the snapshot at ``old_path``.

    ``sha256`` is the old file's whole-file sha256 when the caller computed it already (``check_size``
    first, then the hash alongside other work); otherwise it is computed here.
    """
    ident = check_size(report, report_path, old_path)
    if sha256 is None:
        with Snapshot(old_path) as snap:
            _, sha256 = snap.hashes()
    if ident["sha256"] != sha256:
        raise SnapshotError(f"{report_path} was made from another snapshot than {old_path}: "
                            f"sha256 {ident['sha256']} ({ident.get('path')}), not {sha256}")


def check_size(report: dict, report_path: str, old_path: str) -> dict:
    """check_size is the cheap half of ``check_identity``: the report names an input of ``old_path``'s size.

    Returns the report's ``input``.
    """
    ident = report.get("input")
    if not isinstance(ident, dict) or not isinstance(ident.get("sha256"), str):
        raise SnapshotError(f"{report_path}: the report does not record its input's size and sha256 "
                            "(made by an older snaprewrite): make it again with rewrite --dry-run --report")
    with Snapshot(old_path) as snap:
        size = snap.identity.size
    if ident.get("size") != size:
        raise SnapshotError(f"{report_path} was made from another snapshot than {old_path}: "
                            f"{ident.get('path')} of {ident.get('size')} bytes, not {size} bytes")
    return ident


def one_line(text: str, limit: int | None = None) -> str:
    """one_line escapes what a terminal would not print as one line of text (newlines, escape sequences)."""
    if not text.isprintable():
        text = json.dumps(text)[1:-1]
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."


def _show(v: str | None) -> str:
    """_show writes a value on one line (absent as -, long text shortened)."""
    return "-" if v is None else one_line(v, 200)


def _expected_meta(d: Difference, listed: bool, report: "Tracked | Lookup", recorded: tuple | None) -> KeyValue:
    """_expected_meta is the record metadata the rewrite mode writes for one difference's new record.

    ``recorded`` is the report's ``newRecord`` of the key (createRevision, modRevision, version), when
    the rewrite recorded where it put the record (a rename in place may continue the new key's earlier
    generation); otherwise the mode's rule applies.
    """
    old = d.old_kv
    if not listed:
        return old
    if recorded is not None:
        return KeyValue(old.key, recorded[0], recorded[1], recorded[2], b"", old.lease)
    if report.as_new_revision:
        rev = report.new_revision
        if d.how == "renamed":
            return KeyValue(old.key, rev, rev, 1, b"", old.lease)
        return KeyValue(old.key, old.create_revision, rev, old.version + 1, b"", old.lease)
    if d.how == "renamed":  # in place: the record becomes the new key's first version
        return KeyValue(old.key, old.mod_revision, old.mod_revision, 1, b"", old.lease)
    return old


def _mode(report: "Tracked | Lookup") -> str:
    return f"--as-new-revision {report.new_revision}" if report.as_new_revision else "in place"


def uncovered(diffs: "list[Difference] | Differences", report: "dict | Expected | Packed") -> list[str]:
    """uncovered lists, one line each, what differs otherwise than the report says (empty: all accounted for).

    ``report`` is the rewrite report, its ``Expected`` part, or that ``Packed`` (read a chunk at a time:
    ``expected.Lookup``; the same lines).
    """
    if isinstance(report, dict):
        report = Expected.of(report)
    src = Lookup(report) if isinstance(report, Packed) else Tracked(report)
    out = []
    for d in diffs:
        name = one_line(d.key) if d.how != "renamed" else f"{one_line(d.key)} -> {one_line(d.new_key)}"
        if d.how in ("added", "removed"):
            out.append(f"{name}: {d.how}, not in the report")
            continue
        entries, recorded = src.about(d.key)
        matched: set[str] = set()
        if d.how == "renamed" and "(key)" in entries:  # a rename the report names as the key's own change
            matched.add("(key)")
            if entries["(key)"] != (d.key, d.new_key):
                old, new = entries["(key)"]
                out.append(f"{name}: the report says {_show(old)} -> {_show(new)}")
        want = _expected_meta(d, bool(entries), src, recorded)
        for n in META_FIELDS:
            got = getattr(d.new_kv, n)
            if got != getattr(want, n):
                why = "the report's newRecord" if recorded is not None else _mode(src)
                out.append(f"{name} ({n}): {getattr(d.old_kv, n)} -> {got}, expected {getattr(want, n)} ({why})")
        for c in d.changes:
            if c.field.strip("()") in META_FIELDS:
                continue
            if c.field not in entries:
                out.append(f"{name} {one_line(c.field)}: {_show(c.old)} -> {_show(c.new)}, not in the report")
                continue
            matched.add(c.field)
            old, new = entries[c.field]
            if (old, new) != (c.old, c.new):
                out.append(f"{name} {one_line(c.field)}: {_show(c.old)} -> {_show(c.new)}, "
                           f"the report says {_show(old)} -> {_show(new)}")
        src.matched(d.key, entries, matched)
    for key, f, old, new in src.unmatched():
        out.append(f"{one_line(key)} {one_line(str(f))}: the report says {_show(old)} -> {_show(new)}, "
                   "but the new snapshot does not show that change")
    return out


def renames(report: dict) -> dict[bytes, bytes]:
    """renames maps each key the report renames to its ``newKey``."""
    return {c.key.encode(): c.new_key.encode() for c in _listed(report) if c.new_key}
