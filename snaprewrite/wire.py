"""The protobuf wire format's base-128 varints, shared by etcd's records (``etcd/kv.py``, ``etcd/startup.py``)
and Kubernetes values (``k8s/splice.py``, ``k8s/rawview.py``): one reader, one writer.

A varint is at most 10 bytes (64 bits); the reader never looks past ``end``. Negative int64 values are
written as their two's complement (10 bytes), as Go's proto encoders do.
"""

from .errors import DecodeError

MAX_VARINT_BYTES = 10


def read_varint(buf, pos: int, end: int) -> tuple[int, int]:
    """read_varint decodes the varint at ``pos``: (value, position after it); DecodeError if truncated or overlong."""
    result = shift = 0
    for i in range(pos, min(end, pos + MAX_VARINT_BYTES)):
        b = buf[i]
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i + 1
        shift += 7
    raise DecodeError(f"truncated or overlong varint at byte {pos}")


def put_varint(out: bytearray, v: int) -> None:
    """put_varint appends ``v`` as a minimal varint (a negative int64 as its 64-bit two's complement)."""
    v &= 0xFFFFFFFFFFFFFFFF
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def encode_varint(v: int) -> bytes:
    """encode_varint is ``v`` as a minimal varint."""
    out = bytearray()
    put_varint(out, v)
    return bytes(out)
