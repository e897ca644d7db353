"""Signals and crashes during a real run (subprocesses, as an operator's shell or systemd would see them).

SIGTERM, SIGHUP and SIGINT in the middle of a rewrite remove the temp file and exit 128 + n with one
line; SIGINT during the start-up imports too. A SIGKILL leaves its temp file, and the next run into the
same folder removes it (its pid is gone, its lock free) and names the temp files it cannot prove dead.
A child killed by the kernel (SIGKILL, SIGBUS when the input is truncated under its mapping) is reported
by the supervisor in one line, and its temp file removed.
"""

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import K8S_MAPPING, K8S_SNAPSHOT

from snaprewrite.rehearsal.server import snapshot_status

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if not line.startswith("import time:")]


def one_error_line(stderr: str) -> str:
    lines = error_lines(stderr)
    assert len(lines) == 1 and lines[0].startswith("snaprewrite: error: "), stderr
    return lines[0]


def start_rewrite(snap, out, *extra) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "snaprewrite.cli", "rewrite", str(snap), "--out", str(out), "-o", "json",
           *K8S_MAPPING, *extra]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)


def temps(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.endswith(".tmp"))


def size_of(path) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def wait_for_temp(folder, p: subprocess.Popen) -> str:
    """wait_for_temp returns the name of the run's temp file as soon as it has data (the write is under way).

    An empty one may be the check that the folder is writable, made and removed before any work.
    """
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        names = [n for n in temps(folder) if size_of(os.path.join(folder, n))]
        if names:
            return names[0]
        assert p.poll() is None, p.stderr.read()
        time.sleep(0.002)
    raise AssertionError("no temp file appeared")


def wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    raise AssertionError(f"pid {pid} still running")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_signal_during_the_copy_removes_the_temp_file(sig, big_snapshot, tmp_path):
    before = sha256(big_snapshot)
    p = start_rewrite(big_snapshot, tmp_path / "out.db")
    wait_for_temp(tmp_path, p)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 128 + sig, err
    assert one_error_line(err) == f"snaprewrite: error: interrupted by {sig.name}"
    assert os.listdir(tmp_path) == [], "no output and no temp file"
    assert sha256(big_snapshot) == before


