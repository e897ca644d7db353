"""splice's one-pass field selection (``select``) answers exactly like walking the ``scan`` generator.

The plain walk below is the pre-``select`` implementation, kept here as the oracle: on hostile messages
(unknown fields, duplicates, wrong wire types, truncations, zero-length messages) the fast reader and
writer must give the same strings, the same bytes, or the same DecodeError/ValueError message. On real
objects the splice edit must also be what the protobuf runtime reads back after setting the field itself.
"""

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snaprewrite.errors import DecodeError
from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s import envelope, registry, splice
from snaprewrite.k8s.proto import runtime_pb2
from snaprewrite.wire import encode_varint

# ---- the plain path: generators over splice.scan (the implementation select replaced)


def _plain_walk_go(buf, start, end, path, repeated, inst=()) -> Iterator:
    head, rest = path[0], path[1:]
    for f in splice.scan(buf, start, end):
        if f.number != head:
            continue
        if f.wire_type != splice.WIRE_LEN:
            raise DecodeError(f"field {f.number} at byte {f.tag_start} is not length-delimited")
        here = inst + (f.tag_start,) if repeated[0] else inst
        if rest:
            yield from _plain_walk_go(buf, f.value_start, f.value_end, rest, repeated[1:], here)
        else:
            yield here, f


def plain_get(message: bytes, path, repeated) -> list[str]:
    if repeated[-1]:
        return [splice._text(message, f) for _, f in _plain_walk_go(message, 0, len(message), path, repeated)]
    last = {}
    for inst, f in _plain_walk_go(message, 0, len(message), path, repeated):
        last[inst] = f
    return [splice._text(message, f) for f in last.values()]


def _plain_children(buf, start, end, node):
    for f in splice.scan(buf, start, end):
        child = node.get(f.number)
        if child is None:
            continue
        if f.wire_type != splice.WIRE_LEN:
            raise DecodeError(f"field {f.number} at byte {f.tag_start} is not length-delimited")
        yield f, child


def _plain_rewrite(buf, start, end, node):
    out, cursor, changed = bytearray(), start, False
    for f, child in _plain_children(buf, start, end, node):
        if isinstance(child, splice._Leaf):
            old_bytes = bytes(buf[f.value_start : f.value_end])
            try:
                old = old_bytes.decode("utf-8")
            except UnicodeDecodeError:
                if callable(child.replacement):
                    raise DecodeError(f"field {f.number} at byte {f.tag_start} is not a utf-8 string") from None
                old = old_bytes
            new = child.new_value(old)
            if new is None:
                continue
            payload = new if isinstance(new, bytes) else new.encode("utf-8")
            if payload == old_bytes:
                continue
        else:
            payload = _plain_rewrite(buf, f.value_start, f.value_end, child)
            if payload is None:
                continue
        out += buf[cursor : f.len_start] + encode_varint(len(payload)) + payload
        cursor, changed = f.value_end, True
    if not changed:
        return None
    return bytes(out + buf[cursor:end])


def plain_set(message: bytes, edits) -> bytes:
    root, leaves = splice._build_trie(edits)
    result = _plain_rewrite(message, 0, len(message), root)
    for leaf in leaves:
        leaf.check_count()
    return message if result is None else result


def _plain_collect(buf, start, end, node, out):
    for f, child in _plain_children(buf, start, end, node):
        if isinstance(child, splice._Leaf):
            out[child.path].append(splice._text(buf, f))
        else:
            _plain_collect(buf, f.value_start, f.value_end, child, out)


def plain_many(message: bytes, paths) -> list[list[str]]:
    root, _ = splice._build_trie({p: () for p in paths})
    out = {p: [] for p in paths}
    _plain_collect(message, 0, len(message), root, out)
    return [out[p] for p in paths]


def outcome(fn, *args):
    """outcome is a call's result, or its exception's type and message (what must match)."""
    try:
        return fn(*args)
    except (DecodeError, ValueError) as e:
        return type(e).__name__, str(e)


