"""Planning keeps no rule's reads past the rule: what the objects cached is dropped, how a value was sealed is not.

A 1.3 GB rewrite peaks at the end of planning; records and envelopes the rules read (every ConfigMap's
record, every IPAddress's envelope) held there cost ~90 MB beside the plan's new values.
"""

from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s.layout import detect
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.cidr import CidrMap


def options() -> planning.Options:
    return planning.Options(CidrMap.parse(["10.96.0.0/12=172.16.0.0/12", "fd00:10:96::/112=fd00:20:96::/112"]),
                            CidrMap.parse(["10.244.0.0/16=10.32.0.0/16"]))


def test_no_object_keeps_what_a_rule_read(fixture_path):
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        lay = detect(snap)
        scanned = planning.scan(snap, options(), None, lay)
        plan = planning.build(snap, options(), None, lay, scanned)
        read = [o for objs in scanned.objects.values() for o in objs]
        assert plan.edits and any(o.kind == "ConfigMap" for o in read)
        assert [(o.key, sorted(map(str, o.cache))) for o in read if o.cache] == []
        again = planning.build(snap, options(), None, lay, scanned)  # the objects read their records again
        assert [(e.key, e.new_key, e.new_value, e.changes) for e in again.edits] == \
            [(e.key, e.new_key, e.new_value, e.changes) for e in plan.edits]


def test_the_sealing_stays_for_a_later_rule():
    obj = planning.Object(b"/registry/x", b"", "ConfigMap", "ns", "x", None)
    sealed = object()
    obj.cache.update({"record": 1, "plain": b"v", "envelope": 2, ("data",): ["a"], "sealed": sealed})
    bare = planning.Object(b"/registry/y", b"", "ConfigMap", "ns", "y", None, cache={"envelope": 3})
    planning._forget_all({"ConfigMap": [obj, bare]})
    assert obj.cache == {"sealed": sealed} and bare.cache == {}
