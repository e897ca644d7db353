"""etcd's backend as a whole: its buckets, key counts and the hash ``etcdutl snapshot status`` prints.

The status hash is CRC-32C (Castagnoli) over, for each top-level bucket in name order, the bucket
name and then every key followed by its value; ``totalKey`` counts the key/value pairs of all buckets
(etcd 3.4/3.5); ``revision`` is the main revision of the last key of bucket ``key``.
"""

import os
import pickle
import signal
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


def stats_and_index(snap: Snapshot, progress: Callable[[int], None] | None = None, observer=None,
                    marker: bytes | None = None) -> tuple[BackendStats, dict[bytes, bytes], object]:
    """stats_and_index is ``stats`` with an index of bucket ``key`` (``mvcc.latest_index``), on two cores.

    A forked child computes ``stats`` (every bucket's CRC and counts, ``observer.visit`` on the records
    holding ``marker``) while this process builds the index; the child sends the numbers and the
    observer back (pickled). Returns (stats, index, observer): the same as ``stats(snap, progress, index,
    observer.visit, marker)`` in one process, which is what runs where ``fork`` is missing. A failure in
    the child is raised here with its type and one-line message (preferred to one of the index pass:
    its walk is the sequential pass's).
    """
    visit = observer.visit if observer is not None else None
    if not hasattr(os, "fork"):
        index: dict[bytes, bytes] = {}
        return stats(snap, progress, index, visit, marker), index, observer
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        code = 0
        try:
            os.close(r)
            try:
                out = ("ok", stats(snap, None, None, visit, marker), observer)
            except SnapshotError as e:
                out = ("error", type(e), str(e))
            with os.fdopen(w, "wb") as f:
                pickle.dump(out, f)
        except BaseException:  # noqa: BLE001 - a signal or a broken pipe: the parent reports it
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    try:
        try:
            index = mvcc.scan_index(snap.key_bucket(), b"", progress)[0]
            failed = None
        except SnapshotError as e:
            index, failed = {}, e
        with os.fdopen(r, "rb") as f:
            r = -1
            data = f.read()
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        raise
    finally:
        if r >= 0:
            os.close(r)
        _, status = os.waitpid(pid, 0)
    if not data:
        if failed is not None:
            raise failed
        try:
            snap.check_unchanged()
        except SnapshotError:
            raise snap.changed() from None
        how = f"by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"with exit code {os.WEXITSTATUS(status)}"
        raise SnapshotError(f"{snap.path}: the worker computing the bucket hashes stopped {how}")
    out = pickle.loads(data)
    if out[0] == "error":
        e = out[1].__new__(out[1])
        Exception.__init__(e, out[2])
        raise e
    if failed is not None:
        raise failed
    return out[1], index, out[2]
