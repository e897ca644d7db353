"""verify checks values, not names: a report accounts for a difference only with the same old and new value.

OLD is the real kubeadm snapshot. The plan is a dry run moving services 10.96.0.0/12 -> 172.24.0.0/16 and
pods 10.5.0.0/16 -> 10.66.0.0/16; the outputs are the real rewrite with those flags, one with
172.25.0.0/16 (an operator's slip), and the right output hand-tampered through the project's own
bbolt writer. What the tampered file really holds is read back through real etcd, never taken from verify.
"""

import base64
import contextlib
import hashlib
import json
import shutil
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snaprewrite import __version__
from snaprewrite.bbolt.writer import Transaction
from snaprewrite.cli import app
from snaprewrite.etcd import kv, mvcc, revision
from snaprewrite.etcd.output import write_streamed
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s.decode import decode_value
from snaprewrite.rehearsal.server import EtcdServer, restore, snapshot_save, snapshot_status

runner = CliRunner()
REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES_24 = ["--service-cidr", "10.96.0.0/12=172.24.0.0/16"]
PODS = ["--pod-cidr", "10.5.0.0/16=10.66.0.0/16"]
DNS = b"/registry/services/specs/kube-system/kube-dns"
RANGE = b"/registry/ranges/serviceips"
COREDNS = b"/registry/configmaps/kube-system/coredns"
CLUSTER_INFO = b"/registry/configmaps/kube-public/cluster-info"
KUBEADM = b"/registry/configmaps/kube-system/kubeadm-config"
PROXY = b"/registry/configmaps/kube-system/kube-proxy"
K8S_SERVICES = ["--service-cidr", "192.168.0.0/16=172.24.0.0/16"]


def cli(*args, code=0):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r


def verify_json(old, new, report=None, code=0) -> tuple[dict, str]:
    args = ["verify", old, new, "-o", "json"] + (["--report", report] if report else [])
    r = cli(*args, code=code)
    return json.loads(r.stdout), r.stderr


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tamper(src: Path, dst: Path, edits: dict) -> None:
    """tamper writes ``src`` to ``dst`` with the latest record of each key replaced by ``edit(KeyValue)``."""
    with Snapshot(src) as snap:
        index = mvcc.live_keys(snap)
        records = {index[k]: fn(mvcc.record_at(snap, index[k]).kv) for k, fn in edits.items()}

        def build(sink):
            tx = Transaction(snap.pages, sink=sink)
            for revkey in sorted(records):
                tx.put((b"key",), revkey, kv.encode(records[revkey]))
            return tx.commit()

        write_streamed(snap, str(dst), build)


@contextlib.contextmanager
def restored_etcd_record(tools, snapshot, tmp_path, key: str):
    """restored_etcd_record restores a snapshot with real etcd and yields what it serves for one key."""
    with EtcdServer(tools, restore(tools, snapshot, tmp_path / "restored-record")) as server, \
            server.client() as client:
        yield client.get(key)


def replace_once(old: bytes, new: bytes):
    """replace_once edits one value in place (same length, so the protobuf stays valid)."""

    def edit(rec: kv.KeyValue) -> kv.KeyValue:
        assert rec.value.count(old) == 1 and len(old) == len(new)
        return kv.KeyValue(rec.key, rec.create_revision, rec.mod_revision, rec.version,
                           rec.value.replace(old, new), rec.lease)

    return edit


@pytest.fixture(scope="module")
def made(real_snapshot, tmp_path_factory) -> dict:
    """made holds the plan (dry run), the right output and its report, and an output made with other CIDRs."""
    d = tmp_path_factory.mktemp("verify")
    files = {"plan": d / "plan.json", "good": d / "good.db", "report": d / "report.json", "other": d / "other.db"}
    cli("rewrite", real_snapshot, "--dry-run", "--report", files["plan"], *SERVICES_24, *PODS, "-o", "json")
    cli("rewrite", real_snapshot, "--out", files["good"], "--report", files["report"], *SERVICES_24, *PODS)
    cli("rewrite", real_snapshot, "--out", files["other"], "--service-cidr", "10.96.0.0/12=172.25.0.0/16", *PODS)
    files["dir"] = d
    return files


def test_matching_pair_passes_with_the_plan_and_with_the_rewrite_report(real_snapshot, made):
    for report in (made["plan"], made["report"]):
        result, _ = verify_json(real_snapshot, made["good"], report)
        assert result["uncovered"] == [] and result["snaprewriteVersion"] == __version__
    planned = {(c["key"], c["field"]): (c["old"], c["new"]) for c in json.loads(made["plan"].read_text())["changes"]}
    seen = {(d["key"], c["field"]): (c["old"], c["new"]) for d in result["differences"] for c in d["changes"]}
    assert seen == planned and len(planned) == 14


