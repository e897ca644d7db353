"""check() finds hand-made corruptions, and real bbolt (etcdutl's tx.Check) rejects the ones it can see too."""

import pytest
from bbolt_testutil import commit_and_verify, etcdutl_status, new_db, with_trailer

from snaprewrite.bbolt import format as fmt
from snaprewrite.bbolt.check import check
from snaprewrite.bbolt.freelist import read_freelist
from snaprewrite.bbolt.pages import PageFile
from snaprewrite.bbolt.tree import Bucket, read_branch, read_leaf


def _key_root(path):
    """_key_root returns (page id, header) of bucket key's root branch page and a leaf below it."""
    with PageFile(path) as pf:
        b = Bucket.root_bucket(pf).bucket(b"key")
        h, _ = pf.page(b.root)
        assert h.flags == fmt.BRANCH_PAGE and h.count >= 3
        leaf = next(iter(b.leaf_pages()))[0]
        return b.root, leaf, pf.page_size, pf.meta.pgid


def _patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def _branch_elem(ps, pgid, i):
    return pgid * ps + fmt.PAGE_HEADER_SIZE + i * fmt.BRANCH_ELEMENT_SIZE


def _leaf_elem(ps, pgid, i):
    return pgid * ps + fmt.PAGE_HEADER_SIZE + i * fmt.LEAF_ELEMENT_SIZE


def _problems(path):
    with PageFile(path) as pf:
        return check(pf)


def _bbolt_rejects(etcd35, path, tmp_path):
    res = etcdutl_status(etcd35, with_trailer(path, tmp_path / "c.snap"))
    return res.returncode != 0


@pytest.fixture
def db(etcd_made_snapshot, tmp_path):
    from bbolt_testutil import raw_copy

    path = raw_copy(etcd_made_snapshot, tmp_path / "c.db")
    assert _problems(path) == []
    return path


def test_page_referenced_twice(db, etcd35, tmp_path):
    root, _, ps, _ = _key_root(db)
    with open(db, "rb") as f:
        f.seek(_branch_elem(ps, root, 0) + 8)
        first_child = f.read(8)
    _patch(db, _branch_elem(ps, root, 1) + 8, first_child)
    probs = _problems(db)
    assert any("multiple references" in p for p in probs), probs
    assert _bbolt_rejects(etcd35, db, tmp_path)


def test_cycle_terminates(db):
    root, _, ps, _ = _key_root(db)
    _patch(db, _branch_elem(ps, root, 2) + 8, fmt.U64.pack(root))
    probs = _problems(db)
    assert any(f"page {root}: multiple references" in p for p in probs), probs


def test_page_past_the_end(db, etcd35, tmp_path):
    root, _, ps, hwm = _key_root(db)
    _patch(db, _branch_elem(ps, root, 1) + 8, fmt.U64.pack(hwm + 5))
    probs = _problems(db)
    assert any(f"page {hwm + 5}: out of bounds" in p for p in probs), probs
    assert _bbolt_rejects(etcd35, db, tmp_path)


def test_unsorted_keys(db):
    _, leaf, ps, _ = _key_root(db)
    with PageFile(db) as pf:
        h, buf = pf.page(leaf)
        items = read_leaf(buf, h.count, leaf)
        k0, k1 = bytes(items[0].key), bytes(items[1].key)
    assert len(k0) == len(k1)
    with open(db, "rb") as f:
        page = bytearray(f.read()[leaf * ps : (leaf + 1) * ps])
    i0, i1 = page.find(k0), page.find(k1)
    page[i0 : i0 + len(k0)], page[i1 : i1 + len(k1)] = k1, k0
    _patch(db, leaf * ps, bytes(page))
    probs = _problems(db)
    assert any(f"page {leaf}: element 1: key not greater" in p for p in probs), probs


def test_key_outside_parent_bounds(db):
    root, _, ps, _ = _key_root(db)
    with PageFile(db) as pf:
        h, buf = pf.page(root)
        second = read_branch(buf, h.count, root)[1][1]
        h2, buf2 = pf.page(second)
        assert h2.flags == fmt.LEAF_PAGE
        last = read_leaf(buf2, h2.count, second)[-1]
        key = bytes(last.key)
    with open(db, "rb") as f:
        page = bytearray(f.read()[second * ps : (second + 1) * ps])
    i = page.rfind(key)
    page[i : i + len(key)] = b"\xff" * len(key)  # greater than the next branch key
    _patch(db, second * ps, bytes(page))
    probs = _problems(db)
    assert any(f"page {second}: element {h2.count - 1}: key not below the parent's next key" in p
               for p in probs), probs


def test_element_outside_its_page(db):
    _, leaf, ps, _ = _key_root(db)
    with open(db, "rb") as f:
        f.seek(_leaf_elem(ps, leaf, 3))
        flags, _pos, ksize, vsize = fmt.LEAF_ELEMENT.unpack(f.read(fmt.LEAF_ELEMENT_SIZE))
    _patch(db, _leaf_elem(ps, leaf, 3), fmt.LEAF_ELEMENT.pack(flags, ps * 4, ksize, vsize))
    probs = _problems(db)
    assert any(f"page {leaf}: leaf element points outside its page" in p for p in probs), probs


