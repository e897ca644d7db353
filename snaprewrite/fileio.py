"""Positioned reads and writes that finish: ``pread``/``pwrite`` until done, for every layer's files.

A regular file answers a ``pread`` whole unless it ends (or shrank), and a ``pwrite`` writes all of it
unless the disk is full; the loops here guard the short answers anyway, in one place. A read that
meets the end returns fewer bytes: the caller names the error in its own terms (a corrupt snapshot, an
internal error, a spill file cut short).
"""

import os


def pread_full(fd: int, n: int, offset: int) -> bytes:
    """pread_full reads ``n`` bytes at ``offset``, fewer only where the file ends first."""
    got = os.pread(fd, n, offset)
    while len(got) < n:
        more = os.pread(fd, n - len(got), offset + len(got))
        if not more:
            break
        got += more
    return got


def pwrite_all(fd: int, data, offset: int, piece: int = 0) -> int:
    """pwrite_all writes all of ``data`` at ``offset`` (at most ``piece`` bytes per call if given); returns its end."""
    view = memoryview(data).cast("B")
    while view:
        n = os.pwrite(fd, view[:piece] if piece else view, offset)
        view, offset = view[n:], offset + n
    return offset
