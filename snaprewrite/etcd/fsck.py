"""The full check of a snapshot file: bbolt structure, sha256 trailer, etcd's records in bucket ``key``
and in every other bucket etcd parses when it restores or starts.

Returns problems as one-line strings (empty: healthy). Structure as bbolt's ``tx.Check`` sees it
(``bbolt.check``), then the trailer, then every record of bucket ``key``: a valid revision key, a
decodable KeyValue, ``mod_revision`` equal to the key's main revision for puts, revisions increasing;
then ``lease``, ``alarm``, ``members``, ``cluster``, ``auth*`` and ``meta`` (``etcd.startup``).
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..bbolt.check import check as check_pages
from ..errors import SnapshotError
from . import kv as kvcodec
from . import revision as revcodec
from . import schema, startup
from .snapshot import Snapshot

MAX_PROBLEMS = 100
RELEASE_EVERY = 32  # leaves of bucket key read between releases of the mapping's resident pages


def fsck(snap: Snapshot, verify_trailer: bool = True, progress: Callable[[int], None] | None = None) -> list[str]:
    """fsck returns every problem found in ``snap`` (at most MAX_PROBLEMS, then a count).

    The trailer's sha256 is computed in a thread while the pages are checked (hashing and file reads
    release the GIL, so both cores work).
    """
    hashing = None
    if verify_trailer and snap.trailer:
        hashing = ThreadPoolExecutor(1, thread_name_prefix="fsck-sha256")
        digest = hashing.submit(snap.compute_sha256)
    try:
        problems = list(check_pages(snap.pages, MAX_PROBLEMS))
        got = digest.result() if hashing is not None else None
    finally:
        if hashing is not None:
            hashing.shutdown(wait=True, cancel_futures=True)
    if got is not None:
        stored = snap.stored_trailer()
        if stored != got:
            problems.append(f"sha256 trailer mismatch: stored {stored.hex()}, data hashes to {got.hex()}")
    if problems:
        return problems
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
        for leaves, (_run, pairs) in enumerate(key_bucket.leaf_runs(), 1):
            if leaves % RELEASE_EVERY == 0:
                snap.pages.release()  # the leaves of a rewritten file are far apart: each fault maps a window
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
