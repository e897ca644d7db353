"""check() takes a branch's leaf children at once when they are all sound (``_Checker._sound_leaves``) and walks
them one by one otherwise: its answer must be the one-by-one walk's on sound files and on damaged ones.

The damage is random (bytes of a page's header, element array or keys overwritten, a branch pointing at
another child or past the end) on real etcd files; the one-by-one walk is ``check`` with the batch path off.
"""

import random
import shutil
from pathlib import Path

import pytest

from snaprewrite.bbolt import check as checkmod
from snaprewrite.bbolt import format as fmt
from snaprewrite.bbolt.pages import PageFile
from snaprewrite.bbolt.tree import Bucket

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def answers(path, monkeypatch) -> tuple[list[str], list[str], int]:
    """(batch answer, one-by-one answer, branches the batch path took)."""
    taken = []
    real = checkmod._Checker._sound_leaves

    def counting(self, *a):
        ok = real(self, *a)
        taken.append(ok)
        return ok

    with monkeypatch.context() as m:
        m.setattr(checkmod._Checker, "_sound_leaves", counting)
        with PageFile(path) as pf:
            fast = checkmod.check(pf)
    with monkeypatch.context() as m:
        m.setattr(checkmod._Checker, "_sound_leaves", lambda self, *a: False)
        with PageFile(path) as pf:
            slow = checkmod.check(pf)
    return fast, slow, sum(taken)


def tree_pages(path) -> tuple[list[int], list[int], int]:
    """(branch pages, leaf pages) of bucket key, and the page size."""
    with PageFile(path) as pf:
        b = Bucket.root_bucket(pf).bucket(b"key")
        branches, leaves, stack = [], [], [b.root]
        while stack:
            pgid = stack.pop()
            h, _ = pf.page(pgid)
            if h.flags == fmt.BRANCH_PAGE:
                branches.append(pgid)
                stack += b._branch(pgid, pf.page(pgid)[1], h.count)[1]
            else:
                leaves.append(pgid)
        return branches, leaves, pf.page_size


@pytest.mark.parametrize("name", ["k8s-etcd35.db", "k8s-etcd34.db", "basic-etcd35.db", "allkinds-etcd35.db"])
def test_sound_files_take_the_batch_path_and_agree(name, monkeypatch):
    fast, slow, taken = answers(FIXTURES / name, monkeypatch)
    assert fast == slow == []
    assert taken >= 1


def test_random_damage_gets_the_one_by_one_answer(tmp_path, monkeypatch):
    """MUST FAIL: most damaged files have problems, and each has the same problems both ways."""
    rng = random.Random(7)
    src = FIXTURES / "basic-etcd35.db"
    branches, leaves, ps = tree_pages(src)
    data = src.read_bytes()
    found = 0
    for case in range(160):
        img = bytearray(data)
        pgid = rng.choice(leaves if rng.random() < 0.7 else branches)
        off = pgid * ps
        what = rng.randrange(5)
        if what == 0:  # the page header: id, flags, count or overflow
            at = off + rng.randrange(fmt.PAGE_HEADER_SIZE)
            img[at] = rng.randrange(256)
        elif what == 1:  # an element (pos, sizes, flags or a child's id)
            at = off + fmt.PAGE_HEADER_SIZE + rng.randrange(64)
            img[at] = rng.randrange(256)
        elif what == 2:  # a key byte: order and bounds
            at = off + fmt.PAGE_HEADER_SIZE + rng.randrange(ps - fmt.PAGE_HEADER_SIZE)
            img[at] ^= 1 << rng.randrange(8)
        elif what == 3 and len(leaves) > 1:  # a branch child pointing at another leaf (referenced twice)
            b = rng.choice(branches)
            e = b * ps + fmt.PAGE_HEADER_SIZE + rng.randrange(2) * fmt.BRANCH_ELEMENT_SIZE
            img[e + 8 : e + 16] = rng.choice(leaves).to_bytes(8, "little")
        else:  # a leaf that claims overflow pages
            img[off + 12 : off + 16] = rng.randrange(1, 4).to_bytes(4, "little")
        path = tmp_path / f"d{case}.db"
        path.write_bytes(bytes(img))
        fast, slow, _ = answers(path, monkeypatch)
        assert fast == slow, (case, what, pgid)
        found += bool(fast)
    assert found >= 60


