"""Kubernetes values with strings that are not UTF-8 decode to JSON-serialisable objects or a DecodeError.

protobuf hands back ``bytes`` for a proto2 string field holding invalid UTF-8 and raises while
iterating a map with such a key; both once escaped as TypeError/UnicodeDecodeError tracebacks.
"""

import json

import pytest

from snaprewrite.errors import DecodeError
from snaprewrite.k8s import decode

BAD = b"\xff\xfe"


def ld(field: int, payload: bytes) -> bytes:
    return bytes([field << 3 | 2, len(payload)]) + payload


@pytest.mark.parametrize("kind,raw", [
    ("Service", ld(1, ld(1, b"a" + BAD))),                                      # metadata.name
    ("Service", ld(2, ld(1, ld(1, b"p") + ld(4, bytes([0x08, 0x01]) + ld(3, BAD))))),  # ports[0].targetPort
    ("Pod", ld(2, ld(2, ld(1, b"c") + ld(8, ld(1, ld(1, b"cpu") + ld(2, ld(1, BAD))))))),  # limits quantity
])
def test_invalid_utf8_strings_are_replaced(kind, raw):
    obj = decode.decode_object("v1", kind, raw)
    text = json.dumps(obj)
    assert "\\ufffd" in text


def test_invalid_utf8_map_key_is_a_decode_error():
    raw = ld(2, ld(1, BAD) + ld(2, b"x"))  # ConfigMap.data {BAD: "x"}
    with pytest.raises(DecodeError, match="not valid utf-8"):
        decode.decode_object("v1", "ConfigMap", raw)
