"""Where rewrite writes: every output path is checked before any work, outputs are published together, a
target that appeared meanwhile is never replaced without --force, and an unreadable input is one line.

Each test reads the files on disk afterwards: the input's sha256, what sits at --out and --report, and
that no temp file is left.
"""

import hashlib
import ipaddress
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import K8S_MAPPING, K8S_SNAPSHOT
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s.decode import decode_value
from snaprewrite.rehearsal.server import snapshot_status
from snaprewrite.rewrite import apply as applying

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("snaprewrite: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0].removeprefix("snaprewrite: error: ")


@pytest.fixture
def snap(tmp_path) -> Path:
    path = tmp_path / "in.db"
    shutil.copyfile(K8S_SNAPSHOT, path)
    return path


def rewrite(snap, *args):
    return runner.invoke(app, ["rewrite", str(snap), "-o", "json", *K8S_MAPPING, *map(str, args)])


def listing(folder) -> list[str]:
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "write"])
def test_report_naming_the_input_is_refused(snap, tmp_path, dry_run):
    before = sha256(snap)
    args = ["--dry-run"] if dry_run else ["--out", tmp_path / "out.db"]
    r = rewrite(snap, *args, "--report", snap)
    assert r.exit_code == 2, r.stdout
    assert one_error_line(r.stderr) == f"--report {snap} is the input snapshot {snap}: refusing to overwrite the input"
    assert sha256(snap) == before
    assert listing(tmp_path) == ["in.db"]


def test_out_naming_the_input_is_refused_even_with_force(snap, tmp_path):
    before = sha256(snap)
    r = rewrite(snap, "--out", snap, "--force")
    assert r.exit_code == 2
    assert one_error_line(r.stderr) == f"--out {snap} is the input snapshot {snap}: refusing to overwrite the input"
    assert sha256(snap) == before
    assert listing(tmp_path) == ["in.db"]


def test_report_naming_the_input_through_another_path_is_refused(snap, tmp_path):
    before = sha256(snap)
    link = tmp_path / "link.db"
    link.symlink_to(snap)
    r = rewrite(snap, "--dry-run", "--report", link)
    assert r.exit_code == 2
    assert "is the input snapshot" in one_error_line(r.stderr)
    assert sha256(snap) == before


def test_report_equal_to_out_is_refused(snap, tmp_path):
    out = tmp_path / "out.db"
    r = rewrite(snap, "--out", out, "--report", tmp_path / "." / "out.db")
    assert r.exit_code == 2
    assert one_error_line(r.stderr) == f"--report {tmp_path / '.' / 'out.db'} and --out {out} are the same file: " \
                                       f"give the report another name"
    assert listing(tmp_path) == ["in.db"]


@pytest.mark.parametrize("where", ["directory", "missing-dir"])
def test_report_path_that_cannot_be_written_fails_before_any_work(snap, tmp_path, where):
    out = tmp_path / "out.db"
    report = tmp_path / "reports" if where == "directory" else tmp_path / "nowhere" / "r.json"
    if where == "directory":
        report.mkdir()
    r = rewrite(snap, "--out", out, "--report", report)
    assert r.exit_code == 2
    line = one_error_line(r.stderr)
    assert line == (f"--report {report} is a directory" if where == "directory"
                    else f"--report {report}: directory {report.parent} does not exist")
    assert not out.exists()


def dropped_privileges() -> list[str]:
    """dropped_privileges is a command prefix running as root without the capabilities that skip permission checks."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0:
        return []
    if setpriv is None:
        pytest.skip("running as root and setpriv is not installed: permissions cannot be tested")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]


def test_report_in_a_read_only_folder_fails_before_the_snapshot_is_written(snap, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    out = tmp_path / "out.db"
    cmd = [*dropped_privileges(), sys.executable, "-m", "snaprewrite.cli", "rewrite", str(snap), "--out", str(out),
           *K8S_MAPPING, "--report", str(ro / "r.json")]
    p = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=60, check=False)
    assert p.returncode == 1, p.stderr
    assert one_error_line(p.stderr) == f"--report {ro / 'r.json'}: cannot write in {ro}: Permission denied"
    assert listing(tmp_path) == ["in.db", "ro"] and listing(ro) == []


def test_report_failing_at_the_end_publishes_nothing(snap, tmp_path, monkeypatch):
    """The report cannot be written after the snapshot is complete (disk full): neither file is published."""
    from snaprewrite.rewrite import job

    def full(fd, rep, observe=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(job, "_write_json", full)
    out, report = tmp_path / "out.db", tmp_path / "r.json"
    r = rewrite(snap, "--out", out, "--report", report)
    assert r.exit_code == 1
    assert one_error_line(r.stderr) == "OSError: [Errno 28] No space left on device"
    assert listing(tmp_path) == ["in.db"]


def test_outputs_published_together(snap, tmp_path, etcd35, restored_etcd):
    """Both outputs in place, the snapshot restored by real etcd holds every key, the Services moved."""
    before = sha256(snap)
    out, report = tmp_path / "out.db", tmp_path / "r.json"
    r = rewrite(snap, "--out", out, "--report", report)
    assert r.exit_code == 0, r.stderr
    assert json.loads(report.read_text())["changes"]
    assert os.stat(report).st_mode & 0o777 == 0o600
    assert sha256(snap) == before
    assert listing(tmp_path) == ["in.db", "out.db", "r.json"]
    with Snapshot(snap) as s:
        live = len(mvcc.live_keys(s))
    with restored_etcd(etcd35, out).client() as c:
        got = {rec.key: rec.value for rec in c.range()}
    assert len(got) == live  # renamed IPAddresses keep the count
    ips = [ip for k, v in got.items() if k.startswith(b"/registry/services/specs/")
           for ip in decode_value(v)["spec"].get("clusterIPs", []) if "." in ip]
    assert ips and all(ipaddress.ip_address(ip) in ipaddress.ip_network("172.24.0.0/16") for ip in ips)


def another_run_publishes_first(out: Path, monkeypatch) -> bytes:
    """another_run_publishes_first makes ``out`` appear once this run's snapshot is complete, before it is published."""
    theirs = b"another run's snapshot\n"
    real_verify = applying.verify_file

    def verify_then_race(path):
        real_verify(path)
        out.write_bytes(theirs)

    monkeypatch.setattr(applying, "verify_file", verify_then_race)
    return theirs


