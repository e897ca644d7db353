"""Comparing two ``key`` buckets record by record in revision order: which user keys can differ, and their latest records.

Two snapshots share most of their history: a rewrite in place keeps every revision and changes a few
records' values. ``differing_keys`` walks both buckets side by side in bbolt key (revision) order and
returns the user keys of every record that is not the same in both: a revision only one side holds, or
the same revision with other value bytes. A leaf page whose bytes (after its page id) equal the other
side's current leaf is skipped whole: same elements and same key/value bytes mean the same records.

Why that is enough to compare latest records: a user key none of whose records differs has the very
same records in both buckets (same revisions, same bytes), so its latest record (live or tombstone) is
the same too. Only the keys ``differing_keys`` returns need their latest records looked up
(``latest_compact``), each side on its own.

Memory: nothing is kept per record; the mapped pages passed are released every ``RELEASE_EVERY``
leaves (the walk can jump between distant pages of a rewritten file, and each fault maps a whole
read-around window).
"""

from array import array
from bisect import bisect_left
from collections.abc import Callable

from ..bbolt.tree import Bucket, read_leaf
from . import kv as kvcodec
from . import revision as revcodec

Progress = Callable[[int], None] | None
RELEASE_EVERY = 16  # leaves walked between releases of a mapping's resident pages
BAD = 255  # Latest's length byte of a slot whose last bbolt key is no revision key


def _user_key(v) -> bytes | None:
    """_user_key is the user key of a record's value (None for etcd 3.6's empty revision-bump marker)."""
    return kvcodec.key_of(v) if len(v) else None


class _Side:
    """One bucket's leaves in key order, with the current leaf's records decoded only when needed."""

    def __init__(self, bucket: Bucket):
        self.pf = bucket.pf
        self.leaves = bucket.leaf_pages()
        self.n = 0
        self.buf = None
        self.recs: list | None = None  # the current leaf's (revkey bytes, value view), once decoded
        self.i = 0
        self.advance()

    def advance(self) -> None:
        """advance moves to the next leaf (``buf`` None at the end)."""
        nxt = next(self.leaves, None)
        self.n += 1
        if self.n % RELEASE_EVERY == 0:
            self.pf.release()
        if nxt is None:
            self.buf, self.recs = None, None
            return
        pgid, h, buf = nxt
        self.pgid, self.count, self.buf = pgid, h.count, buf
        self.recs, self.i = None, 0

    def records(self) -> list:
        if self.recs is None:
            self.recs = [(it.key.tobytes(), it.value) for it in read_leaf(self.buf, self.count, self.pgid or None)]
        return self.recs

    def settle(self) -> None:
        """settle moves past leaves whose records were all consumed, so a fresh leaf can be compared whole."""
        while self.recs is not None and self.i >= len(self.recs):
            self.advance()

    def current(self):
        """current is the record under the cursor (moving past exhausted leaves), or None at the end."""
        while self.buf is not None:
            recs = self.records()
            if self.i < len(recs):
                return recs[self.i]
            self.advance()
        return None


def differing_keys(a: Bucket, b: Bucket, progress: Progress = None,
                   add: Callable[[bytes], object] | None = None) -> set[bytes] | None:
    """differing_keys returns the user key of every record that differs between two ``key`` buckets.

    A record differs when its revision (bbolt key) is in one bucket only, or in both with other value
    bytes; both sides' user keys are returned then. Empty values (revision-bump markers) belong to no key.
    With ``add`` each key goes to it as it is found instead (a key may come more than once) and the
    answer is None: a caller that keeps the keys elsewhere (a dict's ``setdefault``) holds no second set.
    """
    out: set[bytes] | None = set() if add is None else None
    if add is None:
        add = out.add
    sa, sb = _Side(a), _Side(b)
    while True:
        sa.settle()
        sb.settle()
        if sa.i == 0 and sb.i == 0 and sa.buf is not None and sb.buf is not None:
            ba, bb = sa.buf, sb.buf
            if len(ba) == len(bb) and ba[8:].tobytes() == bb[8:].tobytes():  # same flags, count, elements, bytes
                if progress is not None:
                    progress(sa.count)
                sa.advance()
                sb.advance()
                continue
        ra, rb = sa.current(), sb.current()
        if ra is None and rb is None:
            return out
        if rb is None or (ra is not None and ra[0] < rb[0]):
            k = _user_key(ra[1])
            if k is not None:
                add(k)
            sa.i += 1
        elif ra is None or rb[0] < ra[0]:
            k = _user_key(rb[1])
            if k is not None:
                add(k)
            sb.i += 1
        else:
            va, vb = ra[1], rb[1]
            if len(va) != len(vb) or va.tobytes() != vb.tobytes():
                for v in (va, vb):
                    k = _user_key(v)
                    if k is not None:
                        add(k)
            sa.i += 1
            sb.i += 1
        if progress is not None:
            progress(1)


def _leaves_released(bucket: Bucket, progress: Progress = None):
    """_leaves_released yields (pgid, (flags, key, value) triples) per leaf of ``bucket`` in key order, releasing the
    mapping's resident pages every ``RELEASE_EVERY`` leaves (batches no bigger than a release's window)."""
    pf = bucket.pf
    n = 0
    for pgid, _run, pairs in bucket.leaf_runs_at(RELEASE_EVERY):
        n += 1
        if n % RELEASE_EVERY == 0:
            pf.release()
        yield pgid, pairs
        if progress is not None:
            progress(len(pairs))


