"""Objects read their names from their keys when asked (``plan.Object.name`` given where the name's path starts) and
the IPAddress rule asks whether a name exists from the objects' keys (``ipaddresses._Names``): both must answer as
the names ``split_key`` gives, including for keys a cluster should not have (a ``/`` past the prefix, bytes that
are not UTF-8)."""

from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.rules import ipaddresses

PREFIX = b"/registry/ipaddresses/"
KEYS = [PREFIX + k for k in (b"10.96.0.1", b"10.96.0.10", b"fd00:10:96::a", b"ns/10.96.0.2", b"a/b/10.96.0.3",
                             b"\xff10.96.0.4", b"10.96.0.5\xfe", b"", b"/10.96.0.6", b"10.96.0.7/")]


def _objects() -> list:
    return [planning.Object(k, b"", "IPAddress", planning.split_key(k, PREFIX)[0], len(PREFIX), None) for k in KEYS]


def test_a_name_read_from_the_key_is_the_name_split_key_gives():
    for obj, key in zip(_objects(), KEYS, strict=True):
        assert (obj.namespace, obj.name) == planning.split_key(key, PREFIX)
        assert obj.ref() == (f"{obj.namespace}/{obj.name}" if obj.namespace else obj.name)
    given = planning.Object(KEYS[0], b"", "IPAddress", "", "other", None)
    assert given.name == "other"  # (a name given is the name)


def test_names_from_keys_answer_as_the_set_of_names():
    objs = _objects()
    names = ipaddresses._Names(PREFIX, objs)
    want = {o.name for o in objs}
    asked = ["10.96.0.1", "10.96.0.10", "fd00:10:96::a", "10.96.0.2", "10.96.0.3", "10.96.0.4", "10.96.0.5",
             "10.96.0.6", "10.96.0.7", "10.96.0.8", "", "b/10.96.0.3", "fd00:10:96::b"]
    assert [n for n in asked if n in names] == [n for n in asked if n in want]
    assert set(names) == want  # (every name)
    assert "10.96.0.2" in names and "10.96.0.6" in names and "10.96.0.3" not in names and "10.96.0.8" not in names
