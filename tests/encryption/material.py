"""Test material for encryption at rest, written by the real kube-apiserver with --encryption-provider-config.

``make(provider, ...)`` starts real etcd 3.5 and kube-apiserver v1.20.2 with an EncryptionConfiguration
that encrypts secrets, configmaps, services and nodes with one provider (``aescbc``, ``aesgcm`` or
``secretbox``), creates objects through the API, records what the API serves (``kubectl get -o json``)
and what etcd stores (every live key's raw value), and saves a snapshot with etcdctl. ``rotation=True``
creates the first objects under ``key1``, restarts the API server with ``key2`` first and creates and
updates more. ``make_kms`` fabricates kms v1/v2 values (no KMS plugin runs here) beside plain ones.
Each takes about 6 s (12 s with rotation); run as a script it keeps the files:
``python tests/encryption/material.py OUTDIR``.
"""

import base64
import json
import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

if __name__ == "__main__":
    sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parent)]

from kubeapi import KubeAPIServer

from snaprewrite.rehearsal.binaries import EtcdTools
from snaprewrite.rehearsal.server import EtcdServer, snapshot_save

SERVICE_CIDR, POD_CIDR = "10.96.0.0/16", "10.244.0.0/16"
NEW_SERVICE_CIDR, NEW_POD_CIDR = "10.100.0.0/16", "10.55.0.0/16"
RESOURCES = ("secrets", "configmaps", "services", "nodes")
KEY_SIZE = {"aescbc": 32, "aesgcm": 32, "secretbox": 32}


def _node(name: str, cidr: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]}}


def _service(ns: str, name: str, ip: str, port: int = 80, protocol: str = "TCP") -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": ip, "ports": [{"port": port, "protocol": protocol}], "selector": {"app": name}}}


def _configmap(ns: str, name: str, data: dict) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data}


def _secret(ns: str, name: str, data: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "stringData": data, "type": "Opaque"}


KUBEADM = ("apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\nnetworking:\n"
           "  dnsDomain: cluster.local\n  podSubnet: 10.244.0.0/16  # pods\n  serviceSubnet: 10.96.0.0/16\n")
FIRST = [
    _secret("default", "s1", {"password": "not-a-real-password"}),
    _secret("kube-system", "s2", {"token": "fake-token-value"}),
    _configmap("default", "cm1", {"note": "dns at 10.96.0.10"}),
    _configmap("kube-system", "kubeadm-config", {"ClusterConfiguration": KUBEADM}),
    _configmap("kube-system", "kube-proxy", {"config.conf": "clusterCIDR: 10.244.0.0/16\nmode: iptables\n"}),
    _service("default", "web", "10.96.5.5"),
    _service("kube-system", "kube-dns", "10.96.0.10", 53, "UDP"),
    _node("node-1", "10.244.1.0/24"),
    _node("node-2", "10.244.2.0/24"),
]
SECOND = [  # rotation: written after the restart with key2 first
    _secret("default", "s3", {"password": "another-fake"}),
    _service("default", "web2", "10.96.6.6"),
    _node("node-3", "10.244.3.0/24"),
]


def config_text(provider: str, keys: list[tuple[str, bytes]], kind: str = "EncryptionConfiguration",
                extra_providers: str = "") -> str:
    """config_text is an EncryptionConfiguration encrypting RESOURCES with ``keys`` (first one writes)."""
    lines = [f"apiVersion: {'apiserver.config.k8s.io/v1' if kind == 'EncryptionConfiguration' else 'v1'}",
             f"kind: {kind}", "resources:", "  - resources:"]
    lines += [f"      - {r}" for r in RESOURCES]
    lines += ["    providers:", extra_providers.rstrip("\n")] if extra_providers else ["    providers:"]
    lines += [f"      - {provider}:", "          keys:"]
    for name, secret in keys:
        lines += [f"            - name: {name}", f"              secret: {base64.b64encode(secret).decode()}"]
    lines += ["      - identity: {}", ""]
    return "\n".join(x for x in lines if x)


