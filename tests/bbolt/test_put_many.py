"""put_many (a leaf at a time) writes exactly the pages key-by-key puts and deletes write, on any item order."""

import random

import pytest
from bbolt_testutil import commit_and_verify, content, new_db
from test_writer import KEY, assert_etcd_agrees, rev

from snaprewrite.bbolt import bulk
from snaprewrite.bbolt.check import check
from snaprewrite.bbolt.pages import PageFile
from snaprewrite.bbolt.writer import MAX_KEY_SIZE, Transaction, apply_patch
from snaprewrite.errors import CorruptError, WriteError


def _items(keys: list[bytes], seed: int, shape: str) -> list[tuple[bytes, bytes | None]]:
    """_items is a change set over ``keys`` (the bucket's keys): replaced, inserted, appended, deleted, as ``shape`` says."""
    rnd = random.Random(seed)
    items: dict[bytes, bytes | None] = {}
    for k in rnd.sample(keys, len(keys) // 2):
        items[k] = rnd.randbytes(rnd.choice((0, 5, 80, 400, 1500, 5000 if shape != "small" else 60)))
    last = int.from_bytes(max(keys)[:8], "big")
    for _ in range(len(keys) // 8):  # new keys between the old ones (a sub-revision after one) and past the end
        k = rnd.choice(keys)
        items[k[:9] + (int.from_bytes(k[9:17], "big") + 1).to_bytes(8, "big")] = rnd.randbytes(rnd.randrange(200))
    for i in range(1, 40 if shape != "small" else 3):
        items[rev(last + i)] = b"n" * rnd.randrange(1, 2000)
    if shape == "deletes":
        for k in rnd.sample(keys, len(keys) // 10):
            items[k] = None
    out = sorted(items.items())
    if shape == "shuffled":  # runs in order, some going back
        cut = sorted(rnd.sample(range(len(out)), 6))
        parts = [out[a:b] for a, b in zip([0, *cut], [*cut, len(out)])]
        rnd.shuffle(parts)
        out = [it for p in parts for it in p]
        out.insert(len(out) // 3, out[len(out) // 2])  # a key twice
    return out


def _apply(pf: PageFile, items, many: bool):
    tx = Transaction(pf)
    if many:
        tx.put_many(KEY, iter(items))
    else:
        for k, v in items:
            if v is None:
                tx.delete(KEY, k)
            else:
                tx.put(KEY, k, v)
    return tx.commit()


@pytest.mark.parametrize("shape", ["sorted", "small", "deletes", "shuffled"])
@pytest.mark.parametrize("seed", [1, 2])
def test_same_pages_as_key_by_key(source_db, shape, seed, monkeypatch):
    """Byte-identical new pages, meta and freed pages; the leaf-at-a-time path did write leaves."""
    written = []
    write = bulk._write
    monkeypatch.setattr(bulk, "_write", lambda *a: written.append(1) or write(*a))
    with PageFile(source_db) as pf:
        items = _items(sorted(content(pf)[KEY]), seed, shape)
        plain = _apply(pf, items, many=False)
        assert not written
        fast = _apply(pf, items, many=True)
    assert written, "no leaf went the leaf-at-a-time way"
    assert fast.append == plain.append
    assert (fast.meta, fast.freed, fast.new_length) == (plain.meta, plain.freed, plain.new_length)


def test_content_and_etcd(source_db, etcd35, tmp_path):
    """What put_many writes is the model's content, the old meta still reads the old file, and bbolt agrees."""
    def edit(tx, model):
        items = _items(sorted(model[KEY]), 7, "deletes")
        tx.put_many(KEY, items)
        for k, v in items:
            if v is None:
                model[KEY].pop(k, None)
            else:
                model[KEY][k] = v

    out = tmp_path / "many.db"
    _, before, after = commit_and_verify(source_db, out, edit)
    assert after != before
    assert_etcd_agrees(etcd35, out, after, tmp_path)


@pytest.mark.parametrize("bad", [b"", b"k" * (MAX_KEY_SIZE + 1)])
def test_invalid_put_raises_as_put_does(source_db, bad):
    """An invalid key after a run in progress raises put's own error."""
    with PageFile(source_db) as pf:
        keys = sorted(content(pf)[KEY])
        items = [(k, b"x" * 50) for k in keys[:5]] + [(bad, b"v")]
        with pytest.raises(WriteError) as plain:
            tx = Transaction(pf)
            for k, v in items:
                tx.put(KEY, k, v)
        with pytest.raises(WriteError) as fast:
            Transaction(pf).put_many(KEY, items)
    assert str(fast.value) == str(plain.value)


@pytest.mark.parametrize("shape", ["sorted", "deletes", "shuffled"])
def test_deep_tree_same_pages(tmp_path, shape, monkeypatch):
    """On a tree with three levels of branches (512-byte pages) the leaf-at-a-time path resumes each descent
    at the deepest branch it passed whose range holds the next key (``bulk._to_leaf``'s trail) and still
    writes the pages key-by-key puts write; reading the leaves by ``pread`` is the mapped read's copy."""
    src = new_db(tmp_path / "empty.db", 512)
    with PageFile(src) as pf:
        tx = Transaction(pf)
        tx.create_bucket(KEY)
        for i in range(3000):
            tx.put(KEY, rev(2 + i), b"v%05d" % i * 3)
        apply_patch(src, tx.commit(), tmp_path / "deep.db")
    deep = tmp_path / "deep.db"
    resumed = []
    to_leaf = bulk._to_leaf
    monkeypatch.setattr(bulk, "_to_leaf", lambda b, key, trail: resumed.append(len(trail)) or to_leaf(b, key, trail))
    with PageFile(deep) as pf:
        assert check(pf) == []
        h, image = pf.read_page(pf.meta.root)
        assert (h, image) == (pf.page(pf.meta.root)[0], bytes(pf.page(pf.meta.root)[1]))
        items = _items(sorted(content(pf)[KEY]), 3, shape)
        plain = _apply(pf, items, many=False)
        fast = _apply(pf, items, many=True)
    assert max(resumed) >= 3, "the tree is not three branches deep"
    assert fast.append == plain.append
    assert (fast.meta, fast.freed, fast.new_length) == (plain.meta, plain.freed, plain.new_length)


def test_read_page_refuses_as_page_does(tmp_path):
    """``PageFile.read_page`` (the pread of a leaf) refuses what ``page`` refuses, with the same error."""
    src = new_db(tmp_path / "n.db", 512)
    data = bytearray(src.read_bytes())
    data[3 * 512 : 3 * 512 + 8] = (7).to_bytes(8, "little")  # the root leaf's header claims page 7
    bad = tmp_path / "bad.db"
    bad.write_bytes(bytes(data))
    with PageFile(bad) as pf:
        for pgid in (3, pf.meta.pgid, -1):
            with pytest.raises(CorruptError) as mapped:
                pf.page(pgid)
            with pytest.raises(CorruptError) as read:
                pf.read_page(pgid)
            assert str(read.value) == str(mapped.value)
