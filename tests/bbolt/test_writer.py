"""The copy-on-write writer on real files: content, old meta, kept pages, and real bbolt (etcdutl) agreeing."""

import json
import random

import pytest
from bbolt_testutil import BUCKET, commit_and_verify, content, etcd_hash, etcdutl_status, new_db, with_trailer

from snaprewrite.bbolt import format as fmt
from snaprewrite.bbolt.check import check, unreachable_pages
from snaprewrite.bbolt.freelist import read_freelist
from snaprewrite.bbolt.pages import PageFile
from snaprewrite.bbolt.tree import Bucket
from snaprewrite.bbolt.writer import Transaction, apply_patch
from snaprewrite.errors import KeyNotFoundError, WriteError

KEY = (b"key",)


def rev(main: int, sub: int = 0) -> bytes:
    """rev is a 17-byte etcd revision key (etcdutl status parses the last key of bucket key this way)."""
    return main.to_bytes(8, "big") + b"_" + sub.to_bytes(8, "big")


def _put(tx, model, path, key, value):
    tx.put(path, key, value)
    model[path][key] = value


def _delete(tx, model, path, key):
    tx.delete(path, key)
    model[path].pop(key, None)


def resize(tx, model):
    for i, k in enumerate(sorted(model[KEY])):
        if i % 3 == 0:
            _put(tx, model, KEY, k, model[KEY][k] * 3)
        elif i % 5 == 0:
            _put(tx, model, KEY, k, b"small")


def grow_to_split(tx, model):
    for k in sorted(model[KEY]):
        _put(tx, model, KEY, k, bytes([k[-1]]) * 1500)


def append_revisions(tx, model):
    last = int.from_bytes(max(model[KEY])[:8], "big")
    for main in range(last + 1, last + 3001):
        _put(tx, model, KEY, rev(main), b"r" * 300)


def delete_most(tx, model):
    keys = sorted(model[KEY])
    for i, k in enumerate(keys[:-1]):
        if i % 20:
            _delete(tx, model, KEY, k)


def delete_all(tx, model):
    for k in sorted(model[KEY]):
        _delete(tx, model, KEY, k)


def inline_change(tx, model):
    meta = (b"meta",)
    k = min(model[meta])
    _put(tx, model, meta, k, model[meta][k] + b"\x01")
    _put(tx, model, meta, b"zz-extra", b"x")
    _delete(tx, model, (b"members",), min(model[(b"members",)]))


def inline_grows(tx, model):
    for i in range(80):
        _put(tx, model, (b"meta",), f"grown-{i:03d}".encode(), b"g" * 150)


