"""Counting the live keys of bucket ``key`` without a dict of every key: ``status`` at any size in bounded memory.

``status`` needs of bucket ``key`` its hash and counts (``backend.stats``), how many user keys are alive
at the latest revision, how many of those fall in each class (a registry resource, named by the caller),
how many live values are sealed with each (provider, key name), and the latest bbolt key of a few keys
(the CNI's objects). ``mvcc.latest_index`` answers all of it with a dict of every user key, which at
8 GiB (5M keys) costs GiBs. Here each record costs 16 bytes, in one of ``PARTS`` partitions picked by
the hash of its user key: the hash, and one word packing where the user key lies in the file, its
length, whether the record is a tombstone, its seal kind and its class. A partition at a time (records in
revision order) finds each hash's last record; two records with one hash are proved to have one key by
comparing the key bytes in the file, and a true collision is resolved by those bytes: the answer is
exact, never probabilistic. ``count_plain`` is the dict-based reference (``tests/etcd/test_livecount.py``).

Both cores: this process and a forked child share the leaves in chunks, each taking the next chunk as it
finishes one (``liveshare``); they swap half their partitions and each resolves half. The records of a
partition are kept in pieces tagged with their chunk, so the two processes' pieces are put back in
revision order by chunk, and the bucket hash is put together from the chunks' CRCs in chunk order
(``crc32c_combine``). A bucket this index cannot hold
(a user key of 4 KiB or more, more than 1023 classes or 15 seal kinds, a file of 128 GiB or more, a bbolt
key that is not a revision) raises ``Unsupported``: the caller then takes the plain path.
"""

from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import add, and_, eq, itemgetter, lshift, ne, or_, rshift, sub

import crc32c

from .. import process
from . import backend, mvcc, revision, schema
from .snapshot import Snapshot

PARTS = 64  # hash partitions (a power of two)
FLUSH = 1 << 14  # records sorted into their partitions at once
READS = 256  # keys read between releases of the mapping's pages (at most 64 KiB mapped each)
CHUNK = 1 << 18  # records of the partitions resolved at once (about 100 bytes each while resolved)
OFF_BITS, LEN_BITS, SEAL_BITS, CLASS_BITS = 37, 12, 4, 10
LEN_SHIFT = OFF_BITS
TOMB_SHIFT = LEN_SHIFT + LEN_BITS  # the fields above the key's place: tombstone, seal, class
SEAL_SHIFT = TOMB_SHIFT + 1
CLASS_SHIFT = SEAL_SHIFT + SEAL_BITS
OFF_MASK = (1 << OFF_BITS) - 1
LEN_MASK = (1 << LEN_BITS) - 1
# classify(user keys) -> class ids (0: none; below 2**CLASS_BITS), with classify.names[id] the class's name
Classify = Callable[[list[bytes]], list[int]]
Keep = Callable[[list[bytes]], list[int]]  # user keys -> positions of those whose latest bbolt key is wanted
Seal = Callable[[memoryview], tuple[str, str] | None]  # a record's value -> (provider, key name) if sealed


class Unsupported(Exception):
    """Is raised when the compact index cannot hold a bucket (see the module doc): use the plain path."""


@dataclass
class Counts:
    """What ``status`` reads from bucket ``key``: live keys, per class and per seal kind, and the kept keys' bbolt keys."""

    live: int = 0
    classes: Counter = field(default_factory=Counter)  # class name -> live keys
    sealed: Counter = field(default_factory=Counter)  # (provider, key name) -> live values
    kept: dict[bytes, bytes] = field(default_factory=dict)  # kept user key -> bbolt key of its latest record


@dataclass
class Chunk:
    """One chunk of the leaves a scan walked: its tag (place in key order), CRC-32C of its keys and values
    from 0 and their length, its records and the bbolt key of its last one."""

    tag: int
    crc: int = 0
    length: int = 0
    count: int = 0
    last: bytes | None = None


