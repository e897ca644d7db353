"""The report writer's fast indented JSON is exactly ``json.dumps(rep, indent=2)``.

``rewrite --report`` on 160k changes spent a second in json's Python-level indented encoder; the
faster writer must produce the same text for a real plan's report and for every shape JSON allows
(empty containers, nesting, non-ASCII, numbers, nulls), and hand anything unusual back to json.
"""

import json

import pytest

from snaprewrite import jsontext
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite import job
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.cidr import CidrMap
from snaprewrite.rewrite.job import dumps_report


def test_a_real_plans_report_is_the_same_text(fixture_path):
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        plan = planning.build(snap, planning.Options(
            CidrMap.parse(["10.96.0.0/12=172.20.0.0/16", "fd00:10:96::/112=fd00:20:96::/112"]),
            CidrMap.parse(["10.244.0.0/16=10.32.0.0/16"])))
    rep = plan.report("out.db")
    assert rep["changes"], "the fixture plan changes something"
    # the report's changes are a ChangeList (dicts made when read): json.dumps sees the list it stands for
    plain = {**rep, "changes": [c.as_json() for c in plan.changes]}
    assert dumps_report(rep) == json.dumps(plain, indent=2)


@pytest.mark.parametrize("value", [
    {}, [], {"a": {}}, {"a": []}, [[], {}], {"x": None, "t": True, "f": False, "n": -12, "big": 2**70},
    {"s": "caf\u00e9 \u2603 \"q\" \\ \n\t\x00", "\u00fc": ["", "a"]},
    {"changes": [{"key": "/registry/a", "new": "b"}, {"k": 1}], "summary": {"byKind": {"Service": 3}}},
    [1, [2, [3, {"d": [None]}]]],
])
def test_every_plain_shape_is_the_same_text(value):
    assert dumps_report(value) == json.dumps(value, indent=2)


class _AsJson:
    def as_json(self):
        return {"k": [1, "a"]}


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_report_entries_written_by_key_set_are_the_same_text(monkeypatch, ensure_ascii):
    """Dicts are written from their key set's encoded names: shared, reordered, capped, mixed values."""
    monkeypatch.setattr(jsontext._Writer, "KEYS", 3)  # past the cap, names are encoded afresh each time
    entry = {"key": "/registry/a", "kind": "Service", "namespace": "", "name": "caf\u00e9", "field": "spec.clusterIP",
             "old": "10.96.0.1", "new": "172.16.0.1"}
    changes = [entry, dict(reversed(entry.items())), {**entry, "newKey": "/registry/b"},
               {**entry, "newRecord": {"createRevision": 5, "modRevision": 7, "version": 1}},
               {**entry, "old": None, "n": -3, "t": True, "f": False, "big": 2**70, "d": {}, "l": [], "s": ["x", {"y": None}]},
               {"\u2603 \"q\"": "\n\t\x00", "e": {"\u00fc": "\u00fc"}}, {"x": 1}, {"y": 2}, {"z": "3"}, entry]
    plain = {"changes": changes, "summary": {"byKind": {"Service": 3}}}
    expect = json.dumps(plain, indent=2, ensure_ascii=ensure_ascii)
    assert "".join(jsontext.pieces(plain, ensure_ascii=ensure_ascii)) == expect
    objs = {"changes": [{**entry, "o": _AsJson()}, {"o": _AsJson(), "p": 1}]}
    assert "".join(jsontext.pieces(objs)) == json.dumps(objs, indent=2, default=lambda o: o.as_json())


@pytest.mark.parametrize("value", [{"c": [{"a": "x", 1: "int key"}]}, {"c": [{"a": "x", "f": 2.5}]},
                                   {"c": [{"a": {"b": "x", 2: None}}]}, {"f": 1.5},
                                   {1: "int key"}, {"t": (1, 2)}, {"nan": float("nan")}])
def test_unusual_values_are_left_to_json(value):
    assert dumps_report(value) == json.dumps(value, indent=2)


@pytest.mark.parametrize("value", [
    {"changes": [{"key": f"/registry/services/specs/ns/s{i}", "new": "x"} for i in range(20000)], "n": [{}]},
    {"changes": [{"f": 1.5}] * 9000},  # floats after plain pieces: json.dumps writes those values
])
def test_the_report_file_is_the_same_text_when_written_in_pieces(tmp_path, value):
    path = tmp_path / "report.json"
    job.write_report(value, str(path))
    assert path.read_text() == json.dumps(value, indent=2) + "\n"
