"""``located``'s one walk answers exactly as the plain path it replaces: envelope + field_path + read + set_fields.

The plain path is what the rules did before: ``envelope.parse`` for the stored type, ``registry.resolve_path``,
``fields.read`` for the strings and ``splice.set_fields`` for the edit. On every live object of the
fixtures and the real snapshot, and on hostile variants (fields stored twice, a second spec, wrong wire
types, bad UTF-8, truncations, random byte flips), ``locate`` either answers None (the rule then takes the
plain path) or gives the same strings and the same bytes, and the plain path raises nothing there.
"""

import collections
import dataclasses
import random
import sys
from array import array
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snaprewrite.errors import DecodeError
from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s import envelope, fields, located, registry, splice
from snaprewrite.wire import encode_varint

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import kubeobjects as ko  # noqa: E402

SERVICE = (("spec", "type"), ("spec", "clusterIPs"), ("spec", "clusterIP"))
NAMES = {  # the paths each kind is located for here (the rules' own, and a few more)
    "Service": SERVICE,
    "IPAddress": (("metadata", "name"),),
    "Node": (("spec", "podCIDRs"), ("spec", "podCIDR")),
}
OTHER = (("metadata", "name"), ("metadata", "namespace"), ("metadata", "uid"))


def plain(value: bytes, names):
    """plain is (paths, texts) the way the rules read them before ``located``; None where it raises."""
    try:
        env = envelope.parse(value)
        if env.storage not in (envelope.PROTOBUF, envelope.JSON):
            return None
        paths = [registry.resolve_path(env.api_version or "v1", env.kind or "Service", n) for n in names]
        return paths, fields.read(value, env.api_version or "v1", env.kind or "Service", paths)
    except DecodeError:
        return None


def _edits(paths, texts, rng: random.Random) -> dict:
    """_edits is a replacement list per path: some entries kept (None), some the same, some new (longer, shorter)."""
    out = {}
    for p, got in zip(paths, texts):
        new = []
        for t in got:
            new.append(rng.choice([None, t, t + "0", t[:-1], "x" * rng.randrange(0, 300), "\u00e9"]))
        out[p] = new
    return out


def check(value: bytes, names, rng: random.Random) -> bool:
    """check asserts ``locate`` agrees with the plain path on ``value``; True if it answered."""
    loc = located.locate(value, names)
    if loc is None:
        return False
    want = plain(value, names)
    assert want is not None, "located answered where the plain path raises"
    paths, texts = want
    assert list(loc.paths) == paths
    assert loc.texts == texts
    for n, p in zip(names, paths):
        assert loc.path(tuple(n)) == p
    for _ in range(3):
        edits = _edits(paths, texts, rng)
        assert loc.rewrite(value, edits) == splice.set_fields(value, edits)
        copies = {dataclasses.replace(p): new for p, new in edits.items()}  # equal paths, other objects
        assert loc.rewrite(value, copies) == splice.set_fields(value, edits)
    if any(texts):  # a list of the wrong length: the plain path raises its ValueError
        assert loc.rewrite(value, {p: [] for p, t in zip(paths, texts) if t}) is None
    return True


def _values(path) -> list[bytes]:
    with Snapshot(path) as snap:
        return [mvcc.record_at(snap, rk).kv.value for _, rk in sorted(mvcc.live_keys(snap).items())]


@pytest.mark.parametrize("name", ["k8s-etcd35", "k8s-etcd34", "apiserver-etcd35", "real"])
def test_located_equals_the_plain_path_on_every_object(name, fixture_path, request):
    path = request.getfixturevalue("real_snapshot") if name == "real" else fixture_path(name + ".db")
    rng = random.Random(name)
    answered = 0
    for value in _values(path):
        env = envelope.parse(value)
        names = NAMES.get(env.kind, OTHER)
        answered += check(value, names, rng)
        if env.storage == envelope.PROTOBUF and registry.message_class(env.api_version, env.kind) is not None \
                and env.kind in NAMES:
            assert located.locate(value, names) is not None, env.kind  # plain objects take the one walk
    assert answered >= 30


