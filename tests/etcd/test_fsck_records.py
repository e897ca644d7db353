"""The record check of bucket key (``fsck._records``) takes a batch of leaves at once (``_sound``) and looks
record by record only where that cannot vouch: its answer must be the plain per-record check's, on sound
files and on damaged ones (every kind of bad record, good ones beside them in the same pages, more bad
records than the cap). The plain check here is the per-record loop over ``Bucket.leaf_runs`` that
``_records`` was before the batch path.
"""

from pathlib import Path

import pytest

from snaprewrite.bbolt.writer import Transaction
from snaprewrite.errors import SnapshotError
from snaprewrite.etcd import fsck as fsckmod
from snaprewrite.etcd import kv, mvcc, revision, schema, startup
from snaprewrite.etcd.output import write_patched
from snaprewrite.etcd.snapshot import Snapshot

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SNAP = FIXTURES / "k8s-etcd35.db"


def plain_records(snap: Snapshot) -> list[str]:
    """The plain check: every record of every leaf, one at a time, then the start-up buckets."""
    problems: list[str] = []
    bad = 0
    try:
        for _run, pairs in snap.root.bucket(schema.KEY).leaf_runs():
            for _f, k, v in pairs:
                try:
                    if len(k) == 17 and k[8] == 0x5F and k[0] < 0x80:
                        tomb, main = False, int.from_bytes(k[:8], "big")
                    else:
                        rev, tomb = revision.decode(k)
                        main = rev.main
                    if not v and not tomb:
                        continue
                    mod = kv.mod_revision_of(v)
                    if not tomb and mod != main:
                        raise SnapshotError(f"record at revision {main}: mod_revision {mod}")
                except SnapshotError as e:
                    bad += 1
                    if len(problems) < fsckmod.MAX_PROBLEMS:
                        problems.append(f"bucket key: {e}")
    except SnapshotError as e:
        problems.append(str(e))
    if bad > fsckmod.MAX_PROBLEMS:
        problems.append(f"{bad - fsckmod.MAX_PROBLEMS} more bad records in bucket key")
    problems += list(startup.problems(snap))[: max(0, fsckmod.MAX_PROBLEMS - len(problems))]
    return problems


def rev_key(main: int, sub: int = 0, tail: bytes = b"") -> bytes:
    return main.to_bytes(8, "big") + b"_" + sub.to_bytes(8, "big") + tail


def record(main: int, mod: int | None = None, key: bytes = b"/registry/test/x") -> bytes:
    return kv.encode(kv.KeyValue(key, main, main if mod is None else mod, 1, b"v" * 40))


def damaged(tmp_path, name: str, entries: list[tuple[bytes, bytes]]) -> Path:
    """damaged is the fixture with ``entries`` put into bucket key (bbolt sorts them among the others)."""
    out = tmp_path / name
    with Snapshot(SNAP) as snap:
        tx = Transaction(snap.pages)
        for k, v in entries:
            tx.put((schema.KEY,), k, v)
        patch = tx.commit()
        write_patched(snap, patch.copy_length, list(patch.overwrites), patch.append, str(out))
    return out


def every_kind(base: int) -> list[tuple[bytes, bytes]]:
    """Good records around one of each bad kind (and odd records the rule accepts), spread over many leaves."""
    entries = [(rev_key(base + i), record(base + i)) for i in range(0, 400)]  # good puts
    entries += [
        (rev_key(base + 3, 1), record(base + 3, base + 9)),  # mod_revision is not the key's main revision
        (rev_key(base + 5, 0)[:16], record(base + 5)),  # a 16-byte key
        (rev_key(base + 7)[:8] + b"-" + rev_key(base + 7)[9:], record(base + 7)),  # no '_' separator
        (rev_key(base + 11, 0, b"t"), kv.encode(kv.KeyValue(b"/registry/test/x", 0, 0, 0, b""))),  # a tombstone
        (rev_key(base + 13, 0, b"x"), record(base + 13)),  # an unknown mark
        (rev_key(base + 17, 2), b"\xff\xff\xff"),  # not a protobuf record
        (rev_key(base + 19, 3), b""),  # etcd 3.6's revision-bump marker: skipped
        (rev_key(base + 23, 1 << 63), record(base + 23)),  # a put's sub past int64: the rule does not read it
        (rev_key(base + 29, 1, b"t"), b"\x0a"),  # a tombstone whose record does not parse
        (rev_key(1 << 63), record(0)),  # a negative main revision
    ]
    return entries