@dataclass
class _Part:
    """One scan's share of bucket ``key`` (the whole of it, or the chunks one process took)."""

    # per partition, its records' hashes and words in revision order, as pieces (arrays never regrown: an
    # array growing by small steps leaves the allocator's heap full of holes), each piece's chunk tag
    hs: list = field(default_factory=lambda: [[] for _ in range(PARTS)])
    ls: list = field(default_factory=lambda: [[] for _ in range(PARTS)])
    tags: list = field(default_factory=lambda: [[] for _ in range(PARTS)])
    kept: dict[bytes, bytes] = field(default_factory=dict)
    seals: list[tuple[str, str]] = field(default_factory=list)
    names: list = field(default_factory=list)  # class id -> name (``classify.names``)
    chunks: list[Chunk] = field(default_factory=list)  # in key order
    seen: bytearray | None = None  # the pages walked below the cut (``Bucket.leaf_batches``)


def crc32c_combine(crc1: int, crc2: int, len2: int) -> int:
    """crc32c_combine is the CRC-32C of A+B from crc1 = crc(A) and crc2 = crc(B) (from 0), B being len2 bytes.

    zlib's ``crc32_combine`` for the Castagnoli polynomial: len2 zero bytes applied to crc1 by GF(2)
    operator matrices, the one for 2**k zero bytes made once (by squaring) for each bit k of len2.
    """
    k = 0
    while len2 > 0:
        if len2 & 1:
            crc1 = _times(_zeros(k), crc1)
        len2 >>= 1
        k += 1
    return crc1 ^ crc2


_ZEROS: list[list[int]] = []  # _ZEROS[k]: the operator of 2**k zero bytes


def _times(mat: list[int], vec: int) -> int:
    s, i = 0, 0
    while vec:
        if vec & 1:
            s ^= mat[i]
        vec >>= 1
        i += 1
    return s


def _zeros(k: int) -> list[int]:
    """_zeros is the operator appending 2**k zero bytes to a CRC-32C register."""
    while len(_ZEROS) <= k:
        if _ZEROS:
            op = _ZEROS[-1]
            steps = 1
        else:
            op = [0x82F63B78] + [1 << n for n in range(31)]  # one zero bit
            steps = 3  # eight
        for _ in range(steps):
            op = [_times(op, op[n]) for n in range(32)]
        _ZEROS.append(op)
    return _ZEROS[k]


def keys_at(raw, view: memoryview, vs: list[int], ends: list[int]) -> tuple[list[bytes | None], list[int], list[int] | bytes]:
    """keys_at is ``mvcc.user_keys``, and for each key an offset of ``raw`` where its bytes lie (-1 for None) and its length.

    etcd writes the key first with a one-byte length: a leaf where every value starts so has its keys 2
    bytes into the values (``mvcc.user_keys_at``, whole arrays at once); in any other leaf the
    keys come from ``mvcc.user_keys_plain`` and each is searched for in its own value.
    """
    fast = mvcc.user_keys_at(raw, vs, ends)
    if fast is not None:
        return fast
    keys = mvcc.user_keys_plain(view, vs, ends)
    return (keys, [raw.find(k, v, e) if k is not None else -1 for k, v, e in zip(keys, vs, ends)],
            [len(k) if k is not None else 0 for k in keys])