def test_rewrite_to_other_cidrs_fails_against_the_plan(real_snapshot, made):
    result, err = verify_json(real_snapshot, made["other"], made["plan"], code=1)
    lines = result["uncovered"]
    assert f"{DNS.decode()} spec.clusterIP: 10.96.0.10 -> 172.25.0.10, the report says 10.96.0.10 -> 172.24.0.10" in lines
    assert any(x.startswith(f"{RANGE.decode()} data: ") and "172.25.0.0/16" in x for x in lines)
    assert any("data.kubelet:clusterDNS[0]: 10.96.0.10 -> 172.25.0.10" in x for x in lines)
    assert all("\n" not in x for x in lines) and len(err.splitlines()) == 1
    text = cli("verify", real_snapshot, made["other"], "--report", made["plan"], code=1)
    assert text.stdout.count("NOT AS REPORTED: ") == len(lines)


def test_report_of_another_snapshot_is_refused(real_snapshot, made, fixture_path, tmp_path):
    other_plan = tmp_path / "k8s.json"
    cli("rewrite", fixture_path("k8s-etcd35.db"), "--dry-run", "--report", other_plan, *K8S_SERVICES, "-o", "json")
    r = cli("verify", real_snapshot, made["good"], "--report", other_plan, code=1)
    assert r.stdout == "" and len(r.stderr.splitlines()) == 1 and "another snapshot" in r.stderr
    # same size, one byte different (its trailer): the sha256 tells them apart
    copy = tmp_path / "copy.db"
    data = bytearray(real_snapshot.read_bytes())
    data[-1] ^= 1
    copy.write_bytes(bytes(data))
    r = cli("verify", copy, made["good"], "--report", made["plan"], code=1)
    assert r.stdout == "" and "another snapshot" in r.stderr and sha(copy) in r.stderr and sha(real_snapshot) in r.stderr
    # a report without the input's identity (older snaprewrite) cannot be checked: refused
    old_style = json.loads(made["plan"].read_text())
    old_style["input"] = str(real_snapshot)
    (tmp_path / "old.json").write_text(json.dumps(old_style))
    r = cli("verify", real_snapshot, made["good"], "--report", tmp_path / "old.json", code=1)
    assert "sha256" in r.stderr and len(r.stderr.splitlines()) == 1


def test_listed_changes_missing_from_new_fail(real_snapshot, made):
    result, _ = verify_json(real_snapshot, real_snapshot, made["plan"], code=1)
    assert result["differences"] == [] and len(result["uncovered"]) == 14
    assert all("does not show that change" in x for x in result["uncovered"])


