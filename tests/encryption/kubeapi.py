"""A real kube-apiserver (v1.20.2 from ../shared/tools) on loopback, for the encryption-at-rest tests.

Small on purpose: start it against an etcd URL with a service range and an optional
``--encryption-provider-config``, wait for ``/readyz``, ask it with kubectl, stop it. Used by
``fixtures/encryption/generate.py`` to write encrypted values and by the tests to read a rewritten
snapshot back. (Another branch builds ``snaprewrite/rehearsal/apiserver.py``; this stays test-only.)
"""

import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from snaprewrite.rehearsal.server import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "snaprewrite-encryption-test-token"


def tool(name: str) -> Path | None:
    """tool finds kube-apiserver / kubectl: $SNAPREWRITE_KUBE_APISERVER / $SNAPREWRITE_KUBECTL, then ../shared/tools."""
    env = os.environ.get(f"SNAPREWRITE_{name.upper().replace('-', '_')}")
    for cand in ([Path(env)] if env else []) + [REPO_ROOT.parent / "shared" / "tools" / name,
                                                 Path("/work/shared/tools") / name]:
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand
    return None


def _rsa_pair(directory: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    priv = directory / "sa.key"
    pub = directory / "sa.pub"
    priv.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return priv, pub


class KubeAPIServer:
    """kube-apiserver on 127.0.0.1 against one etcd; a context manager."""

    def __init__(self, etcd_url: str, service_cidr: str, encryption_config: str | os.PathLike | None = None,
                 start_timeout: float = 60.0):
        self.etcd_url = etcd_url
        self.service_cidr = service_cidr
        self.encryption_config = encryption_config
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.workdir: Path | None = None

    def _args(self, binary: Path) -> list[str]:
        w = self.workdir
        args = [str(binary), f"--etcd-servers={self.etcd_url}", "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1", f"--secure-port={self.port}", "--insecure-port=0",
                f"--cert-dir={w / 'certs'}", f"--token-auth-file={w / 'tokens.csv'}",
                "--authorization-mode=AlwaysAllow", f"--service-account-key-file={w / 'sa.pub'}",
                f"--service-account-signing-key-file={w / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={self.service_cidr}",
                "--disable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ServiceAccount",
                "--enable-admission-plugins=NamespaceLifecycle", "--endpoint-reconciler-type=none",
                "--profiling=false"]
        if self.encryption_config:
            args.append(f"--encryption-provider-config={self.encryption_config}")
        return args

    def start(self) -> "KubeAPIServer":
        binary = tool("kube-apiserver")
        if binary is None:
            raise FileNotFoundError("kube-apiserver not found (set SNAPREWRITE_KUBE_APISERVER)")
        self.workdir = Path(tempfile.mkdtemp(prefix="snaprewrite-apiserver-"))
        (self.workdir / "tokens.csv").write_text(f"{TOKEN},admin,admin,system:masters\n")
        _rsa_pair(self.workdir)
        self.port = free_port()
        self.log = open(self.workdir / "apiserver.log", "wb")  # noqa: SIM115 - open while it runs
        self.proc = subprocess.Popen(self._args(binary), stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_tail()
                self.stop()
                raise RuntimeError(f"kube-apiserver exited at start: {tail}")
            if self._ready():
                return self
            time.sleep(0.25)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"kube-apiserver not ready in {self.start_timeout}s: {tail}")

    def _ready(self) -> bool:
        try:
            return self.request("/readyz") == b"ok"
        except OSError:
            return False

    def request(self, path: str) -> bytes:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        req = urllib.request.Request(f"https://127.0.0.1:{self.port}{path}",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return resp.read()

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        binary = tool("kubectl")
        if binary is None:
            raise FileNotFoundError("kubectl not found (set SNAPREWRITE_KUBECTL)")
        cmd = [str(binary), f"--server=https://127.0.0.1:{self.port}", f"--token={TOKEN}",
               "--insecure-skip-tls-verify=true", *args]
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=check, timeout=60)

    def get_json(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", "-o", "json", *args).stdout)

    def log_tail(self, lines: int = 8) -> str:
        try:
            self.log.flush()
            text = (self.workdir / "apiserver.log").read_text(errors="replace").splitlines()
        except (OSError, AttributeError):
            return ""
        return " | ".join(text[-lines:])

    def log_text(self) -> str:
        self.log.flush()
        return (self.workdir / "apiserver.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log", None) is not None:
            self.log.close()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> "KubeAPIServer":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
