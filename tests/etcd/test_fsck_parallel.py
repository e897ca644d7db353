"""The post-write check with its structure half in a forked child (``fsck(..., parallel=True)``).

It must answer exactly what the serial check answers: nothing on a sound snapshot, the same problem list
(or the same error) on a broken structure or a broken record; and a rewrite whose output is broken
either way must still be refused, leaving nothing behind.
"""

import os
import shutil
from pathlib import Path

import pytest

from snaprewrite.bbolt import format as fmt
from snaprewrite.bbolt.writer import Transaction
from snaprewrite.errors import CorruptError, SnapshotError
from snaprewrite.etcd import kv, mvcc, revision, schema, writes
from snaprewrite.etcd.fsck import fsck
from snaprewrite.etcd.output import write_patched
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite import apply as applying
from snaprewrite.rewrite import job

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SNAP = FIXTURES / "k8s-etcd35.db"


def both(path) -> tuple:
    """both is (serial answer, parallel answer); an answer is the problem list or ("raised", type, message)."""
    out = []
    for parallel in (False, True):
        with Snapshot(path) as snap:
            try:
                out.append(fsck(snap, parallel=parallel))
            except SnapshotError as e:
                out.append(("raised", type(e), str(e)))
    return tuple(out)


def leaf_pgids(path) -> list[int]:
    with Snapshot(path) as snap:
        return [pgid for pgid, _h, _b in snap.key_bucket().leaf_pages() if pgid]


