"""etcd's revision keys in bucket ``key``: 8-byte big-endian main, ``_``, 8-byte big-endian sub, optional ``t``.

A revision (main, sub) orders every change: ``main`` is the store revision of a transaction, ``sub``
the index of the change inside it. A deletion is stored under its revision plus a trailing ``t``
(tombstone mark), so the key bytes alone say whether a record is a deletion.
Example: put at revision 5 -> ``00..05 _ 00..00``; a delete of that key at 7 -> ``00..07 _ 00..00 t``.
"""

import struct
from dataclasses import dataclass

from ..errors import SchemaError

REV_BYTES_LEN = 17
MARKED_REV_BYTES_LEN = 18
TOMBSTONE_MARK = 0x74  # "t"
_REV = struct.Struct(">QcQ")


@dataclass(frozen=True, order=True, slots=True)  # (one per record a plan or batch holds)
class Revision:
    """A store revision: ``main`` (transaction) and ``sub`` (change within it)."""

    main: int
    sub: int = 0


def encode(rev: Revision, tombstone: bool = False) -> bytes:
    """encode returns the bbolt key of ``rev``, with the tombstone mark when ``tombstone``."""
    b = _REV.pack(rev.main, b"_", rev.sub)
    return b + b"t" if tombstone else b


def decode(key: bytes | memoryview) -> tuple[Revision, bool]:
    """decode parses a bbolt key of bucket ``key`` into (revision, is_tombstone), rejecting bad forms."""
    n = len(key)
    if n not in (REV_BYTES_LEN, MARKED_REV_BYTES_LEN):
        raise SchemaError(f"revision key of {n} bytes (want {REV_BYTES_LEN} or {MARKED_REV_BYTES_LEN})")
    main, sep, sub = _REV.unpack_from(key, 0)
    if sep != b"_":
        raise SchemaError(f"revision key {bytes(key[:REV_BYTES_LEN]).hex()} lacks the '_' separator")
    if n == MARKED_REV_BYTES_LEN and key[17] != TOMBSTONE_MARK:
        raise SchemaError(f"revision key {bytes(key).hex()} has an unknown mark")
    if main >= 1 << 63 or sub >= 1 << 63:
        raise SchemaError(f"revision key {bytes(key).hex()} is negative")
    return Revision(main, sub), n == MARKED_REV_BYTES_LEN


def main_of(key: bytes | memoryview) -> int:
    """main_of returns the main revision of a revision key without full validation (hot loops)."""
    return int.from_bytes(key[:8], "big")
