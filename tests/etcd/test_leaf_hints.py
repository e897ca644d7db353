"""The planning scan remembers where each indexed key's latest record lies; reads through it equal the descent.

``mvcc.live_keys(..., hint_leaves=True)`` fills ``Bucket.element_hints`` (the element's place in the file
mapping) so that ``record_at`` is one read of the file (``Bucket.get_hinted``) instead of a descent from the root
and a leaf search (150k reads on a 1.3 GB snapshot); ``Bucket.leaf_hints`` (a leaf to search first) serves the same for inline
pages and ``diffwalk``. A hint may only make a read faster: every record read through the hints must be
byte-identical to the same read on a fresh snapshot (no hints), and a wrong hint (another place in the
file, another leaf, a branch page) must still find the right record.
"""

from pathlib import Path

import pytest

from snaprewrite.bbolt import format as fmt
from snaprewrite.bbolt.tree import pack_hint, unpack_hint
from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite import facts

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture(params=["k8s-etcd35.db", "k8s-etcd34.db", "real"])
def snapshot_path(request):
    if request.param == "real":
        return request.getfixturevalue("real_snapshot")
    return FIXTURES / request.param


def test_hinted_reads_equal_plain_reads(snapshot_path):
    with Snapshot(snapshot_path) as hinted, Snapshot(snapshot_path) as plain:
        index = mvcc.live_keys(hinted, facts.PREFIXES + (b"/registry/",), hint_leaves=True)
        bucket = hinted.key_bucket()
        assert index and set(index.values()) <= set(bucket.element_hints)
        assert not plain.key_bucket().leaf_hints and not plain.key_bucket().element_hints
        for revkey in index.values():
            assert mvcc.record_at(hinted, revkey) == mvcc.record_at(plain, revkey)
            assert bytes(bucket.get(revkey)) == bytes(plain.key_bucket().get(revkey))
        assert not plain.key_bucket().leaf_hints  # the plain path really descended
        assert not plain.key_bucket().element_hints


def test_hints_only_for_the_latest_record_and_only_when_asked(snapshot_path):
    with Snapshot(snapshot_path) as snap:
        mvcc.live_keys(snap, b"/registry/")
        assert not snap.key_bucket().leaf_hints  # status, ls, ...: nothing remembered
        assert not snap.key_bucket().element_hints
        index = mvcc.latest_index(snap, b"/registry/", hint_leaves=True)
        assert set(snap.key_bucket().element_hints) == set(index.values())


def test_a_wrong_element_hint_falls_back_to_the_descent():
    with Snapshot(FIXTURES / "k8s-etcd35.db") as snap, Snapshot(FIXTURES / "k8s-etcd35.db") as plain:
        index = mvcc.live_keys(snap, b"/registry/", hint_leaves=True)
        hints = snap.key_bucket().element_hints
        places = [unpack_hint(hints[rk]) for rk in index.values()]
        assert all(unpack_hint(pack_hint(*p)) == p for p in places)
        for i, revkey in enumerate(index.values()):
            k, v, end = places[(i + 1) % len(places)]  # another record's element
            hints[revkey] = [pack_hint(k, v, end), pack_hint(k + 1, v + 1, end), pack_hint(k, v, end + (1 << 32)),
                             pack_hint(0, 17, 40)][i % 4]
        for revkey in index.values():
            assert mvcc.record_at(snap, revkey) == mvcc.record_at(plain, revkey)


def test_a_wrong_hint_falls_back_to_the_descent():
    with Snapshot(FIXTURES / "k8s-etcd35.db") as snap, Snapshot(FIXTURES / "k8s-etcd35.db") as plain:
        index = mvcc.live_keys(snap, b"/registry/", hint_leaves=True)
        bucket = snap.key_bucket()
        bucket.element_hints.clear()  # (the scan's own hints are exact) only the leaf hints set below
        leaves = [p for p, _h, _b in bucket.leaf_pages()]
        assert len(set(leaves)) > 1
        branch = bucket.root if bucket.node(bucket.root)[0].flags == fmt.BRANCH_PAGE else None
        for i, revkey in enumerate(index.values()):
            wrong = leaves[i % len(leaves)] if branch is None or i % 2 else branch  # mostly not its leaf
            bucket.leaf_hints[revkey] = wrong
        for revkey in index.values():
            assert mvcc.record_at(snap, revkey) == mvcc.record_at(plain, revkey)
        assert bucket.get(b"\x00" * 17) is None  # absent key, no hint: None as before