def test_out_appearing_meanwhile_is_not_replaced(snap, tmp_path, monkeypatch):
    out, report = tmp_path / "out.db", tmp_path / "r.json"
    theirs = another_run_publishes_first(out, monkeypatch)
    r = rewrite(snap, "--out", out, "--report", report)
    assert r.exit_code == 1, r.stdout
    line = one_error_line(r.stderr)
    assert line.startswith(f"{out} was created by another process while this run wrote {tmp_path}/.out.db.")
    assert line.endswith(".tmp: left as it is (replace it with --force)")
    assert out.read_bytes() == theirs
    assert listing(tmp_path) == ["in.db", "out.db"], "no report for a snapshot that was not published"


def test_out_appearing_meanwhile_is_replaced_with_force(snap, tmp_path, monkeypatch, etcd35):
    out = tmp_path / "out.db"
    another_run_publishes_first(out, monkeypatch)
    r = rewrite(snap, "--out", out, "--force")
    assert r.exit_code == 0, r.stderr
    assert snapshot_status(etcd35, out)["revision"] > 0
    assert listing(tmp_path) == ["in.db", "out.db"]


def test_publish_where_hard_links_are_not_supported(snap, tmp_path, monkeypatch, etcd35):
    """A filesystem without link(2): the name is claimed with O_EXCL instead, so a racing file still wins."""
    from snaprewrite.etcd import output

    def no_links(*args, **kwargs):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(output.os, "link", no_links)
    out = tmp_path / "out.db"
    assert rewrite(snap, "--out", out).exit_code == 0
    assert snapshot_status(etcd35, out)["revision"] > 0
    raced = tmp_path / "raced.db"
    theirs = another_run_publishes_first(raced, monkeypatch)
    r = rewrite(snap, "--out", raced)
    assert r.exit_code == 1
    assert "was created by another process" in one_error_line(r.stderr)
    assert raced.read_bytes() == theirs
    assert listing(tmp_path) == ["in.db", "out.db", "raced.db"]


def test_two_runs_racing_to_one_out(big_snapshot, tmp_path):
    """Two real processes start together: one publishes, the other says so in one line; never both."""
    out = tmp_path / "out.db"
    cmd = [sys.executable, "-m", "snaprewrite.cli", "rewrite", str(big_snapshot), "--out", str(out), "-o", "json",
           *K8S_MAPPING]
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
             for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    for p in procs:
        p.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 1], [0, 2]), results
    line = one_error_line(next(err for code, err in results if code))
    assert "was created by another process" in line or line == f"--out {out} exists (use --force to replace it)"
    assert listing(tmp_path) == ["out.db"]
    assert runner.invoke(app, ["check", str(out)]).exit_code == 0


@pytest.mark.parametrize("command", ["status", "rewrite", "verify"])
def test_unreadable_input_is_one_line(snap, tmp_path, command):
    snap.chmod(0)
    before = hashlib.sha256(K8S_SNAPSHOT.read_bytes()).hexdigest()
    args = {"status": ["status", str(snap)],
            "rewrite": ["rewrite", str(snap), "--out", str(tmp_path / "out.db"), *K8S_MAPPING],
            "verify": ["verify", str(snap), str(K8S_SNAPSHOT)]}[command]
    p = subprocess.run([*dropped_privileges(), sys.executable, "-m", "snaprewrite.cli", *args],
                       capture_output=True, text=True, env=ENV, timeout=60, check=False)
    assert p.returncode == 1, p.stderr
    assert one_error_line(p.stderr) == f"{snap}: cannot read it: Permission denied"
    assert listing(tmp_path) == ["in.db"]
    snap.chmod(0o600)
    assert sha256(snap) == before


@pytest.mark.parametrize("kind", ["directory", "fifo", "proc"])
def test_input_that_is_no_file(tmp_path, kind):
    path = {"directory": tmp_path, "fifo": tmp_path / "fifo", "proc": Path("/proc/self/status")}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    r = runner.invoke(app, ["rewrite", str(path), "--dry-run", *K8S_MAPPING])
    assert r.exit_code == 1
    assert one_error_line(r.stderr) == {
        "directory": f"{path}: is a directory",
        "fifo": f"{path}: not a regular file (a pipe, socket or device): copy the snapshot to a file first",
        "proc": f"{path}: empty file"}[kind]
