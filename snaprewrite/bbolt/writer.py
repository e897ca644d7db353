"""A copy-on-write bbolt transaction: puts and deletes on in-memory nodes, then bbolt's commit as a ``Patch``.

The commit follows bbolt's ``tx.Commit``: rebalance nodes that lost keys (merge into a sibling, remove
empty ones, collapse a one-child root branch), spill sub-buckets first (inline while bbolt's inline rule
holds, else as their own pages) then every materialized node bottom-up, splitting nodes that outgrow a
page, growing a new root when the root splits. Every page written is new: ids are taken from the old
high-water mark upward and free pages are never reused, so the tree the old meta points to stays intact
and a crash before the meta write loses nothing.

Pages go to a sink as soon as they are final (``PageSink``: ``write`` page images at their ids, ``read``
them back). The default ``MemorySink`` keeps them, and ``commit`` returns them in ``Patch.append``; a
file sink (``etcd.output``) writes each at ``pgid * page_size`` of the output so no page is held.

Eager spill: puts that arrive in increasing key order (etcd's revision order) spill the previous leaf
as soon as a put moves past it (split if it outgrew a page), then drop it; only branch nodes, few,
wait for the commit. A put that goes back to a spilled leaf re-reads its new page from the sink (that
page is then freed like an old one) and turns eager spilling off for that bucket, so any order is
correct and in-order runs hold one leaf at a time.

No file I/O happens here: ``commit`` returns a ``Patch`` (the prefix of the original data to keep, one
meta page overwrite inside it, the length and, for a ``MemorySink``, the bytes of the pages appended).
``apply_patch`` is a small reference applier.

Invariants of a ``Patch``: ``copy_length == old pgid * page_size``; the only overwrite is the meta page
of slot ``(txid + 1) % 2``; the appended pages are ``old pgid .. new pgid - 1``, contiguous.
"""

import bisect
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from itertools import repeat
from operator import attrgetter
from typing import BinaryIO, Protocol

from ..errors import CorruptError, KeyNotFoundError, WriteError
from . import bulk, elements
from . import format as fmt
from .freelist import build_freelist, freelist_pages, read_freelist
from .node import Inode, Node, leaf_inodes
from .pages import MetaInfo, PageFile, PageHeaderInfo, build_meta
from .tree import MAX_DEPTH

MAX_KEY_SIZE, MAX_VALUE_SIZE = fmt.MAX_KEY_SIZE, fmt.MAX_VALUE_SIZE
# Old pages read between releases of the input mapping (a fault maps a whole large folio, not a page).
RELEASE_EVERY = 16
_KEY = attrgetter("key")


class PageSink(Protocol):
    """Where a transaction's new pages go: written once each, in allocation order, and readable back."""

    def write(self, pgid: int, image: bytes) -> None:
        """write stores the image of page ``pgid`` (``len(image)`` is a whole number of pages)."""

    def read(self, pgid: int, size: int) -> bytes:
        """read returns ``size`` bytes from the start of page ``pgid`` as written."""


class MemorySink:
    """A PageSink that keeps the pages in memory (tests, small files): ``data()`` is the appended run."""

    def __init__(self, page_size: int, first: int):
        self.page_size = page_size
        self.first = first
        self._pages: list[bytes] = []
        self._index: dict[int, int] = {}

    def write(self, pgid: int, image: bytes) -> None:
        """write records the image of page ``pgid``."""
        self._index[pgid] = len(self._pages)
        self._pages.append(image)

    def read(self, pgid: int, size: int) -> bytes:
        """read returns the first ``size`` bytes of the image written at ``pgid`` (and the pages after it)."""
        i = self._index.get(pgid)
        if i is None:
            raise CorruptError("internal: page read back before it was written", pgid)
        out = b""
        while len(out) < size and i < len(self._pages):
            out += self._pages[i]
            i += 1
        return out[:size]

    def data(self) -> bytes:
        """data returns every page written, contiguous."""
        return b"".join(self._pages)


@dataclass(frozen=True)
class Patch:
    """The new file as edits to the old data: keep ``copy_length`` bytes, apply ``overwrites``, add the new pages."""

    page_size: int
    copy_length: int  # old meta.pgid * page_size: bytes of the original data kept as they are
    overwrites: tuple[tuple[int, bytes], ...]  # (offset, bytes), all inside the kept prefix (the new meta page)
    append: bytes | None  # new pages from the old high-water mark on (None: they went to the caller's sink)
    meta: MetaInfo  # the new meta (slot, root, freelist, pgid, txid, checksum)
    freed: tuple[int, ...]  # page ids below the new high-water mark no longer reachable (sorted)
    append_length: int = 0  # bytes of new pages: (new pgid - old pgid) * page_size

    @property
    def new_length(self) -> int:
        """new_length is the size of the new bbolt data: meta.pgid * page_size."""
        return self.copy_length + self.append_length


