"""No command prints the data of the real snapshot's Secrets unless asked with --show-secrets.

Needles: every ``data`` value of every Secret (the base64 text the API shows, and the decoded bytes),
kept only when at least 8 bytes long and found in no other stored value (a CA certificate is also in
the cluster-info ConfigMap, which is not secret). The positive control (``--show-secrets``) proves the
needles would be found if printed.
"""

import base64
import json

import pytest
from typer.testing import CliRunner

from snaprewrite import query
from snaprewrite.cli import app
from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot

runner = CliRunner()
SECRETS = b"/registry/secrets/"
MAPPING = ["--service-cidr", "10.96.0.0/12=10.100.0.0/16", "--pod-cidr", "10.5.0.0/16=10.55.0.0/16"]


@pytest.fixture(scope="module")
def secrets(real_snapshot):
    """secrets is (the Secret keys, the needles that must never be printed) of the real snapshot."""
    with Snapshot(real_snapshot) as s:
        others: list[bytes] = []
        needles: set[str] = set()
        keys = []
        for rec in mvcc.records(s):
            if not rec.kv.key.startswith(SECRETS):
                others.append(rec.kv.value)
                continue
            if rec.tombstone:
                continue
            keys.append(rec.kv.key.decode())
            shown = query.show_value(rec.kv.key, rec.kv.value, show_secrets=True)
            for b64 in shown.get("data", {}).values():
                raw = base64.b64decode(b64)
                needles.add(b64)
                needles.add(raw.decode("utf-8", "replace"))
    blob = b"\n".join(others)
    needles = {n for n in needles if len(n) >= 8 and n.encode() not in blob and n.encode("latin-1", "ignore") not in blob}
    assert len(needles) >= 30, "the real snapshot should hold service-account tokens"
    return sorted(set(keys)), sorted(needles)


def run(*args) -> str:
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.stdout + r.stderr


def leaks(text: str, needles: list[str]) -> list[str]:
    return [n[:12] + "..." for n in needles if n in text]


def test_read_commands_print_no_secret_data(real_snapshot, secrets, tmp_path):
    keys, needles = secrets
    outputs = {
        "status": run("status", real_snapshot),
        "status-json": run("status", real_snapshot, "-o", "json"),
        "ls": run("ls", real_snapshot),
        "dump": run("dump", real_snapshot),
        "dump-secrets": run("dump", real_snapshot, "--prefix", "/registry/secrets/"),
        "check": run("check", real_snapshot),
        "rewrite": run("rewrite", real_snapshot, "--dry-run", "-o", "json", *MAPPING),
        "verify": run("verify", real_snapshot, real_snapshot, "-o", "json"),
    }
    for key in keys:
        outputs[f"get-json {key}"] = run("get", real_snapshot, key, "-o", "json")
        outputs[f"get-yaml {key}"] = run("get", real_snapshot, key)
        outputs[f"history {key}"] = run("history", real_snapshot, key, "--values")
    for name, text in outputs.items():
        assert not leaks(text, needles), f"{name} printed Secret data"
    assert '"<redacted>"' in outputs["dump-secrets"]


def test_raw_get_of_a_secret_is_refused(real_snapshot, secrets):
    keys, _ = secrets
    r = runner.invoke(app, ["get", str(real_snapshot), keys[0], "-o", "raw"])
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith("snaprewrite: error: ") and "--show-secrets" in r.stderr


def test_rewrite_report_file_holds_no_secret_data(real_snapshot, secrets, tmp_path):
    _, needles = secrets
    rep = tmp_path / "report.json"
    out = tmp_path / "out.db"
    r = runner.invoke(app, ["rewrite", str(real_snapshot), "--out", str(out), "--report", str(rep), *MAPPING])
    assert r.exit_code == 0, r.stderr
    assert not leaks(rep.read_text() + r.stdout + r.stderr, needles)
    assert not leaks(run("verify", real_snapshot, out, "--report", rep), needles)


def test_show_secrets_prints_them(real_snapshot, secrets):
    """Positive control: with --show-secrets the same needles are found, so the checks above can fail."""
    keys, needles = secrets
    text = run("dump", real_snapshot, "--prefix", "/registry/secrets/", "--show-secrets")
    found = [n for n in needles if n in text]
    assert len(found) >= len(needles) // 2
    got = json.loads(run("get", real_snapshot, keys[0], "-o", "json", "--show-secrets"))
    assert "<redacted>" not in json.dumps(got)


def test_errors_on_damaged_secrets_hold_no_secret_data(real_snapshot, secrets, tmp_path):
    """Every Secret's stored value damaged (one byte inside its object): outputs and errors stay clean."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
    import fuzzlib as F

    from snaprewrite.k8s import envelope

    keys, needles = secrets
    data = bytearray(F.layout(F.SEEDS["real"]).data)
    with Snapshot(real_snapshot) as s:
        values = [r.kv.value for r in mvcc.records(s) if r.kv.key.startswith(SECRETS) and not r.tombstone]
    for value in values:
        at = bytes(data).find(value)
        assert at > 0
        data[at + envelope.parse(value).raw_offset] = 0x0F  # first tag of the Secret: wire type 7
    path = tmp_path / "damaged.db"
    path.write_bytes(F.with_trailer(bytes(data)))
    texts = [run("dump", path), run("dump", path, "--show-secrets"), run("check", path)]
    for key in keys[:5]:
        texts.append(run("get", path, key, "-o", "json", "--show-secrets"))
        texts.append(run("history", path, key, "--values", "--show-secrets"))
    assert texts[0].count("undecodable") >= 30
    for text in texts:
        assert not leaks(text, needles)
