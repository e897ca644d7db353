"""The CNI rules' decisions and refusals, planned (dry run) on the CNI fixtures the real kube-apiserver wrote.

What the rules produce is judged by real etcd and kube-apiserver in tests/e2e/test_cni_rewrite.py; here:
the byte-exact JSON splice, the refusals (a block that does not fit, a rename onto a live key), what a
pool outside the mapping keeps, ``--only``, the status ``cni`` field against what the API served, and the
runbook's CNI step.
"""

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.errors import PlanError
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite import jsonedit, runbook
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.cidr import CidrMap
from snaprewrite.rewrite.rules import cni

runner = CliRunner()


def plan_of(path, *pod: str, only=None) -> planning.Plan:
    opts = planning.Options(CidrMap(()), CidrMap.parse(list(pod)) if pod else CidrMap(()),
                            only=frozenset(only) if only else None)
    with Snapshot(str(path)) as snap:
        return planning.build(snap, opts)


# -- jsonedit -----------------------------------------------------------------------------------------

DOC = '{"a":{"cidr":"10.0.0.0/8", "block" : {"10.1.0.0/26":1}},"mtu":__CNI_MTU__,"l":["x","10.2.0.0/16"]}'


def test_splice_changes_only_the_chosen_tokens_bytes():
    refs = {(r.path, r.is_key): r for r in jsonedit.strings(DOC)}
    out = jsonedit.splice(DOC, [(refs[(("a", "cidr"), False)], "11.0.0.0/8"),
                                (refs[(("a", "block", "10.1.0.0/26"), True)], "11.1.0.0/26"),
                                (refs[(("l", 1), False)], "11.2.0.0/16")])
    assert out == DOC.replace("10.", "11.")
    assert refs[(("a", "cidr"), True)].value == "cidr"  # the key token is its own token


def test_splice_refuses_an_edit_that_changes_the_documents_shape():
    ref = next(r for r in jsonedit.strings(DOC) if r.value == "x")
    with pytest.raises(PlanError, match="changed more"):
        jsonedit.splice(DOC, [(dataclasses.replace(ref, end=ref.end + 1), "y")])  # would eat the comma


def test_strings_refuses_broken_json():
    with pytest.raises(Exception, match="json"):
        jsonedit.strings('{"a": "b"')


# -- Calico -------------------------------------------------------------------------------------------


def test_calico_block_that_does_not_fit_the_new_cidr_is_refused_by_name(fixture_path):
    with pytest.raises(PlanError) as e:  # 192.168.0.0/16 into a /17: blocks at 192.168.136.x and .200.x do not fit
        plan_of(fixture_path("cni-calico.db"), "192.168.0.0/16=10.60.0.0/17")
    msg = str(e.value)
    assert "\n" not in msg and "192.168.0.0/16" in msg and "10.60.0.0/17" in msg


def test_calico_pool_outside_the_mapping_keeps_its_blocks(fixture_path):
    plan = plan_of(fixture_path("cni-calico.db"), "192.168.0.0/16=10.60.0.0/16")
    keys = {c.key for c in plan.changes}
    assert not any("172-30" in k or "legacy" in k for k in keys)
    assert any(w.key.endswith("/ippools/legacy-pool") and "172.30.0.0/16" in w.message for w in plan.warnings)
    assert plan.cni == {"calico": ["192.168.0.0/16", "172.30.0.0/16"]}
    pods = next(w for w in plan.warnings if w.key == "/registry/pods/")  # what stays, every key named
    assert "recreated" in pods.message and "..." not in pods.message
    assert pods.message.count("/registry/pods/default/web-") == 7
    renamed = {c.key: c.new_key for c in plan.changes if c.new_key}
    assert renamed["/registry/crd.projectcalico.org/ipamblocks/192-168-43-128-26"] == \
        "/registry/crd.projectcalico.org/ipamblocks/10-60-43-128-26"
    assert renamed["/registry/crd.projectcalico.org/blockaffinities/node-2-192-168-43-128-26"] == \
        "/registry/crd.projectcalico.org/blockaffinities/node-2-10-60-43-128-26"


def test_a_rename_onto_a_live_key_or_two_onto_one_are_refused():
    a, b, c = (b"/registry/crd.projectcalico.org/ipamblocks/" + n for n in (b"10-0-0-0-26", b"10-0-0-64-26", b"x"))
    cni.check_renames(None, {a, b}, {a: b, b: c}, "IPAMBlock")  # b moves away first: allowed
    with pytest.raises(PlanError, match="10-0-0-64-26: that key exists"):
        cni.check_renames(None, {a, b}, {a: b}, "IPAMBlock")
    with pytest.raises(PlanError, match="would both become"):
        cni.check_renames(None, {a, b}, {a: c, b: c}, "IPAMBlock")


def test_only_selects_one_cni_rule(fixture_path):
    plan = plan_of(fixture_path("cni-calico.db"), "192.168.0.0/16=10.60.0.0/16", only={"calico"})
    kinds = {c.kind for c in plan.changes}
    assert kinds == {"IPPool", "IPAMBlock", "BlockAffinity", "IPAMHandle", "Node"}
    assert {c.field for c in plan.changes if c.kind == "Node"} == \
        {"metadata.annotations.projectcalico.org/IPv4IPIPTunnelAddr"}  # the nodes rule did not run


