"""``mvcc.scan_index`` (whole batches of leaves at once) equals a record-by-record scan of the same bucket.

The reference below walks ``Bucket.items()`` one record at a time and decodes each user key with
``kv.key_of``: the index, the CRC, the record count, the last key, and what ``visit``, ``visit_page``,
``histories`` and the hints (where each indexed key's latest record lies) see must be the same, on
the fixtures and the real snapshot.
"""

from pathlib import Path

import crc32c
import pytest

from snaprewrite.bbolt.tree import unpack_hint
from snaprewrite.etcd import kv as kvcodec
from snaprewrite.etcd import mvcc, writes
from snaprewrite.etcd.snapshot import Snapshot

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DBS = ["k8s-etcd35.db", "k8s-etcd34.db", "cni-calico.db", "allkinds-etcd35.db", "tiny-etcd34.db"]


def reference(bucket, prefix, crc=None, marker=None, hist_prefixes=()):
    """reference is scan_index record by record: (index, crc, count, last key, visits, pages, histories, hints)."""
    index, hints, hist, visits, pages = {}, {}, {}, [], []
    h, n, last = 0, 0, None
    for pgid, run, triples in bucket.leaf_runs_at():
        if crc is not None:
            for _f, k, v in triples:
                h = crc(bytes(v), crc(bytes(k), h))
        recs = []
        for _f, k, v in triples:
            n += 1
            last = bytes(k)
            if not len(v):
                continue
            user_key = kvcodec.key_of(v)
            if marker is None or marker in bytes(v):
                visits.append((user_key, bytes(k), bytes(v)))
            recs.append((user_key, bytes(k), bytes(v)))
            if prefix is None or (prefix and not user_key.startswith(prefix)):
                continue
            if user_key in index:
                hints.pop(index[user_key], None)
            index[user_key] = bytes(k)
            hints[bytes(k)] = pgid if bucket.root == 0 else (bytes(k), bytes(v))  # inline: its leaf; else the element
            if hist_prefixes and user_key.startswith(hist_prefixes):
                hist.setdefault(user_key, []).append(bytes(k))
        pages.append((bytes(run) if run is not None else None, recs))
    return index, h, n, last, visits, pages, hist, hints


def fast(bucket, prefix, crc=None, marker=None, hist_prefixes=(), hint=True, observe=True):
    """fast is ``reference`` by ``scan_index``; without ``observe`` no observer is given (``mvcc.Column`` then makes
    only the keys under ``prefix``) and the visits and pages come back empty."""
    visits, pages = [], []
    histories = writes.Histories(hist_prefixes)
    bucket.leaf_hints.clear()
    bucket.element_hints.clear()
    index, h, n, last = mvcc.scan_index(
        bucket, prefix, None, crc, 0,
        visit=(lambda u, k, v: visits.append((u, bytes(k), bytes(v)))) if observe else None,
        visit_page=(lambda run, recs: pages.append(
            (bytes(run) if run is not None else None, [(u, bytes(k), bytes(v)) for u, k, v in recs]))) if observe else None,
        histories=histories, hint_leaves=hint, marker=marker)
    data = bucket.pf.data
    hints = {rk: (bytes(data[k:v]), bytes(data[v:e])) for rk, (k, v, e) in
             ((rk, unpack_hint(x)) for rk, x in bucket.element_hints.items())}
    assert not (hints and bucket.leaf_hints)
    return index, h, n, last, visits, pages, {k: histories.of(k) for k in histories.revkeys}, hints or dict(bucket.leaf_hints)


def paths(real_snapshot):
    return [FIXTURES / n for n in DBS] + [real_snapshot]


@pytest.mark.parametrize("prefix", [b"", None, b"/registry/services/", (b"/registry/minions/", b"/registry/configmaps/"),
                                    (b"/registry/minions/", b""),  # an empty prefix among others: every key
                                    (b"/registry/configmaps/kube-system/", b"/registry/services/specs/",
                                     b"/registry/configmaps/", b"/registry/services/specs/")])  # nested, repeated
