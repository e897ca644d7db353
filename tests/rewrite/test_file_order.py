"""The IPAddresses decided in file order (``plan.file_order``) plan what the key-order loop plans.

The rule reads its objects' records in the order they lie in the file (faster than key order): the
same edits, the same warnings in the same order, and the error of the first object in key order,
whatever order the decisions took (key order, file order, reversed), split over two processes or not.
"""

import pytest

from snaprewrite.bbolt.tree import unpack_hint
from snaprewrite.errors import PlanError
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.cidr import CidrMap
from snaprewrite.rewrite.rules import ipaddresses, services

ORDERS = {
    "key": lambda objs: list(range(len(objs))),
    "reversed": lambda objs: list(range(len(objs)))[::-1],
    "file": planning.file_order,
}


def _plan(fixture_path, only=None) -> tuple:
    opts = planning.Options(CidrMap.parse("192.168.0.0/16=172.24.0.0/16"), CidrMap(()), only=only)
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        p = planning.build(snap, opts)
    return [(e.write, e.changes, e.sealed_with) for e in p.edits], p.warnings


def _ordered(monkeypatch, how: str) -> None:
    monkeypatch.setattr(ipaddresses, "file_order", ORDERS[how])


def test_file_order_sorts_the_objects_by_where_their_records_lie(fixture_path):
    opts = planning.Options(CidrMap.parse("192.168.0.0/16=172.24.0.0/16"), CidrMap(()))
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        objs = planning.scan(snap, opts).objects["IPAddress"]
        hints = snap.key_bucket().element_hints
        order = planning.file_order(objs)
        assert sorted(order) == list(range(len(objs))) and len(objs) >= 8
        where = [unpack_hint(hints[objs[i].revkey])[0] for i in order]
        assert where == sorted(where)
        assert order != list(range(len(objs)))  # the fixture's IPAddresses were not written in key order
        hints.pop(objs[order[-1]].revkey)  # a record without a hint is read first (as it was before)
        assert planning.file_order(objs)[0] == order[-1]
    assert planning.file_order([]) == []


@pytest.mark.parametrize("fork", [False, True])
def test_the_plan_is_the_same_in_any_order_of_reading(fixture_path, monkeypatch, forking, fork):
    if not fork:
        monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    _ordered(monkeypatch, "key")
    want = _plan(fixture_path)
    assert any(w.new_key for w, _, _ in want[0]) and any(c[0].kind == "Service" for _, c, _ in want[0])
    for how in ("file", "reversed"):
        _ordered(monkeypatch, how)
        assert _plan(fixture_path) == want


def test_the_ipaddress_warnings_come_in_key_order(fixture_path, monkeypatch, forking):
    """Without the services rule no Service moved: every IPAddress in the old CIDR is warned of, in key order."""
    _ordered(monkeypatch, "key")
    want = _plan(fixture_path, only=frozenset({"ipaddresses"}))[1]
    assert len(want) >= 5 and [w.key for w in want] == sorted(w.key for w in want)
    _ordered(monkeypatch, "reversed")
    assert _plan(fixture_path, only=frozenset({"ipaddresses"}))[1] == want


def test_the_first_error_in_key_order_is_raised(fixture_path, monkeypatch, forking):
    """Two objects fail; read in reversed order, the first in key order is still the one named (both rules)."""
    _ordered(monkeypatch, "reversed")
    real_prefetch, real_decide = services.prefetch, ipaddresses._decide
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        opts = planning.Options(CidrMap.parse("192.168.0.0/16=172.24.0.0/16"), CidrMap(()))
        objs = planning.scan(snap, opts).objects
    svc = sorted(o.key_text for o in objs["Service"])[:2]
    ips = sorted(o.key_text for o in objs["IPAddress"])[:2]

    def prefetch(obj, *a, **k):
        if obj.key_text in svc:
            raise PlanError(f"{obj.key_text}: cannot read")
        return real_prefetch(obj, *a, **k)

    def decide(ctx, existing, obj):
        if obj.key_text in ips:
            raise PlanError(f"{obj.key_text}: cannot rename")
        return real_decide(ctx, existing, obj)

    monkeypatch.setattr(services, "prefetch", prefetch)
    with pytest.raises(PlanError) as e:
        _plan(fixture_path)
    assert str(e.value) == f"{svc[0]}: cannot read"
    monkeypatch.setattr(services, "prefetch", real_prefetch)
    monkeypatch.setattr(ipaddresses, "_decide", decide)
    with pytest.raises(PlanError) as e:
        _plan(fixture_path)
    assert str(e.value) == f"{ips[0]}: cannot rename"
