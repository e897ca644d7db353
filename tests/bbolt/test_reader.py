"""The bbolt reader: meta choice, fast and plain leaf iteration agree, bounds on hostile pages."""

import shutil

import pytest

from snaprewrite.bbolt import format as fmt
from snaprewrite.bbolt.pages import PageFile, build_meta
from snaprewrite.bbolt.tree import Bucket, read_leaf
from snaprewrite.errors import CorruptError, NotSnapshotError


def _open_real(path):
    import os
    return PageFile(path, os.path.getsize(path) - 32)


def test_fast_and_plain_iteration_agree(real_snapshot):
    with _open_real(real_snapshot) as pf:
        for name, b in Bucket.root_bucket(pf).buckets():
            plain = [(it.flags, bytes(it.key), bytes(it.value)) for it in b.items()]
            fast = [(f, bytes(k), bytes(v)) for f, k, v in b.iter_raw()]
            assert plain == fast, name
            keys = [k for _, k, _ in plain]
            assert keys == sorted(keys)
            for k, v in [(k, v) for _, k, v in plain][:50]:
                assert b.get(k) == v


def test_meta_fallback_when_newest_meta_is_damaged(real_snapshot, tmp_path):
    p = tmp_path / "s.db"
    shutil.copy(real_snapshot, p)
    with _open_real(p) as pf:
        newest = pf.meta
    with open(p, "r+b") as f:  # break the checksum of the newest meta page
        f.seek(newest.slot * newest.page_size + fmt.PAGE_HEADER_SIZE + 40)
        f.write(b"\xff" * 8)
    with _open_real(p) as pf:
        assert pf.meta.txid == newest.txid - 1
        assert len(pf.meta_errors) == 1


def test_build_meta_round_trips(real_snapshot):
    with _open_real(real_snapshot) as pf:
        page = build_meta(pf.meta, pf.meta.txid + 1)
        from snaprewrite.bbolt.pages import parse_meta
        m = parse_meta(page, 1)
        assert (m.root, m.pgid, m.txid, m.freelist) == (pf.meta.root, pf.meta.pgid, pf.meta.txid + 1, pf.meta.freelist)


def test_not_a_bbolt_file(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"hello world" * 1000)
    with pytest.raises(NotSnapshotError):
        PageFile(p)


def test_leaf_element_outside_page_is_refused():
    page = bytearray(4096)
    fmt.PAGE_HEADER.pack_into(page, 0, 3, fmt.LEAF_PAGE, 1, 0)
    fmt.LEAF_ELEMENT.pack_into(page, 16, 0, 16, 5000, 1)
    with pytest.raises(CorruptError):
        read_leaf(memoryview(page), 1, 3)
