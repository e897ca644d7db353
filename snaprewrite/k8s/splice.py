"""Change string fields of a stored value in place, keeping every other byte identical.

Protobuf values: ``scan`` walks one message buffer and yields each field's byte span. A *path* is a
tuple of field numbers from the object's top message (``(2, 18)`` = Service spec.clusterIPs; see
``registry.resolve_path`` to get one from API names). Every occurrence is visited in wire order,
depth first: a repeated field on the way (``spec.ports``) contributes all its elements, a repeated
string at the end contributes each element. ``set_fields`` replaces only the payloads it is given and
re-encodes the length prefix of every enclosing message, up to and including ``runtime.Unknown.raw``;
the ``k8s\\x00`` magic, the envelope's other fields and all untouched fields are copied byte for byte.
Worked example (Service, clusterIP "10.96.0.1" -> "10.100.0.1"): the spec's length grows by 1, raw's
length by 1, everything else is copied; applying the inverse edit gives back the original bytes.

JSON values (custom resources): the same edits are applied to the string tokens at the JSON key path
(``("spec", "clusterIPs")``; arrays on the way are entered element by element). Only those tokens are
rewritten (as ``json.dumps`` spells the new string); all other bytes are kept, nothing is re-serialized.

Reading follows Go's decoder when the path says which steps are repeated (a ``registry.FieldPath``):
a singular field stored more than once counts only by its last occurrence, and a singular message
stored more than once is one message (Go merges them); so ``get_fields`` answers what kube-apiserver
reads. ``set_fields`` counts every occurrence on the wire: a replacement list aligned with that answer
has the wrong length for a field stored twice, and the edit is refused (``ValueError``).

Edits are ``{path: replacement}``: a list aligned with ``get_fields(value, path)`` (``None`` keeps an
entry; a ``bytes`` entry replaces a bytes field such as ``RangeAllocation.data``) or a function
``old -> new | None``. A list of the wrong length raises ``ValueError``.
"""

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple

from ..errors import DecodeError
from ..wire import MAX_VARINT_BYTES, encode_varint, read_varint  # noqa: F401 (splice.encode_varint is API)

WIRE_VARINT, WIRE_I64, WIRE_LEN, WIRE_I32 = 0, 1, 2, 5
MAGIC = b"k8s\x00"
UNKNOWN_RAW = 2  # runtime.Unknown.raw


class FieldSpan(NamedTuple):
    """One field of a message buffer: ``buf[tag_start:value_end]`` is the whole field.

    For wire type 2 the length varint is ``buf[len_start:value_start]`` and the payload
    ``buf[value_start:value_end]``; for other wire types ``len_start == value_start``.
    """

    number: int
    wire_type: int
    tag_start: int
    value_start: int
    value_end: int
    len_start: int


def scan(buf, start: int = 0, end: int | None = None) -> Iterator[FieldSpan]:
    """scan yields the fields of the message in ``buf[start:end]``, checking every length against ``end``."""
    end = len(buf) if end is None else end
    if not 0 <= start <= end <= len(buf):
        raise DecodeError(f"message bounds {start}..{end} outside a {len(buf)}-byte buffer")
    pos = start
    while pos < end:
        key = buf[pos]
        if key < 0x80:  # one-byte tag: fields 1-15, the common case
            after_tag = pos + 1
        else:
            key, after_tag = read_varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DecodeError(f"field number 0 at byte {pos}")
        if wire == WIRE_VARINT:
            _, vend = read_varint(buf, after_tag, end)
            yield FieldSpan(number, wire, pos, after_tag, vend, after_tag)
        elif wire == WIRE_LEN:
            if after_tag < end and buf[after_tag] < 0x80:  # one-byte length
                length, vstart = buf[after_tag], after_tag + 1
            else:
                length, vstart = read_varint(buf, after_tag, end)
            if length > end - vstart:
                raise DecodeError(f"field {number} at byte {pos} claims {length} bytes, {end - vstart} left")
            vend = vstart + length
            yield FieldSpan(number, wire, pos, vstart, vend, after_tag)
        elif wire in (WIRE_I64, WIRE_I32):
            size = 8 if wire == WIRE_I64 else 4
            if size > end - after_tag:
                raise DecodeError(f"field {number} at byte {pos} is truncated")
            vend = after_tag + size
            yield FieldSpan(number, wire, pos, after_tag, vend, after_tag)
        else:
            raise DecodeError(f"unsupported wire type {wire} at byte {pos}")
        pos = vend


