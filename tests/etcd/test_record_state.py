"""A record sent between processes as ``record_state`` comes back equal; without its value, as ``Write.of`` keeps it."""

from snaprewrite.etcd import mvcc, writes
from snaprewrite.etcd.snapshot import Snapshot


def test_record_state_round_trips_every_live_record(fixture_path):
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        index = mvcc.live_keys(snap)
        assert len(index) > 30
        for key, revkey in index.items():
            rec = mvcc.record_at(snap, revkey)
            back = mvcc.record_from_state(mvcc.record_state(rec, key), key)
            assert back == rec and back.kv.key is key  # the object's own key bytes, not a copy
            bare = mvcc.record_from_state(mvcc.record_state(rec, key, value=False), key)
            assert bare == writes.Write.of(key, rec, b"new").base
            other = mvcc.record_from_state(mvcc.record_state(rec, b"/elsewhere"), b"/elsewhere")
            assert other == rec  # a record of another key keeps its own


def test_a_lost_field_is_seen():
    """Must fail: a state that drops the lease does not give the record back."""
    rec = mvcc.Record(mvcc.Revision(7, 1), False, mvcc.kvcodec.KeyValue(b"k", 5, 7, 2, b"v", 99))
    state = list(mvcc.record_state(rec, b"k"))
    state[-1] = 0
    assert mvcc.record_from_state(tuple(state), b"k") != rec
    assert mvcc.record_from_state(mvcc.record_state(rec, b"k"), b"k") == rec
