"""A throwaway kube-apiserver on 127.0.0.1 in front of a throwaway etcd: the real judge of a restored store.

``find_kube_tool("kube-apiserver" | "kubectl", path)`` finds the binaries: the given path, else
``SNAPREWRITE_KUBE_APISERVER`` / ``SNAPREWRITE_KUBECTL``, else ``../shared/tools/<name>`` relative to
the repository root or the current directory (the test tool set, see ../shared/tools/README.md beside the repository).

``KubeApiServer`` starts one kube-apiserver against an etcd client URL with everything it needs made
up in a scratch dir: a random admin token (``tokens.csv``, group system:masters), a self-generated
serving certificate (``--cert-dir``), an RSA service-account key (cryptography or openssl), the given
``--service-cluster-ip-range`` and optionally an encryption provider config and extra flags. It binds
127.0.0.1 on a free port, admission webhooks are off, authorization is AlwaysAllow, the endpoint
reconciler is off. ``start`` waits for ``/readyz`` with the token; ``stop`` sends SIGTERM then
SIGKILL and removes the scratch dir (also on exceptions and KeyboardInterrupt; at interpreter exit;
Linux kills it if Python dies, through ``setpriv --pdeathsig``).

``control_plane(...)`` is the usual way in: a private network namespace (``netns.isolated_network``)
holding a fresh or restored etcd and the API server, torn down in reverse order. Talk to it with
``api_client()`` (the ``kubernetes`` library, the ``rehearse`` extra), ``kubectl(...)`` or ``get(path)``.
"""

import atexit
import contextlib
import http.client
import json
import os
import secrets
import shutil
import ssl
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from ..errors import SnapshotError, UsageError
from .binaries import EtcdTools
from .netns import NetNamespace, isolated_network
from .server import LOOPBACK, EtcdServer, _log_tail, _with_pdeathsig, free_port, terminate

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_VARS = {"kube-apiserver": "SNAPREWRITE_KUBE_APISERVER", "kubectl": "SNAPREWRITE_KUBECTL"}
LOG_NAME = "kube-apiserver.log"
USER = "snaprewrite-admin"

_live: "weakref.WeakSet[KubeApiServer]" = weakref.WeakSet()


class ApiServerError(SnapshotError):
    """Is raised when kube-apiserver cannot be found, does not start or does not become ready."""


class KubeToolNotFoundError(ApiServerError):
    """Is raised when kube-apiserver or kubectl is not where it was asked for (or nowhere)."""


def _is_exe(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_kube_tool(name: str, spec: str | os.PathLike | None = None) -> Path:
    """find_kube_tool locates kube-apiserver or kubectl: the given path, the env var, then ../shared/tools."""
    if spec is not None:
        path = Path(spec).expanduser()
        if path.is_dir():
            path = path / name
        if not _is_exe(path):
            raise KubeToolNotFoundError(f"{name} {spec} is not an executable file")
        return path
    env = os.environ.get(ENV_VARS[name])
    if env:
        path = Path(env).expanduser()
        if not _is_exe(path):
            raise KubeToolNotFoundError(f"{ENV_VARS[name]}={env} is not an executable file")
        return path
    looked = []
    for base in (REPO_ROOT, Path.cwd()):
        cand = base.parent / "shared" / "tools" / name
        looked.append(str(cand))
        if _is_exe(cand):
            return cand
    raise KubeToolNotFoundError(f"cannot find {name}: pass its path, set {ENV_VARS[name]}, or put it at "
                                + " or ".join(dict.fromkeys(looked)))


def kube_tool_available(name: str = "kube-apiserver") -> Path | None:
    """kube_tool_available is find_kube_tool's answer, or None when the tool is nowhere (for test skips)."""
    try:
        return find_kube_tool(name)
    except KubeToolNotFoundError:
        return None


def _openssl(args: list[str], what: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise ApiServerError(f"{what}: openssl is not installed")
    out = subprocess.run([openssl, *args], capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        lines = (out.stderr or out.stdout).strip().splitlines()
        raise ApiServerError(f"{what} failed: " + (lines[-1] if lines else f"exit {out.returncode}"))


def make_sa_key(directory: Path) -> tuple[Path, Path]:
    """make_sa_key writes a fresh RSA key pair (sa.key 0600, sa.pub) for service-account tokens.

    With the ``cryptography`` package (a core dependency since ``certs``) in process, else with openssl.
    """
    key, pub = directory / "sa.key", directory / "sa.pub"
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError:
        _openssl(["genrsa", "-out", str(key), "2048"], "service-account key")
        os.chmod(key, 0o600)
        _openssl(["rsa", "-in", str(key), "-pubout", "-out", str(pub)], "service-account public key")
        return key, pub
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption()))
    pub.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))
    return key, pub


@dataclass(frozen=True)
class Response:
    """One raw answer of the API server."""

    status: int
    body: bytes

    def json(self):
        return json.loads(self.body)