def test_the_real_snapshot_agrees(real_snapshot, tmp_path, monkeypatch):
    path = tmp_path / "real.db"
    shutil.copy(real_snapshot, path)
    fast, slow, taken = answers(path, monkeypatch)
    assert fast == slow and taken >= 1


@pytest.fixture(scope="module")
def deep(tmp_path_factory):
    """A file with 512-byte pages whose bucket ``key`` is three levels deep (branches under branches)."""
    from bbolt_testutil import new_db

    from snaprewrite.bbolt.writer import Transaction, apply_patch

    d = tmp_path_factory.mktemp("deep")
    src = new_db(d / "n.db", 512, free_pages=40)
    with PageFile(src) as pf:
        tx = Transaction(pf)
        for name in (b"key", b"kez"):  # twins: the same keys, the same tree shape
            tx.create_bucket((name,))
            for i in range(4000):
                tx.put((name,), b"k%07d" % i, b"v%05d" % i)
        patch = tx.commit()
    out = d / "deep.db"
    apply_patch(src, patch, out)
    branches, leaves, ps = tree_pages(out)
    assert len(branches) >= 5
    return out


def lower_branches(path, bucket: bytes = b"key") -> list[tuple[int, list[int]]]:
    """(branch, its leaf children) for each branch just above the leaves, in key order."""
    with PageFile(path) as pf:
        b = Bucket.root_bucket(pf).bucket(bucket)
        out, stack = [], [b.root]
        while stack:
            pgid = stack.pop()
            h, buf = pf.page(pgid)
            children = b._branch(pgid, buf, h.count)[1]
            if pf.page(children[0])[0].flags == fmt.LEAF_PAGE:
                out.append((pgid, children))
            else:
                stack += reversed(children)
        return out


def leaf_element_at(path, pgid: int, i: int) -> tuple[int, int, int]:
    """(offset of element i, its key's offset, key size) in leaf ``pgid``."""
    with PageFile(path) as pf:
        ps = pf.page_size
        e = pgid * ps + fmt.PAGE_HEADER_SIZE + i * fmt.LEAF_ELEMENT_SIZE
        _flags, pos, ksize, _vsize = fmt.LEAF_ELEMENT.unpack_from(pf.data, e)
        return e, e + pos, ksize


def damaged_copy(src, tmp_path, edits: list[tuple[int, bytes]]):
    img = bytearray(src.read_bytes())
    for at, b in edits:
        img[at : at + len(b)] = b
    out = tmp_path / "d.db"
    out.write_bytes(bytes(img))
    return out


def test_deep_sound_file_agrees(deep, monkeypatch):
    fast, slow, taken = answers(deep, monkeypatch)
    assert fast == slow == [] and taken >= 5


def test_last_key_past_the_grandparents_bound(deep, tmp_path, monkeypatch):
    """MUST FAIL: the last key of a branch's last leaf sorts past the key the branch above gives the next branch."""
    (_b, children), _next = lower_branches(deep)[:2]
    leaf = children[-1]
    with PageFile(deep) as pf:
        count = pf.header(leaf).count
    _e, k, _ks = leaf_element_at(deep, leaf, count - 1)
    path = damaged_copy(deep, tmp_path, [(k, b"z")])
    fast, slow, _ = answers(path, monkeypatch)
    assert fast == slow and any("key not below the parent's next key" in p for p in fast)


def test_a_leaf_of_two_branches(deep, tmp_path, monkeypatch):
    """MUST FAIL: the first child of the second lower branch is a leaf the first one has too."""
    with PageFile(deep) as pf:
        ps = pf.page_size
    (_b1, kids1), (b2, _kids2) = lower_branches(deep)[:2]
    e = b2 * ps + fmt.PAGE_HEADER_SIZE
    path = damaged_copy(deep, tmp_path, [(e + 8, kids1[-1].to_bytes(8, "little"))])
    fast, slow, _ = answers(path, monkeypatch)
    assert fast == slow and any("multiple references" in p for p in fast)


