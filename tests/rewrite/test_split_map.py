"""``parallel.split_map`` (a rule's loop on two cores) gives what the plain loop gives, errors included.

The child computes the last items and sends them back pickled; a child that raises or dies costs
only time (its items are computed again here, so the error is raised here at the same item). The
IPAddress rule decided half in a child plans the same renames, byte for byte, as with
``SNAPREWRITE_NO_FORK``. A loop whose decisions depend on the process they run in is caught.
"""

import os

import pytest

from snaprewrite.errors import PlanError
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite import parallel
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.cidr import CidrMap


def test_results_come_in_order_from_both_processes(forking):
    items = list(range(50))
    pids = []

    def fn(x):
        pids.append(os.getpid())  # only this process's calls are seen here
        return (x, b"v" * x, str(x))

    assert list(parallel.split_map(items, fn, "test", 0.6)) == [fn(x) for x in items]
    assert pids.count(os.getpid()) == 20 + 50  # the child made the other 30 in the split run


def test_an_error_in_the_child_is_raised_here_at_the_same_item(forking):
    seen = []

    def fn(x):
        if x == 40:
            raise PlanError("item 40 cannot be decided")
        seen.append(x)
        return x

    got = []
    with pytest.raises(PlanError, match="item 40"):
        for r in parallel.split_map(list(range(50)), fn, "test"):
            got.append(r)
    assert got == list(range(40)) and seen == list(range(40))


def test_a_child_that_dies_costs_only_time(forking):
    parent = os.getpid()

    def fn(x):
        if os.getpid() != parent and x == 30:
            os._exit(3)  # the child ends without an answer
        return x * 2

    assert list(parallel.split_map(list(range(50)), fn, "test")) == [x * 2 for x in range(50)]


def test_a_spool_that_cannot_be_read_to_its_end_is_finished_here(forking, monkeypatch):
    """What the child sent is used as far as it reads; the rest is computed here (no item twice, none lost)."""
    real, calls = parallel.pickle.load, []

    def load(f):
        calls.append(1)
        if len(calls) == 3:
            raise parallel.pickle.UnpicklingError("truncated")
        return real(f)

    monkeypatch.setattr(parallel.pickle, "load", load)
    here = []
    got = list(parallel.split_map(list(range(50)), lambda x: (here.append(x), x * 3)[1], "test"))
    assert got == [x * 3 for x in range(50)]
    assert here == list(range(25)) + list(range(31, 50))  # the child sent 25..49; two chunks of 3 were read


def test_a_decision_that_depends_on_its_process_is_caught(forking):
    """Must fail: what split_map returns is compared with the plain loop; a pid in a result differs."""
    items = list(range(20))
    assert list(parallel.split_map(items, lambda x: (x, os.getpid()), "test")) != [(x, os.getpid()) for x in items]


def _plan(fixture_path) -> tuple:
    opts = planning.Options(CidrMap.parse("192.168.0.0/16=172.24.0.0/16"), CidrMap(()))
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        p = planning.build(snap, opts)
    return [(e.write, e.changes, e.sealed_with) for e in p.edits], p.warnings