def poke(path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def test_a_sound_snapshot_is_sound_both_ways():
    assert both(SNAP) == ([], [])


def test_a_bad_record_is_found_both_ways(tmp_path):
    bad = tmp_path / "bad.db"
    with Snapshot(SNAP) as snap:
        main = mvcc.current_revision(snap) + 1
        tx = Transaction(snap.pages)
        record = kv.KeyValue(b"/registry/bad", main, main + 5, 1, b"x")  # mod_revision is not the key's revision
        tx.put((schema.KEY,), revision.encode(revision.Revision(main, 0)), kv.encode(record))
        patch = tx.commit()
        write_patched(snap, patch.copy_length, list(patch.overwrites), patch.append, str(bad))
    serial, parallel = both(bad)
    assert serial == parallel == [f"bucket key: record at revision {main}: mod_revision {main + 5}"]


@pytest.mark.parametrize("field", ["flags", "id"])
def test_a_broken_page_is_found_both_ways(tmp_path, field):
    broken = tmp_path / "broken.db"
    shutil.copy(SNAP, broken)
    with Snapshot(SNAP) as snap:
        page_size = snap.pages.page_size
    pgid = leaf_pgids(SNAP)[-1]
    if field == "flags":  # a leaf that claims to be a freelist page: a problem in the list
        poke(broken, pgid * page_size + 8, fmt.PAGE_HEADER.pack(pgid, 0x10, 0, 0)[8:10])
    else:  # a header naming another page
        poke(broken, pgid * page_size, (pgid + 1).to_bytes(8, "little"))
    serial, parallel = both(broken)
    assert serial == parallel
    assert serial  # must fail
    assert f"page {pgid}" in serial[0]


def request(tmp_path) -> job.Request:
    return job.Request(str(SNAP), str(tmp_path / "out.db"), ["192.168.0.0/16=172.24.0.0/16"],
                       ["10.244.0.0/16=10.55.0.0/16"], [], report=str(tmp_path / "r.json"))


def test_a_rewrite_writing_a_bad_record_is_refused(tmp_path, monkeypatch):
    real_ops = writes.Batch.ops

    def ops(self):
        for i, (k, v) in enumerate(real_ops(self)):
            if i == 0 and v is not None:
                rec = kv.decode(v)
                v = kv.encode(kv.KeyValue(rec.key, rec.create_revision, rec.mod_revision + 1, rec.version,
                                          rec.value, rec.lease))
            yield k, v

    monkeypatch.setattr(writes.Batch, "ops", ops)
    with pytest.raises(CorruptError, match="output failed the check: bucket key: record at revision"):
        job.run(request(tmp_path))
    assert os.listdir(tmp_path) == []


def test_a_rewrite_whose_output_pages_break_is_refused(tmp_path, monkeypatch):
    real_verify = applying.verify_file

    def corrupt_then_verify(path):
        with Snapshot(path) as out:
            page_size = out.pages.page_size
            pgid = [p for p, _h, _b in out.key_bucket().leaf_pages() if p][-1]
        poke(path, pgid * page_size + 8, fmt.PAGE_HEADER.pack(pgid, 0x10, 0, 0)[8:10])
        real_verify(path)

    monkeypatch.setattr(applying, "verify_file", corrupt_then_verify)
    with pytest.raises(CorruptError, match="output failed the check: page"):
        job.run(request(tmp_path))
    assert os.listdir(tmp_path) == []


def test_a_records_crash_is_hidden_only_behind_a_broken_structure(monkeypatch):
    """The serial check never reads records under a broken structure: the parallel one drops what they did."""
    from snaprewrite.etcd import fsck as fsckmod

    def crash(snap, progress):
        raise ValueError("records crashed")

    monkeypatch.setattr(fsckmod, "_records", crash)
    with Snapshot(SNAP) as snap:
        with pytest.raises(ValueError, match="records crashed"):
            fsck(snap, parallel=True)
        monkeypatch.setattr(fsckmod, "check_pages", lambda pf, n, leaves=None: ["page 7: injected"])
        assert fsck(snap, parallel=True) == fsck(snap, parallel=False) == ["page 7: injected"]


def bad_record_in_place(path, copied: bool) -> int:
    """bad_record_in_place gives one record of a leaf of ``path`` a wrong mod_revision (same length, in place):
    in a leaf the rewrite copied from the input (below its high-water mark) or in one it wrote. Returns its revision."""
    with Snapshot(SNAP) as snap:
        kept = snap.pages.meta.pgid
    with Snapshot(path) as out:
        for pgid, raw, _view, _flags, ks, vs, ends, _first in out.key_bucket().leaf_spans():
            if not pgid or (pgid < kept) != copied:
                continue
            for k, v, e in zip(ks, vs, ends):
                rec = kv.decode(raw[v:e])
                if len(raw[k:v]) == 17 and rec.mod_revision > 1:
                    wrong = kv.encode(kv.KeyValue(rec.key, rec.create_revision, rec.mod_revision ^ 1, rec.version,
                                                  rec.value, rec.lease))
                    if len(wrong) == e - v:
                        break
            else:
                continue
            break
        else:
            raise AssertionError("no record to damage")
    poke(path, v, wrong)
    return rec.mod_revision


@pytest.mark.parametrize("no_fork", [False, True])
@pytest.mark.parametrize("copied", [True, False])
def test_a_rewrite_whose_output_has_a_bad_record_is_refused(tmp_path, monkeypatch, copied, no_fork):
    """MUST FAIL: a record damaged after the write, in a leaf copied from the input or in one the rewrite wrote,
    is found by the check (on two cores, and with SNAPREWRITE_NO_FORK on one): nothing is published."""
    if no_fork:
        monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    real_verify = applying.verify_file
    damaged = []

    def corrupt_then_verify(path):
        damaged.append(bad_record_in_place(path, copied))
        real_verify(path)

    monkeypatch.setattr(applying, "verify_file", corrupt_then_verify)
    with pytest.raises(CorruptError) as e:
        job.run(request(tmp_path))
    main = damaged[0]
    assert str(e.value) == (f"output failed the check: bucket key: record at revision {main}: "
                            f"mod_revision {main ^ 1} (1 problems)")
    assert os.listdir(tmp_path) == []


def leaf_to_break(path, copied: bool) -> tuple[int, int, int]:
    """leaf_to_break is (pgid, page size, element count) of a leaf of bucket key with records in ``path``: one the
    rewrite copied from the input (below its high-water mark) or one it wrote."""
    with Snapshot(SNAP) as snap:
        kept = snap.pages.meta.pgid
    with Snapshot(path) as out:
        for pgid, header, _image in out.key_bucket().leaf_pages():
            if pgid and (pgid < kept) == copied and header.count >= 2:
                return pgid, out.pages.page_size, header.count
    raise AssertionError("no leaf to break")


@pytest.mark.parametrize("no_fork", [False, True])
@pytest.mark.parametrize("copied", [True, False])
@pytest.mark.parametrize("damage", ["outside", "order"])
def test_a_rewrite_whose_output_leaf_elements_break_is_refused(tmp_path, monkeypatch, copied, no_fork, damage):
    """MUST FAIL: a leaf of bucket key broken after the write (an element pointing past its page, or its keys out
    of order), in a leaf copied from the input or in one the rewrite wrote, on two cores or one, is found by
    the structure check naming that page: nothing is published."""
    if no_fork:
        monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    real_verify = applying.verify_file
    broken = []

    def corrupt_then_verify(path):
        pgid, page_size, count = leaf_to_break(path, copied)
        at = pgid * page_size + fmt.PAGE_HEADER_SIZE  # element 0: flags, pos, ksize, vsize
        with open(path, "r+b") as f:
            f.seek(at)
            flags, pos, ksize, vsize = fmt.LEAF_ELEMENT.unpack(f.read(fmt.LEAF_ELEMENT_SIZE))
            if damage == "outside":
                pos = page_size * 64  # the element's key now lies far past its page
            else:  # element 0 takes element 1's key: not below the next one
                f.seek(at + fmt.LEAF_ELEMENT_SIZE)
                _f1, pos1, ksize1, _v1 = fmt.LEAF_ELEMENT.unpack(f.read(fmt.LEAF_ELEMENT_SIZE))
                pos, ksize = pos1 + fmt.LEAF_ELEMENT_SIZE, ksize1  # (pos counts from the element itself)
            f.seek(at)
            f.write(fmt.LEAF_ELEMENT.pack(flags, pos, ksize, vsize))
        broken.append(pgid)
        real_verify(path)

    monkeypatch.setattr(applying, "verify_file", corrupt_then_verify)
    with pytest.raises(CorruptError) as e:
        job.run(request(tmp_path))
    problem = ("leaf element points outside its page" if damage == "outside"
               else "element 1: key not greater than the previous one")
    assert str(e.value) == f"output failed the check: page {broken[0]}: {problem} (1 problems)"
    assert os.listdir(tmp_path) == []
