"""bbolt's freelist page: reading the synced list of free page ids and building a new one.

A freelist page is a page header (flags ``FREELIST_PAGE``) followed by the sorted free page ids as
u64s. When there are ``COUNT_OVERFLOW`` (0xFFFF) ids or more, the header's count is 0xFFFF and the
first u64 after the header holds the real count; the ids follow it. The page spans ``overflow + 1``
pages like any other.
"""

from ..errors import CorruptError
from . import format as fmt
from .pages import PageFile


def read_freelist(pf: PageFile) -> list[int]:
    """read_freelist returns the page ids on the chosen meta's freelist page, in stored order (empty if not synced)."""
    pgid = pf.meta.freelist
    if pgid == fmt.PGID_NO_FREELIST:
        return []
    if pgid < 2:
        raise CorruptError("meta points the freelist at a meta page", pgid)
    h, buf = pf.page(pgid)
    if h.flags != fmt.FREELIST_PAGE:
        raise CorruptError(f"freelist page has type {h.flags:#x}", pgid)
    start = fmt.PAGE_HEADER_SIZE
    count = h.count
    if count == fmt.COUNT_OVERFLOW:
        if start + fmt.U64.size > len(buf):
            raise CorruptError("freelist count overflow past the page", pgid)
        (count,) = fmt.U64.unpack_from(buf, start)
        start += fmt.U64.size
    end = start + count * fmt.U64.size
    if end > len(buf):
        raise CorruptError(f"freelist of {count} ids does not fit in its {h.overflow + 1} page(s)", pgid)
    return [i for (i,) in fmt.U64.iter_unpack(buf[start:end])]


def freelist_size(count: int) -> int:
    """freelist_size returns the bytes a freelist page of ``count`` ids needs (header and overflow count included)."""
    if count >= fmt.COUNT_OVERFLOW:
        count += 1
    return fmt.PAGE_HEADER_SIZE + count * fmt.U64.size


def freelist_pages(count: int, page_size: int) -> int:
    """freelist_pages returns how many pages bbolt allocates for a freelist of ``count`` ids (size // page + 1)."""
    return freelist_size(count) // page_size + 1


def build_freelist(pgid: int, ids: list[int], page_size: int) -> bytes:
    """build_freelist returns the whole page run (zero padded) of a freelist page at ``pgid`` holding ``ids`` sorted."""
    ids = sorted(ids)
    npages = freelist_pages(len(ids), page_size)
    header_count = len(ids)
    prefix = b""
    if len(ids) >= fmt.COUNT_OVERFLOW:
        header_count = fmt.COUNT_OVERFLOW
        prefix = fmt.U64.pack(len(ids))
    header = fmt.PAGE_HEADER.pack(pgid, fmt.FREELIST_PAGE, header_count, npages - 1)
    body = b"".join(fmt.U64.pack(i) for i in ids)
    return (header + prefix + body).ljust(npages * page_size, b"\0")
