"""``--exclude`` is read in one place: the planner marks the objects it names (``plan.mark_excluded``).

Rules read ``Object.excluded``. The rule modules' source is read with ``ast``: no rule calls ``.excluded(...)`` (the matching of
``ns/name`` against an object) nor reads ``excludes``. The check is run on a rule written the old way
too, where it must report it. The planner's marking is checked on the objects it loads, and its last
check (a plan may not change an excluded object) on a rule that ignores ``Object.excluded``.
"""

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest

from snaprewrite.errors import PlanError
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite import rules
from snaprewrite.rewrite.cidr import CidrMap

RULES = Path(__file__).resolve().parents[2] / "snaprewrite" / "rewrite" / "rules"
PACKAGE = RULES.parent.parent


def reads_excludes(source: str) -> list[str]:
    """reads_excludes lists where a module asks whether --exclude names an object, or reads the flag's values."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "excluded":
            out.append(f"line {node.lineno}: .excluded(...)")
        if isinstance(node, ast.Attribute) and node.attr == "excludes" or isinstance(node, ast.Name) and node.id == "excludes":
            out.append(f"line {node.lineno}: excludes")
        if isinstance(node, ast.Constant) and node.value == "excludes":  # getattr(options, "excludes")
            out.append(f"line {node.lineno}: 'excludes'")
    return out


def test_the_check_finds_a_rule_that_reads_exclude_itself():
    old_way = "def run(ctx):\n    for obj in ctx.objects['Node']:\n        if ctx.options.excluded(obj):\n            continue\n"
    assert reads_excludes(old_way) == ["line 3: .excluded(...)"]
    assert reads_excludes("def f(ctx):\n    return ctx.options.excludes\n") == ["line 2: excludes"]
    assert reads_excludes("def f(o):\n    return getattr(o, 'excludes')\n") == ["line 2: 'excludes'"]
    assert reads_excludes("def f(obj, ctx):\n    if obj.excluded:\n        ctx.excluded.add(obj.key)\n") == []


def test_no_rule_reads_exclude_itself():
    found = {p.name: reads_excludes(p.read_text()) for p in sorted(RULES.glob("*.py"))}
    assert len(found) >= 10
    assert {name: where for name, where in found.items() if where} == {}


def test_only_the_planner_matches_exclude_against_objects():
    callers = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
               if any(w.endswith(".excluded(...)") for w in reads_excludes(p.read_text()))}
    assert callers == {"rewrite/plan.py"}


def test_the_planner_marks_the_objects_exclude_names(fixture_path):
    opts = planning.Options(CidrMap.parse(["192.168.0.0/16=172.24.0.0/16"]), CidrMap(()),
                            frozenset({"default/web", "worker-1", "/cp-1", "kube-system/kube-proxy"}))
    with Snapshot(str(fixture_path("k8s-etcd35.db"))) as snap:
        sc = planning.scan(snap, opts)
        if sc.aside is not None:  # (a third core: its leaf search is not needed here)
            sc.aside.close()
        planning.mark_excluded(sc.objects, opts)
        marked = sorted(o.key.decode() for objs in sc.objects.values() for o in objs if o.excluded)
        assert marked == ["/registry/configmaps/kube-system/kube-proxy", "/registry/minions/cp-1",
                          "/registry/minions/worker-1", "/registry/services/specs/default/web"]
        planning.mark_excluded(sc.objects, planning.Options(opts.service_map, opts.pod_map))
        assert not any(o.excluded for objs in sc.objects.values() for o in objs)


def careless_rule(follows=()) -> SimpleNamespace:
    """careless_rule rewrites every Node's value as it is, excluded or not (a rule that forgot ``Object.excluded``)."""

    def run(ctx):
        for obj in ctx.objects["Node"]:
            change = planning.Change(obj.key_text, "Node", "", obj.name, "metadata", "x", "y")
            ctx.plan.edits.append(planning.Edit.of(obj, bytes(obj.value), [change]))

    return SimpleNamespace(name="careless", kind="Node", prefixes=(b"minions/",), run=run, follows=follows)


def test_the_planner_refuses_a_plan_that_changes_an_excluded_object(fixture_path, monkeypatch):
    def build(excludes, follows=()):
        monkeypatch.setattr(rules, "RULES", (careless_rule(follows),))
        opts = planning.Options(CidrMap(()), CidrMap(()), frozenset(excludes))
        with Snapshot(str(fixture_path("k8s-etcd35.db"))) as snap:
            return planning.build(snap, opts)

    assert len(build(()).edits) == 4
    assert len(build({"default/web"}).edits) == 4
    with pytest.raises(PlanError, match=r"^/registry/minions/worker-1: --exclude names this Node but the plan "
                                        r"changes it \(internal error"):
        build({"worker-1"})
    assert len(build({"worker-1"}, follows=("Node",)).edits) == 4  # a kind the rule declares to follow another's