class Slots:
    """Slots numbers a set of keys by their sorted order, without a dict of numbers: ``keys`` sorted (a reference
    each) and ``members`` (the set of them); a key's slot is its place in ``keys``, found by a search.

    At 8 GiB verify numbers about a million keys: a dict of them to their numbers held ~75 MB (each number an
    int object), the set and the list ~40 MB. Reads as that dict (``get``, ``[]``, ``items``, ``len``).
    """

    def __init__(self, members: set[bytes]):
        self.members: set[bytes] | None = members
        self.keys = sorted(members)
        self._last: bytes | None = None  # the key found last (a reader asks for a key's record, then its leaf)
        self._slot = 0

    def get(self, key: bytes, default=None):
        if key is self._last:
            return self._slot
        if self.members is None:  # released: the search alone tells
            at = bisect_left(self.keys, key)
            if at == len(self.keys) or self.keys[at] != key:
                return default
        elif key in self.members:
            at = bisect_left(self.keys, key)
        else:
            return default
        self._last, self._slot = key, at
        return at

    def release_members(self) -> None:
        """release_members drops the set once the walks that test every record's key are done: lookups then search
        the sorted list alone (at 8 GiB the set's table is ~33 MB)."""
        self.members = None

    def __getitem__(self, key: bytes) -> int:
        slot = self.get(key)
        if slot is None:
            raise KeyError(key)
        return slot

    def __contains__(self, key) -> bool:
        return self.get(key) is not None

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self):
        return iter(self.keys)

    def items(self):
        return zip(self.keys, range(len(self.keys)))


class Latest:
    """Latest is ``mvcc.latest_index`` restricted to some keys, kept compact: each key's last record as a slot in two flat arrays.

    At 8 GiB a rewrite differs in ~600k keys; a dict of bbolt keys per side plus ``leaf_hints`` held
    ~100 MB each. Here the keys share one ``slots`` dict (key -> slot, both sides), and each side keeps
    per slot the bbolt key (``REV`` bytes: its length, then the key) and its leaf's page id.
    Reads as a mapping of the keys whose latest record is live (not a tombstone) to that record's bbolt key.
    """

    REV = 1 + revcodec.MARKED_REV_BYTES_LEN

    def __init__(self, slots: "dict[bytes, int] | Slots"):
        self.slots = slots
        self.revs = bytearray(self.REV * len(slots))  # length 0: no record of that key
        self.leaves = array("q", bytes(8 * len(slots)))

    def live(self, slot: int) -> bool:
        """live tells whether the key of ``slot`` is in the mapping: its latest record is there and no tombstone."""
        n = self.revs[slot * self.REV]
        return n != 0 and n != revcodec.MARKED_REV_BYTES_LEN

    def _rev(self, slot: int) -> bytes | None:
        at = slot * self.REV
        n = self.revs[at]
        if n == 0:
            return None
        rk = bytes(self.revs[at + 1 : at + 1 + n])
        return None if n == revcodec.MARKED_REV_BYTES_LEN else rk  # a tombstone: deleted

    def __getitem__(self, key: bytes) -> bytes:
        rk = self._rev(self.slots[key])
        if rk is None:
            raise KeyError(key)
        return rk

    def __contains__(self, key) -> bool:
        slot = self.slots.get(key)
        return slot is not None and self._rev(slot) is not None

    def __iter__(self):
        return (k for k, slot in self.slots.items() if self._rev(slot) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def leaf(self, key: bytes) -> int:
        """leaf is the page id of the leaf that holds ``key``'s latest record (a hint for ``Bucket.get``)."""
        return self.leaves[self.slots[key]]


def latest_compact(bucket: Bucket, slots: "dict[bytes, int] | Slots", progress: Progress = None) -> Latest:
    """latest_compact is the last record of each key of ``slots`` (key -> slot) as a ``Latest`` (one walk of ``bucket``);
    nothing is added to ``leaf_hints``."""
    out = Latest(slots)
    revs, leaves, width = out.revs, out.leaves, Latest.REV
    key_of = kvcodec.key_of
    get = slots.get
    members = slots.members if isinstance(slots, Slots) else slots  # most records' keys are not wanted: one test
    ordered = slots.keys if isinstance(slots, Slots) else None  # a wanted key's slot: its place, searched here
    bad: dict[int, bytes] = {}  # slot -> a bbolt key of another length than a revision's (raised if it is the latest)
    for pgid, pairs in _leaves_released(bucket, progress):
        for _f, k, v in pairs:
            if not v:
                continue  # etcd 3.6's revision-bump marker
            key = key_of(v)
            if key in members:
                slot = bisect_left(ordered, key) if ordered is not None else get(key)
                size = len(k)
                at = slot * width
                if size in (revcodec.REV_BYTES_LEN, revcodec.MARKED_REV_BYTES_LEN):
                    revs[at] = size
                    revs[at + 1 : at + 1 + size] = k
                else:
                    revs[at] = BAD
                    bad[slot] = k.tobytes()
                leaves[slot] = pgid
    for slot, revkey in bad.items():
        if revs[slot * width] == BAD:
            revcodec.decode(revkey)  # raises SchemaError naming the bad key
    return out
