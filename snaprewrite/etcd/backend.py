"""etcd's backend as a whole: its buckets, key counts and the hash ``etcdutl snapshot status`` prints.

The status hash is CRC-32C (Castagnoli) over, for each top-level bucket in name order, the bucket
name and then every key followed by its value; ``totalKey`` counts the key/value pairs of all buckets
(etcd 3.4/3.5); ``revision`` is the main revision of the last key of bucket ``key``.
"""

import os
import pickle
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import crc32c

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
    """``stats`` computed by a forked child while this process does other work (a status's key index).

    ``with StatsJob(snap, observer, marker) as job: index = job.index(); ...; st, observer = job.result()``:
    the child runs ``stats(snap, None, None, observer.visit, marker)`` and sends the numbers and the
    observer back (pickled). Without a free core (``free_core``; ``fork`` forces the choice) or without
    ``fork``, no child: ``index`` makes the one pass that computes both, as ``stats`` with an index does. A failure in the child is
    raised by ``result`` with its type and one-line message; when the work in between fails with a
    ``SnapshotError``, the child's own error is raised instead if it has one (its walk is the one a single
    pass makes first). Any other exception (a signal) stops the child.
    """

    def __init__(self, snap: Snapshot, observer=None, marker: bytes | None = None, fork: bool | None = None):
        self.snap, self.observer, self.marker = snap, observer, marker
        self.pid = 0
        self._r = -1
        self._out = None
        if not hasattr(os, "fork") or not (free_core() if fork is None else fork):
            return
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            self._child(r, w)
        os.close(w)
        self.pid, self._r = pid, r

    def index(self, progress: Callable[[int], None] | None = None) -> dict[bytes, bytes]:
        """index is bucket ``key``'s ``mvcc.latest_index``: built here while the child hashes, or (no child)
        in the same single pass as the stats, which ``result`` then returns."""
        if self.pid:
            return mvcc.scan_index(self.snap.key_bucket(), b"", progress)[0]
        index: dict[bytes, bytes] = {}
        visit = self.observer.visit if self.observer is not None else None
        try:
            self._out = ("ok", stats(self.snap, progress, index, visit=visit, marker=self.marker), self.observer)
        except SnapshotError as e:
            self._out = ("error", type(e), str(e), vars(e))
            raise
        return index

    def _child(self, r: int, w: int) -> None:  # pragma: no cover - runs in the child
        code = 0
        try:
            os.close(r)
            visit = self.observer.visit if self.observer is not None else None
            try:
                out = ("ok", stats(self.snap, None, None, visit=visit, marker=self.marker), self.observer)
            except SnapshotError as e:
                out = ("error", type(e), str(e), vars(e))
            except Exception:  # noqa: BLE001 - a bug: its traceback goes to the parent, which raises it
                out = ("crash", traceback.format_exc())
            with os.fdopen(w, "wb") as f:
                pickle.dump(out, f)
        except BaseException:  # noqa: BLE001 - a signal or a broken pipe: the parent reports it
            code = 1
        finally:
            os._exit(code)

    def _collect(self) -> tuple:
        if self._out is not None:
            return self._out
        if not self.pid:
            visit = self.observer.visit if self.observer is not None else None
            try:
                self._out = ("ok", stats(self.snap, None, None, visit=visit, marker=self.marker), self.observer)
            except SnapshotError as e:
                self._out = ("error", type(e), str(e), vars(e))
            return self._out
        try:
            with os.fdopen(self._r, "rb") as f:
                self._r = -1
                data = f.read()
        finally:
            _, status = os.waitpid(self.pid, 0)
            self.pid = 0
        if data:
            self._out = pickle.loads(data)
            return self._out
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGBUS:  # pragma: no cover - the input shrank
            # what one process reading the mapping would have met: die the same way (the supervisor names the file)
            signal.signal(signal.SIGBUS, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGBUS)
        try:
            self.snap.check_unchanged()
        except SnapshotError:
            changed = self.snap.changed()
            self._out = ("error", type(changed), str(changed), vars(changed))
            return self._out
        how = f"by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"with exit code {os.WEXITSTATUS(status)}"
        self._out = ("error", SnapshotError, f"{self.snap.path}: the worker computing the bucket hashes stopped {how}", {})
        return self._out

    def result(self) -> tuple[BackendStats, object]:
        """result waits for the child and returns (stats, observer as the child left it)."""
        out = self._collect()
        if out[0] == "error":
            raise _rebuild(*out[1:])
        if out[0] == "crash":
            raise RuntimeError(f"the stats worker failed:\n{out[1]}")
        return out[1], out[2]

    def __enter__(self) -> "StatsJob":
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if exc is None:
            self.close()
            return
        if isinstance(exc, SnapshotError) and self.pid:
            out = self._collect()
            if out[0] == "error":
                raise _rebuild(*out[1:]) from None
        self.close()

    def close(self) -> None:
        """close stops the child if it still runs."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:  # pragma: no cover - already gone
                pass
            os.waitpid(self.pid, 0)
            self.pid = 0
        if self._r >= 0:
            os.close(self._r)
            self._r = -1


def free_core() -> bool:
    """free_core tells whether the machine has a core to spare for a second process (1-minute load average).

    Two processes do more work in total than one pass (both walk bucket ``key``): worth it only when
    the second one does not wait for a core.
    """
    try:
        return os.getloadavg()[0] <= (os.cpu_count() or 1) - 1
    except OSError:  # pragma: no cover - no load average on this platform
        return False


def _rebuild(kind: type, message: str, attrs: dict) -> SnapshotError:
    """_rebuild is an exception of the child's type, message and attributes (constructors differ in arguments)."""
    e = kind.__new__(kind)
    Exception.__init__(e, message)
    e.__dict__.update(attrs)
    return e


def stats_and_index(snap: Snapshot, progress: Callable[[int], None] | None = None, observer=None,
                    marker: bytes | None = None, fork: bool | None = None) -> tuple[BackendStats, dict[bytes, bytes], object]:
    """stats_and_index is ``stats`` with an index of bucket ``key`` (``mvcc.latest_index``), on two cores when free.

    Returns (stats, index, observer): what ``stats(snap, progress, index, observer.visit, marker)`` gives
    in one process (see ``StatsJob``).
    """
    with StatsJob(snap, observer, marker, fork) as job:
        index = job.index(progress)
        st, observer = job.result()
    return st, index, observer