class KubeApiServer:
    """A running kube-apiserver on 127.0.0.1 for one etcd; use it as a context manager.

    Attributes once started: ``url``, ``port``, ``token``, ``ca_file`` (the self-signed serving chain),
    ``log_path``, ``workdir``, ``start_seconds``; after stop, ``final_log`` is what the server logged.
    """

    def __init__(self, binary: str | os.PathLike, etcd_url: str, service_cidrs: Iterable[str], *,
                 encryption_config: str | os.PathLike | None = None, extra_args: Iterable[str] = (),
                 workdir: str | os.PathLike | None = None, start_timeout: float = 90.0):
        self.binary = Path(binary)
        if not etcd_url.startswith(f"http://{LOOPBACK}:"):
            raise ApiServerError(f"refusing etcd at {etcd_url}: only http://{LOOPBACK} is allowed")
        self.etcd_url = etcd_url
        self.service_cidrs = [c.strip() for c in service_cidrs if c.strip()]
        if not self.service_cidrs:
            raise UsageError("kube-apiserver needs at least one service CIDR")
        self.encryption_config = Path(encryption_config) if encryption_config is not None else None
        self.extra_args = list(extra_args)
        self._given_workdir = Path(workdir) if workdir is not None else None
        self.start_timeout = start_timeout
        self.token = secrets.token_hex(24)
        self.proc: subprocess.Popen | None = None
        self.workdir: Path | None = None
        self.log_path: Path | None = None
        self.ca_file: Path | None = None
        self.port = 0
        self.start_seconds = 0.0
        self._log_file = None
        self._api_client = None
        self.final_log = ""

    @property
    def url(self) -> str:
        """url is the https URL of the API server."""
        return f"https://{LOOPBACK}:{self.port}"

    def _prepare(self) -> None:
        wd = self.workdir
        (wd / "certs").mkdir(mode=0o700)
        tokens = wd / "tokens.csv"
        fd = os.open(tokens, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"{self.token},{USER},{USER},system:masters\n")
        make_sa_key(wd)

    def _args(self) -> list[str]:
        wd = self.workdir
        args = [
            str(self.binary),
            f"--etcd-servers={self.etcd_url}",
            f"--bind-address={LOOPBACK}", f"--advertise-address={LOOPBACK}",
            f"--secure-port={self.port}", "--insecure-port=0",
            f"--cert-dir={wd / 'certs'}",
            f"--token-auth-file={wd / 'tokens.csv'}", "--authorization-mode=AlwaysAllow",
            f"--service-account-key-file={wd / 'sa.pub'}", f"--service-account-signing-key-file={wd / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={','.join(self.service_cidrs)}",
            "--disable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
            "--enable-admission-plugins=NamespaceLifecycle",
            "--endpoint-reconciler-type=none", "--profiling=false",
        ]
        if len(self.service_cidrs) > 1 and not any(a.startswith("--feature-gates") for a in self.extra_args):
            args.append("--feature-gates=IPv6DualStack=true")
        if self.encryption_config is not None:
            args.append(f"--encryption-provider-config={self.encryption_config}")
        return args + self.extra_args

    def start(self) -> Self:
        """start makes the scratch files, launches kube-apiserver and waits for /readyz (retrying a port clash)."""
        if self.proc is not None:
            raise ApiServerError("kube-apiserver already started")
        if self._given_workdir is not None:
            self._given_workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.workdir = Path(tempfile.mkdtemp(prefix="kube-apiserver-", dir=self._given_workdir))
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix="snaprewrite-apiserver-"))
        self.log_path = self.workdir / LOG_NAME
        self.ca_file = self.workdir / "certs" / "apiserver.crt"
        t0 = time.monotonic()
        try:
            self._prepare()
            for attempt in range(3):
                self.port = free_port()
                try:
                    self._launch()
                    break
                except ApiServerError as e:
                    if "address already in use" not in str(e) or attempt == 2:
                        raise
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def _launch(self) -> None:
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - open while the server runs; closed in _reap
        self.proc = subprocess.Popen(_with_pdeathsig(self._args()), stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        _live.add(self)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                tail = self.error_tail()
                self._reap()
                raise ApiServerError(f"kube-apiserver exited with code {code} at start: {tail}")
            if self.ready():
                return
            time.sleep(0.2)
        tail = self.error_tail()
        self._reap()
        raise ApiServerError(f"kube-apiserver was not ready within {self.start_timeout:.0f}s: {tail}")

    def error_tail(self, lines: int = 3) -> str:
        """error_tail is the last error (klog "E"/"F") lines of the log, or its last lines."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except (OSError, AttributeError):
            return ""
        errs = [ln.strip() for ln in text if ln[:1] in ("E", "F") and ln[1:5].isdigit()]
        return " | ".join(errs[-lines:]) if errs else _log_tail(self.log_path, lines)

    def log_text(self) -> str:
        """log_text is everything kube-apiserver logged so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""

    # -- raw HTTP, for readiness and for callers that want bytes -------------------------------------

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str = "application/json", timeout: float = 30.0) -> Response:
        """request sends one authenticated request to the API server and returns status and body."""
        conn = http.client.HTTPSConnection(LOOPBACK, self.port, timeout=timeout, context=self._ssl_context())
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return Response(resp.status, resp.read())
        finally:
            conn.close()

    def get(self, path: str):
        """get GETs a path and returns the decoded JSON, raising ApiServerError on a non-200 answer."""
        resp = self.request("GET", path)
        if resp.status != 200:
            raise ApiServerError(f"GET {path} answered {resp.status}: {resp.body[:200].decode(errors='replace')}")
        return resp.json()

    def ready(self) -> bool:
        """ready tells whether /readyz answers 200 (the serving cert must exist first)."""
        if self.ca_file is None or not self.ca_file.exists():
            return False
        try:
            return self.request("GET", "/readyz", timeout=3).status == 200
        except (OSError, http.client.HTTPException, ssl.SSLError):
            return False

    # -- clients ------------------------------------------------------------------------------------

    def api_client(self):
        """api_client is a ``kubernetes.client.ApiClient`` for this server (closed on stop)."""
        try:
            from kubernetes import client as k8s
        except ImportError as e:
            raise ApiServerError("the kubernetes client library is missing: pip install 'snaprewrite[rehearse]'") from e
        if self._api_client is None:
            conf = k8s.Configuration()
            conf.host = self.url
            conf.ssl_ca_cert = str(self.ca_file)
            conf.api_key = {"authorization": self.token}
            conf.api_key_prefix = {"authorization": "Bearer"}
            conf.retries = 0
            self._api_client = k8s.ApiClient(conf)
        return self._api_client

    def kubeconfig(self) -> Path:
        """kubeconfig writes (once) a kubeconfig for this server into the scratch dir (0600) and returns its path."""
        path = self.workdir / "kubeconfig"
        if not path.exists():
            conf = {
                "apiVersion": "v1", "kind": "Config", "current-context": "rehearsal",
                "clusters": [{"name": "rehearsal", "cluster": {"server": self.url,
                                                                "certificate-authority": str(self.ca_file)}}],
                "users": [{"name": USER, "user": {"token": self.token}}],
                "contexts": [{"name": "rehearsal", "context": {"cluster": "rehearsal", "user": USER}}],
            }
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(conf, f)
        return path

    def kubectl(self, *args: str, kubectl: str | os.PathLike | None = None, input: str | None = None,
                check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """kubectl runs kubectl against this server (text in, text out); raises ApiServerError on failure with check."""
        exe = find_kube_tool("kubectl", kubectl)
        env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
        env["HOME"] = str(self.workdir)  # kubectl's discovery cache goes to the scratch dir
        out = subprocess.run([str(exe), f"--kubeconfig={self.kubeconfig()}", *args], input=input, text=True,
                             capture_output=True, check=False, timeout=timeout, env=env)
        if check and out.returncode != 0:
            raise ApiServerError(f"kubectl {' '.join(args[:3])} failed: {out.stderr.strip().splitlines()[-1:]}")
        return out

    # -- stopping -----------------------------------------------------------------------------------

    def _reap(self, term_timeout: float = 15.0) -> None:
        proc, self.proc = self.proc, None
        terminate(proc, term_timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def stop(self) -> None:
        """stop ends kube-apiserver (SIGTERM, then SIGKILL), closes the client and removes the scratch dir."""
        try:
            if self._api_client is not None:
                with contextlib.suppress(Exception):
                    self._api_client.close()
                self._api_client = None
            self._reap()
        finally:
            _live.discard(self)
            if self.workdir is not None:
                self.final_log = self.log_text()
                shutil.rmtree(self.workdir, ignore_errors=True)
                self.workdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _kill_leftovers() -> None:
    for server in list(_live):
        with contextlib.suppress(Exception):
            server.stop()


atexit.register(_kill_leftovers)


@dataclass
class ControlPlane:
    """An etcd and a kube-apiserver in front of it, and the network namespace they run in."""

    etcd: EtcdServer
    apiserver: KubeApiServer
    netns: NetNamespace


@contextlib.contextmanager
def control_plane(tools: EtcdTools, service_cidrs: Iterable[str], *, data_dir: str | os.PathLike | None = None,
                  kube_apiserver: str | os.PathLike | None = None, encryption_config: str | os.PathLike | None = None,
                  extra_args: Iterable[str] = (), workdir: str | os.PathLike | None = None,
                  etcd_log: str | os.PathLike | None = None, isolate: bool = True) -> Iterator[ControlPlane]:
    """control_plane starts etcd (on ``data_dir``, e.g. a restored snapshot, or empty) and kube-apiserver on it.

    Both run in a private network namespace when the platform allows it (``isolate``); everything is
    stopped and removed when the block ends, in reverse order, also on errors and Ctrl-C.
    """
    binary = find_kube_tool("kube-apiserver", kube_apiserver)
    ns_ctx = isolated_network() if isolate else contextlib.nullcontext(NetNamespace(False, "not asked for"))
    with ns_ctx as ns, EtcdServer(tools, data_dir, log_path=etcd_log) as etcd, \
            KubeApiServer(binary, etcd.client_url, service_cidrs, encryption_config=encryption_config,
                          extra_args=extra_args, workdir=workdir) as api:
        yield ControlPlane(etcd, api, ns)
