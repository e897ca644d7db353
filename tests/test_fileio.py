"""fileio: positioned reads and writes that finish, whatever the kernel answers at a time."""

import os

from snaprewrite import fileio


def test_short_answers_are_continued(tmp_path, monkeypatch):
    """Must fail if a loop stops at the first short answer: reads and writes here go 3 and 5 bytes at a time."""
    data = os.urandom(1000)
    fd = os.open(tmp_path / "f", os.O_CREAT | os.O_RDWR, 0o600)
    real_pread, real_pwrite = os.pread, os.pwrite
    monkeypatch.setattr(os, "pread", lambda fd, n, at: real_pread(fd, min(n, 3), at))
    monkeypatch.setattr(os, "pwrite", lambda fd, b, at: real_pwrite(fd, bytes(b)[:5], at))
    try:
        assert fileio.pwrite_all(fd, data, 11) == 11 + len(data)
        assert fileio.pwrite_all(fd, memoryview(data), 11 + len(data), piece=64) == 11 + 2 * len(data)
        assert fileio.pread_full(fd, len(data), 11) == data
        assert fileio.pread_full(fd, 10**6, 0) == b"\0" * 11 + data + data  # the file's end: what there is
    finally:
        os.close(fd)
    assert (tmp_path / "f").read_bytes() == b"\0" * 11 + data + data