def test_tampered_output_fails_and_verify_shows_what_etcd_holds(real_snapshot, made, etcd35, restored_etcd):
    bad = made["dir"] / "tampered.db"
    tamper(made["good"], bad, {
        DNS: replace_once(b"172.24.0.10", b"172.24.0.11"),  # a planned field, wrong value
        RANGE: replace_once(b"\x1a\x02\x02\x01", b"\x1a\x02\x02\x03"),  # one more bit in the bitmap
        COREDNS: replace_once(b"lameduck 5s", b"lameduck 6s"),  # one byte of an unrelated value
        KUBEADM: replace_once(b"clusterName: kubernetes", b"clusterName: kubernetez"),  # beside a planned edit
        PROXY: replace_once(b'acceptContentTypes: ""', b"acceptContentTypes: ''"),  # same value, other text
        CLUSTER_INFO: lambda r: kv.KeyValue(r.key, r.create_revision, r.mod_revision, r.version + 1, r.value,
                                            r.lease),  # only the record's version
    })
    with restored_etcd(etcd35, real_snapshot).client() as c:
        before = {r.key: r for r in c.range()}
    with restored_etcd(etcd35, bad).client() as c:
        after = {r.key: r for r in c.range()}
    result, _ = verify_json(real_snapshot, bad, made["plan"], code=1)
    lines = result["uncovered"]
    assert f"{DNS.decode()} spec.clusterIP: 10.96.0.10 -> 172.24.0.11, the report says 10.96.0.10 -> 172.24.0.10" in lines
    assert [x for x in lines if x.startswith(f"{RANGE.decode()} data: 2 addresses")] == [
        x for x in lines if "3 addresses allocated in 172.24.0.0/16" in x and "the report says" in x]
    assert any(x.startswith(f"{COREDNS.decode()} data.Corefile: ") and x.endswith("not in the report") for x in lines)
    v = before[CLUSTER_INFO].version
    assert after[CLUSTER_INFO].version == v + 1
    assert f"{CLUSTER_INFO.decode()} (version): {v} -> {v + 1}, expected {v} (in place)" in lines
    assert f"{KUBEADM.decode()} data.ClusterConfiguration:clusterName: kubernetes -> kubernetez, not in the report" in lines
    proxy = [x for x in lines if x.startswith(PROXY.decode())]
    assert len(proxy) == 2 and "acceptContentTypes: ''" in proxy[0] and proxy[0].endswith("not in the report")
    assert proxy[1].endswith("data.config.conf:clusterCIDR: the report says 10.5.0.0/16 -> 10.66.0.0/16, "
                             "but the new snapshot does not show that change")
    assert len(lines) == 7
    # the rewrite's own report also knows its output's sha256: the tampered file is not it
    result, _ = verify_json(real_snapshot, bad, made["report"], code=1)
    assert any(x.startswith(f"{bad}: sha256 {sha(bad)} is not the sha256 {sha(made['good'])}") for x in result["uncovered"])

    # without a report: every differing key, with its old and new values as real etcd serves them
    result, _ = verify_json(real_snapshot, bad)
    differ = {k for k in before if before[k] != after.get(k)} | {k for k in after if k not in before}
    assert {d["key"].encode() for d in result["differences"]} == differ
    assert {COREDNS, CLUSTER_INFO, DNS, RANGE, KUBEADM, PROXY} <= differ
    shown = {(d["key"].encode(), c["field"]): (c["old"], c["new"]) for d in result["differences"] for c in d["changes"]}
    old_dns, new_dns = decode_value(before[DNS].value), decode_value(after[DNS].value)
    assert shown[(DNS, "spec.clusterIP")] == (old_dns["spec"]["clusterIP"], new_dns["spec"]["clusterIP"])
    assert new_dns["spec"]["clusterIP"] == "172.24.0.11"
    assert shown[(CLUSTER_INFO, "(version)")] == (str(before[CLUSTER_INFO].version), str(after[CLUSTER_INFO].version))
    corefile = (decode_value(before[COREDNS].value)["data"]["Corefile"], decode_value(after[COREDNS].value)["data"]["Corefile"])
    assert shown[(COREDNS, "data.Corefile")] == corefile and "lameduck 6s" in corefile[1]
    text = cli("verify", real_snapshot, bad).stdout
    assert "    spec.clusterIP: 10.96.0.10 -> 172.24.0.11\n" in text


