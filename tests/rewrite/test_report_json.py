"""The report writer's fast indented JSON is exactly ``json.dumps(rep, indent=2)``.

``rewrite --report`` on 160k changes spent a second in json's Python-level indented encoder; the
faster writer must produce the same text for a real plan's report and for every shape JSON allows
(empty containers, nesting, non-ASCII, numbers, nulls), and hand anything unusual back to json.
"""

import json

import pytest

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


@pytest.mark.parametrize("value", [{"f": 1.5}, {1: "int key"}, {"t": (1, 2)}, {"nan": float("nan")}])
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
