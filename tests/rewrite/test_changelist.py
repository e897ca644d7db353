"""The report's ``changes`` as a ChangeList (each entry's dict made when read) is the plain list of dicts.

``Plan.report`` no longer holds a dict per changed field for the whole run; whatever reads the report
(the JSON writer, the table, verify, tests) must see exactly the list ``[c.as_json() for c in changes]``
with the fields ``rewrite`` adds (a rename's ``newRecord``) last in their entries, and the report file
must be the same text as ``json.dumps`` of that plain list.
"""

import io
import json

import pytest

from snaprewrite import jsontext, report
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite import job
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.changelist import ChangeList
from snaprewrite.rewrite.cidr import CidrMap
from snaprewrite.rewrite.plan import Change

K8S_SERVICES = ["192.168.0.0/16=172.24.0.0/16"]


def changes(n: int) -> list[Change]:
    out = []
    for i in range(n):
        kind = "Service" if i % 3 else "Node"
        out.append(Change(f"/registry/x/ns/o{i // 2}", kind, "" if kind == "Node" else "ns", f"o{i // 2}",
                          f"spec.f{i % 2}", f"10.0.0.{i}", None if i % 7 == 0 else f"caf\u00e9 {i}",
                          f"/registry/x/ns/n{i}" if i % 11 == 0 else None))
    return out


def test_a_changelist_is_the_list_of_dicts():
    cs = changes(40)
    plain = [c.as_json() for c in cs]
    lazy = ChangeList(cs)
    assert lazy == plain and plain == lazy and list(lazy) == plain and len(lazy) == 40
    assert lazy[0] == plain[0] and lazy[-1] == plain[-1] and lazy[3:9] == plain[3:9] and lazy[::-5] == plain[::-5]
    assert ChangeList([]) == [] and not ChangeList([]) and lazy != plain[:-1]
    with pytest.raises(IndexError):
        lazy[40]
    # a field added to an entry goes last, as the dict assignment rewrite made before
    lazy.add(11, "newRecord", {"createRevision": 5, "modRevision": 5, "version": 1})
    lazy.add(-1, "extra", 1)
    plain[11]["newRecord"] = {"createRevision": 5, "modRevision": 5, "version": 1}
    plain[-1]["extra"] = 1
    assert lazy == plain and list(lazy[11]) == list(plain[11]) and list(lazy[39]) == list(plain[39])
    with pytest.raises(IndexError):
        lazy.add(40, "x", 1)


def test_an_object_added_as_values_reads_as_its_dict():
    cs = changes(12)
    plain = [c.as_json() for c in cs]
    lazy = ChangeList(cs)
    names = ("createRevision", "modRevision", "version")
    lazy.add_object(4, "newRecord", names, (7, 9, 2))
    lazy.add(4, "extra", "x")
    lazy.add_object(4, "newRecord", names, (7, 9, 3))  # set again: keeps its place before "extra"
    plain[4]["newRecord"] = {"createRevision": 7, "modRevision": 9, "version": 3}
    plain[4]["extra"] = "x"
    assert lazy == plain and list(lazy[4].items()) == list(plain[4].items())
    assert list(next(e for i, e in enumerate(lazy) if i == 4).items()) == list(plain[4].items())
    plain[4]["newRecord"]["version"] = 2
    assert lazy != plain  # one value off is seen
    assert "".join(jsontext.pieces({"c": lazy})) == json.dumps({"c": [dict(e) for e in lazy]}, indent=2)


def test_the_json_text_is_the_plain_lists(tmp_path):
    cs = changes(3000)
    lazy = ChangeList(cs)
    lazy.add(0, "newRecord", {"createRevision": 1, "modRevision": 2, "version": 3})
    rep = {"input": "a.db", "changes": lazy, "nested": {"changes": ChangeList(cs[:5])}, "empty": ChangeList([])}
    plain = {"input": "a.db", "changes": list(lazy), "nested": {"changes": [c.as_json() for c in cs[:5]]}, "empty": []}
    assert job.dumps_report(rep) == json.dumps(plain, indent=2)
    assert "".join(jsontext.pieces(rep, ensure_ascii=False)) == json.dumps(plain, indent=2, ensure_ascii=False)
    # a value json.dumps must write (a float) sends the rest through json: the ChangeList still reads as its list
    odd = {"f": {"x": 1.5, "changes": lazy}}
    assert job.dumps_report(odd) == json.dumps({"f": {"x": 1.5, "changes": list(lazy)}}, indent=2)
    path = tmp_path / "r.json"
    job.write_report(rep, str(path))
    assert path.read_text() == json.dumps(plain, indent=2) + "\n"


