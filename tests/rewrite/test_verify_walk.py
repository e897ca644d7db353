"""verify's fast comparison (a merge walk of both ``key`` buckets, lookups only for keys whose records differ)
gives exactly the answer of the plain one (every live key of both snapshots read and compared).

Pairs: a real rewrite in place (IPAddress renames insert tombstones, so leaves shift), one to other CIDRs,
one ``--as-new-revision`` (appended records), two unrelated snapshots, and outputs edited byte by byte in
the file (same layout, so every other leaf page is identical and skipped whole): a flipped byte in a
latest record must be reported, one in bytes no record owns must not, one in an older record only must not
(the latest records are the same).
"""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snaprewrite.bbolt import format as fmt
from snaprewrite.cli import app
from snaprewrite.etcd import diffwalk, kv, mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s.decode import decode_value
from snaprewrite.rewrite import parallel, verify

runner = CliRunner()
K8S_SERVICES = ["--service-cidr", "192.168.0.0/16=172.24.0.0/16"]
REAL = ["--service-cidr", "10.96.0.0/12=172.24.0.0/16", "--pod-cidr", "10.5.0.0/16=10.66.0.0/16"]
COREDNS = b"/registry/configmaps/kube-system/coredns"


def cli(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, (r.stdout, r.stderr)


def both(old, new, report=None, workers: int = 0) -> list[dict]:
    """both runs the fast and the plain comparison and returns their (equal) answer as JSON.

    ``workers`` > 1: the fast one decodes the differing values in that many worker processes.
    """
    renames = verify.renames(json.loads(Path(report).read_text())) if report else None
    fast = [d.as_json() for d in verify.compare(str(old), str(new), renames=renames, workers=workers)]
    plain = [d.as_json() for d in verify.compare_plain(str(old), str(new), renames=renames)]
    assert fast == plain
    return fast


@pytest.fixture(scope="module")
def outputs(fixture_path, real_snapshot, tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("walk")
    src = fixture_path("k8s-etcd35.db")
    out = {"src": src, "in_place": d / "a.db", "as_new": d / "b.db", "real": d / "r.db", "other": d / "o.db",
           "report": d / "a.json", "report_new": d / "b.json", "dir": d}
    cli("rewrite", src, "--out", out["in_place"], "--report", out["report"], *K8S_SERVICES)
    cli("rewrite", src, "--out", out["as_new"], "--report", out["report_new"], *K8S_SERVICES, "--as-new-revision")
    cli("rewrite", real_snapshot, "--out", out["real"], *REAL)
    cli("rewrite", real_snapshot, "--out", out["other"], "--service-cidr", "10.96.0.0/12=172.25.0.0/16")
    return out


def test_rewrites_compare_the_same_fast_and_plain(outputs, real_snapshot):
    src = outputs["src"]
    renamed = both(src, outputs["in_place"], outputs["report"])
    assert sum(d["how"] == "renamed" for d in renamed) == 6
    assert both(src, outputs["as_new"], outputs["report_new"]) != []
    assert both(src, outputs["in_place"]) != []  # without the report: renamed keys are added and removed
    assert both(outputs["in_place"], src) != []
    assert both(real_snapshot, outputs["real"]) != []
    assert both(outputs["real"], outputs["other"]) != []
    # the same with the values decoded in worker processes (batches of 2: several in flight)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(parallel, "BATCH", 2)
        assert both(real_snapshot, outputs["real"], workers=2) != []
        assert both(src, outputs["in_place"], outputs["report"], workers=2) == renamed
    assert both(src, src) == []


def test_rename_the_report_does_not_make_compares_the_same(outputs):
    report = json.loads(outputs["report"].read_text())
    report["changes"] = [c for c in report["changes"] if c["key"] != "/registry/ipaddresses/192.168.5.5"]
    # and one rename placed elsewhere than the output holds it
    moved = next(c for c in report["changes"] if c.get("newKey"))
    moved["newKey"] = "/registry/ipaddresses/172.24.99.99"
    cut = outputs["dir"] / "cut.json"
    cut.write_text(json.dumps(report))
    diffs = both(outputs["src"], outputs["in_place"], cut)
    assert {"added", "removed", "renamed"} <= {d["how"] for d in diffs}


def test_unrelated_snapshots_compare_the_same(outputs, real_snapshot, fixture_path):
    diffs = both(real_snapshot, outputs["src"])
    assert {"added", "removed"} <= {d["how"] for d in diffs}
    # the same cluster written by etcd 3.4 and 3.5: other files, the same records
    assert both(fixture_path("k8s-etcd34.db"), outputs["src"]) == []


def _latest_value(path, key: bytes) -> bytes:
    with Snapshot(path) as s:
        return mvcc.record_at(s, mvcc.live_keys(s, key)[key]).kv.value


def _edit_in_file(src: Path, dst: Path, record: bytes, at: int, new: bytes) -> None:
    """_edit_in_file copies ``src`` with the bytes at offset ``at`` of ``record`` replaced by ``new``.

    Every stored copy is edited (a free page may hold an earlier copy of the leaf).
    """
    data = bytearray(src.read_bytes())
    start = data.find(record)
    assert start > 0
    while start >= 0:
        data[start + at : start + at + len(new)] = new
        start = data.find(record, start + 1)
    dst.write_bytes(bytes(data))


def test_a_byte_changed_inside_a_latest_record_is_reported(outputs, real_snapshot, tmp_path):
    """MUST FAIL: the leaf holding the edited record differs from the original's, so it is compared record by record."""
    with Snapshot(real_snapshot) as s:
        rec = mvcc.record_at(s, mvcc.live_keys(s, COREDNS)[COREDNS]).kv
    stored = kv.encode(rec)
    bad = tmp_path / "flipped.db"
    _edit_in_file(real_snapshot, bad, stored, stored.index(b"lameduck 5s"), b"lameduck 6s")
    with Snapshot(real_snapshot) as a, Snapshot(bad) as b:
        assert diffwalk.differing_keys(a.key_bucket(), b.key_bucket()) == {COREDNS}
    diffs = both(real_snapshot, bad)
    assert [(d["key"], d["fields"]) for d in diffs] == [(COREDNS.decode(), ["data.Corefile"])]
    new = decode_value(_latest_value(bad, COREDNS))["data"]["Corefile"]
    assert diffs[0]["changes"][0]["new"] == new and "lameduck 6s" in new


def test_bytes_no_record_owns_and_older_records_change_nothing(real_snapshot, tmp_path):
    """A page's free space differs (the leaf is compared record by record, all equal); an older record of a key
    differs (the key is looked up on both sides, its latest record is the same): no difference either way."""
    with Snapshot(real_snapshot) as s:
        puts: dict[bytes, list] = {}
        for r in mvcc.records(s):
            if not r.tombstone and len(r.kv.value) > 64:
                puts.setdefault(r.kv.key, []).append(r.kv)
        key, hist = next((k, v) for k, v in puts.items() if len(v) >= 2)
        ps = s.pages.page_size
        slack = None
        for pgid, h, buf in s.key_bucket().leaf_pages():
            ends = [fmt.PAGE_HEADER_SIZE + i * fmt.LEAF_ELEMENT_SIZE + pos + ksize + vsize
                    for i, (_f, pos, ksize, vsize) in enumerate(fmt.LEAF_ELEMENT.iter_unpack(
                        bytes(buf[fmt.PAGE_HEADER_SIZE : fmt.PAGE_HEADER_SIZE + h.count * fmt.LEAF_ELEMENT_SIZE])))]
            if h.count and max(ends) < len(buf):
                slack = pgid * ps + len(buf) - 1  # the page's last byte, past every element's value
                break
    assert len(hist) >= 2 and slack is not None
    older = kv.encode(hist[0])
    middle = older.index(hist[0].value) + len(hist[0].value) // 2
    edited = tmp_path / "older.db"
    _edit_in_file(real_snapshot, edited, older, middle, bytes([older[middle] ^ 1]))
    with Snapshot(real_snapshot) as a, Snapshot(edited) as b:
        assert diffwalk.differing_keys(a.key_bucket(), b.key_bucket()) == {key}
    assert both(real_snapshot, edited) == []
    data = bytearray(real_snapshot.read_bytes())
    data[slack] ^= 0xFF
    free = tmp_path / "slack.db"
    free.write_bytes(bytes(data))
    with Snapshot(real_snapshot) as a, Snapshot(free) as b:
        assert diffwalk.differing_keys(a.key_bucket(), b.key_bucket()) == set()
    assert both(real_snapshot, free) == []


def test_same_file_is_one_walk_of_whole_pages(real_snapshot, tmp_path):
    copy = tmp_path / "copy.db"
    shutil.copyfile(real_snapshot, copy)
    seen = []
    with Snapshot(real_snapshot) as a, Snapshot(copy) as b:
        assert diffwalk.differing_keys(a.key_bucket(), b.key_bucket(), seen.append) == set()
        records = sum(h.count for _p, h, _b in a.key_bucket().leaf_pages())
    assert sum(seen) == records and len(seen) < records  # whole leaves skipped, not record by record


TRICKY = [
    ({"a": 1, "b": {"c": [1, 2]}}, {"a": 1.0, "b": {"c": [1, 2]}}),  # equal by ==, not the same type
    ({"s": {"x": True}}, {"s": {"x": 1}}),
    ({"n": [float("nan")]}, {"n": [float("nan")]}),  # never equal to itself
    ({"o": {"a": 1, "b": 2}}, {"o": {"b": 2, "a": 1}}),  # same content, other key order
    ({"l": [{"a": [1, {"b": None}]}, 3]}, {"l": [{"a": [1, {"b": 0}]}, 3]}),
    ({"m": {"k": "v"}, "z": 1}, {"m": {"k": "v"}, "z": 2}),
    ([1, [2, 2.0]], [1, [2, 2]]),
]


def test_value_diff_skipping_equal_parts_is_the_plain_walk(real_snapshot):
    """Skipping equal dicts and lists (same ``repr``) lists the same changes as walking them, on tricky values
    and on every pair of successive versions of each object of the real snapshot."""
    for a, b in TRICKY:
        assert verify.value_diff(a, b) == verify.value_diff_plain(a, b)
        assert verify.value_diff(b, a) == verify.value_diff_plain(b, a)
    assert verify.value_diff_plain(*TRICKY[0]) != []  # the cases do differ where == says equal
    versions: dict[bytes, list] = {}
    with Snapshot(real_snapshot) as s:
        for r in mvcc.records(s):
            if not r.tombstone:
                versions.setdefault(r.kv.key, []).append(r.kv.value)
    pairs = 0
    for values in versions.values():
        for old, new in zip(values, values[1:]):
            try:
                a, b = decode_value(old), decode_value(new)
            except Exception:  # noqa: BLE001 - not a Kubernetes object: nothing to walk
                continue
            assert verify.value_diff(a, b) == verify.value_diff_plain(a, b)
            pairs += 1
    assert pairs > 50


def test_report_entries_parsed_and_packed_are_the_reports(outputs, tmp_path, monkeypatch):
    """The report's changes as Listed tuples, and packed while snapshots are compared, give the same Expected."""
    from snaprewrite.errors import SnapshotError
    from snaprewrite.rewrite import job

    rep = job.read_report(str(outputs["report"]))
    assert all(isinstance(c, verify.Listed) for c in rep["changes"]) and len(rep["changes"]) > 6
    plain = verify.Expected.of(json.loads(outputs["report"].read_text()))
    assert verify.Expected.of(rep) == plain
    monkeypatch.setattr(verify.Packed, "CHUNK", 3)  # several chunks
    packed = verify.Packed(rep)
    assert len(packed.chunks) > 2 and packed.unpack() == plain
    bad = json.loads(outputs["report"].read_text())
    bad["changes"][0]["newKey"] = None  # not a string: not a report entry
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(SnapshotError, match="not a snaprewrite rewrite report"):
        job.read_report(str(tmp_path / "bad.json"))


def test_the_report_read_in_chunks_is_json_loads(outputs, tmp_path, monkeypatch):
    """read_report streams the text (chunks of 5 characters here): json.loads' report, entries as Listed;
    entries given to a callback instead arrive in order; what is not a report is refused alike."""
    from snaprewrite import jsontext
    from snaprewrite.errors import SnapshotError
    from snaprewrite.rewrite import job

    monkeypatch.setattr(jsontext._Reader, "CHUNK", 5)
    text = outputs["report"].read_text()
    want = json.loads(text, object_hook=verify.listed_or_dict)
    assert job.read_report(str(outputs["report"])) == want
    seen = []
    rep = job.read_report(str(outputs["report"]), seen.append)
    assert seen == want["changes"] and rep == dict(want, changes=[])
    packed = verify.Packed()
    for c in seen:
        packed.add(c)
    packed.finish(rep)
    assert packed.unpack() == verify.Expected.of(want) and verify.renames(want)
    (tmp_path / "utf16.json").write_text(text, encoding="utf-16")  # json.loads(bytes) reads UTF-16 too
    assert job.read_report(str(tmp_path / "utf16.json")) == want
    for name, body in (("list.json", "[1]"), ("nochanges.json", '{"input": {}}'), ("null.json", '{"changes": null}'),
                       ("cut.json", text[: len(text) // 2]), ("empty.json", "")):
        (tmp_path / name).write_text(body)
        with pytest.raises(SnapshotError, match="not a snaprewrite rewrite report|cannot read the report"):
            job.read_report(str(tmp_path / name))


def test_streamed_json_is_the_text_json_dumps_writes(outputs, capsys):
    """report.print_json converts each Difference as it writes: the text is json.dumps' of the converted dicts."""
    from snaprewrite import report

    diffs = verify.compare(str(outputs["src"]), str(outputs["in_place"]))
    data = {"a": 1, "differences": diffs, "uncovered": ["x \u00e9", "y"], "empty": [], "none": None}
    report.print_json(data)
    want = json.dumps(dict(data, differences=[d.as_json() for d in diffs]), indent=2, ensure_ascii=False) + "\n"
    assert capsys.readouterr().out == want and len(diffs) > 6


def test_packed_differences_are_the_plain_list(outputs, real_snapshot):
    """compare's Differences (packed, made again when read) equal compare_plain's list field for field
    (the records' metadata too), read whole, by index, by slice and chunk after chunk."""
    renames = verify.renames(json.loads(outputs["report"].read_text()))
    for old, new, ren in ((outputs["src"], outputs["in_place"], renames), (real_snapshot, outputs["real"], None),
                          (outputs["src"], outputs["as_new"], None)):
        fast = verify.compare(str(old), str(new), renames=ren)
        plain = verify.compare_plain(str(old), str(new), renames=ren)
        assert isinstance(fast, verify.Differences) and isinstance(plain, list) and len(plain) > 6
        assert fast == plain and list(fast) == plain and all(d.old_kv or d.new_kv for d in fast)
        assert fast[0] == plain[0] and fast[-1] == plain[-1] and fast[2:5] == plain[2:5]
        with pytest.MonkeyPatch.context() as mp:  # chunks of 3: every read crosses chunk boundaries
            mp.setattr(verify.Differences, "CHUNK", 3)
            small = verify.Differences.of(plain)
            assert list(small) == plain and small[len(plain) - 1] == plain[-1] and small[1:7] == plain[1:7]
        assert verify.uncovered(fast, json.loads(outputs["report"].read_text())) == verify.uncovered(
            plain, json.loads(outputs["report"].read_text()))
    assert verify.Differences.of([]) == [] and not verify.Differences.of([])


@pytest.mark.parametrize("chunk, budget", [(16384, 4), (3, 4), (2, 0)])
def test_uncovered_from_the_packed_report_is_the_plain_ones(outputs, monkeypatch, chunk, budget):
    """uncovered over the report kept packed (expected.Lookup: a chunk or two open, an index of keys) gives the
    plain Expected's lines, for reports as written and edited (entries dropped, changed, reordered, repeated),
    chunks of 3 entries, and when chunks open too often and everything is unpacked at once (budget 0)."""
    monkeypatch.setattr(verify.Packed, "CHUNK", chunk)
    monkeypatch.setattr(verify.Lookup, "BUDGET", budget)
    src = outputs["src"]
    base = json.loads(outputs["report"].read_text())
    cut = dict(base, changes=base["changes"][3:])
    wrong = json.loads(outputs["report"].read_text())
    wrong["changes"][1]["new"] = "10.0.0.99"
    wrong["changes"].append(dict(wrong["changes"][0], field="spec.notThere"))  # the same key again, far away
    backwards = dict(base, changes=base["changes"][::-1])
    extra = dict(base, changes=base["changes"] + [{"key": "/registry/none/x", "field": "f", "old": "a", "new": "b"}])
    renames = verify.renames(base)
    diffs = verify.compare(str(src), str(outputs["in_place"]), renames=renames)
    new_rep = json.loads(outputs["report_new"].read_text())
    lines = []
    for rep, d in ((base, diffs), (cut, diffs), (wrong, diffs), (backwards, diffs), (extra, diffs),
                   (new_rep, verify.compare(str(src), str(outputs["as_new"]), renames=verify.renames(new_rep)))):
        plain = verify.uncovered(d, json.loads(json.dumps(rep)))
        assert verify.uncovered(d, verify.Packed(rep)) == plain
        lines.append(plain)
    assert [bool(x) for x in lines] == [False, True, True, False, True, False]  # reordered still holds; edits do not


def test_compact_latest_index_is_latest_of(outputs, real_snapshot):
    """diffwalk.Latest (two flat arrays per side) reads as mvcc.latest_index restricted to its keys, without
    tombstones, and notes for each key the leaf that holds its record; keys with no record or deleted last are
    not in it."""
    with Snapshot(str(outputs["real"])) as snap:
        bucket = snap.key_bucket()
        every = mvcc.latest_index(snap)
        deleted = [k for k, rk in every.items() if mvcc.is_tombstone(rk)]
        keys = set(list(every)[::3]) | set(deleted[:50]) | {b"/registry/no/such/key"}
        slots = {k: i for i, k in enumerate(keys)}
        compact = diffwalk.latest_compact(bucket, slots)
        want = {k: rk for k, rk in every.items() if k in keys and not mvcc.is_tombstone(rk)}
        leaf_of = {k.tobytes(): pgid for pgid, _run, pairs in bucket.leaf_runs_at() for _f, k, _v in pairs}
        assert deleted and {k: compact[k] for k in compact} == want
        assert len(compact) == len(want) and b"/registry/no/such/key" not in compact
        assert all(k not in compact for k in deleted[:50])
        for k in list(want)[:200]:
            assert compact.leaf(k) == leaf_of[want[k]]
            assert verify._record(snap, compact, k) == mvcc.record_at(snap, want[k]).kv


def test_differences_come_in_key_order(outputs):
    """compare packs each Difference as it completes, in an order fixed before reading: by source key, then how
    (what sorting every Difference at the end gave)."""
    report = json.loads(Path(outputs["report"]).read_text())
    for old, new, renames in ((outputs["src"], outputs["in_place"], verify.renames(report)),
                              (outputs["src"], outputs["other"], None)):
        got = [(d.key, d.how) for d in verify.compare(str(old), str(new), renames=renames)]
        assert got and got == sorted(got)


def test_keys_streamed_to_a_dict_are_the_set(outputs):
    """differing_keys(add=) hands each key to the caller's dict as found: the same keys as the set it returns."""
    for old, new in ((outputs["src"], outputs["in_place"]), (outputs["src"], outputs["other"])):
        with Snapshot(str(old)) as a, Snapshot(str(new)) as b:
            want = diffwalk.differing_keys(a.key_bucket(), b.key_bucket())
            got: dict = {}
            assert diffwalk.differing_keys(a.key_bucket(), b.key_bucket(), None, got.setdefault) is None
        assert want and set(got) == want


def test_order_over_compact_indexes_is_the_plain_order(outputs):
    """_ordered (the keys sorted once, each one's events made as it comes) yields _order's list (every event made,
    then sorted by source and how), over both sides' diffwalk.Latest as compare reads them."""
    report = json.loads(Path(outputs["report"]).read_text())
    renames = verify.renames(report)
    renamed_from = {n: o for o, n in renames.items()}
    with Snapshot(str(outputs["src"])) as a, Snapshot(str(outputs["in_place"])) as b:
        slots = dict.fromkeys(renames)
        slots.update(dict.fromkeys(renamed_from))
        diffwalk.differing_keys(a.key_bucket(), b.key_bucket(), None, slots.setdefault)
        slots[b"/registry/no/such/key"] = None
        for i, k in enumerate(slots):
            slots[k] = i
        la, lb = diffwalk.latest_compact(a.key_bucket(), slots), diffwalk.latest_compact(b.key_bucket(), slots)
        plain_a, plain_b = {k: la[k] for k in la}, {k: lb[k] for k in lb}
    got = list(verify._ordered(sorted(slots), la, lb, renames, renamed_from))
    assert got == verify._order(plain_a, plain_b, renames, renamed_from)
    assert {how for _s, how, _k in got} >= {"renamed", "changed"}
    with Snapshot(str(outputs["src"])) as a, Snapshot(str(outputs["in_place"])) as b:  # as compare: over Slots
        numbered = diffwalk.Slots(set(slots))
        sa, sb = diffwalk.latest_compact(a.key_bucket(), numbered), diffwalk.latest_compact(b.key_bucket(), numbered)
    assert list(verify._ordered(numbered.keys, sa, sb, renames, renamed_from)) == got  # slot i is key i
    moved = next(iter(renames))
    del plain_a[moved]  # the renamed key gone from a: its new key is added instead (the check can fail)
    assert list(verify._ordered(sorted(slots), plain_a, plain_b, renames, renamed_from)) != got


@pytest.mark.parametrize("case", range(300))
def test_ordered_is_order_on_every_kind_of_pair(case):
    """Small random pairs with every corner: renames to itself, two keys renamed to one, a key renamed away that b
    also holds, a rename whose source a lacks or whose target b lacks, keys only one side holds."""
    import random

    rnd = random.Random(case)
    names = [b"k%d" % i for i in range(8)]
    la = {k: b"r" for k in names if rnd.random() < 0.6}
    lb = {k: b"r" for k in names if rnd.random() < 0.6}
    renames = {rnd.choice(names): rnd.choice(names) for _ in range(rnd.randrange(5))}
    renamed_from = {n: o for o, n in renames.items()}
    want = verify._order(la, lb, renames, renamed_from)
    assert list(verify._ordered(sorted(set(la) | set(lb) | {b"none"}), la, lb, renames, renamed_from)) == want


def test_slots_are_a_dict_of_sorted_places(outputs):
    """diffwalk.Slots (a set and a sorted list, no dict of numbers) reads as {key: place in sorted order}; a
    Latest over it reads as one over that dict."""
    import random

    rnd = random.Random(3)
    keys = {rnd.randbytes(rnd.randrange(1, 12)) for _ in range(2000)}
    slots = diffwalk.Slots(set(keys))
    want = {k: i for i, k in enumerate(sorted(keys))}
    assert dict(slots.items()) == want and len(slots) == len(want) and list(slots) == sorted(keys)
    assert all(slots[k] == i and slots.get(k) == i and k in slots for k, i in want.items())
    missing = next(k for k in (rnd.randbytes(5) for _ in range(100)) if k not in keys)
    assert slots.get(missing) is None and missing not in slots
    with pytest.raises(KeyError):
        slots[missing]  # a key not numbered must fail, not take a neighbour's place
    slots.release_members()  # the set gone, the search alone answers the same
    assert all(slots[k] == i and slots.get(k) == i and k in slots for k, i in want.items())
    assert slots.get(missing) is None and missing not in slots and slots.get(b"\xff" * 20) is None
    with pytest.raises(KeyError):
        slots[missing]
    with Snapshot(str(outputs["real"])) as snap:
        bucket = snap.key_bucket()
        some = set(list(mvcc.latest_index(snap))[::4]) | {b"/registry/no/such/key"}
        by_set = diffwalk.latest_compact(bucket, diffwalk.Slots(set(some)))
        by_dict = diffwalk.latest_compact(bucket, {k: i for i, k in enumerate(some)})
        assert {k: by_set[k] for k in by_set} == {k: by_dict[k] for k in by_dict} != {}
        assert all(by_set.leaf(k) == by_dict.leaf(k) for k in by_dict)