def test_ipaddress_renames_and_revision_modes(fixture_path, fixture_expected, tmp_path, monkeypatch):
    """Renamed IPAddress keys pair by the report's newKey; revisions must be what the report's mode writes."""
    from snaprewrite.rewrite import job

    monkeypatch.setattr(job, "RENAMES_AT_ONCE", 4)  # the six renames' newRecord found in two reads
    src = fixture_path("k8s-etcd35.db")
    etcd = fixture_expected("k8s")  # what real etcd served from the fixture
    records = {base64.b64decode(k["key"]).decode(): k for k in etcd["keys"]}
    in_place, as_new = tmp_path / "in-place.json", tmp_path / "as-new.json"
    cli("rewrite", src, "--dry-run", "--report", in_place, *K8S_SERVICES, "-o", "json")
    cli("rewrite", src, "--dry-run", "--report", as_new, *K8S_SERVICES, "--as-new-revision", "-o", "json")
    out_in_place, out_as_new = tmp_path / "a.db", tmp_path / "b.db"
    cli("rewrite", src, "--out", out_in_place, *K8S_SERVICES)
    cli("rewrite", src, "--out", out_as_new, *K8S_SERVICES, "--as-new-revision")
    result, _ = verify_json(src, out_in_place, in_place)
    renamed = [d for d in result["differences"] if d["how"] == "renamed"]
    assert len(renamed) == 6 and all(d["newKey"].startswith("/registry/ipaddresses/172.24.") for d in renamed)
    assert verify_json(src, out_as_new, as_new)[0]["uncovered"] == []
    new_rev = json.loads(as_new.read_text())["newRevision"]
    assert new_rev == etcd["revision"] + 1
    # each output against the other mode's report: the revisions give it away
    lines = verify_json(src, out_as_new, in_place, code=1)[0]["uncovered"]
    web = records["/registry/services/specs/default/web"]
    assert (f"/registry/services/specs/default/web (mod_revision): {web['mod_revision']} -> {new_rev}, "
            f"expected {web['mod_revision']} (in place)") in lines
    assert (f"/registry/services/specs/default/web (version): {web['version']} -> {web['version'] + 1}, "
            f"expected {web['version']} (in place)") in lines
    lines = verify_json(src, out_in_place, as_new, code=1)[0]["uncovered"]
    ip = records["/registry/ipaddresses/192.168.0.1"]
    assert (f"/registry/ipaddresses/192.168.0.1 -> /registry/ipaddresses/172.24.0.1 (create_revision): "
            f"{ip['create_revision']} -> {ip['mod_revision']}, expected {new_rev} (the report's newRecord)") in lines
    kubelet = records["/registry/configmaps/kube-system/kubelet-config"]["mod_revision"]
    assert (f"/registry/configmaps/kube-system/kubelet-config (mod_revision): {kubelet} -> {kubelet}, "
            f"expected {new_rev} (--as-new-revision {new_rev})") in lines
    renamed = [c for c in json.loads(as_new.read_text())["changes"] if c.get("newKey")]
    assert len(renamed) == 6 and all(c["newRecord"] == {"createRevision": new_rev, "modRevision": new_rev, "version": 1}
                                     for c in renamed)
    # in place, the report records where each renamed record went; verify holds the output to it
    report = json.loads(in_place.read_text())
    moved = next(c for c in report["changes"] if c["key"] == "/registry/ipaddresses/192.168.0.1")
    assert moved["newRecord"] == {"createRevision": ip["mod_revision"], "modRevision": ip["mod_revision"], "version": 1}
    moved["newRecord"]["version"] = 2
    (tmp_path / "placed.json").write_text(json.dumps(report))
    lines = verify_json(src, out_in_place, tmp_path / "placed.json", code=1)[0]["uncovered"]
    assert lines == [f"/registry/ipaddresses/192.168.0.1 -> /registry/ipaddresses/172.24.0.1 (version): {ip['version']} -> 1, "
                     "expected 2 (the report's newRecord)"]
    # a rename the report does not make: the new key is added, the old one removed, neither listed
    report = json.loads(in_place.read_text())
    report["changes"] = [c for c in report["changes"] if c["key"] != "/registry/ipaddresses/192.168.5.5"]
    (tmp_path / "cut.json").write_text(json.dumps(report))
    lines = verify_json(src, out_in_place, tmp_path / "cut.json", code=1)[0]["uncovered"]
    assert lines == ["/registry/ipaddresses/172.24.5.5: added, not in the report",
                     "/registry/ipaddresses/192.168.5.5: removed, not in the report"]


