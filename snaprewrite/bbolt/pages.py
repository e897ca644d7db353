"""Page access over a bbolt file: mmap, the two meta pages and the choice between them, bounded page reads.

This module turns a file into pages and nothing more: it validates what it must to hand out a page
safely (bounds, overflow inside the file, header id) and leaves tree policy to ``tree.py``.

Memory: the file is mapped, never read whole. A scan calls ``touched(n)`` as it goes; once a window of
mapped bytes has been passed the mapping is advised ``MADV_DONTNEED`` so the resident set stays small
(``/usr/bin/time`` counts touched pages of a mapping as RSS, and the kernel's read-around makes each
touched page bring its neighbours in: the window is small for that reason; a release costs microseconds).
"""

import mmap
import os
from dataclasses import dataclass
from itertools import repeat
from operator import add, floordiv, mul
from typing import NamedTuple

from construct import ConstructError

from .. import process
from ..errors import ChecksumError, CorruptError, NotSnapshotError
from ..fileio import pread_full
from . import format as fmt

RELEASE_WINDOW = 8 << 20
# A read fault maps the cached pages around the one read too (the kernel's fault_around_bytes, 64 KiB by
# default): a lookup's page (``page``) counts that much, so random reads release as often as they grow RSS.
FAULT_AROUND = 64 << 10
_HEADER = fmt.PAGE_HEADER.unpack_from


@dataclass(frozen=True)
class MetaInfo:
    """A validated meta page: where the root bucket and freelist are, the high-water mark, the txid."""

    slot: int  # 0 or 1: the page it was read from
    page_size: int
    flags: int
    root: int  # root bucket's root page id
    sequence: int
    freelist: int  # page id, or PGID_NO_FREELIST
    pgid: int  # high-water mark
    txid: int
    checksum: int

    @property
    def has_freelist(self) -> bool:
        """has_freelist tells whether the freelist was synced to a page."""
        return self.freelist != fmt.PGID_NO_FREELIST


class PageHeaderInfo(NamedTuple):
    """A page header: id, flags, element count and overflow (extra contiguous pages).

    A NamedTuple, not a dataclass: one is made for every page a scan visits.
    """

    id: int
    flags: int
    count: int
    overflow: int


def parse_meta(buf: bytes | memoryview, slot: int) -> MetaInfo:
    """parse_meta validates a meta page image (header included): magic, then version, then checksum."""
    if len(buf) < fmt.PAGE_HEADER_SIZE + fmt.META_SIZE:
        raise NotSnapshotError("file too short for a bbolt meta page")
    body = buf[fmt.PAGE_HEADER_SIZE : fmt.PAGE_HEADER_SIZE + fmt.META_SIZE]
    try:
        m = fmt.Meta.parse(bytes(body))
    except ConstructError as e:  # pragma: no cover - length is checked above
        raise NotSnapshotError(f"meta {slot}: {e}") from None
    if m.magic != fmt.MAGIC:
        raise NotSnapshotError(f"meta {slot}: not a bbolt file (magic {m.magic:#010x})")
    if m.version != fmt.VERSION:
        raise NotSnapshotError(f"meta {slot}: unsupported bbolt version {m.version}")
    want = fmt.fnv64a(body[: fmt.META_CHECKSUM_OFFSET])
    if m.checksum != want:
        raise ChecksumError(f"meta {slot} checksum", f"{m.checksum:#018x}", f"{want:#018x}")
    if not (fmt.MIN_PAGE_SIZE <= m.pageSize <= fmt.MAX_PAGE_SIZE) or m.pageSize & (m.pageSize - 1):
        raise CorruptError(f"meta {slot}: invalid page size {m.pageSize}")
    return MetaInfo(slot, m.pageSize, m.flags, m.root.root, m.root.sequence, m.freelist, m.pgid, m.txid,
                    m.checksum)


def build_meta(meta: MetaInfo, txid: int) -> bytes:
    """build_meta returns a whole meta page (header + meta, zero padded) for ``txid`` with a fresh checksum."""
    body = fmt.Meta.build(dict(
        magic=fmt.MAGIC, version=fmt.VERSION, pageSize=meta.page_size, flags=meta.flags,
        root=dict(root=meta.root, sequence=meta.sequence), freelist=meta.freelist, pgid=meta.pgid,
        txid=txid, checksum=0,
    ))
    checksum = fmt.fnv64a(body[: fmt.META_CHECKSUM_OFFSET])
    body = body[: fmt.META_CHECKSUM_OFFSET] + fmt.U64.pack(checksum)
    header = fmt.PAGE_HEADER.pack(txid % 2, fmt.META_PAGE, 0, 0)
    return (header + body).ljust(meta.page_size, b"\0")


