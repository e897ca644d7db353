"""Indented JSON text, exactly ``json.dumps(obj, indent=2)``'s, produced a piece at a time.

json's indented encoder runs in Python, a generator per value; reports and listings are long lists of
flat dicts of strings and ints. ``pieces`` writes those with json's own C string encoder, one join per
item, and hands the text over a top-level key or list item at a time, so a long result is never held
whole as one string. Objects with an ``as_json`` method are converted as they are reached, and a
``LazyList`` (a sequence that makes its items when they are read) is written as the list it stands for,
an item at a time. Anything
``json.dumps`` would write differently from the plain path (floats, non-string keys, tuples, other
types) is left to ``json.dumps`` itself, re-indented to its depth: the text stays the same.
"""

import json
from collections.abc import Iterator, Sequence


class LazyList(Sequence):
    """A sequence written as a JSON list whose items are made when read (``rewrite.changelist.ChangeList``).

    ``pieces`` writes it item by item, never holding its items at once; anything else sees a Sequence.
    """

    __slots__ = ()


class _Slow(Exception):
    """A value the plain writer leaves to ``json.dumps`` (floats, non-string keys, other types)."""


def _as_json(obj):
    if isinstance(obj, LazyList):
        return list(obj)
    if hasattr(obj, "as_json"):
        return obj.as_json()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _plain(obj):
    return obj.as_json() if hasattr(obj, "as_json") else obj


class _Writer:
    def __init__(self, ensure_ascii: bool):
        self.ensure_ascii = ensure_ascii
        self.enc = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring

    def value(self, v, level: int) -> str:
        """value is ``v`` as json.dumps(indent=2) writes it nested ``level`` deep."""
        try:
            return self.fast(v, level)
        except _Slow:
            text = json.dumps(v, indent=2, ensure_ascii=self.ensure_ascii, default=_as_json)
            return text.replace("\n", "\n" + "  " * level)

    def fast(self, v, level: int) -> str:
        enc = self.enc
        if isinstance(v, str):
            return enc(v)
        if v is None:
            return "null"
        if v is True:
            return "true"
        if v is False:
            return "false"
        if type(v) is int:
            return int.__repr__(v)
        if type(v) is list or isinstance(v, LazyList):
            if not v:
                return "[]"
            pad = "\n" + "  " * (level + 1)
            return "[" + pad + ("," + pad).join([self.fast(_plain(x), level + 1) for x in v]) + "\n" + "  " * level + "]"
        if type(v) is dict:
            if not v:
                return "{}"
            pad = "\n" + "  " * (level + 1)
            parts = []
            for k, x in v.items():
                if type(k) is not str:
                    raise _Slow
                parts.append(enc(k) + ": " + self.fast(_plain(x), level + 1))
            return "{" + pad + ("," + pad).join(parts) + "\n" + "  " * level + "}"
        if hasattr(v, "as_json"):
            return self.fast(v.as_json(), level)
        raise _Slow


def pieces(obj, ensure_ascii: bool = True) -> Iterator[str]:
    """pieces yields the text of ``json.dumps(obj, indent=2, ensure_ascii=...)`` (no final newline) in pieces.

    A top-level dict is written key by key and its lists item by item (each item converted only when
    it is written); any other value in one piece.
    """
    w = _Writer(ensure_ascii)
    obj = _plain(obj)
    if type(obj) is not dict or not obj or not all(type(k) is str for k in obj):
        yield w.value(obj, 0)
        return
    sep = "{\n  "
    for k, v in obj.items():
        head = f"{sep}{w.enc(k)}: "
        sep = ",\n  "
        if (type(v) is list or isinstance(v, LazyList)) and v:
            head += "["
            isep = "\n    "
            for item in v:
                yield head + isep + w.value(_plain(item), 2)
                head, isep = "", ",\n    "
            yield "\n  ]"
        else:
            yield head + w.value(_plain(v), 1)
    yield "\n}"


def write(obj, put, ensure_ascii: bool = True, batch: int = 256) -> None:
    """write passes ``obj``'s indented JSON text and a newline to ``put`` (str -> None), ``batch`` pieces a call."""
    buf: list[str] = []
    for piece in pieces(obj, ensure_ascii):
        buf.append(piece)
        if len(buf) >= batch:
            put("".join(buf))
            buf.clear()
    buf.append("\n")
    put("".join(buf))