def test_sigint_during_start_up_imports(tmp_path):
    """SIGINT while typer is still being imported: 130, one line, no traceback, nothing else imported."""
    cmd = [sys.executable, "-X", "importtime", "-m", "snaprewrite.cli", "status", str(K8S_SNAPSHOT)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    seen = []
    for line in p.stderr:  # -X importtime writes a line as each import finishes
        seen.append(line)
        if re.search(r"\|\s+typer\.", line):
            p.send_signal(signal.SIGINT)
            break
    out, err = p.communicate(timeout=30)
    err = "".join(seen) + err
    assert p.returncode == 130, err
    assert one_error_line(err) == "snaprewrite: error: interrupted by SIGINT"
    assert not re.search(r"\|\s+snaprewrite\.report$", err, re.M), "the imports should have stopped"
    assert out == ""


def test_after_sigkill_the_next_run_removes_the_dead_runs_temp(big_snapshot, tmp_path, etcd35):
    out = tmp_path / "out.db"
    p = start_rewrite(big_snapshot, out)
    name = wait_for_temp(tmp_path, p)
    p.send_signal(signal.SIGKILL)  # the supervisor: its child dies with it (PR_SET_PDEATHSIG)
    p.wait(timeout=60)
    p.stderr.close()
    writer = int(re.fullmatch(r"\.out\.db\.(\d+)\.[a-z0-9_]{8}\.tmp", name).group(1))
    wait_gone(writer)
    assert temps(tmp_path) == [name] and not out.exists()
    old_style = tmp_path / ".out.db.abcd1234.tmp"  # no pid: an older version's, or unknown
    alive = tmp_path / f".out.db.{os.getpid()}.efgh5678.tmp"  # its writer (this test) is running
    other = tmp_path / ".other.db.1.abcd1234.tmp"  # another target's: not looked at
    for f in (old_style, alive, other):
        f.write_bytes(b"x")

    p = start_rewrite(big_snapshot, out)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    lines = sorted(err.splitlines(), key=lambda line: " removed " not in line)
    assert lines[0] == f"snaprewrite: warning: removed {tmp_path / name}: temp file of an interrupted run " \
                       f"(pid {writer} is no longer running)"
    assert sorted(lines[1:]) == sorted([
        f"snaprewrite: warning: found {old_style}: a temp file without a writer's pid (an older snaprewrite?); "
        f"remove it by hand once no snaprewrite writes there",
        f"snaprewrite: warning: found {alive}: its writer, pid {os.getpid()}, is still running; "
        f"remove it by hand once no snaprewrite writes there"])
    assert temps(tmp_path) == sorted(f.name for f in (old_style, alive, other))
    assert snapshot_status(etcd35, out)["revision"] > 0  # complete: etcd's own check reads it


def test_child_killed_by_the_kernel_is_reported_and_its_temp_removed(big_snapshot, tmp_path):
    """The OOM killer's SIGKILL hits the worker, not the supervisor: one line, exit 137, no temp file."""
    p = start_rewrite(big_snapshot, tmp_path / "out.db")
    name = wait_for_temp(tmp_path, p)
    os.kill(int(name.split(".")[3]), signal.SIGKILL)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 128 + signal.SIGKILL
    assert one_error_line(err) == "snaprewrite: error: killed by SIGKILL (out of memory?)"
    assert os.listdir(tmp_path) == []


# The input is truncated by "another process" at a chosen moment (the patch runs in the child), and then
# read through the mapping: a real SIGBUS, which no Python code survives; the supervisor reports it.
TRUNCATE_DURING_SCAN = """
import os, sys
from snaprewrite import cli
from snaprewrite.bbolt import pages
real, real_spans, calls = pages.PageFile.span, pages.PageFile.spans, []
def span(self, pgid):  # every page read goes through PageFile.span (page() too) or .spans (many leaves)
    calls.append(pgid)
    if len(calls) == 3:
        os.truncate(self.path, 8192)
    return real(self, pgid)
def spans(self, pgids, flags):
    calls.append(pgids)
    if len(calls) == 3:
        os.truncate(self.path, 8192)
    return real_spans(self, pgids, flags)
pages.PageFile.span, pages.PageFile.spans = span, spans
sys.argv = ["snaprewrite", *sys.argv[1:]]
cli.main()
"""

TRUNCATE_DURING_COPY = """
import os, sys
from snaprewrite import cli
from snaprewrite.etcd import output
def copy(snap, *args):
    os.truncate(snap.path, 8192)
    return bytes(snap.pages.data[-4096:])  # the mapping past the new end
output._copy_prefix = copy
output.Prefill.finish = lambda self, copy_length: copy(self.snap)  # rewrite copies the input while it plans
sys.argv = ["snaprewrite", *sys.argv[1:]]
cli.main()
"""


def copy_of_fixture(tmp_path) -> Path:
    snap = tmp_path / "in" / "snap.db"
    snap.parent.mkdir()
    shutil.copyfile(K8S_SNAPSHOT, snap)
    return snap


@pytest.mark.parametrize("command", [["ls"], ["dump"], ["status", "-o", "json"]], ids=lambda c: c[0])
def test_input_truncated_under_a_read_command(command, tmp_path):
    snap = copy_of_fixture(tmp_path)
    size = snap.stat().st_size
    p = subprocess.run([sys.executable, "-c", TRUNCATE_DURING_SCAN, command[0], str(snap), *command[1:]],
                       capture_output=True, text=True, env=ENV, timeout=60, check=False)
    assert p.returncode == 1, p.stderr
    assert one_error_line(p.stderr) == f"snaprewrite: error: {snap}: input changed while reading: " \
                                       f"it was {size} bytes and is now 8192 (SIGBUS)"


def test_input_truncated_under_rewrite(tmp_path):
    snap = copy_of_fixture(tmp_path)
    size = snap.stat().st_size
    out = tmp_path / "out" / "out.db"
    out.parent.mkdir()
    p = subprocess.run([sys.executable, "-c", TRUNCATE_DURING_COPY, "rewrite", str(snap), "--out", str(out),
                        *K8S_MAPPING], capture_output=True, text=True, env=ENV, timeout=60, check=False)
    assert p.returncode == 1, p.stderr
    assert one_error_line(p.stderr) == f"snaprewrite: error: {snap}: input changed while reading: " \
                                       f"it was {size} bytes and is now 8192 (SIGBUS)"
    assert os.listdir(out.parent) == [], "the dead child's temp file is removed"
