"""A Secret made by ``kubectl apply`` through the real kube-apiserver prints its data nowhere unless asked.

``kubectl apply`` stores the whole manifest, ``data`` and ``stringData`` included, in the annotation
``kubectl.kubernetes.io/last-applied-configuration``. The snapshot is saved from real etcd after the
real API server (v1.20.2, ../shared/tools or $SNAPREWRITE_KUBE_APISERVER / $SNAPREWRITE_KUBECTL) stored
the Secret; the same stored bytes are then put by a real etcd client under OpenShift's prefix
``/kubernetes.io/secrets/`` and under a custom prefix. Every output form of get, dump and history is
searched for the values (plain and base64); ``--show-secrets`` is the positive control.
"""

import base64
import json
import os
import secrets as pysecrets
import shutil
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.rehearsal.server import EtcdServer, free_port, snapshot_save

runner = CliRunner()
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
DATA_VALUE = "data-needle-" + pysecrets.token_hex(8)
STRING_VALUE = "string-needle-" + pysecrets.token_hex(8)
KEYS = {
    "registry": "/registry/secrets/vault/applied",
    "openshift": "/kubernetes.io/secrets/vault/applied",
    "custom": "/custom-prefix/secrets/vault/applied",
}
MANIFEST = f"""apiVersion: v1
kind: Namespace
metadata:
  name: vault
---
apiVersion: v1
kind: Secret
metadata:
  name: applied
  namespace: vault
type: Opaque
data:
  password: {base64.b64encode(DATA_VALUE.encode()).decode()}
stringData:
  token: {STRING_VALUE}
"""
NEEDLES = [DATA_VALUE, STRING_VALUE, base64.b64encode(DATA_VALUE.encode()).decode(),
           base64.b64encode(STRING_VALUE.encode()).decode()]


def _tool(name: str) -> Path | None:
    env = os.environ.get(f"SNAPREWRITE_{name.upper().replace('-', '_')}")
    path = Path(env) if env else SHARED / "tools" / name
    return path if path.is_file() else None


def _run(args, **kw) -> str:
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL, check=False, **kw)
    assert r.returncode == 0, f"{args[:2]}: {r.stderr[-2000:]}"
    return r.stdout