# ---- hostile messages: every wire type, duplicates, unknown numbers, nesting, then bytes cut or flipped


def _field(number: int, wire: int, payload: bytes) -> bytes:
    tag = encode_varint(number << 3 | wire)
    if wire == 2:
        return tag + encode_varint(len(payload)) + payload
    if wire == 0:
        return tag + encode_varint(int.from_bytes(payload[:9] or b"\x00", "little"))
    return tag + (payload + bytes(8))[: 8 if wire == 1 else 4]


_strings = st.sampled_from([b"", b"10.96.0.1", b"fd00::a", b"None", b"\xff\xfe", b"x" * 200])


def _message(depth: int):
    leaf = st.builds(_field, st.sampled_from([1, 2, 3, 18, 19, 300]), st.sampled_from([0, 1, 2, 2, 2, 5]), _strings)
    if depth == 0:
        return st.lists(leaf, max_size=6).map(b"".join)
    nested = st.builds(lambda n, body: _field(n, 2, body), st.sampled_from([1, 2, 3, 18]), _message(depth - 1))
    return st.lists(st.one_of(leaf, nested), max_size=6).map(b"".join)


_hostile = st.one_of(
    _message(3),
    st.tuples(_message(3), st.integers(0, 400)).map(lambda t: t[0][: t[1]]),  # cut anywhere
    st.tuples(_message(3), st.integers(0, 400), st.integers(0, 255)).map(  # one byte changed
        lambda t: t[0][: t[1]] + bytes([t[2]]) + t[0][t[1] + 1 :] if t[1] < len(t[0]) else t[0]),
    st.binary(max_size=64),
)
PATHS = [(2, 18), (2, 3), (1, 1), (2, 1, 1), (3,), (2, 1, 18)]


@settings(max_examples=400, deadline=None)
@given(_hostile, st.sampled_from(PATHS), st.booleans(), st.booleans())
def test_fast_reader_equals_plain_reader(message, path, first_repeated, last_repeated):
    repeated = (first_repeated,) + (False,) * (len(path) - 2) + (last_repeated,) if len(path) > 1 else (last_repeated,)
    assert outcome(splice._go_message_fields, message, path, repeated) == outcome(plain_get, message, path, repeated)
    assert outcome(splice.get_message_fields, message, path) == outcome(plain_get, message, path, (True,) * len(path))
    root, _ = splice._build_trie({p: () for p in PATHS[:3]})
    fast = {p: [] for p in PATHS[:3]}
    plain = {p: [] for p in PATHS[:3]}
    assert outcome(splice._collect, message, 0, len(message), root, fast) == \
        outcome(_plain_collect, message, 0, len(message), root, plain)
    assert fast == plain


@settings(max_examples=400, deadline=None)
@given(_hostile, st.sampled_from([
    {(2, 18): lambda s: s + "1", (2, 3): lambda s: "y" * 130},
    {(1, 1): lambda s: ""},
    {(2, 18): ["10.0.0.1", None]},
    {(2, 3): [b"\x00\xff"], (1, 1): lambda s: s},
    {(2, 1, 1): lambda s: "z" * 20000},
]))
def test_fast_writer_equals_plain_writer(message, edits):
    assert outcome(splice.set_message_fields, message, edits) == outcome(plain_set, message, edits)


@pytest.mark.parametrize("message", [b"", b"\x12\x00", b"\x12\x00\x12\x00", b"\x12\x02\x92\x01\x00\x12\x00"])
def test_zero_length_messages(message):
    for path in PATHS:
        assert outcome(splice.get_message_fields, message, path) == outcome(plain_get, message, path, (True,) * len(path))
    edits = {(2, 18): lambda s: "a", (2, 3): lambda s: "b"}
    assert outcome(splice.set_message_fields, message, edits) == outcome(plain_set, message, edits)


# ---- real objects: same answers, and the protobuf runtime reads the edit as if it had set the field


