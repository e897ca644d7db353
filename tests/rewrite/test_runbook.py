"""The runbook: one source for what ``rewrite`` prints, what the report holds and what docs/runbook.md says.

The docs' step lists are the printed output of real ``rewrite`` runs on the real kubeadm 1.18 snapshot
(service-only, pod-only, both, reduced downtime); the order is checked step by step, and the printed
snaprewrite commands are run as printed.
"""

import importlib.util
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from snaprewrite.rewrite import runbook
from snaprewrite.rewrite.cidr import CidrMap
from snaprewrite.rewrite.plan import Options, Plan

REPO_ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("runbook_blocks", REPO_ROOT / "docs" / "runbook_blocks.py")
blocks_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(blocks_mod)

DOC = REPO_ROOT / "docs" / "runbook.md"
SVC = ("10.96.0.0/12", "10.128.0.0/12")
POD = ("10.5.0.0/16", "10.6.0.0/16")


def _facts(service=True, pod=True, reduced=False, bumped=False, mode=()) -> runbook.Facts:
    typed = ([f"--service-cidr {SVC[0]}={SVC[1]}"] if service else []) + \
        ([f"--pod-cidr {POD[0]}={POD[1]}"] if pod else []) + (["--exclude kube-system/kube-dns"] if reduced else [])
    return runbook.Facts(
        input="pre-migration.db", service=(SVC,) if service else (), pod=(POD,) if pod else (),
        flags=tuple(typed), api=("10.96.0.1", "10.128.0.1") if service else None,
        dns=(("10.96.0.10", "10.128.0.10"),) if service and not reduced else (),
        kept_dns=(("10.96.0.10", "10.128.0.10"),) if reduced else (), cni_keys=(), bumped=bumped, mode=tuple(mode))


CASES = {
    "service-only": _facts(pod=False),
    "pod-only": _facts(service=False),
    "both": _facts(),
    "reduced-downtime": _facts(pod=False, reduced=True),
}


def _keys(f: runbook.Facts) -> list[str]:
    return [s.key for s in runbook.build(f)]


def _text(f: runbook.Facts) -> str:
    return "\n".join(s.render(i) for i, s in enumerate(runbook.build(f), 1))


# --- order and applicability -------------------------------------------------------------------------

SAFE_ORDER = ["rehearse", "stop-writers", "final-snapshot", "rewrite-final", "verify", "restore", "manifests",
              "certificate", "kubelet-dns", "kube-proxy-config", "cni", "start-control-plane",
              "kube-proxy-restart", "recreate-pods", "relist", "move-kube-dns"]


@pytest.mark.parametrize("case", CASES)
def test_steps_follow_the_safe_order(case):
    keys = _keys(CASES[case])
    assert keys == [k for k in SAFE_ORDER if k in keys]  # a subsequence of the one safe order
    for must in ("rehearse", "stop-writers", "final-snapshot", "rewrite-final", "verify", "restore", "manifests",
                 "start-control-plane", "kube-proxy-restart", "recreate-pods", "relist"):
        assert must in keys
    # the final snapshot comes after every writer is stopped, and the rewrite after the final snapshot
    assert keys.index("stop-writers") < keys.index("final-snapshot") < keys.index("rewrite-final")


def test_final_snapshot_is_taken_after_the_api_servers_stop():
    text = _text(CASES["both"])
    stop = text.index("mv /etc/kubernetes/manifests/kube-apiserver.yaml")
    save = text.index("snapshot save final.db")
    assert stop < save
    assert text.index("snaprewrite rewrite final.db") > save
    assert "snapshot save" not in text[:stop]  # no snapshot of a running API server is ever restored


def test_pod_only_has_no_certificate_or_dns_step_and_restarts_kube_proxy():
    f = CASES["pod-only"]
    keys, text = _keys(f), _text(f)
    assert "certificate" not in keys and "kubelet-dns" not in keys and "move-kube-dns" not in keys
    assert "snaprewrite certs" not in text and "clusterDNS" not in text
    assert {"kube-proxy-config", "cni", "kube-proxy-restart"} <= set(keys)
    restart = runbook.build(f)[keys.index("kube-proxy-restart")]
    assert "clusterCIDR 10.6.0.0/16" in restart.lines[0]
    assert "--service-cidr" not in text