def test_the_services_and_ipaddresses_decided_in_a_child_are_the_same(fixture_path, forking, monkeypatch):
    from snaprewrite.rewrite.rules import ipaddresses, services

    calls = []
    real = parallel.Split.__init__

    def init(self, items, fn, what, share=0.5, *a, **k):
        calls.append((what, len(items), share))
        real(self, items, fn, what, share, *a, **k)

    monkeypatch.setattr(parallel.Split, "__init__", init)
    split = _plan(fixture_path)
    assert [(what, share) for what, _, share in calls] == [("reading the Services", services.EARLY_SHARE),
                                                           ("the IPAddress renames", ipaddresses.EARLY_SHARE)]
    assert min(n for _, n, _ in calls) >= 5
    renamed = [w for w, changes, _ in split[0] if w.new_key is not None]
    moved = [w for w, changes, _ in split[0] if changes[0].kind == "Service"]
    assert renamed and moved and all(w.base.kv.value == b"" for w in renamed + moved)
    monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    assert _plan(fixture_path) == split
    monkeypatch.delenv("SNAPREWRITE_NO_FORK")
    monkeypatch.setattr(ipaddresses, "EARLY_SHARE", 1.0)  # every read and decision made in a child
    monkeypatch.setattr(services, "EARLY_SHARE", 1.0)
    assert _plan(fixture_path) == split
    monkeypatch.setattr(ipaddresses, "CHILD_SHARE", 1.0)  # begun at the rules' turn (no early start)
    monkeypatch.setattr(services, "CHILD_SHARE", 1.0)
    monkeypatch.delattr(ipaddresses, "start")
    monkeypatch.delattr(services, "begin")
    calls.clear()
    assert _plan(fixture_path) == split
    assert [(what, share) for what, _, share in calls] == [("reading the Services", 1.0),
                                                           ("the IPAddress renames", 1.0)]


def test_a_service_read_in_a_child_that_cannot_be_read_fails_as_in_the_plain_loop(fixture_path, forking, monkeypatch):
    """The child's PlanError costs only time: the Service is read again here and the same error is raised."""
    from snaprewrite.rewrite.rules import addresses, services

    monkeypatch.setattr(services, "EARLY_SHARE", 1.0)
    real = addresses.prefetch

    def broken(obj, *a, **k):
        if obj.name == "web":
            raise PlanError(f"{obj.key_text}: cannot read")
        return real(obj, *a, **k)

    monkeypatch.setattr(services, "prefetch", broken)
    with pytest.raises(PlanError, match="default/web: cannot read"):
        _plan(fixture_path)


def test_the_ipaddress_decisions_begun_early_end_with_a_rule_that_fails(fixture_path, forking, monkeypatch):
    """The child begun once the Services' moves are known is ended (and reaped) when a rule before its turn fails."""
    from snaprewrite.rewrite.rules import ipaddresses, ranges

    begun = []
    real = ipaddresses.start
    monkeypatch.setattr(ipaddresses, "start", lambda ctx: (begun.append(real(ctx)), begun[-1])[1])

    pids = []

    def fails(ctx):
        pids.append(begun[0].call.pid)  # the child runs while this rule does
        raise PlanError("the ranges cannot be planned")

    monkeypatch.setattr(ranges, "run", fails)
    with pytest.raises(PlanError, match="ranges cannot"):
        _plan(fixture_path)
    assert len(begun) == 1 and begun[0].call is None and begun[0].spool is None
    with pytest.raises(ChildProcessError):  # reaped: no such child any more
        os.waitpid(pids[0], os.WNOHANG)


def test_the_services_read_begun_after_the_scan_ends_with_a_caller_that_does_not_build(fixture_path, forking):
    """``rewrite`` may refuse between the scan and the plan: the child reading the Services is ended and reaped."""
    opts = planning.Options(CidrMap.parse("192.168.0.0/16=172.24.0.0/16"), CidrMap(()))
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        scanned = planning.scan(snap, opts)
        split = scanned.begun["services"]
        pid = split.call.pid
        scanned.close_begun()
    assert not scanned.begun and split.call is None and split.spool is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_rewrite_frees_the_scan_once_planned_with_a_read_begun_ahead(fixture_path, forking, monkeypatch):
    """What ends the begun read with the run must not hold the scan: its objects are freed once the plan is made."""
    import gc
    import weakref

    from snaprewrite.rewrite import job

    refs, alive = [], []
    real_build, real_report = planning.build, planning.Plan.report

    def build(snap, opts, progress, lay, scanned, **kw):
        refs.append(weakref.ref(scanned))
        return real_build(snap, opts, progress, lay, scanned, **kw)

    def report(self, output):
        gc.collect()
        alive.append(refs[0]() is not None)
        return real_report(self, output)

    monkeypatch.setattr(planning, "build", build)
    monkeypatch.setattr(planning.Plan, "report", report)
    req = job.Request(str(fixture_path("k8s-etcd35.db")), None, ["192.168.0.0/16=172.24.0.0/16"], [], [], dry_run=True)
    job.run(req)
    assert alive == [False]


