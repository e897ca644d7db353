"""Tests of the static pod manifest rewrite on kubeadm-made manifests."""

import fnmatch
import os
import stat

import pytest

from snaprewrite.errors import PlanError, UsageError
from snaprewrite.hostfiles.manifests import FlagChange, plan_manifests, rewrite_manifest, run, write_atomically
from snaprewrite.rewrite.cidr import CidrMap

APISERVER = """\
apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint: 192.168.0.13:6443
  creationTimestamp: null
  labels:
    component: kube-apiserver
    tier: control-plane
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=192.168.0.13
    - --allow-privileged=true
    - --authorization-mode=Node,RBAC
    - --client-ca-file=/etc/kubernetes/pki/ca.crt
    - --enable-admission-plugins=NodeRestriction
    - --etcd-servers=https://127.0.0.1:2379
    - --secure-port=6443
    - --service-account-key-file=/etc/kubernetes/pki/sa.pub
    - --service-cluster-ip-range=10.96.0.0/12
    - --tls-cert-file=/etc/kubernetes/pki/apiserver.crt
    image: k8s.gcr.io/kube-apiserver:v1.18.6
    imagePullPolicy: IfNotPresent
    livenessProbe:
      failureThreshold: 8
      httpGet:
        host: 192.168.0.13
        path: /healthz
        port: 6443
        scheme: HTTPS
    name: kube-apiserver
  hostNetwork: true
  priorityClassName: system-cluster-critical
status: {}
"""

CONTROLLER_MANAGER = """\
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: null
  labels:
    component: kube-controller-manager
    tier: control-plane
  name: kube-controller-manager
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-controller-manager
    - --allocate-node-cidrs=true
    - --authentication-kubeconfig=/etc/kubernetes/controller-manager.conf
    - --bind-address=127.0.0.1
    - --cluster-cidr=10.244.0.0/16,fd00:10:244::/56
    - --cluster-name=kubernetes
    - --controllers=*,bootstrapsigner,tokencleaner
    - --kubeconfig=/etc/kubernetes/controller-manager.conf
    - --leader-elect=true
    - --node-cidr-mask-size-ipv4=24
    - --node-cidr-mask-size-ipv6=64
    - "--service-cluster-ip-range=10.96.0.0/12,fd00:10:96::/108"
    - --use-service-account-credentials=true
    image: registry.k8s.io/kube-controller-manager:v1.27.3
    name: kube-controller-manager
  hostNetwork: true
status: {}
"""

SVC = "10.96.0.0/12=172.24.0.0/16,fd00:10:96::/108=fd00:20::/108"
POD = "10.244.0.0/16=10.55.0.0/16,fd00:10:244::/56=fd00:55::/56"


@pytest.fixture
def mdir(tmp_path):
    d = tmp_path / "manifests"
    d.mkdir()
    for name, text in [("kube-apiserver.yaml", APISERVER), ("kube-controller-manager.yaml", CONTROLLER_MANAGER),
                       ("etcd.yaml", "kind: Pod\n")]:
        (d / name).write_text(text)
        os.chmod(d / name, 0o600)
    return d