def write_private(path: Path, text: str) -> Path:
    """write_private writes a file only its owner can read (it holds keys)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    return path


def etcd_key(item: dict) -> str:
    """etcd_key is where kube-apiserver stores an object of these four kinds."""
    kind, meta = item["kind"], item["metadata"]
    if kind == "Node":
        return f"/registry/minions/{meta['name']}"
    res = {"Secret": "secrets", "ConfigMap": "configmaps", "Service": "services/specs"}[kind]
    return f"/registry/{res}/{meta['namespace']}/{meta['name']}"


@dataclass
class Material:
    """One encrypted snapshot, its config, what the API served and what etcd stored."""

    provider: str
    snapshot: Path
    config: Path
    keys: dict[str, bytes] = field(repr=False)
    served: dict[str, dict] = field(default_factory=dict, repr=False)  # etcd key -> kubectl get -o json item
    stored: dict[str, bytes] = field(default_factory=dict, repr=False)  # every live etcd key -> raw value


def _serve(api: KubeAPIServer, items: list[dict]) -> None:
    api.kubectl("create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))


def _record(m: Material, api: KubeAPIServer, etcd: EtcdServer) -> None:
    listing = api.get_json("secrets,configmaps,services,nodes", "--all-namespaces")
    m.served = {etcd_key(item): item for item in listing["items"]}
    with etcd.client() as c:
        m.stored = {r.key.decode(): r.value for r in c.range(b"/")}


def make(tools: EtcdTools, workdir: Path, provider: str, rotation: bool = False) -> Material:
    """make writes the material of one provider (two keys with ``rotation``) under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    keys = {"key1": secrets.token_bytes(KEY_SIZE[provider])}
    config = write_private(workdir / "encryption.yaml", config_text(provider, list(keys.items())))
    m = Material(provider, workdir / "snapshot.db", config, keys)
    with EtcdServer(tools) as etcd:
        with KubeAPIServer(etcd.client_url, SERVICE_CIDR, config) as api:
            _serve(api, FIRST)
            if not rotation:
                _record(m, api, etcd)
        if rotation:
            keys["key2"] = secrets.token_bytes(KEY_SIZE[provider])
            write_private(config, config_text(provider, [("key2", keys["key2"]), ("key1", keys["key1"])]))
            with KubeAPIServer(etcd.client_url, SERVICE_CIDR, config) as api:
                _serve(api, SECOND)
                api.kubectl("label", "configmap", "-n", "default", "cm1", "rotated=yes")
                api.kubectl("label", "node", "node-1", "rotated=yes")
                _record(m, api, etcd)
        snapshot_save(etcd, m.snapshot)
    return m


def make_kms(tools: EtcdTools, workdir: Path) -> Material:
    """make_kms stores values with kms v1 and v2 prefixes (fabricated: no plugin) and an aescbc-keyed config."""
    workdir.mkdir(parents=True, exist_ok=True)
    keys = {"key1": secrets.token_bytes(32)}
    kms = ("      - kms:\n          name: vault\n          endpoint: unix:///tmp/kms.sock\n"
           "      - kms:\n          apiVersion: v2\n          name: cloudkms\n          endpoint: unix:///tmp/kms2.sock\n")
    config = write_private(workdir / "encryption.yaml", config_text("aescbc", list(keys.items()), extra_providers=kms))
    m = Material("kms", workdir / "snapshot.db", config, keys)
    fake = {"/registry/services/specs/default/kms-svc": b"k8s:enc:kms:v1:vault:" + secrets.token_bytes(120),
            "/registry/secrets/default/kms2": b"k8s:enc:kms:v2:cloudkms:" + secrets.token_bytes(120)}
    with EtcdServer(tools) as etcd:
        with etcd.client() as c:
            for k, v in fake.items():
                c.put(k.encode(), v)
            m.stored = {r.key.decode(): r.value for r in c.range(b"/")}
        snapshot_save(etcd, m.snapshot)
    return m


if __name__ == "__main__":
    from snaprewrite.rehearsal.binaries import find_etcd

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "encryption-material")
    tools = find_etcd("3.5")
    for p in ("aescbc", "aesgcm", "secretbox"):
        print(make(tools, out / p, p))
    print(make(tools, out / "rotation", "aescbc", rotation=True))
    print(make_kms(tools, out / "kms"))
