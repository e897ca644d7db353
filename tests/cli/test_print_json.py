"""report.print_json writes, piece by piece and with its own writer for plain values, exactly the text of
json.dumps(data, indent=2, ensure_ascii=False) + newline: on every shape commands print."""

import enum
import json

import pytest

from snaprewrite import report


class Color(enum.IntEnum):
    RED = 1


class Mode(enum.StrEnum):
    JSON = "json"


class Obj:
    def __init__(self, d):
        self.d = d

    def as_json(self):
        return self.d


CASES = [
    {},
    [],
    "text",
    None,
    3,
    {"a": []},
    {"a": {}, "b": [[]], "c": [{}], "d": [None, True, False, 0, -5, 10**30]},
    {"k\u00e9y\n": "v\u00e9\t\x1b\u2028\U0001f600", "q": "\"\\/"},
    {"f": 1.5, "g": [float("inf"), float("nan"), 1e-300, -0.0]},
    {"n": {1: "int key", "s": "x"}, "t": (1, 2, ("x",))},
    {"e": Color.RED, "m": Mode.JSON, "l": [Color.RED, Mode.JSON]},
    {"deep": {"a": {"b": {"c": [1, {"d": [2, [3, {"e": None}]]}]}}}},
    [{"a": 1}, [2, [3]], "s"],
    {1: "top-level int key"},
]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_same_text_as_json_dumps(data, capsys):
    report.print_json(data)
    assert capsys.readouterr().out == json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def test_objects_are_written_as_their_as_json(capsys):
    diffs = [Obj({"key": "/a", "how": "changed", "fields": ["x"], "changes": [{"field": "x", "old": None, "new": "1"}]}),
             Obj({"key": "/b", "how": "added", "fields": [], "changes": [], "f": 0.5})]
    data = {"old": "a.db", "differences": diffs, "uncovered": [], "nested": {"d": diffs}}
    report.print_json(data)
    plain = dict(data, differences=[d.d for d in diffs], nested={"d": [d.d for d in diffs]})
    assert capsys.readouterr().out == json.dumps(plain, indent=2, ensure_ascii=False) + "\n"