def test_plan_rewrites_exactly_the_flag_lines(mdir):
    edits = plan_manifests(mdir, CidrMap.parse(SVC), CidrMap.parse(POD))
    api, cm = edits
    assert api.path.name == "kube-apiserver.yaml"
    assert api.new_text == APISERVER.replace("--service-cluster-ip-range=10.96.0.0/12",
                                             "--service-cluster-ip-range=172.24.0.0/16")
    assert api.changes == [FlagChange("--service-cluster-ip-range", "10.96.0.0/12", "172.24.0.0/16")]
    assert cm.new_text == CONTROLLER_MANAGER.replace(
        "--cluster-cidr=10.244.0.0/16,fd00:10:244::/56", "--cluster-cidr=10.55.0.0/16,fd00:55::/56").replace(
        '"--service-cluster-ip-range=10.96.0.0/12,fd00:10:96::/108"',
        '"--service-cluster-ip-range=172.24.0.0/16,fd00:20::/108"')
    assert [c.flag for c in cm.changes] == ["--service-cluster-ip-range", "--cluster-cidr"]
    minus = [ln for ln in api.diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    plus = [ln for ln in api.diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    assert minus == ["-    - --service-cluster-ip-range=10.96.0.0/12"]
    assert plus == ["+    - --service-cluster-ip-range=172.24.0.0/16"]


def test_dry_run_writes_nothing(mdir):
    before = {p.name: p.read_bytes() for p in mdir.iterdir()}
    edits, written = run(mdir, service_cidr=SVC, pod_cidr=POD, dry_run=True)
    assert written == [] and all(e.changed for e in edits)
    assert {p.name: p.read_bytes() for p in mdir.iterdir()} == before


def test_run_writes_keeps_mode_and_leaves_a_hidden_backup(mdir):
    edits, written = run(mdir, service_cidr=SVC, pod_cidr=POD)
    assert len(written) == 2
    api = mdir / "kube-apiserver.yaml"
    assert "--service-cluster-ip-range=172.24.0.0/16" in api.read_text()
    assert stat.S_IMODE(api.stat().st_mode) == 0o600
    backups = sorted(p.name for p in mdir.iterdir() if p.name.endswith(".bak"))
    assert len(backups) == 2 and all(b.startswith(".") for b in backups)
    assert (mdir / dict(written)[api].name).read_text() == APISERVER
    # kubelet reads every file matching [^.]* : only the real manifests, no backup or temp file
    seen = sorted(p.name for p in mdir.iterdir() if fnmatch.fnmatch(p.name, "[!.]*"))
    assert seen == ["etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml"]

    # a second run finds nothing to do and says why
    edits2, written2 = run(mdir, service_cidr=SVC, pod_cidr=POD)
    assert written2 == [] and not any(e.changed for e in edits2)
    assert "--service-cluster-ip-range: 172.24.0.0/16 is already the new cidr" in edits2[0].notes


def test_flag_given_as_two_items_and_in_args():
    text = ("spec:\n  containers:\n  - command: [kube-controller-manager]\n    args:\n"
            "    - --cluster-cidr\n    - 10.244.0.0/16\n    - '--service-cluster-ip-range=10.96.0.0/12'\n")
    new, changes, notes = rewrite_manifest(text, {"--cluster-cidr": CidrMap.parse(POD),
                                                  "--service-cluster-ip-range": CidrMap.parse(SVC)})
    assert new == text.replace("- 10.244.0.0/16", "- 10.55.0.0/16").replace(
        "'--service-cluster-ip-range=10.96.0.0/12'", "'--service-cluster-ip-range=172.24.0.0/16'")
    assert len(changes) == 2 and notes == []


def test_unrelated_value_is_noted_and_misfit_raises():
    text = "spec:\n  containers:\n  - command:\n    - kube-apiserver\n    - --service-cluster-ip-range=10.0.0.0/24\n"
    new, changes, notes = rewrite_manifest(text, {"--service-cluster-ip-range": CidrMap.parse(SVC)})
    assert new == text and changes == []
    assert "not inside any old cidr" in notes[0]
    with pytest.raises(PlanError, match="wider than the new cidr"):
        rewrite_manifest(text.replace("10.0.0.0/24", "10.96.0.0/13"),
                         {"--service-cluster-ip-range": CidrMap.parse("10.96.0.0/12=172.24.0.0/16")})


def test_missing_flag_is_noted():
    _, changes, notes = rewrite_manifest("spec:\n  containers:\n  - command: [kube-apiserver]\n",
                                         {"--service-cluster-ip-range": CidrMap.parse(SVC)})
    assert changes == [] and notes == ["--service-cluster-ip-range is not set"]


def test_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="neither"):
        plan_manifests(tmp_path, CidrMap.parse(SVC))
    with pytest.raises(UsageError, match="not a directory"):
        plan_manifests(tmp_path / "nope", CidrMap.parse(SVC))
    with pytest.raises(UsageError):
        plan_manifests(tmp_path)


def test_write_atomically_follows_symlinks_and_names_unique_backups(tmp_path):
    real = tmp_path / "real.yaml"
    real.write_text("a: 1\n")
    os.chmod(real, 0o640)
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    b1 = write_atomically(link, "a: 2\n", now=0)
    b2 = write_atomically(link, "a: 3\n", now=0)
    assert link.is_symlink() and real.read_text() == "a: 3\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert b1.name == ".real.yaml.snaprewrite-19700101T000000Z.bak" and b1.read_text() == "a: 1\n"
    assert b2 != b1 and b2.read_text() == "a: 2\n"
    assert not [p for p in tmp_path.iterdir() if "tmp" in p.name]
    assert write_atomically(real, "a: 4\n", backup=False) is None


def test_cli_manifests_dry_run_then_write(mdir):
    from typer.testing import CliRunner

    from snaprewrite.cli import app

    runner = CliRunner()
    args = ["manifests", str(mdir), "--service-cidr", "10.96.0.0/12=172.24.0.0/16", "--pod-cidr", "10.244.0.0/16=10.55.0.0/16"]
    before = {p.name: p.read_text() for p in mdir.iterdir()}
    r = runner.invoke(app, args + ["--dry-run"])
    assert r.exit_code == 0, r.output
    assert "+    - --service-cluster-ip-range=172.24.0.0/16" in r.stdout and "dry run" in r.stdout
    assert {p.name: p.read_text() for p in mdir.iterdir()} == before
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "--service-cluster-ip-range=172.24.0.0/16" in (mdir / "kube-apiserver.yaml").read_text()
    assert "--cluster-cidr=10.55.0.0/16" in (mdir / "kube-controller-manager.yaml").read_text()
    r = runner.invoke(app, ["manifests", str(mdir)])
    assert r.exit_code == 2
