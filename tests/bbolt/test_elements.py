"""The one element decoder (``bbolt/elements.py``) equals the construct declarations, page by page and a branch at a time.

The reference here decodes each element with ``format.LeafElement`` / ``format.BranchElement`` (the one
declaration of those bytes) and applies bbolt's rule element by element: ``pos`` at least one element
long, the key (and value) inside the page. The fast decoders must give the same offsets, or the same
one-line error naming the same page, on every page of the fixtures and the real snapshot and on pages
damaged on purpose; ``Bucket.leaf_batches`` must yield what the page-by-page walk yields, or raise what
it raises.
"""

import random
import shutil
from pathlib import Path

import pytest

from snaprewrite.bbolt import elements
from snaprewrite.bbolt import format as fmt
from snaprewrite.bbolt.pages import PageFile
from snaprewrite.bbolt.tree import Bucket
from snaprewrite.errors import CorruptError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DBS = ["k8s-etcd35.db", "k8s-etcd34.db", "cni-calico.db", "allkinds-etcd35.db", "tiny-etcd35.db"]


def open_db(path) -> PageFile:
    size = Path(path).stat().st_size
    return PageFile(path, size - 32 if size % 512 == 32 else size)


def plain_leaf(buf, off, size, count, pgid):
    """plain_leaf decodes a leaf element by element through ``format.LeafElement``."""
    base = off + fmt.PAGE_HEADER_SIZE
    first = base + count * fmt.LeafElement.sizeof()
    if first > off + size:
        raise CorruptError(f"{count} leaf elements do not fit in the page", pgid)
    flags, ks, vs, ends = [], [], [], []
    for i in range(count):
        e = base + i * fmt.LeafElement.sizeof()
        el = fmt.LeafElement.parse(bytes(buf[e : e + fmt.LeafElement.sizeof()]))
        k = e + el.pos
        if el.pos < fmt.LeafElement.sizeof() or k + el.ksize + el.vsize > off + size:
            raise CorruptError("leaf element points outside its page", pgid)
        flags.append(el.flags)
        ks.append(k)
        vs.append(k + el.ksize)
        ends.append(k + el.ksize + el.vsize)
    return tuple(flags), ks, vs, ends, first


def plain_branch(buf, off, size, count, pgid):
    """plain_branch decodes a branch element by element through ``format.BranchElement``."""
    if count == 0:
        raise CorruptError("empty branch page", pgid)
    base = off + fmt.PAGE_HEADER_SIZE
    if base + count * fmt.BranchElement.sizeof() > off + size:
        raise CorruptError(f"{count} branch elements do not fit in the page", pgid)
    ks, kends, children = [], [], []
    for i in range(count):
        e = base + i * fmt.BranchElement.sizeof()
        el = fmt.BranchElement.parse(bytes(buf[e : e + fmt.BranchElement.sizeof()]))
        k = e + el.pos
        if el.pos < fmt.BranchElement.sizeof() or k + el.ksize > off + size:
            raise CorruptError("branch element points outside its page", pgid)
        ks.append(k)
        kends.append(k + el.ksize)
        children.append(el.pgid)
    return ks, kends, tuple(children)


def outcome(f, *args):
    try:
        return f(*args)
    except CorruptError as e:
        return ("error", str(e))


def pages_of(pf: PageFile):
    """pages_of yields (pgid, offset, size, flags, count) of every leaf and branch page in the file."""
    for pgid in range(2, pf.meta.pgid):
        h = fmt.PageHeader.parse(bytes(pf.data[pgid * pf.page_size : pgid * pf.page_size + fmt.PAGE_HEADER_SIZE]))
        if h.id == pgid and h.flags in (fmt.LEAF_PAGE, fmt.BRANCH_PAGE):
            size = (h.overflow + 1) * pf.page_size
            if pgid * pf.page_size + size <= pf.length:
                yield pgid, pgid * pf.page_size, size, h.flags, h["count"]


def db_paths(real_snapshot):
    return [FIXTURES / n for n in DBS] + [real_snapshot]


