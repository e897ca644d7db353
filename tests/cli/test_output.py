"""Output that fits pipes and logs: tables never cut a value, -w aliases -o, status -w fields like etcdutl,
one-line usage errors with exit 2, kubectl-like help with an example for every command.

The piped runs are real subprocesses with stdout a pipe and COLUMNS=80 (what a log collector sees); the
values they must show whole come from real etcd 3.5's ``etcdutl snapshot status``.
"""

import base64
import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from snaprewrite import report
from snaprewrite.cli import app
from snaprewrite.k8s import bitmap
from snaprewrite.rehearsal.server import snapshot_status

runner = CliRunner()
REAL_MAPPING = ["--service-cidr", "10.96.0.0/12=10.100.0.0/16", "--pod-cidr", "10.5.0.0/16=10.55.0.0/16"]
K8S_MAPPING = ["--service-cidr", "192.168.0.0/16=172.24.0.0/16", "--pod-cidr", "10.244.0.0/16=10.55.0.0/16"]


def piped(*args, columns: int = 80) -> subprocess.CompletedProcess:
    """piped runs snaprewrite with stdout and stderr as pipes and COLUMNS set, as a log collector would."""
    env = {**os.environ, "COLUMNS": str(columns), "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "snaprewrite.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300, check=False, stdin=subprocess.DEVNULL)


def test_piped_status_at_80_columns_shows_etcdutl_values_whole(real_snapshot, etcd35):
    want = snapshot_status(etcd35, real_snapshot)
    r = piped("status", real_snapshot)
    assert r.returncode == 0 and r.stderr == ""
    assert "…" not in r.stdout
    cells = {c.strip() for line in r.stdout.splitlines() for c in line.split("│")}
    assert {f"{want['hash']:08x}", str(want["revision"]), str(want["totalKey"]), str(want["totalSize"])} <= cells
    assert max(len(line) for line in r.stdout.splitlines()) > 80  # it did not squeeze itself into COLUMNS


def test_status_fields_begin_with_etcdutls_own(real_snapshot, etcd35):
    """-w fields prints etcdutl's four lines byte for byte, then snaprewrite's own fields in the same form."""
    tool = etcd35.etcdutl or etcd35.etcdctl
    want = subprocess.run([str(tool), "snapshot", "status", str(real_snapshot), "-w", "fields"], capture_output=True,
                          text=True, check=True, env=etcd35.env(), timeout=120).stdout
    got = runner.invoke(app, ["status", str(real_snapshot), "-w", "fields"])
    assert got.exit_code == 0
    assert got.stdout.splitlines()[:4] == want.splitlines()
    assert all(line.startswith('"') and '" : ' in line for line in got.stdout.splitlines())


@pytest.mark.parametrize("snapshot, mapping", [("real", REAL_MAPPING), ("k8s", K8S_MAPPING)])
def test_piped_rewrite_dry_run_at_80_columns_shows_every_value_whole(snapshot, mapping, real_snapshot, fixture_path):
    path = real_snapshot if snapshot == "real" else fixture_path("k8s-etcd35.db")
    rep = json.loads(runner.invoke(app, ["rewrite", str(path), "--dry-run", "-o", "json", *mapping]).stdout)
    r = piped("rewrite", path, "--dry-run", *mapping)
    assert r.returncode == 0 and "…" not in r.stdout
    lines = r.stdout.splitlines()
    for c in rep["changes"][: report.MAX_ROWS_PER_KIND]:
        assert any(c["old"] in line and c["new"] in line and c["field"] in line for line in lines), c
    for w in rep["warnings"][: report.MAX_ROWS_PER_KIND]:
        assert any(w["key"] in line and w["message"] in line for line in lines), w
    for step in rep["runbook"]:  # a step is a title line and indented command lines, each printed whole
        assert all(line in lines for line in step.splitlines()), step


def test_dash_w_is_dash_o_everywhere(fixture_path):
    snap = str(fixture_path("k8s-etcd35.db"))
    key = "/registry/services/specs/default/kubernetes"
    for args in (["status", snap], ["ls", snap], ["get", snap, key], ["history", snap, key],
                 ["rewrite", snap, "--dry-run", *K8S_MAPPING], ["verify", snap, snap]):
        outs = {flag: runner.invoke(app, [*args, flag, "json"]) for flag in ("-o", "-w", "--write-out", "--output")}
        assert {r.exit_code for r in outs.values()} == {0}, args
        assert len({r.stdout for r in outs.values()}) == 1, args
        json.loads(outs["-w"].stdout)


