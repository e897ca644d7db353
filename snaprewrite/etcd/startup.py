"""What etcd itself parses in the small buckets when it restores or starts, checked before anyone restores.

etcd panics (or refuses to start) on a record it cannot parse outside bucket ``key`` as well; these are
the reads, from etcd v3.4.23 and v3.5.1:

- ``lease``: every value is unmarshalled as ``leasepb.Lease`` (ID=1, TTL=2, RemainingTTL=3, int64) by
  ``lessor.initAndRecover``; a failure panics "failed to unmarshal lease proto item". 3.4's
  ``snapshot restore`` itself builds a lessor, so it panics there already. Keys are the 8-byte
  big-endian lease ID (``bytesToLeaseID`` panics on any other length).
- ``alarm``: every KEY is unmarshalled as ``etcdserverpb.AlarmMember`` (memberID=1, alarm=2) by
  ``AlarmStore.restore``; an error stops the server.
- ``members``, ``members_removed``: 3.5's restore (``TrimMembershipFromBackend``) parses every key as a
  hex member ID and panics otherwise; ``members`` values are the members' JSON.
- ``cluster``: ``clusterVersion`` is a semver (``semver.Must`` panics), ``downgrade`` JSON (3.5).
- ``auth``: ``authRevision`` is read with ``binary.BigEndian.Uint64`` (panics under 8 bytes);
  ``authEnabled`` is one byte, 1 or 0 (anything else silently means disabled).
- ``authUsers`` / ``authRoles``: values are ``authpb.User`` / ``authpb.Role``, unmarshalled (panic on
  failure) whenever auth looks a user or role up.
- ``meta``: ``consistent_index`` and ``term`` are 8-byte big-endian, the compaction revisions 17-byte
  revision keys (``bytesToRev`` panics when shorter), ``confState`` JSON.

Protobuf records are checked the way gogo-protobuf's generated ``Unmarshal`` reads them: a known field
with another wire type, a truncated or overlong varint, a length past the end, wire types 6/7, an end
group with no start, or field number 0 fail; unknown fields are skipped.
"""

import json
import re
from collections.abc import Iterator

from ..errors import DecodeError, SnapshotError
from ..wire import read_varint
from . import revision as revcodec
from . import schema
from .snapshot import Snapshot

VARINT, FIXED64, LEN, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5

# field number -> (wire type, nested message schema or None), from the .proto files named above.
LEASE = {1: (VARINT, None), 2: (VARINT, None), 3: (VARINT, None)}
ALARM_MEMBER = {1: (VARINT, None), 2: (VARINT, None)}
USER_ADD_OPTIONS = {1: (VARINT, None)}
USER = {1: (LEN, None), 2: (LEN, None), 3: (LEN, None), 4: (LEN, USER_ADD_OPTIONS)}
PERMISSION = {1: (VARINT, None), 2: (LEN, None), 3: (LEN, None)}
ROLE = {1: (LEN, None), 2: (LEN, PERMISSION)}

SEMVER = re.compile(rb"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")
MEMBER_ID = re.compile(rb"[0-9a-fA-F]{1,16}")


class WireError(ValueError):
    """Is raised when a protobuf record is not what gogo's Unmarshal accepts."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    try:
        return read_varint(buf, pos, len(buf))
    except DecodeError as e:
        raise WireError(str(e)) from None


def _length(buf: bytes, pos: int) -> tuple[int, int]:
    n, pos = _varint(buf, pos)
    if n >= 1 << 63:
        raise WireError(f"negative length at byte {pos}")
    if pos + n > len(buf):
        raise WireError(f"length {n} runs past the end ({len(buf)} bytes)")
    return pos + n, pos


def _skip(buf: bytes, pos: int, wire: int) -> int:
    """_skip passes one unknown field (groups included) after its tag, as gogo's skip functions do."""
    depth = 0
    while True:
        if wire == VARINT:
            _, pos = _varint(buf, pos)
        elif wire in (FIXED64, FIXED32):
            pos += 8 if wire == FIXED64 else 4
            if pos > len(buf):
                raise WireError("truncated fixed-size field")
        elif wire == LEN:
            pos, _ = _length(buf, pos)
        elif wire == START_GROUP:
            depth += 1
        elif wire == END_GROUP:
            if depth == 0:
                raise WireError("unexpected end of group")
            depth -= 1
        else:
            raise WireError(f"illegal wire type {wire}")
        if depth == 0:
            return pos
        tag, pos = _varint(buf, pos)
        wire = tag & 7


