"""The rules' shortcuts decide exactly as the careful path they skip.

``addresses.replace_single`` (the IPAddress rename in one walk) must give the bytes of
``read_fields`` + ``rewrite_value`` whenever it answers, and answer None (so the careful path raises its
own error) on every value where they would not give a plain rename: a name stored twice, in two
metadata messages, not matching, not UTF-8, in JSON, or broken. The planner pauses the cycle collector
only while the rules run.
"""

import gc
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snaprewrite.errors import PlanError
from snaprewrite.k8s import registry
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.rules import addresses
from snaprewrite.wire import encode_varint

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import kubeobjects as ko  # noqa: E402

API = "networking.k8s.io/v1"
NAME = registry.resolve_path(API, "IPAddress", ("metadata", "name"))


class _Obj:
    """Just what the address helpers read of a plan.Object."""

    def __init__(self, value: bytes, name: str):
        self.value, self.name, self.kind, self.key = value, name, "IPAddress", b"/registry/ipaddresses/" + name.encode()
        self.key_text, self.cache, self.namespace = self.key.decode(), {}, ""

    def ref(self) -> str:
        return self.name

    def forget(self) -> None:
        pass


def careful(value: bytes, name: str, new: str):
    """careful is what the IPAddress rule did before replace_single: read, compare, rewrite (or the error)."""
    obj = _Obj(value, name)
    try:
        if addresses.read_fields(obj, API, ("metadata", "name")) != [name]:
            return "mismatch"
        return addresses.rewrite_value(obj, {addresses.field_path(obj, API, ("metadata", "name")): [new]})
    except PlanError as e:
        return str(e)


def _len_field(number: int, payload: bytes) -> bytes:
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload


def _rewrap(value: bytes, raw: bytes) -> bytes:
    """_rewrap puts another raw message into the value's runtime.Unknown (typeMeta and the rest kept)."""
    env = addresses.envelope.parse(value)
    head = value[4 : env.raw_offset]
    tag_end = len(head) - len(encode_varint(env.raw_length))
    return b"k8s\x00" + head[:tag_end] + encode_varint(len(raw)) + raw + value[env.raw_offset + env.raw_length :]


def _variants(ip: str) -> list[bytes]:
    """_variants are IPAddress values with the name plain, in a second metadata message, odd or broken."""
    value = ko.ip_address(ip, "ns", "svc")
    env = addresses.envelope.parse(value)
    raw = value[env.raw_offset : env.raw_offset + env.raw_length]
    out = [value, value[:-3], value[:4] + value[5:]]
    for second in (b"other", ip.encode(), b"\xff", b""):  # Go merges two metadata messages: the last name wins
        out.append(_rewrap(value, raw + _len_field(1, _len_field(1, second))))
        out.append(_rewrap(value, _len_field(1, _len_field(1, second)) + raw))
    out.append(_rewrap(value, raw + _len_field(1, b"\x08\x01")))  # a metadata whose field 1 is a varint
    js = '{"apiVersion":"networking.k8s.io/v1","kind":"IPAddress","metadata":{"name":"%s"}}'
    out += [(js % ip).encode(), (js % ip).replace('"name"', '"name":"x","name"', 1).encode()]
    return out


@settings(max_examples=40, deadline=None)
@given(st.ip_addresses().map(str), st.ip_addresses().map(str))
def test_replace_single_equals_the_careful_path(ip, new):
    answered = 0
    for value in _variants(ip):
        for name in (ip, "not-" + ip):
            fast = addresses.replace_single(_Obj(value, name), NAME, name, new)
            if fast is not None:  # None: the rule takes the careful path itself
                assert fast == careful(value, name, new)
                answered += 1
    assert answered >= 2  # the plain protobuf and JSON values take the one-walk path


@settings(max_examples=40, deadline=None)
@given(st.ip_addresses().map(str), st.ip_addresses().map(str))
def test_the_rename_in_one_located_walk_equals_the_careful_path(ip, new):
    from snaprewrite.rewrite.rules import ipaddresses

    answered = 0
    for value in _variants(ip):
        for name in (ip, "not-" + ip):
            fast = ipaddresses._renamed(_Obj(value, name), new)
            if fast is not None:  # None: the rule asks replace_single, then the careful path
                assert fast == careful(value, name, new)
                assert fast == addresses.replace_single(_Obj(value, name), NAME, name, new)
                answered += 1
    assert answered == 1  # only the plain protobuf value with the key's name


def test_replace_single_answers_plain_values_and_leaves_the_rest():
    value = ko.ip_address("10.96.0.10", "ns", "svc")
    assert addresses.replace_single(_Obj(value, "10.96.0.10"), NAME, "10.96.0.10", "172.16.0.10") == \
        careful(value, "10.96.0.10", "172.16.0.10")
    assert addresses.replace_single(_Obj(value, "10.96.0.11"), NAME, "10.96.0.11", "x") is None  # not the key's name
    env = addresses.envelope.parse(value)
    raw = value[env.raw_offset : env.raw_offset + env.raw_length]
    twice = _rewrap(value, raw + _len_field(1, _len_field(1, b"10.96.0.10")))
    assert addresses.replace_single(_Obj(twice, "10.96.0.10"), NAME, "10.96.0.10", "x") is None
    assert "(a field stored more than once?)" in careful(twice, "10.96.0.10", "x")
    assert addresses.replace_single(_Obj(value[:-3], "10.96.0.10"), NAME, "10.96.0.10", "x") is None


def test_rules_run_without_the_cycle_collector_and_restore_it(fixture_path, monkeypatch):
    from snaprewrite.etcd.snapshot import Snapshot
    from snaprewrite.rewrite.cidr import CidrMap
    from snaprewrite.rewrite.rules import services

    seen = []
    real_run = services.run
    monkeypatch.setattr(services, "run", lambda ctx: (seen.append(gc.isenabled()), real_run(ctx)))
    opts = planning.Options(CidrMap.parse("10.96.0.0/12=172.24.0.0/16"), CidrMap(()), only=frozenset({"services"}))
    assert gc.isenabled()
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        planning.build(snap, opts)
        assert seen == [False] and gc.isenabled()
        monkeypatch.setattr(services, "run", lambda ctx: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            planning.build(snap, opts)
    assert gc.isenabled()