def test_sound_files_pass_both_ways(fixture_path, real_snapshot):
    for path in (SNAP, fixture_path("k8s-etcd34.db"), real_snapshot):
        with Snapshot(path) as snap:
            assert fsckmod._records(snap, None) == plain_records(snap) == []


def test_every_kind_of_bad_record_is_found_as_the_plain_check_finds_it(tmp_path):
    """MUST FAIL: each bad record is named, in key order, exactly as the plain check names it."""
    with Snapshot(SNAP) as snap:
        base = mvcc.current_revision(snap) + 100
    path = damaged(tmp_path, "kinds.db", every_kind(base))
    with Snapshot(path) as snap:
        got = fsckmod._records(snap, None)
        assert got == plain_records(snap)
        assert fsckmod.fsck(snap) == fsckmod.fsck(snap, parallel=True) == got
    assert got == [
        f"bucket key: record at revision {base + 3}: mod_revision {base + 9}",
        "bucket key: revision key of 16 bytes (want 17 or 18)",
        f"bucket key: revision key {rev_key(base + 7)[:8].hex()}2d{rev_key(base + 7)[9:].hex()} lacks the '_' separator",
        f"bucket key: revision key {rev_key(base + 13, 0, b'x').hex()} has an unknown mark",
        "bucket key: KeyValue: not a valid protobuf record",
        "bucket key: KeyValue: not a valid protobuf record",
        f"bucket key: revision key {rev_key(1 << 63).hex()} is negative",
    ]


def test_more_bad_records_than_the_cap_are_counted_the_same(tmp_path):
    """MUST FAIL: 150 bad records among good ones: the first 100 named, the rest counted, as the plain check does."""
    with Snapshot(SNAP) as snap:
        base = mvcc.current_revision(snap) + 100
    entries = [(rev_key(base + i), record(base + i, base + i + (1 if i % 3 == 0 else 0))) for i in range(450)]
    path = damaged(tmp_path, "many.db", entries)
    with Snapshot(path) as snap:
        got = fsckmod._records(snap, None)
        assert got == plain_records(snap)
    assert len(got) == 101 and got[-1] == "50 more bad records in bucket key"


def test_the_batch_path_vouches_only_for_sound_pages_and_does_for_them(tmp_path):
    """``_sound`` is True on a page only if the rule finds nothing there, and it is True on every sound page
    (else the fast path would never run and this file would test nothing)."""
    with Snapshot(SNAP) as snap:
        base = mvcc.current_revision(snap) + 100
    path = damaged(tmp_path, "kinds.db", every_kind(base))
    vouched = refused = 0
    with Snapshot(path) as snap:
        for pgid, raw, _view, _flags, ks, vs, ends, _first in snap.root.bucket(schema.KEY).leaf_spans():
            rule = [p for k, v, e in zip(ks, vs, ends) if (p := fsckmod._record_problem(raw[k:v], raw[v:e]))]
            if fsckmod._sound(raw, ks, vs, ends):
                assert rule == [], f"page {pgid}"
                vouched += 1
            else:
                refused += 1
    assert vouched >= 3 and refused >= 3


