"""Walking bbolt buckets: nodes read from pages, key-order iteration, point lookup, nested and inline buckets.

A bucket is a B+tree: branch pages hold (first key, child page id) pairs, leaf pages hold
(flags, key, value) triples. A leaf element whose flags carry ``BUCKET_LEAF_FLAG`` is a sub-bucket:
its value is a bucket header ``{root, sequence}``; root 0 means *inline*: the bucket's single leaf
page image follows the header inside the value itself.

Only ``read_leaf`` / ``read_branch`` turn page bytes into records; everything above works on records.
"""

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import NamedTuple

from ..errors import CorruptError
from . import elements
from . import format as fmt
from .pages import FAULT_AROUND, PageFile, PageHeaderInfo

# claim(unit, total) -> whether this walk enters that unit (``Bucket.leaf_batches``)
Claim = Callable[[int, int], bool]
MAX_DEPTH = 64  # a B+tree of 2^64 keys is far shallower; deeper means a cycle
BRANCH_CACHE = 4096  # branch pages kept decoded per bucket (a 1 GiB key bucket has about 1,500)


@dataclass(frozen=True)
class LeafItem:
    """One leaf element: flags (bucket or not), key and value as views into the page."""

    flags: int
    key: memoryview
    value: memoryview

    @property
    def is_bucket(self) -> bool:
        return bool(self.flags & fmt.BUCKET_LEAF_FLAG)


def _parse_header(buf: memoryview, pgid: int | None) -> PageHeaderInfo:
    if len(buf) < fmt.PAGE_HEADER_SIZE:
        raise CorruptError("page image shorter than its header", pgid)
    return PageHeaderInfo(*fmt.PAGE_HEADER.unpack_from(buf, 0))


def read_leaf(buf: memoryview, count: int, pgid: int | None = None) -> list[LeafItem]:
    """read_leaf decodes the ``count`` elements of a leaf page image, checking each lies inside it."""
    flags, ks, vs, ends, _first = elements.leaf_spans(buf, 0, len(buf), count, pgid)
    return list(map(LeafItem, flags, map(buf.__getitem__, map(slice, ks, vs)),
                    map(buf.__getitem__, map(slice, vs, ends))))


def read_branch(buf: memoryview, count: int, pgid: int | None = None) -> list[tuple[memoryview, int]]:
    """read_branch decodes the ``count`` (key, child pgid) elements of a branch page image."""
    ks, kends, children = elements.branch_spans(buf, 0, len(buf), count, pgid)
    return list(zip(map(buf.__getitem__, map(slice, ks, kends)), children))


class LeafBatch(NamedTuple):
    """Consecutive leaves of a bucket (key order), decoded at once: their elements in a row.

    Page i (``pgids[i]``, ``counts[i]`` elements, element array ending at ``firsts[i]``) owns the next
    ``counts[i]`` entries of ``flags``/``ks``/``vs``/``ends``: element j's key is ``[ks[j], vs[j])`` and
    its value ``[vs[j], ends[j])`` of ``raw`` (slices are bytes) or ``view`` (the same bytes, zero-copy).
    """

    raw: object
    view: memoryview
    pgids: tuple[int, ...]
    counts: tuple[int, ...]
    firsts: list[int]
    flags: tuple[int, ...]
    ks: list[int]
    vs: list[int]
    ends: list[int]

    def runs(self) -> list[tuple[int, int] | None]:
        """runs gives, per page, the (start, end) of its keys and values when they lie back to back after its
        element array in element order (k1 v1 k2 v2 ..., as bbolt writes a leaf), else None (also for an
        empty page).

        All pages laid out so (the rule) is one list comparison: each key starts where the previous
        element's value ends, or at its page's ``first`` for a page's first element.
        """
        ks, ends, counts, firsts = self.ks, self.ends, self.counts, self.firsts
        stops = list(accumulate(counts))
        if ks:
            expect = [0, *ends[:-1]]
            for stop, count, first in zip(stops, counts, firsts):
                if count:
                    expect[stop - count] = first
            if expect == ks:
                return [(first, ends[stop - 1]) if count else None
                        for stop, count, first in zip(stops, counts, firsts)]
        contiguous = elements.contiguous
        return [(first, ends[stop - 1]) if count and contiguous(ks[stop - count : stop], ends[stop - count : stop], first)
                else None for stop, count, first in zip(stops, counts, firsts)]

    def span(self) -> tuple[int, int]:
        """span is a (start, end) of ``raw`` holding every key and value of the batch ((0, 0) when it has none)."""
        return (min(self.ks), max(self.ends)) if self.ks else (0, 0)


