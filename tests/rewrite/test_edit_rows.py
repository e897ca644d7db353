"""``Edit.of_rows`` (the rules' Edit without making Changes) equals ``Edit.of`` with the Changes it stands for.

Every live object of a fixture snapshot gets an Edit both ways, with one, two and renaming rows; the
Edits, their changes, the report's entries and the kind/count the summary reads must be the same, and
an Edit whose rows differ in one field must not be.
"""

from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.edits import Change, Edit


def _objects(snap):
    index = mvcc.live_keys(snap, b"/registry/", hint_leaves=True)
    for key, revkey in index.items():
        ns, name = planning.split_key(key, b"/registry/services/specs/") if b"/services/specs/" in key else ("", key.decode())
        yield planning.Object(key, revkey, "Service", ns, name, snap)


def _rows(obj, i):
    rows = [("spec.clusterIPs[0]", "10.96.0.10", "172.16.0.10", None)]
    if i % 3 == 1:
        rows.append(("spec.clusterIP", "10.96.0.10", "172.16.0.10", None))
    if i % 3 == 2:
        rows = [("metadata.name", obj.name, "x" + obj.name, "/registry/renamed/" + obj.name)]
    return rows


def test_of_rows_equals_of(fixture_path):
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        objs = list(_objects(snap))
        assert len(objs) > 30
        for i, obj in enumerate(objs):
            rows = _rows(obj, i)
            new_key = rows[0][3].encode() if rows[0][3] else None
            value = b"new value %d" % i * (1 + i % 40)  # short and long (spilled) values
            plain = Edit.of(obj, value, [Change(obj.key_text, obj.kind, obj.namespace, obj.name, *r) for r in rows],
                            new_key=new_key)
            fast = Edit.of_rows(obj, value, rows, new_key=new_key)
            assert fast == plain
            assert fast.changes == plain.changes and fast.changes_json() == plain.changes_json()
            assert fast.change_keys() == plain.change_keys()
            assert (fast.kind, fast.count, fast.sealed_with, fast.new_value, fast.new_key) == (
                plain.kind, plain.count, plain.sealed_with, plain.new_value, plain.new_key)
            assert fast.write.base == plain.write.base
            other = Edit.of_rows(obj, value, [(*rows[0][:2], "elsewhere", rows[0][3])] + rows[1:], new_key=new_key)
            assert other != plain  # must fail: a row is not what the Change says
            ns = Edit.of_rows(obj, value, rows, new_key=new_key, namespace="other")
            assert ns.changes[0].namespace == "other" and ns.changes[0].name == obj.name
        assert Edit.of_rows(objs[0], b"v", []).changes == () and Edit.of_rows(objs[0], b"v", []).kind is None


def test_edit_after_a_value_read_equals_the_record_path(fixture_path):
    """An object whose value was read (``Object.stored``: fields, no Record) makes the Edit a fresh one makes from
    ``record_at``'s Record, and gives the same ``record`` and ``value``; a changed field must show."""
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        fresh = list(_objects(snap))
        read = list(_objects(snap))
        for i, (a, b) in enumerate(zip(fresh, read, strict=True)):
            rows = _rows(a, i)
            new_key = rows[0][3].encode() if rows[0][3] else None
            assert b.value == mvcc.record_at(snap, b.revkey).kv.value and "fields" in b.cache
            plain = Edit.of(a, b"v%d" % i * 80, [Change(a.key_text, a.kind, a.namespace, a.name, *r) for r in rows],
                            new_key=new_key)
            assert "record" not in b.cache
            fast = Edit.of_rows(b, b"v%d" % i * 80, rows, new_key=new_key)
            assert fast == plain and fast.write.packed == plain.write.packed
            assert b.cache == {}  # forgotten
            b.value  # noqa: B018 - read again: the Record made from the fields is record_at's
            assert b.record == mvcc.record_at(snap, b.revkey)
        c = next(_objects(snap))
        c.value  # noqa: B018
        c.cache["fields"] = (*c.cache["fields"][:3], c.cache["fields"][3] + 1, *c.cache["fields"][4:])
        assert Edit.of_rows(c, b"v", []) != Edit.of(fresh[0], b"v", [])  # must fail: another version