# ---- protobuf: walking and rewriting along field-number paths


def _walk_go(buf, start: int, end: int, path: tuple[int, ...], repeated: tuple[bool, ...],
             out: list, inst: tuple[int, ...] = ()) -> DecodeError | None:
    """_walk_go appends ``(instance, span)`` for every occurrence of ``path`` under ``buf[start:end]``, depth first.

    The instance names the repeated elements on the occurrence's way. Returns the first DecodeError met
    (the walk stops there; what it appended came before it in a depth-first walk over ``scan``).
    """
    head, rest = path[0], path[1:]
    picks, err = select(buf, start, end, {head: True})
    for _, _, tag_start, len_start, value_start, value_end in picks:
        here = inst + (tag_start,) if repeated[0] else inst
        if rest:
            deeper = _walk_go(buf, value_start, value_end, rest, repeated[1:], out, here)
            if deeper is not None:
                return deeper
        else:
            out.append((here, FieldSpan(head, WIRE_LEN, tag_start, value_start, value_end, len_start)))
    return err


def _go_message_fields(message, path: tuple[int, ...], repeated: tuple[bool, ...]) -> list[str]:
    """_go_message_fields is what Go reads at ``path``: a singular leaf's last occurrence per instance."""
    found: list = []
    err = _walk_go(message, 0, len(message), path, repeated, found)
    if repeated[-1]:
        texts = [_text(message, f) for _, f in found]  # a bad string before the walk's error is met first
        if err is not None:
            raise err
        return texts
    if err is not None:
        raise err
    last: dict[tuple[int, ...], FieldSpan] = {}
    for inst, f in found:
        last[inst] = f  # keeps the instance's first position, takes its last value
    return [_text(message, f) for f in last.values()]


class _Leaf:
    """A path end inside the edit trie: the replacement and how many occurrences were seen."""

    def __init__(self, path, replacement, label: str | None = None):
        self.path = path
        self.replacement = replacement
        self.seen = 0
        self.label = label or f"path {path}"

    def new_value(self, old: str) -> str | None:
        """new_value gives the replacement for the next occurrence (None keeps it)."""
        i = self.seen
        self.seen += 1
        if callable(self.replacement):
            return self.replacement(old)
        if i >= len(self.replacement):
            return None  # counted, reported by the length check afterwards
        return self.replacement[i]

    def check_count(self) -> None:
        """check_count rejects a replacement list whose length differs from the occurrences found."""
        if not callable(self.replacement) and self.seen != len(self.replacement):
            raise ValueError(f"{self.label}: {len(self.replacement)} replacements for {self.seen} values "
                             "(a field stored more than once?)")


def _build_trie(edits: Mapping[tuple[int, ...], object],
                labels: Mapping[tuple[int, ...], str] | None = None) -> tuple[dict, list[_Leaf]]:
    """_build_trie turns ``{path: replacement}`` into nested dicts keyed by field number."""
    root: dict = {}
    leaves = []
    for path, replacement in edits.items():
        if not path:
            raise ValueError("empty field path")
        node = root
        for n in path[:-1]:
            node = node.setdefault(n, {})
            if isinstance(node, _Leaf):
                raise ValueError(f"path {path} runs through the string field {n}")
        if path[-1] in node:
            raise ValueError(f"path {path} given twice or is a prefix of another path")
        leaf = _Leaf(path, replacement, (labels or {}).get(path))
        node[path[-1]] = leaf
        leaves.append(leaf)
    return root, leaves


