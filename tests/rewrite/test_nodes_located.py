"""The nodes rule keeps where a Node's pod CIDR fields lie (``prefetch(..., keep=True)``, then ``forget_record``) and
edits through it: its Edits equal those of the plain path (every value walked by ``envelope``/``splice``)."""

import pytest

from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s import located
from snaprewrite.k8s.layout import detect
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.cidr import CidrMap


def options() -> planning.Options:
    return planning.Options(CidrMap.parse(["10.96.0.0/12=172.16.0.0/12"]),
                            CidrMap.parse(["10.244.0.0/16=10.32.0.0/16", "fd00:10:244::/56=fd00:20:244::/56"]),
                            only=frozenset({"nodes"}))


def _node_edits(snap) -> list:
    plan = planning.build(snap, options(), None, detect(snap))
    return [(e.key, e.new_value, e.changes, e.write.packed) for e in plan.edits if e.kind == "Node"]


@pytest.mark.parametrize("name", ["k8s-etcd35.db", "apiserver-etcd35.db"])
def test_node_edits_through_located_equal_the_plain_path(fixture_path, monkeypatch, name):
    monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    with Snapshot(fixture_path(name)) as snap:
        fast = _node_edits(snap)
        monkeypatch.setattr(located, "locate", lambda value, names: None)
        plain = _node_edits(snap)
    assert fast and fast == plain


def test_a_located_edit_that_differs_is_seen(fixture_path, monkeypatch):
    """Must fail: a located rewrite that leaves the value as it was gives other Edits."""
    monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        plain = _node_edits(snap)
        monkeypatch.setattr(located.Located, "rewrite", lambda self, value, edits: bytes(value))
        assert _node_edits(snap) != plain