@pytest.mark.parametrize("name", ["k8s-etcd35", "apiserver-etcd35", "real"])
def test_edits_of_real_objects_match_the_protobuf_runtime(name, fixture_path, request):
    path = request.getfixturevalue("real_snapshot") if name == "real" else fixture_path(name + ".db")
    checked = 0
    with Snapshot(path) as snap:
        for key, revkey in sorted(mvcc.live_keys(snap).items()):
            value = mvcc.record_at(snap, revkey).kv.value
            env = envelope.parse(value)
            cls = registry.message_class(env.api_version or "", env.kind or "")
            if env.storage != envelope.PROTOBUF or cls is None:
                continue
            name_path = registry.resolve_path(env.api_version, env.kind, ("metadata", "name"))
            new = splice.set_fields(value, {name_path: lambda s: s + "-moved"})
            assert new == b"k8s\x00" + plain_set(value[4:], {(2, 1, 1): lambda s: s + "-moved"}), key
            expected = cls.FromString(runtime_pb2.Unknown.FromString(value[4:]).raw)
            expected.metadata.name += "-moved"
            assert cls.FromString(runtime_pb2.Unknown.FromString(new[4:]).raw) == expected, key
            assert splice.get_fields(new, name_path) == [expected.metadata.name]
            checked += 1
    assert checked >= 30


# ---- envelope.parse on select: the same Envelope or error as the walk over scan it replaced


def plain_envelope(value: bytes):
    api_version = kind = raw = None
    encoding = ctype = ""
    try:
        for f in splice.scan(value, 4, len(value)):
            if f.wire_type != splice.WIRE_LEN:
                continue
            if f.number == 1:
                for t in splice.scan(value, f.value_start, f.value_end):
                    if t.wire_type == splice.WIRE_LEN and t.number in (1, 2):
                        text = value[t.value_start : t.value_end].decode("utf-8")
                        api_version, kind = (text, kind) if t.number == 1 else (api_version, text)
            elif f.number == 2:
                raw = (f.value_start, f.value_end - f.value_start)
            elif f.number == 3:
                encoding = value[f.value_start : f.value_end].decode("utf-8")
            elif f.number == 4:
                ctype = value[f.value_start : f.value_end].decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("broken kubernetes envelope: type name is not utf-8") from None
    except DecodeError as e:
        raise DecodeError(f"broken kubernetes envelope: {e}") from None
    if raw is None or not kind or not api_version:
        raise DecodeError("broken kubernetes envelope: missing typeMeta or raw")
    return envelope.Envelope(envelope.PROTOBUF, api_version, kind, raw_offset=raw[0], raw_length=raw[1],
                             content_encoding=encoding, content_type=ctype)


_type_meta = st.lists(st.builds(_field, st.sampled_from([1, 2, 3]), st.sampled_from([0, 2, 2, 5]),
                                st.sampled_from([b"v1", b"Service", b"", b"\xff"])), max_size=4).map(b"".join)
_valid_type_meta = st.just(_field(1, 2, _field(1, 2, b"v1") + _field(2, 2, b"Service")))
_unknown = st.lists(st.one_of(
    _valid_type_meta, _valid_type_meta, st.builds(lambda body: _field(1, 2, body), _type_meta),
    st.builds(_field, st.sampled_from([1, 2, 3, 4, 5]), st.sampled_from([0, 1, 2, 2, 2, 5]), _strings),
    st.builds(lambda body: _field(2, 2, body), _message(1)),
), max_size=6).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_unknown, st.tuples(_unknown, st.integers(0, 300)).map(lambda t: t[0][: t[1]]),
                 st.tuples(_unknown, st.integers(0, 300), st.integers(0, 255)).map(
                     lambda t: t[0][: t[1]] + bytes([t[2]]) + t[0][t[1] + 1 :] if t[1] < len(t[0]) else t[0])))
def test_envelope_equals_the_scan_walk(body):
    value = b"k8s\x00" + body
    assert outcome(envelope.parse, value) == outcome(plain_envelope, value)
