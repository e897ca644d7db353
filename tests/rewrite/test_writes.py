"""etcd.writes through the planner: a plan applies twice to the same bytes, and bump revisions stay in int64.

The record placement itself (undo, plain, relocated renames) is proven through real etcd in
tests/e2e/test_rollback.py.
"""

import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.errors import SchemaError
from snaprewrite.etcd import kv, mvcc, revision, writes
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite import apply as applying
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.cidr import CidrMap

runner = CliRunner()
MAP = ["--service-cidr", "192.168.0.0/16=172.24.0.0/16", "--service-cidr", "fd00:10:96::/112=fd00:20:96::/112"]


def options() -> planning.Options:
    return planning.Options(CidrMap.parse(["192.168.0.0/16=172.24.0.0/16", "fd00:10:96::/112=fd00:20:96::/112"]),
                            CidrMap(()))


@pytest.mark.parametrize("mode", [applying.Mode(), applying.Mode(as_new_revision=True),
                                  applying.Mode(bump_revision=7, mark_compacted=True)])
def test_a_plan_applies_twice_to_the_same_records(fixture_path, tmp_path, mode):
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        plan = planning.build(snap, options())
        before = [(e.key, e.new_key, e.new_value, e.changes) for e in plan.edits]
        assert any(e.new_key for e in plan.edits) and all(e.new_value for e in plan.edits)
        applying.apply(snap, plan, str(tmp_path / "one.db"), mode=mode)
        applying.apply(snap, plan, str(tmp_path / "two.db"), mode=mode)
        assert [(e.key, e.new_key, e.new_value, e.changes) for e in plan.edits] == before
    records = []
    for name in ("one.db", "two.db"):
        with Snapshot(tmp_path / name) as out:
            records.append(list(mvcc.records(out)))
    assert records[0] == records[1] and records[0]


def test_rename_cycle_and_live_target_are_refused(fixture_path):
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        live = mvcc.live_keys(snap, b"/registry/ipaddresses/")
        (a, ra), (b, rb) = sorted(live.items())[:2]
        hist = writes.Histories((b"/registry/ipaddresses/",), {a: [ra], b: [rb]})
        wa = writes.Write.of(a, mvcc.record_at(snap, ra), b"x", new_key=b)
        wb = writes.Write.of(b, mvcc.record_at(snap, rb), b"y", new_key=a)
        with pytest.raises(SchemaError, match="cycle"):
            writes.in_place(snap, [wa, wb], hist, mvcc.current_revision(snap))
        with pytest.raises(SchemaError, match="that key exists"):
            writes.in_place(snap, [wa], hist, mvcc.current_revision(snap))
        # a chain b -> c, a -> b is placed target first: b's record leaves before a's arrives
        c = b"/registry/ipaddresses/203.0.113.1"
        wb = writes.Write.of(b, mvcc.record_at(snap, rb), b"y", new_key=c)
        batch = writes.in_place(snap, [wa, wb], hist, mvcc.current_revision(snap))
        assert (batch.puts[ra].key, batch.puts[rb].key) == (b, c)
        assert not batch.deletes and len(batch.puts) == 2  # single versions: no tombstone is needed


def test_a_chain_of_renames_ends_where_in_place_placed_it(fixture_path):
    """After b -> c and a -> b, b's latest record is a's old one, and c's is b's: recomputed from the histories
    (``last_of`` dropped) as where ``in_place`` placed them. b's own record, now c's, must not count as b's
    (it is the later revision of the two, so a max over b's history would pick it)."""
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        live = mvcc.live_keys(snap, b"/registry/ipaddresses/")
        (a, ra), (b, rb) = sorted(live.items(), key=lambda item: item[1])[:2]  # ra < rb
        c = b"/registry/ipaddresses/203.0.113.1"
        hist = writes.Histories((b"/registry/ipaddresses/",), {a: [ra], b: [rb]})
        wa = writes.Write.of(a, mvcc.record_at(snap, ra), b"x", new_key=b)
        wb = writes.Write.of(b, mvcc.record_at(snap, rb), b"y", new_key=c)
        batch = writes.in_place(snap, [wa, wb], hist, mvcc.current_revision(snap))
        placed = writes.latest_records(snap, batch, hist, [b, c])  # the renamed-to keys: where they were placed
        batch.last_of = None
        recomputed = writes.latest_records(snap, batch, hist, [a, b, c])
        assert placed == {k: recomputed[k] for k in (b, c)}
        assert recomputed[a] is None
        assert (recomputed[b].key, recomputed[b].mod_revision) == (b, revision.decode(ra)[0].main)
        assert (recomputed[c].key, recomputed[c].mod_revision) == (c, revision.decode(rb)[0].main)


