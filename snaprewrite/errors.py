"""The exception tree: one root, ``SnapshotError``; every message is one lower-case line.

The CLI maps ``SnapshotError`` (and its subclasses) to exit code 1 with the message on stderr.
Messages name the page, key or file at fault and never embed value bytes (they may hold Secrets).
"""


class SnapshotError(Exception):
    """Is raised for any problem with the input or output of snaprewrite."""


class CorruptError(SnapshotError):
    """Is raised when the bbolt structure of a file is broken."""

    def __init__(self, message: str, pgid: int | None = None):
        super().__init__(f"page {pgid}: {message}" if pgid is not None else message)
        self.pgid = pgid


class NotSnapshotError(SnapshotError):
    """Is raised when a file is not a bbolt database at all (empty, wrong magic on both metas)."""


class ChecksumError(SnapshotError):
    """Is raised when a checksum (meta FNV-1a or the sha256 trailer) does not match."""

    def __init__(self, what: str, expected: str, got: str):
        super().__init__(f"{what} mismatch: expected {expected}, got {got}")
        self.expected = expected
        self.got = got


class SchemaError(SnapshotError):
    """Is raised when the file is bbolt but not an etcd backend (missing bucket, bad revision key)."""


class DecodeError(SnapshotError):
    """Is raised when a stored value cannot be decoded (KeyValue, Kubernetes envelope, protobuf)."""


class KeyNotFoundError(SnapshotError):
    """Is raised when a key does not exist (or is deleted) at the requested revision."""


class WriteError(SnapshotError):
    """Is raised when a bbolt write is refused as bbolt refuses it (empty or oversized key, value where a bucket is)."""


class PlanError(SnapshotError):
    """Is raised when a rewrite cannot be planned (target CIDR too small, conflicting mappings)."""


class UsageError(SnapshotError):
    """Is raised for invalid option values that typer cannot check itself (exit code 2)."""
