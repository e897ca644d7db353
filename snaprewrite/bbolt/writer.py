"""A copy-on-write bbolt transaction: puts and deletes on in-memory nodes, then bbolt's commit as a ``Patch``.

The commit follows bbolt's ``tx.Commit``: rebalance nodes that lost keys (merge into a sibling, remove
empty ones, collapse a one-child root branch), spill sub-buckets first (inline while bbolt's inline rule
holds, else as their own pages) then every materialized node bottom-up, splitting nodes that outgrow a
page, growing a new root when the root splits. Every page written is new: ids are taken from the old
high-water mark upward and free pages are never reused, so the tree the old meta points to stays intact
and a crash before the meta write loses nothing.

No file I/O happens here: ``commit`` returns a ``Patch`` (the prefix of the original data to keep, one
meta page overwrite inside it, the pages to append). ``apply_patch`` is a small reference applier.

Invariants of a ``Patch``: ``copy_length == old pgid * page_size``; the only overwrite is the meta page
of slot ``(txid + 1) % 2``; ``append`` holds pages ``old pgid .. new pgid - 1`` contiguously.
"""

import bisect
import os
from dataclasses import dataclass, replace
from typing import BinaryIO

from ..errors import CorruptError, KeyNotFoundError, PlanError
from . import format as fmt
from .freelist import build_freelist, freelist_pages, read_freelist
from .pages import MetaInfo, PageFile, build_meta
from .tree import MAX_DEPTH, read_branch, read_leaf

MAX_KEY_SIZE = 32768
MAX_VALUE_SIZE = (1 << 31) - 2
MIN_FILL_PERCENT = 0.1
MAX_FILL_PERCENT = 1.0


@dataclass(frozen=True)
class Patch:
    """The new file as edits to the old data: keep ``copy_length`` bytes, apply ``overwrites``, add ``append``."""

    page_size: int
    copy_length: int  # old meta.pgid * page_size: bytes of the original data kept as they are
    overwrites: tuple[tuple[int, bytes], ...]  # (offset, bytes), all inside the kept prefix (the new meta page)
    append: bytes  # new pages, from the old high-water mark on
    meta: MetaInfo  # the new meta (slot, root, freelist, pgid, txid, checksum)
    freed: tuple[int, ...]  # old page ids no longer reachable from the new meta (sorted)

    @property
    def new_length(self) -> int:
        """new_length is the size of the new bbolt data: meta.pgid * page_size."""
        return self.copy_length + len(self.append)


class _Inode:
    """One element of a node: leaf (flags, key, value) or branch (key, child pgid)."""

    __slots__ = ("flags", "key", "pgid", "value")

    def __init__(self, flags: int, key: bytes, value: bytes, pgid: int):
        self.flags = flags
        self.key = key
        self.value = value
        self.pgid = pgid


