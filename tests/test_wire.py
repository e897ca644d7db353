"""The one varint reader/writer agrees with the protobuf runtime and refuses what Go's decoder refuses."""

import pytest
from google.protobuf.internal import decoder, encoder

from snaprewrite.errors import DecodeError
from snaprewrite.wire import encode_varint, read_varint

VALUES = [0, 1, 127, 128, 300, 2**31 - 1, 2**32, 2**63 - 1, -1, -(2**63)]


@pytest.mark.parametrize("v", VALUES)
def test_bytes_equal_the_protobuf_runtime_and_read_back(v):
    theirs = encoder._VarintBytes(v & 0xFFFFFFFFFFFFFFFF)
    assert encode_varint(v) == theirs
    buf = b"\xaa" + theirs + b"\xbb"
    got, end = read_varint(buf, 1, len(buf))
    assert (got, end) == (decoder._DecodeVarint(theirs, 0)[0], 1 + len(theirs))


@pytest.mark.parametrize("buf, end", [
    (b"\x80", 1),  # truncated
    (b"\xff" * 10 + b"\x01", 11),  # 11 bytes: overlong
    (b"\x96\x01", 1),  # complete in the buffer but past the field's end
])
def test_truncated_overlong_and_past_the_end_fail(buf, end):
    with pytest.raises(DecodeError):
        read_varint(buf, 0, end)
