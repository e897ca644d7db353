"""The full check of a snapshot file: bbolt structure, sha256 trailer, etcd's records in bucket ``key``
and in every other bucket etcd parses when it restores or starts.

Returns problems as one-line strings (empty: healthy). Structure as bbolt's ``tx.Check`` sees it
(``bbolt.check``), then the trailer, then every record of bucket ``key``: a valid revision key, a
decodable KeyValue, ``mod_revision`` equal to the key's main revision for puts, revisions increasing;
then ``lease``, ``alarm``, ``members``, ``cluster``, ``auth*`` and ``meta`` (``etcd.startup``).
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .. import process
from ..bbolt.check import check as check_pages
from ..errors import SnapshotError
from . import kv as kvcodec
from . import revision as revcodec
from . import schema, startup
from .snapshot import Snapshot

MAX_PROBLEMS = 100
RELEASE_EVERY = 16  # leaves read between releases of the mapping's resident pages (each fault maps a large folio)


def fsck(snap: Snapshot, verify_trailer: bool = True, progress: Callable[[int], None] | None = None,
         parallel: bool = False) -> list[str]:
    """fsck returns every problem found in ``snap`` (at most MAX_PROBLEMS, then a count).

    The structure is checked first; only a sound structure has its records checked. The trailer's
    sha256 is computed in a thread meanwhile (hashing and file reads release the GIL). With ``parallel``
    the structure check runs in a forked child while this process checks the records: the answer is
    the serial one (structure problems, else the records' and the other buckets' problems; an error
    the structure check raises is raised), the records' findings are dropped when the structure fails.
    """
    with _Trailer(snap, verify_trailer) as trailer:
        if not parallel or not process.may_fork():
            problems = list(check_pages(snap.pages, MAX_PROBLEMS)) + trailer.problems()
            return problems or _records(snap, progress)
        with process.fork_call(lambda: list(check_pages(snap.pages, MAX_PROBLEMS)), "structure check",
                               passes=(SnapshotError,), died=SnapshotError) as structure:
            try:
                records: list[str] | BaseException = _records(snap, progress)
            except Exception as e:  # on a broken structure the serial check never reads the records: the structure speaks
                records = e
            problems = structure.result() + trailer.problems()
    if problems:
        return problems
    if isinstance(records, BaseException):
        raise records
    return records


class _Trailer:
    """The sha256 trailer's check (if asked, and the file has one), hashed in a thread from the start."""

    def __init__(self, snap: Snapshot, verify_trailer: bool):
        self.snap = snap
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="fsck-sha256") if verify_trailer and snap.trailer else None
        self.digest = self.pool.submit(snap.compute_sha256) if self.pool is not None else None

    def problems(self) -> list[str]:
        if self.digest is None:
            return []
        stored, got = self.snap.stored_trailer(), self.digest.result()
        if stored != got:
            return [f"sha256 trailer mismatch: stored {stored.hex()}, data hashes to {got.hex()}"]
        return []

    def __enter__(self) -> "_Trailer":
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _records(snap: Snapshot, progress: Callable[[int], None] | None) -> list[str]:
    """_records checks every record of bucket ``key`` and then the buckets etcd parses at start-up."""
    problems: list[str] = []
    try:
        key_bucket = snap.root.bucket(schema.KEY)
    except SnapshotError as e:
        return [str(e)]
    if key_bucket is None:
        return ["no 'key' bucket: not an etcd backend"]
    bad = 0
    n = 0
    mod_revision_of = kvcodec.mod_revision_of
    try:
        for leaves, (_run, pairs) in enumerate(key_bucket.leaf_runs(RELEASE_EVERY), 1):  # batches no bigger
            if leaves % RELEASE_EVERY == 0:
                snap.pages.release()  # the leaves are scattered (new ones at the end): a byte window keeps too many
            n += len(pairs)
            if progress is not None:
                progress(len(pairs))
            for _f, k, v in pairs:
                try:
                    size = len(k)
                    if size == revcodec.REV_BYTES_LEN and k[8] == 0x5F and k[0] < 0x80:  # the common case, inline
                        tomb = False
                        main = int.from_bytes(k[:8], "big")
                    else:
                        rev, tomb = revcodec.decode(k)
                        main = rev.main
                    if not v and not tomb:
                        continue  # etcd 3.6's revision-bump marker
                    mod = mod_revision_of(v)
                    if not tomb and mod != main:
                        raise SnapshotError(f"record at revision {main}: mod_revision {mod}")
                except SnapshotError as e:
                    bad += 1
                    if len(problems) < MAX_PROBLEMS:
                        problems.append(f"bucket key: {e}")
    except SnapshotError as e:
        problems.append(str(e))
    if bad > MAX_PROBLEMS:
        problems.append(f"{bad - MAX_PROBLEMS} more bad records in bucket key")
    try:
        for p in startup.problems(snap):
            if len(problems) >= MAX_PROBLEMS:
                break
            problems.append(p)
    except SnapshotError as e:
        problems.append(str(e))
    return problems