def test_every_page_decodes_as_the_declarations_say(real_snapshot):
    for path in db_paths(real_snapshot):
        with open_db(path) as pf:
            raw = pf.data.obj
            leaves = []
            for pgid, off, size, flags, count in pages_of(pf):
                if flags == fmt.LEAF_PAGE:
                    want = plain_leaf(raw, off, size, count, pgid)
                    assert elements.leaf_spans(raw, off, size, count, pgid) == want, (path.name, pgid)
                    assert elements.leaf_spans(pf.data, off, size, count, pgid) == want
                    leaves.append((off, size, count, want))
                else:
                    assert elements.branch_spans(raw, off, size, count, pgid) == \
                        plain_branch(raw, off, size, count, pgid), (path.name, pgid)
            assert leaves, path
            offs, sizes, counts, wants = zip(*leaves)
            got = elements.leaf_batch(raw, list(offs), list(sizes), counts)
            assert got == (sum((w[0] for w in wants), ()), sum((w[1] for w in wants), []),
                           sum((w[2] for w in wants), []), sum((w[3] for w in wants), []), [w[4] for w in wants])


def _hostile_value(rnd: random.Random, page_size: int) -> int:
    return rnd.choice([0, 1, 15, 16, 17, page_size - 17, page_size - 16, page_size, page_size + 1,
                       0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, rnd.randrange(0, 2 * page_size), rnd.randrange(1 << 32)])


def test_damaged_pages_fail_alike_page_by_page_and_in_a_batch():
    """Element fields and counts overwritten with boundary values: the same offsets or the same error, and
    a batch is refused (None) exactly when one of its pages would raise."""
    rnd = random.Random(13)
    with open_db(FIXTURES / "k8s-etcd35.db") as pf:
        ps = pf.page_size
        pages = [(pgid, bytearray(pf.data[off : off + size]), flags, count)
                 for pgid, off, size, flags, count in pages_of(pf)]
    leaves = [p for p in pages if p[2] == fmt.LEAF_PAGE and p[3]]
    branches = [p for p in pages if p[2] == fmt.BRANCH_PAGE]
    assert leaves and branches
    errors = 0
    for trial in range(1500):
        pgid, image, flags, count = rnd.choice(leaves if trial % 3 else branches)
        buf = bytearray(image)
        if rnd.random() < 0.15:
            count = _hostile_value(rnd, ps) & 0xFFFF
        for _ in range(rnd.randint(1, 3)):
            e = fmt.PAGE_HEADER_SIZE + fmt.LEAF_ELEMENT_SIZE * rnd.randrange(max(min(count, 64), 1))
            field = rnd.randrange(4 if flags == fmt.LEAF_PAGE else 2)
            if e + 4 * field + 4 <= len(buf):
                buf[e + 4 * field : e + 4 * field + 4] = _hostile_value(rnd, ps).to_bytes(4, "little")
        data = bytes(ps) + bytes(buf)  # the page at offset ps of a buffer, as in the mapping
        if flags == fmt.LEAF_PAGE:
            want = outcome(plain_leaf, data, ps, len(buf), count, pgid)
            assert outcome(elements.leaf_spans, data, ps, len(buf), count, pgid) == want
            each = [outcome(elements.leaf_element, data, ps, len(buf), count, i, pgid) for i in range(min(count, 300))]
            if want[0] != "error":
                assert each == [tuple(col[i] for col in want[:4]) for i in range(len(each))]
            elif count <= 300:
                assert want in each  # the element a search would read raises the same error
            good = leaves[trial % len(leaves)]
            both = bytes(ps) + bytes(buf) + bytes(good[1])
            batch = elements.leaf_batch(both, [ps, ps + len(buf)], [len(buf), len(good[1])], (count, good[3]))
            if want[0] == "error":
                errors += 1
                assert batch is None
            else:
                assert batch is not None and batch[1][:count] == want[1] and batch[3][:count] == want[3]
        else:
            want = outcome(plain_branch, data, ps, len(buf), count, pgid)
            assert outcome(elements.branch_spans, data, ps, len(buf), count, pgid) == want
    assert errors > 100  # the damage really broke pages


