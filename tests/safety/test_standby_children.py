"""The children ``rewrite`` forks at its start and sends work later (``standby.Standby``) in a real run.

A signal while they wait ends them with the run (none left running, no output); one killed from outside
before its work is sent (the output's check) fails the run in one line and publishes nothing.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import gone

from snaprewrite import process

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
SNAP = REPO / "fixtures" / "k8s-etcd35.db"
MAPPING = ["--service-cidr", "192.168.0.0/16=172.24.0.0/16", "--pod-cidr", "10.244.0.0/16=10.55.0.0/16"]
pytestmark = pytest.mark.skipif(not process.may_fork(), reason="no fork")

# the doctor (in its child) waits for GO, and so does the run before it sends the output's check its work (else the
# check could be sent and done before the test acts); the run's process notes the standbys still waiting (the check's)
HELD_DOCTOR = """
import os, sys, time
from snaprewrite import cli, process, standby
from snaprewrite.rewrite import apply, job
MARKER, GO = sys.argv[1], sys.argv[2]
real = job.diagnose
def diagnose(state, plan, opts):
    waiting = "\\n".join(f"{name}={s.pid}" for name, s in standby._reserved.items())
    call = process.fork_call(lambda: held(), "doctor on the planned output", passes=(), died=job.SnapshotError)
    with open(MARKER + ".tmp", "w") as f:
        f.write(waiting)
    os.rename(MARKER + ".tmp", MARKER)
    return call
def held():
    deadline = time.monotonic() + 60
    while not os.path.exists(GO) and time.monotonic() < deadline:
        time.sleep(0.01)
    return None
def take(name, real=standby.take):
    if name == apply.STANDBY:  # the output's check is sent its work only after GO: the test acts on it first
        deadline = time.monotonic() + 60
        while not os.path.exists(GO) and time.monotonic() < deadline:
            time.sleep(0.01)
    return real(name)
job.diagnose = diagnose
standby.take = take
sys.argv = ["snaprewrite", *sys.argv[3:]]
cli.main()
"""


def _start(tmp_path, **kw):
    out = tmp_path / "out"
    out.mkdir()
    marker, go = tmp_path / "waiting", tmp_path / "go"
    p = subprocess.Popen([sys.executable, "-c", HELD_DOCTOR, str(marker), str(go), "rewrite", str(SNAP), "--out",
                          str(out / "out.db"), "--report", str(out / "r.json"), *MAPPING],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV, **kw)
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert p.poll() is None and time.monotonic() < deadline, p.stderr.read()
        time.sleep(0.01)
    waiting = dict(x.rsplit("=", 1) for x in marker.read_text().splitlines())
    return p, out, go, {name: int(pid) for name, pid in waiting.items()}


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT-group"])
def test_a_signal_while_a_standby_waits_ends_it_with_the_run(how, tmp_path):
    p, out, _, waiting = _start(tmp_path, start_new_session=True)
    assert list(waiting) == ["check of the output"]  # the reads and renames were sent theirs during planning
    sig = signal.SIGINT if how == "SIGINT-group" else signal.SIGTERM
    if how == "SIGINT-group":
        os.killpg(p.pid, sig)
    else:
        p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 128 + sig, err
    assert err.strip().splitlines() == [f"snaprewrite: error: interrupted by {sig.name}"]
    assert os.listdir(out) == []
    assert all(gone(pid) for pid in waiting.values()), "a standby is left running"


def test_a_check_standby_killed_before_its_work_fails_the_run_in_one_line(tmp_path):
    """MUST FAIL: the output's check never ran (its child was killed while it waited): nothing is published."""
    p, out, go, waiting = _start(tmp_path)
    os.kill(waiting["check of the output"], signal.SIGKILL)
    go.touch()
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1, err
    assert err.strip().splitlines() == [
        "snaprewrite: error: check of the output: its process was killed by SIGKILL"]
    assert os.listdir(out) == []