def test_service_only_has_certificate_and_dns_but_no_cni_step():
    f = CASES["service-only"]
    keys, text = _keys(f), _text(f)
    assert "certificate" in keys and "kubelet-dns" in keys
    assert "cni" not in keys and "kube-proxy-config" not in keys and "--pod-cidr" not in text
    assert "$ snaprewrite certs /etc/kubernetes/pki --service-cidr 10.96.0.0/12=10.128.0.0/12" in text
    assert "sed -i -e 's/\\b10[.]96[.]0[.]10\\b/10.128.0.10/' /var/lib/kubelet/config.yaml" in text


def test_cni_is_configured_before_any_pod_is_recreated():
    f = CASES["both"]
    keys = _keys(f)
    assert keys.index("cni") < keys.index("start-control-plane") < keys.index("recreate-pods")
    start = "\n".join(runbook.build(f)[keys.index("start-control-plane")].lines)
    # pools that live in the cluster are applied after the API server and before the scheduler starts
    assert start.index("kube-apiserver.yaml") < start.index("CNI pools") < start.index("kube-scheduler.yaml")


def test_reduced_downtime_keeps_dns_in_the_window_and_moves_it_later():
    f = CASES["reduced-downtime"]
    keys, text = _keys(f), _text(f)
    assert "kubelet-dns" not in keys and keys[-1] == "move-kube-dns"
    move = runbook.build(f)[-1]
    assert "kube-dns kept 10.96.0.10" in move.lines[0]
    body = "\n".join(move.lines)
    assert body.index("kube-dns-migration") < body.index("kubelet-config") < body.index("delete svc kube-dns-migration")
    assert "certificate" in keys  # the kubernetes Service still moves
    assert "nameserver" not in "\n".join(runbook.build(f)[keys.index("recreate-pods")].lines)
    assert "10.128.0.10" in text


def _moved(lines, src: str, dst: str) -> set[str]:
    out = set()
    for line in lines:
        if line.startswith("$ ") and " mv " in f" {line[2:]}":
            cmd = line[2:].split("#")[0].split("&&")
            for part in cmd:
                words = shlex.split(part)
                if words and words[0] == "mv" and words[-1].rstrip("/") == dst:
                    out |= {Path(w).name for w in words[1:-1] if w.startswith(src + "/")}
    return out


@pytest.mark.parametrize("case", CASES)
def test_control_plane_restarts_exactly_what_was_stopped(case):
    steps = {s.key: s for s in runbook.build(CASES[case])}
    stopped = _moved(steps["stop-writers"].lines + steps["restore"].lines, runbook.MANIFESTS, runbook.STOPPED_DIR)
    started = _moved(steps["start-control-plane"].lines, runbook.STOPPED_DIR, runbook.MANIFESTS)
    assert stopped == {"kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml", "etcd.yaml"}
    assert started == stopped
    start = [line for line in steps["start-control-plane"].lines if line.startswith("$ mv")]
    assert "etcd.yaml" in start[0] and "kube-apiserver.yaml" in start[1]  # etcd, then the API server, then the rest


def test_bumped_rewrite_needs_no_restarts_and_no_second_bump():
    f = _facts(bumped=True, mode=("--bump-revision 1000000", "--mark-compacted"))
    steps = {s.key: s for s in runbook.build(f)}
    assert "--bump-revision 1000000 --mark-compacted --report final-plan.json" in steps["rewrite-final"].lines[0]
    assert len(steps["rewrite-final"].lines) == 1  # no advice to add a bump it already has
    assert "do not pass --bump-revision to the restore" in "\n".join(steps["restore"].lines)
    assert "Nothing to restart" in steps["relist"].lines[0]
    unbumped = {s.key: s for s in runbook.build(_facts())}
    assert "Add --bump-revision 1000000 --mark-compacted" in unbumped["rewrite-final"].lines[1]


def test_identity_or_empty_plan_has_no_runbook():
    same = Options(CidrMap.parse(["10.96.0.0/12=10.96.0.0/12"]), CidrMap(()))
    assert runbook.build(runbook.facts(Plan("x.db", 5), same, False)) == []
    moving = Options(CidrMap.parse([f"{SVC[0]}={SVC[1]}"]), CidrMap(()))
    assert runbook.steps(Plan("x.db", 5), moving, "out.db", False) == []  # nothing to move in the snapshot