def test_scan_equals_the_record_by_record_scan(real_snapshot, prefix):
    for path in paths(real_snapshot):
        with Snapshot(path) as snap:
            b = snap.key_bucket()
            hist = (b"/registry/services/specs/", b"/registry/ipaddresses/")
            want = reference(b, prefix, crc32c.crc32c, None, hist)
            got = fast(b, prefix, crc32c.crc32c, None, hist)
            assert got == want, path.name
            assert got[2] > 0
            # no observer: only the keys under the prefixes are made (``mvcc.Column``), the rest as the reference's
            alone = fast(b, prefix, crc32c.crc32c, None, hist, observe=False)
            assert alone == want[:4] + ([], [], *want[6:]), path.name
            # the plain index alone (no observers): the whole-batch update path
            assert mvcc.scan_index(b, prefix)[0] == want[0]


def test_marker_filters_visits_like_the_reference(real_snapshot):
    seen = 0
    for path in paths(real_snapshot):
        with Snapshot(path) as snap:
            b = snap.key_bucket()
            marker = b"kube-system"
            got = fast(b, b"", None, marker)
            want = reference(b, b"", None, marker)
            assert got[4] == want[4] and got[0] == want[0]
            seen += len(got[4])
    assert seen


def spans(records: list[bytes]):
    """spans lays values out back to back and returns (buffer, value starts, value ends)."""
    buf, vs, ends = b"", [], []
    for r in records:
        vs.append(len(buf))
        buf += r
        ends.append(len(buf))
    return buf, vs, ends


def kv(key: bytes, rest: bytes = b"\x10\x05\x18\x05 \x01*\x03abc") -> bytes:
    return kvcodec.encode(kvcodec.decode(b"\x0a" + bytes([len(key)]) + key + rest)) if len(key) < 128 else \
        b"\x0a" + bytes([len(key) & 0x7F | 0x80, len(key) >> 7]) + key + rest


@pytest.mark.parametrize("records", [
    [kv(b"/a"), kv(b"/b/c")],
    [kv(b"/a"), b"", kv(b"/b")],                       # an etcd 3.6 revision-bump marker (no value)
    [kv(b"/" + b"x" * 200), kv(b"/short")],            # a key of 128 bytes or more: two-byte length
    [kv(b"/a"), b"\x10\x05\x0a\x02/z"],                 # key not first: the plain decoder finds it
    [kv(b"/a")],                                       # one record
    [kv(b"/a"), kv(b"/b"), b""],                       # an empty value last: its first byte is past the buffer
    [b"", kv(b"/b"), kv(b"/c")],                       # an empty value whose neighbour's bytes look like a key
    [kv(b"/a"), kv(b"")],                              # an empty key
])
def test_user_keys_fast_equals_plain(records):
    buf, vs, ends = spans(records)
    plain = mvcc.user_keys_plain(memoryview(buf), vs, ends)
    assert mvcc.user_keys(buf, memoryview(buf), vs, ends) == plain
    fast = mvcc.user_keys_at(buf, vs, ends)
    if fast is not None:  # where it answers: the same keys, each where it says
        keys, starts, lens = fast
        assert keys == plain and [buf[s : s + n] for s, n in zip(starts, lens)] == keys


def test_user_keys_fast_path_answers_what_etcd_writes():
    """The whole-array path is taken for etcd's layout (else the tests above would compare the plain path with itself)."""
    for records in ([kv(b"/a"), kv(b"/b/c")], [kv(b"/a")], [kv(b"/a"), kv(b"/" + b"x" * 126)]):
        buf, vs, ends = spans(records)
        assert mvcc.user_keys_at(buf, vs, ends) is not None
    buf, vs, ends = spans([kv(b"/a"), b""])
    assert mvcc.user_keys_at(buf, vs, ends) is None  # an empty value: the plain path


def test_user_keys_bad_record_is_one_error():
    buf, vs, ends = spans([kv(b"/a"), b"\x0a\x7f/short"])  # key length runs past the record
    with pytest.raises(Exception, match="KeyValue") as e:
        mvcc.user_keys(buf, memoryview(buf), vs, ends)
    assert "\n" not in str(e.value)


def test_index_holds_every_user_key_once():
    with Snapshot(FIXTURES / "k8s-etcd35.db") as snap:
        index = mvcc.latest_index(snap)
        assert set(index) == {kvcodec.key_of(v) for _f, _k, v in snap.key_bucket().iter_raw() if len(v)}