def test_no_pod_mapping_moves_nothing_but_still_finds_the_cni(fixture_path):
    plan = plan_of(fixture_path("cni-cilium.db"))
    assert plan.edits == [] and plan.cni == {"cilium": ["10.0.0.0/16", "fd00::/104"]}


def test_flannel_subnet_keys_move_both_halves_of_a_dual_stack_lease():
    from snaprewrite.rewrite.rules import flannel

    cmap = CidrMap.parse(["10.244.0.0/16=10.66.0.0/16", "fd00:10:244::/56=fd00:66::/56"])
    assert flannel._move_subnet_name(cmap, "10.244.3.0-24&fd00:10:244:3::-64") == "10.66.3.0-24&fd00:66:0:3::-64"
    assert flannel._move_subnet_name(cmap, "10.9.3.0-24") is None
    assert flannel.SUBNET_KEY.match(b"/custom/net/subnets/10.244.3.0-24&fd00:10:244:3::-64")
    assert not flannel.SUBNET_KEY.match(b"/registry/subnets/x")


# -- status and runbook ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cni", ["calico", "cilium", "flannel", "kuberouter"])
def test_status_names_the_cni_and_the_pools_the_api_served(cni, fixture_path):
    exp = json.loads(fixture_path(f"cni-{cni}.expected.json").read_text())
    r = runner.invoke(app, ["status", str(fixture_path(f"cni-{cni}.db")), "-o", "json"])
    assert r.exit_code == 0, r.output
    served = exp["objects"].values()
    want = {
        "calico": [o["spec"]["cidr"] for o in served if o.get("kind") == "IPPool"],
        "cilium": ["10.0.0.0/16", "fd00::/104"],  # cilium-config, as the fixture wrote it
        "flannel": ["10.244.0.0/16"],
        "kuberouter": [o["metadata"]["annotations"]["kube-router.io/pod-cidr"] for o in served
                       if "kube-router.io/pod-cidr" in o["metadata"].get("annotations", {})],
    }[cni]
    assert json.loads(r.output)["cni"] == [{"name": cni.replace("kuberouter", "kube-router"), "pools": want}]


def test_runbook_cni_step_names_the_host_work_of_the_cni_found():
    facts = runbook.Facts(input="a.db", service=(), pod=(("10.244.0.0/16", "10.66.0.0/16"),),
                          flags=("--pod-cidr 10.244.0.0/16=10.66.0.0/16",), api=None, dns=(), kept_dns=(),
                          cni_keys=(), bumped=True, cni_found=(("flannel", ("10.244.0.0/16",)),))
    steps = runbook.build(facts)
    keys = [s.key for s in steps]
    cni = "\n".join(steps[keys.index("cni")].lines)
    assert "/run/flannel/subnet.env" in cni and "rollout restart daemonset kube-flannel-ds" in cni
    assert keys.index("cni") < keys.index("recreate-pods")
    start = "\n".join(steps[keys.index("start-control-plane")].lines)
    assert "CNI pools" not in start  # nothing left to apply through the API: the snapshot holds them
    generic = runbook.build(dataclasses.replace(facts, cni_found=()))
    assert "kube-flannel-cfg" in "\n".join(generic[keys.index("cni")].lines)


def test_rails_take_a_cni_pool_as_the_clusters_pod_range(fixture_path):
    # Cilium cluster-pool: Nodes carry no podCIDR and kubeadm declares none; the pool is what the cluster uses
    src = str(fixture_path("cni-cilium.db"))
    r = runner.invoke(app, ["rewrite", src, "--dry-run", "--pod-cidr", "10.0.0.0/16=10.80.0.0/16"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["rewrite", src, "--dry-run", "--pod-cidr", "10.1.0.0/16=10.80.0.0/16"])
    assert r.exit_code == 1 and "old pod cidr 10.1.0.0/16 matches nothing" in r.stderr


def test_workload_settings_move_only_where_they_equal_an_old_pod_cidr(fixture_path):
    # cilium-operator holds the pools as args and env; env[0] (valueFrom) and args[0] (a path) have no CIDR
    plan = plan_of(fixture_path("cni-cilium.db"), "10.0.0.0/16=10.80.0.0/16", "fd00::/104=fd00:80::/104",
                   only={"cniconfig"})
    key = "/registry/deployments/kube-system/cilium-operator"
    base = "spec.template.spec.containers[0]."  # named by index, as verify and the API show the fields
    assert {(c.key, c.field, c.old, c.new) for c in plan.changes} == {
        (key, base + "env[1].value", "10.0.0.0/16", "10.80.0.0/16"),
        (key, base + "args[1]", "--cluster-pool-ipv4-cidr=10.0.0.0/16", "--cluster-pool-ipv4-cidr=10.80.0.0/16"),
        (key, base + "args[2]", "--cluster-pool-ipv6-cidr=fd00::/104", "--cluster-pool-ipv6-cidr=fd00:80::/104")}
    # a mapping of a range that merely contains the pool is no exact match: nothing in the workloads moves
    assert plan_of(fixture_path("cni-cilium.db"), "10.0.0.0/8=11.0.0.0/8", only={"cniconfig"}).changes == []
