"""The kube-apiserver harness: real v1.20.2 on real etcd 3.5 in a private network namespace, always torn down."""

import os
import tempfile
from pathlib import Path

import pytest

from snaprewrite.rehearsal.apiserver import (
    ApiServerError,
    KubeApiServer,
    KubeToolNotFoundError,
    control_plane,
    find_kube_tool,
)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_empty_etcd_create_and_read_service(etcd35, kube_apiserver, tmp_path, monkeypatch):
    from kubernetes import client as k8s

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    host_ns = os.readlink("/proc/thread-self/ns/net")
    with control_plane(etcd35, ["10.96.0.0/12"], kube_apiserver=kube_apiserver) as cp:
        api = cp.apiserver
        pids = [api.proc.pid, cp.etcd.proc.pid]
        if cp.netns.isolated:
            assert os.readlink(f"/proc/{api.proc.pid}/ns/net") == cp.netns.inode != host_ns
            assert os.readlink(f"/proc/{cp.etcd.proc.pid}/ns/net") == cp.netns.inode
        core = k8s.CoreV1Api(api.api_client())
        body = k8s.V1Service(metadata=k8s.V1ObjectMeta(name="web", namespace="default"),
                             spec=k8s.V1ServiceSpec(ports=[k8s.V1ServicePort(port=80)]))
        made = core.create_namespaced_service("default", body)
        read = core.read_namespaced_service("web", "default")
        assert read.metadata.uid == made.metadata.uid
        ip = read.spec.cluster_ip
        assert ip.startswith("10.") and 96 <= int(ip.split(".")[1]) < 112, ip
        # the same object, read by etcd's key through the raw API and kubectl
        assert api.get("/api/v1/namespaces/default/services/web")["spec"]["clusterIP"] == ip
        assert api.kubectl("get", "service", "web", "-o", "jsonpath={.spec.clusterIP}").stdout == ip
        workdir = api.workdir
        _undecodable_object_fails_its_list_and_its_patch(cp, api.api_client())
    assert os.readlink("/proc/thread-self/ns/net") == host_ns
    assert not any(_alive(p) for p in pids), "a server outlived the block"
    assert not workdir.exists()
    assert list(tmp_path.iterdir()) == [], "scratch left behind"


def _undecodable_object_fails_its_list_and_its_patch(cp, client):
    """apicheck on the same server: bytes it cannot decode fail their LIST and PATCH and are named (one start saved)."""
    from snaprewrite.rehearsal import apicheck

    bad, good = "/registry/configmaps/default/broken", "/registry/services/specs/default/web"
    with cp.etcd.client() as c:
        c.put(bad, b"k8s\x00\n\x0c\n\x02v1\x12\x06Config\xff\xff\xff")
    result = apicheck.ApiCheck("kube-apiserver", ["10.96.0.0/12"], "flags", 0)
    served = apicheck.discover(client)
    apicheck._list_all(client, cp.etcd, served, result)
    apicheck._patch_changed(client, served, [bad, good, "/registry/ranges/serviceips"], "x", result)
    a = result.as_json()
    assert [f["resource"] for f in a["resources"]["failed"]] == ["configmaps.v1"] and a["resources"]["listed"] >= 40
    assert [(u["key"], u["status"]) for u in a["resources"]["undecodable"]] == [(bad, 500)]
    assert [f["key"] for f in a["patches"]["failed"]] == [bad] and a["patches"]["accepted"] == 1
    assert [s["key"] for s in a["patches"]["skipped"]] == ["/registry/ranges/serviceips"]
    assert not result.ok


def test_failed_start_stops_and_cleans(etcd35, kube_apiserver, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(ApiServerError, match="exited with code"), \
            control_plane(etcd35, ["10.96.0.0/12"], kube_apiserver=kube_apiserver, extra_args=["--no-such-flag"]):
        pass
    assert list(tmp_path.iterdir()) == []


def test_find_kube_tool(tmp_path, monkeypatch):
    monkeypatch.setenv("SNAPREWRITE_KUBE_APISERVER", str(tmp_path / "nope"))
    with pytest.raises(KubeToolNotFoundError, match="SNAPREWRITE_KUBE_APISERVER"):
        find_kube_tool("kube-apiserver")
    with pytest.raises(KubeToolNotFoundError, match="not an executable"):
        find_kube_tool("kube-apiserver", tmp_path)
    with pytest.raises(ApiServerError, match="only http://127.0.0.1"):
        KubeApiServer(tmp_path, "http://10.0.0.1:2379", ["10.96.0.0/12"])


def test_isolated_network_has_only_loopback_and_is_left_on_errors(monkeypatch):
    import socket

    from snaprewrite.rehearsal.netns import isolated_network

    host = os.readlink("/proc/thread-self/ns/net")
    with socket.socket() as outside:  # a listener in the host namespace, unreachable from inside
        outside.bind(("127.0.0.1", 0))
        outside.listen()
        port = outside.getsockname()[1]
        with pytest.raises(RuntimeError, match="boom"), isolated_network() as ns:
            if not ns.isolated:
                pytest.skip(f"no network namespace here: {ns.reason}")
            assert os.readlink("/proc/thread-self/ns/net") == ns.inode != host
            assert [name for _, name in socket.if_nameindex()] == ["lo"]
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", port)) != 0
            raise RuntimeError("boom")
    assert os.readlink("/proc/thread-self/ns/net") == host
    monkeypatch.setenv("SNAPREWRITE_NO_NETNS", "1")
    with isolated_network() as ns:
        assert not ns.isolated and os.readlink("/proc/thread-self/ns/net") == host
