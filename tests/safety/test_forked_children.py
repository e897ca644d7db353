"""A signal while ``rewrite``'s forked doctor runs (a real run, as a shell or systemd would send it).

The run stops with its one line and exit 128 + n, removes its temp files, and leaves no child running;
SIGINT sent to the whole process group (Ctrl-C) too.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import gone

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
SNAP = REPO / "fixtures" / "k8s-etcd35.db"
MAPPING = ["--service-cidr", "192.168.0.0/16=172.24.0.0/16", "--pod-cidr", "10.244.0.0/16=10.55.0.0/16"]

SLOW_DOCTOR = """
import os, sys, time
from snaprewrite import cli
from snaprewrite.rewrite import job
MARKER = sys.argv[1]
def slow(state, plan, opts):
    with open(MARKER + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(MARKER + ".tmp", MARKER)
    time.sleep(120)
job.planned_diagnosis = slow
sys.argv = ["snaprewrite", *sys.argv[2:]]
cli.main()
"""


def wait_for(path: Path, p: subprocess.Popen) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists():
            return int(path.read_text())
        assert p.poll() is None, p.stderr.read()
        time.sleep(0.01)
    raise AssertionError("the doctor child did not start")


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP", "SIGINT-group"])
def test_a_signal_while_the_doctor_child_runs_cleans_up(how, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    marker = tmp_path / "doctor.pid"
    p = subprocess.Popen([sys.executable, "-c", SLOW_DOCTOR, str(marker), "rewrite", str(SNAP), "--out",
                          str(out / "out.db"), "--report", str(out / "r.json"), *MAPPING],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV,
                         start_new_session=True)
    child = wait_for(marker, p)
    sig = signal.SIGINT if how == "SIGINT-group" else signal.Signals[how]
    if how == "SIGINT-group":
        os.killpg(p.pid, sig)  # Ctrl-C: every process of the group, the doctor child included
    else:
        p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 128 + sig, err
    assert err.strip().splitlines() == [f"snaprewrite: error: interrupted by {sig.name}"]
    assert os.listdir(out) == [], "no output, no report, no temp file"
    assert gone(child), "the doctor child is not left running"


def test_a_doctor_child_killed_from_outside_fails_the_run_in_one_line(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    marker = tmp_path / "doctor.pid"
    p = subprocess.Popen([sys.executable, "-c", SLOW_DOCTOR, str(marker), "rewrite", str(SNAP), "--out",
                          str(out / "out.db"), "--report", str(out / "r.json"), *MAPPING],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    os.kill(wait_for(marker, p), signal.SIGKILL)  # the OOM killer's choice, say
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1, err
    assert err.strip().splitlines() == [
        "snaprewrite: error: doctor on the planned output: its process was killed by SIGKILL"]
    assert os.listdir(out) == [], "nothing is published without the doctor's verdict"