class _Node:
    """An in-memory page of one bucket; ``pgid`` 0 means new (or the inline page), ``key`` is the parent's key for it."""

    __slots__ = (
        "bucket",
        "children",
        "inodes",
        "is_leaf",
        "key",
        "overflow",
        "parent",
        "pgid",
        "removed",
        "spilled",
        "unbalanced",
    )

    def __init__(self, bucket: "_Bucket", is_leaf: bool, parent: "_Node | None"):
        self.bucket = bucket
        self.is_leaf = is_leaf
        self.pgid = 0
        self.overflow = 0
        self.inodes: list[_Inode] = []
        self.children: list[_Node] = []
        self.parent = parent
        self.key: bytes | None = None
        self.unbalanced = False
        self.spilled = False
        self.removed = False

    # -- shape ---------------------------------------------------------------------------------

    def element_size(self) -> int:
        """element_size is the size of one element header on this node's page."""
        return fmt.LEAF_ELEMENT_SIZE if self.is_leaf else fmt.BRANCH_ELEMENT_SIZE

    def size(self) -> int:
        """size returns the bytes this node takes as a page: header, elements, keys and values."""
        es = self.element_size()
        return fmt.PAGE_HEADER_SIZE + sum(es + len(i.key) + len(i.value) for i in self.inodes)

    def min_keys(self) -> int:
        """min_keys is bbolt's minimum element count before a node is merged (leaf 1, branch 2)."""
        return 1 if self.is_leaf else 2

    def root(self) -> "_Node":
        """root returns the top of this node's parent chain."""
        n = self
        while n.parent is not None:
            n = n.parent
        return n

    def index(self, key: bytes) -> int:
        """index returns the position of the first element whose key is >= ``key``."""
        return bisect.bisect_left(self.inodes, key, key=lambda i: i.key)

    def child_index(self, child: "_Node") -> int:
        """child_index returns the position of ``child`` among this branch's elements (by its key)."""
        return self.index(child.key if child.key is not None else child.inodes[0].key)

    def child_at(self, i: int) -> "_Node":
        """child_at materializes the child node of element ``i`` of this branch."""
        return self.bucket.node(self.inodes[i].pgid, self, self.inodes[i].key)

    # -- edits ---------------------------------------------------------------------------------

    def put(self, old_key: bytes, new_key: bytes, value: bytes, pgid: int, flags: int) -> None:
        """put inserts an element, or replaces the one stored under ``old_key``."""
        i = self.index(old_key)
        if not (i < len(self.inodes) and self.inodes[i].key == old_key):
            self.inodes.insert(i, _Inode(0, b"", b"", 0))
        ino = self.inodes[i]
        ino.flags, ino.key, ino.value, ino.pgid = flags, new_key, value, pgid

    def delete(self, key: bytes) -> None:
        """delete removes the element stored under ``key`` (if any) and marks the node for rebalancing."""
        i = self.index(key)
        if i < len(self.inodes) and self.inodes[i].key == key:
            del self.inodes[i]
            self.unbalanced = True

    def remove_child(self, child: "_Node") -> None:
        """remove_child drops ``child`` from the materialized children list."""
        self.children = [c for c in self.children if c is not child]

    def free(self) -> None:
        """free returns this node's old page (and its overflow) to the transaction's freed list."""
        if self.pgid != 0:
            self.bucket.tx.free(self.pgid, self.overflow)
            self.pgid = 0

    # -- rebalance (after deletes) -------------------------------------------------------------

    def rebalance(self) -> None:
        """rebalance merges a node that fell below a quarter page or its minimum keys, as bbolt does."""
        if not self.unbalanced or self.removed:
            return
        self.unbalanced = False
        b = self.bucket
        if self.size() > b.tx.page_size // 4 and len(self.inodes) > self.min_keys():
            return
        if self.parent is None:
            if not self.is_leaf and len(self.inodes) == 1:  # collapse a one-child root branch
                child = self.child_at(0)
                self.is_leaf = child.is_leaf
                self.inodes = child.inodes[:]
                self.children = child.children
                if not self.is_leaf:
                    for ino in self.inodes:
                        c = b.nodes.get(ino.pgid)
                        if c is not None:
                            c.parent = self
                child.parent = None
                b.forget(child)
                child.free()
            return
        parent = self.parent
        if not self.inodes:  # empty: remove it from its parent
            parent.delete(self.key)
            parent.remove_child(self)
            b.forget(self)
            self.free()
            parent.rebalance()
            return
        if len(parent.inodes) < 2:
            raise CorruptError("branch page with a single child below the root", parent.pgid or None)
        use_next = parent.child_index(self) == 0
        if use_next:
            target = parent.child_at(parent.child_index(self) + 1)
            self._adopt(target.inodes, self)
            self.inodes.extend(target.inodes)
            parent.delete(target.key)
            parent.remove_child(target)
            b.forget(target)
            target.free()
        else:
            target = parent.child_at(parent.child_index(self) - 1)
            self._adopt(self.inodes, target)
            target.inodes.extend(self.inodes)
            parent.delete(self.key)
            parent.remove_child(self)
            b.forget(self)
            self.free()
        parent.rebalance()

    def _adopt(self, inodes: list[_Inode], new_parent: "_Node") -> None:
        """_adopt reparents the materialized children referenced by ``inodes`` to ``new_parent``."""
        if self.is_leaf:
            return
        for ino in inodes:
            c = self.bucket.nodes.get(ino.pgid)
            if c is not None and c.parent is not None:
                c.parent.remove_child(c)
                c.parent = new_parent
                new_parent.children.append(c)

    # -- spill (commit) ------------------------------------------------------------------------

    def split(self) -> list["_Node"]:
        """split cuts this node into page-sized nodes as bbolt's repeated splitTwo does; the first one is ``self``.

        A rest of at most 4 elements, or smaller than a page, stays whole (a single big element gets
        an overflow run); otherwise a node takes elements up to the fill threshold (at least 2) and
        leaves at least 2. One pass over the elements, so a leaf that got many appends splits in linear time.
        """
        tx = self.bucket.tx
        threshold = int(tx.page_size * min(max(tx.fill_percent, MIN_FILL_PERCENT), MAX_FILL_PERCENT))
        es, inodes, n = self.element_size(), self.inodes, len(self.inodes)
        sizes = [es + len(i.key) + len(i.value) for i in inodes]
        rest = fmt.PAGE_HEADER_SIZE + sum(sizes)  # size of the node made of inodes[start:]
        cuts, start, min_keys = [], 0, fmt.MIN_KEYS_PER_PAGE
        while n - start > min_keys * 2 and rest >= tx.page_size:
            at, sz = start, fmt.PAGE_HEADER_SIZE
            for i in range(start, n - min_keys):
                at = i
                if i - start >= min_keys and sz + sizes[i] > threshold:
                    break
                sz += sizes[i]
            rest -= sum(sizes[start:at])
            cuts.append(at)
            start = at
        if not cuts:
            return [self]
        if self.parent is None:  # the root splits: a new root branch above it
            self.parent = _Node(self.bucket, False, None)
            self.parent.children.append(self)
        nodes = [self]
        for lo, hi in zip(cuts, cuts[1:] + [n]):
            nxt = _Node(self.bucket, self.is_leaf, self.parent)
            nxt.inodes = inodes[lo:hi]
            self.parent.children.append(nxt)
            nodes.append(nxt)
        self.inodes = inodes[: cuts[0]]
        return nodes

    def spill(self) -> None:
        """spill writes this node's subtree to new pages (children first), updating the parent's keys and pgids."""
        if self.spilled:
            return
        tx = self.bucket.tx
        i = 0
        self.children.sort(key=lambda c: c.inodes[0].key if c.inodes else b"")
        while i < len(self.children):  # a child's spill may add siblings (splits)
            self.children[i].spill()
            i += 1
        self.children = []
        for node in self.split():
            node.free()
            count = (node.size() + tx.page_size - 1) // tx.page_size
            node.pgid = tx.allocate(count)
            tx.write_page(node.pgid, node.image(node.pgid, count))
            node.spilled = True
            if node.parent is not None:
                key = node.key if node.key is not None else node.inodes[0].key
                node.parent.put(key, node.inodes[0].key, b"", node.pgid, 0)
                node.key = node.inodes[0].key
        if self.parent is not None and self.parent.pgid == 0 and not self.parent.spilled:
            self.children = []
            self.parent.spill()

    def image(self, pgid: int, npages: int) -> bytes:
        """image lays the node out as bbolt writes a page: header, elements, then each key and its value."""
        count = len(self.inodes)
        if count >= fmt.COUNT_OVERFLOW:
            raise PlanError(f"node of {count} elements exceeds a page's element count")
        total = npages * self.bucket.tx.page_size if npages else self.size()
        buf = bytearray(total)
        flags = fmt.LEAF_PAGE if self.is_leaf else fmt.BRANCH_PAGE
        fmt.PAGE_HEADER.pack_into(buf, 0, pgid, flags, count, max(npages - 1, 0))
        es = self.element_size()
        off = fmt.PAGE_HEADER_SIZE + es * count
        for n, ino in enumerate(self.inodes):
            eoff = fmt.PAGE_HEADER_SIZE + n * es
            if self.is_leaf:
                fmt.LEAF_ELEMENT.pack_into(buf, eoff, ino.flags, off - eoff, len(ino.key), len(ino.value))
            else:
                fmt.BRANCH_ELEMENT.pack_into(buf, eoff, off - eoff, len(ino.key), ino.pgid)
            buf[off : off + len(ino.key)] = ino.key
            off += len(ino.key)
            if self.is_leaf:
                buf[off : off + len(ino.value)] = ino.value
                off += len(ino.value)
        return bytes(buf)