def huge_value(tx, model):
    k = sorted(model[KEY])[len(model[KEY]) // 2]
    _put(tx, model, KEY, k, b"H" * 30000)


def nothing(tx, model):
    pass


def nested_buckets(tx, model):
    tx.create_bucket((b"nest",))
    tx.create_bucket((b"nest", b"inner"))
    model[(b"nest",)] = {b"inner": BUCKET}
    model[(b"nest", b"inner")] = {}
    for i in range(300):  # the inner bucket outgrows inline; the outer then holds a page bucket
        _put(tx, model, (b"nest", b"inner"), f"in-{i:04d}".encode(), b"n" * 40)
    _put(tx, model, (b"nest",), b"plain", b"p")


def many_changes(tx, model):
    rnd = random.Random(7)
    keys = sorted(model[KEY])
    last = int.from_bytes(keys[-1][:8], "big")
    for _ in range(3000):
        r = rnd.random()
        if r < 0.4:
            _put(tx, model, KEY, rnd.choice(keys), rnd.randbytes(rnd.randrange(0, 900)))
        elif r < 0.7:
            _delete(tx, model, KEY, rnd.choice(keys))
        elif r < 0.95:
            last += 1
            _put(tx, model, KEY, rev(last), rnd.randbytes(rnd.randrange(0, 400)))
        else:
            _put(tx, model, (b"lease",), rnd.randbytes(8), rnd.randbytes(rnd.randrange(1, 60)))


CASES = [resize, grow_to_split, append_revisions, delete_most, delete_all, inline_change, inline_grows,
         huge_value, nothing, nested_buckets, many_changes]


def assert_etcd_agrees(etcd35, raw, model, tmp_path):
    """assert_etcd_agrees runs etcdutl snapshot status (bbolt tx.Check) and compares its hash and counts."""
    snap = with_trailer(raw, tmp_path / (raw.name + ".snap"))
    res = etcdutl_status(etcd35, snap)
    assert res.returncode == 0, res.stderr[-2000:]
    status = json.loads(res.stdout)
    h, total = etcd_hash(model)
    assert (status["hash"], status["totalKey"], status["totalSize"]) == (h, total, raw.stat().st_size)


@pytest.mark.parametrize("edit", CASES, ids=lambda f: f.__name__)
def test_change_sets(source_db, edit, etcd35, tmp_path):
    out = tmp_path / "out.db"
    _, before, after = commit_and_verify(source_db, out, edit)
    if edit is not nothing:
        assert after != before
    assert_etcd_agrees(etcd35, out, after, tmp_path)


def test_shapes(source_db, tmp_path):
    """Splits make more pages, deletes make the key bucket shallower, an emptied bucket goes inline."""
    with PageFile(source_db) as pf:
        depth0 = _depth(pf)
    out = tmp_path / "grown.db"
    commit_and_verify(source_db, out, append_revisions)
    with PageFile(out) as pf:
        assert _depth(pf) >= depth0
        root = pf.page(Bucket.root_bucket(pf).bucket(b"key").root)[0]
        assert root.flags == fmt.BRANCH_PAGE
    out2 = tmp_path / "emptied.db"
    commit_and_verify(source_db, out2, delete_all)
    with PageFile(out2) as pf:
        assert Bucket.root_bucket(pf).bucket(b"key").root == 0  # inline again
    out3 = tmp_path / "huge.db"
    commit_and_verify(source_db, out3, huge_value)
    with PageFile(out3) as pf:
        assert any(h.overflow >= 7 for h in _leaf_headers(pf, b"key"))


def _depth(pf):
    b = Bucket.root_bucket(pf).bucket(b"key")
    path, *_ = b.find_leaf(b"")
    return len(path)


def _leaf_headers(pf, name):
    return [h for _, h, _ in Bucket.root_bucket(pf).bucket(name).leaf_pages()]


def test_chained_transactions(source_db, etcd35, tmp_path):
    """A second transaction reads the pages the first wrote and rewrites them again."""
    first, second = tmp_path / "one.db", tmp_path / "two.db"
    commit_and_verify(source_db, first, append_revisions)
    _, _, after = commit_and_verify(first, second, many_changes)
    assert_etcd_agrees(etcd35, second, after, tmp_path)


def test_synced_freelist_round_trip(source_db, etcd35, tmp_path):
    """A freelist page written from unreachable pages, then carried over: old ids + freed pages + old freelist page."""
    first, second = tmp_path / "fl1.db", tmp_path / "fl2.db"
    with PageFile(source_db) as pf:
        unreachable = unreachable_pages(pf)
    p1, _, after1 = commit_and_verify(source_db, first, resize, sync_freelist=True)
    with PageFile(first) as pf:
        assert pf.meta.has_freelist
        assert read_freelist(pf) == sorted(set(unreachable) | set(p1.freed))
        old_freelist = pf.meta.freelist
        old_ids = read_freelist(pf)
    assert_etcd_agrees(etcd35, first, after1, tmp_path)
    p2, _, after2 = commit_and_verify(first, second, delete_most)
    assert old_freelist in p2.freed
    with PageFile(second) as pf:
        assert pf.meta.has_freelist and pf.meta.freelist >= p2.copy_length // p2.page_size
        assert read_freelist(pf) == sorted(set(old_ids) | set(p2.freed))
    assert_etcd_agrees(etcd35, second, after2, tmp_path)
    third = tmp_path / "fl3.db"
    commit_and_verify(second, third, nothing, sync_freelist=False)
    with PageFile(third) as pf:
        assert not pf.meta.has_freelist
        assert check(pf) == []


def test_freelist_count_overflow(etcd35, tmp_path):
    """A freelist of more than 0xFFFF ids is read and written in bbolt's overflow form, and bbolt reads it back."""
    src = new_db(tmp_path / "big.db", 512, free_pages=66000)
    with PageFile(src) as pf:
        assert pf.header(pf.meta.freelist).count == fmt.COUNT_OVERFLOW
        assert len(read_freelist(pf)) == 66000
    assert_etcd_agrees(etcd35, src, {}, tmp_path)

    def edit(tx, model):
        tx.create_bucket((b"b",))
        model[(b"b",)] = {}
        for i in range(200):
            _put(tx, model, (b"b",), f"k{i:05d}".encode(), b"v" * 30)

    out = tmp_path / "big2.db"
    patch, _, after = commit_and_verify(src, out, edit)
    with PageFile(out) as pf:
        h = pf.header(pf.meta.freelist)
        ids = read_freelist(pf)
        assert h.count == fmt.COUNT_OVERFLOW and h.overflow > 0
        assert len(ids) == 66000 + len(patch.freed) and ids == sorted(ids)
    assert_etcd_agrees(etcd35, out, after, tmp_path)


def test_root_split_in_small_pages(tmp_path):
    """With 512-byte pages a leaf root splits into a new root branch, which splits again as it grows."""
    src = new_db(tmp_path / "small.db", 512)

    def edit(tx, model):
        tx.create_bucket((b"b",))
        model[(b"b",)] = {}
        for i in range(2000):
            _put(tx, model, (b"b",), f"{i:06d}".encode(), b"x" * (i % 50))

    out = tmp_path / "small2.db"
    commit_and_verify(src, out, edit)
    with PageFile(out) as pf:
        b = Bucket.root_bucket(pf).bucket(b"b")
        path, *_ = b.find_leaf(b"")
        assert len(path) >= 2


def test_api_errors(source_db):
    with PageFile(source_db) as pf:
        tx = Transaction(pf)
        with pytest.raises(KeyNotFoundError):
            tx.put((b"no-such-bucket",), b"k", b"v")
        with pytest.raises(WriteError):
            tx.put((b"key",), b"", b"v")
        with pytest.raises(WriteError):
            tx.put((), b"k", b"v")
        with pytest.raises(WriteError):
            tx.create_bucket((b"key",))
        tx.delete(KEY, b"absent")  # absent keys are ignored, like bbolt
        tx.put(KEY, rev(10**9), b"v")
        assert tx.get(KEY, rev(10**9)) == b"v"
        tx.commit()
        with pytest.raises(WriteError):
            tx.commit()


def test_apply_patch_to_open_file(source_db, tmp_path):
    with PageFile(source_db) as pf:
        tx = Transaction(pf)
        tx.put(KEY, rev(10**9), b"v")
        patch = tx.commit()
    with open(tmp_path / "o.db", "wb") as f:
        n = apply_patch(source_db, patch, f, chunk=4096 * 3 + 17)
    assert n == patch.new_length
    with PageFile(tmp_path / "o.db") as pf:
        assert content(pf)[KEY][rev(10**9)] == b"v"


def _reference_split(sizes, page_size, threshold):
    """_reference_split is bbolt's split loop (repeated splitTwo) over element sizes, as chunk lengths."""
    out, rest = [], list(sizes)
    while not (len(rest) <= 4 or fmt.PAGE_HEADER_SIZE + sum(rest) < page_size):
        at, sz = 0, fmt.PAGE_HEADER_SIZE
        for i in range(len(rest) - 2):
            at = i
            if i >= 2 and sz + rest[i] > threshold:
                break
            sz += rest[i]
        out.append(at)
        rest = rest[at:]
    return out + [len(rest)]


def test_split_matches_bbolt_loop(tmp_path):
    from snaprewrite.bbolt.node import Inode, Node
    from snaprewrite.bbolt.writer import _Bucket

    src = new_db(tmp_path / "s.db", 4096)
    rnd = random.Random(3)
    with PageFile(src) as pf:
        for fill in (0.5, 0.9, 1.0):
            tx = Transaction(pf, fill_percent=fill)
            for _ in range(300):
                b = _Bucket(tx, 3, 0, None, (b"x",))
                node = Node(b, True, None)
                big = rnd.random() < 0.2
                node.inodes = [Inode(0, b"k%06d" % i, b"v" * rnd.randrange(0, 9000 if big else 300), 0)
                               for i in range(rnd.randrange(1, 400))]
                sizes = [fmt.LEAF_ELEMENT_SIZE + len(i.key) + len(i.value) for i in node.inodes]
                parts = [len(n.inodes) for n in node.split()]
                assert parts == _reference_split(sizes, 4096, int(4096 * fill))