def select(buf, start: int, end: int, node: dict, strict: bool = True) -> tuple[list, DecodeError | None]:
    """_select scans the message ``buf[start:end]`` once and returns the fields the trie ``node`` names.

    Each pick is ``(child, number, tag_start, len_start, value_start, value_end)``, in wire order. The scan checks
    every field as ``scan`` does (in the same order, with the same messages); the first problem ends it
    and is returned, not raised, so that callers raise it after handling the picks before it, just where
    a walk over ``scan`` would have. A named field that is not length-delimited is such a problem too
    (unless not ``strict``: then it is skipped like any other).
    """
    picks: list = []
    get = node.get
    pos = start
    try:
        while pos < end:
            key = buf[pos]  # one- and two-byte varints (tags of fields 1-2047, lengths < 16 KiB) inline
            if key < 0x80:
                after = pos + 1
            elif pos + 1 < end and buf[pos + 1] < 0x80:
                key, after = key & 0x7F | buf[pos + 1] << 7, pos + 2
            else:
                key, after = read_varint(buf, pos, end)
            number, wire = key >> 3, key & 7
            if number == 0:
                raise DecodeError(f"field number 0 at byte {pos}")
            if wire == WIRE_LEN:
                if after < end and buf[after] < 0x80:
                    vstart = after + 1
                    vend = vstart + buf[after]
                elif after + 1 < end and buf[after + 1] < 0x80:
                    vstart = after + 2
                    vend = vstart + (buf[after] & 0x7F | buf[after + 1] << 7)
                else:
                    length, vstart = read_varint(buf, after, end)
                    vend = vstart + length
                if vend > end:
                    raise DecodeError(f"field {number} at byte {pos} claims {vend - vstart} bytes, {end - vstart} left")
            elif wire == WIRE_VARINT:
                if after < end and buf[after] < 0x80:
                    vend = after + 1
                else:
                    vend = read_varint(buf, after, end)[1]
                vstart = after
            elif wire in (WIRE_I64, WIRE_I32):
                vstart = after
                vend = after + (8 if wire == WIRE_I64 else 4)
                if vend > end:
                    raise DecodeError(f"field {number} at byte {pos} is truncated")
            else:
                raise DecodeError(f"unsupported wire type {wire} at byte {pos}")
            child = get(number)
            if child is not None:
                if wire == WIRE_LEN:
                    picks.append((child, number, pos, after, vstart, vend))
                elif strict:
                    raise DecodeError(f"field {number} at byte {pos} is not length-delimited")
            pos = vend
    except DecodeError as e:
        return picks, e
    return picks, None


def _text(buf, f: FieldSpan) -> str:
    """_text decodes a string field's payload, refusing bytes that are not UTF-8."""
    try:
        return bytes(buf[f.value_start : f.value_end]).decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(f"field {f.number} at byte {f.tag_start} is not a utf-8 string") from None


def _length(n: int) -> bytes:
    """_length is a length prefix: ``encode_varint`` with the one- and two-byte cases spelled out."""
    if n < 0x80:
        return _ONE_BYTE[n]
    if n < 0x4000:
        return bytes((n & 0x7F | 0x80, n >> 7))
    return encode_varint(n)


_ONE_BYTE = [bytes((i,)) for i in range(0x80)]


def _rewrite(buf, start: int, end: int, node: dict) -> bytes | None:
    """_rewrite returns the message ``buf[start:end]`` with the trie's edits applied, or None if unchanged."""
    picks, err = select(buf, start, end, node)
    parts: list = []
    cursor = start
    for child, number, tag_start, len_start, value_start, value_end in picks:
        if type(child) is _Leaf:
            old_bytes = bytes(buf[value_start:value_end])
            try:
                old = old_bytes.decode("utf-8")
            except UnicodeDecodeError:
                if callable(child.replacement):
                    raise DecodeError(f"field {number} at byte {tag_start} is not a utf-8 string") from None
                old = old_bytes  # a bytes field (e.g. RangeAllocation.data) replaced by position
            new = child.new_value(old)
            if new is None:
                continue
            payload = new if isinstance(new, bytes) else new.encode("utf-8")
            if payload == old_bytes:
                continue
        else:
            payload = _rewrite(buf, value_start, value_end, child)
            if payload is None:
                continue
        parts += (buf[cursor:len_start], _length(len(payload)), payload)
        cursor = value_end
    if err is not None:
        raise err
    if not parts:
        return None
    parts.append(buf[cursor:end])
    return b"".join(parts)