def check_message(buf: bytes, fields: dict) -> None:
    """check_message raises WireError unless ``buf`` unmarshals as the message ``fields`` declares."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        num, wire = tag >> 3, tag & 7
        if wire == END_GROUP:
            raise WireError(f"end group for non-group (field {num})")
        if num <= 0 or num >= 1 << 29:
            raise WireError(f"illegal tag {num} (wire type {wire})")
        if num not in fields:
            pos = _skip(buf, pos, wire)
            continue
        want, nested = fields[num]
        if wire != want:
            raise WireError(f"wrong wire type {wire} for field {num}")
        if wire == VARINT:
            _, pos = _varint(buf, pos)
        else:
            end, start = _length(buf, pos)
            if nested is not None:
                try:
                    check_message(buf[start:end], nested)
                except WireError as e:
                    raise WireError(f"field {num}: {e}") from None
            pos = end


def show_key(key: bytes) -> str:
    """show_key prints a bucket key as text when it is printable ASCII, else as hex."""
    if key and all(0x20 < b < 0x7F for b in key):
        return key.decode("ascii")
    return "0x" + key.hex()


def _proto(value: bytes, fields: dict, what: str) -> str | None:
    try:
        check_message(value, fields)
    except WireError as e:
        return f"not a {what} ({e})"
    return None


def _json(value: bytes) -> str | None:
    try:
        json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return "not JSON"
    return None


def _lease(key: bytes, value: bytes) -> str | None:
    if len(key) != 8:
        return f"lease ID is {len(key)} bytes, etcd reads 8"
    return _proto(value, LEASE, "leasepb.Lease")


def _alarm(key: bytes, _value: bytes) -> str | None:
    return _proto(key, ALARM_MEMBER, "etcdserverpb.AlarmMember (the key)")


def _member(key: bytes, value: bytes, json_value: bool) -> str | None:
    if not MEMBER_ID.fullmatch(key):
        return "key is not a hex member ID"
    return _json(value) if json_value else None


def _cluster(key: bytes, value: bytes) -> str | None:
    if key == b"clusterVersion" and not SEMVER.fullmatch(value):
        return "clusterVersion is not a semantic version"
    if key == b"downgrade":
        return _json(value)
    return None


def _auth(key: bytes, value: bytes) -> str | None:
    if key == b"authRevision" and len(value) < 8:
        return f"authRevision is {len(value)} bytes, etcd reads 8"
    if key == b"authEnabled" and value not in (b"\x00", b"\x01"):
        return f"authEnabled is {value[:8].hex() or 'empty'}, etcd writes 01 or 00"
    return None


def _meta(key: bytes, value: bytes) -> str | None:
    if key in (schema.CONSISTENT_INDEX, schema.TERM) and len(value) != 8:
        return f"{key.decode()} is {len(value)} bytes, etcd reads 8"
    if key in (schema.SCHEDULED_COMPACT_REV, schema.FINISHED_COMPACT_REV):
        try:
            revcodec.decode(value)
        except SnapshotError as e:
            return f"{key.decode()} is not a revision ({e})"
    if key == schema.CONF_STATE:
        return _json(value)
    return None


CHECKS = {
    schema.LEASE: _lease,
    schema.ALARM: _alarm,
    schema.MEMBERS: lambda k, v: _member(k, v, True),
    schema.MEMBERS_REMOVED: lambda k, v: _member(k, v, False),
    schema.CLUSTER: _cluster,
    schema.AUTH: _auth,
    schema.AUTH_USERS: lambda _k, v: _proto(v, USER, "authpb.User"),
    schema.AUTH_ROLES: lambda _k, v: _proto(v, ROLE, "authpb.Role"),
    schema.META: _meta,
}


def problems(snap: Snapshot) -> Iterator[str]:
    """problems yields one line per record etcd would fail on, naming the bucket and the key."""
    for name, check in CHECKS.items():
        bucket = snap.bucket(name)
        if bucket is None:
            continue
        for item in bucket.items():
            key = bytes(item.key)
            if item.is_bucket:
                yield f"bucket {name.decode()}: key {show_key(key)}: a nested bucket where etcd expects a value"
                continue
            why = check(key, bytes(item.value))
            if why:
                yield f"bucket {name.decode()}: key {show_key(key)}: {why}"


def require_ok(snap: Snapshot) -> None:
    """require_ok raises SnapshotError naming the first record etcd would fail on at restore or start."""
    for p in problems(snap):
        raise SnapshotError(f"{p}: etcd would fail on it after restore")
