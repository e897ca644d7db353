"""One walk of a stored protobuf value along a few field paths: read their strings, then splice new ones.

The rules read an object's type (``envelope.parse``), a few of its fields (``fields.read``) and then
edit them (``splice.set_fields``): three walks of the same bytes. ``locate`` makes one, with
``splice.select`` (the same bounds checks), and keeps where each field lies; ``Located.texts`` and
``Located.rewrite`` then answer what those three answer, and ``Located.paths`` what
``registry.resolve_path`` does for the stored type.

It only answers where the answers are sure to be the same, and returns None otherwise (the caller then
takes the plain path, which also names any error): the value is a ``k8s\\x00`` envelope with one
typeMeta (non-empty UTF-8 apiVersion and kind) and one ``raw``, every envelope field length-delimited;
every message on the way (``spec``) occurs at most once and is singular in the schema; a singular leaf
(``clusterIP``) occurs at most once; every string is UTF-8; and each walked message is well-formed, with
every named field length-delimited. Then Go's reading (last occurrence wins, messages merge) and the
wire's occurrences are the same list, and the splice re-encodes exactly the length prefixes
``set_fields`` would. ``tests/k8s/test_located.py`` checks all of it against the plain path.

The walk first goes inline (``_envelope_common``, ``_walk_common``: the envelope the API server writes,
tags and lengths of one or two bytes, one-byte varints; ~20% less CPU than ``select`` per Service, which
is all of them at 1.3 GB); at any other field it walks again with ``select`` (``_envelope``, ``_walk``),
the plain walk the inline one must equal (tested on every stored object and on damaged ones).
"""

import functools
from array import array
from collections.abc import Mapping, Sequence

from ..errors import DecodeError
from . import registry
from .splice import MAGIC, _length, select

_ENVELOPE = dict.fromkeys((1, 2, 3, 4), True)  # runtime.Unknown: typeMeta, raw, contentEncoding, contentType
_TAIL = b'\x1a\x00"\x00'  # runtime.Unknown's empty contentEncoding and contentType, as the API server writes them
_TYPE_META = dict.fromkeys((1, 2), True)  # apiVersion, kind
ENTRY = 5  # ints per entry of ``Located._flat``
_type_names: dict[bytes, tuple[str, str] | None] = {}  # typeMeta bytes -> (apiVersion, kind); None: not plain


class Located:
    """Where the fields of one stored value lie (see ``locate``); holds no copy of the value.

    A plan keeps one per Service between reading and editing (46k at 1.3 GB): the positions are one
    flat array of ints, the paths a tuple shared by every object of the type.
    """

    __slots__ = ("type_names", "paths", "texts", "_flat")

    def __init__(self, type_names: tuple[str, str], paths: tuple, texts: list, flat: array):
        self.type_names = type_names  # the stored (apiVersion, kind)
        self.paths = paths  # registry.FieldPath per asked path, resolved for the stored type
        self.texts = texts  # the strings at each path (what ``fields.read`` answers)
        self._flat = flat  # raw's (len_start, start, end), then ``_walk``'s entries

    def state(self) -> tuple:
        """state is what ``restore`` needs to make this Located again (plain values: it pickles small)."""
        return self.type_names, tuple(p.names for p in self.paths), self.texts, self._flat.tobytes()

    @classmethod
    def restore(cls, state: tuple) -> "Located":
        """restore is the Located whose ``state`` was given (e.g. made in another process)."""
        type_names, names, texts, flat = state
        paths, _ = _resolved(type_names, names)
        return cls(type_names, paths, texts, array("q", flat))

    def path(self, names: tuple[str, ...]) -> registry.FieldPath | None:
        """path is the resolved FieldPath of asked ``names`` (None if they were not asked)."""
        for p in self.paths:
            if p.names == names:
                return p
        return None

    def rewrite(self, value: bytes, edits: Mapping[registry.FieldPath, Sequence]) -> bytes | None:
        """rewrite is ``splice.set_fields(value, edits)`` for list edits of located paths; None if it cannot say.

        ``value`` must be the bytes that were located. Each list is aligned with the path's texts
        (``None`` keeps an entry); one of another length, or a path not located, gives None (the plain
        path raises its ValueError).
        """
        repl: dict[int, list] = {}
        paths = self.paths
        for p, new in edits.items():
            i = _index(paths, p)
            if i is None or isinstance(new, (str, bytes)) or callable(new):
                return None
            if len(new) != len(self.texts[i]):
                return None
            repl[i] = iter(new)  # the path's leaves come in its texts' order: one entry each
        flat = self._flat
        inner = _rebuild(value, flat[1], flat[2], flat, 3, len(flat), repl)
        if inner is None:
            return bytes(value)
        return b"".join((value[: flat[0]], _length(len(inner)), inner, value[flat[2] :]))


def _index(paths: tuple, p) -> int | None:
    """_index is the position of ``p`` in ``paths`` (None: not there); by identity first (``path`` hands out
    these objects), then by equality (a FieldPath resolved elsewhere)."""
    for i, q in enumerate(paths):
        if q is p:
            return i
    return paths.index(p) if p in paths else None