def _wait_ready(port: int, token: str, proc: subprocess.Popen, log: Path) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"kube-apiserver exited: {log.read_text()[-2000:]}"
        try:
            req = urllib.request.Request(f"https://127.0.0.1:{port}/readyz",
                                         headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(req, context=ctx, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"kube-apiserver not ready: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def applied_snapshot(etcd35, tmp_path_factory) -> Path:
    """applied_snapshot is a real etcd 3.5 snapshot holding the Secret kubectl applied, under three prefixes."""
    apiserver, kubectl = _tool("kube-apiserver"), _tool("kubectl")
    if apiserver is None or kubectl is None or shutil.which("openssl") is None:
        pytest.skip("kube-apiserver/kubectl not found (../shared/tools or SNAPREWRITE_KUBE_APISERVER/_KUBECTL)")
    work = tmp_path_factory.mktemp("applied")
    token = pysecrets.token_hex(16)
    (work / "tokens.csv").write_text(f"{token},admin,admin,system:masters\n")
    _run(["openssl", "genrsa", "-out", work / "sa.key", "2048"])
    _run(["openssl", "rsa", "-in", work / "sa.key", "-pubout", "-out", work / "sa.pub"])
    (work / "secret.yaml").write_text(MANIFEST)
    out = work / "applied.snapshot.db"
    with EtcdServer(etcd35) as etcd:
        port = free_port()
        log = work / "kube-apiserver.log"
        with open(log, "wb") as logf:
            proc = subprocess.Popen([
                str(apiserver), f"--etcd-servers={etcd.client_url}", "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1", f"--secure-port={port}", "--insecure-port=0",
                f"--cert-dir={work / 'certs'}", f"--token-auth-file={work / 'tokens.csv'}",
                "--authorization-mode=AlwaysAllow", f"--service-account-key-file={work / 'sa.pub'}",
                f"--service-account-signing-key-file={work / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--disable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ServiceAccount",
                "--enable-admission-plugins=NamespaceLifecycle", "--endpoint-reconciler-type=none",
                "--profiling=false"], stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        try:
            _wait_ready(port, token, proc, log)
            _run([kubectl, f"--server=https://127.0.0.1:{port}", f"--token={token}",
                  "--insecure-skip-tls-verify", "apply", "-f", work / "secret.yaml"])
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        with etcd.client() as c:
            stored = c.get(KEYS["registry"])
            assert stored is not None and stored.value.startswith(b"k8s\x00")
            assert STRING_VALUE.encode() in stored.value  # in data and in the annotation, as kubectl sent it
            for name in ("openshift", "custom"):
                c.put(KEYS[name], stored.value)
        snapshot_save(etcd, out)
    return out


def run(*args) -> tuple[int, str]:
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout + r.stderr


def leaks(text: str) -> list[str]:
    return [n for n in NEEDLES if n in text]


@pytest.mark.parametrize("where", KEYS)
def test_no_output_form_prints_the_applied_secret(applied_snapshot, where):
    key = KEYS[where]
    outputs = {
        "get-json": run("get", applied_snapshot, key, "-o", "json"),
        "get-yaml": run("get", applied_snapshot, key),
        "history": run("history", applied_snapshot, key),
        "history-values": run("history", applied_snapshot, key, "--values"),
        "history-json": run("history", applied_snapshot, key, "--values", "-o", "json"),
        "dump": run("dump", applied_snapshot),
        "dump-prefix": run("dump", applied_snapshot, "--prefix", key.rsplit("/", 2)[0]),
    }
    for name, (code, text) in outputs.items():
        assert code == 0, (name, text)
        assert not leaks(text), f"{name} of {key} printed Secret data"
    shown = json.loads(outputs["get-json"][1])
    assert shown["data"] == {"password": "<redacted>", "token": "<redacted>"}
    applied = json.loads(shown["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert applied["data"] == {"password": "<redacted>"} and applied["stringData"] == {"token": "<redacted>"}
    assert applied["metadata"] == {"annotations": {}, "name": "applied", "namespace": "vault"}  # the rest kept

    code, text = run("get", applied_snapshot, key, "-o", "raw")
    assert code == 2 and text.count("\n") == 1 and "--show-secrets" in text and not leaks(text)


@pytest.mark.parametrize("where", KEYS)
def test_show_secrets_prints_the_applied_secret(applied_snapshot, where):
    """Positive control: the same commands with --show-secrets print every needle, so the test above can fail."""
    key = KEYS[where]
    for args in (["get", key, "-o", "json"], ["get", key], ["history", key, "--values"], ["get", key, "-o", "raw"]):
        code, text = run(args[0], applied_snapshot, *args[1:], "--show-secrets")
        assert code == 0
        if args[-1] == "raw":
            assert DATA_VALUE in text and STRING_VALUE in text
        else:
            assert set(leaks(text)) >= {STRING_VALUE, base64.b64encode(DATA_VALUE.encode()).decode()}, args
    code, text = run("dump", applied_snapshot, "--show-secrets")
    assert code == 0 and len(leaks(text)) >= 3


@pytest.mark.parametrize("key, secret", [
    (b"/registry/secrets/ns/x", True), (b"/kubernetes.io/secrets/ns/x", True), (b"/a/b/secrets/ns/x", True),
    (b"/registry/secrets/secrets/x", True), (b"/registry/configmaps/secrets/x", False),
    (b"/registry/services/specs/ns/secrets", False),
])
def test_values_that_do_not_decode_are_redacted_by_key(key, secret):
    """A value that is no Kubernetes object (nothing to read a kind from) is still hidden under a Secret key."""
    from snaprewrite import query

    value = b"\x00not-a-k8s-value " + DATA_VALUE.encode()
    shown = query.show_value(key, value)
    assert (shown == {"redacted": True, "size": len(value)}) is secret
    assert (DATA_VALUE in json.dumps(shown) or base64.b64encode(value).decode() in json.dumps(shown)) is not secret