def scan_part(bucket, claims, classify: Classify, keep: Keep, seal: Seal | None,
              marker: bytes | None, classes_max: int, progress: mvcc.Progress = None,
              key_hash: Callable[[bytes], int] = hash) -> _Part:
    """scan_part indexes the chunks of bucket ``key``'s leaves that ``claims`` takes (all, as chunk 0, with None):
    partitions, kept keys, CRCs, counts.

    ``claims`` is a ``Bucket.leaf_batches`` claim whose ``tag`` is the chunk being walked.
    ``key_hash`` picks a user key's partition and stands for it until two records share it (tests pass a
    weak one to make collisions).
    """
    out = _Part(seen=bytearray(bucket.pf.meta.pgid))
    in_file = bucket.pf.data.obj
    crc = crc32c.crc32c
    pend_h: list[int] = []  # records not yet sorted into their partitions
    pend_w: list[int] = []
    kept = out.kept
    seal_ids: dict[tuple[str, str], int] = {}
    limit = 1 << OFF_BITS
    chunk = Chunk(-1)
    for b in bucket.leaf_batches(None, out.seen, claim=claims):
        raw, view, ks, vs, ends = b.raw, b.view, b.ks, b.vs, b.ends
        count = len(ks)
        if not count:
            continue
        if raw is not in_file:
            raise Unsupported("an inline bucket 'key'")  # a copy of its page: no place in the file for a key
        tag = claims.tag if claims is not None else 0
        if tag != chunk.tag:
            _file(out, pend_h, pend_w, chunk.tag)  # a piece holds one chunk's records
            pend_h, pend_w = [], []
            chunk = Chunk(tag)
            out.chunks.append(chunk)
        chunk.count += count
        chunk.last = raw[ks[-1] : vs[-1]]
        runs = b.runs()
        chunk.crc = mvcc._fold(crc, chunk.crc, b, runs)
        chunk.length += sum(ends) - sum(ks)
        if progress is not None:
            progress(count)
        ukeys, offs, klens = keys_at(raw, view, vs, ends)
        rlens = list(map(sub, vs, ks))
        if None in ukeys:  # etcd 3.6's revision-bump markers: no key, not indexed
            sel = [x for x in range(count) if ukeys[x] is not None]
            ukeys, offs, rlens, klens = ([a[x] for x in sel] for a in (ukeys, offs, rlens, klens))
        else:
            sel = None
        if not ukeys:
            continue
        tombs = rlens.count(revision.MARKED_REV_BYTES_LEN)
        if tombs + rlens.count(revision.REV_BYTES_LEN) != len(rlens):
            raise Unsupported("a bbolt key that is not a revision")
        if max(klens) > LEN_MASK or max(offs) >= limit or min(offs) < 0:
            raise Unsupported("a user key too long (or too far) to place")
        cls = classify(ukeys)
        if max(cls) >= classes_max:
            raise Unsupported("too many classes")
        seals = None
        if seal is not None and (marker is None or _may_hold(raw, marker, b.span(), ks, ends)):
            at = {x: i for i, x in enumerate(sel)} if sel is not None else None
            j = 0
            for run, c in zip(runs, b.counts):  # a leaf at a time, then its records
                i, j = j, j + c
                if marker is not None and run is not None and raw.rfind(marker, run[0], run[1]) < 0:
                    continue
                for x in range(i, j):
                    v, e = vs[x], ends[x]
                    if (at is None or x in at) and e > v and (marker is None or raw.rfind(marker, v, e) >= 0):
                        kind = seal(view[v:e])
                        if kind is not None:
                            sid = seal_ids.setdefault(kind, len(seal_ids) + 1)
                            if sid >= 1 << SEAL_BITS:
                                raise Unsupported("too many seal kinds")
                            if seals is None:
                                seals = [0] * len(ukeys)
                            seals[at[x] if at is not None else x] = sid
        codes = list(map(lshift, cls, repeat(CLASS_SHIFT - TOMB_SHIFT)))  # class, seal kind, tombstone
        if tombs:
            codes = list(map(or_, codes, map(eq, rlens, repeat(revision.MARKED_REV_BYTES_LEN))))
        if seals is not None:
            codes = list(map(or_, codes, map(lshift, seals, repeat(SEAL_SHIFT - TOMB_SHIFT))))
        words = list(map(or_, map(or_, offs, map(lshift, klens, repeat(LEN_SHIFT))), map(lshift, codes, repeat(TOMB_SHIFT))))
        pend_h += map(key_hash, ukeys)
        pend_w += words
        if len(pend_h) >= FLUSH:
            _file(out, pend_h, pend_w, tag)
            pend_h, pend_w = [], []
        for i in keep(ukeys):
            x = sel[i] if sel is not None else i
            kept[ukeys[i]] = raw[ks[x] : vs[x]]
    _file(out, pend_h, pend_w, chunk.tag)
    out.seals = list(seal_ids)
    out.names = list(classify.names)
    return out


