"""Every built-in kind: ``snaprewrite get -o json`` equals what kube-apiserver 1.20.2 served for every stored object.

fixtures/allkinds-etcd35.db was written by the real kube-apiserver 1.20.2 (fixtures/allkinds.py): objects of
every kind it serves, at the versions it stores them in (many v1beta1), plus its own bootstrap objects.
fixtures/allkinds-etcd35.expected.json holds ``kubectl get -o json`` of each at its stored version; nothing in it
comes from snaprewrite. The real kubeadm 1.18 snapshot must decode with no kind left to the numbered view.
"""

import json
import re
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s import decode, envelope, schema

runner = CliRunner()
FIXTURE = "allkinds-etcd35"

# What kube-apiserver adds when it reads, proven absent from the stored bytes (the decoded wire has no such
# field): (kind, path) -> the value it serves. SetDefaults_PersistentVolume sets status.phase on every decode.
READ_DEFAULTS = {("PersistentVolume", ("status", "phase")): "Pending"}
# Served kinds that are stored as another group's kind (the same etcd resource), and kinds never stored.
STORED_AS = {("events.k8s.io", "Event"): ("", "Event"), ("extensions", "Ingress"): ("networking.k8s.io", "Ingress")}
NOT_STORED = {("", "ComponentStatus")}  # computed from component health probes on each GET


@pytest.fixture(scope="module")
def served(fixture_expected):
    return fixture_expected("allkinds")


@pytest.fixture(scope="module")
def records(fixture_path):
    with Snapshot(fixture_path(FIXTURE + ".db")) as snap:
        return {k.decode(): mvcc.record_at(snap, r).kv for k, r in mvcc.live_keys(snap).items()}


def _expected(key: str, obj: dict, kv) -> dict:
    """_expected is kubectl's answer less what is not stored; resourceVersion must be the key's mod_revision."""
    obj = json.loads(json.dumps(obj))
    assert obj["metadata"].pop("resourceVersion") == str(kv.mod_revision), key
    obj["metadata"].pop("selfLink", None)
    for (kind, path), value in READ_DEFAULTS.items():
        *parents, leaf = path
        holder = obj
        for p in parents:
            holder = holder.get(p, {})
        if obj["kind"] == kind and holder.get(leaf) == value:
            del holder[leaf]
    return obj


