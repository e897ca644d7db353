"""Walking bbolt buckets: nodes read from pages, key-order iteration, point lookup, nested and inline buckets.

A bucket is a B+tree: branch pages hold (first key, child page id) pairs, leaf pages hold
(flags, key, value) triples. A leaf element whose flags carry ``BUCKET_LEAF_FLAG`` is a sub-bucket:
its value is a bucket header ``{root, sequence}``; root 0 means *inline*: the bucket's single leaf
page image follows the header inside the value itself.

Only ``read_leaf`` / ``read_branch`` turn page bytes into records; everything above works on records.
"""

import bisect
import functools
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import CorruptError
from . import format as fmt
from .pages import PageFile, PageHeaderInfo

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
    size = len(buf)
    base = fmt.PAGE_HEADER_SIZE
    if base + count * fmt.LEAF_ELEMENT_SIZE > size:
        raise CorruptError(f"{count} leaf elements do not fit in the page", pgid)
    items = []
    off = base
    for flags, pos, ksize, vsize in fmt.LEAF_ELEMENT.iter_unpack(buf[base : base + count * fmt.LEAF_ELEMENT_SIZE]):
        k = off + pos
        v = k + ksize
        end = v + vsize
        if end > size or pos < fmt.LEAF_ELEMENT_SIZE:
            raise CorruptError("leaf element points outside its page", pgid)
        items.append(LeafItem(flags, buf[k:v], buf[v:end]))
        off += fmt.LEAF_ELEMENT_SIZE
    return items


def read_branch(buf: memoryview, count: int, pgid: int | None = None) -> list[tuple[memoryview, int]]:
    """read_branch decodes the ``count`` (key, child pgid) elements of a branch page image."""
    size = len(buf)
    base = fmt.PAGE_HEADER_SIZE
    if count == 0:
        raise CorruptError("empty branch page", pgid)
    if base + count * fmt.BRANCH_ELEMENT_SIZE > size:
        raise CorruptError(f"{count} branch elements do not fit in the page", pgid)
    out = []
    off = base
    for pos, ksize, child in fmt.BRANCH_ELEMENT.iter_unpack(
        buf[base : base + count * fmt.BRANCH_ELEMENT_SIZE]
    ):
        k = off + pos
        if k + ksize > size or pos < fmt.BRANCH_ELEMENT_SIZE:
            raise CorruptError("branch element points outside its page", pgid)
        out.append((buf[k : k + ksize], child))
        off += fmt.BRANCH_ELEMENT_SIZE
    return out