ALONE = {  # one record among good ones in the same leaves: (key, value) from base, and what the check says
    "mod_revision": (lambda b: (rev_key(b + 3, 1), record(b + 3, b + 4)), "record at revision {b3}: mod_revision {b4}"),
    "short key": (lambda b: (rev_key(b + 3)[:16], record(b + 3)), "revision key of 16 bytes (want 17 or 18)"),
    "separator": (lambda b: (rev_key(b + 3)[:8] + b"-" + rev_key(b + 3)[9:], record(b + 3)), "lacks the '_' separator"),
    "mark": (lambda b: (rev_key(b + 3, 0, b"x"), record(b + 3)), "has an unknown mark"),
    "negative": (lambda b: (rev_key(1 << 63), record(0)), "is negative"),
    "tombstone main past int64": (lambda b: (rev_key(1 << 63, 0, b"t"), b""), "is negative"),
    "tombstone sub past int64": (lambda b: (rev_key(b + 3, 1 << 63, b"t"), b""), "is negative"),
    "truncated varint": (lambda b: (rev_key(b + 3, 1), b"\x18\x80"), "KeyValue: not a valid protobuf record"),
    "length past the end": (lambda b: (rev_key(b + 3, 1), b"\x0a\x05abc"), "KeyValue: not a valid protobuf record"),
    "dangling tag": (lambda b: (rev_key(b + 3, 1), b"\x28\x01\x2a"), "KeyValue: not a valid protobuf record"),
    "tombstone record": (lambda b: (rev_key(b + 3, 1, b"t"), b"\x0a"), "KeyValue: not a valid protobuf record"),
    "tombstone": (lambda b: (rev_key(b + 3, 1, b"t"), kv.encode(kv.KeyValue(b"/registry/test/x", 0, 0, 0, b""))), None),
    "bump marker": (lambda b: (rev_key(b + 3, 1), b""), None),
    "put sub past int64": (lambda b: (rev_key(b + 3, 1 << 63), record(b + 3)), None),
}


@pytest.mark.parametrize("kind", sorted(ALONE))
def test_one_record_among_good_ones(tmp_path, kind):
    """MUST FAIL (but the last three kinds, which the rule accepts): the one bad record is named, as the plain check does."""
    with Snapshot(SNAP) as snap:
        base = mvcc.current_revision(snap) + 100
    make, want = ALONE[kind]
    entries = [(rev_key(base + i), record(base + i)) for i in range(60)] + [make(base)]
    path = damaged(tmp_path, "one.db", entries)
    with Snapshot(path) as snap:
        got = fsckmod._records(snap, None)
        assert got == plain_records(snap)
    if want is None:
        assert got == []
    else:
        assert len(got) == 1 and got[0].startswith("bucket key: ")
        assert got[0].endswith(want.format(b3=base + 3, b4=base + 4))


def test_random_pages_batch_path_equals_the_rule():
    """``_check`` on a page of records (laid out as in a leaf) names exactly what the rule names record by
    record, over random mixes of every kind; ``_sound`` vouches for a page only when the rule finds nothing,
    and does vouch for pages of good puts, with and without tombstones among them."""
    import random

    rng = random.Random(13)
    bad_kinds = [make for make, want in ALONE.values() if want is not None]
    odd_kinds = [make for make, want in ALONE.values() if want is None]
    vouched = {False: 0, True: 0}
    for case in range(3000):
        base = rng.randrange(1, 1 << 40)
        records = [(rev_key(base + i), record(base + i)) for i in range(rng.randrange(0, 8))]
        with_tomb = rng.random() < 0.5
        if with_tomb:
            records.append((rev_key(base + 50, 0, b"t"), kv.encode(kv.KeyValue(b"/registry/t", 0, 0, 0, b""))))
        roll = rng.random()
        if roll < 0.4:
            records.append(rng.choice(bad_kinds)(base))
        elif roll < 0.6:
            records.append(rng.choice(odd_kinds)(base))
        rng.shuffle(records)
        raw = bytearray(b"\0" * rng.randrange(0, 64))
        ks, vs, ends = [], [], []
        for k, v in records:
            ks.append(len(raw))
            raw += k
            vs.append(len(raw))
            raw += v
            ends.append(len(raw))
        raw = bytes(raw)
        rule = [f"bucket key: {p}" for k, v, e in zip(ks, vs, ends) if (p := fsckmod._record_problem(raw[k:v], raw[v:e]))]
        found = fsckmod._Found()
        fsckmod._check(raw, ks, vs, ends, found)
        assert found.problems == rule and found.bad == len(rule), case
        if fsckmod._sound(raw, ks, vs, ends):
            assert rule == [], case
            vouched[with_tomb] += 1
    assert vouched[False] > 300 and vouched[True] > 300