def test_commands_are_complete():
    for case, f in CASES.items():
        text = _text(f)
        assert "<" not in text.replace("<<", ""), case  # no "<the rewritten snapshot>" style holes
        assert "etcdutl snapshot restore final-migrated.db --name NAME" in text
        assert "jsonpath='{.data.ClusterConfiguration}'" in text
        assert "--cacert=/etc/kubernetes/pki/etcd/ca.crt" in text and "releases/download/v$ETCD_VER" in text
        for line in text.splitlines():
            if line.strip().startswith("$ "):
                shlex.split(line.strip()[2:].split(" # ")[0])  # every command is valid shell quoting


@pytest.mark.parametrize("case", [*CASES, "bumped"])
def test_every_snaprewrite_command_parses(case):
    """Each printed snaprewrite command is accepted by its own command line (rehearse takes no revision flags)."""
    from typer.main import get_command

    from snaprewrite.cli import app

    f = _facts(bumped=True, mode=("--as-new-revision", "--bump-revision 7", "--mark-compacted")) \
        if case == "bumped" else CASES[case]
    group = get_command(app)
    seen = set()
    for line in _text(f).splitlines():
        line = line.strip()
        if line.startswith("$ snaprewrite "):
            argv = shlex.split(line[2:].split(" # ")[0])[1:]
            group.commands[argv[0]].make_context(argv[0], argv[1:])  # raises on an unknown or malformed option
            seen.add(argv[0])
    assert seen >= {"rehearse", "rewrite", "verify", "manifests"}


def test_cert_mapping_is_the_range_holding_the_kubernetes_service():
    f = runbook.Facts("in.db", (("fd00:10:96::/112", "fd00:10:112::/112"), SVC), (), (), ("10.96.0.1", "10.128.0.1"),
                      (), (), (), False)
    assert f.cert_mapping == SVC
    assert ipaddress.ip_address(f.api[0]) in ipaddress.ip_network(f.cert_mapping[0])


# --- the docs are the tool's output ------------------------------------------------------------------

def _run_case(real_snapshot, case, tmp_path):
    rep = tmp_path / f"{case}.json"
    out = blocks_mod.run_rewrite(real_snapshot, blocks_mod.CASES[case], "--report", str(rep)).stdout
    return blocks_mod.printed_runbook(out), json.loads(rep.read_text())


@pytest.mark.parametrize("case", list(blocks_mod.CASES))
def test_docs_show_exactly_what_rewrite_prints(real_snapshot, case, tmp_path):
    printed, rep = _run_case(real_snapshot, case, tmp_path)
    assert printed == "".join(step + "\n" for step in rep["runbook"])  # the report holds the printed runbook
    docs = blocks_mod.blocks(DOC.read_text())
    assert docs[case] == printed, f"docs/runbook.md block {case} is stale: run make runbook-docs"


def test_docs_sections_follow_the_printed_steps():
    docs = DOC.read_text()
    both = blocks_mod.blocks(docs)["both"]
    printed = [(int(m[1]), m[2]) for m in re.finditer(r"^(\d+)\. (.+)$", both, re.M)]
    sections = [(int(m[1]), m[2]) for m in re.finditer(r"^#{2,3} Step (\d+)\. (.+)$", docs, re.M)]
    assert sections == printed


def test_reduced_downtime_docs_match_what_the_tool_does(real_snapshot, tmp_path):
    printed, rep = _run_case(real_snapshot, "reduced-downtime", tmp_path)
    fields = {(c["key"].rsplit("/", 1)[-1], c["field"]) for c in rep["changes"]}
    # the tool keeps kube-dns and kubelet's clusterDNS where they are, and the runbook says so
    assert not any(name == "kube-dns" or "clusterDNS" in field for name, field in fields)
    assert ("kubernetes", "spec.clusterIP") in fields
    assert "Point kubelet at the new DNS address" not in printed
    assert "kube-dns kept 10.96.0.10 and kubelets still point at it" in printed