class _Bucket:
    """A bucket opened in the transaction: its materialized nodes and opened sub-buckets."""

    def __init__(self, tx: "Transaction", root: int, sequence: int, inline: bytes | None, name: tuple[bytes, ...]):
        self.tx = tx
        self.root = root
        self.sequence = sequence
        self.inline = inline  # page image of an inline bucket (root 0)
        self.name = name
        self.nodes: dict[int, _Node] = {}
        self.root_node: _Node | None = None
        self.buckets: dict[bytes, _Bucket] = {}

    def page_items(self, pgid: int) -> tuple[bool, list[_Inode], int]:
        """page_items reads page ``pgid`` (the inline image for pgid 0) as (is_leaf, elements, overflow)."""
        if pgid == 0 and self.root == 0 and self.inline is not None:
            buf = memoryview(self.inline)
            if len(buf) < fmt.PAGE_HEADER_SIZE:
                raise CorruptError(f"bucket {self._label()}: inline page shorter than its header")
            _, flags, count, _ = fmt.PAGE_HEADER.unpack_from(buf, 0)
            if flags != fmt.LEAF_PAGE:
                raise CorruptError(f"bucket {self._label()}: inline page is not a leaf")
            items = read_leaf(buf, count, None)
            return True, [_Inode(i.flags, bytes(i.key), bytes(i.value), 0) for i in items], 0
        if pgid < 2:
            raise CorruptError(f"bucket {self._label()}: tree points at a meta page", pgid)
        h, buf = self.tx.pf.page(pgid)
        if h.flags == fmt.LEAF_PAGE:
            items = read_leaf(buf, h.count, pgid)
            return True, [_Inode(i.flags, bytes(i.key), bytes(i.value), 0) for i in items], h.overflow
        if h.flags == fmt.BRANCH_PAGE:
            return False, [_Inode(0, bytes(k), b"", c) for k, c in read_branch(buf, h.count, pgid)], h.overflow
        raise CorruptError(f"unexpected page type {h.flags:#x} in bucket {self._label()}", pgid)

    def _label(self) -> str:
        return "/".join(n.decode("utf-8", "backslashreplace") for n in self.name) or "<root>"

    def node(self, pgid: int, parent: _Node | None, key: bytes | None = None) -> _Node:
        """node materializes page ``pgid`` as a node of this bucket (cached), linking it under ``parent``.

        ``key`` is the parent's key for the page (bbolt takes the page's first key; the parent's is the
        one the parent must find again when the node is replaced, merged or removed).
        """
        n = self.nodes.get(pgid)
        if n is not None:
            return n
        is_leaf, inodes, overflow = self.page_items(pgid)
        n = _Node(self, is_leaf, parent)
        n.pgid, n.overflow, n.inodes = pgid, overflow, inodes
        n.key = key if key is not None else (inodes[0].key if inodes else None)
        if parent is None:
            self.root_node = n
        else:
            parent.children.append(n)
        self.nodes[pgid] = n
        return n

    def forget(self, n: _Node) -> None:
        """forget drops a node merged away or removed from the tree."""
        n.removed = True
        if self.nodes.get(n.pgid) is n:
            del self.nodes[n.pgid]

    def seek(self, key: bytes, materialize: bool) -> tuple[list[_Inode], int, _Node | None]:
        """seek finds the leaf for ``key``: its elements, the index where ``key`` is or would go, the node if materialized."""
        pgid = self.root
        parent: _Node | None = None
        pkey: bytes | None = None
        for _ in range(MAX_DEPTH):
            n = self.nodes.get(pgid)
            if n is None and materialize:
                n = self.node(pgid, parent, pkey)
            if n is not None:
                is_leaf, inodes = n.is_leaf, n.inodes
            else:
                is_leaf, inodes, _ = self.page_items(pgid)
            if is_leaf:
                return inodes, bisect.bisect_left(inodes, key, key=lambda i: i.key), n
            if not inodes:
                raise CorruptError(f"empty branch page in bucket {self._label()}", pgid)
            i = max(bisect.bisect_right(inodes, key, key=lambda i: i.key) - 1, 0)
            parent, pgid, pkey = n, inodes[i].pgid, inodes[i].key
        raise CorruptError(f"bucket {self._label()}: tree deeper than any real bbolt file (cycle?)", pgid)

    def get(self, key: bytes) -> _Inode | None:
        """get returns the current element under ``key`` (pending changes included), or None."""
        inodes, i, _ = self.seek(key, False)
        if i < len(inodes) and inodes[i].key == key:
            return inodes[i]
        return None

    # -- commit --------------------------------------------------------------------------------

    def rebalance(self) -> None:
        """rebalance runs node rebalancing over this bucket and its opened sub-buckets."""
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
    was synced), False drops it.
    """

    def __init__(self, pf: PageFile, fill_percent: float = fmt.DEFAULT_FILL_PERCENT,
                 sync_freelist: bool | None = None):
        self.pf = pf
        self.page_size = pf.page_size
        self.fill_percent = fill_percent
        self.sync_freelist = pf.meta.has_freelist if sync_freelist is None else sync_freelist
        self.old_pgid = pf.meta.pgid
        self.hwm = pf.meta.pgid
        self.txid = pf.meta.txid + 1
        self.root = _Bucket(self, pf.meta.root, pf.meta.sequence, None, ())
        self._freed: dict[int, None] = {}
        self._pages: list[bytes] = []
        self._next_write = pf.meta.pgid
        self._committed = False

    # -- page bookkeeping ----------------------------------------------------------------------

    def allocate(self, count: int) -> int:
        """allocate hands out ``count`` contiguous new page ids at the high-water mark."""
        pgid = self.hwm
        self.hwm += count
        return pgid

    def write_page(self, pgid: int, image: bytes) -> None:
        """write_page records the image of newly allocated page ``pgid`` (pages arrive in allocation order)."""
        if pgid != self._next_write or len(image) % self.page_size:
            raise CorruptError("internal: pages written out of allocation order", pgid)
        self._pages.append(image)
        self._next_write += len(image) // self.page_size

    def free(self, pgid: int, overflow: int) -> None:
        """free marks old page ``pgid`` and its overflow pages as no longer used by the new tree."""
        if pgid < 2 or pgid + overflow >= self.old_pgid:
            raise CorruptError("cannot free a meta page or a page past the high-water mark", pgid)
        for p in range(pgid, pgid + overflow + 1):
            if p in self._freed:
                raise CorruptError("page freed twice (referenced twice in the tree?)", p)
            self._freed[p] = None

    # -- public API ----------------------------------------------------------------------------

    def _bucket(self, path: tuple[bytes, ...]) -> _Bucket:
        """_bucket opens the bucket at ``path`` (cached for the transaction)."""
        if not path:
            raise PlanError("the root bucket holds only buckets: give a bucket path")
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
        if not key:
            raise PlanError("empty key")
        if len(key) > MAX_KEY_SIZE:
            raise PlanError(f"key of {len(key)} bytes exceeds bbolt's {MAX_KEY_SIZE}")
        if len(value) > MAX_VALUE_SIZE:
            raise PlanError(f"value of {len(value)} bytes exceeds bbolt's limit")
        b = self._bucket(tuple(bucket_path))
        inodes, i, node = b.seek(key, True)
        if i < len(inodes) and inodes[i].key == key and inodes[i].flags & fmt.BUCKET_LEAF_FLAG:
            raise PlanError(f"key in bucket {b._label()} is a sub-bucket, not a value")
        node.put(key, key, value, 0, 0)

    def delete(self, bucket_path: tuple[bytes, ...], key: bytes) -> None:
        """delete removes ``key`` from the bucket at ``bucket_path`` (absent keys are ignored, like bbolt)."""
        self._check_open()
        key = bytes(key)
        b = self._bucket(tuple(bucket_path))
        inodes, i, _ = b.seek(key, False)
        if not (i < len(inodes) and inodes[i].key == key):
            return
        if inodes[i].flags & fmt.BUCKET_LEAF_FLAG:
            raise PlanError(f"key in bucket {b._label()} is a sub-bucket, not a value")
        _, _, node = b.seek(key, True)
        node.delete(key)

    def create_bucket(self, bucket_path: tuple[bytes, ...]) -> None:
        """create_bucket adds an empty (inline) bucket at ``bucket_path``; its parent must exist, it must not."""
        self._check_open()
        path = tuple(bytes(n) for n in bucket_path)
        if not path or not path[-1]:
            raise PlanError("empty bucket name")
        if len(path[-1]) > MAX_KEY_SIZE:
            raise PlanError(f"bucket name of {len(path[-1])} bytes exceeds bbolt's {MAX_KEY_SIZE}")
        parent = self._bucket(path[:-1]) if len(path) > 1 else self.root
        name = path[-1]
        if parent.get(name) is not None:
            raise PlanError(f"key {_path_label(path)} already exists")
        _, _, node = parent.seek(name, True)
        empty_leaf = fmt.PAGE_HEADER.pack(0, fmt.LEAF_PAGE, 0, 0)
        node.put(name, name, fmt.BUCKET_HEADER.pack(0, 0) + empty_leaf, 0, fmt.BUCKET_LEAF_FLAG)

    def _check_open(self) -> None:
        if self._committed:
            raise PlanError("transaction already committed")

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
        return Patch(
            page_size=self.page_size,
            copy_length=self.old_pgid * self.page_size,
            overwrites=((new_meta.slot * self.page_size, page),),
            append=b"".join(self._pages),
            meta=new_meta,
            freed=tuple(sorted(self._freed)),
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
    dst_file.write(patch.append)
    return written + len(patch.append)
