"""The full check of a snapshot file: bbolt structure, sha256 trailer, etcd's records in bucket ``key``
and in every other bucket etcd parses when it restores or starts.

Returns problems as one-line strings (empty: healthy). Structure as bbolt's ``tx.Check`` sees it
(``bbolt.check``), then the trailer, then every record of bucket ``key``: a valid revision key, a
decodable KeyValue, ``mod_revision`` equal to the key's main revision for puts, revisions increasing;
then ``lease``, ``alarm``, ``members``, ``cluster``, ``auth*`` and ``meta`` (``etcd.startup``).

Bucket key's records are checked a batch of leaves at a time (``_sound``: the keys read in place, every
value parsed in one call); a batch it cannot vouch for whole is checked record by record with the rule
(``_record_problem``), so the problems are always the rule's, in key order.

In one process (``parallel`` False) the records are checked on the structure check's walk (``_Vouch``:
``bbolt.check`` hands over each leaf's elements as it decodes them), so each page is read once; only
when that walk finds a batch of bucket key it cannot vouch for are the records walked again in key
order (``_records``), which gives the rule's problems in the rule's order: the same answer either way.
"""

import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from operator import sub

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

    The structure is checked first; only a sound structure has its records checked (in one process on
    the structure check's walk, ``_Vouch``). The trailer's
    sha256 is computed in a thread meanwhile (hashing and file reads release the GIL). With ``parallel``
    the structure check runs in a forked child while this process checks the records: the answer is
    the serial one (structure problems, else the records' and the other buckets' problems; an error
    the structure check raises is raised), the records' findings are dropped when the structure fails.
    """
    with _Trailer(snap, verify_trailer) as trailer:
        if not parallel or not process.may_fork():
            vouch = _Vouch(progress)
            problems = list(check_pages(snap.pages, MAX_PROBLEMS, leaves=vouch)) + trailer.problems()
            if problems:
                return problems
            if vouch.sound:
                key_bucket = _key_bucket(snap)
                if not isinstance(key_bucket, list):  # every leaf of bucket key was vouched for on the walk
                    return _other_buckets(snap, [])
            return _records(snap, None)
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


class _Vouch:
    """The structure check's ``leaves``: whether every batch of bucket key it read passes ``_sound``."""

    def __init__(self, progress: Callable[[int], None] | None):
        self.progress = progress
        self.sound = True

    def __call__(self, bucket: str, data, ks: list[int], vs: list[int], ends: list[int]) -> None:
        if bucket != "key":
            return
        if self.progress is not None:
            self.progress(len(ks))
        if self.sound and not _sound(data, ks, vs, ends):
            self.sound = False  # the records are walked again in key order for the rule's problems


def _key_bucket(snap: Snapshot):
    """_key_bucket is bucket ``key``, or the problem list that its absence (or a broken root) makes."""
    try:
        key_bucket = snap.root.bucket(schema.KEY)
    except SnapshotError as e:
        return [str(e)]
    if key_bucket is None:
        return ["no 'key' bucket: not an etcd backend"]
    return key_bucket


def _records(snap: Snapshot, progress: Callable[[int], None] | None) -> list[str]:
    """_records checks every record of bucket ``key`` and then the buckets etcd parses at start-up."""
    found = _Found()
    key_bucket = _key_bucket(snap)
    if isinstance(key_bucket, list):
        return key_bucket
    try:
        for batch in key_bucket.leaf_batches(most=RELEASE_EVERY):  # batches of at most 16 leaves
            snap.pages.release()  # the leaves are scattered (new ones at the end): a byte window keeps too many
            if progress is not None:
                progress(len(batch.ks))
            _check(batch.raw, batch.ks, batch.vs, batch.ends, found)
    except SnapshotError as e:
        found.problems.append(str(e))
    problems = found.problems
    if found.bad > MAX_PROBLEMS:
        problems.append(f"{found.bad - MAX_PROBLEMS} more bad records in bucket key")
    return _other_buckets(snap, problems)


def _other_buckets(snap: Snapshot, problems: list[str]) -> list[str]:
    """_other_buckets adds the problems of the buckets etcd parses at start-up (``etcd.startup``) to ``problems``."""
    try:
        for p in startup.problems(snap):
            if len(problems) >= MAX_PROBLEMS:
                break
            problems.append(p)
    except SnapshotError as e:
        problems.append(str(e))
    return problems


class _Found:
    """The bad records found so far: the first MAX_PROBLEMS as messages, and how many in all."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.bad = 0

    def add(self, problem: str) -> None:
        self.bad += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"bucket key: {problem}")


def _check(raw, ks: list[int], vs: list[int], ends: list[int], found: _Found) -> None:
    """_check checks the records whose keys are ``raw[ks[i]:vs[i]]`` and values ``raw[vs[i]:ends[i]]`` (in order).

    ``_sound`` first (whole arrays at once); where it cannot vouch, record by record (``_record_problem``),
    which is the rule: the answer is the record-by-record one either way.
    """
    if _sound(raw, ks, vs, ends):
        return
    for k, v, e in zip(ks, vs, ends):
        problem = _record_problem(raw[k:v], raw[v:e])
        if problem is not None:
            found.add(problem)


def _record_problem(k: bytes, v: bytes) -> str | None:
    """_record_problem is what is wrong with one record of bucket key (None: nothing), the rule the check applies.

    A valid revision key; a decodable KeyValue; for a put, ``mod_revision`` equal to the key's main
    revision. A put with an empty value is etcd 3.6's revision-bump marker (nothing to decode).
    """
    try:
        if len(k) == revcodec.REV_BYTES_LEN and k[8] == 0x5F and k[0] < 0x80:  # the common case, inline
            tomb = False
            main = int.from_bytes(k[:8], "big")
        else:
            rev, tomb = revcodec.decode(k)
            main = rev.main
        if not v and not tomb:
            return None  # etcd 3.6's revision-bump marker
        mod = kvcodec.mod_revision_of(v)
        if not tomb and mod != main:
            return f"record at revision {main}: mod_revision {mod}"
    except SnapshotError as e:
        return str(e)
    return None


_REV_AT = struct.Struct(">QcQ").unpack_from  # a revision key's main, separator, sub (revision.decode's layout)
_NEGATIVE = 1 << 63
_KEY_LENGTHS = frozenset((revcodec.REV_BYTES_LEN, revcodec.MARKED_REV_BYTES_LEN))


def _sound(raw, ks: list[int], vs: list[int], ends: list[int]) -> bool:
    """_sound is True only if every record passes ``_record_problem`` (False: look record by record).

    Whole arrays at a time: every key is 17 bytes, or 18 ending in the tombstone mark; every separator is
    ``_`` and no revision negative (stricter than the rule, which reads no put's sub); every value parses
    as a KeyValue (an empty one too, which the rule skips for puts: then its mod_revision 0 must equal
    the main revision or the records are looked at one by one); every put's mod_revision is its main
    revision. ``tests/etcd/test_fsck_records.py`` compares it with the rule on damaged pages.
    """
    if not ks:
        return True
    lens = set(map(sub, vs, ks))
    if not lens <= _KEY_LENGTHS:
        return False
    mains, seps, subs = zip(*map(_REV_AT, repeat(raw), ks))  # each key read in place
    if seps.count(b"_") != len(seps) or max(mains) >= _NEGATIVE or max(subs) >= _NEGATIVE:
        return False
    try:
        mods = kvcodec.mod_revisions_of(map(raw.__getitem__, map(slice, vs, ends)))
    except SnapshotError:
        return False
    if revcodec.MARKED_REV_BYTES_LEN not in lens:
        return mods == list(mains)
    return all(mod == main if v - k == revcodec.REV_BYTES_LEN else raw[k + 17] == revcodec.TOMBSTONE_MARK
               for k, v, main, mod in zip(ks, vs, mains, mods))
