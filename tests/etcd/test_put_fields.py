"""The record read without a Record (``mvcc.put_fields_at``, ``put_state``, ``Write.of_fields``/``of_state``) equals
``record_at``'s and ``Write.of``'s, on every live record of the fixtures (hinted and not); a key it does not take
is left to ``record_at`` (which names the error)."""

import pytest

from snaprewrite.errors import SchemaError
from snaprewrite.etcd import mvcc, writes
from snaprewrite.etcd.kv import KeyValue
from snaprewrite.etcd.snapshot import Snapshot


def _fields(kv: KeyValue) -> tuple:
    return kv.key, kv.create_revision, kv.mod_revision, kv.version, kv.value, kv.lease


@pytest.mark.parametrize("name", ["k8s-etcd35.db", "k8s-etcd34.db", "allkinds-etcd35.db"])
@pytest.mark.parametrize("hinted", [True, False])
def test_fields_and_writes_equal_the_record_path(fixture_path, name, hinted):
    with Snapshot(fixture_path(name)) as snap:
        index = mvcc.live_keys(snap, hint_leaves=hinted)
        assert len(index) > 30
        for key, revkey in index.items():
            rec = mvcc.record_at(snap, revkey)
            fields = mvcc.put_fields_at(snap, revkey)
            assert fields == _fields(rec.kv)
            assert mvcc.put_state(revkey, fields, key) == mvcc.record_state(rec, key, value=False)
            assert mvcc.put_state(revkey, fields, b"/other") == mvcc.record_state(rec, b"/other", value=False)
            for k, new_key in ((key, None), (key, b"/renamed"), (b"/other", None)):  # a record of another key too
                plain = writes.Write.of(k, rec, b"new" * 50, new_key)
                fast = writes.Write.of_fields(k, revkey, fields, b"new" * 50, new_key)
                state = writes.Write.of_state(k, mvcc.record_state(rec, k, value=False), b"new" * 50, new_key)
                for w in (fast, state):
                    assert w == plain and w.packed == plain.packed and w.base == plain.base
                    assert (w.key, w.new_key, w.value) == (plain.key, plain.new_key, plain.value)


def test_other_keys_are_left_to_record_at(fixture_path):
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        revkey = next(iter(mvcc.live_keys(snap).values()))
        assert mvcc.put_fields_at(snap, revkey + b"t") is None  # a tombstone's key: record_at's
        bad = revkey[:8] + b"-" + revkey[9:]
        assert mvcc.put_fields_at(snap, bad) is None
        with pytest.raises(SchemaError):
            mvcc.record_at(snap, bad)
        assert mvcc.put_fields_at(snap, b"\xff" + revkey[1:]) is None  # a negative revision
        missing = (1 << 40).to_bytes(8, "big") + b"_" + bytes(8)
        assert mvcc.put_fields_at(snap, missing) is None
        with pytest.raises(SchemaError):
            mvcc.record_at(snap, missing)


def test_a_changed_field_is_seen(fixture_path):
    """Must fail: a Write made from fields that differ in one (the lease) is not the record's Write."""
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        key, revkey = next(iter(mvcc.live_keys(snap).items()))
        rec = mvcc.record_at(snap, revkey)
        fields = list(mvcc.put_fields_at(snap, revkey))
        fields[5] += 1
        assert writes.Write.of_fields(key, revkey, tuple(fields), b"v") != writes.Write.of(key, rec, b"v")
        state = list(mvcc.record_state(rec, key, value=False))
        state[6] += 1
        assert writes.Write.of_state(key, tuple(state), b"v") != writes.Write.of(key, rec, b"v")
