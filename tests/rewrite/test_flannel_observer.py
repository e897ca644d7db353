"""flannel's etcd-key observer (``rules.flannel.EtcdKeys``) finds the same keys a batch or a leaf at a time, and
through the forked child's answer (``rewrite.aside.Aside``: ``export``/``absorb``), as record by record.

Record by record (``visit``, the scan skipping the known roots) is the plain path: encrypted values keep it.
The planning pass hands the observer to the forked child with the leftovers' search, so the pass itself has no
observer left and makes only the user keys under the rules' prefixes (``etcd.mvcc.Column``).
"""

import tempfile
from pathlib import Path

import pytest

from snaprewrite import spill
from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s.layout import detect
from snaprewrite.rewrite import facts
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.cidr import CidrMap
from snaprewrite.rewrite.parallel import cpus
from snaprewrite.rewrite.rules import flannel

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DBS = ["cni-flannel.db", "basic-etcd35.db", "k8s-etcd35.db", "tiny-etcd34.db"]
POD = CidrMap.parse(["10.244.0.0/16=10.66.0.0/16"])


def found(o: flannel.EtcdKeys) -> tuple[dict, dict]:
    return dict(o.keys), {k: list(v) for k, v in o.history.items()}


def plain(bucket) -> flannel.EtcdKeys:
    o = flannel.EtcdKeys()
    mvcc.scan_index(bucket, None, visit=o.visit, visit_skip=o.skip)
    return o


def test_batches_leaves_and_the_childs_answer_find_what_records_do(real_snapshot):
    keys = 0
    for path in [FIXTURES / n for n in DBS] + [real_snapshot]:
        with Snapshot(path) as snap:
            b = snap.key_bucket()
            want = found(plain(b))
            batch, page = flannel.EtcdKeys(), flannel.EtcdKeys()
            mvcc.scan_index(b, None, visit_batch=batch.visit_batch)
            mvcc.scan_index(b, None, visit_page=page.visit_page)
            assert found(batch) == want == found(page), path.name
            answer = batch.export()
            inline, filed = flannel.EtcdKeys(), flannel.EtcdKeys()
            inline.absorb(memoryview(answer))  # the child's answer as a buffer, or in the file it wrote
            with tempfile.TemporaryFile(buffering=0) as f:
                f.write(b"xx" + answer)
                filed.absorb(spill.Part(f, 2, len(answer)))
            assert found(inline) == want == found(filed), path.name
            keys += len(want[0])
    assert keys >= 4  # cni-flannel.db's /coreos.com/network/config and subnets


def test_a_batch_visit_that_trusts_the_first_key_would_miss_flannels(real_snapshot):
    """Must fail: deciding a batch by its first record's key (all under the roots if that one is) loses the
    flannel keys that share a batch with Kubernetes objects, and the comparison above sees it."""
    with Snapshot(FIXTURES / "cni-flannel.db") as snap:
        b = snap.key_bucket()
        want = found(plain(b))
        lazy = flannel.EtcdKeys()

        def first_only(batch, ukeys):
            if ukeys and ukeys[0] is not None and ukeys[0].startswith(lazy.skip):
                return
            lazy.visit_batch(batch, ukeys)

        mvcc.scan_index(b, None, visit_batch=first_only)
        assert want[0] and found(lazy) != want


def _scan(path, pod: CidrMap, monkeypatch, fork: bool):
    if not fork:
        monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    else:
        monkeypatch.delenv("SNAPREWRITE_NO_FORK", raising=False)
    opts = planning.Options(CidrMap(()), pod)
    with Snapshot(path) as snap:
        lay = detect(snap)
        sc = planning.scan(snap, opts, None, lay, also=facts.indexed(lay))
        try:
            aside = sc.aside is not None and "flannel" in sc.aside.observers
            if sc.aside is not None:
                sc.aside.settle()
            return found(sc.observers["flannel"]), aside
        finally:
            if sc.aside is not None:
                sc.aside.close()
            sc.close_begun()


@pytest.mark.skipif(cpus() < planning.ASIDE_CORES, reason="the child's pass needs two cores")
def test_the_planning_pass_finds_the_same_flannel_keys_in_the_child(monkeypatch):
    forked, aside = _scan(FIXTURES / "cni-flannel.db", POD, monkeypatch, True)
    alone, no_child = _scan(FIXTURES / "cni-flannel.db", POD, monkeypatch, False)
    assert aside and not no_child  # the child found them in one case, this process in the other
    assert forked == alone and forked[0]


@pytest.mark.skipif(cpus() < planning.ASIDE_CORES, reason="the child's pass needs two cores")
def test_flannel_alone_forks_no_child(monkeypatch):
    """A pod mapping that moves nothing has no leftovers' search: flannel's observer only rides along, so the pass
    keeps it here; it must fail when the observer would make a child's pass of its own."""
    noop = CidrMap.parse(["10.244.0.0/16=10.244.0.0/16"])
    keys, aside = _scan(FIXTURES / "cni-flannel.db", noop, monkeypatch, True)
    assert not aside and keys[0]
    monkeypatch.setattr(flannel.EtcdKeys, "rides", False)
    assert _scan(FIXTURES / "cni-flannel.db", noop, monkeypatch, True)[1]