class _Bucket:
    """A bucket opened in the transaction: its materialized nodes and opened sub-buckets."""

    def __init__(self, tx: "Transaction", root: int, sequence: int, inline: bytes | None, name: tuple[bytes, ...]):
        self.tx = tx
        self.root = root
        self.sequence = sequence
        self.inline = inline  # page image of an inline bucket (root 0)
        self.name = name
        self.nodes: dict[int, Node] = {}
        self.root_node: Node | None = None
        self.buckets: dict[bytes, _Bucket] = {}
        self.eager = tx.eager  # spill leaves as in-order puts move past them (off after an out-of-order put)
        self.cursor: tuple[Node, bytes | None, bytes | None] | None = None  # last put's leaf and its key range

    def page_items(self, pgid: int) -> tuple[bool, list[Inode], int]:
        """page_items reads page ``pgid`` (the inline image for pgid 0) as (is_leaf, elements, overflow)."""
        if pgid == 0 and self.root == 0 and self.inline is not None:
            buf = memoryview(self.inline)
            if len(buf) < fmt.PAGE_HEADER_SIZE:
                raise CorruptError(f"bucket {self._label()}: inline page shorter than its header")
            _, flags, count, _ = fmt.PAGE_HEADER.unpack_from(buf, 0)
            if flags != fmt.LEAF_PAGE:
                raise CorruptError(f"bucket {self._label()}: inline page is not a leaf")
            return True, leaf_inodes(bytes(buf), count, None), 0
        if pgid < 2:
            raise CorruptError(f"bucket {self._label()}: tree points at a meta page", pgid)
        h, buf = self.tx.page(pgid)
        if h.flags == fmt.LEAF_PAGE:
            return True, leaf_inodes(bytes(buf), h.count, pgid), h.overflow
        if h.flags == fmt.BRANCH_PAGE:
            page = bytes(buf)  # the keys sliced from one copy of the page, the Inodes made in one call
            ks, kends, children = elements.branch_spans(page, 0, len(page), h.count, pgid)
            keys = map(page.__getitem__, map(slice, ks, kends))
            return False, list(map(Inode, repeat(0), keys, repeat(b""), children)), h.overflow
        raise CorruptError(f"unexpected page type {h.flags:#x} in bucket {self._label()}", pgid)

    def _label(self) -> str:
        return "/".join(n.decode("utf-8", "backslashreplace") for n in self.name) or "<root>"

    def node(self, pgid: int, parent: Node | None, key: bytes | None = None) -> Node:
        """node materializes page ``pgid`` as a node of this bucket (cached), linking it under ``parent``.

        ``key`` is the parent's key for the page (bbolt takes the page's first key; the parent's is the
        one the parent must find again when the node is replaced, merged or removed).
        """
        n = self.nodes.get(pgid)
        if n is not None:
            return n
        is_leaf, inodes, overflow = self.page_items(pgid)
        n = Node(self, is_leaf, parent)
        n.pgid, n.overflow, n.inodes = pgid, overflow, inodes
        n.key = key if key is not None else (inodes[0].key if inodes else None)
        if parent is None:
            self.root_node = n
        else:
            parent.children.append(n)
        self.nodes[pgid] = n
        return n

    def forget(self, n: Node) -> None:
        """forget drops a node merged away or removed from the tree."""
        n.removed = True
        if self.nodes.get(n.pgid) is n:
            del self.nodes[n.pgid]

    def child_for(self, pgid: int, inodes: list[Inode], key: bytes, lo: bytes | None,
                  hi: bytes | None) -> tuple[Inode, bytes | None, bytes | None]:
        """child_for is the element of branch ``pgid`` whose subtree holds ``key``, and that subtree's key range
        [lo, hi) narrowed from the branch's own (None: unbounded)."""
        if not inodes:
            raise CorruptError(f"empty branch page in bucket {self._label()}", pgid)
        i = max(bisect.bisect_right(inodes, key, key=_KEY) - 1, 0)
        if i > 0:
            lo = inodes[i].key
        if i + 1 < len(inodes):
            hi = inodes[i + 1].key
        return inodes[i], lo, hi

    def seek(self, key: bytes, materialize: bool) -> tuple[list[Inode], int, Node | None]:
        """seek finds the leaf for ``key``: its elements, the index where ``key`` is or would go, the node if materialized."""
        inodes, i, n, _, _ = self._descend(key, materialize)
        return inodes, i, n

    def _descend(self, key: bytes, materialize: bool) -> tuple[list[Inode], int, Node | None, bytes | None, bytes | None]:
        """_descend is ``seek`` that also returns the leaf's key range [lo, hi) (None: unbounded) as the branches give it."""
        pgid = self.root
        parent: Node | None = None
        pkey: bytes | None = None
        lo: bytes | None = None
        hi: bytes | None = None
        for _ in range(MAX_DEPTH):
            n = self.nodes.get(pgid)
            if n is None and materialize:
                n = self.node(pgid, parent, pkey)
            if n is not None:
                is_leaf, inodes = n.is_leaf, n.inodes
            else:
                is_leaf, inodes, _ = self.page_items(pgid)
            if is_leaf:
                return inodes, bisect.bisect_left(inodes, key, key=_KEY), n, lo, hi
            ino, lo, hi = self.child_for(pgid, inodes, key, lo, hi)
            parent, pgid, pkey = n, ino.pgid, ino.key
        raise CorruptError(f"bucket {self._label()}: tree deeper than any real bbolt file (cycle?)", pgid)

    def leaf_for_put(self, key: bytes) -> tuple[list[Inode], int, Node]:
        """leaf_for_put is ``seek(key, True)`` through the last put's leaf when ``key`` falls in its range.

        Moving forward past that leaf spills it early (``spill_early``); moving back turns eager
        spilling off for this bucket.
        """
        cur = self.cursor
        if cur is not None:
            node, lo, hi = cur
            if (lo is None or lo <= key) and (hi is None or key < hi):
                inodes = node.inodes
                return inodes, bisect.bisect_left(inodes, key, key=_KEY), node
            self.cursor = None
            if hi is not None and key >= hi:
                if self.eager:
                    node.spill_early()
            else:
                self.eager = False
        inodes, i, node, lo, hi = self._descend(key, True)
        self.cursor = (node, lo, hi)
        return inodes, i, node

    def get(self, key: bytes) -> Inode | None:
        """get returns the current element under ``key`` (pending changes included), or None."""
        inodes, i, _ = self.seek(key, False)
        if i < len(inodes) and inodes[i].key == key:
            return inodes[i]
        return None

    # -- commit --------------------------------------------------------------------------------

    def rebalance(self) -> None:
        """rebalance runs node rebalancing over this bucket and its opened sub-buckets."""
        self.cursor = None
        for n in list(self.nodes.values()):
            n.rebalance()
        for name in sorted(self.buckets):
            self.buckets[name].rebalance()

    def inlineable(self) -> bool:
        """inlineable tells whether bbolt would store this bucket inline: one leaf, no sub-buckets, <= page/4."""
        n = self.root_node
        if n is None or not n.is_leaf:
            return False
        size = fmt.PAGE_HEADER_SIZE
        for ino in n.inodes:
            size += fmt.LEAF_ELEMENT_SIZE + len(ino.key) + len(ino.value)
            if ino.flags & fmt.BUCKET_LEAF_FLAG or size > self.tx.page_size // 4:
                return False
        return True

    def spill(self) -> None:
        """spill writes changed sub-buckets (their headers or inline images into this bucket), then this tree."""
        for name in sorted(self.buckets):
            child = self.buckets[name]
            if child.inlineable():
                if child.root != 0:  # a page bucket that shrank: its single leaf page is freed
                    child.root_node.free()
                    child.root = 0
                value = fmt.BUCKET_HEADER.pack(0, child.sequence) + child.root_node.image(0, 0)
            else:
                child.spill()
                value = fmt.BUCKET_HEADER.pack(child.root, child.sequence)
            if child.root_node is None:
                continue
            inodes, i, _ = self.seek(name, False)
            if not (i < len(inodes) and inodes[i].key == name and inodes[i].flags & fmt.BUCKET_LEAF_FLAG):
                raise CorruptError(f"bucket {self._label()}: sub-bucket vanished during commit")
            _, _, node = self.seek(name, True)
            node.put(name, name, value, 0, fmt.BUCKET_LEAF_FLAG)
        if self.root_node is None:
            return
        self.root_node.spill()
        self.root_node = self.root_node.root()
        self.root = self.root_node.pgid