def _file(out: _Part, hs: list[int], words: list[int], tag: int) -> None:
    """_file appends records (in revision order) of chunk ``tag`` to their partitions, a piece per partition."""
    if not hs:
        return
    mask = PARTS - 1
    by_h = [[] for _ in range(PARTS)]
    by_w = [[] for _ in range(PARTS)]
    for h, w in zip(hs, words):
        p = h & mask
        by_h[p].append(h)
        by_w[p].append(w)
    for p in range(PARTS):
        if by_h[p]:
            out.hs[p].append(array("q", by_h[p]))
            out.ls[p].append(array("Q", by_w[p]))
            out.tags[p].append(tag)


def _may_hold(raw, marker: bytes, span: tuple[int, int], ks: list[int], ends: list[int]) -> bool:
    """_may_hold is ``mvcc._may_hold`` searching backwards (CPython's ``rfind`` runs about twice as fast here)."""
    lo, hi = span
    if hi - lo > 2 * (sum(ends) - sum(ks)) + (64 << 10):
        return True
    return raw.rfind(marker, lo, hi) >= 0


def resolve(parts: list[_Part], read_keys: Callable[[list[int]], list[bytes]], ps=range(PARTS)) -> list[Counter]:
    """resolve finds the latest record of every user key of partitions ``ps`` across ``parts`` (one or two).

    A partition's pieces are taken in the order of their chunk tags (each part's in its own order): the
    records in revision order. Returns per part the codes (``ls`` words above the key's place: tombstone, seal, class) of the latest
    records it holds, counted (``tally`` reads them). ``read_keys(words)`` reads the user keys the
    records' words place in the file: records sharing a hash are proved to share a key by them, and keys
    whose hashes collide are told apart by them. Partitions are taken ``CHUNK`` records at a time (a
    dict of their hashes), their keys read in file order.
    """
    codes = [Counter() for _ in parts]
    ps = list(ps)
    while ps:
        chunk = []
        size = 0
        while ps and (not chunk or size + sum(map(len, (x for part in parts for x in part.hs[ps[0]]))) <= CHUNK):
            p = ps.pop(0)
            pieces = sorted(((t, i, h, w) for i, part in enumerate(parts)
                             for t, h, w in zip(part.tags[p], part.hs[p], part.ls[p])), key=itemgetter(0))
            hs = _joined("q", [x[2] for x in pieces])
            ls = _joined("Q", [x[3] for x in pieces])
            owner = b"".join(bytes((i,)) * len(h) for _t, i, h, _w in pieces) if len(parts) > 1 else None  # 0 or 1
            for part in parts:
                part.hs[p] = part.ls[p] = part.tags[p] = None  # done with: one chunk's copy at a time
            size += len(hs)
            chunk.append((hs, ls, owner, dict(zip(hs, range(len(hs))))))
        collided = _verify(chunk, read_keys)
        for hs, ls, owner, last in chunk:
            winners = list(last.values())
            if collided:
                winners = _regroup(hs, ls, last, collided, read_keys)
            every = Counter(map(rshift, map(ls.__getitem__, winners), repeat(TOMB_SHIFT)))
            if owner is not None:  # two parts: the second's winners counted, the first's are the rest
                whose = bytes(map(owner.__getitem__, winners))
                second = Counter(map(rshift, map(ls.__getitem__, compress(winners, whose)), repeat(TOMB_SHIFT)))
                codes[1].update(second)
                every.subtract(second)
                every = {code: c for code, c in every.items() if c}
            codes[0].update(every)
    return codes


