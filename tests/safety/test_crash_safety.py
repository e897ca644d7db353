"""rewrite under SIGKILL, a full disk and a concurrent writer: the input is never touched and the output path
holds either nothing or a complete, checked snapshot.

What a killed process leaves: it cannot clean up, so a hidden ``.<out>.<pid>.<random>.tmp`` beside the
output may remain after SIGKILL (never at the output path itself; the next run into that folder removes
it: test_signals.py). Every other failure (full disk, changed input, bad input) removes its temp file
before exiting 1.
"""

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from conftest import K8S_MAPPING, K8S_SNAPSHOT
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.etcd import output
from snaprewrite.rewrite import apply as applying

runner = CliRunner()
KILL_FRACTIONS = (0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.05)


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def rewrite_cmd(snap, out) -> list[str]:
    return [sys.executable, "-m", "snaprewrite.cli", "rewrite", str(snap), "--out", str(out), "-o", "json",
            *K8S_MAPPING]


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("snaprewrite: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture(scope="module")
def reference(big_snapshot, tmp_path_factory):
    """reference is (sha256 of the input, sha256 and duration of an uninterrupted rewrite of it)."""
    out = tmp_path_factory.mktemp("ref") / "out.db"
    t0 = time.monotonic()
    p = subprocess.run(rewrite_cmd(big_snapshot, out), capture_output=True, text=True, timeout=300, check=False)
    took = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    assert runner.invoke(app, ["check", str(out)]).exit_code == 0
    return sha256(big_snapshot), sha256(out), took


def test_rewrite_is_deterministic(big_snapshot, reference, tmp_path):
    """Two uninterrupted runs write the same bytes (so a file found at the output path can be compared)."""
    out = tmp_path / "again.db"
    p = subprocess.run(rewrite_cmd(big_snapshot, out), capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    assert sha256(out) == reference[1]


@pytest.mark.parametrize("fraction", KILL_FRACTIONS)
def test_sigkill_leaves_nothing_or_the_complete_output(fraction, big_snapshot, reference, tmp_path):
    in_sha, out_sha, took = reference
    out = tmp_path / "out.db"
    p = subprocess.Popen(rewrite_cmd(big_snapshot, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(took * fraction)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=60)
    assert sha256(big_snapshot) == in_sha, "the input changed"
    if out.exists():  # the kill came after the rename: it must be the whole, checked file
        assert sha256(out) == out_sha
    leftovers = [f for f in os.listdir(tmp_path) if f != "out.db"]
    assert all(f.startswith(".out.db.") and f.endswith(".tmp") for f in leftovers), leftovers


def test_out_of_disk_space(tmp_path):
    """rewrite into a 64 KiB tmpfs: exit 1, one ENOSPC line, no output, no temp file."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True, text=True,
                       check=False)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {r.stderr.strip()}")
    try:
        out = mnt / "out.db"
        p = subprocess.run(rewrite_cmd(K8S_SNAPSHOT, out), capture_output=True, text=True, timeout=120, check=False)
        assert p.returncode == 1, p.stdout[-500:]
        line = one_error_line(p.stderr)
        assert "No space left on device" in line, line
        assert os.listdir(mnt) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def invoke_rewrite(snap, out):
    return runner.invoke(app, ["rewrite", str(snap), "--out", str(out), "-o", "json", *K8S_MAPPING])


def copy_of(src, tmp_path):
    dst = tmp_path / f"in-{uuid.uuid4().hex[:8]}.db"
    dst.write_bytes(src.read_bytes())
    return dst


def test_input_appended_to_before_the_rename(tmp_path, monkeypatch):
    """Another process appends to the input after the copy, before the rename: refused, nothing written."""
    snap = copy_of(K8S_SNAPSHOT, tmp_path)
    out = tmp_path / "out.db"
    real_verify = applying.verify_file

    def verify_then_append(path):
        real_verify(path)
        with open(snap, "ab") as f:
            f.write(b"\0" * 4096)

    monkeypatch.setattr(applying, "verify_file", verify_then_append)
    r = invoke_rewrite(snap, out)
    assert r.exit_code == 1, r.stdout
    assert "changed while reading" in one_error_line(r.stderr)
    assert sorted(os.listdir(tmp_path)) == [snap.name]


def test_input_appended_to_during_the_copy(tmp_path, monkeypatch):
    """The append lands while the input is being copied (first output write): refused, nothing written."""
    snap = copy_of(K8S_SNAPSHOT, tmp_path)
    out = tmp_path / "out.db"
    real_write_all = output._write_all
    appended = []

    def write_and_append(fd, data):
        if not appended:
            with open(snap, "ab") as f:
                f.write(b"x" * 100)
            appended.append(True)
        real_write_all(fd, data)

    monkeypatch.setattr(output, "_write_all", write_and_append)
    r = invoke_rewrite(snap, out)
    assert appended and r.exit_code == 1, r.stdout
    assert "changed while reading" in one_error_line(r.stderr)
    assert sorted(os.listdir(tmp_path)) == [snap.name]


def test_input_appended_to_by_a_thread_while_a_read_command_scans(tmp_path, monkeypatch):
    """status notices an input that grew while it was scanning, and says so in one line."""
    from snaprewrite.etcd import mvcc
    snap = copy_of(K8S_SNAPSHOT, tmp_path)
    real_compact_state = mvcc.compact_state

    def compact_state_then_append(s):  # status reads it right after its scan (plain or livecount)
        cs = real_compact_state(s)
        with open(snap, "ab") as f:
            f.write(b"\0" * 512)
        return cs

    monkeypatch.setattr(mvcc, "compact_state", compact_state_then_append)
    r = runner.invoke(app, ["status", str(snap), "-o", "json"])
    assert r.exit_code == 1
    assert "changed while reading" in one_error_line(r.stderr)
