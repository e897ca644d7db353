"""The one decoder of page elements: a leaf or branch page image -> where each key, value and child is.

bbolt's element arrays (``format.LeafElement``, ``format.BranchElement``) follow the 16-byte page
header; each element's ``pos`` counts from the element's own start. These functions take a buffer
(the file mapping, or an inline page image), the offset of the page in it, the page's size and
element count, and return *absolute* offsets into that buffer, after checking every element:
``pos`` at least one element long (a key cannot start inside the element array's own element) and the
key (and value) inside the page. A page that breaks it raises ``CorruptError`` naming the page.

The element array is unpacked in one ``struct`` call and the offsets are computed and checked by
``map``/``min``/``max`` over whole arrays (no per-element Python loop): the scan of bucket ``key``
visits every leaf of the file. ``tests/bbolt/test_elements.py`` checks the result against the
construct declarations in ``format.py``, element by element, on every page of the fixtures and on
damaged pages (same offsets, or the same error).
"""

import functools
import struct
from itertools import chain, repeat
from operator import add, le, mul

from ..errors import CorruptError
from . import format as fmt

_HS = fmt.PAGE_HEADER_SIZE
_LES = fmt.LEAF_ELEMENT_SIZE
_BES = fmt.BRANCH_ELEMENT_SIZE
_LEAF = fmt.LEAF_ELEMENT.unpack_from
_LEAF_WORDS = 4
assert fmt.LEAF_ELEMENT.format.lstrip("<") == "I" * _LEAF_WORDS  # (``leaf_words``)


@functools.lru_cache(maxsize=1024)
def leaf_array(count: int) -> struct.Struct:
    """leaf_array unpacks ``count`` leaf elements in a row (``format.LEAF_ELEMENT`` repeated)."""
    return struct.Struct("<" + fmt.LEAF_ELEMENT.format.lstrip("<") * count)


@functools.lru_cache(maxsize=1024)
def leaf_words(count: int) -> struct.Struct:
    """leaf_words is ``leaf_array`` as one code (``format.LEAF_ELEMENT`` is four u32 words): a batch's elements,
    joined, in one call; a Struct of a few hundred elements stays a few hundred bytes, not one code per field."""
    return struct.Struct(f"<{_LEAF_WORDS * count}I")


@functools.lru_cache(maxsize=1024)
def branch_array(count: int) -> struct.Struct:
    """branch_array unpacks ``count`` branch elements in a row (``format.BRANCH_ELEMENT`` repeated)."""
    return struct.Struct("<" + fmt.BRANCH_ELEMENT.format.lstrip("<") * count)


def leaf_spans(buf, off: int, size: int, count: int,
               pgid: int | None = None) -> tuple[tuple[int, ...], list[int], list[int], list[int], int]:
    """leaf_spans decodes a leaf page at ``off`` (``size`` bytes, ``count`` elements) of ``buf``.

    Returns (flags, ks, vs, ends, first): per element its flags and the absolute offsets of its key start,
    value start and value end, and where the element array ends (``first``: the first key of a page bbolt wrote).
    """
    base = off + _HS
    first = base + count * _LES
    if first > off + size:
        raise CorruptError(f"{count} leaf elements do not fit in the page", pgid)
    if not count:
        return (), [], [], [], first
    t = leaf_array(count).unpack_from(buf, base)
    pos = t[1::4]
    if min(pos) < _LES:
        raise CorruptError("leaf element points outside its page", pgid)
    ks = list(map(add, range(base, first, _LES), pos))
    vs = list(map(add, ks, t[2::4]))
    ends = list(map(add, vs, t[3::4]))
    if max(ends) > off + size:
        raise CorruptError("leaf element points outside its page", pgid)
    return t[0::4], ks, vs, ends, first


def branch_spans(buf, off: int, size: int, count: int,
                 pgid: int | None = None) -> tuple[list[int], list[int], tuple[int, ...]]:
    """branch_spans decodes a branch page at ``off`` of ``buf``: (key starts, key ends, child page ids).

    An empty branch page is corrupt (bbolt never writes one).
    """
    if count == 0:
        raise CorruptError("empty branch page", pgid)
    base = off + _HS
    if base + count * _BES > off + size:
        raise CorruptError(f"{count} branch elements do not fit in the page", pgid)
    t = branch_array(count).unpack_from(buf, base)
    pos = t[0::3]
    if min(pos) < _BES:
        raise CorruptError("branch element points outside its page", pgid)
    ks = list(map(add, range(base, base + count * _BES, _BES), pos))
    kends = list(map(add, ks, t[1::3]))
    if max(kends) > off + size:
        raise CorruptError("branch element points outside its page", pgid)
    return ks, kends, t[2::3]


def contiguous(ks: list[int], ends: list[int], first: int) -> bool:
    """contiguous tells whether a leaf's keys and values lie back to back in element order right after its array.

    bbolt writes leaves that way (k1 v1 k2 v2 ...); then ``[first, ends[-1])`` holds exactly every key and
    value in element order, so a checksum or a search over it is one call per page.
    """
    return bool(ks) and ks[0] == first and ks[1:] == ends[:-1]


def leaf_batch(buf, offs: list[int], sizes: list[int], counts) -> tuple | None:
    """leaf_batch is ``leaf_spans`` over many leaf pages at once (offsets, sizes, counts of each): their elements in a row.

    Returns (flags, ks, vs, ends, firsts) with ``firsts`` per page, or None when any page fails a check:
    the caller then decodes those pages one by one with ``leaf_spans``, which raises the error naming
    the first bad page. Whole arrays at once: a leaf of bucket ``key`` holds a few records, so per-page
    Python steps would cost more than the records.
    """
    bases = [o + _HS for o in offs]
    firsts = list(map(add, bases, map(mul, counts, repeat(_LES))))
    limits = list(map(add, offs, sizes))
    if not all(map(le, firsts, limits)):
        return None
    total = sum(counts)
    if not total:
        return (), [], [], [], firsts
    # every page's element array sliced and joined, unpacked in one call (a tenth less than an unpack per page)
    t = leaf_words(total).unpack(b"".join(map(buf.__getitem__, map(slice, bases, firsts))))
    pos = t[1::4]
    if min(pos) < _LES:
        return None
    ks = list(map(add, chain.from_iterable(map(range, bases, firsts, repeat(_LES))), pos))
    vs = list(map(add, ks, t[2::4]))
    ends = list(map(add, vs, t[3::4]))
    if not all(map(le, ends, chain.from_iterable(map(repeat, limits, counts)))):
        return None
    return t[0::4], ks, vs, ends, firsts


def leaf_element(buf, off: int, size: int, count: int, i: int, pgid: int | None = None) -> tuple[int, int, int, int]:
    """leaf_element decodes element ``i`` of a leaf alone (a binary search reads a few): (flags, k, v, end).

    The checks of ``leaf_spans`` for that element (and for the array as a whole).
    """
    base = off + _HS
    if base + count * _LES > off + size:
        raise CorruptError(f"{count} leaf elements do not fit in the page", pgid)
    e = base + i * _LES
    flags, pos, ksize, vsize = _LEAF(buf, e)
    k = e + pos
    end = k + ksize + vsize
    if pos < _LES or end > off + size:
        raise CorruptError("leaf element points outside its page", pgid)
    return flags, k, k + ksize, end
