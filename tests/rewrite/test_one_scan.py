"""rewrite reads bucket key once: the cluster facts' keys are indexed by the planning pass itself.

The shared pass (``plan.scan(..., also=PREFIXES)``) must give the State a separate ``State.scan`` gives,
and the plan built on it must be the plan ``build`` makes on its own (same edits, bytes and warnings).
"""

import pytest

from snaprewrite.etcd import mvcc, writes
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s.layout import detect
from snaprewrite.rewrite import apply as applying
from snaprewrite.rewrite import aside, facts
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.cidr import CidrMap


def options() -> planning.Options:
    return planning.Options(CidrMap.parse(["10.96.0.0/12=172.16.0.0/12", "fd00:10:96::/112=fd00:20:96::/112"]),
                            CidrMap.parse(["10.244.0.0/16=10.32.0.0/16"]))


def edits(plan: planning.Plan) -> list:
    return [(e.key, e.new_key, bytes(e.new_value) if e.new_value is not None else None, e.changes) for e in plan.edits]


@pytest.mark.parametrize("name", ["k8s-etcd35.db", "k8s-etcd34.db", "apiserver-etcd35.db"])
def test_the_shared_pass_gives_the_same_state_and_plan(fixture_path, name):
    with Snapshot(fixture_path(name)) as snap:
        lay = detect(snap)
        calls = []
        scanned = planning.scan(snap, options(), lambda n: calls.append(n), lay, also=facts.indexed(lay))
        shared = facts.State.of_index(snap, scanned.also_index, lay)
        plan = planning.build(snap, options(), None, lay, scanned)
    with Snapshot(fixture_path(name)) as snap:
        alone = facts.State.scan(snap, None, detect(snap))
        plain = planning.build(snap, options(), None, detect(snap))
        assert shared.index == alone.index and shared.index
        assert shared.keys(b"") == alone.keys(b"")
        assert edits(plan) == edits(plain) and plan.edits
        assert [w.as_json() for w in plan.warnings] == [w.as_json() for w in plain.warnings]
        assert plan.revision == plain.revision
    assert sum(calls) == mvcc.scan_index(Snapshot(fixture_path(name)).key_bucket(), None)[2]  # one pass


@pytest.mark.parametrize("mode", [applying.Mode(), applying.Mode(as_new_revision=True)])
def test_records_placed_once_are_the_records_placed_apart(fixture_path, tmp_path, mode):
    """rewrite places the batch once for the report's newRecord and the write: same records, same file."""
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        plan = planning.build(snap, options())
        renames = [e.write for e in plan.edits if e.new_key is not None]
        assert renames, "the fixture plan renames IPAddresses"
        full = applying.batch(snap, plan, mode)
        apart = writes.new_revision(renames, plan.revision) if mode.as_new_revision else \
            writes.in_place(snap, renames, plan.histories, plan.revision)
        keys = [w.new_key for w in renames]
        assert writes.latest_records(snap, full, plan.histories, keys) == \
            writes.latest_records(snap, apart, plan.histories, keys)
        a = applying.apply(snap, plan, str(tmp_path / "a.db"), mode=mode, records=full)
        b = applying.apply(snap, plan, str(tmp_path / "b.db"), mode=mode)
    assert (tmp_path / "a.db").read_bytes() == (tmp_path / "b.db").read_bytes()
    assert a.sha256 == b.sha256


def _warnings(path, monkeypatch, no_fork: bool) -> tuple[list, dict]:
    monkeypatch.setattr(planning, "cpus", lambda: planning.ASIDE_CORES)  # the child is used from 2 cores on
    if no_fork:
        monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    else:
        monkeypatch.delenv("SNAPREWRITE_NO_FORK", raising=False)
    with Snapshot(path) as snap:
        scanned = planning.scan(snap, options(), None, detect(snap))
        assert (scanned.aside is None) == no_fork  # the leftovers' address search went to a child, or not
        plan = planning.build(snap, options(), None, detect(snap), scanned)
        return [w.as_json() for w in plan.warnings], set(scanned.observers["leftovers"].sorted_keys())


@pytest.mark.parametrize("name", ["k8s-etcd35.db", "apiserver-etcd35.db"])
def test_the_address_search_aside_finds_what_the_single_pass_finds(fixture_path, monkeypatch, name):
    """The leftovers' search made by a forked child (``aside.Aside``) leaves the observer as the one pass does."""
    aside, keys = _warnings(fixture_path(name), monkeypatch, no_fork=False)
    alone, plain_keys = _warnings(fixture_path(name), monkeypatch, no_fork=True)
    assert keys == plain_keys and keys  # the same keys (the fixtures mention the old CIDRs)
    assert aside == alone and any("still hold old addresses" in w["message"] for w in alone)


