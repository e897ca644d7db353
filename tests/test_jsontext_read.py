"""jsontext.read_streaming reads what json.load reads, the list under one key passed on an item at a time.

``verify --report`` on a big rewrite's report held the whole text and every entry at once; the streamed
reader must give json.load's answer for any text (any whitespace, values cut anywhere by the chunks,
non-ASCII and escapes, other shapes than an object) and fail where json.load fails.
"""

import io
import json

import pytest

from snaprewrite import jsontext

VALUES = [
    {}, {"changes": []}, {"a": 1, "changes": [{"key": "k", "field": "f"}, 2, [3.5, None], "caf\u00e9"], "z": {"b": [1e300]}},
    {"changes": [{"key": f"/registry/s{i}", "new": "\u2603 \"q\" \\ \n", "n": i * 1234567} for i in range(300)],
     "summary": {"changes": 300}, "t": True, "f": False, "nothing": None},
    {"changes": "not a list", "x": [1, 2]}, {"other": [1, 2, 3]},
    [1, {"changes": [1]}], "text", 12345, None, {"dup": 1, "dup": 2},  # noqa: F601 - json.load keeps the last
]


def streamed(text: str, chunk: int, hook=None):
    items = []
    jsontext._Reader.CHUNK = chunk
    try:
        out = jsontext.read_streaming(io.StringIO(text), "changes", items.append, hook)
    finally:
        jsontext._Reader.CHUNK = 1 << 20
    return out, items


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("indent", [None, 2, "\t"])
@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_streamed_equals_json_load(value, indent, chunk):
    text = json.dumps(value, indent=indent, ensure_ascii=indent is None)
    out, items = streamed(text, chunk)
    want = json.loads(text)
    if isinstance(want, dict) and isinstance(want.get("changes"), list):
        assert items == want["changes"] and out == dict(want, changes=[])
        assert list(out) == list(want)  # the keys keep their order
    else:
        assert out == want and items == []


def test_the_object_hook_applies_as_in_json_load():
    def hook(d):
        return ("K", d["key"]) if "key" in d else d

    text = json.dumps({"changes": [{"key": "a"}, {"key": "b", "x": {"key": "c"}}], "w": [{"key": "d"}]}, indent=2)
    out, items = streamed(text, 5, hook)
    want = json.loads(text, object_hook=hook)
    assert items == want["changes"] and out == dict(want, changes=[])


@pytest.mark.parametrize("text", [
    "", "{", '{"changes": [1, 2', '{"changes": [1, 2,]}', '{"changes": [1 2]}', '{"a": 1,}', '{"a" 1}', '{1: 2}',
    '{"a": 1} x', '{"changes": [1]}{}', "[1, 2", '{"a": tru}', '{"a": 12', '{"a": "unterminated}',
])
@pytest.mark.parametrize("chunk", [1, 3, 4096])
def test_what_json_load_refuses_is_refused(text, chunk):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        streamed(text, chunk)