def test_crc_only_scan_equals_the_reference(real_snapshot):
    for path in paths(real_snapshot):
        with Snapshot(path) as snap:
            b = snap.key_bucket()
            want = reference(b, None, crc32c.crc32c)
            index, h, n, last = mvcc.scan_index(b, None, None, crc32c.crc32c, 0)
            assert (index, h, n, last) == ({}, want[1], want[2], want[3]), path.name


def test_bump_marker_records_are_skipped_alike(tmp_path):
    """A rewrite with --bump-revision writes etcd 3.6's marker (a record with no value): the batch scan skips
    it as the record-by-record one does, in the index, the visits and each leaf's records."""
    from typer.testing import CliRunner

    from snaprewrite.cli import app

    out = tmp_path / "bumped.db"
    r = CliRunner().invoke(app, ["rewrite", str(FIXTURES / "k8s-etcd35.db"), "--out", str(out), "--bump-revision",
                                 "1000", "--mark-compacted", "--service-cidr", "192.168.0.0/16=172.24.0.0/16"])
    assert r.exit_code == 0, r.stderr
    with Snapshot(out) as snap:
        b = snap.key_bucket()
        assert any(not len(v) for _f, _k, v in b.iter_raw())  # the marker is there
        for prefix in (b"", b"/registry/services/"):
            assert fast(b, prefix, crc32c.crc32c) == reference(b, prefix, crc32c.crc32c)
            assert mvcc.scan_index(b, prefix)[0] == reference(b, prefix)[0]


def _keys_twice_in_a_batch(bucket) -> int:
    """_keys_twice_in_a_batch counts the batches of leaves where a user key has more than one record."""
    n = 0
    for b in bucket.leaf_batches():
        us = [u for u in mvcc.user_keys(b.raw, b.view, b.vs, b.ends) if u is not None] if b.ks else []
        n += len(set(us)) != len(us)
    return n


def test_a_key_twice_in_a_batch_keeps_its_last_record_hinted(real_snapshot):
    """The scan notes a batch's records with whole-list updates and hands the hints over at the end (the latest
    record of each key: ``index`` and the places pair up); batches where a key has two records happen on these
    snapshots, and the scan equals the record-by-record reference there too."""
    twice = 0
    for path in paths(real_snapshot):
        with Snapshot(path) as snap:
            b = snap.key_bucket()
            twice += _keys_twice_in_a_batch(b)
            assert fast(b, b"", hist_prefixes=(b"/registry/",)) == reference(b, b"", hist_prefixes=(b"/registry/",))
    assert twice


def test_a_first_record_hinted_would_differ_from_the_reference(real_snapshot):
    """Must fail: hints kept for the first record of a key in its batch (an update that let the first win) are
    not the reference's, on these snapshots: the comparison above sees a stale hint."""
    differ = 0
    for path in paths(real_snapshot):
        with Snapshot(path) as snap:
            b = snap.key_bucket()
            want = reference(b, b"")
            got = fast(b, b"")
            assert got == want
            stale = dict(got[7])
            data = b.pf.data
            for batch in b.leaf_batches():
                if not batch.ks:
                    continue
                us = mvcc.user_keys(batch.raw, batch.view, batch.vs, batch.ends)
                first: dict = {}
                last: dict = {}
                for u, k, v, e in zip(us, batch.ks, batch.vs, batch.ends):
                    if u is not None:
                        first.setdefault(u, (k, v, e))
                        last[u] = bytes(data[k:v])
                for u, (k, v, e) in first.items():  # a key twice in this batch, its last record the latest
                    if b.root != 0 and last[u] == got[0][u] != bytes(data[k:v]):
                        stale[got[0][u]] = (bytes(data[k:v]), bytes(data[v:e]))
            differ += stale != want[7]
    assert differ


K8S_PREFIXES = (b"/registry/services/specs/", b"/registry/minions/", b"/registry/ranges/", b"/registry/configmaps/",
                b"/registry/ipaddresses/", b"/coreos.com/network/", b"/registry/masterleases/")


