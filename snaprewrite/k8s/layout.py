"""Where a cluster keeps its objects in etcd: the key root (``/registry/``, OpenShift's ``/kubernetes.io/``, or
kube-apiserver's ``--etcd-prefix``) and whether the snapshot file was compressed.

Readers and rules name keys relative to the root (``services/specs/``, ``ranges/serviceips``); ``Layout.key``
is the one place that joins the root, so every command and rule follows the same detected layout.

Detection (``detect``) reads the user keys of the first ``SAMPLE`` records of bucket ``key`` (revision
order: a cluster's first writes are its own objects) and counts those under each known root. One root
seen and the others not: that root. Both seen: ambiguous, the caller must name one with ``--prefix``.
Neither (a store that holds no Kubernetes objects): the default ``/registry/``.
"""

from dataclasses import dataclass

from ..errors import SnapshotError, UsageError
from ..etcd import kv as kvcodec

DEFAULT_ROOT = b"/registry/"
KNOWN_ROOTS = (DEFAULT_ROOT, b"/kubernetes.io/")  # kube-apiserver's default; OpenShift's
SAMPLE = 20000


class AmbiguousLayoutError(SnapshotError):
    """Is raised when a snapshot holds objects under more than one known key root."""


@dataclass(frozen=True)
class Layout:
    """The key root of a snapshot's Kubernetes objects, how it was chosen, and the file's compression."""

    root: bytes = DEFAULT_ROOT
    compressed: str | None = None
    source: str = "default"  # "detected", "--prefix" or "default" (no Kubernetes key found)

    def key(self, rel: bytes | str) -> bytes:
        """key joins the root and a key path relative to it (``services/specs/`` -> ``/registry/services/specs/``)."""
        if isinstance(rel, str):
            rel = rel.encode()
        if rel.startswith(b"/"):
            raise ValueError(f"internal: key path {rel!r} must be relative to the layout root")
        return self.root + rel

    def keys(self, rels) -> tuple[bytes, ...]:
        """keys joins the root to each relative key path."""
        return tuple(self.key(r) for r in rels)

    def absolute(self, key: bytes | str) -> bytes:
        """absolute is a key as given when it starts with ``/``, else joined to the root (for command arguments)."""
        if isinstance(key, str):
            key = key.encode("utf-8", "surrogateescape")
        return key if key.startswith(b"/") or not key else self.key(key)

    def relative(self, key: bytes) -> bytes | None:
        """relative is the key path below the root, None for a key outside it."""
        return key[len(self.root):] if key.startswith(self.root) else None

    @property
    def prefix(self) -> str:
        return self.root.decode("utf-8", "backslashreplace")

    def as_json(self) -> dict:
        return {"prefix": self.prefix, "compressed": self.compressed, "source": self.source}


def normalize(prefix: str) -> bytes:
    """normalize checks a ``--prefix`` value and gives it its trailing slash (``/kubernetes.io`` -> ``/kubernetes.io/``)."""
    if not prefix.startswith("/") or prefix.strip("/") == "" or "\n" in prefix:
        raise UsageError(f"--prefix: must be an absolute etcd key prefix like /registry/ (got {prefix!r})")
    return prefix.rstrip("/").encode("utf-8", "surrogateescape") + b"/"


def count_roots(snap, limit: int = SAMPLE) -> dict[bytes, int]:
    """count_roots counts the user keys under each known root among the first ``limit`` records."""
    counts = dict.fromkeys(KNOWN_ROOTS, 0)
    n = 0
    for _flags, _k, v in snap.key_bucket().iter_raw():
        if not v:
            continue
        key = kvcodec.key_of(v)
        for root in KNOWN_ROOTS:
            if key.startswith(root):
                counts[root] += 1
                break
        n += 1
        if n >= limit:
            break
    return counts


def detect(snap, prefix: str | None = None) -> Layout:
    """detect is the layout of an open ``etcd.snapshot.Snapshot``: ``prefix`` if given, else found from its keys."""
    compressed = getattr(snap, "compressed", None)
    if prefix:
        return Layout(normalize(prefix), compressed, "--prefix")
    counts = count_roots(snap)
    seen = [r for r in KNOWN_ROOTS if counts[r]]
    if len(seen) > 1:
        found = ", ".join(f"{counts[r]} under {r.decode()}" for r in seen)
        raise AmbiguousLayoutError(f"{snap.path}: keys under more than one key prefix ({found} in the first "
                                   f"{SAMPLE} records): name the cluster's with --prefix")
    if seen:
        return Layout(seen[0], compressed, "detected")
    return Layout(DEFAULT_ROOT, compressed, "default")
