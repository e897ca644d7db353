"""Puts in increasing key order, a leaf at a time: the pages key-by-key puts write, with less work per leaf.

``Transaction.put_many`` hands its items here. Key by key (``Transaction.put``), each leaf a put reaches
is read into a ``Node`` of ``Inode``s, changed, and written by ``Node.spill_early`` once a put moves
past it. Here a leaf's old elements become three plain lists (flags, keys, values: slices of the old
page), every put of the run that falls into the leaf is merged into them, and when the next put lies
past the leaf it is split (``node.split_cuts``) and written (``node.leaf_image``) exactly as
``spill_early`` would: the same frees, page ids, images and parent entries, in the same order.

Whenever the key-by-key path would do anything else next (a deletion, a key not above the last one,
an invalid put, a put onto a sub-bucket, the end of the items, a leaf already materialized or without
a parent branch), the leaf in hand is materialized as the ``Node`` that path would hold at that point
(its cursor leaf) and the item goes to ``Transaction.put``/``delete``: from there on the state is the
key-by-key path's own. ``tests/bbolt/test_put_many.py`` compares the pages of both paths byte for byte.
"""

import bisect
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import CorruptError
from . import elements
from . import format as fmt
from .node import Inode, Node, leaf_image, split_cuts
from .tree import MAX_DEPTH

if TYPE_CHECKING:
    from .writer import _Bucket

Item = tuple[bytes, bytes | None]  # (key, value; None deletes the key)


def refusal(key: bytes, value: bytes) -> str | None:
    """refusal is why ``Transaction.put`` refuses ``key`` and ``value`` (its error message), None if it takes them."""
    if not key:
        return "empty key"
    if len(key) > fmt.MAX_KEY_SIZE:
        return f"key of {len(key)} bytes exceeds bbolt's {fmt.MAX_KEY_SIZE}"
    if len(value) > fmt.MAX_VALUE_SIZE:
        return f"value of {len(value)} bytes exceeds bbolt's limit"
    return None


def put_run(b: "_Bucket", key: bytes, value: bytes, items: Iterator[Item],
            trail: list | None = None) -> tuple[Item | None, bytes] | None:
    """put_run puts ``key`` (a valid put above every key put before) and the items after it that fall in its leaf.

    Returns (the next item not taken, or None at the end; the last key put), or None when the key-by-key
    path must take ``key`` (its cursor leaf holds it, eager spilling is off, or the leaf is materialized
    already or has no parent branch). Before None, the cursor leaf may have been spilled and branches
    materialized: the state ``put`` itself would have reached for ``key``, so the pages stay the same.
    ``trail``: the branches the last call passed (``_to_leaf``), kept by the caller between calls of one run
    of puts in increasing key order (empty at its start).
    """
    cur = b.cursor
    if cur is not None:  # the key-by-key path's cursor: leave it as ``leaf_for_put`` would
        node, lo, hi = cur
        if (lo is None or lo <= key) and (hi is None or key < hi):
            return None
        b.cursor = None
        if hi is not None and key >= hi:
            if b.eager:
                node.spill_early()
        else:
            b.eager = False
    if not b.eager:
        return None
    found = _to_leaf(b, key, [] if trail is None else trail)
    if found is None:
        return None
    parent, pgid, pkey, lo, hi, h, page = found
    fl, ks, vs, ends, _ = elements.leaf_spans(page, 0, len(page), h.count, pgid)
    flags = list(fl)
    keys = list(map(page.__getitem__, map(slice, ks, vs)))
    vals = list(map(page.__getitem__, map(slice, vs, ends)))
    last = key
    while True:
        i = bisect.bisect_left(keys, key)
        if i < len(keys) and keys[i] == key:
            if flags[i] & fmt.BUCKET_LEAF_FLAG:  # ``put`` raises: from the leaf as it holds the run so far
                nxt: Item | None = (key, value)
                break
            flags[i], vals[i] = 0, value
        else:
            keys.insert(i, key)
            vals.insert(i, value)
            flags.insert(i, 0)
        last = key
        nxt = next(items, None)
        if nxt is None:
            break
        key, value = bytes(nxt[0]), nxt[1]
        if value is None or key <= last:
            break
        value = bytes(value)
        nxt = (key, value)
        if refusal(key, value) is not None:
            break
        if hi is not None and key >= hi:  # past the leaf: written now, as spill_early writes it
            _write(b, parent, pgid, h.overflow, pkey, flags, keys, vals)
            return nxt, last
    # the key-by-key path holds this leaf as its cursor now: the same Node, linked and cached as ``node`` does
    n = Node(b, True, parent)
    n.pgid, n.overflow, n.key = pgid, h.overflow, pkey
    n.inodes = list(map(Inode, flags, keys, vals, [0] * len(keys)))
    parent.children.append(n)
    b.nodes[pgid] = n
    b.cursor = (n, lo, hi)
    return nxt, last


