"""Indented JSON text, exactly ``json.dumps(obj, indent=2)``'s, produced a piece at a time.

json's indented encoder runs in Python, a generator per value; reports and listings are long lists of
flat dicts of strings and ints. ``pieces`` writes those with json's own C string encoder, one join per
item (a dict's key names encoded once per key set, a dict of strings in C calls only), and hands the
text over a top-level key or list item at a time, so a long result is never held
whole as one string. Objects with an ``as_json`` method are converted as they are reached, and a
``LazyList`` (a sequence that makes its items when they are read) is written as the list it stands for,
an item at a time. A long list item (a warning listing 700k keys) is handed over in pieces of its text,
and a long text given in pieces (``spill.Text``) is written from them, never whole. Anything
``json.dumps`` would write differently from the plain path (floats, non-string keys, tuples, other
types) is left to ``json.dumps`` itself, re-indented to its depth: the text stays the same.
"""

import json
from collections.abc import Iterator, Sequence
from operator import add


class LazyList(Sequence):
    """A sequence written as a JSON list whose items are made when read (``rewrite.changelist.ChangeList``).

    ``pieces`` writes it item by item, never holding its items at once; anything else sees a Sequence.
    """

    __slots__ = ()

    def json_texts(self, enc, level: int, value) -> Iterator[str] | None:
        """json_texts may give each item's text as ``value(item, level)`` would (``enc``: the string encoder),
        made more cheaply than from the item; None (this default): ``pieces`` writes the items themselves."""
        return None


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


_STR = frozenset({str})
BIG = 1 << 20  # a list item (a flat dict of strings) longer than this is written a piece at a time
CHUNK = 1 << 16  # characters of a long string encoded at once


def _long(v) -> bool:
    """_long tells whether ``v`` is a long text given in pieces: it has ``chunks()`` (``spill.Text``), and its
    ``str`` is the string it stands for."""
    return type(v) is not str and hasattr(v, "chunks")


def _big(item) -> bool:
    """_big tells whether a list item is a non-empty dict under string keys of strings holding more than BIG
    characters, or of strings and long texts (``_long``)."""
    if type(item) is not dict or not item or not _STR.issuperset(map(type, item)):
        return False
    if _STR.issuperset(map(type, item.values())):
        return sum(map(len, item.values())) > BIG
    return all(type(v) is str or _long(v) for v in item.values())


def _dict_pieces(w: "_Writer", d: dict, level: int) -> Iterator[str]:
    """_dict_pieces yields ``w.value(d, level)`` for a dict of strings (``_big``; a long text is written as its
    ``str``, a piece at a time) in pieces: a long string is
    encoded ``CHUNK`` characters at a time (json's encoders escape each character on its own, so the pieces
    join to the same text). A leftovers warning at 8 GiB is tens of MB: written whole it was held several
    times over (encoded, in its item, in a batch, as bytes) at the end of the run."""
    pad = "\n" + "  " * (level + 1)
    sep = "{" + pad
    enc = w.enc
    for name, v in zip(w.names(d), d.values()):
        if type(v) is str and len(v) <= CHUNK:
            yield sep + name + enc(v)
        else:
            yield sep + name + '"'
            for text in (v,) if type(v) is str else v.chunks():
                for at in range(0, len(text), CHUNK):
                    yield enc(text[at : at + CHUNK])[1:-1]
            yield '"'
        sep = "," + pad
    yield "\n" + "  " * level + "}"


class _Writer:
    KEYS = 1024  # key sets whose encoded names are kept (a report's entries have a few)

    def __init__(self, ensure_ascii: bool):
        self.ensure_ascii = ensure_ascii
        self.enc = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
        self.keys: dict[tuple, tuple[str, ...]] = {}  # a dict's keys -> their encoded names, each with ": "

    def names(self, d: dict) -> tuple[str, ...]:
        """names are ``d``'s keys encoded, each followed by ": " (all alike for a report's entries)."""
        keys = tuple(d)
        got = self.keys.get(keys)
        if got is None:
            if not _STR.issuperset(map(type, keys)):
                raise _Slow
            enc = self.enc
            got = tuple([enc(k) + ": " for k in keys])
            if len(self.keys) < self.KEYS:
                self.keys[keys] = got
        return got

    def value(self, v, level: int) -> str:
        """value is ``v`` as json.dumps(indent=2) writes it nested ``level`` deep."""
        try:
            return self.fast(v, level)
        except _Slow:
            text = json.dumps(v, indent=2, ensure_ascii=self.ensure_ascii, default=_as_json)
            return text.replace("\n", "\n" + "  " * level)

    def fast(self, v, level: int) -> str:
        enc = self.enc
        if type(v) is dict:
            if not v:
                return "{}"
            pad = "\n" + "  " * (level + 1)
            values = v.values()
            if _STR.issuperset(map(type, values)):  # a dict of strings (most report entries): in C
                texts = map(enc, values)
            else:
                texts = [enc(x) if type(x) is str else int.__repr__(x) if type(x) is int
                         else self.fast(_plain(x), level + 1) for x in values]
            return "{" + pad + ("," + pad).join(map(add, self.names(v), texts)) + "\n" + "  " * level + "}"
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
            texts = v.json_texts(w.enc, 2, w.value) if type(v) is not list else None
            if texts is None and type(v) is list and any(map(_big, v)):  # (a report's few long warnings)
                for item in v:
                    if _big(item):
                        parts = _dict_pieces(w, item, 2)
                        yield head + isep + next(parts)
                        yield from parts
                    else:
                        yield head + isep + w.value(item if type(item) is dict else _plain(item), 2)
                    head, isep = "", ",\n    "
                yield "\n  ]"
                continue
            for text in texts if texts is not None else (
                    w.value(item if type(item) is dict else _plain(item), 2) for item in v):
                yield head + isep + text
                head, isep = "", ",\n    "
            yield "\n  ]"
        else:
            yield head + w.value(_plain(v), 1)
    yield "\n}"