@pytest.mark.parametrize("prefix", [K8S_PREFIXES, b"/registry/services/", (b"/registry/pods/",), (b"/a", b"/b/c")])
def test_column_picks_the_records_the_plain_path_picks(real_snapshot, prefix):
    """``Column.keys_under`` at every position it may choose gives the records (and keys) the plain path's
    ``startswith`` over every user key gives: the position only changes the cost."""
    tried = 0
    for name, b, plain, want in _batches_picked(real_snapshot, prefix):
        column = mvcc.Column(prefix)
        for at in range(len(column.tables)):
            column.at, column.batches = at, 1  # (no sample: this position)
            got = column.keys_under(b.raw, b.vs, b.ends)
            if got is None:  # not etcd's layout, or a byte past the buffer: the caller makes every key
                fast_keys = mvcc.user_keys_at(b.raw, b.vs, b.ends)
                assert fast_keys is None or max(fast_keys[1]) + at >= len(b.raw)
                continue
            tried += 1
            assert got == (want, [plain[x] for x in want]), (name, at)
    assert tried


def _batches_picked(real_snapshot, prefix):
    """_batches_picked yields (file name, leaf batch, its user keys, the records under ``prefix``) of every leaf
    batch with records in the fixtures and the real snapshot, the keys and records by the plain path."""
    for path in paths(real_snapshot):
        with Snapshot(path) as snap:
            for b in snap.key_bucket().leaf_batches():
                if not b.ks:
                    continue
                plain = mvcc.user_keys_plain(b.view, b.vs, b.ends)
                yield path.name, b, plain, [x for x, u in enumerate(plain) if u is not None and u.startswith(prefix)]


def test_column_handles_short_keys_and_odd_records():
    """Keys shorter than the position, a key equal to a prefix, a byte that matches where the rest does not,
    values not in etcd's layout (None: the caller's plain path), a gather past the buffer (None)."""
    records = [kv(b"/a"), kv(b"/b/c"), kv(b"/b"), kv(b"/x/c"), kv(b"/b/cd"), kv(b"/")]
    buf, vs, ends = spans(records)
    plain = mvcc.user_keys_plain(memoryview(buf), vs, ends)
    for prefix in ((b"/b/c", b"/a"), b"/b/", (b"/x/", b"/b/c"), b"/"):
        column = mvcc.Column(prefix)
        want = [x for x, u in enumerate(plain) if u.startswith(prefix)]
        for at in range(len(column.tables)):
            column.at, column.batches = at, 1
            assert column.keys_under(buf, vs, ends) == (want, [plain[x] for x in want]), (prefix, at)
        column.batches = 0  # and the position it chooses itself
        assert column.keys_under(buf, vs, ends) == (want, [plain[x] for x in want])
    for odd in ([kv(b"/a"), b""], [kv(b"/a"), kv(b"")], [kv(b"/" + b"x" * 200)], [kv(b"/a"), b"\x10\x05\x0a\x02/z"]):
        buf, vs, ends = spans(odd)
        assert mvcc.Column(b"/a").keys_under(buf, vs, ends) is None
    buf, vs, ends = spans([b"\x0a\x02/a"])  # a value of the key alone, ending the buffer: position 5 lies past it
    column = mvcc.Column(b"/abcdef")
    column.at, column.batches = 5, 1
    assert mvcc.user_keys_at(buf, vs, ends) is not None and column.keys_under(buf, vs, ends) is None
    column.at = 1
    assert column.keys_under(buf, vs, ends) == ([], [])


def test_a_column_missing_a_byte_would_lose_records(real_snapshot):
    """Must fail: a table without one of the prefixes' bytes at its position drops that prefix's records, and the
    comparison with the plain path above sees it."""
    lost = 0
    for _, b, _, want in _batches_picked(real_snapshot, K8S_PREFIXES):
        column = mvcc.Column(K8S_PREFIXES)
        column.at, column.batches = 10, 1
        broken = bytearray(column.tables[10])
        broken[ord("s")] = 0  # /registry/services/specs/ has an s there
        column.tables[10] = bytes(broken)
        got = column.keys_under(b.raw, b.vs, b.ends)
        lost += got is not None and got[0] != want
    assert lost
