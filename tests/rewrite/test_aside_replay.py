"""The forked leftovers' search replays the planner's scan (``aside.Recorder``/``replay``) instead of walking bucket ``key``.

The plain path is ``aside.paged_pass`` (the walk the child made before, and the one the single process makes):
the replayed search must leave the observer exactly as it does, on every fixture and on a snapshot with etcd
3.6's revision-bump markers (records without a value). A child that cannot replay (a broken or cut recording)
walks, or its search is made again here: the same warnings either way.
"""

import ipaddress
import os
import time
from pathlib import Path

import pytest
from test_one_scan import _absorbed, _warnings
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite import aside
from snaprewrite.rewrite.rules import leftovers

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NETS = [ipaddress.ip_network(n) for n in ("10.96.0.0/12", "fd00:10:96::/108", "10.244.0.0/16", "fd00:10:244::/56",
                                           "10.128.0.0/12", "192.168.0.0/16")]


def _recorded(snap) -> aside.Recorder:
    """_recorded is a ``Recorder`` of the planner's kind of scan (an index of some keys, every record visited)."""
    rec = aside.Recorder(snap)
    assert rec.usable
    mvcc.scan_index(snap.key_bucket(), (b"/registry/services/",), leaves=rec.note)
    return rec


def _both(path: Path) -> tuple[bytes, bytes]:
    """_both is the observer's answer (``export``) after the walk (``paged_pass``) and after a replay of the scan."""
    walked, replayed = leftovers.Mentions(NETS), leftovers.Mentions(NETS)
    with Snapshot(path) as snap:
        aside.paged_pass(snap, {"leftovers": walked})
        rec = _recorded(snap)
        try:
            assert rec.finish() and rec.at > 8
            aside.replay(snap, {"leftovers": replayed}, rec.file.fileno())
        finally:
            rec.close()
    return walked.export(), replayed.export()


@pytest.mark.parametrize("name", ["k8s-etcd35.db", "k8s-etcd34.db", "apiserver-etcd35.db", "allkinds-etcd35.db",
                                  "cni-calico.db", "cni-cilium.db"])
def test_a_replayed_scan_finds_what_the_walk_finds(name):
    walked, replayed = _both(FIXTURES / name)
    assert replayed == walked


def test_the_fixtures_mention_the_nets():
    """The comparison above is not between two empty answers."""
    walked, _ = _both(FIXTURES / "k8s-etcd35.db")
    assert len(leftovers.SortedKeys.from_bytes(walked)) > 0


def test_a_replay_with_bump_markers_finds_what_the_walk_finds(tmp_path):
    """etcd 3.6's revision-bump markers have no value and no user key: replayed as the walk sees them."""
    out = tmp_path / "bumped.db"
    r = CliRunner().invoke(app, ["rewrite", str(FIXTURES / "k8s-etcd35.db"), "--out", str(out), "--bump-revision",
                                 "1000", "--mark-compacted", "--service-cidr", "192.168.0.0/16=172.24.0.0/16"])
    assert r.exit_code == 0, r.stderr
    with Snapshot(out) as snap:
        assert any(not len(v) for _f, _k, v in snap.key_bucket().iter_raw())  # the marker is there
    walked, replayed = _both(out)
    assert replayed == walked and len(leftovers.SortedKeys.from_bytes(walked)) > 0


def test_a_recording_cut_short_is_refused():
    """Must fail if ``replay`` took a recording without its end (the scan not over) for a whole one."""
    with Snapshot(FIXTURES / "k8s-etcd35.db") as snap:
        rec = _recorded(snap)
        try:
            with pytest.raises(ValueError, match="cut short"):
                aside.replay(snap, {"leftovers": leftovers.Mentions(NETS)}, rec.file.fileno())
        finally:
            rec.close()


def _walk_only_here(monkeypatch) -> None:
    """A child that walks (``paged_pass``) fails: its search is then made again here (no answer absorbed)."""
    parent, real = os.getpid(), aside.paged_pass

    def paged_pass(snap, observers):
        if os.getpid() != parent:
            raise RuntimeError("the child walked")
        real(snap, observers)

    monkeypatch.setattr(aside, "paged_pass", paged_pass)


def test_the_forked_search_follows_the_scan(fixture_path, monkeypatch):
    """Must fail if the child walks bucket ``key`` itself: it answers from the planner's recording as the scan
    writes it (here slowly: the child catches up and waits), with the one pass's warnings."""
    want, want_keys = _warnings(fixture_path("k8s-etcd35.db"), monkeypatch, no_fork=True)
    got = _absorbed(monkeypatch)
    _walk_only_here(monkeypatch)
    real = aside.Recorder.note

    def slow(self, b):
        time.sleep(0.005)
        real(self, b)

    monkeypatch.setattr(aside.Recorder, "note", slow)
    warnings, keys = _warnings(fixture_path("k8s-etcd35.db"), monkeypatch, no_fork=False)
    assert len(got) == 1  # the child's answer was used
    assert warnings == want and keys == want_keys


def test_a_broken_recording_is_searched_again_here(fixture_path, monkeypatch):
    """A recording that could not be written (a full disk) ends the child: the search is made here, the same warnings."""
    want, want_keys = _warnings(fixture_path("k8s-etcd35.db"), monkeypatch, no_fork=True)
    got = _absorbed(monkeypatch)

    def full(self, parts, size):
        self.broken = True

    monkeypatch.setattr(aside.Recorder, "_append", full)
    warnings, keys = _warnings(fixture_path("k8s-etcd35.db"), monkeypatch, no_fork=False)
    assert got == [] and warnings == want and keys == want_keys


def test_an_inline_bucket_is_walked_by_the_child(fixture_path, monkeypatch):
    """With no recording (a bucket in its parent's page) the child walks the bucket, as it did before."""
    want, want_keys = _warnings(fixture_path("k8s-etcd35.db"), monkeypatch, no_fork=True)
    got = _absorbed(monkeypatch)
    real = aside.Recorder.__init__

    def inline(self, snap):
        real(self, snap)
        self.close()
        self.usable = False

    monkeypatch.setattr(aside.Recorder, "__init__", inline)
    warnings, keys = _warnings(fixture_path("k8s-etcd35.db"), monkeypatch, no_fork=False)
    assert len(got) == 1 and warnings == want and keys == want_keys


def test_leaves_sees_every_batch_with_records_before_its_keys():
    """``mvcc.scan_index``'s ``leaves`` sees each walked batch that has records, as ``leaf_batches`` gives it, and the
    index is the one made without it."""
    with Snapshot(FIXTURES / "k8s-etcd35.db") as snap:
        bucket = snap.key_bucket()
        seen = []
        index = mvcc.scan_index(bucket, (b"/registry/services/",), leaves=lambda b: seen.append((b.ks, b.vs, b.ends)))[0]
        walked = [(b.ks, b.vs, b.ends) for b in bucket.leaf_batches() if b.ks]
        assert seen == walked and seen
        assert index == mvcc.scan_index(bucket, (b"/registry/services/",))[0]