@functools.lru_cache(maxsize=512)
def _leaf_struct(count: int) -> struct.Struct:
    """_leaf_struct unpacks a whole leaf element array of ``count`` elements in one call."""
    return struct.Struct("<" + "IIII" * count)


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

    def leaf_pages(self) -> Iterator[tuple[int, PageHeaderInfo, memoryview]]:
        """leaf_pages yields (pgid, header, image) of every leaf in key order (pgid 0 if inline)."""
        stack: list[tuple[int, int]] = [(self.root, 0)]
        path: list[int] = []
        seen: set[int] = set()
        while stack:
            pgid, depth = stack.pop()
            del path[depth:]
            if depth > MAX_DEPTH or pgid in path:
                raise CorruptError("cycle in the page tree", pgid)
            if pgid in seen and pgid:
                raise CorruptError("page referenced twice in one bucket tree", pgid)
            seen.add(pgid)
            path.append(pgid)
            h, buf = self.node(pgid)
            if h.flags == fmt.LEAF_PAGE:
                yield pgid, h, buf
            elif h.flags == fmt.BRANCH_PAGE:
                children = read_branch(buf, h.count, pgid)
                for _, child in reversed(children):
                    stack.append((child, depth + 1))
            else:
                raise CorruptError(f"unexpected page type {h.flags:#x} in a bucket tree", pgid)

    def items(self) -> Iterator[LeafItem]:
        """items yields every element of the bucket in key order, sub-buckets included (flagged)."""
        for pgid, h, buf in self.leaf_pages():
            yield from read_leaf(buf, h.count, pgid or None)

    def iter_raw(self) -> Iterator[tuple[int, memoryview, memoryview]]:
        """iter_raw yields (flags, key, value) like ``items`` without building records: the scan hot loop.

        ``tests/bbolt/test_reader.py`` checks it yields exactly what ``items`` does.
        """
        for _run, triples in self.leaf_runs():
            yield from triples

    def leaf_runs(self) -> Iterator[tuple[memoryview | None, list[tuple[int, memoryview, memoryview]]]]:
        """leaf_runs yields, per leaf in key order, its (flags, key, value) triples and their contiguous bytes.

        See ``leaf_runs_at`` (the same, with each leaf's pgid).
        """
        for _pgid, run, pairs in self.leaf_runs_at():
            yield run, pairs

    def leaf_runs_at(self) -> Iterator[tuple[int, memoryview | None, list[tuple[int, memoryview, memoryview]]]]:
        """leaf_runs_at yields, per leaf in key order, (pgid, contiguous run or None, (flags, key, value) triples).

        bbolt writes a leaf's keys and values back to back after the element array (k1 v1 k2 v2 ...);
        when a page is laid out that way the first item is that whole run (so a checksum over every key
        and value is one call per page), otherwise None. Every element's key must start where the previous
        element's value ended: a page whose elements point out of order yields None, never a run in
        another order than the elements'.
        """
        esize = fmt.LEAF_ELEMENT_SIZE
        base = fmt.PAGE_HEADER_SIZE
        for pgid, h, buf in self.leaf_pages():
            size = len(buf)
            count = h.count
            if base + count * esize > size:
                raise CorruptError(f"{count} leaf elements do not fit in the page", pgid or None)
            if not count:
                yield pgid, None, []
                continue
            t = _leaf_struct(count).unpack_from(buf, base)
            pairs = []
            off = base
            first = at = base + count * esize  # where element i's key starts when the run is in order
            contiguous = True
            for i in range(0, 4 * count, 4):
                k = off + t[i + 1]
                v = k + t[i + 2]
                end = v + t[i + 3]
                if end > size or t[i + 1] < esize:
                    raise CorruptError("leaf element points outside its page", pgid or None)
                if k != at:
                    contiguous = False  # checked element by element: a hash over the run must equal one per element
                at = end
                pairs.append((t[i], buf[k:v], buf[v:end]))
                off += esize
            run_end = at
            yield pgid, (buf[first:run_end] if contiguous else None), pairs

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

        A key in ``leaf_hints`` is looked up in that leaf first; a hint that does not hold the key (or is
        not a leaf) falls back to the descent from the root, so a hint can make a lookup faster, never
        change its answer.
        """
        pgid = self.leaf_hints.get(key)
        if pgid is not None:
            h, buf = self.node(pgid)
            if h.flags == fmt.LEAF_PAGE:
                it = self._search_leaf(pgid, h, buf, key)
                if it is not None:
                    return it
        _, pgid, h, buf = self.find_leaf(key)
        return self._search_leaf(pgid, h, buf, key)

    def _search_leaf(self, pgid: int, h: PageHeaderInfo, buf: memoryview, key: bytes) -> LeafItem | None:
        """_search_leaf binary-searches one leaf page for ``key`` (None if it is not there)."""
        count = h.count
        if fmt.PAGE_HEADER_SIZE + count * fmt.LEAF_ELEMENT_SIZE > len(buf):
            raise CorruptError(f"{count} leaf elements do not fit in the page", pgid or None)
        lo, hi = 0, count
        unpack = fmt.LEAF_ELEMENT.unpack_from
        while lo < hi:  # binary search reading one element at a time (no records built)
            mid = (lo + hi) // 2
            off = fmt.PAGE_HEADER_SIZE + mid * fmt.LEAF_ELEMENT_SIZE
            flags, pos, ksize, vsize = unpack(buf, off)
            k = off + pos
            if k + ksize + vsize > len(buf) or pos < fmt.LEAF_ELEMENT_SIZE:
                raise CorruptError("leaf element points outside its page", pgid or None)
            here = buf[k : k + ksize]
            if here == key:
                return LeafItem(flags, here, buf[k + ksize : k + ksize + vsize])
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
