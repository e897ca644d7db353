"""In-memory bbolt nodes for the writer: elements, put/delete, and bbolt's rebalance, split and spill.

A ``Node`` is one page of one bucket, read into ``Inode`` records (bbolt's node.go). Only ``image``
turns a node back into page bytes. Nodes talk to their bucket (``node``, ``forget``, ``nodes``) and
through it to the transaction (``page_size``, ``fill_percent``, ``allocate``, ``write_page``, ``free``);
those live in ``writer.py``.
"""

import bisect
from itertools import repeat
from operator import attrgetter
from typing import TYPE_CHECKING

from ..errors import CorruptError, WriteError
from . import elements
from . import format as fmt

if TYPE_CHECKING:
    from .writer import _Bucket

MIN_FILL_PERCENT = 0.1
MAX_FILL_PERCENT = 1.0
_KEY = attrgetter("key")
class Inode:
    """One element of a node: leaf (flags, key, value) or branch (key, child pgid)."""

    __slots__ = ("flags", "key", "pgid", "value")

    def __init__(self, flags: int, key: bytes, value: bytes, pgid: int):
        self.flags = flags
        self.key = key
        self.value = value
        self.pgid = pgid


def leaf_inodes(buf: bytes, count: int, pgid: int | None) -> list[Inode]:
    """leaf_inodes decodes the ``count`` elements of a leaf page image into Inodes (keys, values copied out)."""
    flags, ks, vs, ends, _first = elements.leaf_spans(buf, 0, len(buf), count, pgid)
    return list(map(Inode, flags, map(buf.__getitem__, map(slice, ks, vs)),
                    map(buf.__getitem__, map(slice, vs, ends)), repeat(0)))


class Node:
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

    def __init__(self, bucket: "_Bucket", is_leaf: bool, parent: "Node | None"):
        self.bucket = bucket
        self.is_leaf = is_leaf
        self.pgid = 0
        self.overflow = 0
        self.inodes: list[Inode] = []
        self.children: list[Node] = []
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

    def root(self) -> "Node":
        """root returns the top of this node's parent chain."""
        n = self
        while n.parent is not None:
            n = n.parent
        return n

    def index(self, key: bytes) -> int:
        """index returns the position of the first element whose key is >= ``key``."""
        return bisect.bisect_left(self.inodes, key, key=_KEY)

    def child_index(self, child: "Node") -> int:
        """child_index returns the position of ``child`` among this branch's elements (by its key)."""
        return self.index(child.key if child.key is not None else child.inodes[0].key)

    def child_at(self, i: int) -> "Node":
        """child_at materializes the child node of element ``i`` of this branch."""
        return self.bucket.node(self.inodes[i].pgid, self, self.inodes[i].key)

    # -- edits ---------------------------------------------------------------------------------

    def put(self, old_key: bytes, new_key: bytes, value: bytes, pgid: int, flags: int) -> None:
        """put inserts an element, or replaces the one stored under ``old_key``."""
        i = self.index(old_key)
        if not (i < len(self.inodes) and self.inodes[i].key == old_key):
            self.inodes.insert(i, Inode(0, b"", b"", 0))
        ino = self.inodes[i]
        ino.flags, ino.key, ino.value, ino.pgid = flags, new_key, value, pgid

    def delete(self, key: bytes) -> None:
        """delete removes the element stored under ``key`` (if any) and marks the node for rebalancing."""
        i = self.index(key)
        if i < len(self.inodes) and self.inodes[i].key == key:
            del self.inodes[i]
            self.unbalanced = True

    def remove_child(self, child: "Node") -> None:
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

    def _adopt(self, inodes: list[Inode], new_parent: "Node") -> None:
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

    def split(self) -> list["Node"]:
        """split cuts this node into page-sized nodes as bbolt's repeated splitTwo does; the first one is ``self``.

        A rest of at most 4 elements, or smaller than a page, stays whole (a single big element gets
        an overflow run); otherwise a node takes elements up to the fill threshold (at least 2) and
        leaves at least 2. One pass over the elements, so a leaf that got many appends splits in linear time.
        """
        tx = self.bucket.tx
        inodes, n = self.inodes, len(self.inodes)
        es = self.element_size()
        cuts = split_cuts([es + len(i.key) + len(i.value) for i in inodes], tx.page_size, tx.fill_percent)
        if not cuts:
            return [self]
        if self.parent is None:  # the root splits: a new root branch above it
            self.parent = Node(self.bucket, False, None)
            self.parent.children.append(self)
        nodes = [self]
        for lo, hi in zip(cuts, cuts[1:] + [n]):
            nxt = Node(self.bucket, self.is_leaf, self.parent)
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

    def spill_early(self) -> bool:
        """spill_early writes a finished leaf now (split if it outgrew a page) and drops it; False if it must wait.

        Only a leaf below a branch that no delete left unbalanced qualifies: its parent (kept in memory
        until the commit) takes the new page ids and first keys, as ``spill`` would give them.
        """
        parent = self.parent
        if not self.is_leaf or parent is None or self.unbalanced or self.removed or self.spilled or not self.inodes:
            return False
        b = self.bucket
        tx = b.tx
        if b.nodes.get(self.pgid) is self:
            del b.nodes[self.pgid]
        nodes = self.split()
        for node in nodes:
            node.free()
            count = (node.size() + tx.page_size - 1) // tx.page_size
            node.pgid = tx.allocate(count)
            tx.write_page(node.pgid, node.image(node.pgid, count))
            key = node.key if node.key is not None else node.inodes[0].key
            parent.put(key, node.inodes[0].key, b"", node.pgid, 0)
            node.key = node.inodes[0].key
        gone = {id(n) for n in nodes}
        parent.children = [c for c in parent.children if id(c) not in gone]
        for node in nodes:
            node.removed = True
            node.inodes = []
            node.parent = None
        return True

    def image(self, pgid: int, npages: int) -> bytes:
        """image lays the node out as bbolt writes a page: header, elements, then each key and its value."""
        inodes = self.inodes
        if self.is_leaf:
            return leaf_image(pgid, npages, self.bucket.tx.page_size, [i.flags for i in inodes],
                              [i.key for i in inodes], [i.value for i in inodes])
        count = _element_count(inodes)
        es = fmt.BRANCH_ELEMENT_SIZE
        off = fmt.PAGE_HEADER_SIZE + es * count  # where the first key goes
        fields: list[int] = []
        parts: list[bytes] = []
        eoff = fmt.PAGE_HEADER_SIZE
        for ino in inodes:
            k = ino.key
            fields += (off - eoff, len(k), ino.pgid)
            parts.append(k)
            off += len(k)
            eoff += es
        return _page(pgid, fmt.BRANCH_PAGE, count, npages, self.bucket.tx.page_size,
                     elements.branch_array(count).pack(*fields), parts, off)


