"""fsck in one process checks bucket key's records on the structure check's walk (``fsck._Vouch``): each page
is read once. Its answer must be the plain one (the structure, then the records walked in key order, the
per-record rule's problems in the rule's order) on sound files, on every kind of bad record and on random
damage; the walk must hand over every record of bucket key exactly once, and on a sound file the records
must not be walked a second time (else the one walk saves nothing).
"""

import random

import pytest
from test_fsck_records import ALONE, SNAP, damaged, every_kind, plain_records, record, rev_key

from snaprewrite.bbolt.check import check as check_pages
from snaprewrite.errors import SnapshotError
from snaprewrite.etcd import fsck as fsckmod
from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot


def plain(path) -> list[str] | tuple:
    """plain is the answer of the structure check alone, then the plain record walk; an error as ("raised", type, message)."""
    try:
        with Snapshot(path) as snap:
            problems = list(check_pages(snap.pages, fsckmod.MAX_PROBLEMS))
            stored = snap.stored_trailer()
            if stored is not None and stored != snap.compute_sha256():
                problems.append(f"sha256 trailer mismatch: stored {stored.hex()}, data hashes to {snap.compute_sha256().hex()}")
            return problems or plain_records(snap)
    except SnapshotError as e:
        return ("raised", type(e), str(e))


def one_walk(path) -> list[str] | tuple:
    try:
        with Snapshot(path) as snap:
            return fsckmod.fsck(snap, parallel=False)
    except SnapshotError as e:
        return ("raised", type(e), str(e))


def test_sound_files_are_vouched_for_on_the_walk_alone(fixture_path, real_snapshot, monkeypatch):
    def walked_again(snap, progress):
        raise AssertionError("the records were walked a second time")

    paths = (SNAP, fixture_path("k8s-etcd34.db"), real_snapshot)
    assert [plain(p) for p in paths] == [[], [], []]
    monkeypatch.setattr(fsckmod, "_records", walked_again)
    assert [one_walk(p) for p in paths] == [[], [], []]


def test_the_walk_hands_over_every_record_of_bucket_key_once(real_snapshot):
    for path in (SNAP, real_snapshot):
        with Snapshot(path) as snap:
            want = [(k, v) for _pgid, raw, _view, _f, ks, vs, ends, _first in snap.key_bucket().leaf_spans()
                    for k, v in zip(map(raw.__getitem__, map(slice, ks, vs)), map(raw.__getitem__, map(slice, vs, ends)))]
            got = []

            def leaves(bucket, data, ks, vs, ends, got=got):
                if bucket == "key":
                    got.extend(zip(map(data.__getitem__, map(slice, ks, vs)), map(data.__getitem__, map(slice, vs, ends))))

            assert check_pages(snap.pages, leaves=leaves) == []
        assert got == want and len(want) > 40


def test_every_kind_of_bad_record_is_found_as_the_plain_check_finds_it(tmp_path):
    """MUST FAIL: a batch the walk cannot vouch for sends the records to the key-order walk: the plain answer."""
    with Snapshot(SNAP) as snap:
        base = mvcc.current_revision(snap) + 100
    path = damaged(tmp_path, "kinds.db", every_kind(base))
    got = one_walk(path)
    assert got == plain(path) and len(got) == 7 and got[0] == f"bucket key: record at revision {base + 3}: mod_revision {base + 9}"


@pytest.mark.parametrize("kind", ["mod_revision", "separator", "truncated varint", "negative"])
def test_one_bad_record_among_good_ones(tmp_path, kind):
    """MUST FAIL: one bad record among good ones in the same leaves is named as the plain check names it."""
    with Snapshot(SNAP) as snap:
        base = mvcc.current_revision(snap) + 100
    make, _want = ALONE[kind]
    path = damaged(tmp_path, "one.db", [(rev_key(base + i), record(base + i)) for i in range(60)] + [make(base)])
    got = one_walk(path)
    assert got == plain(path) and len(got) == 1 and got[0].startswith("bucket key: ")


def test_random_damage_gives_the_plain_answer(randomly_damaged):
    """MUST FAIL on most: random bytes changed past the meta pages: the same problems (or error) as the plain check."""
    data = SNAP.read_bytes()
    rnd = random.Random(20261207)
    failed = 0
    for i in range(25):
        path = randomly_damaged(data, rnd, f"r{i}.db")
        want = plain(path)
        assert one_walk(path) == want, f"case {i}"
        failed += bool(want)
    assert failed >= 10