def test_report_provenance(real_snapshot, made, etcd35):
    report = json.loads(made["report"].read_text())
    assert report["snaprewriteVersion"] == __version__
    assert report["options"] == {"SNAP": str(real_snapshot), "--out": str(made["good"]),
                                 "--report": str(made["report"]), "--service-cidr": ["10.96.0.0/12=172.24.0.0/16"],
                                 "--pod-cidr": ["10.5.0.0/16=10.66.0.0/16"]}
    data = real_snapshot.read_bytes()
    status = snapshot_status(etcd35, real_snapshot)  # etcd's own view of the input
    assert report["input"] == {"path": str(real_snapshot), "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                               "trailerSha256": data[-32:].hex(), "revision": status["revision"]}
    out = made["good"].read_bytes()
    assert report["output"] == {"path": str(made["good"]), "size": len(out), "sha256": hashlib.sha256(out).hexdigest(),
                                "trailerSha256": out[-32:].hex()}
    plan = json.loads(made["plan"].read_text())
    assert plan["input"] == report["input"] and plan["output"] is None and plan["options"]["--dry-run"] is True
    shown = cli("rewrite", real_snapshot, "--out", made["dir"] / "again.db", *SERVICES_24).stdout
    assert f"sha256 {sha(made['dir'] / 'again.db')}" in shown


def test_version_is_the_package_version():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    r = cli("--version")
    assert r.stdout == f"snaprewrite {project['version']}\n" and project["version"] == __version__


def test_raw_database_input_identity_is_the_file_hash(real_snapshot, tmp_path):
    raw = tmp_path / "db"
    shutil.copyfile(real_snapshot, raw)
    with open(raw, "r+b") as f:
        f.truncate(raw.stat().st_size - 32)  # what member/snap/db is: no trailer
    plan = tmp_path / "p.json"
    cli("rewrite", raw, "--dry-run", "--report", plan, *SERVICES_24, "--skip-hash-check", "-o", "json")
    ident = json.loads(plan.read_text())["input"]
    assert ident["sha256"] == sha(raw) and "trailerSha256" not in ident


def test_secret_differences_are_named_never_shown(real_snapshot, tmp_path):
    with Snapshot(real_snapshot) as s:
        key = next(k for k in sorted(mvcc.live_keys(s, b"/registry/secrets/kube-system/")) if b"token" in k)
        rec = mvcc.record_at(s, mvcc.live_keys(s, key)[key]).kv
    token = base64.b64decode(decode_value(rec.value)["data"]["token"])
    piece = token[40:56]
    assert rec.value.count(piece) == 1
    changed = piece[:-1] + bytes([piece[-1] ^ 1])
    bad = tmp_path / "secret.db"
    tamper(real_snapshot, bad, {key: replace_once(piece, changed)})
    needles = [base64.b64encode(token).decode(), base64.b64encode(token.replace(piece, changed)).decode(),
               token.decode(), token.replace(piece, changed).decode()]
    out = cli("verify", real_snapshot, bad, "-o", "json").stdout + cli("verify", real_snapshot, bad).stdout
    assert "data.token: (redacted) -> (redacted)" in out and not [n for n in needles if n in out]
    result, _ = verify_json(real_snapshot, bad)
    assert [(d["key"], d["fields"]) for d in result["differences"]] == [(key.decode(), ["data.token"])]


def test_every_line_is_one_line_even_for_hostile_keys(fixture_path, tmp_path):
    src, bad = fixture_path("k8s-etcd35.db"), tmp_path / "evil.db"
    evil = b"/registry/evil\n\x1b[31mred\r"
    with Snapshot(src) as snap:
        main = mvcc.current_revision(snap) + 1

        def build(sink):
            tx = Transaction(snap.pages, sink=sink)
            tx.put((b"key",), revision.encode(revision.Revision(main, 0)),
                   kv.encode(kv.KeyValue(evil, main, main, 1, b"line one\nline two")))
            return tx.commit()

        write_streamed(snap, str(bad), build)
    plan = tmp_path / "p.json"
    cli("rewrite", src, "--dry-run", "--report", plan, *K8S_SERVICES, "-o", "json")
    r = cli("verify", src, bad, "--report", plan, code=1)
    assert "\x1b" not in r.stdout and "\r" not in r.stdout
    assert "added    /registry/evil\\n\\u001b[31mred\\r\n" in r.stdout
    assert "NOT AS REPORTED: /registry/evil\\n\\u001b[31mred\\r: added, not in the report\n" in r.stdout


def test_rollback_renames_pass_only_with_where_the_rewrite_put_them(etcd35, tmp_path):
    """A -> B -> A in place: renaming an IPAddress back continues its earlier generation (etcd.writes' undo);
    the report's newRecord says so, and without it the output would not match the mode's plain rule."""
    sys.path.insert(0, str(REPO_ROOT / "fixtures"))
    import generate
    import kubeobjects as ko

    dns = "/registry/ipaddresses/192.168.0.10"
    a, b, back = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "back.db"
    with EtcdServer(etcd35) as server, server.client() as client:
        r = generate.Recorder(client)
        generate.build_k8s(r)
        r.put(dns, ko.ip_address("192.168.0.10", "kube-system", "kube-dns", annotations={"v": "2"}))
        r.put(dns, ko.ip_address("192.168.0.10", "kube-system", "kube-dns", annotations={"v": "3"}))
        snapshot_save(server, a)
    forward, backward = tmp_path / "ab.json", tmp_path / "ba.json"
    cli("rewrite", a, "--out", b, "--report", forward, *K8S_SERVICES)
    assert verify_json(a, b, forward)[0]["uncovered"] == []
    cli("rewrite", b, "--dry-run", "--report", backward, "--service-cidr", "172.24.0.0/16=192.168.0.0/16", "-o", "json")
    cli("rewrite", b, "--out", back, "--service-cidr", "172.24.0.0/16=192.168.0.0/16")
    assert verify_json(a, back)[0]["differences"] == []  # the rollback is exact
    assert verify_json(b, back, backward)[0]["uncovered"] == []
    report = json.loads(backward.read_text())
    undone = next(c for c in report["changes"] if c.get("newKey") == dns)
    with restored_etcd_record(etcd35, a, tmp_path, dns) as rec:
        assert undone["newRecord"] == {"createRevision": rec.create_revision, "modRevision": rec.mod_revision,
                                       "version": rec.version} and rec.version == 3
    for c in report["changes"]:
        c.pop("newRecord", None)
    (tmp_path / "plain.json").write_text(json.dumps(report))
    lines = verify_json(b, back, tmp_path / "plain.json", code=1)[0]["uncovered"]
    assert f"/registry/ipaddresses/172.24.0.10 -> {dns} (version): 1 -> 3, expected 1 (in place)" in lines