def split_cuts(sizes: list[int], page_size: int, fill_percent: float) -> list[int]:
    """split_cuts is where bbolt's repeated splitTwo cuts a node whose elements take ``sizes`` bytes each (header excluded).

    Returns the start index of every node after the first (empty: the node stays whole). A rest of at
    most 4 elements, or smaller than a page, stays whole; otherwise a node takes elements up to the fill
    threshold (at least 2) and leaves at least 2. One pass over the elements.
    """
    threshold = int(page_size * min(max(fill_percent, MIN_FILL_PERCENT), MAX_FILL_PERCENT))
    n = len(sizes)
    rest = fmt.PAGE_HEADER_SIZE + sum(sizes)  # size of the node made of the elements from ``start`` on
    cuts: list[int] = []
    start, min_keys = 0, fmt.MIN_KEYS_PER_PAGE
    while n - start > min_keys * 2 and rest >= page_size:
        at, sz = start, fmt.PAGE_HEADER_SIZE
        for i in range(start, n - min_keys):
            at = i
            if i - start >= min_keys and sz + sizes[i] > threshold:
                break
            sz += sizes[i]
        rest -= sum(sizes[start:at])
        cuts.append(at)
        start = at
    return cuts


def leaf_image(pgid: int, npages: int, page_size: int, flags: list[int], keys: list, values: list) -> bytes:
    """leaf_image lays out a leaf page as bbolt writes one: header, elements, then each key and its value.

    ``keys`` and ``values`` may hold any bytes-like objects (slices of an old page). ``npages`` 0: no
    padding (an inline page).
    """
    count = _element_count(keys)
    es = fmt.LEAF_ELEMENT_SIZE
    off = fmt.PAGE_HEADER_SIZE + es * count  # where the first key goes
    fields: list[int] = []
    parts: list = []
    eoff = fmt.PAGE_HEADER_SIZE
    for f, k, v in zip(flags, keys, values):
        kn, vn = len(k), len(v)
        fields += (f, off - eoff, kn, vn)
        parts += (k, v)
        off += kn + vn
        eoff += es
    return _page(pgid, fmt.LEAF_PAGE, count, npages, page_size, elements.leaf_array(count).pack(*fields), parts, off)


def _element_count(elements_: list) -> int:
    """_element_count is how many elements a page of ``elements_`` holds (WriteError past the header's count field)."""
    count = len(elements_)
    if count >= fmt.COUNT_OVERFLOW:
        raise WriteError(f"node of {count} elements exceeds a page's element count")
    return count


def _page(pgid: int, flags: int, count: int, npages: int, page_size: int, array: bytes, parts: list,
          end: int) -> bytes:
    """_page is a page image: header, element array, then the keys and values ``parts`` ending at ``end``, padded
    to ``npages`` pages (``npages`` 0: not padded, an inline page)."""
    header = fmt.PAGE_HEADER.pack(pgid, flags, count, max(npages - 1, 0))
    total = npages * page_size if npages else end
    return b"".join((header, array, *parts, bytes(total - end)))