def test_the_table_is_the_plain_lists(monkeypatch):
    """rewrite_table keeps only the rows it shows: the same text for the ChangeList and the list of dicts."""
    cs = changes(200)
    texts = []
    for entries in (ChangeList(cs), [c.as_json() for c in cs]):
        buf = io.StringIO()
        monkeypatch.setattr(report, "stdout", report.FullConsole(file=buf, highlight=False, soft_wrap=True))
        report.rewrite_table({"changes": entries, "warnings": [], "summary": {"changes": len(cs)}}, True)
        texts.append(buf.getvalue())
    assert texts[0] == texts[1]
    services = [c for c in cs if c.kind == "Service"]
    assert f"Service: {len({c.key for c in services})} object(s), {len(services)} field(s)" in texts[0]
    assert f"... {len(services) - report.MAX_ROWS_PER_KIND} more (see --report)" in texts[0]


def test_a_real_rewrites_report_file_lists_the_plans_changes(fixture_path, tmp_path):
    """The report file of a rewrite with renames: the plan's changes as dicts, each rename's newRecord last."""
    src = str(fixture_path("k8s-etcd35.db"))
    out, rep_path = tmp_path / "o.db", tmp_path / "r.json"
    res = job.run(job.Request(src, str(out), K8S_SERVICES, [], [], report=str(rep_path)))
    assert isinstance(res.report["changes"], ChangeList)
    with Snapshot(src) as snap:
        plan = planning.build(snap, planning.Options(CidrMap.parse(K8S_SERVICES), CidrMap(())))
    written = json.loads(rep_path.read_text())["changes"]
    assert len(written) == len(plan.changes) > 6
    renamed = 0
    for got, c in zip(written, plan.changes, strict=True):
        want = c.as_json()
        if c.new_key is not None:
            renamed += 1
            assert list(got)[-1] == "newRecord" and set(got["newRecord"]) == {"createRevision", "modRevision", "version"}
            want["newRecord"] = got["newRecord"]
        assert got == want
    assert renamed == 6
    assert rep_path.read_text() == json.dumps({**res.report, "changes": list(res.report["changes"])}, indent=2) + "\n"


def test_objects_added_at_once_read_as_added_one_by_one():
    """add_objects packs what add_object would, and hands add_object the rest: the entries read the same."""
    names = ("createRevision", "modRevision", "version")
    big = (1 << 63, 1, 1)  # not an int64: not packed
    for rows in ([(1, (5, 6, 1)), (3, (7, 7, 2)), (8, (9, 9, 1))],
                 [(1, (5, 6, 1)), (3, big), (8, (9, 9, 1))],  # the packing stops at the second row
                 [(4, (5, 6, 1)), (2, (7, 7, 2)), (9, (1, 1, 1)), (-1, (3, 3, 3))],  # out of order, from the end
                 [(0, (1, 2)), (5, (1, 2, 3))], []):
        one, many = ChangeList(changes(12)), ChangeList(changes(12))
        for lazy in (one, many):
            lazy.add_object(0, "newRecord", names, (1, 1, 1))
            lazy.add(6, "extra", "x")  # an entry with a field already: not packed
        for i, values in rows + [(6, (2, 2, 2))]:
            one.add_object(i, "newRecord", names, values)
        many.add_objects("newRecord", names, rows + [(6, (2, 2, 2))])
        assert list(map(dict, many)) == list(map(dict, one))
        assert [list(e.items()) for e in many] == [list(e.items()) for e in one]