def _to_leaf(b: "_Bucket", key: bytes, trail: list):
    """_to_leaf descends to the leaf for ``key`` as ``_Bucket._descend`` does, materializing the branches only.

    Returns (parent node, leaf pgid, the parent's key for it, lo, hi, header, the page's bytes), or None
    where the key-by-key path must go (an inline or leaf root, a leaf already materialized).

    ``trail`` holds, per branch the last descent passed, the loop's state on reaching it (pgid, parent,
    pkey, lo, hi: its key range); the descent resumes at the deepest one whose range holds ``key``, as the
    branches above it lead there again: while puts come in, only a leaf's parent changes (it takes the
    new pages and first keys, all inside the leaf's own range); the branches above it change at commit.
    """
    pgid = b.root
    parent: Node | None = None
    pkey = lo = hi = None
    if pgid < 2:  # inline bucket, or a tree pointing at a meta page (the key-by-key path names it)
        return None
    d = len(trail)
    while d:
        at = trail[d - 1]
        if (at[3] is None or at[3] <= key) and (at[4] is None or key < at[4]):
            pgid, parent, pkey, lo, hi = at
            break
        d -= 1
    del trail[d:]
    for _ in range(MAX_DEPTH):
        n = b.nodes.get(pgid)
        if n is None:
            if pgid < 2:
                return None
            h, image = b.tx.page_copy(pgid)
            if h.flags == fmt.LEAF_PAGE:
                if parent is None:
                    return None
                return parent, pgid, pkey, lo, hi, h, image
            n = b.node(pgid, parent, pkey)  # a branch (anything else: the CorruptError page_items raises)
        if n.is_leaf:
            return None
        trail.append((pgid, parent, pkey, lo, hi))
        ino, lo, hi = b.child_for(pgid, n.inodes, key, lo, hi)
        parent, pgid, pkey = n, ino.pgid, ino.key
    raise CorruptError(f"bucket {b._label()}: tree deeper than any real bbolt file (cycle?)", pgid)


def _write(b: "_Bucket", parent: Node, pgid: int, overflow: int, pkey: bytes, flags: list[int], keys: list[bytes],
           vals: list[bytes]) -> None:
    """_write is ``Node.spill_early`` of the leaf these lists hold (page ``pgid``, the parent's key ``pkey``)."""
    tx = b.tx
    ps = tx.page_size
    les = fmt.LEAF_ELEMENT_SIZE
    sizes = [les + len(k) + len(v) for k, v in zip(keys, vals)]
    cuts = split_cuts(sizes, ps, tx.fill_percent)
    tx.free(pgid, overflow)
    if not cuts:  # one page (the common case): the loop below, without slicing the lists
        count = (fmt.PAGE_HEADER_SIZE + sum(sizes) + ps - 1) // ps
        new = tx.allocate(count)
        tx.write_page(new, leaf_image(new, count, ps, flags, keys, vals))
        parent.put(pkey, keys[0], b"", new, 0)
        return
    bounds = [0, *cuts, len(keys)]
    for piece, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        count = (fmt.PAGE_HEADER_SIZE + sum(sizes[lo:hi]) + ps - 1) // ps
        new = tx.allocate(count)
        tx.write_page(new, leaf_image(new, count, ps, flags[lo:hi], keys[lo:hi], vals[lo:hi]))
        first = keys[lo]
        parent.put(pkey if piece == 0 else first, first, b"", new, 0)