def get_message_fields(message: bytes, path: Sequence[int]) -> list[str]:
    """get_message_fields returns the strings at ``path`` in a bare protobuf message, in wire order."""
    path = tuple(path)
    return _go_message_fields(message, path, (True,) * len(path))


def _collect(buf, start: int, end: int, node: dict, out: dict) -> None:
    """_collect walks the message once, appending the strings of every path in the trie ``node`` to ``out``."""
    picks, err = select(buf, start, end, node)
    for child, number, tag_start, len_start, value_start, value_end in picks:
        if type(child) is _Leaf:
            out[child.path].append(_text(buf, FieldSpan(number, WIRE_LEN, tag_start, value_start, value_end,
                                                        len_start)))
        else:
            _collect(buf, value_start, value_end, child, out)
    if err is not None:
        raise err


def get_many(value: bytes, paths: Sequence) -> list[list[str]]:
    """get_many is ``get_fields`` for several paths at once, in one walk of a protobuf value."""
    if bytes(value[:4]) != MAGIC or any(_singular_steps(p) for p in paths):
        return [get_fields(value, p) for p in paths]
    full = [(UNKNOWN_RAW,) + _proto_path(p) for p in paths]
    root, _ = _build_trie({p: () for p in full})
    out: dict = {p: [] for p in full}
    _collect(bytes(value[4:]), 0, len(value) - 4, root, out)
    return [out[p] for p in full]


def set_message_fields(message: bytes, edits: Mapping[tuple[int, ...], object],
                       labels: Mapping[tuple[int, ...], str] | None = None) -> bytes:
    """set_message_fields applies ``{path: replacement}`` to a bare protobuf message (see module docstring)."""
    root, leaves = _build_trie({tuple(p): r for p, r in edits.items()}, labels)
    result = _rewrite(message, 0, len(message), root)
    for leaf in leaves:
        leaf.check_count()
    return bytes(message) if result is None else result


# ---- JSON twin: string tokens at a key path, located by byte-exact scanning

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _ws(s: str, i: int) -> int:
    return _WS.match(s, i).end()


def _skip(s: str, i: int) -> int:
    """_skip returns the index after the JSON value starting at ``i``."""
    try:
        return _DECODER.raw_decode(s, i)[1]
    except ValueError as e:
        raise DecodeError(f"broken json value at character {i}: {e.msg}") from None


def _json_spans(s: str, i: int, keys: tuple[str, ...], out: list) -> int:
    """_json_spans records (start, end) of string tokens at ``keys`` under the value at ``i``; returns its end."""
    i = _ws(s, i)
    ch = s[i : i + 1]
    if ch == "[":
        i = _ws(s, i + 1)
        if s[i : i + 1] == "]":
            return i + 1
        while True:
            i = _ws(s, _json_spans(s, i, keys, out))
            if s[i : i + 1] == ",":
                i = _ws(s, i + 1)
                continue
            if s[i : i + 1] == "]":
                return i + 1
            raise DecodeError(f"broken json array at character {i}")
    if not keys:
        if ch == '"':
            end = _skip(s, i)
            out.append((i, end))
            return end
        return _skip(s, i)
    if ch == "{":
        i = _ws(s, i + 1)
        if s[i : i + 1] == "}":
            return i + 1
        while True:
            if s[i : i + 1] != '"':
                raise DecodeError(f"broken json object at character {i}")
            key_end = _skip(s, i)
            key = json.loads(s[i:key_end])
            i = _ws(s, key_end)
            if s[i : i + 1] != ":":
                raise DecodeError(f"broken json object at character {i}")
            if key == keys[0]:
                i = _json_spans(s, i + 1, keys[1:], out)
            else:
                i = _skip(s, _ws(s, i + 1))
            i = _ws(s, i)
            if s[i : i + 1] == ",":
                i = _ws(s, i + 1)
                continue
            if s[i : i + 1] == "}":
                return i + 1
            raise DecodeError(f"broken json object at character {i}")
    return _skip(s, i)