class _Item:
    def __init__(self, x):
        self.x = x


@pytest.mark.parametrize("how", ["fork", "plain", "child dies"])
def test_pairs_are_the_items_with_their_results_each_let_go_once_yielded(forking, monkeypatch, how):
    """``Split.pairs`` is ``zip(items, results())``; an item is freed once the caller is done with it, whichever
    process decided it (must fail with ``zip``: the items list holds every one to the end)."""
    import weakref

    if how == "plain":
        monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    parent = os.getpid()

    def fn(item):
        if how == "child dies" and os.getpid() != parent and item.x == 40:
            os._exit(3)
        return item.x * 2

    items = [_Item(x) for x in range(50)]
    refs = [weakref.ref(i) for i in items]
    got = []
    with parallel.Split(items, fn, "test", 0.6) as split:
        del items
        for item, result in split.pairs():  # (not enumerate: its reused tuple holds the last item)
            got.append((item.x, result))
            del item
            assert refs[len(got) - 1]() is None and all(r() is not None for r in refs[len(got) :])
    assert got == [(x, x * 2) for x in range(50)]


@pytest.mark.parametrize("let_go", [True, False])
def test_the_ipaddress_rule_lets_go_of_each_object_once_its_edit_is_made(fixture_path, forking, monkeypatch, let_go):
    """Planning keeps no IPAddress after its Edit is made (no later rule loads them: ``Context.let_go``); must fail
    when the planner's list keeps them (``let_go`` a no-op): every one is alive to the last Edit."""
    import gc

    from snaprewrite.rewrite.rules import ipaddresses

    def live() -> int:
        return sum(1 for o in gc.get_objects() if type(o) is planning.Object and o.kind == "IPAddress")

    alive = []
    real = ipaddresses.Edit.of_rows

    def of_rows(obj, *a, **kw):
        if obj.kind == "IPAddress":
            alive.append(live())
        return real(obj, *a, **kw)

    monkeypatch.setattr(ipaddresses.Edit, "of_rows", of_rows)
    if not let_go:
        monkeypatch.setattr(planning.Context, "let_go", lambda self, kind: None)
    _plan(fixture_path)
    assert len(alive) >= 5
    if let_go:
        assert alive[-1] <= 2 and alive == sorted(alive, reverse=True)  # the one being edited (and the one before)
    else:
        assert min(alive) >= len(alive)


@pytest.mark.parametrize("share", [None, 1.0])
def test_the_services_and_ipaddresses_decided_in_a_standby_are_the_same(fixture_path, forking, monkeypatch, share):
    """The reads and renames sent to children forked before planning (``standby.Standby``: ``parallel.Remote``)
    plan the same edits and warnings as with ``SNAPREWRITE_NO_FORK``; both standbys are used."""
    from snaprewrite import standby
    from snaprewrite.rewrite.rules import ipaddresses, services

    monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    plain = _plan(fixture_path)
    monkeypatch.delenv("SNAPREWRITE_NO_FORK")
    if share is not None:
        monkeypatch.setattr(ipaddresses, "EARLY_SHARE", share)
        monkeypatch.setattr(services, "EARLY_SHARE", share)
    called = []
    real = standby.Standby.call
    monkeypatch.setattr(standby.Standby, "call", lambda self, *a, **k: (called.append(self.what), real(self, *a, **k))[1])
    opts = planning.Options(CidrMap.parse("192.168.0.0/16=172.24.0.0/16"), CidrMap(()))
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap, \
            standby.standbys({services.STANDBY: (snap,), ipaddresses.STANDBY: (snap,)}):
        p = planning.build(snap, opts)
    assert called == [services.STANDBY, ipaddresses.STANDBY]
    assert ([(e.write, e.changes, e.sealed_with) for e in p.edits], p.warnings) == plain