def _cli_get(db: str, key: str) -> dict:
    res = runner.invoke(app, ["get", db, key, "-o", "json", "--show-secrets"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_every_object_equals_what_the_api_served(served, records, fixture_path):
    db = str(fixture_path(FIXTURE + ".db"))
    kinds = set()
    for key, obj in served["objects"].items():
        want = _expected(key, obj, records[key])
        assert _cli_get(db, key) == want, key
        kinds.add((obj["apiVersion"], obj["kind"]))
    assert len(served["objects"]) >= 120 and len(kinds) >= 50


def test_read_defaults_are_absent_from_the_stored_bytes(served, records):
    """The only exception is a field kube-apiserver defaults on read: the stored message has no such field."""
    found = 0
    for key, obj in served["objects"].items():
        for (kind, path), value in READ_DEFAULTS.items():
            holder = obj
            for p in path[:-1]:
                holder = holder.get(p, {})
            if obj["kind"] == kind and holder.get(path[-1]) == value:
                ours = decode.decode_value(records[key].value)
                for p in path[:-1]:
                    ours = ours.get(p, {})
                assert path[-1] not in ours, key
                found += 1
    assert found == 1  # pv-nfs-1 (pv-csi-1 got its phase through the status subresource)


def test_every_served_kind_is_in_the_fixture(served, records):
    stored = {(o["apiVersion"].rpartition("/")[0], o["kind"]) for o in served["objects"].values()}
    for r in served["resources"]:
        if "list" in r["verbs"] and (r["group"], r["kind"]) not in NOT_STORED:
            assert STORED_AS.get((r["group"], r["kind"]), (r["group"], r["kind"])) in stored, r
    protobuf = [kv for kv in records.values() if envelope.parse(kv.value).storage == envelope.PROTOBUF]
    assert len(protobuf) >= 75  # the 44 APIServices and the Widget are stored as JSON
    for kv in protobuf:
        env = envelope.parse(kv.value)
        assert schema.kind_message(env.api_version, env.kind), (kv.key, env.api_version, env.kind)


def test_comparison_fails_when_a_schema_fact_is_wrong(served, records, monkeypatch):
    """The equality above depends on the tables: drop ObjectMeta.uid and no object matches any more."""
    s = schema.schema()
    meta = "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    broken = replace(s, messages={**s.messages, meta: tuple(f for f in s.messages[meta] if f.name != "uid")})
    monkeypatch.setattr(schema, "schema", lambda: broken)
    key = "/registry/deployments/shop/api"
    assert decode.decode_value(records[key].value) != _expected(key, served["objects"][key], records[key])
    monkeypatch.undo()
    assert decode.decode_value(records[key].value) == _expected(key, served["objects"][key], records[key])


def test_comparison_fails_without_the_read_time_rule(served, records, monkeypatch):
    key = "/registry/statefulsets/shop/db"
    monkeypatch.setattr(decode, "READ_TIME", {})
    assert decode.decode_value(records[key].value) != _expected(key, served["objects"][key], records[key])


def test_real_snapshot_has_no_undecoded_kind(real_snapshot):
    """Every protobuf value of the real kubeadm 1.18 snapshot has a schema: no numbered or raw fields anywhere."""
    numbered = re.compile(r'"\d+":')
    counts = {"protobuf": 0, "json": 0}
    with Snapshot(real_snapshot) as snap:
        for key, rev in mvcc.live_keys(snap).items():
            value = mvcc.record_at(snap, rev).kv.value
            env = envelope.parse(value)
            if env.storage not in counts:
                continue
            counts[env.storage] += 1
            obj = decode.decode_value(value)
            if env.storage == envelope.PROTOBUF:
                assert schema.kind_message(env.api_version, env.kind), key
                text = json.dumps(obj)
                assert "raw" not in obj and "base64" not in obj and not numbered.search(text), key
                if not key.startswith((b"/registry/ranges/", b"/registry/masterleases/")):  # no names: not API objects
                    assert obj["metadata"]["name"] and obj["metadata"]["creationTimestamp"], key
    assert counts == {"protobuf": 313, "json": 31}


def test_raw_extension_holds_json_an_embedded_object_or_numbered_bytes(records):
    """ControllerRevision.data: JSON as parsed, a stored ``k8s\\0`` object decoded, other bytes numbered."""
    cls = schema.message_class("apps/v1", "ControllerRevision")
    cm = records["/registry/configmaps/shop/app-config"].value
    for raw, want in ((b'{"spec":{"a":1}}', {"spec": {"a": 1}}), (cm, decode.decode_value(cm)),
                      (b"\x08\x96\x01", {"1": 150})):
        msg = cls()
        msg.metadata.name = "r"
        msg.data.raw = raw
        msg.revision = 2
        got = decode.decode_object("apps/v1", "ControllerRevision", msg.SerializeToString())
        assert got["data"] == want and got["revision"] == 2
    assert decode.decode_value(cm)["binaryData"] == {"logo.png": "iVBORw0KGgo="}


def test_hostile_embedded_values_stay_bounded():
    """Objects nested in RawExtensions past MAX_EMBEDDED, and JSON nested too deep, give views, not tracebacks."""
    cls = schema.message_class("apps/v1", "ControllerRevision")
    unknown = schema.message_class_by_name("k8s.io.apimachinery.pkg.runtime.Unknown")
    value = b'[' * 100000 + b']' * 100000
    for _ in range(decode.MAX_EMBEDDED + 3):
        msg = cls()
        msg.data.raw = value
        env = unknown(raw=msg.SerializeToString())
        env.typeMeta.apiVersion, env.typeMeta.kind = "apps/v1", "ControllerRevision"
        value = envelope.MAGIC + env.SerializeToString()
    obj = decode.decode_value(value)
    depth = 0
    while isinstance(obj, dict) and obj.get("kind") == "ControllerRevision":
        obj, depth = obj["data"], depth + 1
    assert depth == decode.MAX_EMBEDDED + 1 and isinstance(obj, dict)  # the rest shown numbered
    json.dumps(obj)
    deep = cls()
    deep.data.raw = b"[" * 100000 + b"]" * 100000
    assert decode.decode_object("apps/v1", "ControllerRevision", deep.SerializeToString())["data"].startswith("[[[")


def _fill(msg, depth: int) -> None:
    """_fill sets every field of a message (samples, one element per list/map) down to ``depth`` levels."""
    samples = {"string": "s", "int32": 3, "int64": 1611136800, "bool": True, "bytes": b"\x00b", "double": 0.5}
    for f in schema.fields(msg.DESCRIPTOR.full_name):
        if f.message and depth == 0:
            continue
        if f.map:
            m = getattr(msg, f.name)
            if f.message:
                _fill(m["k"], depth - 1)
            else:
                m["k"] = samples[f.type]
        elif f.repeated:
            if f.message:
                _fill(getattr(msg, f.name).add(), depth - 1)
            else:
                getattr(msg, f.name).append(samples[f.type])
        elif f.message:
            getattr(msg, f.name).SetInParent()
            _fill(getattr(msg, f.name), depth - 1)
        else:
            setattr(msg, f.name, samples[f.type])


def test_every_kind_renders_with_every_field_set_and_with_none():
    """All 199 kinds' tables render: empty, and with every field set four levels deep (JSON-serialisable)."""
    for (api_version, kind), full in schema.schema().kinds.items():
        cls = schema.message_class_by_name(full)
        assert decode.decode_object(api_version, kind, b"")["kind"] == kind
        msg = cls()
        _fill(msg, 4)
        obj = decode.decode_object(api_version, kind, msg.SerializeToString())
        json.dumps(obj)
        assert obj["metadata"]["name"] == "s" and obj["metadata"]["creationTimestamp"] is not None, kind
    assert len(schema.schema().kinds) >= 190


def test_crd_schema_unions_render_as_apiextensions_marshals_them():
    """CRDs are stored as JSON by 1.16-1.20 (so the fixture has none in protobuf); the unions follow marshal.go."""
    ext = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1."
    props = schema.message_class_by_name(ext + "JSONSchemaProps")()
    props.type, props.ref, props.maximum = "object", "#/x", 10.0
    props.default.raw = b'{"a":1}'
    props.enum.add().raw, props.enum.add().raw = b'"red"', b"2"
    props.items.schema.type = "string"
    props.additionalProperties.allows = True
    props.additionalItems.allows = False
    props.dependencies["a"].property.append("b")
    props.patternProperties["^x"].items.jSONSchemas.add().type = "integer"
    props.xKubernetesPreserveUnknownFields = True
    assert decode.render(props) == {
        "type": "object", "$ref": "#/x", "maximum": 10, "default": {"a": 1}, "enum": ["red", 2],
        "items": {"type": "string"}, "additionalProperties": True, "additionalItems": False,
        "dependencies": {"a": ["b"]}, "patternProperties": {"^x": {"items": [{"type": "integer"}]}},
        "x-kubernetes-preserve-unknown-fields": True}
