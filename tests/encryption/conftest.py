"""Encrypted snapshots written by the real kube-apiserver, made once per test session (about 6 s each)."""

import os

import kubeapi
import material
import pytest

from snaprewrite.rehearsal.binaries import EtcdNotFoundError, find_etcd


def _etcd35():
    try:
        return find_etcd("3.5")
    except EtcdNotFoundError as e:
        if os.environ.get("SNAPREWRITE_REQUIRE_ETCD", "") not in ("", "0", "false", "no"):
            pytest.fail(f"SNAPREWRITE_REQUIRE_ETCD=1 but {e}", pytrace=False)
        pytest.skip(f"etcd 3.5 not installed: {e}")


@pytest.fixture(scope="session")
def encrypted(tmp_path_factory):
    """encrypted(name) is the Material of "aescbc", "aesgcm", "secretbox", "rotation" (aescbc, two keys) or "kms"."""
    made: dict[str, material.Material] = {}

    def get(name: str) -> material.Material:
        if name not in made:
            tools = _etcd35()
            if name != "kms" and (kubeapi.tool("kube-apiserver") is None or kubeapi.tool("kubectl") is None):
                pytest.skip("kube-apiserver/kubectl not found (../shared/tools or SNAPREWRITE_KUBE_APISERVER)")
            where = tmp_path_factory.mktemp(f"enc-{name}")
            if name == "kms":
                made[name] = material.make_kms(tools, where)
            elif name == "rotation":
                made[name] = material.make(tools, where, "aescbc", rotation=True)
            else:
                made[name] = material.make(tools, where, name)
        return made[name]

    return get