def test_a_hinted_read_counts_the_window_a_fault_maps():
    """A hinted read faults in FAULT_AROUND bytes, not a page: counted so, 8 MB of them release the mapping."""
    from snaprewrite.bbolt import pages

    with Snapshot(FIXTURES / "k8s-etcd35.db") as snap:
        index = mvcc.live_keys(snap, b"/registry/", hint_leaves=True)
        bucket = snap.key_bucket()
        revkey = next(iter(index.values()))
        assert revkey in bucket.element_hints
        pf = bucket.pf
        pf._touched = 0
        bucket.get(revkey)
        assert pf._touched == pages.FAULT_AROUND
        released = []
        pf.release = lambda: released.append(1)
        for _ in range(pages.RELEASE_WINDOW // pages.FAULT_AROUND):
            bucket.get(revkey)
        assert released  # the residency stays bounded by the window, as for page reads


def test_a_hinted_file_read_equals_get_and_touches_no_page(snapshot_path):
    """``Bucket.get_hinted`` (one read of the file where the hint says) gives ``get``'s bytes, maps nothing."""
    with Snapshot(snapshot_path) as hinted, Snapshot(snapshot_path) as plain:
        index = mvcc.live_keys(hinted, b"/registry/", hint_leaves=True)
        bucket = hinted.key_bucket()
        pf = bucket.pf
        pf._touched = 0
        released = []
        pf.release = lambda: released.append(1)
        got = {revkey: bucket.get_hinted(revkey) for revkey in index.values()}
        assert pf._touched == 0 and not released  # no page of the mapping was read for them
        if bucket.root == 0:  # an inline key bucket has leaf hints only: every read goes to ``get``
            assert set(got.values()) == {None}
            return
        assert index and None not in got.values()
        for revkey, value in got.items():
            assert type(value) is bytes and value == bytes(plain.key_bucket().get(revkey))
        assert bucket.get_hinted(b"\x00" * 17) is None  # no hint: the caller descends


def test_a_wrong_hint_gives_no_hinted_read():
    """A hint that does not hold its key (another element, shifted, too long, past the end) reads nothing."""
    with Snapshot(FIXTURES / "k8s-etcd35.db") as snap, Snapshot(FIXTURES / "k8s-etcd35.db") as plain:
        index = mvcc.live_keys(snap, b"/registry/", hint_leaves=True)
        hints = snap.key_bucket().element_hints
        places = [unpack_hint(hints[rk]) for rk in index.values()]
        size = snap.key_bucket().pf.length
        for i, revkey in enumerate(index.values()):
            k, v, end = places[(i + 1) % len(places)]
            hints[revkey] = [pack_hint(k, v, end), pack_hint(k + 1, v + 1, end), pack_hint(k, v, end + (1 << 32)),
                             pack_hint(0, 17, 40), pack_hint(size - 10, size - 10 + 17, size + 5)][i % 5]
        for revkey in index.values():
            assert snap.key_bucket().get_hinted(revkey) is None
            assert mvcc.record_at(snap, revkey) == mvcc.record_at(plain, revkey)  # read by the descent


def test_a_file_read_past_the_data_is_refused():
    from snaprewrite.errors import CorruptError

    with Snapshot(FIXTURES / "k8s-etcd35.db") as snap:
        pf = snap.key_bucket().pf
        assert pf.read(0, 16) == bytes(pf.data[:16])
        assert pf.read(pf.length - 3, 3) == bytes(pf.data[pf.length - 3 :])
        for offset, size in ((pf.length - 3, 4), (-1, 2), (0, -1)):
            with pytest.raises(CorruptError):
                pf.read(offset, size)