class PageFile:
    """A read-only bbolt file mapped into memory, with its chosen meta page.

    ``length`` limits the bbolt data (an etcd snapshot carries a 32-byte sha256 trailer after it).
    Page ids at or past the meta's high-water mark, or pages that would run past ``length``, are
    refused with ``CorruptError`` naming the page.
    """

    def __init__(self, path: str | os.PathLike, length: int | None = None):
        self.path = os.fspath(path)
        self._fd = os.open(self.path, os.O_RDONLY)
        try:
            st = os.fstat(self._fd)
            self.file_size = st.st_size
            self.length = st.st_size if length is None else length
            if self.length == 0:
                raise NotSnapshotError("empty file")
            self._mm = mmap.mmap(self._fd, st.st_size, access=mmap.ACCESS_READ)
            process.announce("read", self.path, st.st_size)  # a truncation faults (SIGBUS): the supervisor names it
        except BaseException:
            os.close(self._fd)
            raise
        self.data = memoryview(self._mm)[: self.length]
        self._touched = 0
        self.metas, self.meta_errors = self._read_metas()
        self.meta = max(self.metas, key=lambda m: m.txid)
        self.page_size = self.meta.page_size
        if self.meta.pgid * self.page_size > self.length:
            raise CorruptError(
                f"file truncated: meta says {self.meta.pgid} pages of {self.page_size} bytes "
                f"({self.meta.pgid * self.page_size} bytes), file has {self.length}")

    def _read_metas(self) -> tuple[list[MetaInfo], list[Exception]]:
        """_read_metas validates both meta pages; one may fail (bbolt falls back), not both."""
        errors: list[Exception] = []
        metas: list[MetaInfo] = []
        page_size = None
        try:
            m0 = parse_meta(self.data[: fmt.PAGE_HEADER_SIZE + fmt.META_SIZE], 0)
            metas.append(m0)
            page_size = m0.page_size
        except NotSnapshotError as e:
            errors.append(e)
        except (ChecksumError, CorruptError) as e:
            errors.append(e)
        candidates = [page_size] if page_size else list(fmt.CANDIDATE_PAGE_SIZES)
        for ps in candidates:
            start = ps
            if start + fmt.PAGE_HEADER_SIZE + fmt.META_SIZE > self.length:
                continue
            try:
                m1 = parse_meta(self.data[start : start + fmt.PAGE_HEADER_SIZE + fmt.META_SIZE], 1)
            except (NotSnapshotError, ChecksumError, CorruptError) as e:
                if page_size:
                    errors.append(e)
                continue
            if m1.page_size == ps:
                metas.append(m1)
                break
        if not metas:
            if self.length < fmt.PAGE_HEADER_SIZE + fmt.META_SIZE:
                raise NotSnapshotError("not a bbolt file: too short")
            first = errors[0] if errors else NotSnapshotError("no valid meta page")
            if all(isinstance(e, NotSnapshotError) for e in errors):
                raise NotSnapshotError(f"not a bbolt database ({first})")
            raise CorruptError(f"no valid meta page ({first})")
        return metas, errors

    # -- page access ---------------------------------------------------------------------------

    def header(self, pgid: int) -> PageHeaderInfo:
        """header reads the 16-byte header of page ``pgid`` after checking it lies inside the data."""
        if not 0 <= pgid < self.meta.pgid:
            raise CorruptError(f"page id out of range (high-water mark {self.meta.pgid})", pgid)
        off = pgid * self.page_size
        if off + fmt.PAGE_HEADER_SIZE > self.length:
            raise CorruptError("page past the end of the file", pgid)
        pid, flags, count, overflow = fmt.PAGE_HEADER.unpack_from(self.data, off)
        if pid != pgid:
            raise CorruptError(f"page header claims id {pid}", pgid)
        return PageHeaderInfo(pid, flags, count, overflow)

    def page(self, pgid: int) -> tuple[PageHeaderInfo, memoryview]:
        """page returns the header and the whole page image (overflow pages included) of ``pgid``."""
        off, size, flags, count = self.span(pgid)
        if size < FAULT_AROUND:
            self.touched(FAULT_AROUND - size)
        return PageHeaderInfo(pgid, flags, count, size // self.page_size - 1), self.data[off : off + size]

    def span(self, pgid: int) -> tuple[int, int, int, int]:
        """span locates page ``pgid`` in ``data`` (overflow pages included): (offset, size, flags, count).

        The checks of ``page`` without building a view (the scan's per-page step): the id is below the
        high-water mark, the header names it, the page and its overflow lie inside the data.
        """
        off = self._offset(pgid)
        pid, flags, count, overflow = _HEADER(self.data, off)
        size = self._size(pgid, pid, overflow, off)
        self._touched += size
        if self._touched >= RELEASE_WINDOW:
            self.touched(0)
        return off, size, flags, count

    def read_page(self, pgid: int) -> tuple[PageHeaderInfo, bytes]:
        """read_page is ``page`` read from the file, not through the mapping: a copy of the image, ``span``'s checks.

        For a writer that copies a leaf out anyway (``bulk.put_run``): a fault would map ``FAULT_AROUND``
        bytes that must be released again (a ``madvise`` of the whole mapping); one ``pread`` of the page,
        and a second for its overflow pages, copies only the page.
        """
        off = self._offset(pgid)
        ps = self.page_size
        image = self.read(off, ps)
        pid, flags, count, overflow = _HEADER(image, 0)
        size = self._size(pgid, pid, overflow, off)
        if overflow:
            image += self.read(off + ps, size - ps)
        return PageHeaderInfo(pgid, flags, count, overflow), image

    def _offset(self, pgid: int) -> int:
        """_offset is page ``pgid``'s offset in the file (``span`` and ``read_page``'s first checks): CorruptError
        for an id at or above the high-water mark, or a first page past the file's end."""
        hwm = self.meta.pgid
        if not 0 <= pgid < hwm:
            raise CorruptError(f"page id out of range (high-water mark {hwm})", pgid)
        off = pgid * self.page_size
        if off + self.page_size > self.length:
            raise CorruptError("page past the end of the file", pgid)
        return off

    def _size(self, pgid: int, pid: int, overflow: int, off: int) -> int:
        """_size is the byte size of page ``pgid`` at ``off`` whose header says id ``pid`` and ``overflow`` pages
        (``span`` and ``read_page``'s checks): CorruptError for another id or a page past the high-water mark or
        the file's end."""
        if pid != pgid:
            raise CorruptError(f"page header claims id {pid}", pgid)
        if not overflow:
            return self.page_size
        if pgid + overflow >= self.meta.pgid:
            raise CorruptError(f"overflow of {overflow} pages runs past the high-water mark", pgid)
        size = (overflow + 1) * self.page_size
        if off + size > self.length:
            raise CorruptError("page runs past the end of the file", pgid)
        return size

    def spans(self, pgids: tuple[int, ...], flags: int) -> tuple[list[int], list[int], tuple[int, ...]] | None:
        """spans is ``span`` for many pages of one type at once: (offsets, sizes, counts), or None.

        None when any page fails one of ``span``'s checks or is not of type ``flags`` (the caller then
        reads them one by one with ``span``, which raises naming the first bad page). Checked with
        whole-array operations: a branch of bucket ``key`` has a hundred small leaves.
        """
        hwm, ps, length = self.meta.pgid, self.page_size, self.length
        if not pgids or min(pgids) < 0 or max(pgids) >= hwm:
            return None
        offs = list(map(mul, pgids, repeat(ps)))
        if max(offs) + ps > length:
            return None
        ids, kinds, counts, overflows = zip(*map(_HEADER, repeat(self.data), offs))
        if ids != tuple(pgids) or kinds.count(flags) != len(kinds):
            return None
        if any(overflows):
            if max(map(add, pgids, overflows)) >= hwm:
                return None
            sizes = list(map(mul, map(add, overflows, repeat(1)), repeat(ps)))
            if max(map(add, offs, sizes)) > length:
                return None
        else:
            sizes = [ps] * len(offs)
        # scattered leaves each fault in FAULT_AROUND bytes: count the distinct windows they lie in, at least
        self.touched(max(sum(sizes), len(set(map(floordiv, offs, repeat(FAULT_AROUND)))) * FAULT_AROUND))
        return offs, sizes, counts

    def read(self, offset: int, size: int) -> bytes:
        """read returns ``size`` bytes of the data at ``offset`` read from the file, not through the mapping.

        A point read of a few scattered bytes (``Bucket.get_hinted``): a fault would map ``FAULT_AROUND``
        bytes of the mapping, which must then be released again; a read copies only what is asked.
        """
        if offset < 0 or size < 0 or offset + size > self.length:
            raise CorruptError(f"read of {size} bytes at offset {offset} past the end of the data")
        got = pread_full(self._fd, size, offset)
        if len(got) < size:  # (a regular file answers whole unless it shrank)
            raise CorruptError(f"read of {size} bytes at offset {offset}: the file ends early")
        return got

    def raw(self, offset: int, size: int) -> memoryview:
        """raw returns ``size`` bytes of the data at ``offset`` (bounded by the data length)."""
        if offset < 0 or offset + size > self.length:
            raise CorruptError(f"read of {size} bytes at offset {offset} past the end of the data")
        return self.data[offset : offset + size]

    def touched(self, n: int) -> None:
        """touched records ``n`` bytes read; past a window the mapping's resident pages are released."""
        self._touched += n
        if self._touched >= RELEASE_WINDOW:
            self._touched = 0
            self.release()

    def release(self) -> None:
        """release drops the mapping's resident pages (they fault back in from the file when read)."""
        if hasattr(mmap, "MADV_DONTNEED"):
            try:
                self._mm.madvise(mmap.MADV_DONTNEED)
            except (OSError, ValueError):  # pragma: no cover - platform without madvise
                pass

    def close(self) -> None:
        """close releases the mapping and the file descriptor (views into it must be gone)."""
        try:
            self.data.release()
        except BufferError:
            pass
        try:
            self._mm.close()
        except BufferError:
            pass
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "PageFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