@pytest.mark.parametrize("args, message", [
    (["status", "S", "--output", "xml"], "snaprewrite: error: --output: must be one of table|json|fields (got 'xml')"),
    (["history", "S", "/k", "-o", "yaml"], "snaprewrite: error: --output: must be one of table|json (got 'yaml')"),
    (["get", "S", "/k", "-w", "text"], "snaprewrite: error: --output: must be one of yaml|json|raw (got 'text')"),
    (["ls", "S", "--output=table"], "snaprewrite: error: --output: must be one of text|json (got 'table')"),
    (["get", "S", "/k", "--revision", "0"], "snaprewrite: error: --revision: "),
    (["get", "S", "/k", "--revision", "x"], "snaprewrite: error: --revision: "),
    (["get", "S"], "snaprewrite: error: missing argument KEY"),
    (["status", "S", "--no-such-flag"], "snaprewrite: error: unknown option --no-such-flag"),
    (["no-such-command"], "snaprewrite: error: "),
])
def test_usage_errors_are_one_line_and_exit_2(args, message, fixture_path):
    args = [str(fixture_path("tiny-etcd35.db")) if a == "S" else a for a in args]
    r = runner.invoke(app, args)
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(message), r.stderr


def test_usage_error_from_the_console_script_is_one_line(fixture_path):
    r = piped("status", fixture_path("tiny-etcd35.db"), "-o", "xml")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == "snaprewrite: error: --output: must be one of table|json|fields (got 'xml')\n"


def test_every_command_has_kubectl_like_help_with_an_example():
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    commands = [line.split()[0] for line in top.stdout.split("Commands:\n")[1].split("\n\n")[0].splitlines()]
    assert {"status", "rewrite", "verify", "rehearse"} <= set(commands)
    for name in commands:
        r = runner.invoke(app, [name, "--help"])
        assert r.exit_code == 0, name
        text = r.stdout
        assert "Examples:\n  " in text and f"snaprewrite {name}" in text.split("Examples:")[1], name
        assert "Usage:\n  snaprewrite " + name in text, name
        assert "{" not in text.split("Usage:")[1] and "<bool>" not in text and "<path>" not in text, name
        assert "…" not in text and "..." not in text, name
    status = runner.invoke(app, ["status", "--help"]).stdout
    assert "  -o, -w, --output, --write-out='table': " in status and "One of: table|json|fields." in status
    assert "      --verify=false: " in status


def test_bitmap_is_summarised_in_tables_and_whole_in_json(capsys):
    """A large allocator bitmap (addresses spread over a /16) reads as range and popcount in a table."""
    ips = ["172.24.0.10", "172.24.7.7", "172.24.200.1", "172.24.255.254"]
    data = base64.b64encode(bitmap.encode("172.24.0.0/16", ips)).decode()
    assert len(data) > report.LARGE
    change = {"key": "/registry/ranges/serviceips", "kind": "RangeAllocation", "namespace": "", "name": "serviceips"}
    rep = {"changes": [{**change, "field": "range", "old": "192.168.0.0/16", "new": "172.24.0.0/16"},
                       {**change, "field": "data", "old": "AgE=", "new": data}],
           "warnings": [], "summary": {"changes": 2}, "runbook": []}
    report.rewrite_table(rep, dry_run=True)
    table = capsys.readouterr().out
    assert "bitmap: 4 addresses allocated in 172.24.0.0/16" in table and data not in table
    assert "AgE=" in table  # small values stay as they are
    report.print_json(rep)
    assert json.loads(capsys.readouterr().out)["changes"][1]["new"] == data


def test_narrow_terminal_switches_to_field_value_lines(real_snapshot, etcd35, monkeypatch):
    """On a 40-column terminal the status table turns into `column: value` lines: every value whole."""
    import io

    want = snapshot_status(etcd35, real_snapshot)
    st = json.loads(runner.invoke(app, ["status", str(real_snapshot), "-o", "json"]).stdout)
    buf = io.StringIO()
    monkeypatch.setattr(report, "stdout", report.FullConsole(file=buf, force_terminal=True, width=40,
                                                             color_system=None, highlight=False, soft_wrap=True))
    report.status_table(st)
    lines = buf.getvalue().splitlines()
    assert f"  hash: {want['hash']:08x}" in lines and f"  totalSize: {want['totalSize']}" in lines
    assert "…" not in buf.getvalue()
    assert all(len(line) <= 40 for line in lines if "│" in line)  # the tables that fit stay tables