class Transaction:
    """A read-write transaction over a ``PageFile``: ``put``/``delete`` in buckets, then ``commit`` -> ``Patch``.

    ``sync_freelist`` None keeps the input's choice (no freelist page if the meta has none, as etcd on
    Linux writes); True writes one (free ids from the old freelist, or from unreachable pages when none
    was synced), False drops it. ``sink`` receives every new page as soon as it is final (default: a
    ``MemorySink`` whose pages ``commit`` returns in ``Patch.append``); ``eager`` spills leaves early
    while puts come in key order.
    """

    def __init__(self, pf: PageFile, fill_percent: float = fmt.DEFAULT_FILL_PERCENT,
                 sync_freelist: bool | None = None, sink: PageSink | None = None, eager: bool = True):
        self.pf = pf
        self.eager = eager
        self._memory = sink is None
        self.sink: PageSink = MemorySink(pf.page_size, pf.meta.pgid) if sink is None else sink
        self.page_size = pf.page_size
        self.fill_percent = fill_percent
        self.sync_freelist = pf.meta.has_freelist if sync_freelist is None else sync_freelist
        self.old_pgid = pf.meta.pgid
        self.hwm = pf.meta.pgid
        if pf.meta.txid >= fmt.MAX_TXID:
            raise CorruptError(f"meta {pf.meta.slot}: txid {pf.meta.txid} leaves no room for another transaction")
        self.txid = pf.meta.txid + 1
        self.root = _Bucket(self, pf.meta.root, pf.meta.sequence, None, ())
        self._freed: dict[int, None] = {}
        self._next_write = pf.meta.pgid
        self._reads = 0
        self._committed = False

    # -- page bookkeeping ----------------------------------------------------------------------

    def allocate(self, count: int) -> int:
        """allocate hands out ``count`` contiguous new page ids at the high-water mark."""
        pgid = self.hwm
        self.hwm += count
        return pgid

    def write_page(self, pgid: int, image: bytes) -> None:
        """write_page hands the image of newly allocated page ``pgid`` to the sink (pages arrive in allocation order)."""
        if pgid != self._next_write or len(image) % self.page_size:
            raise CorruptError("internal: pages written out of allocation order", pgid)
        self.sink.write(pgid, image)
        self._next_write += len(image) // self.page_size

    def page(self, pgid: int) -> tuple[PageHeaderInfo, memoryview]:
        """page returns header and image of page ``pgid``: an old page from the file, a new one back from the sink."""
        if pgid < self.old_pgid:
            self._reads += 1
            if self._reads % RELEASE_EVERY == 0:
                self.pf.release()
            return self.pf.page(pgid)
        if pgid >= self._next_write:
            raise CorruptError(f"page id out of range (high-water mark {self._next_write})", pgid)
        h = PageHeaderInfo(*fmt.PAGE_HEADER.unpack_from(self.sink.read(pgid, fmt.PAGE_HEADER_SIZE), 0))
        if h.id != pgid or pgid + h.overflow >= self._next_write:
            raise CorruptError("internal: new page read back does not match what was written", pgid)
        return h, memoryview(self.sink.read(pgid, (h.overflow + 1) * self.page_size))

    def page_copy(self, pgid: int) -> tuple[PageHeaderInfo, bytes]:
        """page_copy is ``page`` as bytes of its own: an old page read from the file (``PageFile.read_page``), not mapped."""
        if pgid < self.old_pgid:
            return self.pf.read_page(pgid)
        h, buf = self.page(pgid)
        return h, bytes(buf)

    def free(self, pgid: int, overflow: int) -> None:
        """free marks page ``pgid`` and its overflow pages as no longer used by the new tree.

        Old pages (below the old high-water mark) stay as the old meta's tree needs them; a new page
        freed (re-read after an early spill) is simply left unreachable.
        """
        if pgid < 2 or (pgid < self.old_pgid <= pgid + overflow) or pgid + overflow >= self._next_write:
            raise CorruptError("cannot free a meta page or a page past the high-water mark", pgid)
        for p in range(pgid, pgid + overflow + 1):
            if p in self._freed:
                raise CorruptError("page freed twice (referenced twice in the tree?)", p)
            self._freed[p] = None

    # -- public API ----------------------------------------------------------------------------

    def _bucket(self, path: tuple[bytes, ...]) -> _Bucket:
        """_bucket opens the bucket at ``path`` (cached for the transaction)."""
        if not path:
            raise WriteError("the root bucket holds only buckets: give a bucket path")
        b = self.root
        for depth, name in enumerate(path):
            child = b.buckets.get(name)
            if child is None:
                ino = b.get(name)
                if ino is None or not ino.flags & fmt.BUCKET_LEAF_FLAG:
                    raise KeyNotFoundError(f"bucket {_path_label(path[: depth + 1])} not found")
                if len(ino.value) < fmt.BUCKET_HEADER_SIZE:
                    raise CorruptError(f"bucket {_path_label(path[: depth + 1])}: value too short for a header")
                root, seq = fmt.BUCKET_HEADER.unpack_from(ino.value, 0)
                inline = ino.value[fmt.BUCKET_HEADER_SIZE :] if root == 0 else None
                child = _Bucket(self, root, seq, inline, tuple(path[: depth + 1]))
                b.buckets[name] = child
            b = child
        return b

    def get(self, bucket_path: tuple[bytes, ...], key: bytes) -> bytes | None:
        """get returns the value under ``key`` as this transaction sees it (None if absent or a sub-bucket)."""
        ino = self._bucket(tuple(bucket_path)).get(key)
        return None if ino is None or ino.flags & fmt.BUCKET_LEAF_FLAG else ino.value

    def put(self, bucket_path: tuple[bytes, ...], key: bytes, value: bytes) -> None:
        """put stores ``value`` under ``key`` in the bucket at ``bucket_path``."""
        self._check_open()
        key, value = bytes(key), bytes(value)
        refused = bulk.refusal(key, value)
        if refused is not None:
            raise WriteError(refused)
        b = self._bucket(tuple(bucket_path))
        inodes, i, node = b.leaf_for_put(key)
        if i < len(inodes) and inodes[i].key == key:
            if inodes[i].flags & fmt.BUCKET_LEAF_FLAG:
                raise WriteError(f"key in bucket {b._label()} is a sub-bucket, not a value")
            ino = inodes[i]
            ino.flags, ino.value, ino.pgid = 0, value, 0
        else:
            inodes.insert(i, Inode(0, key, value, 0))

    def put_many(self, bucket_path: tuple[bytes, ...], items: Iterable[tuple[bytes, bytes | None]]) -> None:
        """put_many is ``put`` of every (key, value) in turn (``delete`` where the value is None), the same pages.

        Puts in increasing key order go a leaf at a time (``bulk``: each leaf read once, merged with its
        puts and written once, not materialized as a node); anything else goes key by key.
        """
        self._check_open()
        path = tuple(bucket_path)
        b = self._bucket(path)
        it = iter(items)
        item = next(it, None)
        last: bytes | None = None  # the last key put or deleted
        trail: list = []  # the branches bulk's last descent passed (``bulk._to_leaf``)
        while item is not None:
            key, value = bytes(item[0]), item[1]
            if value is not None and (last is None or key > last):
                value = bytes(value)
                if bulk.refusal(key, value) is None:
                    done = bulk.put_run(b, key, value, it, trail)
                    if done is not None:
                        item, last = done
                        continue
            trail.clear()
            if value is None:
                self.delete(path, key)
            else:
                self.put(path, key, value)
            last = key
            item = next(it, None)

    def delete(self, bucket_path: tuple[bytes, ...], key: bytes) -> None:
        """delete removes ``key`` from the bucket at ``bucket_path`` (absent keys are ignored, like bbolt)."""
        self._check_open()
        key = bytes(key)
        b = self._bucket(tuple(bucket_path))
        inodes, i, _ = b.seek(key, False)
        if not (i < len(inodes) and inodes[i].key == key):
            return
        if inodes[i].flags & fmt.BUCKET_LEAF_FLAG:
            raise WriteError(f"key in bucket {b._label()} is a sub-bucket, not a value")
        _, _, node = b.seek(key, True)
        node.delete(key)

    def create_bucket(self, bucket_path: tuple[bytes, ...]) -> None:
        """create_bucket adds an empty (inline) bucket at ``bucket_path``; its parent must exist, it must not."""
        self._check_open()
        path = tuple(bytes(n) for n in bucket_path)
        if not path or not path[-1]:
            raise WriteError("empty bucket name")
        if len(path[-1]) > MAX_KEY_SIZE:
            raise WriteError(f"bucket name of {len(path[-1])} bytes exceeds bbolt's {MAX_KEY_SIZE}")
        parent = self._bucket(path[:-1]) if len(path) > 1 else self.root
        name = path[-1]
        if parent.get(name) is not None:
            raise WriteError(f"key {_path_label(path)} already exists")
        _, _, node = parent.seek(name, True)
        empty_leaf = fmt.PAGE_HEADER.pack(0, fmt.LEAF_PAGE, 0, 0)
        node.put(name, name, fmt.BUCKET_HEADER.pack(0, 0) + empty_leaf, 0, fmt.BUCKET_LEAF_FLAG)

    def _check_open(self) -> None:
        if self._committed:
            raise WriteError("transaction already committed")

    def commit(self) -> Patch:
        """commit rebalances, spills, writes the freelist (if synced) and the next meta, and returns the ``Patch``."""
        self._check_open()
        self._committed = True
        meta = self.pf.meta
        self.root.rebalance()
        self.root.spill()
        freelist = fmt.PGID_NO_FREELIST
        if meta.has_freelist:
            h = self.pf.header(meta.freelist)
            self.free(meta.freelist, h.overflow)
        if self.sync_freelist:
            freelist = self._write_freelist()
        new_meta = replace(meta, slot=self.txid % 2, root=self.root.root, sequence=self.root.sequence,
                           freelist=freelist, pgid=self.hwm, txid=self.txid)
        page = build_meta(new_meta, self.txid)
        new_meta = replace(new_meta, checksum=fmt.U64.unpack_from(page, fmt.PAGE_HEADER_SIZE + fmt.META_CHECKSUM_OFFSET)[0])
        if self._next_write != self.hwm:
            raise CorruptError("internal: allocated pages were not all written", self._next_write)
        return Patch(
            page_size=self.page_size,
            copy_length=self.old_pgid * self.page_size,
            overwrites=((new_meta.slot * self.page_size, page),),
            append=self.sink.data() if self._memory else None,
            meta=new_meta,
            freed=tuple(sorted(self._freed)),
            append_length=(self.hwm - self.old_pgid) * self.page_size,
        )

    def _write_freelist(self) -> int:
        """_write_freelist allocates and writes the new freelist page: old free ids plus the pages freed now."""
        if self.pf.meta.has_freelist:
            old = read_freelist(self.pf)
        else:
            from .check import (
                unreachable_pages,  # check walks the tree; imported late to keep the layers flat
            )

            old = unreachable_pages(self.pf)
        ids = set(old)
        if len(ids) != len(old):
            raise CorruptError("old freelist lists a page twice")
        clash = ids.intersection(self._freed)
        if clash:
            raise CorruptError("page is both free and in the tree", min(clash))
        ids.update(self._freed)
        pgid = self.allocate(freelist_pages(len(ids), self.page_size))
        self.write_page(pgid, build_freelist(pgid, sorted(ids), self.page_size))
        return pgid