def plain_walk(bucket: Bucket):
    """plain_walk is the page-by-page walk: depth first through ``Bucket.node``, elements by the declarations."""
    out = []
    stack, path, seen = [(bucket.root, 0)], [], set()
    while stack:
        pgid, depth = stack.pop()
        del path[depth:]
        if depth > 64 or pgid in path:
            raise CorruptError("cycle in the page tree", pgid)
        if pgid in seen and pgid:
            raise CorruptError("page referenced twice in one bucket tree", pgid)
        seen.add(pgid)
        path.append(pgid)
        h, buf = bucket.node(pgid)
        if h.flags == fmt.LEAF_PAGE:
            flags, ks, vs, ends, _ = plain_leaf(buf, 0, len(buf), h.count, pgid or None)
            out += [(f, bytes(buf[k:v]), bytes(buf[v:e])) for f, k, v, e in zip(flags, ks, vs, ends)]
        elif h.flags == fmt.BRANCH_PAGE:
            stack += [(c, depth + 1) for c in reversed(plain_branch(buf, 0, len(buf), h.count, pgid)[2])]
        else:
            raise CorruptError(f"unexpected page type {h.flags:#x} in a bucket tree", pgid)
    return out


def batch_items(b: Bucket, most: int) -> list[tuple[int, bytes, bytes]]:
    """batch_items reads a bucket through ``leaf_batches(most)``, checking no batch holds more than ``most`` leaves."""
    out = []
    for batch in b.leaf_batches(most=most):
        assert len(batch.pgids) <= most
        view = batch.view
        out += [(f, bytes(view[k:v]), bytes(view[v:e])) for f, k, v, e in zip(batch.flags, batch.ks, batch.vs, batch.ends)]
    return out


def walk_outcome(path, fast: bool, most: int | None = None):
    with open_db(path) as pf:
        try:
            out = {}
            for name, b in Bucket.root_bucket(pf).buckets():
                if most is not None:
                    out[name] = batch_items(b, most)
                else:
                    out[name] = [(f, bytes(k), bytes(v)) for f, k, v in b.iter_raw()] if fast else plain_walk(b)
            return out
        except CorruptError as e:
            return ("error", str(e))


def test_batches_equal_the_page_walk(real_snapshot):
    batched = 0
    for path in db_paths(real_snapshot):
        fast = walk_outcome(path, True)
        assert fast == walk_outcome(path, False), path.name
        with open_db(path) as pf:
            key = Bucket.root_bucket(pf).bucket(b"key")
            per_page = [(pgid, h.count) for pgid, h, _img in key.leaf_pages()]
            assert per_page == [(pgid, len(ks)) for pgid, _r, _v, _f, ks, _vs, _e, _first in key.leaf_spans()]
            batched += sum(len(b.pgids) > 1 for b in key.leaf_batches())
    assert batched  # the batch path really ran


@pytest.mark.parametrize("most", [1, 3, 16])
def test_capped_batches_equal_the_page_walk(real_snapshot, most):
    """leaf_batches(most) (batches of at most ``most`` leaves, for readers that release the mapping often)
    yields the page walk's records, and really batches when ``most`` > 1."""
    for path in db_paths(real_snapshot):
        assert walk_outcome(path, True, most) == walk_outcome(path, False), path.name
    with open_db(real_snapshot) as pf:
        key = Bucket.root_bucket(pf).bucket(b"key")
        sizes = [len(b.pgids) for b in key.leaf_batches(most=most)]
        assert max(sizes) == most and sum(sizes) == len(list(key.leaf_pages()))