def test_a_freed_leaf(deep, tmp_path, monkeypatch):
    """MUST FAIL: a leaf that the freelist also lists as free."""
    from snaprewrite.bbolt.freelist import read_freelist

    with PageFile(deep) as pf:
        ps, fl = pf.page_size, pf.meta.freelist
        free = read_freelist(pf)
    _b, kids = lower_branches(deep)[1]
    at = fl * ps + fmt.PAGE_HEADER_SIZE
    with PageFile(deep) as pf:
        ids = [int.from_bytes(pf.data[at + 8 * i : at + 8 * i + 8], "little") for i in range(len(free))]
    i = ids.index(free[0])
    path = damaged_copy(deep, tmp_path, [(at + 8 * i, kids[2].to_bytes(8, "little"))])
    fast, slow, _ = answers(path, monkeypatch)
    assert fast == slow and any(f"page {kids[2]}: reachable freed" in p for p in fast)


@pytest.mark.parametrize("damage", ["empty", "bucket flag"])
def test_an_empty_leaf_and_a_bucket_flag(deep, tmp_path, monkeypatch, damage):
    """MUST FAIL: a leaf below the root with no elements; an element flagged as a nested bucket."""
    with PageFile(deep) as pf:
        ps = pf.page_size
    _b, kids = lower_branches(deep)[1]
    leaf = kids[1]
    if damage == "empty":
        edits = [(leaf * ps + 10, (0).to_bytes(2, "little"))]
    else:
        e, _k, _ks = leaf_element_at(deep, leaf, 0)
        edits = [(e, fmt.BUCKET_LEAF_FLAG.to_bytes(4, "little"))]
    fast, slow, _ = answers(damaged_copy(deep, tmp_path, edits), monkeypatch)
    assert fast == slow and fast


def test_a_leaf_of_two_buckets(deep, tmp_path, monkeypatch):
    """MUST FAIL: a leaf of bucket kez points at the twin leaf of bucket key (same keys: every bound holds)."""
    with PageFile(deep) as pf:
        ps = pf.page_size
    (_b, kids), = lower_branches(deep)[:1]
    (b2, kids2), = lower_branches(deep, b"kez")[:1]
    e = b2 * ps + fmt.PAGE_HEADER_SIZE + 1 * 16  # branch element 1: (pos, ksize, pgid)
    assert int.from_bytes(deep.read_bytes()[e + 8 : e + 16], "little") == kids2[1]
    path = damaged_copy(deep, tmp_path, [(e + 8, kids[1].to_bytes(8, "little"))])
    fast, slow, _ = answers(path, monkeypatch)
    assert fast == slow and any(f"page {kids[1]}: multiple references" in p for p in fast)


@pytest.mark.parametrize(("run", "child"), [(None, 1), (16, 15), (8, 7)])  # inside a run of children, and at its end
def test_a_leaf_past_the_next_branch_key(deep, tmp_path, monkeypatch, run, child):
    """MUST FAIL: the branch's key for the next child is this child's last key: it ends at or past its bound."""
    if run is not None:  # the deep file's branches hold ~20 leaves: runs as long as LEAF_RUN would hold them all
        monkeypatch.setattr(checkmod, "LEAF_RUN", run)
    with PageFile(deep) as pf:
        ps = pf.page_size
    b, kids = next((b, kids) for b, kids in lower_branches(deep) if len(kids) > child + 1)
    with PageFile(deep) as pf:
        count = pf.header(kids[child]).count
        _e, k, ks = leaf_element_at(deep, kids[child], count - 1)
        last = bytes(pf.data[k : k + ks])
        e = b * ps + fmt.PAGE_HEADER_SIZE + (child + 1) * fmt.BRANCH_ELEMENT_SIZE
        pos, ksize, _child = fmt.BRANCH_ELEMENT.unpack_from(pf.data, e)
    assert ksize == len(last) and count > 1
    path = damaged_copy(deep, tmp_path, [(e + pos, last)])
    fast, slow, _ = answers(path, monkeypatch)
    assert fast == slow and any("key not below the parent's next key" in p for p in fast)
