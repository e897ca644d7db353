"""The plan's compact forms read back as the plain structures they replace (memory at 8 GiB, issue 13).

Each structure a big rewrite holds per object now waits packed: an Edit's Changes (marshal, spilled),
the report's ``newRecord`` objects (int64 arrays), the leftovers' keys (one sorted string), a key's one
history record (its bbolt key), a Batch's in-place edit (its Write). Each must give back exactly what
the old form gave; the rewrite's output and report are compared through real etcd by the other tests.
"""

import pickle
import random

import pytest

from snaprewrite.etcd import kv, mvcc, revision, writes
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s.layout import detect
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.changelist import ChangeList
from snaprewrite.rewrite.cidr import CidrMap
from snaprewrite.rewrite.plan import Change, Edit, EditChanges
from snaprewrite.rewrite.rules import leftovers

NAMES = ("createRevision", "modRevision", "version")


def _write(i: int, new_key: bytes | None = None) -> writes.Write:
    key = b"/registry/services/specs/ns/s%d" % i
    rec = mvcc.Record(revision.Revision(100 + i, 0), False, kv.KeyValue(key, 5 + i, 100 + i, 2, b"old", 0))
    return writes.Write.of(key, rec, b"v" * (i % 300), new_key)


def _changes(i: int, n: int) -> list[Change]:
    key = f"/registry/services/specs/ns/s{i}"
    return [Change(key, "Service", "ns", f"s{i}", f"spec.clusterIPs[{j}]", f"10.96.{i}.{j}",
                   None if j == 2 else f"caf\u00e9 {'x' * (i % 200)}", f"/new/{i}" if j == 1 else None)
            for j in range(n)]


def test_an_edits_changes_read_back_equal_packed_or_spilled():
    for i, n in ((0, 0), (1, 1), (2, 3), (150, 2), (199, 1)):  # short ones stay bytes, long ones go to the spill
        cs = _changes(i, n)
        e = Edit(_write(i), cs, "aescbc/k1" if i % 2 else None)
        assert e.changes == tuple(cs) and e.count == n and e.kind == (cs[0].kind if cs else None)
        assert e == Edit(_write(i), tuple(cs), e.sealed_with) and e != Edit(_write(i), cs[:-1] or _changes(9, 1))
        back = pickle.loads(pickle.dumps(e))
        assert back.changes == e.changes and back.new_value == e.new_value and back.sealed_with == e.sealed_with
    assert any(type(Edit(_write(i), _changes(i, 3)).packed) is int for i in (150, 199))
    assert type(Edit(_write(1), _changes(1, 1)).packed) in (bytes, int)
    # changes of different objects in one edit (not written by any rule today) keep every field
    mixed = _changes(3, 2) + _changes(4, 1) + [Change("/k", "Node", "", "n", "f", None, "x")]
    assert Edit(_write(3), mixed).changes == tuple(mixed)
    assert Edit(_write(3), mixed).changes_json() == [c.as_json() for c in mixed]
    for cs in (mixed, _changes(150, 3), []):
        assert Edit(_write(3), cs).change_keys() == [(c.key, c.new_key) for c in cs]
    many = [Edit(_write(i), cs) for i, cs in enumerate((mixed, _changes(150, 3), [], _changes(199, 2), _changes(2, 1)))]
    many = many[::-1] + many  # spilled ones out of offset order, and twice
    assert Edit.change_keys_of(many) == [e.change_keys() for e in many]


def test_the_plans_changes_are_every_edits_changes_in_order():
    edits = [Edit(_write(i), _changes(i, i % 4)) for i in range(40)]
    flat = [c for e in edits for c in e.changes]
    seq = EditChanges(edits)
    assert list(seq) == flat and len(seq) == len(flat) and seq[3:17] == flat[3:17]
    assert list(seq.iter_json()) == [c.as_json() for c in flat]
    assert [seq[i] for i in range(-len(flat), len(flat))] == flat + flat
    with pytest.raises(IndexError):
        seq[len(flat)]
    assert len(EditChanges([])) == 0 and list(EditChanges([])) == []
    plan = planning.Plan("in.db", 7, edits=edits)
    rep = plan.report(None)
    assert rep["changes"] == [c.as_json() for c in flat] and rep["summary"]["changes"] == len(flat)
    assert rep["summary"]["servicesChanged"] == sum(1 for e in edits if e.count)