def test_a_failed_aside_search_is_made_again_here(fixture_path, monkeypatch):
    """A child that fails (here: its answer cannot be made) costs time, not results: the search is made here."""
    from snaprewrite.rewrite.rules import leftovers

    want, want_keys = _warnings(fixture_path("k8s-etcd35.db"), monkeypatch, no_fork=True)

    def broken(self):
        raise RuntimeError("no answer")

    monkeypatch.setattr(leftovers.Mentions, "export", broken)
    got, keys = _warnings(fixture_path("k8s-etcd35.db"), monkeypatch, no_fork=False)
    assert got == want and keys == want_keys



def test_no_aside_search_on_one_core(fixture_path, monkeypatch):
    """On one core the planning pass searches the leaves itself (a child would only take turns with it)."""
    monkeypatch.delenv("SNAPREWRITE_NO_FORK", raising=False)
    monkeypatch.setattr(planning, "cpus", lambda: 1)
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        scanned = planning.scan(snap, options(), None, detect(snap))
        assert scanned.aside is None and set(scanned.observers["leftovers"].sorted_keys())


def test_an_aside_search_on_two_cores(fixture_path, monkeypatch):
    monkeypatch.delenv("SNAPREWRITE_NO_FORK", raising=False)
    monkeypatch.setattr(planning, "cpus", lambda: 2)
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        scanned = planning.scan(snap, options(), None, detect(snap))
        assert scanned.aside is not None  # the search went to a child (ended here: nothing reads it)
        scanned.aside.close()


def _absorbed(monkeypatch) -> list:
    """_absorbed records what each ``Mentions.absorb`` is given (a child's answer, as the parent reads it)."""
    from snaprewrite.rewrite.rules import leftovers

    got, real = [], leftovers.Mentions.absorb

    def absorb(self, found):
        got.append(type(found))
        real(self, found)

    monkeypatch.setattr(leftovers.Mentions, "absorb", absorb)
    return got


def test_the_aside_answer_is_read_from_its_file_a_piece_at_a_time(fixture_path, monkeypatch):
    """The child's answer waits in a temp file: the keys are read from it (a few bytes at a time here) as the
    single pass finds them, and the warnings are the same."""
    from snaprewrite import spill
    from snaprewrite.rewrite.rules import leftovers

    want, want_keys = _warnings(fixture_path("k8s-etcd35.db"), monkeypatch, no_fork=True)
    got = _absorbed(monkeypatch)
    monkeypatch.setattr(leftovers, "READ", 7)  # many pieces, keys across their ends
    warnings, keys = _warnings(fixture_path("k8s-etcd35.db"), monkeypatch, no_fork=False)
    assert got == [spill.Part] and warnings == want and keys == want_keys


def test_an_aside_answer_without_a_temp_file_comes_as_one_buffer(fixture_path, monkeypatch):
    want, want_keys = _warnings(fixture_path("k8s-etcd35.db"), monkeypatch, no_fork=True)
    got = _absorbed(monkeypatch)

    def no_file(*a, **kw):
        raise OSError("no space left on device")

    monkeypatch.setattr(aside.tempfile, "TemporaryFile", no_file)
    warnings, keys = _warnings(fixture_path("k8s-etcd35.db"), monkeypatch, no_fork=False)
    assert got == [memoryview] and warnings == want and keys == want_keys


def test_an_aside_answer_file_shorter_than_said_is_not_read(fixture_path, monkeypatch):
    """Must fail if the file's size is not checked: the child says it wrote bytes that are not there (a full
    disk): the search is made again here, with the same warnings."""
    want, want_keys = _warnings(fixture_path("k8s-etcd35.db"), monkeypatch, no_fork=True)
    got = _absorbed(monkeypatch)
    monkeypatch.setattr(aside, "pwrite_all", lambda fd, data, at: at + len(data))  # (in the child) nothing written
    warnings, keys = _warnings(fixture_path("k8s-etcd35.db"), monkeypatch, no_fork=False)
    assert got == [] and warnings == want and keys == want_keys


def test_an_interrupt_while_the_search_is_forked_is_the_interrupt(fixture_path, monkeypatch):
    """Must fail if Aside's cleanup reads what the interrupted fork never set: Ctrl-C there must stay a
    KeyboardInterrupt (exit 130, temp files removed), not an internal AttributeError (exit 1)."""
    made = []
    real = aside.tempfile.TemporaryFile

    def temp(*a, **kw):
        made.append(real(*a, **kw))
        return made[-1]

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(aside.tempfile, "TemporaryFile", temp)
    monkeypatch.setattr(aside.process, "fork_call", interrupted)
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap, pytest.raises(KeyboardInterrupt):
        aside.Aside(snap, {})
    assert len(made) == 1 and made[0].closed  # the answer's temp file is not left open
