"""doctor reads an IPAddress's parentRef and labels through the protobuf runtime; it must equal the full decode.

The fast read answers for every protobuf IPAddress; the plain path (``decode.decode_value``) is the
reference, for the fixture's IPAddresses and for variants with fields absent, empty, labelled or not,
a v1beta1 envelope, and bytes that do not parse (both: None).
"""

import pytest

from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s import decode, registry
from snaprewrite.k8s.proto import runtime_pb2
from snaprewrite.rewrite import doctor


def plain(value: bytes):
    try:
        obj = decode.decode_value(value)
    except ValueError:  # DecodeError is a ValueError
        return None
    return (obj.get("spec") or {}).get("parentRef") or {}, (obj.get("metadata") or {}).get("labels") or {}


def envelope(msg, api_version="networking.k8s.io/v1", encoding="") -> bytes:
    unknown = runtime_pb2.Unknown()
    unknown.typeMeta.apiVersion, unknown.typeMeta.kind = api_version, "IPAddress"
    unknown.raw = msg.SerializeToString()
    if encoding:
        unknown.contentEncoding = encoding
    return b"k8s\x00" + unknown.SerializeToString()


def variants() -> list[bytes]:
    cls = registry.message_class("networking.k8s.io/v1", "IPAddress")
    out = []
    for fields in ({}, {"resource": "services"}, {"group": "", "resource": "services", "namespace": "a", "name": "b"},
                   {"group": "x.io", "resource": "gateways", "name": "g"}, {"namespace": "", "name": ""}):
        for labels in ({}, {"ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io", "x": "y", "e": ""}):
            msg = cls()
            msg.metadata.name = "10.0.0.1"
            msg.metadata.labels.update(labels)
            for f, v in fields.items():
                setattr(msg.spec.parentRef, f, v)
            out.append(envelope(msg))
            out.append(envelope(msg, "networking.k8s.io/v1beta1"))
    empty = cls()
    out.append(envelope(empty))
    out.append(envelope(empty)[:-1] + b"\xff")  # a broken last byte
    out.append(envelope(empty, encoding="gzip"))  # an encoding the fast read leaves to the decode
    return out


def test_the_fixture_ipaddresses_read_the_same(fixture_path):
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        index = mvcc.live_keys(snap, b"/registry/ipaddresses/")
        assert len(index) >= 8
        for revkey in index.values():
            value = mvcc.record_at(snap, revkey).kv.value
            fast = doctor._ipaddress_parent_fast(value)
            assert fast is not None and fast == plain(value)


@pytest.mark.parametrize("value", variants())
def test_every_variant_reads_the_same(value):
    fast = doctor._ipaddress_parent_fast(value)
    if fast is not None:
        assert fast == plain(value)
        assert doctor._ipaddress_parent_fast(value, labels=False) == (fast[0], None)  # the Service loop's read
    else:
        assert doctor._ipaddress_parent_fast(value, labels=False) is None


def test_the_fast_read_answers_for_well_formed_values():
    answered = [doctor._ipaddress_parent_fast(v) is not None for v in variants()]
    assert sum(answered) == len(answered) - 2  # all but the broken one and the gzip one


def test_ipaddress_checks_on_the_services_already_read_find_the_same(fixture_path):
    """_check_ipaddress_objects given the Services _check_services read equals the one that reads them again."""
    from snaprewrite.rewrite import doctorsets, facts

    ip = b"/registry/ipaddresses/"
    svc = b"/registry/services/specs/"
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        base = facts.State.scan(snap)
        overlay = {
            ip + b"192.168.99.99": base.value(ip + b"192.168.0.10"),  # names kube-dns, which does not hold it
            svc + b"default/web": b"k8s\x00\x0a\x02broken",  # a Service that does not read
            svc + b"default/dual": None,  # its IPAddresses leaked
        }
        state = facts.State(snap, base.index, overlay, layout=base.layout)
        findings = []
        for compact, kept in ((True, False), (True, True), (False, True)):
            held = doctorsets.Held(state, compact)  # compact and nothing kept: every Service read again
            if kept:  # the Service loop's reads: all of them held
                for key, s in held.each([]):
                    held.keep(key, s)
            dx = doctor.Diagnosis([], [])
            doctor._check_ipaddress_objects(state, dx, held)
            findings.append(dx.findings)
    assert findings[0] == findings[1] == findings[2]
    reasons = {f.reason for f in findings[0]}
    assert {"IPAddressWrongReference", "IPAddressNotAllocated"} <= reasons, reasons