def tally(parts: list[_Part], codes: list[Counter]) -> Counts:
    """tally turns ``resolve``'s codes into ``Counts`` (each part's own class names and seal kinds)."""
    out = Counts()
    for part in parts:  # a key kept by two parts: its later record (bbolt keys sort by revision)
        for k, v in part.kept.items():
            out.kept[k] = max(v, out.kept.get(k, v))
    for side, part in zip(codes, parts):
        for code, c in side.items():
            if code & 1:
                continue  # a tombstone: the key is deleted
            out.live += c
            cls, sid = code >> (CLASS_SHIFT - TOMB_SHIFT), code >> 1 & ((1 << SEAL_BITS) - 1)
            if cls:
                out.classes[part.names[cls]] += c
            if sid:
                out.sealed[part.seals[sid - 1]] += c
    return out


def _joined(typecode: str, pieces: list[array]) -> array:
    """_joined is the pieces in one array, allocated once."""
    out = array(typecode, bytes(8 * sum(map(len, pieces))))
    view, at = memoryview(out), 0
    for x in pieces:
        view[at : at + len(x)] = x
        at += len(x)
    return out


def _verify(chunk: list, read_keys: Callable[[list[int]], list[bytes]]) -> set[int]:
    """_verify checks that the records sharing a hash share a key; returns the hashes where they do not.

    Each record is compared with the last one of its hash: those last ones' keys are read first, then
    the others', each in file order.
    """
    a_words: list[int] = []  # a record that is not the last of its hash
    b_words: list[int] = []  # the last record of that hash
    hashes: list[int] = []
    for hs, ls, _owner, last in chunk:
        n = len(hs)
        if len(last) == n:
            continue
        lasts = list(map(last.__getitem__, hs))
        idx = list(compress(range(n), map(ne, range(n), lasts)))
        a_words += map(ls.__getitem__, idx)
        b_words += map(ls.__getitem__, map(lasts.__getitem__, idx))
        hashes += map(hs.__getitem__, idx)
    if not a_words:
        return set()
    canon_words = sorted(set(b_words), key=OFF_MASK.__and__)
    canon = dict(zip(canon_words, read_keys(canon_words)))
    order = sorted(range(len(a_words)), key=list(map(and_, a_words, repeat(OFF_MASK))).__getitem__)
    a_sorted = list(map(a_words.__getitem__, order))
    differ = map(ne, read_keys(a_sorted), map(canon.__getitem__, map(b_words.__getitem__, order)))
    return set(compress(map(hashes.__getitem__, order), differ))


def _regroup(hs: array, ls: array, last: dict[int, int], collided: set[int],
             read_keys: Callable[[list[int]], list[bytes]]) -> list[int]:
    """_regroup is the last record of each key of a partition where some hashes stand for several keys."""
    winners = [j for h, j in last.items() if h not in collided]
    idx = list(compress(range(len(hs)), map(collided.__contains__, hs)))
    by_key = dict(zip(read_keys(list(map(ls.__getitem__, idx))), idx))  # a key has one hash: in record order
    return winners + list(by_key.values())


def _reader(snap: Snapshot) -> Callable[[list[int]], list[bytes]]:
    """_reader reads the user keys placed by records' words from the file mapping, ``READS`` at a time.

    The mapping's resident pages are released as a scan releases them (``PageFile.touched``): a block
    of reads counts the bytes it may have mapped, at most 64 KiB a read (the kernel maps a faulted
    page's neighbours too) and at most the span it covers plus that (reads in file order share pages).
    """
    pf = snap.pages
    get = pf.data.obj.__getitem__
    around = 1 << 16

    def read(words: list[int]) -> list[bytes]:
        offs = list(map(and_, words, repeat(OFF_MASK)))
        stops = list(map(add, offs, map(and_, map(rshift, words, repeat(LEN_SHIFT)), repeat(LEN_MASK))))
        out: list[bytes] = []
        for i in range(0, len(offs), READS):
            block = offs[i : i + READS]
            out += map(get, map(slice, block, stops[i : i + READS]))
            pf.touched(min(len(block) * around, max(block) - min(block) + around))
        return out

    return read


