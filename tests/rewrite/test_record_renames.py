"""The report's ``newRecord`` of each rename is read a part of the renames at a time (``job.Placed``): every part's
answers, and a renamed key looked up outside its part, must be those of the whole map made at once (the plain path),
and the report must be the same whatever the part's size or when the whole map is made."""

import pytest

from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite import apply as applying
from snaprewrite.rewrite import job
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.cidr import CidrMap


def _planned(fixture_path, snap):
    opts = planning.Options(CidrMap.parse("192.168.0.0/16=172.24.0.0/16"), CidrMap(()))
    plan = planning.build(snap, opts)
    return plan, applying.batch(snap, plan, applying.Mode())


def test_every_part_answers_as_the_whole_map(fixture_path, monkeypatch):
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        plan, batch = _planned(fixture_path, snap)
        edits = plan.edits
        renames = [i for i, e in enumerate(edits) if e.new_key is not None]
        assert len(renames) >= 4
        placed = job.Placed(snap, batch, plan.histories, edits, renames)
        assert placed._whole is None  # (the fixture's keys read as one text each: parts)
        whole = placed.whole()
        assert any(v is not None for v in whole.values())
        others = [e.key.decode() for e in edits if e.new_key is None][:5] + ["/registry/none", "\ud800"]
        for at in range(0, len(renames), 3):
            here = placed.part(renames[at : at + 3])
            assert len(here) == len(renames[at : at + 3])
            for text in list(whole) + others:
                assert (here[text] if text in here else placed.elsewhere(text)) == whole.get(text)
        monkeypatch.setattr(job, "_one_text", lambda key: False)  # texts may repeat: the whole map at once
        again = job.Placed(snap, batch, plan.histories, edits, renames)
        assert again._whole == whole and again.part(renames[:1]) is again._whole


def test_one_text_tells_keys_that_may_read_as_another(fixture_path):
    assert job._one_text(b"/registry/ipaddresses/10.0.0.1")
    assert not job._one_text(b"/registry/ipaddresses/\\xff") and not job._one_text(b"/registry/ipaddresses/\xff")
    assert b"\\xff".decode() == b"\xff".decode("utf-8", "backslashreplace")  # (why: two keys, one text)


@pytest.mark.parametrize("size", [1, 2, 4096])
def test_the_report_is_the_same_whatever_the_parts(fixture_path, monkeypatch, size):
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        plan, batch = _planned(fixture_path, snap)
        monkeypatch.setattr(job, "_one_text", lambda key: False)
        plain = plan.report(None)
        job._record_renames(plain, snap, plan, batch)
        monkeypatch.undo()
        monkeypatch.setattr(job, "RENAMES_AT_ONCE", size)
        plan, batch = _planned(fixture_path, snap)
        parts = plan.report(None)
        job._record_renames(parts, snap, plan, batch)
    want = list(plain["changes"])
    assert sum(1 for c in want if "newRecord" in c) >= 4
    assert list(parts["changes"]) == want
