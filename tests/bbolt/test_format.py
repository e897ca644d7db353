"""format.py's construct declarations and their precompiled struct twins describe the same bytes."""

import random

import pytest

from snaprewrite.bbolt import format as fmt

PAIRS = [
    (fmt.PageHeader, fmt.PAGE_HEADER, ["id", "flags", "count", "overflow"]),
    (fmt.BranchElement, fmt.BRANCH_ELEMENT, ["pos", "ksize", "pgid"]),
    (fmt.LeafElement, fmt.LEAF_ELEMENT, ["flags", "pos", "ksize", "vsize"]),
    (fmt.BucketHeader, fmt.BUCKET_HEADER, ["root", "sequence"]),
]


@pytest.mark.parametrize("con,twin,fields", PAIRS, ids=lambda x: getattr(x, "format", None) or "")
def test_twins_agree_on_size_and_values(con, twin, fields):
    assert con.sizeof() == twin.size
    rnd = random.Random(1)
    for _ in range(200):
        buf = rnd.randbytes(twin.size)
        parsed = con.parse(buf)
        assert [parsed[f] for f in fields] == list(twin.unpack(buf))
        assert con.build(dict(zip(fields, twin.unpack(buf)))) == buf


def test_meta_twin_agrees():
    assert fmt.Meta.sizeof() == fmt.META.size == fmt.META_SIZE == 64
    rnd = random.Random(2)
    for _ in range(200):
        buf = rnd.randbytes(fmt.META.size)
        m = fmt.Meta.parse(buf)
        flat = [m.magic, m.version, m.pageSize, m.flags, m.root.root, m.root.sequence, m.freelist, m.pgid,
                m.txid, m.checksum]
        assert flat == list(fmt.META.unpack(buf))


def test_sizes_match_bbolt():
    assert (fmt.PAGE_HEADER_SIZE, fmt.BRANCH_ELEMENT_SIZE, fmt.LEAF_ELEMENT_SIZE, fmt.BUCKET_HEADER_SIZE) == (
        16, 16, 16, 16)
    assert fmt.META_CHECKSUM_OFFSET == 56 and fmt.U64.size == 8


def test_fnv64a_known_vectors():
    assert fmt.fnv64a(b"") == 0xCBF29CE484222325
    assert fmt.fnv64a(b"a") == 0xAF63DC4C8601EC8C