def write(obj, put, ensure_ascii: bool = True, batch: int = 256) -> None:
    """write passes ``obj``'s indented JSON text and a newline to ``put`` (str -> None), ``batch`` pieces a call."""
    buf: list[str] = []
    size = 0
    for piece in pieces(obj, ensure_ascii):
        buf.append(piece)
        size += len(piece)
        if len(buf) >= batch or size >= BIG:  # (a long text goes on in pieces: not joined whole)
            put("".join(buf))
            buf.clear()
            size = 0
    buf.append("\n")
    put("".join(buf))


class _Reader:
    """A JSON text read a chunk at a time: whitespace skipped, values decoded with ``raw_decode`` as they come."""

    CHUNK = 1 << 20

    def __init__(self, f, decoder: json.JSONDecoder):
        self.f = f
        self.decoder = decoder
        self.buf = ""
        self.pos = 0
        self.eof = False

    def fill(self) -> bool:
        """fill appends the next chunk (dropping what was read); False at the end of the text."""
        if self.eof:
            return False
        more = self.f.read(self.CHUNK)
        if not more:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + more
        self.pos = 0
        return True

    def peek(self) -> str:
        """peek is the next character that is not whitespace ('' at the end), not consumed."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\n\r":
                self.pos += 1
            if self.pos < len(self.buf) or not self.fill():
                return self.buf[self.pos : self.pos + 1]

    def expect(self, chars: str) -> str:
        c = self.peek()
        if not c or c not in chars:
            raise json.JSONDecodeError(f"Expecting {' or '.join(repr(x) for x in chars)}", self.buf, self.pos)
        self.pos += 1
        return c

    def value(self):
        """value decodes the next value; a value cut by the chunk's end is decoded again with more text."""
        self.peek()
        while True:
            try:
                v, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                if self.fill():
                    continue
                raise
            if end == len(self.buf) and self.fill():  # a number or literal may go on in the next chunk
                continue
            self.pos = end
            return v


def read_streaming(f, key: str, on_item, object_hook=None) -> dict:
    """read_streaming is ``json.load(f, object_hook=...)`` of a text holding one object, the list under ``key`` excepted.

    Each item of that list (a top-level ``key`` whose value is a list) is passed to ``on_item`` as it is
    decoded, and the list is not kept: the returned dict has an empty list under ``key``. Any other value
    under ``key`` stays in the dict; a text that is not an object is returned as ``json.load`` returns it.
    ``f`` is a text file. Raises ``json.JSONDecodeError`` (a ValueError) where ``json.load`` would (the
    positions it names may differ).
    """
    r = _Reader(f, json.JSONDecoder(object_hook=object_hook))
    out: dict = {}
    if r.peek() != "{":
        whole = r.value()
        if r.peek():
            raise json.JSONDecodeError("Extra data", r.buf, r.pos)
        return whole
    r.expect("{")
    if r.peek() == "}":
        r.pos += 1
    else:
        while True:
            name = r.value()
            if not isinstance(name, str):
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", r.buf, r.pos)
            r.expect(":")
            if name == key and r.peek() == "[":
                r.pos += 1
                out[name] = []
                if r.peek() == "]":
                    r.pos += 1
                else:
                    while True:
                        on_item(r.value())
                        if r.expect(",]") == "]":
                            break
            else:
                out[name] = r.value()
            if r.expect(",}") == "}":
                break
    if r.peek():
        raise json.JSONDecodeError("Extra data", r.buf, r.pos)
    return object_hook(out) if object_hook is not None else out
