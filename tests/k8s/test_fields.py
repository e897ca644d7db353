"""The protobuf-runtime field reader answers exactly like the wire-walking splice reader."""

import pytest
from google.protobuf.descriptor import FieldDescriptor

from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s import envelope, fields, registry, schema, splice


def string_paths(cls, depth: int = 3, prefix: tuple = ()) -> list[tuple[str, ...]]:
    """string_paths lists every string field path of a message down to ``depth`` levels."""
    out = []
    for fd in cls.DESCRIPTOR.fields:
        path = prefix + (fd.name,)
        if fd.type == FieldDescriptor.TYPE_STRING:
            out.append(path)
        elif fd.type == FieldDescriptor.TYPE_MESSAGE and fd.message_type.GetOptions().map_entry:
            continue  # maps: the fast path leaves them to splice (see test_fallbacks_keep_splice_answers)
        elif fd.type == FieldDescriptor.TYPE_MESSAGE and depth > 1:
            sub = schema.message_class_by_name(fd.message_type.full_name)
            out.extend(string_paths(sub, depth - 1, path))
    return out


@pytest.mark.parametrize("name", ["k8s-etcd35", "k8s-etcd34", "apiserver-etcd35", "apiserver-etcd34", "real"])
def test_fast_reader_agrees_with_splice(name, fixture_path, real_snapshot):
    path = real_snapshot if name == "real" else fixture_path(name + ".db")
    checked = 0
    with Snapshot(path) as snap:
        for key, revkey in sorted(mvcc.live_keys(snap).items()):
            value = mvcc.record_at(snap, revkey).kv.value
            env = envelope.parse(value)
            if env.storage != envelope.PROTOBUF:
                continue
            cls = registry.message_class(env.api_version, env.kind)
            if cls is None:
                continue
            paths = [registry.resolve_path(env.api_version, env.kind, p) for p in string_paths(cls)]
            got = fields.fast(value, env.api_version, env.kind, paths)
            assert got is not None, key  # the fast path answers every well-formed object of a known kind
            assert got == splice.get_many(value, paths), key
            assert fields.read(value, env.api_version, env.kind, paths) == got
            checked += 1
    assert checked >= 30


def test_fallbacks_keep_splice_answers(fixture_path):
    value = b'{"apiVersion":"v1","kind":"Service","spec":{"clusterIP":"10.0.0.1"}}'
    p = registry.resolve_path("v1", "Service", ("spec", "clusterIP"))
    assert fields.fast(value, "v1", "Service", [p]) is None
    assert fields.read(value, "v1", "Service", [p]) == [["10.0.0.1"]]
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        key = b"/registry/configmaps/kube-system/kube-proxy"
        cm = mvcc.record_at(snap, mvcc.live_keys(snap, key)[key]).kv.value
    keys = registry.resolve_path("v1", "ConfigMap", ("data", "key"))
    assert fields.fast(cm, "v1", "ConfigMap", [keys]) is None  # map order is not wire order
    assert fields.read(cm, "v1", "ConfigMap", [keys]) == [["config.conf", "kubeconfig.conf"]]