def _path_label(path: tuple[bytes, ...]) -> str:
    return "/".join(n.decode("utf-8", "backslashreplace") for n in path)


def apply_patch(src_path: str | os.PathLike, patch: Patch, dst_file: BinaryIO | str | os.PathLike,
                chunk: int = 1 << 20) -> int:
    """apply_patch writes the patched bbolt data (no snapshot trailer) to ``dst_file``; returns bytes written."""
    if not hasattr(dst_file, "write"):
        with open(dst_file, "wb") as f:
            return apply_patch(src_path, patch, f, chunk)
    edits = sorted(patch.overwrites)
    for off, data in edits:
        if off < 0 or off + len(data) > patch.copy_length:
            raise CorruptError(f"patch overwrite at offset {off} falls outside the kept data")
    written = 0
    with open(src_path, "rb") as src:
        while written < patch.copy_length:
            buf = src.read(min(chunk, patch.copy_length - written))
            if not buf:
                raise CorruptError("source shorter than the patch's kept data")
            piece = bytearray(buf)
            for off, data in edits:
                lo, hi = max(off, written), min(off + len(data), written + len(buf))
                if lo < hi:
                    piece[lo - written : hi - written] = data[lo - off : hi - off]
            dst_file.write(piece)
            written += len(buf)
    if patch.append is None:
        raise WriteError("patch pages went to a sink: nothing to append here")
    dst_file.write(patch.append)
    return written + len(patch.append)