@pytest.mark.parametrize("bump, message", [
    ("18446744073709551615", "--bump-revision 18446744073709551615 is out of range (0..9223372036854775807)"),
    ("9223372036854775807", "exceeds etcd's maximum 9223372036854775807"),
])
def test_bump_revision_out_of_int64_is_one_line(fixture_path, tmp_path, bump, message):
    out = tmp_path / "o.db"
    r = runner.invoke(app, ["rewrite", str(fixture_path("k8s-etcd35.db")), "--out", str(out), *MAP,
                            "--bump-revision", bump])
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_batch_ops_encode_each_record_as_put_in_key_order():
    """ops encodes lazily: the same (key, encoded KeyValue or None) list an eager encoding at put time gives."""
    batch = writes.Batch()
    records = {revision.encode(revision.Revision(m, s)): kv.KeyValue(b"/k%d" % m, m, m, 1, b"v" * m)
               for m, s in ((9, 0), (3, 1), (5, 0), (3, 0))}
    for k, r in records.items():
        batch.put(k, r)
    gone = revision.encode(revision.Revision(4, 0))
    batch.put(gone, kv.KeyValue(b"/gone", 4, 4, 1, b"x"))
    batch.delete(gone)
    batch.delete(revision.encode(revision.Revision(7, 0), tombstone=True))
    eager = sorted([(k, kv.encode(r)) for k, r in records.items()]
                   + [(gone, None), (revision.encode(revision.Revision(7, 0), tombstone=True), None)],
                   key=lambda op: op[0])
    assert list(batch.ops()) == eager


def test_write_of_keeps_every_field_but_the_value(fixture_path):
    """Write.of builds the value-less record by hand: it must equal dataclasses.replace on every field."""
    from dataclasses import fields, replace

    assert [f.name for f in fields(kv.KeyValue)] == ["key", "create_revision", "mod_revision", "version", "value",
                                                    "lease"]
    assert [f.name for f in fields(mvcc.Record)] == ["revision", "tombstone", "kv"]
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        for key, revkey in sorted(mvcc.live_keys(snap).items())[:50]:
            rec = mvcc.record_at(snap, revkey)
            w = writes.Write.of(key, rec, b"new")
            assert w.base == replace(rec, kv=replace(rec.kv, value=b"")) and w.value == b"new", key
            assert type(w.packed) is bytes and w.revkey == revkey  # packed in one bytes object
            assert w.revision_lease() == (w.base.revision, w.base.kv.lease)
            other = writes.Write.of(key + b"-renamed", rec, b"new")  # a record of another key: kept as a Record
            assert type(other.packed) is mvcc.Record and other.base == w.base and other.revkey == revkey
            assert other.revision_lease() == (w.base.revision, w.base.kv.lease)


@pytest.mark.parametrize("mode", [applying.Mode(), applying.Mode(as_new_revision=True)])
def test_values_parked_in_the_spill_write_the_same_records_as_values_in_memory(fixture_path, monkeypatch, mode):
    """A plan's new values wait in ``writes.VALUES`` (a temp file); held in memory they give the same records."""
    from snaprewrite import spill
    from snaprewrite.rewrite import facts

    def planned(store: spill.Spill):
        monkeypatch.setattr(writes, "VALUES", store)
        with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
            plan = planning.build(snap, options())
            records = applying.batch(snap, plan, mode)
            state = facts.State.scan(snap).with_plan(plan)
            seen = {k: state.value(k) for k in state.keys(b"")}
            held = [type(e.write.held) for e in plan.edits]
            new = [e.new_value for e in plan.edits]
            return held, new, list(records.ops()), {k: records.record(k) for k in records.puts}, seen

    held, new, ops, whole, seen = planned(spill.Spill())
    held_kept, new_kept, ops_kept, whole_kept, seen_kept = planned(spill.Spill(directory="/nonexistent/dir"))
    assert int in held and set(held_kept) == {bytes}  # parked in a file / kept in memory
    assert new == new_kept and ops == ops_kept and whole == whole_kept and seen == seen_kept
    assert set(new) <= {kv.value for kv in whole.values()}  # ``record`` gives the values back whole
    # ops encode every record as ``record`` gives it, however many records each read of the values takes
    by_record = [(k, None if k not in whole else kv.encode(whole[k])) for k, _ in ops]
    assert ops == by_record
    for chunk in (1, 3):
        monkeypatch.setattr(writes, "OPS_CHUNK", chunk)
        assert planned(spill.Spill())[2] == ops
