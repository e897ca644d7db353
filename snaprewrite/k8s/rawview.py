"""A numbered-field view of protobuf bytes without a schema, like ``protoc --decode_raw``.

``view(data)`` gives ``{"N": value}`` per field number in wire order (a number seen more than once
gives a list): varints as ints, fixed32/fixed64 as unsigned ints, length-delimited bytes as a nested
view where they parse completely as a message and are not plain text, else as text when they are
valid UTF-8, else as ``{"base64": ...}``. Bytes that are not a message at all give ``{"base64": ...}``.

``object_view(raw, meta)`` is the view of an unknown Kubernetes kind: field 1 (ObjectMeta in every
kind) is rendered by ``meta`` as ``metadata`` when it parses, the other fields numbered.
"""

import base64
from collections.abc import Callable

from ..errors import DecodeError
from ..wire import read_varint

MAX_DEPTH = 32


class _NotMessage(Exception):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    try:
        return read_varint(data, pos, len(data))
    except DecodeError:
        raise _NotMessage from None


def _fields(data: bytes) -> list[tuple[int, int, object]]:
    """_fields splits bytes into (number, wire type, raw value) or raises _NotMessage."""
    out = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number < 1 or number > 536870911:
            raise _NotMessage
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            if pos + 8 > len(data):
                raise _NotMessage
            value, pos = int.from_bytes(data[pos:pos + 8], "little"), pos + 8
        elif wire == 5:
            if pos + 4 > len(data):
                raise _NotMessage
            value, pos = int.from_bytes(data[pos:pos + 4], "little"), pos + 4
        elif wire == 2:
            n, pos = _varint(data, pos)
            if pos + n > len(data):
                raise _NotMessage
            value, pos = data[pos:pos + n], pos + n
        else:  # groups (3, 4) are not written by Kubernetes
            raise _NotMessage
        out.append((number, wire, value))
    return out


def _is_text(b: bytes) -> bool:
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c >= " " or c in "\t\n\r" for c in s)


def _bytes_value(b: bytes, depth: int):
    if b and not _is_text(b) and depth < MAX_DEPTH:
        try:
            return _view(b, depth + 1)
        except _NotMessage:
            pass
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(b).decode("ascii")}


def _view(data: bytes, depth: int) -> dict:
    return _numbered(_fields(data), depth)


def _numbered(fields: list[tuple[int, int, object]], depth: int) -> dict:
    """_numbered renders split fields by number; a number seen more than once gives a list."""
    grouped: dict[str, list] = {}
    for number, wire, value in fields:
        grouped.setdefault(str(number), []).append(_bytes_value(value, depth) if wire == 2 else value)
    return {k: v[0] if len(v) == 1 else v for k, v in grouped.items()}


def numbered(fields: list[tuple[int, int, object]]) -> dict:
    """numbered renders fields already split into (number, wire type, value), e.g. a message's unknown fields."""
    return _numbered([f for f in fields if f[1] in (0, 1, 2, 5)], 0)


def value(data: bytes):
    """value renders one length-delimited payload: a nested view, text, or ``{"base64": ...}`` (see module docstring)."""
    return _bytes_value(bytes(data), 0)


def view(data: bytes) -> dict:
    """view is the numbered-field view of ``data`` (see the module docstring)."""
    try:
        return _view(bytes(data), 0)
    except _NotMessage:
        return {"base64": base64.b64encode(bytes(data)).decode("ascii")}


def object_view(raw: bytes, meta: Callable[[bytes], dict | None]) -> dict:
    """object_view is the view of an unknown kind's message, ``metadata`` rendered by ``meta`` where it parses."""
    try:
        fields = _fields(raw)
    except _NotMessage:
        return {"base64": base64.b64encode(raw).decode("ascii")}
    out: dict = {}
    rest = []
    for number, wire, value in fields:
        rendered = meta(value) if number == 1 and wire == 2 and "metadata" not in out else None
        if rendered is not None:
            out["metadata"] = rendered
        else:
            rest.append((number, wire, value))
    out.update(_numbered(rest, 0))
    return out