def test_packed_new_records_read_as_the_dicts_they_stand_for():
    cs = _changes(7, 3) * 20
    lazy, plain = ChangeList(cs), [c.as_json() for c in cs]
    rnd = random.Random(3)
    for i in sorted(rnd.sample(range(len(cs)), 25)):
        values = (rnd.randrange(1 << 62), rnd.randrange(1 << 40), rnd.randrange(9))
        lazy.add_object(i, "newRecord", NAMES, values)
        plain[i]["newRecord"] = dict(zip(NAMES, values))
    assert len(lazy._at) == 25 and not lazy._added  # packed, in ascending order
    assert lazy == plain and list(lazy) == plain and [lazy[i] for i in range(len(cs))] == plain
    # out of order, another name, or a value no int64 holds: kept as before
    lazy.add_object(0, "newRecord", NAMES, (1, 2, 3))
    lazy.add_object(59, "other", NAMES, (1 << 70, 2, 3))
    plain[0]["newRecord"] = dict(zip(NAMES, (1, 2, 3)))
    plain[59]["other"] = dict(zip(NAMES, (1 << 70, 2, 3)))
    # a field added after a packed object goes after it; the object set again keeps its place
    at = lazy._at[3]
    lazy.add(at, "extra", 1)
    lazy.add_object(at, "newRecord", NAMES, (4, 5, 6))
    plain[at]["extra"] = 1
    plain[at]["newRecord"] = dict(zip(NAMES, (4, 5, 6)))
    assert lazy == plain and [list(e) for e in lazy] == [list(e) for e in plain]
    assert lazy[at] == plain[at] and list(lazy[at])[-2:] == ["newRecord", "extra"]


def _seen(keys: dict) -> leftovers.Mentions:
    seen = leftovers.Mentions([])
    seen.keys = dict(keys)
    return seen


def test_packed_leftover_keys_make_the_same_warnings():
    rnd = random.Random(5)
    keys = {b"/registry/%s/ns/o%d" % (rnd.choice([b"pods", b"endpointslices", b"services/endpoints"]), i): None
            for i in rnd.sample(range(5000), 800)}
    keys[b"/registry/pods/ns/caf\xc3\xa9"] = None
    keys[b"/registry/pods/ns/bad\xff\xfe"] = None  # not UTF-8: backslash-escaped as before
    changed = list(keys)[::7]
    warnings = []
    for pack in (False, True):
        seen = _seen(keys)
        if pack:
            seen.pack()
            assert isinstance(seen.keys, leftovers.SortedKeys) and list(seen.keys) == sorted(keys)
        ctx = planning.Context(planning.Options(CidrMap(()), CidrMap(())), planning.Plan("in", 1), {}, None,
                               observed={leftovers.name: seen}, excluded={changed[1]})
        ctx.plan.edits = [Edit(writes.Write(k, b"", b"v"), []) for k in changed[2:]]
        leftovers.run(ctx)
        warnings.append([w.as_json() for w in ctx.plan.warnings])
    assert warnings[0] == warnings[1] and len(warnings[0]) == 4  # pods, slices, endpoints, excluded
    text = " ".join(w["message"] for w in warnings[1])
    assert "caf\u00e9" in text and "bad\\xff\\xfe" in text
    plain = ", ".join(k.decode("utf-8", "backslashreplace") for k in sorted(keys) if k.startswith(b"/registry/pods/")
                      and k not in changed[1:])
    assert any(w["message"].endswith(": " + plain) for w in warnings[0])


