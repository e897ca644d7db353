"""etcd's backend as a whole: its buckets, key counts and the hash ``etcdutl snapshot status`` prints.

The status hash is CRC-32C (Castagnoli) over, for each top-level bucket in name order, the bucket
name and then every key followed by its value; ``totalKey`` counts the key/value pairs of all buckets
(etcd 3.4/3.5); ``revision`` is the main revision of the last key of bucket ``key``.
"""

import os
import signal
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import crc32c

from .. import process
from ..errors import SnapshotError
from . import mvcc, revision, schema
from .snapshot import Snapshot


@dataclass
class BackendStats:
    """What etcdutl's ``snapshot status`` reports, plus the key count of each bucket."""

    hash: int = 0
    revision: int = 0
    total_key: int = 0
    total_size: int = 0
    buckets: dict[str, int] = field(default_factory=dict)


def stats(snap: Snapshot, progress: Callable[[int], None] | None = None,
          index: dict[bytes, bytes] | None = None, visit: mvcc.Visit = None,
          marker: bytes | None = None) -> BackendStats:
    """stats walks every bucket once, computing the etcdutl hash, counts and revision.

    With ``index`` (a dict), bucket ``key``'s pass also fills it like ``mvcc.latest_index``, so a
    status needs one pass over the file, not two; ``visit``/``marker`` are passed to that pass
    (``mvcc.scan_index``).
    """
    st = BackendStats(total_size=snap.data_size)
    h = 0
    crc = crc32c.crc32c
    for name, bucket in snap.root.buckets():
        h = crc(name, h)
        if name == schema.KEY:
            found, h, n, last_key = mvcc.scan_index(bucket, b"" if index is not None else None, progress, crc, h,
                                                    visit=visit, marker=marker)
            if index is not None:
                index.update(found)
        else:
            n = 0
            last_key = None
            for _flags, k, v in bucket.iter_raw():
                h = crc(v, crc(k, h))
                n += 1
                last_key = k
        if name == schema.KEY and last_key is not None:
            st.revision = revision.main_of(last_key)
        st.buckets[name.decode("utf-8", "replace")] = n
        st.total_key += n
    st.hash = h
    return st


class StatsJob:
    """``stats`` computed by a forked child (``process.fork_call``) while this process builds bucket ``key``'s index.

    ``with StatsJob(snap, observer, marker) as job: index = job.index(); ...; st, observer = job.result()``.
    The child runs ``stats(snap, None, None, observer.visit, marker)`` and answers the numbers and
    ``observer.state()`` (JSON); ``observer.load(state)`` takes them in here. Without a free core
    (``free_core``; ``fork`` forces the choice) or without ``fork``, no child: ``index`` makes the one pass
    that computes both, as ``stats`` with an index does. A ``SnapshotError`` in the child is raised by
    ``result`` (same class, message, attributes); when the work in between fails with one, the child's
    is raised instead if it has one (its walk is the one a single pass makes first). A child killed by
    SIGBUS (the input shrank) takes this process down the same way, for the supervisor to name the file.
    """

    def __init__(self, snap: Snapshot, observer=None, marker: bytes | None = None, fork: bool | None = None):
        self.snap, self.observer, self.marker = snap, observer, marker
        self.call = None
        self._done: tuple[BackendStats, object] | None = None
        if process.may_fork() and (free_core() if fork is None else fork):
            self.call = process.fork_call(self._work, f"{snap.path}: the bucket hashes", (SnapshotError,), _Died)

    def _work(self) -> dict:  # pragma: no cover - runs in the child
        visit = self.observer.visit if self.observer is not None else None
        st = stats(self.snap, None, None, visit=visit, marker=self.marker)
        return {"stats": asdict(st), "observer": self.observer.state() if self.observer is not None else None}

    def index(self, progress: Callable[[int], None] | None = None) -> dict[bytes, bytes]:
        """index is bucket ``key``'s ``mvcc.latest_index``: built here while the child hashes, or (no child)
        in the same single pass as the stats, which ``result`` then returns."""
        if self.call is not None:
            return mvcc.scan_index(self.snap.key_bucket(), b"", progress)[0]
        index: dict[bytes, bytes] = {}
        visit = self.observer.visit if self.observer is not None else None
        self._done = stats(self.snap, progress, index, visit=visit, marker=self.marker), self.observer
        return index

    def result(self) -> tuple[BackendStats, object]:
        """result waits for the child and returns (stats, observer with the child's state loaded)."""
        if self._done is not None:
            return self._done
        if self.call is None:  # index() was not called: the stats alone, here
            visit = self.observer.visit if self.observer is not None else None
            self._done = stats(self.snap, None, None, visit=visit, marker=self.marker), self.observer
            return self._done
        call, self.call = self.call, None
        try:
            answer = call.result()
        except _Died as e:
            if "SIGBUS" in str(e):  # pragma: no cover - the input shrank under the child
                signal.signal(signal.SIGBUS, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGBUS)
            raise
        if self.observer is not None:
            self.observer.load(answer["observer"])
        self._done = BackendStats(**answer["stats"]), self.observer
        return self._done

    def __enter__(self) -> "StatsJob":
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if self.call is None:
            return
        if isinstance(exc, SnapshotError):
            try:
                self.result()
            except SnapshotError as child:
                raise child from None
        elif self.call is not None:
            self.call.close()
            self.call = None


class _Died(SnapshotError):
    """Is raised when the stats child died (a signal) or ended without an answer."""


def free_core() -> bool:
    """free_core tells whether the machine has a core to spare for a second process (1-minute load average).

    Two processes do more work in total than one pass (both walk bucket ``key``): worth it only when
    the second one does not wait for a core.
    """
    try:
        return os.getloadavg()[0] <= (os.cpu_count() or 1) - 1
    except OSError:  # pragma: no cover - no load average on this platform
        return False

