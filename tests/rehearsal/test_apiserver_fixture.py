"""The fixture written by the real kube-apiserver 1.20.2: offline reads agree with what etcd and the API answered.

fixtures/apiserver-etcdNN.expected.json holds etcd's records of every live key and ``kubectl get -o json``
of every object the generator made (fixtures/apiserver.py); nothing in it comes from snaprewrite.
"""

import hashlib

import pytest

from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s.decode import decode_value

TAGS = ("etcd35", "etcd34")
# Served at another version than stored (apiextensions v1beta1 -> v1): conversion is the API server's job.
CONVERTED = ("/registry/apiextensions.k8s.io/",)


def _offline(tag, fixture_path):
    with Snapshot(fixture_path(f"apiserver-{tag}.db")) as snap:
        index = mvcc.live_keys(snap)
        return mvcc.current_revision(snap), {k: mvcc.record_at(snap, r).kv for k, r in index.items()}


@pytest.mark.parametrize("tag", TAGS)
def test_offline_reader_matches_etcd_records(tag, fixture_path, fixture_expected):
    expected = fixture_expected("apiserver", tag)
    revision, live = _offline(tag, fixture_path)
    assert revision == expected["revision"]
    assert sorted(k.decode() for k in live) == [r["key"] for r in expected["keys"]]
    for r in expected["keys"]:
        kv = live[r["key"].encode()]
        assert (kv.create_revision, kv.mod_revision, kv.version, kv.lease) == \
            (r["create_revision"], r["mod_revision"], r["version"], r["lease"]), r["key"]
        assert (len(kv.value), hashlib.sha256(kv.value).hexdigest()) == (r["value_len"], r["value_sha256"])


@pytest.mark.parametrize("tag", TAGS)
def test_decoder_matches_what_the_api_served(tag, fixture_path, fixture_expected):
    """Every object whose kind snaprewrite decodes is exactly what kubectl got, resourceVersion = mod_revision."""
    objects = fixture_expected("apiserver", tag)["objects"]
    _, live = _offline(tag, fixture_path)
    compared = set()
    for key, served in objects.items():
        kv = live[key.encode()]
        obj = decode_value(kv.value)
        if "raw" in obj or key.startswith(CONVERTED):
            continue
        obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
        assert obj == served, key
        compared.add(served["kind"])
    assert {"Service", "Node", "ConfigMap", "Secret", "Pod", "Endpoints", "EndpointSlice", "Namespace",
            "ServiceAccount", "IPPool"} <= compared


def test_fixture_content(fixture_expected):
    """The fixture holds what the README promises (and the rehearsal tests rely on)."""
    exp = fixture_expected("apiserver", "etcd35")
    objs = exp["objects"]
    svc = {k.rsplit("/", 1)[1]: o["spec"] for k, o in objs.items() if k.startswith("/registry/services/specs/")}
    assert svc["headless"]["clusterIP"] == "None" and svc["external"]["type"] == "ExternalName"
    assert svc["dual"]["clusterIPs"] == ["10.96.40.40", "fd00:10:96::40"]
    assert svc["nodeport"]["ports"][0]["nodePort"] == 30080
    nodes = {k.rsplit("/", 1)[1]: o for k, o in objs.items() if k.startswith("/registry/minions/")}
    assert nodes["worker-1"]["spec"]["podCIDRs"] == ["10.244.1.0/24", "fd00:10:244:1::/64"]
    assert nodes["worker-1"]["status"]["addresses"][0] == {"type": "InternalIP", "address": "172.18.0.3"}
    keys = {r["key"] for r in exp["keys"]}
    assert {"/registry/ranges/serviceips", "/registry/ranges/secondaryserviceips",
            "/registry/configmaps/kube-system/kubelet-config-1.20"} <= keys
    assert "/registry/services/specs/apps/doomed" not in keys


def test_fixture_restores_to_what_etcd_recorded(etcd_tools, fixture_path, fixture_expected, restored_etcd):
    tag = etcd_tools.tag
    expected = fixture_expected("apiserver", tag)
    assert expected["etcd_version"] == etcd_tools.version_str
    with restored_etcd(etcd_tools, fixture_path(f"apiserver-{tag}.db")).client() as c:
        assert c.revision() == expected["revision"]
        got = [{"key": r.key.decode(), "create_revision": r.create_revision, "mod_revision": r.mod_revision,
                "version": r.version, "lease": r.lease, "value_len": len(r.value),
                "value_sha256": hashlib.sha256(r.value).hexdigest()} for r in c.range()]
    assert got == expected["keys"]