def _json_text(value: bytes) -> str:
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("json value is not utf-8") from None


def get_json_fields(value: bytes, keys: Sequence[str]) -> list[str]:
    """get_json_fields returns the strings at the JSON key path, in document order."""
    s = _json_text(value)
    spans: list = []
    _json_spans(s, 0, tuple(keys), spans)
    return [json.loads(s[a:b]) for a, b in spans]


def set_json_fields(value: bytes, edits: Mapping[tuple[str, ...], object]) -> bytes:
    """set_json_fields rewrites only the string tokens at each key path; other bytes stay as they were."""
    s = _json_text(value)
    replacements = []
    for keys, replacement in edits.items():
        spans: list = []
        _json_spans(s, 0, tuple(keys), spans)
        leaf = _Leaf(tuple(keys), replacement)
        for a, b in spans:
            new = leaf.new_value(json.loads(s[a:b]))
            if new is not None and new != json.loads(s[a:b]):
                replacements.append((a, b, json.dumps(new)))
        leaf.check_count()
    replacements.sort()
    for (_, b1, _), (a2, _, _) in zip(replacements, replacements[1:]):
        if a2 < b1:
            raise ValueError("overlapping json edits")
    parts, cursor = [], 0
    for a, b, text in replacements:
        parts += [s[cursor:a], text]
        cursor = b
    parts.append(s[cursor:])
    return "".join(parts).encode("utf-8")


# ---- stored values: envelope-aware front door


def _proto_path(path) -> tuple[int, ...]:
    return tuple(path.proto) if hasattr(path, "proto") else tuple(path)


def _json_path(path) -> tuple[str, ...]:
    return tuple(path.json) if hasattr(path, "json") else tuple(path)


def _singular_steps(path) -> bool:
    """_singular_steps tells whether a FieldPath names singular steps (read them as Go does)."""
    return not all(getattr(path, "repeated", None) or (True,))


def _is_json(value: bytes) -> bool:
    return bytes(value[:64]).lstrip()[:1] == b"{"


def get_fields(value: bytes, path) -> list[str]:
    """get_fields returns the strings at ``path`` (FieldPath or tuple) in a stored protobuf or JSON value."""
    if bytes(value[:4]) == MAGIC:
        full = (UNKNOWN_RAW,) + _proto_path(path)
        if _singular_steps(path):
            return _go_message_fields(bytes(value[4:]), full, (False,) + tuple(path.repeated))
        return get_message_fields(bytes(value[4:]), full)
    if _is_json(value):
        return get_json_fields(value, _json_path(path))
    raise DecodeError("value is neither a kubernetes protobuf envelope nor json")


def set_fields(value: bytes, edits: Mapping[object, object]) -> bytes:
    """set_fields applies ``{path: replacement}`` to one stored value and returns the new stored bytes."""
    value = bytes(value)
    if value[:4] == MAGIC:
        inner = {(UNKNOWN_RAW,) + _proto_path(p): r for p, r in edits.items()}
        labels = {(UNKNOWN_RAW,) + _proto_path(p): ".".join(p.names) for p in edits if hasattr(p, "names")}
        return MAGIC + set_message_fields(value[4:], inner, labels)
    if _is_json(value):
        return set_json_fields(value, {_json_path(p): r for p, r in edits.items()})
    raise DecodeError("value is neither a kubernetes protobuf envelope nor json")