def _len_field(number: int, payload: bytes) -> bytes:
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload


def _rewrap(value: bytes, raw: bytes, tail: bytes = b"") -> bytes:
    """_rewrap puts another raw message into the value's runtime.Unknown (and appends ``tail`` to it)."""
    env = envelope.parse(value)
    head = value[4 : env.raw_offset]
    tag_end = len(head) - len(encode_varint(env.raw_length))
    return b"k8s\x00" + head[:tag_end] + encode_varint(len(raw)) + raw + value[env.raw_offset + env.raw_length :] + tail


def _variants(value: bytes) -> list[bytes]:
    """_variants are hostile neighbours of a stored object: each must give None or the plain answers."""
    env = envelope.parse(value)
    raw = value[env.raw_offset : env.raw_offset + env.raw_length]
    out = [value, value[:-3], value[:4] + value[5:], value + b"\x00"]
    out.append(_rewrap(value, raw + _len_field(2, _len_field(3, b"10.0.0.9"))))  # a second spec (Go merges)
    out.append(_rewrap(value, raw + _len_field(2, b"")))  # an empty second spec
    out.append(_rewrap(value, raw + _len_field(1, _len_field(1, b"again"))))  # a second metadata
    out.append(_rewrap(value, raw + b"\x10\x01"))  # spec's number as a varint
    out.append(_rewrap(value, raw, _len_field(2, raw)))  # raw stored twice
    out.append(_rewrap(value, raw, _len_field(1, _len_field(1, b"v1"))))  # typeMeta twice
    out.append(_rewrap(value, raw, _len_field(3, b"\xff")))  # contentEncoding not UTF-8
    out.append(_rewrap(value, raw, b"\x18\x01"))  # contentEncoding as a varint
    spec_first = _len_field(2, _len_field(3, b"\xff\xfe"))  # a clusterIP that is not UTF-8, in a merged spec
    out.append(_rewrap(value, spec_first + raw))
    out.append(_rewrap(value, raw + _len_field(2, _len_field(18, b"fd00::1"))))  # clusterIPs in a second spec
    return out


OBJECTS = [
    ko.service("default", "web", "10.96.0.10"),
    ko.service("default", "dual", cluster_ips=["10.96.0.11", "fd00:10:96::b"]),
    ko.service("default", "headless", "None"),
    ko.ip_address("10.96.0.10", "default", "web"),
    ko.node("n1", pod_cidrs=["10.244.1.0/24", "fd00:10:244:1::/64"]),
]


def _damaged(values: list[bytes], rng: random.Random, flips: int) -> list[bytes]:
    """_damaged is ``values`` with ``flips`` random bytes overwritten in each: damage anywhere (a walk must never
    answer what the plain path would not)."""
    out = []
    for value in values:
        value = bytearray(value)
        for _ in range(flips):
            value[rng.randrange(len(value))] = rng.randrange(256)
        out.append(bytes(value))
    return out


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(range(len(OBJECTS))), st.integers(0, 2**32), st.integers(0, 3))
def test_located_equals_the_plain_path_on_hostile_values(which, seed, flips):
    rng = random.Random(seed)
    base = OBJECTS[which]
    kind = envelope.parse(base).kind
    for value in _damaged(_variants(base), rng, flips):
        check(value, NAMES[kind], rng)
        check(value, OTHER, rng)


def test_located_leaves_what_it_cannot_answer_and_answers_plain_objects():
    svc = OBJECTS[1]
    loc = located.locate(svc, SERVICE)
    assert loc is not None and loc.texts == [["ClusterIP"], ["10.96.0.11", "fd00:10:96::b"], ["10.96.0.11"]]
    for i, bad in enumerate(_variants(svc)[1:], 1):
        if i != 6:  # (a second metadata does not disturb the spec's fields)
            assert located.locate(bad, SERVICE) is None, i
    assert located.locate(_variants(OBJECTS[3])[6], NAMES["IPAddress"]) is None  # it does the name's
    assert located.locate(b'{"apiVersion":"v1","kind":"Service"}', SERVICE) is None  # JSON: the plain path's
    assert located.locate(svc, (("spec", "ports", "name"),)) is None  # a repeated message on the way
    assert located.locate(svc, (("spec", "nope"),)) is None  # the plain path names the error