def test_entries_written_as_text_equal_the_plain_writers_text():
    """ChangeList.json_texts (each entry's text made from the packed changes, no dict) is json.dumps' text of the
    list of dicts, whatever an entry holds: absent values, renames, packed newRecords, fields added as dicts, a
    value that is no string, an empty object; with ASCII escapes and without."""
    from snaprewrite.etcd import kv, mvcc, revision, writes
    from snaprewrite.rewrite.edits import Edit
    from snaprewrite.rewrite.plan import Plan

    def write(i: int) -> writes.Write:
        key = b"/registry/services/specs/ns/s%d" % i
        rec = mvcc.Record(revision.Revision(100 + i, 0), False, kv.KeyValue(key, 5 + i, 100 + i, 2, b"old", 0))
        return writes.Write.of(key, rec, b"v" * 200)

    def own(i: int, n: int) -> list[Change]:  # several of one object, long enough (some) to be spilled
        return [Change(f"/registry/services/specs/ns/s{i}", "Service", "ns", f"s{i}", f"spec.clusterIPs[{j}]",
                       f"10.96.{i}.{j}", None if j == 2 else f"caf\u00e9 {'x' * (i % 200)}",
                       f"/new/{i}" if j == 1 else None) for j in range(n)]

    NAMES = ("createRevision", "modRevision", "version")
    edits = [Edit(write(i), own(i, i % 4)) for i in range(0, 240, 4)]
    edits.append(Edit(write(99), changes(30)))  # changes of several objects in one edit
    edits.append(Edit(write(98), [Change("/k/\u00e9\n", "Node", "", "n\"", "f", 7, None)]))  # an int: no string
    lists = [Plan("in.db", 3, edits=edits).report(None)["changes"], ChangeList(changes(300))]
    for lazy in lists:
        n = len(lazy)
        for i in range(1, n, 7):
            lazy.add_object(i, "newRecord", NAMES, (i, 1 << 40, 3))
        lazy.add(5, "extra", {"a": [1, None]})  # a field added as a dict: that entry is written from its dict
        lazy.add(n - 1, "old", "set again")  # an own field set again keeps its place
        lazy.add_object(n - 2, "empty", (), ())
        plain = {"changes": [dict(e) for e in lazy], "n": 1}
        for ascii_only in (True, False):
            want = json.dumps(plain, indent=2, ensure_ascii=ascii_only)
            assert "".join(jsontext.pieces({"changes": lazy, "n": 1}, ensure_ascii=ascii_only)) == want
            assert lazy.json_texts(json.encoder.encode_basestring, 2, None) is not None  # the text path was taken
        plain["changes"][3]["new"] = "other"  # one value off is seen
        assert "".join(jsontext.pieces({"changes": lazy, "n": 1})) != json.dumps(plain, indent=2)
    # objects that are no Changes: written from their dicts, the same text
    other = ChangeList([type("C", (), {"as_json": lambda self: {"k": 1.5}})()])
    assert other.json_texts(json.encoder.encode_basestring, 2, None) is None
    assert "".join(jsontext.pieces({"c": other})) == json.dumps({"c": [{"k": 1.5}]}, indent=2)


def _table(monkeypatch, rep, tally=None) -> str:
    buf = io.StringIO()
    monkeypatch.setattr(report, "stdout", report.FullConsole(file=buf, highlight=False, soft_wrap=True))
    report.rewrite_table(rep, True, tally)
    return buf.getvalue()


def test_the_table_counted_while_the_report_is_written_is_the_tables_own_count(fixture_path, tmp_path, monkeypatch):
    """A rewrite tells the table every entry as it writes the report file (ChangeTally): the table printed from
    that count is the one it prints counting the entries itself; a count that missed entries is not used."""
    src = str(fixture_path("k8s-etcd35.db"))
    tally = report.ChangeTally()
    res = job.run(job.Request(src, str(tmp_path / "o.db"), K8S_SERVICES, ["10.244.0.0/16=10.55.0.0/16"], [],
                              report=str(tmp_path / "r.json")), observe=tally.add)
    changes = res.report["changes"]
    assert tally.count == len(changes) > 6 and len(tally.shown) >= 3  # Services, IPAddresses, Nodes, ...
    own = _table(monkeypatch, res.report)
    assert _table(monkeypatch, res.report, tally) == own
    assert "IPAddress: 6 object(s), 6 field(s)" in own
    assert json.loads((tmp_path / "r.json").read_text())["changes"] == list(changes)
    # a count of other entries, or of too few, is not trusted: the table counts again
    wrong = report.ChangeTally()
    wrong.add(0, "Bogus", "/k", "f")
    assert _table(monkeypatch, res.report, wrong) == own
    wrong.count = len(changes)  # must fail: a tally claiming every entry is what the table shows
    assert "Bogus: 1 object(s), 1 field(s)" in _table(monkeypatch, res.report, wrong)
    # counted as keys that differ from the one before (entries in key order): what sets of keys count
    sets = report.ChangeTally(ordered=False)
    for i, c in enumerate(changes):
        sets.add(i, c["kind"], c["key"], c["field"])
    assert {k: sets.objects_of(k) for k in sets.fields} == {k: tally.objects_of(k) for k in tally.fields}
    assert sum(tally.objects_of(k) for k in tally.fields) == len({(c["kind"], c["key"]) for c in changes})
    back = report.ChangeTally()  # must fail: a key out of order voids the tally, the table counts again
    for i, c in enumerate(reversed(list(changes))):
        back.add(i, c["kind"], c["key"], c["field"])
    assert back.count == -1 and _table(monkeypatch, res.report, back) == own
    # without a report file nothing is told: the table counts them itself
    quiet = report.ChangeTally()
    res2 = job.run(job.Request(src, None, K8S_SERVICES, ["10.244.0.0/16=10.55.0.0/16"], [], dry_run=True),
                   observe=quiet.add)
    assert quiet.count == 0 and _table(monkeypatch, res2.report, quiet) == own