def _other_buckets(snap: Snapshot, key_crc: Callable[[int], int], key_count: int,
                   key_last: bytes | None) -> backend.BackendStats:
    """_other_buckets is ``backend.stats`` with bucket ``key``'s share given: its CRC (folded in) and count."""
    st = backend.BackendStats(total_size=snap.data_size)
    h = 0
    crc = crc32c.crc32c
    for name, bucket in snap.root.buckets():
        h = crc(name, h)
        if name == schema.KEY:
            h, n = key_crc(h), key_count
            if key_last is not None:
                st.revision = revision.main_of(key_last)
        else:
            n = 0
            for _flags, k, v in bucket.iter_raw():
                h = crc(v, crc(k, h))
                n += 1
        st.buckets[name.decode("utf-8", "replace")] = n
        st.total_key += n
    st.hash = h
    return st


def count(snap: Snapshot, classify: Classify, keep: Keep, seal: Seal | None = None, marker: bytes | None = None,
          progress: mvcc.Progress = None, fork: bool | None = None, classes_max: int = 1 << CLASS_BITS,
          key_hash: Callable[[bytes], int] = hash) -> tuple[backend.BackendStats, Counts]:
    """count is ``backend.stats`` and the ``Counts`` of bucket ``key``, in one pass over the file.

    ``classify``/``keep``/``seal`` see each leaf's records (``seal`` only those whose value holds
    ``marker``); in a forked child they run on its copy, whose ``classify.names`` come back with its
    counts. ``fork`` False keeps to this process (as ``SNAPREWRITE_NO_FORK=1`` does); unlike
    ``backend.StatsJob``'s child this one shares the work rather than adding to it, so it is forked
    whatever the load (``liveshare``). Raises ``Unsupported`` for a bucket the compact index
    cannot hold (nothing is half done: the caller starts over on the plain path).
    """
    bucket = snap.key_bucket()
    args = (classify, keep, seal, marker, classes_max)
    if process.may_fork() and fork is not False and bucket.root != 0:
        from . import liveshare

        parts, codes = liveshare.shared(snap, bucket, args, progress, key_hash)
    else:
        parts = [scan_part(bucket, None, *args, progress, key_hash)]
        codes = resolve(parts, _reader(snap))
    chunks = sorted((c for p in parts for c in p.chunks), key=lambda c: c.tag)
    key_crc = length = 0
    for c in chunks:
        key_crc = crc32c_combine(key_crc, c.crc, c.length)
        length += c.length
    last = next((c.last for c in reversed(chunks) if c.last is not None), None)
    st = _other_buckets(snap, lambda h: crc32c_combine(h, key_crc, length), sum(c.count for c in chunks), last)
    return st, tally(parts, codes)


def count_plain(snap: Snapshot, classify: Classify, keep: Keep, seal: Seal | None = None,
                marker: bytes | None = None) -> tuple[backend.BackendStats, Counts]:
    """count_plain is ``count`` from ``mvcc.latest_index``'s dict of every key (the reference ``count`` must equal)."""
    seals: dict[bytes, tuple[str, str]] = {}

    def visit(_key: bytes, revkey, value) -> None:
        kind = seal(value) if seal is not None else None
        if kind is not None:
            seals[revkey.tobytes()] = kind

    index: dict[bytes, bytes] = {}
    st = backend.stats(snap, None, index, visit if seal is not None else None, marker)
    out = Counts()
    keys = list(index)
    for k, c in zip(keys, classify(keys) if keys else []):
        rk = index[k]
        if len(rk) == revision.REV_BYTES_LEN:
            out.live += 1
            if c:
                out.classes[classify.names[c]] += 1
            if rk in seals:
                out.sealed[seals[rk]] += 1
    out.kept = {keys[i]: index[keys[i]] for i in (keep(keys) if keys else [])}
    return st, out
