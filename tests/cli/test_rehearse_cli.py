"""The rehearse command: exit 0 with a clean report on a good snapshot, exit 1 and one line on a corrupt one."""

import json
import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "snaprewrite.cli", *map(str, args)], capture_output=True, text=True)


def test_rehearse_cli_migrated_fixture_and_corrupt_copy(fixture_path, etcd35, tmp_path):
    p = run("rehearse", fixture_path("k8s-etcd35.db"), "--etcd", str(etcd35.etcd), "-o", "json",
            "--service-cidr", "192.168.0.0/16=172.24.0.0/16", "--pod-cidr", "10.244.0.0/16=10.55.0.0/16")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["ok"] and r["rewritten"] and r["mismatches"] == [] and r["planned"] > 0
    assert r["revision"] == r["expectedRevision"] and r["keys"] == r["expectedKeys"]
    bad = tmp_path / "bad.db"
    data = bytearray(fixture_path("k8s-etcd35.db").read_bytes())
    data[5000:5100] = b"\xff" * 100
    bad.write_bytes(bytes(data))
    p = run("rehearse", bad, "--etcd", str(etcd35.etcd))
    assert p.returncode == 1
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("snaprewrite: error:") and "Traceback" not in p.stderr