@pytest.mark.parametrize("seed", range(24))
def test_damaged_trees_fail_alike(tmp_path, seed):
    """A key-bucket branch or leaf page with an element, a child id or a header field overwritten: the batch
    walk raises the page walk's error (same words, same page), or both read the same records."""
    rnd = random.Random(seed)
    src = FIXTURES / "k8s-etcd35.db"
    dst = tmp_path / "damaged.db"
    shutil.copyfile(src, dst)
    with open_db(src) as pf:
        ps = pf.page_size
        key = Bucket.root_bucket(pf).bucket(b"key")
        branch_pages, leaf_pages = [], []
        stack = [key.root]
        while stack:
            pgid = stack.pop()
            h, buf = pf.page(pgid)
            if h.flags == fmt.BRANCH_PAGE:
                branch_pages.append((pgid, h.count))
                stack += [c for _, c in ((None, c) for c in elements.branch_spans(buf, 0, len(buf), h.count)[2])]
            else:
                leaf_pages.append((pgid, h.count))
    assert branch_pages
    data = bytearray(dst.read_bytes())
    for _ in range(rnd.randint(1, 2)):
        what = rnd.choice(["child", "element", "header"])
        if what == "child":
            pgid, count = rnd.choice(branch_pages)
            e = pgid * ps + fmt.PAGE_HEADER_SIZE + fmt.BRANCH_ELEMENT_SIZE * rnd.randrange(count) + 8
            child = rnd.choice([0, 1, pf_hwm(src) + rnd.randrange(5), rnd.choice(branch_pages)[0],
                                rnd.choice(leaf_pages)[0], pgid])
            data[e : e + 8] = child.to_bytes(8, "little")
        elif what == "element":
            pgid, count = rnd.choice(leaf_pages)
            e = pgid * ps + fmt.PAGE_HEADER_SIZE + fmt.LEAF_ELEMENT_SIZE * rnd.randrange(max(count, 1))
            f = rnd.randrange(1, 4)
            data[e + 4 * f : e + 4 * f + 4] = _hostile_value(rnd, ps).to_bytes(4, "little")
        else:
            pgid, _ = rnd.choice(leaf_pages)
            at = pgid * ps + rnd.choice([0, 8, 10, 12])
            width = {0: 8, 8: 2, 10: 2, 12: 4}[at - pgid * ps]
            data[at : at + width] = rnd.choice([0, 1, 2, 3, 0x10, 0xFFFF, pgid + 1]).to_bytes(8, "little")[:width]
    dst.write_bytes(bytes(data))
    fast, plain = walk_outcome(dst, True), walk_outcome(dst, False)
    assert fast == plain
    assert walk_outcome(dst, True, 1 + seed % 5) == plain  # batches capped at 1..5 leaves: the same outcome
    if isinstance(fast, tuple):
        assert "\n" not in fast[1] and "page" in fast[1]


def pf_hwm(path) -> int:
    with open_db(path) as pf:
        return pf.meta.pgid


def test_spans_equal_span_page_by_page(tmp_path):
    """PageFile.spans (many pages at once) gives what span gives page by page, or None when span would raise
    or a page is of another type; then the page walk names the page."""
    src = FIXTURES / "k8s-etcd35.db"
    with open_db(src) as pf:
        leaves = tuple(p for p, _o, _s, flags, _c in pages_of(pf) if flags == fmt.LEAF_PAGE)
        branches = tuple(p for p, _o, _s, flags, _c in pages_of(pf) if flags == fmt.BRANCH_PAGE)
        offs, sizes, counts = pf.spans(leaves, fmt.LEAF_PAGE)
        assert [(o, s, fmt.LEAF_PAGE, c) for o, s, c in zip(offs, sizes, counts)] == [pf.span(p) for p in leaves]
        assert pf.spans(leaves + branches[:1], fmt.LEAF_PAGE) is None  # a branch among them
        assert pf.spans(leaves + (pf.meta.pgid,), fmt.LEAF_PAGE) is None  # past the high-water mark
        with pytest.raises(CorruptError, match="out of range"):
            pf.span(pf.meta.pgid)
    dst = tmp_path / "d.db"
    shutil.copyfile(src, dst)
    data = bytearray(dst.read_bytes())
    with open_db(src) as pf:
        ps = pf.page_size
    data[leaves[1] * ps : leaves[1] * ps + 8] = (leaves[1] + 1).to_bytes(8, "little")  # header names another page
    dst.write_bytes(bytes(data))
    with open_db(dst) as pf:
        assert pf.spans(leaves, fmt.LEAF_PAGE) is None
        with pytest.raises(CorruptError, match=f"page {leaves[1]}: page header claims id"):
            pf.span(leaves[1])