def test_kinds_that_follow_another_object_move_with_it_whatever_exclude_names(fixture_path):
    """An IPAddress moves with its Service, a Calico IPAMBlock with its IPPool (as before the planner marked them)."""
    cases = [("k8s-etcd35.db", ["192.168.0.0/16=172.24.0.0/16"], [], "192.168.12.34", b"/registry/ipaddresses/192.168.12.34"),
             ("cni-calico.db", [], ["192.168.0.0/16=10.60.0.0/16"], "192-168-136-64-26",
              b"/registry/crd.projectcalico.org/ipamblocks/192-168-136-64-26")]
    for name, svc, pod, exclude, key in cases:
        opts = planning.Options(*(CidrMap.parse(m) if m else CidrMap(()) for m in (svc, pod)), frozenset({exclude}))
        with Snapshot(str(fixture_path(name))) as snap:
            plan = planning.build(snap, opts)
        assert [e.new_key is not None for e in plan.edits if e.key == key] == [True], name


def _exclude_warnings(plan) -> list[str]:
    return [w.message for w in plan.warnings if w.message.startswith("--exclude ")]


def test_an_exclude_that_keeps_nothing_is_warned_about(fixture_path):
    """A typo, a missing namespace or a kind that follows another: the operator hears that nothing is kept by it."""
    opts = planning.Options(CidrMap.parse(["192.168.0.0/16=172.24.0.0/16"]), CidrMap(()),
                            frozenset({"default/wbe", "web", "192.168.12.34", "default/web", "/cp-1", "worker-1"}))
    with Snapshot(str(fixture_path("k8s-etcd35.db"))) as snap:
        plan = planning.build(snap, opts)
    got = _exclude_warnings(plan)
    assert len(got) == 3, got
    assert got[0].startswith("--exclude 192.168.12.34 names a IPAddress object; those move with the object they belong to")
    assert got[1].startswith("--exclude default/wbe: no object the rewrite edits has this name")
    assert got[2].startswith("--exclude web: no object the rewrite edits has this name")  # web is namespaced
    # the exclusions that do keep an object are not warned about, and they keep it
    kept = {b"/registry/services/specs/default/web", b"/registry/minions/cp-1", b"/registry/minions/worker-1"}
    assert not [e.key for e in plan.edits if e.key in kept]


def test_exclusions_that_keep_objects_give_no_warning(fixture_path):
    opts = planning.Options(CidrMap.parse(["192.168.0.0/16=172.24.0.0/16"]), CidrMap(()),
                            frozenset({"default/web", "/cp-1", "worker-1", "kube-system/kube-proxy"}))
    with Snapshot(str(fixture_path("k8s-etcd35.db"))) as snap:
        assert _exclude_warnings(planning.build(snap, opts)) == []


def _leftover_groups(plan) -> dict[str, str]:
    """_leftover_groups maps each key the leftovers warn about to the warning's group ("(--exclude)", "configmaps", ...)."""
    out = {}
    for w in plan.warnings:
        if "still hold old addresses" in w.message:
            for key in w.message.split("): ", 1)[1].split(", "):
                out[key] = w.key
    return out


def test_an_excluded_object_a_rule_would_not_change_is_listed_as_kept_by_exclude(fixture_path):
    """kube-flannel-cfg excluded keeps its old Network: the leftovers say --exclude kept it, not that snaprewrite missed it."""
    key = "/registry/configmaps/kube-flannel/kube-flannel-cfg"
    for excludes, group in [((), None), (("kube-flannel/kube-flannel-cfg",), "(--exclude)")]:
        opts = planning.Options(CidrMap(()), CidrMap.parse(["10.244.0.0/16=10.50.0.0/16"]), frozenset(excludes))
        with Snapshot(str(fixture_path("cni-flannel.db"))) as snap:
            plan = planning.build(snap, opts)
        assert (key.encode() in {e.key for e in plan.edits}) == (not excludes)
        assert _leftover_groups(plan).get(key) == group, excludes
        assert _leftover_groups(plan)["/registry/pods/default/web-0"] != "(--exclude)"