def test_huge_element_count_and_bad_type(db):
    root, leaf, ps, _ = _key_root(db)
    _patch(db, leaf * ps + 10, (0xFFFF).to_bytes(2, "little"))
    with PageFile(db) as pf:
        other = read_branch(pf.page(root)[1], pf.header(root).count, root)[-1][1]
    _patch(db, other * ps + 8, fmt.META_PAGE.to_bytes(2, "little"))
    probs = _problems(db)
    assert any(f"page {leaf}:" in p and "do not fit" in p for p in probs), probs
    assert any(f"page {other}: invalid type: meta" in p for p in probs), probs


def test_invalid_meta_reported(db):
    with PageFile(db) as pf:
        older = min(pf.metas, key=lambda m: m.txid)
    _patch(db, older.slot * older.page_size + fmt.PAGE_HEADER_SIZE + 40, b"\xff" * 8)
    probs = _problems(db)
    assert len(probs) == 1 and probs[0].startswith("meta: meta") and "checksum" in probs[0], probs


def test_freelist_problems(db, etcd35, tmp_path):
    fl = tmp_path / "fl.db"
    def rewrite_some_leaves(tx, model):  # same values: leaves are rewritten, their old pages freed
        keys = sorted(model[(b"key",)])
        for k in keys[:: max(1, len(keys) // 8)]:
            tx.put((b"key",), k, model[(b"key",)][k])

    commit_and_verify(db, fl, rewrite_some_leaves, sync_freelist=True)
    with PageFile(fl) as pf:
        fpg, ps = pf.meta.freelist, pf.page_size
        ids = read_freelist(pf)
    assert len(ids) >= 3
    # Drop the last free id: that page becomes unreachable and unfreed.
    _patch(fl, fpg * ps + 10, (len(ids) - 1).to_bytes(2, "little"))
    probs = _problems(fl)
    assert probs == [f"page {ids[-1]}: unreachable unfreed"]
    assert _bbolt_rejects(etcd35, fl, tmp_path)
    # Free a page twice (and lose another one).
    _patch(fl, fpg * ps + 10, len(ids).to_bytes(2, "little"))
    _patch(fl, fpg * ps + fmt.PAGE_HEADER_SIZE + 8, fmt.U64.pack(ids[0]))
    probs = _problems(fl)
    assert f"page {ids[0]}: already freed" in probs and f"page {ids[1]}: unreachable unfreed" in probs, probs
    # A reachable page on the freelist.
    with PageFile(fl) as pf:
        reachable = Bucket.root_bucket(pf).bucket(b"key").root
    _patch(fl, fpg * ps + fmt.PAGE_HEADER_SIZE + 8, fmt.U64.pack(reachable))
    probs = _problems(fl)
    assert f"page {reachable}: reachable freed" in probs, probs
    assert _bbolt_rejects(etcd35, fl, tmp_path)


def test_problem_messages_are_capped(tmp_path):
    src = new_db(tmp_path / "n.db", 512, free_pages=3000)
    with PageFile(src) as pf:
        fpg, ps = pf.meta.freelist, pf.page_size
    _patch(src, fpg * ps + 10, (0).to_bytes(2, "little"))  # nothing free: 3000 unreachable pages
    with PageFile(src) as pf:
        probs = check(pf, max_problems=50)
    assert len(probs) == 51 and probs[-1] == "2950 more problems not shown"


def test_overlapping_inline_buckets_cost_bounded_work(tmp_path):
    """Inline buckets whose elements all share the same bytes would nest 8^60 visits; the check stops early."""
    from snaprewrite.bbolt.writer import Transaction, apply_patch

    image = fmt.PAGE_HEADER.pack(0, fmt.LEAF_PAGE, 0, 0)
    for _ in range(60):
        k, body = 8, b"a" + fmt.BUCKET_HEADER.pack(0, 0) + image
        elems = b"".join(fmt.LEAF_ELEMENT.pack(fmt.BUCKET_LEAF_FLAG, (k - i) * fmt.LEAF_ELEMENT_SIZE, 1,
                                               len(body) - 1) for i in range(k))
        image = fmt.PAGE_HEADER.pack(0, fmt.LEAF_PAGE, k, 0) + elems + body
    src = new_db(tmp_path / "bomb.db", 4096)
    with PageFile(src) as pf:
        tx = Transaction(pf)
        _, _, node = tx.root.seek(b"bomb", True)
        node.put(b"bomb", b"bomb", fmt.BUCKET_HEADER.pack(0, 0) + image, 0, fmt.BUCKET_LEAF_FLAG)
        patch = tx.commit()
    out = tmp_path / "bomb2.db"
    apply_patch(src, patch, out)
    with PageFile(out) as pf:
        probs = check(pf)
    assert "more elements than the file can hold: overlapping elements, check stopped" in probs
    assert any("key not greater than the previous one" in p for p in probs)