def test_printed_snaprewrite_commands_run_as_printed(real_snapshot, tmp_path, etcd35):
    """The final rewrite, verify and rehearse lines of the printed runbook work when pasted."""
    printed, _ = _run_case(real_snapshot, "both", tmp_path)
    shutil.copyfile(real_snapshot, tmp_path / "final.db")  # stands for the final snapshot
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    lines = [ln.strip()[2:] for ln in printed.splitlines() if ln.strip().startswith("$ snaprewrite ")]
    wanted = [ln for ln in lines if ln.startswith(("snaprewrite rewrite final.db", "snaprewrite verify final.db",
                                                   "snaprewrite rehearse final-migrated.db"))]
    assert len(wanted) == 3
    for line in wanted:
        argv = shlex.split(line.split(" # ")[0])[1:]
        if argv[0] == "rehearse":
            argv += ["--etcd", str(etcd35.etcd.parent)]
        done = subprocess.run([sys.executable, "-c", "from snaprewrite.cli import main; main()", *argv],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (line, done.stderr)
    assert json.loads((tmp_path / "final-plan.json").read_text())["summary"]["servicesChanged"] == 2


def test_reduced_downtime_kube_dns_move_runs_on_the_real_api_server(real_snapshot, etcd35, kube_apiserver, tmp_path):
    """The printed "move kube-dns later" commands, pasted into a shell, move kube-dns on kube-apiserver 1.20.2.

    The reduced-downtime rewrite of the real snapshot is restored with real etcd; the API server runs
    with the new range; every kubectl line of the step runs as printed (kubectl pointed at it).
    """
    from snaprewrite.rehearsal.apiserver import control_plane, find_kube_tool
    from snaprewrite.rehearsal.server import restore

    if shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    printed, _ = _run_case(real_snapshot, "reduced-downtime", tmp_path)
    step = printed.split(". Move kube-dns later", 1)[1]
    commands = [ln.strip()[2:] for ln in step.splitlines() if ln.strip().startswith("$ ")]
    kubectl_lines = [c for c in commands if "kubelet/config.yaml" not in c]  # host files: not on this machine
    assert len(kubectl_lines) == 4 and len(commands) == 5
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    out = tmp_path / "migrated.db"
    done = subprocess.run([sys.executable, "-c", "from snaprewrite.cli import main; main()", "rewrite",
                           str(real_snapshot), "--out", str(out), *blocks_mod.CASES["reduced-downtime"]],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    data_dir = restore(etcd35, out, tmp_path / "etcd")
    kubectl = find_kube_tool("kubectl")
    with control_plane(etcd35, ["10.128.0.0/12"], data_dir=data_dir, kube_apiserver=kube_apiserver,
                       workdir=tmp_path) as cp:
        api = cp.apiserver
        wrapper = tmp_path / "bin"
        wrapper.mkdir()
        (wrapper / "kubectl").write_text(f"#!/bin/sh\nexec {kubectl} --kubeconfig={api.kubeconfig()} \"$@\"\n")
        (wrapper / "kubectl").chmod(0o755)
        shell_env = dict(os.environ, PATH=f"{wrapper}:{os.environ['PATH']}", HOME=str(tmp_path))

        def svc_ip(name: str) -> str:
            return api.get(f"/api/v1/namespaces/kube-system/services/{name}")["spec"]["clusterIP"]

        assert svc_ip("kube-dns") == "10.96.0.10"  # kept through the window
        for line in kubectl_lines:
            ran = subprocess.run(["bash", "-o", "pipefail", "-c", line], env=shell_env, capture_output=True,
                                 text=True, timeout=60)
            assert ran.returncode == 0, (line, ran.stderr)
            if "kubectl create" in line:
                assert svc_ip("kube-dns-migration") == "10.128.0.10"
        assert svc_ip("kube-dns") == "10.128.0.10"
        assert api.request("GET", "/api/v1/namespaces/kube-system/services/kube-dns-migration").status == 404
        kubelet = api.get("/api/v1/namespaces/kube-system/configmaps/kubelet-config-1.18")["data"]["kubelet"]
        assert "- 10.128.0.10" in kubelet and "10.96.0.10" not in kubelet


@pytest.mark.parametrize("mapping, cert", [("fd00:10:96::/112=fd00:10:112::/112", False),
                                           ("192.168.0.0/16=10.112.0.0/16", True)])
def test_dual_stack_certificate_step_follows_the_primary_family(fixture_path, mapping, cert):
    """In the dual-stack fixture (IPv4 primary) only an IPv4 service move changes the certificate's SAN."""
    from snaprewrite.etcd.snapshot import Snapshot
    from snaprewrite.rewrite import plan as planning

    options = Options(CidrMap.parse([mapping]), CidrMap(()))
    with Snapshot(str(fixture_path("k8s-etcd35.db"))) as snap:
        plan = planning.build(snap, options)
    text = "\n".join(runbook.steps(plan, options, None, False))
    assert plan.edits and text
    assert ("snaprewrite certs /etc/kubernetes/pki --service-cidr 192.168.0.0/16=10.112.0.0/16" in text) is cert
    assert ("Reissue the API server certificate" in text) is cert