def test_a_single_history_record_reads_as_a_list():
    h = writes.Histories((b"/a/",))
    one, two = revision.encode(revision.Revision(3, 0)), revision.encode(revision.Revision(4, 0))
    mvcc._note_history(h.revkeys, b"/a/x", one)
    assert h.of(b"/a/x") == [one] and h.of(b"/a/y") == []
    mvcc._note_history(h.revkeys, b"/a/x", two)
    mvcc._note_history(h.revkeys, b"/a/x", one)
    assert h.of(b"/a/x") == [one, two, one]
    got = h.of(b"/a/x")
    got.append(b"z")  # a copy: the history does not change
    assert h.of(b"/a/x") == [one, two, one]


def test_an_edit_put_in_place_is_the_put_of_its_record_with_its_value():
    ws = [_write(i) for i in range(1, 30)]
    alone, plain = writes.Batch(5), writes.Batch(5)
    for w in ws:
        alone.put_edit(w)
        plain.put_write(w.revkey, w.base_kv(), w)
    tomb = revision.encode(revision.Revision(200, 1), tombstone=True)
    for b in (alone, plain):
        b.put(tomb, kv.KeyValue(b"/gone"))
        b.delete(ws[3].revkey)
    assert list(alone.ops()) == list(plain.ops())
    assert dict(alone.puts) == dict(plain.puts) and len(alone.puts) == len(ws)
    assert all(alone.record(k) == plain.record(k) and alone.key_of(k) == plain.key_of(k) for k in plain.puts)
    assert alone.record(ws[3].revkey) is None and ws[3].revkey not in alone.puts


def test_releasing_the_scans_objects_plans_the_same(fixture_path):
    opts = planning.Options(CidrMap.parse(["10.96.0.0/12=172.16.0.0/12", "fd00:10:96::/112=fd00:20:96::/112"]),
                            CidrMap.parse(["10.244.0.0/16=10.32.0.0/16"]))
    plans = []
    for release in (False, True):
        with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
            lay = detect(snap)
            scanned = planning.scan(snap, opts, None, lay)
            plan = planning.build(snap, opts, None, lay, scanned, release=release)
            left = sum(map(len, scanned.objects.values()))
            plans.append(([(e.write, e.changes, e.sealed_with) for e in plan.edits],
                          [w.as_json() for w in plan.warnings], plan.kept_ips))
            assert (left == 0) == release and plan.edits
            # released: each rule's observer (leftovers' keys) went once its rule ran; kept: all there
            assert (scanned.observers == {}) == release and (leftovers.name in scanned.observers) != release
    assert plans[0] == plans[1]


def test_sorted_keys_read_from_a_file_are_the_keys(tmp_path, monkeypatch):
    """``SortedKeys`` of a ``spill.Part`` (a forked child's answer left in a file) iterates the keys the bytes give,
    read a piece at a time, a key longer than a piece whole; a part cut short is refused."""
    from snaprewrite import spill

    rnd = random.Random(7)
    keys = sorted({b"/registry/pods/ns/p%d" % rnd.randrange(10**6) for _ in range(300)} | {b"/registry/x/" + b"y" * 50})
    data = leftovers.SortedKeys(keys).to_bytes()
    monkeypatch.setattr(leftovers, "READ", 16)
    with open(tmp_path / "answer", "w+b") as f:
        f.write(b"head" + data + b"tail")
        f.flush()
        part = spill.Part(f, 0, len(data) + 8).part(4, len(data))
        from_file = leftovers.SortedKeys.from_bytes(part)
        assert type(from_file.blob) is spill.Part and len(from_file) == len(keys)
        assert list(from_file) == keys == list(leftovers.SortedKeys.from_bytes(data))
        assert from_file == leftovers.SortedKeys(keys)
        f.write(leftovers.SortedKeys([]).to_bytes())
        f.flush()
        assert list(leftovers.SortedKeys.from_bytes(spill.Part(f, len(data) + 8, 8))) == []
        with pytest.raises(ValueError, match="not SortedKeys"):
            leftovers.SortedKeys.from_bytes(spill.Part(f, 4, len(data) - 1))