def pack_hint(k: int, v: int, end: int) -> int:
    """pack_hint packs an element's key start, value start and value end in the file mapping into one int.

    One int per hinted key (not a tuple of three) keeps a hint table of 100k keys small; lengths of
    2**32 or more do not round-trip, and ``get_item`` then finds the key not there (no hint).
    """
    return k << 64 | (v - k) << 32 | (end - v)


def unpack_hint(hint: int) -> tuple[int, int, int]:
    """unpack_hint is (key start, value start, value end) of a ``pack_hint``."""
    k = hint >> 64
    v = k + (hint >> 32 & 0xFFFFFFFF)
    return k, v, v + (hint & 0xFFFFFFFF)


class Bucket:
    """A bucket of a bbolt file: a page-backed tree (``root`` > 0) or an inline leaf (``root`` == 0).

    Views handed out by its methods point into the file mapping and are valid while the file is open.
    """

    def __init__(self, pf: PageFile, root: int, sequence: int = 0, inline: memoryview | None = None,
                 name: bytes = b""):
        self.pf = pf
        self.root = root
        self.sequence = sequence
        self.inline = inline
        self.name = name
        self._branches: dict[int, tuple[list[bytes], list[int]]] = {}
        # key -> pgid of the leaf a scan saw it in (``etcd.mvcc.scan_index`` fills it for the keys it
        # indexes): ``get_item`` searches that leaf first instead of descending from the root.
        self.leaf_hints: dict[bytes, int] = {}
        # key -> where a scan saw its element in the file mapping (``pack_hint``): ``get_item`` reads it
        # there, after checking the key is that element's, instead of searching any page.
        self.element_hints: dict[bytes, int] = {}
        if root == 0 and inline is None:
            raise CorruptError(f"bucket {name!r}: inline bucket without a page image")

    @classmethod
    def from_header(cls, pf: PageFile, value: memoryview, name: bytes = b"") -> "Bucket":
        """from_header builds a bucket from a bucket-leaf value (header, plus page image if inline)."""
        if len(value) < fmt.BUCKET_HEADER_SIZE:
            raise CorruptError(f"bucket {bytes(name)!r}: value too short for a bucket header")
        root, seq = fmt.BUCKET_HEADER.unpack_from(value, 0)
        inline = value[fmt.BUCKET_HEADER_SIZE :] if root == 0 else None
        return cls(pf, root, seq, inline, bytes(name))

    @classmethod
    def root_bucket(cls, pf: PageFile) -> "Bucket":
        """root_bucket is the top-level bucket the chosen meta page points to."""
        return cls(pf, pf.meta.root, pf.meta.sequence, None, b"")

    # -- nodes ---------------------------------------------------------------------------------

    def node(self, pgid: int) -> tuple[PageHeaderInfo, memoryview]:
        """node returns header and image of a page of this bucket (the inline image for pgid 0)."""
        if pgid == 0 and self.root == 0:
            h = _parse_header(self.inline, None)
            if h.flags != fmt.LEAF_PAGE:
                raise CorruptError(f"bucket {self.name!r}: inline page is not a leaf")
            return h, self.inline
        if pgid < 2:
            raise CorruptError("tree points at a meta page", pgid)
        return self.pf.page(pgid)

    def _leaves(self) -> Iterator[tuple[int, object, memoryview, int, int, int]]:
        """_leaves yields (pgid, raw, view, offset, size, count) of every leaf in key order (pgid 0 if inline).

        ``raw`` and ``view`` are the same bytes (the file mapping, or a copy of the inline page image):
        slices of ``raw`` are ``bytes``, of ``view`` zero-copy views; the page lies at ``offset`` in them.
        The tree's checks are ``_walk``'s.
        """
        if self.root == 0:
            h = _parse_header(self.inline, None)
            if h.flags != fmt.LEAF_PAGE:
                raise CorruptError(f"bucket {self.name!r}: inline page is not a leaf")
            raw = bytes(self.inline)
            yield 0, raw, memoryview(raw), 0, len(raw), h.count
            return
        view = self.pf.data
        raw = view.obj  # the mmap: its slices are bytes (offsets are bounded by ``span``)
        for pgid, off, size, count in self._walk(False):
            yield pgid, raw, view, off, size, count

    def _walk(self, batches: bool, part: tuple[int, int] | None = None, seen: bytearray | None = None,
              most: int | None = None, claim: "Claim | None" = None) -> Iterator["tuple[int, int, int, int] | LeafBatch"]:
        """_walk yields (pgid, offset, size, count) of every leaf page of the tree in key order.

        With ``batches``, a branch whose children are all sound leaves comes as one ``LeafBatch``
        (``_leaf_children``) instead of its leaves; with ``most``, as batches of at most that many
        children, and from the first run that is not all sound leaves on, leaf by leaf (the same
        leaves in the same order). Every page is entered once: a page met again on the current path
        is a cycle, elsewhere in the tree a second reference; both raise ``CorruptError``.
        ``part``/``seen``/``claim``: see ``leaf_batches``.
        """
        pf = self.pf
        raw = pf.data.obj
        stack: list[tuple[int, int]] = [(self.root, 0)]
        path: list[int] = []
        if seen is None:
            seen = bytearray(pf.meta.pgid)  # a byte per page below the high-water mark (a set of 2M ints: ~150 MB)
        cut, lo, hi, k = -1, 0, 0, 0  # part: the children of branches at depth cut, numbered k, in [lo, hi)
        if part is not None:
            depth, total = self._frontier(part[1])
            if depth == 0:
                if part[0] != 0:
                    return
            else:
                cut, lo, hi = depth - 1, part[0] * total // part[1], (part[0] + 1) * total // part[1]
        unit = 0  # claim: the pages at depth cut + 1 (the root when cut is -1), numbered as reached
        if claim is not None:
            depth, total = self._frontier(2)
            cut = depth - 1
        upper: list[int] = []  # pages every part reads: not in ``seen`` when the walk is done
        while stack:
            pgid, depth = stack.pop()
            if claim is not None and depth == cut + 1:
                unit += 1
                if not claim(unit - 1, total):
                    continue  # another walk's: not entered, not marked
            del path[depth:]
            if depth > MAX_DEPTH or pgid in path:
                raise CorruptError("cycle in the page tree", pgid)
            if pgid < len(seen) and seen[pgid]:
                raise CorruptError("page referenced twice in one bucket tree", pgid)
            if pgid < len(seen):  # past the mark: ``span`` below raises naming it
                seen[pgid] = 1
            path.append(pgid)
            if pgid < 2:
                raise CorruptError("tree points at a meta page", pgid)
            if depth <= cut:
                upper.append(pgid)
            off, size, flags, count = pf.span(pgid)
            if flags == fmt.LEAF_PAGE:
                if claim is not None and depth <= cut:  # a leaf above the cut (a tree of uneven depth): a unit too
                    unit += 1
                    if not claim(unit - 1, total):
                        continue
                yield pgid, off, size, count
            elif flags == fmt.BRANCH_PAGE:
                children = elements.branch_spans(raw, off, size, count, pgid)[2]
                if depth == cut and part is not None:
                    first, k = k, k + len(children)
                    children = children[max(0, lo - first) : max(0, hi - first)]
                    if not children:
                        continue
                step = len(children) if most is None else max(1, most)
                rest = 0  # children[:rest] went in batches; the others are walked page by page
                while batches and depth < MAX_DEPTH and rest < len(children) and (claim is None or depth != cut):
                    run = children[rest : rest + step]
                    batch = self._leaf_children(run, depth + 1, seen)
                    if batch is None:
                        break
                    for child in run:
                        seen[child] = 1
                    rest += len(run)
                    yield batch
                stack.extend([(child, depth + 1) for child in reversed(children[rest:])])
            else:
                raise CorruptError(f"unexpected page type {flags:#x} in a bucket tree", pgid)
        for pgid in upper:
            if pgid < len(seen):
                seen[pgid] = 0

    def _frontier(self, n: int) -> tuple[int, int]:
        """_frontier is (depth, page count) of the first tree level with at least 256 pages per part (or the
        last branch level above the leaves, or the root's level when the root is a leaf): where ``part`` cuts.

        Only branch pages above that level are read (about one page in a hundred); a page that is not a
        branch stops the descent there, and the walk that follows makes every check.
        """
        pf = self.pf
        raw = pf.data.obj
        level, depth = [self.root], 0
        while len(level) < 256 * n and depth < 8:
            children: list[int] = []
            for pgid in level:
                off, size, flags, count = pf.span(pgid)
                if flags != fmt.BRANCH_PAGE:
                    return depth, len(level)
                children += elements.branch_spans(raw, off, size, count, pgid)[2]
            level, depth = children, depth + 1
        return depth, len(level)

    def leaf_pages(self) -> Iterator[tuple[int, PageHeaderInfo, memoryview]]:
        """leaf_pages yields (pgid, header, image) of every leaf in key order (pgid 0 if inline)."""
        ps = self.pf.page_size
        for pgid, _raw, view, off, size, count in self._leaves():
            yield pgid, PageHeaderInfo(pgid, fmt.LEAF_PAGE, count, size // ps - 1 if pgid else 0), view[off : off + size]

    def leaf_batches(self, part: tuple[int, int] | None = None, seen: bytearray | None = None,
                     most: int | None = None, claim: "Claim | None" = None) -> Iterator["LeafBatch"]:
        """leaf_batches yields every leaf of the bucket in key order, many leaves at a time (``LeafBatch``).

        ``most`` caps the leaves of a batch (None: a whole branch's children): a reader that releases the
        mapping every few leaves then never has a whole branch's scattered children resident at once
        (each fault on a file mapping may map a large folio, up to 2 MiB).

        The same pages, checks and errors as ``_leaves`` + ``elements.leaf_spans`` page by page (the plain
        path, which ``tests/bbolt/test_elements.py`` compares it with): a branch whose children are all
        sound leaves is decoded in one ``elements.leaf_batch``; any other branch, or one whose children fail
        a check, is walked page by page, which raises the error naming the first bad page.

        ``part`` (i, n) yields only the i-th of n consecutive runs of the leaves, for n processes to share
        a scan: the runs are the subtrees below one level of the tree (``_frontier``), split by count; the
        branches above that level are read by every part. ``seen`` (a byte per page below the high-water
        mark) gets a 1 for each page walked below that level, so the parts can be checked not to share one
        (a page referenced twice, which one walk would refuse).

        ``claim`` shares the leaves as the walks go instead: the units are the subtrees below the cut that
        ``part`` (i, 2) makes (the root's, if it is a leaf), and the walk calls ``claim(k, total)`` once for
        each unit k in key order as it reaches it (``total``: the units counted at the cut, a guide) and
        enters the unit only when that says True. Every walk reads the branches above the cut; ``seen`` as
        for ``part``.
        """
        if self.root == 0:
            if (part is not None and part[0] != 0) or (claim is not None and not claim(0, 1)):
                return
            for pgid, raw, view, off, size, count in self._leaves():
                flags, ks, vs, ends, first = elements.leaf_spans(raw, off, size, count, None)
                yield LeafBatch(raw, view, (pgid,), (count,), [first], flags, ks, vs, ends)
            return
        view = self.pf.data
        raw = view.obj
        for item in self._walk(True, part, seen, most, claim):
            if isinstance(item, LeafBatch):
                yield item
                continue
            pgid, off, size, count = item
            flags, ks, vs, ends, first = elements.leaf_spans(raw, off, size, count, pgid)
            yield LeafBatch(raw, view, (pgid,), (count,), [first], flags, ks, vs, ends)

    def _leaf_children(self, children: tuple[int, ...], depth: int, seen: bytearray) -> "LeafBatch | None":
        """_leaf_children decodes a branch's children as one batch when all are sound leaves, else None.

        Sound: distinct, not met before, real data pages inside the file whose headers name them, leaves,
        every element inside its page (``PageFile.span``'s and ``elements.leaf_spans``' checks, at once).
        """
        pf = self.pf
        if (min(children) < 2 or max(children) >= len(seen) or len(set(children)) != len(children)
                or any(map(seen.__getitem__, children))):
            return None
        located = pf.spans(children, fmt.LEAF_PAGE)
        if located is None:
            return None
        offs, sizes, counts = located
        raw = pf.data.obj
        decoded = elements.leaf_batch(raw, offs, sizes, counts)
        if decoded is None:
            return None
        flags, ks, vs, ends, firsts = decoded
        return LeafBatch(raw, pf.data, children, counts, firsts, flags, ks, vs, ends)

    def leaf_spans(self, most: int | None = None
                   ) -> Iterator[tuple[int, object, memoryview, tuple[int, ...], list[int], list[int], list[int], int]]:
        """leaf_spans yields, per leaf in key order, (pgid, raw, view, flags, ks, vs, ends, first).

        Element i's key is ``[ks[i], vs[i])`` and its value ``[vs[i], ends[i])`` of ``raw`` (slices are
        bytes) or ``view`` (zero-copy); ``first`` is where the element array ends. See ``leaf_batches``
        (``most``).
        """
        for b in self.leaf_batches(most=most):
            raw, view = b.raw, b.view
            i = 0
            for pgid, count, first in zip(b.pgids, b.counts, b.firsts):
                j = i + count
                yield pgid, raw, view, b.flags[i:j], b.ks[i:j], b.vs[i:j], b.ends[i:j], first
                i = j

    def items(self) -> Iterator[LeafItem]:
        """items yields every element of the bucket in key order, sub-buckets included (flagged)."""
        for b in self.leaf_batches():
            view = b.view
            yield from map(LeafItem, b.flags, map(view.__getitem__, map(slice, b.ks, b.vs)),
                           map(view.__getitem__, map(slice, b.vs, b.ends)))

    def iter_raw(self) -> Iterator[tuple[int, memoryview, memoryview]]:
        """iter_raw yields (flags, key, value) like ``items`` without building records: the scan hot loop.

        ``tests/bbolt/test_reader.py`` checks it yields exactly what ``items`` does.
        """
        for b in self.leaf_batches():
            view = b.view
            yield from zip(b.flags, map(view.__getitem__, map(slice, b.ks, b.vs)),
                           map(view.__getitem__, map(slice, b.vs, b.ends)))

    def leaf_runs(self, most: int | None = None
                  ) -> Iterator[tuple[memoryview | None, list[tuple[int, memoryview, memoryview]]]]:
        """leaf_runs yields, per leaf in key order, its (flags, key, value) triples and their contiguous bytes.

        See ``leaf_runs_at`` (the same, with each leaf's pgid); ``most`` as ``leaf_batches``.
        """
        for _pgid, run, pairs in self.leaf_runs_at(most):
            yield run, pairs

    def leaf_runs_at(self, most: int | None = None
                     ) -> Iterator[tuple[int, memoryview | None, list[tuple[int, memoryview, memoryview]]]]:
        """leaf_runs_at yields, per leaf in key order, (pgid, contiguous run or None, (flags, key, value) triples).

        bbolt writes a leaf's keys and values back to back after the element array (k1 v1 k2 v2 ...);
        when a page is laid out that way the first item is that whole run (so a checksum over every key
        and value is one call per page), otherwise None. Every element's key must start where the previous
        element's value ended: a page whose elements point out of order yields None, never a run in
        another order than the elements'.
        """
        contiguous = elements.contiguous
        for pgid, _raw, view, flags, ks, vs, ends, first in self.leaf_spans(most):
            pairs = list(zip(flags, map(view.__getitem__, map(slice, ks, vs)),
                             map(view.__getitem__, map(slice, vs, ends))))
            yield pgid, (view[first : ends[-1]] if contiguous(ks, ends, first) else None), pairs

    def __iter__(self) -> Iterator[LeafItem]:
        return self.items()

    def _branch(self, pgid: int, buf: memoryview, count: int) -> tuple[list[bytes], list[int]]:
        """_branch returns a branch page's keys and child ids, cached (branches are few and read often)."""
        hit = self._branches.get(pgid)
        if hit is None:
            children = read_branch(buf, count, pgid)
            hit = ([bytes(k) for k, _ in children], [c for _, c in children])
            if len(self._branches) >= BRANCH_CACHE:
                self._branches.clear()
            self._branches[pgid] = hit
        return hit

    def find_leaf(self, key: bytes) -> tuple[list[tuple[int, int]], int, PageHeaderInfo, memoryview]:
        """find_leaf descends to the leaf where ``key`` is or would be.

        Returns the path of (branch pgid, child index) pairs, then the leaf's pgid, header and image.
        """
        path: list[tuple[int, int]] = []
        pgid = self.root
        for _ in range(MAX_DEPTH):
            h, buf = self.node(pgid)
            if h.flags == fmt.LEAF_PAGE:
                return path, pgid, h, buf
            if h.flags != fmt.BRANCH_PAGE:
                raise CorruptError(f"unexpected page type {h.flags:#x} in a bucket tree", pgid)
            keys, pgids = self._branch(pgid, buf, h.count)
            i = max(bisect.bisect_right(keys, key) - 1, 0)
            path.append((pgid, i))
            pgid = pgids[i]
        raise CorruptError("tree deeper than any real bbolt file (cycle?)", pgid)

    def get_item(self, key: bytes) -> LeafItem | None:
        """get_item returns the element stored under ``key``, or None.

        A key in ``element_hints`` is read where the hint says when the key is there; a key in
        ``leaf_hints`` is looked up in that leaf first; a hint that does not hold the key (or is not a
        leaf) falls back to the descent from the root, so a hint can make a lookup faster, never change
        its answer. Element hints are only made for plain (not sub-bucket) elements of this bucket's
        leaves (``etcd.mvcc.scan_index``).
        """
        hint = self.element_hints.get(key)
        if hint is not None:
            k, v, end = unpack_hint(hint)
            data = self.pf.data
            if data[k:v] == key and end <= len(data):
                self.pf.touched(FAULT_AROUND)  # as a page read would (a fault maps that much): residency stays bounded
                return LeafItem(0, data[k:v], data[v:end])
        pgid = self.leaf_hints.get(key)
        if pgid is not None:
            h, buf = self.node(pgid)
            if h.flags == fmt.LEAF_PAGE:
                it = self._search_leaf(pgid, h, buf, key)
                if it is not None:
                    return it
        _, pgid, h, buf = self.find_leaf(key)
        return self._search_leaf(pgid, h, buf, key)

    def get_hinted(self, key: bytes) -> bytes | None:
        """get_hinted is ``get(key)`` read where ``key``'s element hint says, with one read of the file: None when
        the key has no element hint or the hint does not hold it (the caller then reads it with ``get``).

        No page of the mapping is touched (nothing to fault in and release again) and no element record is made:
        the key is compared and the value returned as bytes, equal to what ``get`` returns.
        """
        hint = self.element_hints.get(key)
        if hint is None:
            return None
        at, v, end = unpack_hint(hint)  # the element's key and value lie back to back
        if v - at != len(key) or end > self.pf.length:
            return None
        got = self.pf.read(at, end - at)
        return got[v - at:] if got.startswith(key) else None

    def _search_leaf(self, pgid: int, h: PageHeaderInfo, buf: memoryview, key: bytes) -> LeafItem | None:
        """_search_leaf binary-searches one leaf page for ``key`` (None if it is not there), reading only the
        elements the search visits (``elements.leaf_element``)."""
        count = h.count
        size = len(buf)
        element = elements.leaf_element
        lo, hi = 0, count
        while lo < hi:
            mid = (lo + hi) // 2
            flags, k, v, end = element(buf, 0, size, count, mid, pgid or None)
            here = buf[k:v]
            if here == key:
                return LeafItem(flags, here, buf[v:end])
            if here.tobytes() < key:
                lo = mid + 1
            else:
                hi = mid
        return None

    def get(self, key: bytes) -> memoryview | None:
        """get returns the value stored under ``key`` (None if absent or a sub-bucket)."""
        it = self.get_item(key)
        return None if it is None or it.is_bucket else it.value

    def bucket(self, name: bytes) -> "Bucket | None":
        """bucket opens the sub-bucket ``name``, or returns None if there is none."""
        it = self.get_item(name)
        if it is None or not it.is_bucket:
            return None
        return Bucket.from_header(self.pf, it.value, name)

    def buckets(self) -> Iterator[tuple[bytes, "Bucket"]]:
        """buckets yields (name, bucket) for every sub-bucket, in name order."""
        for it in self.items():
            if it.is_bucket:
                yield bytes(it.key), Bucket.from_header(self.pf, it.value, bytes(it.key))

    def last_key(self) -> bytes | None:
        """last_key returns the greatest key of the bucket, or None when it is empty."""
        pgid = self.root
        for _ in range(MAX_DEPTH):
            h, buf = self.node(pgid)
            if h.flags == fmt.LEAF_PAGE:
                items = read_leaf(buf, h.count, pgid or None)
                return bytes(items[-1].key) if items else None
            if h.flags != fmt.BRANCH_PAGE:
                raise CorruptError(f"unexpected page type {h.flags:#x} in a bucket tree", pgid)
            pgid = read_branch(buf, h.count, pgid)[-1][1]
        raise CorruptError("tree deeper than any real bbolt file (cycle?)", pgid)