def _rebuild(value: bytes, start: int, end: int, flat: array, i: int, stop: int, repl: dict) -> bytes | None:
    """_rebuild is ``splice._rewrite`` over located entries ``flat[i:stop]``: the message ``value[start:end]``
    with new payloads, None if unchanged. ``repl`` holds an iterator per edited path over its replacements."""
    parts: list = []
    cursor = start
    while i < stop:
        which = flat[i]
        if which >= 0:  # a leaf of path ``which``: its next replacement (None, or the same bytes, keeps it)
            todo = repl.get(which)
            if todo is None:
                i += ENTRY
                continue
            new = next(todo)
            if new is None:
                i += ENTRY
                continue
            payload = new if isinstance(new, bytes) else new.encode("utf-8")
            vend = flat[i + 3]
            if payload == value[flat[i + 2] : vend]:
                i += ENTRY
                continue
            len_start = flat[i + 1]
            i += ENTRY
        else:  # a message: its entries follow
            len_start, vstart, vend, size = flat[i + 1], flat[i + 2], flat[i + 3], flat[i + 4]
            i += ENTRY
            payload = _rebuild(value, vstart, vend, flat, i, i + size * ENTRY, repl)
            i += size * ENTRY
            if payload is None:
                continue
        parts += (value[cursor:len_start], _length(len(payload)), payload)
        cursor = vend
    if not parts:
        return None
    parts.append(value[cursor:end])
    return b"".join(parts)


def _type_of(value: bytes, start: int, end: int) -> tuple[str, str] | None:
    """_type_of reads a typeMeta message (apiVersion, kind), or None unless each is there once, non-empty UTF-8."""
    picks, err = select(value, start, end, _TYPE_META)
    if err is not None or len(picks) != 2 or picks[0][1] == picks[1][1]:
        return None
    got = {}
    try:
        for _, number, _, _, a, b in picks:
            got[number] = value[a:b].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not got[1] or not got[2]:
        return None
    return got[1], got[2]


def _trie(paths: tuple[registry.FieldPath, ...]) -> dict | None:
    """_trie nests the paths' field numbers; a leaf is (path index, repeated). None: not a walk ``locate`` makes."""
    root: dict = {}
    for i, p in enumerate(paths):
        node = root
        for n, rep in zip(p.proto[:-1], p.repeated[:-1]):
            if rep:
                return None  # a repeated message on the way (``spec.ports``): not this walk's business
            node = node.setdefault(n, {})
            if isinstance(node, tuple):
                return None
        if p.proto[-1] in node:
            return None
        node[p.proto[-1]] = (i, p.repeated[-1])
    return root


def _walk(value: bytes, start: int, end: int, node: dict, out: list, flat: array) -> bool:
    """_walk selects the trie's fields in ``value[start:end]``, appending an entry per pick to ``flat`` in wire
    order: (path index, or -1 for a message, len_start, start, end, entries of the message's subtree); a
    leaf's string goes to ``out[path index]``. False where ``locate`` cannot answer."""
    picks, err = select(value, start, end, node)
    if err is not None:
        return False
    counted: set[int] = set()
    for child, number, _tag, len_start, vstart, vend in picks:
        if type(child) is tuple:
            which, repeated = child
            if not repeated:
                if number in counted:
                    return False
                counted.add(number)
            try:
                out[which].append(value[vstart:vend].decode("utf-8"))
            except UnicodeDecodeError:
                return False
            flat.extend((which, len_start, vstart, vend, 0))
        else:
            if number in counted:
                return False
            counted.add(number)
            at = len(flat)
            flat.extend((-1, len_start, vstart, vend, 0))
            if not _walk(value, vstart, vend, child, out, flat):
                return False
            flat[at + 4] = (len(flat) - at - ENTRY) // ENTRY
    return True


def _walk_common(value: bytes, start: int, end: int, node: dict, out: list, flat: array) -> bool | None:
    """_walk_common is ``_walk`` with the scan inline, for messages of common fields only: tags and lengths of one or
    two bytes, varints of one byte (what the API server writes for a Service). None where it met another field:
    ``_walk`` then walks again from scratch.

    True only where every field on the way was such a field, well-formed: ``select`` gives the same picks there
    and ``_walk`` the same entries. False (duplicate, not UTF-8) is ``_walk``'s False: a message it left is either
    well-formed (the same False) or not (``_walk``'s False for the error).
    """
    get = node.get
    counted = 0  # bit per field number picked (trie keys: small numbers)
    pos = start
    while pos < end:
        key = value[pos]
        if key < 0x80:
            after = pos + 1
        elif pos + 1 < end and value[pos + 1] < 0x80:
            key, after = key & 0x7F | value[pos + 1] << 7, pos + 2
        else:
            return None
        if after >= end or key < 8:  # (field number 0)
            return None
        n = value[after]
        if key & 7 == 2:
            if n < 0x80:
                vstart = after + 1
            elif after + 1 < end and value[after + 1] < 0x80:
                n, vstart = n & 0x7F | value[after + 1] << 7, after + 2
            else:
                return None
            vend = vstart + n
            if vend > end:
                return None
            child = get(key >> 3)
            if child is not None:
                bit = 1 << (key >> 3)
                if type(child) is tuple:
                    which, repeated = child
                    if not repeated:
                        if counted & bit:
                            return False
                        counted |= bit
                    try:
                        out[which].append(value[vstart:vend].decode("utf-8"))
                    except UnicodeDecodeError:
                        return False
                    flat.extend((which, after, vstart, vend, 0))
                else:
                    if counted & bit:
                        return False
                    counted |= bit
                    at = len(flat)
                    flat.extend((-1, after, vstart, vend, 0))
                    deeper = _walk_common(value, vstart, vend, child, out, flat)
                    if not deeper:
                        return deeper
                    flat[at + 4] = (len(flat) - at - ENTRY) // ENTRY
        elif key & 7 == 0 and n < 0x80 and get(key >> 3) is None:
            vend = after + 1
        else:
            return None  # (a named varint: ``select``'s error)
        pos = vend
    return True


