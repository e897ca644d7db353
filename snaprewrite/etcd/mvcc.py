"""etcd's multi-version store as recorded in bucket ``key``: records, latest live revisions, history.

Bucket ``key`` maps revision keys (see ``revision``) to ``mvccpb.KeyValue`` records, in revision
order. A user key's life is a sequence of generations: puts with increasing ``version`` starting at
1 (``create_revision`` = the first put's revision), ended by a tombstone (deletion). Example:
  rev 5 put a (create 5, version 1); rev 6 put a (create 5, version 2); rev 7 delete a (tombstone);
  rev 9 put a (create 9, version 1).
At revision 8 ``a`` does not exist; the latest live record is the one at 9.
A record with an empty value is etcd 3.6's revision-bump marker (``snapshot restore --bump-revision``):
it belongs to no key and is skipped by every scan here.
Compaction (``meta`` bucket: ``scheduledCompactRev``/``finishedCompactRev``) removes records older
than the compact revision, keeping each key's latest record at or before it unless that is a tombstone.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import add, itemgetter, le, ne, not_

from ..errors import KeyNotFoundError, SchemaError
from . import kv as kvcodec
from . import revision as revcodec
from . import schema
from .revision import Revision
from .snapshot import Snapshot

Progress = Callable[[int], None] | None
Visit = Callable[[bytes, memoryview, memoryview], None] | None
# visit_page(run, records): one leaf's records (user key, bbolt key, value), those with a value, in order,
# and the leaf's contiguous key/value bytes (``bbolt.tree.Bucket.leaf_runs``; None when not laid out so)
VisitPage = Callable[[memoryview | None, list[tuple[bytes, memoryview, memoryview]]], None] | None
# visit_batch(batch, user_keys): a batch of leaves (``bbolt.tree.LeafBatch``) with each record's user key (None
# for a record without a value), in order: a reader that searches the batch's bytes itself
VisitBatch = Callable[[object, list[bytes | None]], None] | None
# leaves(batch): each batch of leaves (``bbolt.tree.LeafBatch``) as walked, with none of its records decoded (no user
# keys are made for it): a reader that needs only where the records lie
Leaves = Callable[[object], None] | None
PROGRESS_STEP = 4096  # records between progress callbacks (scan_index relies on it being 4096)


@dataclass(frozen=True, slots=True)  # (one per record a plan or batch holds)
class Record:
    """One entry of bucket ``key``: its revision, whether it is a deletion, and the KeyValue."""

    revision: Revision
    tombstone: bool
    kv: kvcodec.KeyValue


@dataclass(frozen=True)
class CompactState:
    """The compaction revisions stored in bucket ``meta`` (0 when absent) and the consistent index."""

    scheduled: int
    finished: int
    consistent_index: int
    term: int


def compact_state(snap: Snapshot) -> CompactState:
    """compact_state reads the compaction revisions, consistent index and term from bucket ``meta``."""
    meta = snap.bucket(schema.META)

    def rev(name: bytes) -> int:
        v = meta.get(name) if meta is not None else None
        return revcodec.decode(v)[0].main if v is not None else 0

    def u64(name: bytes) -> int:
        v = meta.get(name) if meta is not None else None
        if v is None:
            return 0
        if len(v) != 8:
            raise SchemaError(f"meta {name.decode()}: {len(v)} bytes, want 8")
        return int.from_bytes(v, "big")

    return CompactState(rev(schema.SCHEDULED_COMPACT_REV), rev(schema.FINISHED_COMPACT_REV),
                        u64(schema.CONSISTENT_INDEX), u64(schema.TERM))


def records(snap: Snapshot, progress: Progress = None) -> Iterator[Record]:
    """records yields every record of bucket ``key`` in revision order, decoded."""
    n = 0
    for _flags, k, v in snap.key_bucket().iter_raw():
        n += 1
        if not v:
            continue
        rev, tomb = revcodec.decode(k)
        yield Record(rev, tomb, kvcodec.decode(v))
        if progress is not None and n % PROGRESS_STEP == 0:
            progress(PROGRESS_STEP)


def is_tombstone(revkey: bytes) -> bool:
    """is_tombstone tells whether a bbolt key of bucket ``key`` marks a deletion (18 bytes, ``t``)."""
    return len(revkey) == revcodec.MARKED_REV_BYTES_LEN


def latest_index(snap: Snapshot, prefix: bytes | tuple[bytes, ...] | None = b"",
                 progress: Progress = None, visit: Visit = None, histories=None,
                 visit_page: VisitPage = None, hint_leaves: bool = False,
                 visit_batch: VisitBatch = None, visit_skip: tuple[bytes, ...] = (),
                 leaves: Leaves = None) -> dict[bytes, bytes]:
    """latest_index maps every user key (under ``prefix``, or any of several) to the bbolt key of its last record.

    A deleted key maps to its tombstone's 18-byte key (``is_tombstone``). One pass over bucket ``key``;
    only the user key of each record is decoded and revisions stay raw bytes (the hot loop).
    """
    return scan_index(snap.key_bucket(), prefix, progress, visit=visit, histories=histories,
                      visit_page=visit_page, hint_leaves=hint_leaves, visit_batch=visit_batch,
                      visit_skip=visit_skip, leaves=leaves)[0]


def scan_index(bucket, prefix: bytes | tuple[bytes, ...] | None = b"", progress: Progress = None,
               crc: Callable[[bytes, int], int] | None = None, h: int = 0,
               visit: Visit = None, histories=None,
               visit_page: VisitPage = None, hint_leaves: bool = False,
               marker: bytes | None = None,
               visit_batch: VisitBatch = None,
               visit_skip: tuple[bytes, ...] = (),
               leaves: Leaves = None) -> tuple[dict[bytes, bytes], int, int, bytes | None]:
    """scan_index is ``latest_index`` over a ``key`` bucket that can also fold every key and value into ``crc``.

    Returns (index, crc value, record count, last bbolt key): what ``etcdutl snapshot status`` needs
    from bucket ``key`` and the live keys, in the same single pass. ``prefix`` None indexes nothing;
    ``visit(user_key, revkey, value)`` sees every record with a value, in revision order (so other
    readers of the whole bucket can share this pass); ``visit_page(run, records)`` sees them a leaf at a
    time with the leaf's raw bytes, so a reader can search a whole page at once. ``histories`` (an ``etcd.writes.Histories``)
    gets the bbolt key of every record of the indexed keys under its prefixes, in revision order. With
    ``marker``, ``visit`` sees only the records whose bytes contain it (leaf runs without it are skipped
    with one search). ``hint_leaves`` notes in ``bucket.element_hints`` where each indexed key's latest record
    lies in the file (``bbolt.tree.pack_hint``; in an inline page: its leaf, ``leaf_hints``), so reading
    those records later (``record_at``) is one read of the file (``Bucket.get_hinted``), without a descent from
    the root or a page search.
    ``visit_batch(batch, user_keys)`` sees the records a batch of leaves at a time (see ``VisitBatch``).
    ``visit_skip``: ``visit`` does not see the records whose user key starts with one of these prefixes (a
    reader that wants none of them is then called for the few others only; not with ``marker``).
    ``leaves(batch)`` sees each batch of leaves with records as walked, before (and without) any user key of it.
    """
    index: dict[bytes, bytes] = {}
    hist_prefixes = histories.prefixes if histories is not None else ()
    hist = histories.revkeys if histories is not None else None
    # hint_leaves: each indexed key's place (``bbolt.tree.pack_hint``, or its leaf in an inline page), noted as
    # ``index`` is, and given to the bucket's hints at the end: only the latest record's is kept
    where: dict[bytes, int | None] | None = {} if hint_leaves else None
    in_file = bucket.pf.data.obj if bucket.root != 0 else None
    startswith = bytes.startswith
    if isinstance(prefix, tuple):  # a prefix under another selects nothing more: each key is tried against fewer
        prefix = tuple(p for p in dict.fromkeys(prefix) if not any(p != q and p.startswith(q) for q in prefix))
    n = 0
    last: bytes | None = None
    # no observer: only the records under ``prefix`` need their user key (``Column``: one byte of each key first)
    column = (Column(prefix) if prefix and all(prefix if isinstance(prefix, tuple) else (prefix,)) and visit is None
              and visit_page is None and visit_batch is None else None)  # (an empty prefix in a tuple: every key)
    for b in bucket.leaf_batches():
        raw, view, ks, vs, ends = b.raw, b.view, b.ks, b.vs, b.ends
        count = len(ks)
        n += count
        chosen = None
        if count:
            if leaves is not None:
                leaves(b)
            last = raw[ks[-1] : vs[-1]]
            if prefix is None and visit is None and visit_page is None and visit_batch is None:
                if progress is not None:
                    progress(count)
                if crc is not None:
                    h = _fold(crc, h, b)
                continue
            chosen = column.keys_under(raw, vs, ends) if column is not None else None
            ukeys = user_keys(raw, view, vs, ends) if chosen is None else None
            complete = chosen is not None or None not in ukeys  # etcd 3.6's revision-bump markers have no value, and no user key
        else:
            ukeys, complete = [], True
        runs = b.runs() if crc is not None or visit_page is not None else None
        if crc is not None:
            h = _fold(crc, h, b, runs)
        if visit is not None and count and visit_skip and marker is None:  # the records under no skipped prefix
            us = ukeys if complete else [visit_skip[0] if u is None else u for u in ukeys]
            if not all(map(startswith, us, repeat(visit_skip))):  # (usually none: one pass, no list)
                for x in compress(range(count), map(not_, map(startswith, us, repeat(visit_skip)))):
                    visit(ukeys[x], view[ks[x] : vs[x]], view[vs[x] : ends[x]])
        elif visit is not None and count and (marker is None or _may_hold(raw, marker, b.span(), ks, ends)):
            i = 0
            for run, c in zip(runs if runs is not None else b.runs(), b.counts):
                j = i + c
                if marker is None or run is None or raw.find(marker, run[0], run[1]) >= 0:  # a leaf at a time
                    for x in range(i, j):
                        u = ukeys[x]
                        if u is not None and (marker is None or raw.find(marker, vs[x], ends[x]) >= 0):
                            visit(u, view[ks[x] : vs[x]], view[vs[x] : ends[x]])
                i = j
        if visit_batch is not None and count:
            visit_batch(b, ukeys)
        if visit_page is not None:
            recs = list(zip(ukeys, map(view.__getitem__, map(slice, ks, vs)),
                            map(view.__getitem__, map(slice, vs, ends))))
            i = 0
            for run, c in zip(runs, b.counts):
                j = i + c
                visit_page(view[run[0] : run[1]] if run is not None else None,
                           recs[i:j] if complete else [r for r in recs[i:j] if r[0] is not None])
                i = j
        if progress is not None:
            progress(count)
        if prefix is None or not count:
            continue
        if complete and not prefix and where is None and not hist_prefixes:  # every record, nothing else to note
            index.update(zip(ukeys, map(raw.__getitem__, map(slice, ks, vs))))
            continue
        if complete and not prefix:
            us, kx, vx, ex, fx = ukeys, ks, vs, ends, b.flags
        else:
            if chosen is not None:
                sel = chosen[0]
            elif not prefix:
                sel = [x for x in range(count) if ukeys[x] is not None]
            elif complete:
                sel = list(compress(range(count), map(startswith, ukeys, repeat(prefix))))
            else:
                sel = [x for x in range(count) if ukeys[x] is not None and ukeys[x].startswith(prefix)]
            if not sel:
                continue
            pick = _picker(sel)
            us, kx, vx = pick(ukeys) if chosen is None else chosen[1], pick(ks), pick(vs)
            if where is not None:
                ex, fx = pick(ends), pick(b.flags)
        rks = list(map(raw.__getitem__, map(slice, kx, vx)))
        index.update(zip(us, rks))
        if where is not None:  # where each record lies (the last of a key's wins, as in ``index``): see below
            if raw is not in_file:  # an inline page: its leaf to search (pgid 0)
                leaf_of = list(chain.from_iterable(map(repeat, b.pgids, b.counts)))
                where.update(zip(us, leaf_of if us is ukeys else map(leaf_of.__getitem__, sel)))
            elif any(fx):  # (a sub-bucket's element is never hinted)
                where.update(zip(us, [None if f else k << 64 | (v - k) << 32 | (e - v) for f, k, v, e in zip(fx, kx, vx, ex)]))
            else:  # bbolt.tree.pack_hint (one comprehension: a quarter faster than six maps of big ints)
                where.update(zip(us, [k << 64 | (v - k) << 32 | (e - v) for k, v, e in zip(kx, vx, ex)]))
        if hist_prefixes:
            for u, rk in compress(zip(us, rks), map(startswith, us, repeat(hist_prefixes))):
                _note_history(hist, u, rk)
    if where:  # ``index`` and ``where`` got the same keys in the same order: their values pair up
        hints = bucket.element_hints if in_file is not None and bucket.root != 0 else bucket.leaf_hints
        pairs = zip(index.values(), where.values())
        hints.update(pairs if None not in where.values() else [p for p in pairs if p[1] is not None])
    if not set(map(len, index.values())) <= {revcodec.REV_BYTES_LEN, revcodec.MARKED_REV_BYTES_LEN}:
        for revkey in index.values():
            if len(revkey) not in (revcodec.REV_BYTES_LEN, revcodec.MARKED_REV_BYTES_LEN):
                revcodec.decode(revkey)  # raises SchemaError naming the bad key
    return index, h, n, last


def _picker(positions: list[int]) -> Callable[[list], tuple]:
    """_picker is a function giving the items of a sequence at ``positions`` as a tuple (``itemgetter``, which
    gives one item alone when there is one position)."""
    if len(positions) > 1:
        return itemgetter(*positions)
    i = positions[0]
    return lambda seq: (seq[i],)


def _note_history(hist: dict, key: bytes, revkey: bytes) -> None:
    """_note_history appends ``revkey`` to ``key``'s history: the bbolt key itself while it is the only one, else a list
    (``etcd.writes.Histories``; most keys have one record: 334k lists at 8 GiB weighed ~25 MB)."""
    old = hist.get(key)
    if old is None:
        hist[key] = revkey
    elif type(old) is bytes:
        hist[key] = [old, revkey]
    else:
        old.append(revkey)


def _fold(crc: Callable[[bytes, int], int], h: int, b, runs: list | None = None) -> int:
    """_fold folds every key and value of a batch of leaves into ``crc``, in element order.

    A leaf laid out back to back is one call over its run; any other leaf goes element by element.
    """
    view, ks, vs, ends = b.view, b.ks, b.vs, b.ends
    i = 0
    for run, c in zip(runs if runs is not None else b.runs(), b.counts):
        if run is not None:
            h = crc(view[run[0] : run[1]], h)
        else:
            for k, v, e in zip(ks[i : i + c], vs[i : i + c], ends[i : i + c]):
                h = crc(view[v:e], crc(view[k:v], h))
        i += c
    return h


def _may_hold(raw, marker: bytes, span: tuple[int, int], ks: list[int], ends: list[int]) -> bool:
    """_may_hold is False when no record of a batch can hold ``marker``: one search of the bytes around them.

    A batch's leaves are usually neighbours in the file; when they lie far apart the span is not searched
    (True: each record is searched instead).
    """
    lo, hi = span
    if hi - lo > 2 * (sum(ends) - sum(ks)) + (64 << 10):
        return True
    return raw.find(marker, lo, hi) >= 0


def user_keys(raw, view: memoryview, vs: list[int], ends: list[int]) -> list[bytes | None]:
    """user_keys returns the user key (KeyValue field 1) of each record of a leaf, None for an empty value.

    ``raw``/``view`` and the value offsets come from ``bbolt.tree.Bucket.leaf_spans``: ``user_keys_at``'s keys
    where its fast path applies, else record by record through ``kv.key_of`` (``user_keys_plain``, the
    reference). ``tests/etcd/test_scan_fast.py`` checks both give the same keys.
    """
    fast = user_keys_at(raw, vs, ends)
    return fast[0] if fast is not None else user_keys_plain(view, vs, ends)


def user_keys_at(raw, vs: list[int], ends: list[int]) -> tuple[list[bytes], list[int], bytes] | None:
    """user_keys_at is (keys, where each starts in ``raw``, their lengths) of a leaf's records whose values all
    start with the key (field 1) and a one-byte length, as etcd writes them (keys under 128 bytes); else None.

    Whole-array operations: every value's tag and length come in one ``itemgetter`` call, every key in
    one ``map``. Also None for a leaf without records or with an empty value (its first bytes are its neighbour's,
    or past the end: each key must lie inside its value).
    """
    if not vs:
        return None
    spans = _key_spans(raw, vs, ends)
    if spans is None:
        return None
    starts, lens, stops = spans
    # (each key sliced by ``map``: an ``itemgetter`` of every slice first builds a tuple of them all, a quarter slower)
    keys = list(map(raw.__getitem__, map(slice, starts, stops)))
    return keys, starts, lens


def _key_spans(raw, vs: list[int], ends: list[int]) -> tuple[list[int], bytes, list[int]] | None:
    """_key_spans is (starts, lengths, stops) of the user keys of a batch's records (``vs`` not empty) where every
    value starts with field 1 and a one-byte length and each key ends inside its value; else None.

    Whole-array operations: every value's tag and length come in one ``itemgetter`` call (``user_keys_at`` and
    ``Column.keys_under`` share this test).
    """
    count = len(vs)
    v1 = [v + 1 for v in vs]  # (comprehensions: these two cost 8% less than ``list(map(add, ..., repeat(1)))``)
    try:
        head = bytes(itemgetter(*vs, *v1)(raw))  # every tag, then every length
    except IndexError:
        return None
    if head.count(0x0A, 0, count) != count or max(head) >= 0x80:
        return None
    starts = [v + 2 for v in vs]
    lens = head[count:]
    stops = list(map(add, starts, lens))
    if not all(map(le, stops, ends)):
        return None
    return starts, lens, stops


class Column:
    """Column picks the records of a leaf batch whose user key starts with one of ``prefixes`` (``scan_index`` without
    observers), making the user key of those records only: most of bucket ``key`` lies under no prefix a plan asks
    for (Events, Pods, Leases, ...), and a key made only to be refused costs more than the test below.

    The test: the byte of each key at one position ``at`` (shorter than every prefix), gathered for the whole batch
    in one ``itemgetter`` call, is one that some prefix has there; the few records that pass are then compared whole.
    ``at`` is chosen on a sample of keys (every ``RESAMPLE`` batches) as the position that lets the fewest through;
    any position gives the same records (a key shorter than ``at`` has another byte there and is compared whole),
    only the cost changes. ``tests/etcd/test_scan_fast.py`` checks the records and keys equal the plain path's.
    """

    RESAMPLE = 128  # batches between two choices of ``at``
    SAMPLE = 256  # keys a choice looks at

    def __init__(self, prefixes: bytes | tuple[bytes, ...]):
        self.prefixes = prefixes
        ps = (prefixes,) if isinstance(prefixes, bytes) else prefixes
        shortest = min(map(len, ps))
        # per position: a 256-byte table, 1 for a byte some prefix has there
        self.tables = [bytes(int(any(p[j] == c for p in ps)) for c in range(256)) for j in range(shortest)]
        self.at = 0
        self.batches = 0

    def keys_under(self, raw, vs: list[int], ends: list[int]) -> tuple[list[int], list[bytes]] | None:
        """keys_under is (positions, user keys) of a batch's records under the prefixes, in order; None where
        ``user_keys_at``'s fast path does not apply (the caller then makes every key)."""
        count = len(vs)
        spans = _key_spans(raw, vs, ends)
        if spans is None:
            return None
        starts, _, stops = spans
        if self.batches % self.RESAMPLE == 0:
            self._choose(raw, starts, stops)
        self.batches += 1
        at = self.at
        try:
            col = bytes(itemgetter(*[s + at for s in starts])(raw)).translate(self.tables[at])
        except IndexError:
            return None
        cand = list(compress(range(count), col))
        if not cand:
            return [], []
        pick = _picker(cand)
        keys = list(map(raw.__getitem__, map(slice, pick(starts), pick(stops))))
        keep = list(map(bytes.startswith, keys, repeat(self.prefixes)))
        if all(keep):
            return cand, keys
        return list(compress(cand, keep)), list(compress(keys, keep))

    def _choose(self, raw, starts: list[int], stops: list[int]) -> None:
        """_choose sets ``at`` to the position whose byte lets the fewest of a sample of this batch's keys through."""
        step = max(1, len(starts) // self.SAMPLE)
        sample = [raw[s:e] for s, e in zip(starts[::step], stops[::step])]
        # (a tie goes to the position where the prefixes differ most: the sample may hold only keys under them)
        self.at = min(range(len(self.tables)), key=lambda j: (sum(1 for k in sample if len(k) <= j or self.tables[j][k[j]]),
                                                             -self.tables[j].count(1)))


def user_keys_plain(view: memoryview, vs: list[int], ends: list[int]) -> list[bytes | None]:
    """user_keys_plain is ``user_keys`` record by record (the plain path the fast one must equal)."""
    key_of = kvcodec.key_of
    return [key_of(view[v:e]) if e > v else None for v, e in zip(vs, ends)]


def live_keys(snap: Snapshot, prefix: bytes | tuple[bytes, ...] | None = b"",
              progress: Progress = None, visit: Visit = None, histories=None,
              visit_page: VisitPage = None, hint_leaves: bool = False,
              visit_batch: VisitBatch = None, visit_skip: tuple[bytes, ...] = (),
              leaves: Leaves = None) -> dict[bytes, bytes]:
    """live_keys maps each user key alive at the latest revision to the bbolt key of its last put.

    ``hint_leaves``: see ``scan_index`` (for callers that go on to read those keys' records).
    """
    index = latest_index(snap, prefix, progress, visit, histories, visit_page, hint_leaves, visit_batch, visit_skip, leaves)
    return dict(compress(index.items(), map(ne, map(len, index.values()), repeat(revcodec.MARKED_REV_BYTES_LEN))))


def record_at(snap: Snapshot, rev: Revision | bytes, tombstone: bool = False) -> Record:
    """record_at reads the record stored under one revision (a Revision, or its raw bbolt key)."""
    if isinstance(rev, (bytes, bytearray)):
        revkey = bytes(rev)
        rev, tombstone = revcodec.decode(revkey)
    else:
        revkey = revcodec.encode(rev, tombstone)
    bucket = snap.key_bucket()
    value = bucket.get_hinted(revkey)  # where the scan saw it (one read of the file), else the descent
    if value is None:
        value = bucket.get(revkey)
    if value is None:
        raise SchemaError(f"revision {rev.main}/{rev.sub} is missing from bucket 'key'")
    return Record(rev, tombstone, kvcodec.decode_fast(value))


def put_fields_at(snap: Snapshot, revkey: bytes) -> tuple[bytes, int, int, int, bytes, int] | None:
    """put_fields_at is ``record_at(snap, revkey).kv``'s fields as a tuple (``kv.decode_fields``), read the same way, for
    the plain bbolt key of a put (17 bytes, ``_`` between two int64s: what ``record_at`` decodes to a put's revision);
    None for any other key and for one that is not there (``record_at`` then names the error).

    No Revision, KeyValue or Record is made: a rule reading a value and editing it needs its fields only
    (``plan.Object.value``, ``writes.Write.of_fields``); ``tests/etcd/test_put_fields.py`` checks it equals ``record_at``.
    """
    if len(revkey) != revcodec.REV_BYTES_LEN or revkey[8] != 0x5F or revkey[0] >= 0x80 or revkey[9] >= 0x80:
        return None
    bucket = snap.key_bucket()
    value = bucket.get_hinted(revkey)
    if value is None:
        value = bucket.get(revkey)
        if value is None:
            return None
    return kvcodec.decode_fields(value)


def record_state(rec: Record, key: bytes, value: bool = True) -> tuple:
    """record_state is a record as plain values that pickle small (``record_from_state`` makes it again).

    ``key`` is the user key the record should hold (not repeated when it does); without ``value`` the
    stored value is left out (the record then comes back with an empty one).
    """
    kv = rec.kv
    return (rec.revision.main, rec.revision.sub, rec.tombstone, None if kv.key == key else kv.key,
            kv.create_revision, kv.mod_revision, kv.version, kv.value if value else b"", kv.lease)


def record_from_fields(revkey: bytes, fields: tuple) -> Record:
    """record_from_fields is the Record stored under ``revkey`` whose KeyValue has ``fields`` (``put_fields_at``)."""
    rev, tombstone = revcodec.decode(revkey)
    return Record(rev, tombstone, kvcodec.KeyValue(*fields))


def put_state(revkey: bytes, fields: tuple, key: bytes) -> tuple:
    """put_state is ``record_state(rec, key, value=False)`` of the record under ``revkey`` whose KeyValue has ``fields``
    (``put_fields_at``), made without the Record for a put's plain 17-byte key (``record_at``'s Record else)."""
    if len(revkey) == revcodec.REV_BYTES_LEN and revkey[8] == 0x5F and revkey[0] < 0x80 and revkey[9] < 0x80:
        k, create, mod, version, _value, lease = fields
        return (int.from_bytes(revkey[:8], "big"), int.from_bytes(revkey[9:], "big"), False, None if k == key else k,
                create, mod, version, b"", lease)
    return record_state(record_from_fields(revkey, fields), key, value=False)


def record_from_state(state: tuple, key: bytes) -> Record:
    """record_from_state is the Record of a ``record_state(rec, key)`` (its key bytes are ``key`` when equal)."""
    main, sub, tombstone, own_key, create, mod, version, value, lease = state
    return Record(Revision(main, sub), tombstone,
                  kvcodec.KeyValue(key if own_key is None else own_key, create, mod, version, value, lease))


def history(snap: Snapshot, key: bytes, progress: Progress = None) -> list[Record]:
    """history returns every stored record of ``key`` (puts and deletions), oldest first."""
    out = []
    key_of = kvcodec.key_of
    n = 0
    for _flags, k, v in snap.key_bucket().iter_raw():
        n += 1
        if progress is not None and n % PROGRESS_STEP == 0:
            progress(PROGRESS_STEP)
        if v and key_of(v) == key:
            rev, tomb = revcodec.decode(k)
            out.append(Record(rev, tomb, kvcodec.decode(v)))
    return out


def current_revision(snap: Snapshot) -> int:
    """current_revision is the store revision etcd would start at: last main revision or compaction."""
    last = snap.key_bucket().last_key()
    main = revcodec.decode(last)[0].main if last is not None else 0
    cs = compact_state(snap)
    return max(main, cs.scheduled, cs.finished)


def get(snap: Snapshot, key: bytes, at: int | None = None, progress: Progress = None) -> Record:
    """get returns ``key``'s record visible at revision ``at`` (latest by default), as etcd's Range would.

    Raises KeyNotFoundError when the key does not exist or is deleted at that revision, or when ``at``
    is compacted or in the future.
    """
    cur = current_revision(snap)
    cs = compact_state(snap)
    if at is not None:
        if at > cur:
            raise KeyNotFoundError(f"revision {at} is a future revision (current {cur})")
        if at < max(cs.scheduled, cs.finished):
            raise KeyNotFoundError(
                f"revision {at} has been compacted (compact revision {max(cs.scheduled, cs.finished)})")
    found: Record | None = None
    for rec in history(snap, key, progress):
        if at is not None and rec.revision.main > at:
            break
        found = rec
    shown = key.decode("utf-8", "replace")
    if found is None:
        raise KeyNotFoundError(f"key {shown} not found" + (f" at revision {at}" if at else ""))
    if found.tombstone:
        raise KeyNotFoundError(f"key {shown} was deleted at revision {found.revision.main}")
    return found