def test_a_splice_that_skips_a_length_prefix_is_caught(monkeypatch):
    """Must fail: a rewrite that leaves raw's length as it was differs from set_fields, and ``check`` says so."""
    value = OBJECTS[3]
    monkeypatch.setattr(located, "_length", lambda n: encode_varint(n - 1))
    with pytest.raises(AssertionError):
        for seed in range(20):
            check(value, NAMES["IPAddress"], random.Random(seed))


# ---- the inline walk (``_envelope_common``, ``_walk_common``) answers as the plain one (``_envelope``, ``_walk``)


def common_as_plain(value: bytes, names) -> str:
    """common_as_plain asserts the inline walk agrees with the plain one on ``value``; says which answered."""
    if value[:4] != splice.MAGIC:
        return "not protobuf"
    plain_env = located._envelope(value)
    fast_env = located._envelope_common(value)
    if fast_env is not None:
        assert fast_env == plain_env
    if plain_env is None or plain_env[0] is None:
        return "no envelope"
    got = located._resolved(plain_env[0], tuple(names))
    if got is None:
        return "no paths"
    paths, trie = got
    raw = plain_env[1]
    walks = []
    for walk in (located._walk_common, located._walk):
        out, flat = [[] for _ in paths], array("q", raw)
        walks.append((walk(value, raw[1], raw[2], trie, out, flat), out, flat))
    (fast, fast_out, fast_flat), (plain, plain_out, plain_flat) = walks
    if fast is None:
        return "plain walk"
    assert bool(fast) == bool(plain)
    if fast:
        assert (fast_out, fast_flat) == (plain_out, plain_flat)
    return "inline" if fast_env is not None else "inline walk"


@pytest.mark.parametrize("name", ["k8s-etcd35", "k8s-etcd34", "apiserver-etcd35", "real"])
def test_inline_walk_equals_the_plain_walk_on_every_object(name, fixture_path, request):
    path = request.getfixturevalue("real_snapshot") if name == "real" else fixture_path(name + ".db")
    took = collections.Counter()
    for value in _values(path):
        env = envelope.parse(value)
        took[common_as_plain(value, NAMES.get(env.kind, OTHER))] += 1
    assert took["inline"] >= 10, took  # the stored objects take the inline walk


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(range(len(OBJECTS))), st.integers(0, 2**32), st.integers(0, 3))
def test_inline_walk_equals_the_plain_walk_on_hostile_values(which, seed, flips):
    rng = random.Random(seed)
    base = OBJECTS[which]
    kind = envelope.parse(base).kind
    for value in _damaged(_variants(base) + [base[:n] for n in range(4, len(base), 7)], rng, flips):
        common_as_plain(value, NAMES[kind])
        common_as_plain(value, OTHER)


def test_a_broken_inline_walk_is_caught(monkeypatch):
    """Must fail: an inline walk that lets a spec stored twice through (True where ``_walk`` says False) is caught."""
    svc = OBJECTS[0]
    env = envelope.parse(svc)
    raw = svc[env.raw_offset : env.raw_offset + env.raw_length]
    twice = _rewrap(svc, raw + _len_field(2, _len_field(3, b"10.0.0.9")))
    assert common_as_plain(twice, SERVICE) == "inline"  # both say False: locate leaves it to the plain path
    real = located._walk_common
    monkeypatch.setattr(located, "_walk_common", lambda *a: True if real(*a) is False else real(*a))
    with pytest.raises(AssertionError):
        common_as_plain(twice, SERVICE)