@functools.lru_cache(maxsize=256)
def _resolved(type_names: tuple[str, str], names: tuple) -> tuple[tuple, dict] | None:
    """_resolved is the paths (one tuple per type, shared) and their trie; None if not a walk ``locate`` makes."""
    try:
        paths = tuple(registry.resolve_path(*type_names, n) for n in names)
    except DecodeError:
        return None
    trie = _trie(paths)
    return None if trie is None else (paths, trie)


def _envelope(value: bytes) -> tuple | None:
    """_envelope is the stored type and raw's (len_start, start, end) of a ``k8s\\x00`` value: None where ``locate``
    leaves it to the plain path (see the module docstring); the type is None where typeMeta is not plain."""
    picks, err = select(value, 4, len(value), _ENVELOPE)
    if err is not None or len(picks) > 4:
        return None
    raw = type_names = None
    seen = 0
    for _, number, _, len_start, vstart, vend in picks:
        bit = 1 << number
        if seen & bit:
            return None  # a field of the envelope stored twice: Go takes the last, set_fields edits each
        seen |= bit
        if number == 1:
            type_names = _type_named(value, vstart, vend)
        elif number == 2:
            raw = (len_start, vstart, vend)
        else:
            try:
                value[vstart:vend].decode("utf-8")
            except UnicodeDecodeError:
                return None
    if raw is None:
        return None
    return type_names, raw


def _envelope_common(value: bytes) -> tuple | None:
    """_envelope_common is ``_envelope`` for the shape the API server writes: typeMeta with a one-byte length, raw,
    then an empty contentEncoding and contentType (``_TAIL``); None for any other shape (``_envelope`` reads it).

    Those four fields are then all well-formed and each stored once, and raw ends where the tail begins.
    """
    n = len(value)
    if n < 12 or value[4] != 0x0A or value[5] >= 0x80:
        return None
    p = 6 + value[5]  # raw's tag
    if p + 2 >= n or value[p] != 0x12:
        return None
    b = value[p + 1]
    if b < 0x80:
        vstart, length = p + 2, b
    elif value[p + 2] < 0x80:
        vstart, length = p + 3, b & 0x7F | value[p + 2] << 7
    elif p + 3 < n and value[p + 3] < 0x80:
        vstart, length = p + 4, b & 0x7F | (value[p + 2] & 0x7F) << 7 | value[p + 3] << 14
    else:
        return None
    vend = vstart + length
    if vend + len(_TAIL) != n or value[vend:] != _TAIL:
        return None
    return _type_named(value, 6, p), (p + 1, vstart, vend)


def _type_named(value: bytes, start: int, end: int) -> tuple[str, str] | None:
    """_type_named is ``_type_of`` through a cache keyed by the typeMeta bytes (a few kinds per snapshot)."""
    meta = value[start:end]
    type_names = _type_names.get(meta, False)
    if type_names is False:
        type_names = _type_of(value, start, end)
        if len(_type_names) < 256:  # a hostile snapshot does not grow it
            _type_names[meta] = type_names
    return type_names


def locate(value: bytes, names: Sequence[tuple[str, ...]]) -> Located | None:
    """locate walks a stored value once for the field paths ``names`` (API names, as ``field_path`` takes them).

    They are resolved for the type the envelope names (``field_path`` does the same: its defaults only
    serve values that name none, which this walk leaves to it). None: take the plain path (see the
    module docstring).
    """
    if type(value) is not bytes or value[:4] != MAGIC:
        return None
    got = _envelope_common(value)
    if got is None:
        got = _envelope(value)
        if got is None:
            return None
    type_names, raw = got
    if type_names is None:
        return None
    got = _resolved(type_names, names if type(names) is tuple else tuple(names))
    if got is None:
        return None
    paths, trie = got
    out: list = [[] for _ in paths]
    flat = array("q", raw)
    done = _walk_common(value, raw[1], raw[2], trie, out, flat)
    if done is None:  # a field of another shape on the way: the plain walk, from scratch
        out = [[] for _ in paths]
        flat = array("q", raw)
        done = _walk(value, raw[1], raw[2], trie, out, flat)
    if not done:
        return None
    return Located(type_names, paths, out, flat)
