"""decode on the real kubeadm 1.18 snapshot: every typed value decodes, shows what the API shows,
validates as the `kubernetes` client's model, and re-encodes to the identical stored bytes."""

import datetime
import ipaddress
import json

import pytest
from kubernetes.client import ApiClient

from snaprewrite.errors import DecodeError
from snaprewrite.k8s import decode, encode, envelope, registry
from snaprewrite.k8s.proto import coordination_v1_pb2, core_pb2, discovery_v1beta1_pb2

MODELS = {"Service": "V1Service", "Node": "V1Node", "ConfigMap": "V1ConfigMap", "Endpoints": "V1Endpoints",
          "Pod": "V1Pod", "Namespace": "V1Namespace", "Lease": "V1Lease", "Event": "CoreV1Event",
          "Secret": "V1Secret", "ServiceAccount": "V1ServiceAccount",
          **{k: "V1" + k for k in ("Deployment", "DaemonSet", "ReplicaSet", "ControllerRevision", "ClusterRole",
                                   "ClusterRoleBinding", "Role", "RoleBinding", "PriorityClass")}}
# (CSINode is left out: a node without CSI drivers is served with "drivers": null, no omitempty in Go, which
# the client's model refuses; tests/k8s/test_allkinds.py compares CSINodes with kubectl's own answer)
PREFIXES = {b"/registry/services/": "Service", b"/registry/minions/": "Node", b"/registry/configmaps/": "ConfigMap",
            b"/registry/services/endpoints/": "Endpoints", b"/registry/pods/": "Pod", b"/registry/namespaces/": "Namespace",
            b"/registry/leases/": "Lease", b"/registry/events/": "Event", b"/registry/endpointslices/": "EndpointSlice",
            b"/registry/ranges/": "RangeAllocation", b"/registry/masterleases/": "Endpoints"}


# encode.py (the fixtures' encoder) builds these kinds with the hand-written classes of snaprewrite/k8s/proto/,
# for which its presence rules (POINTER_FIELDS, FIELD_SINCE) are written
ENCODER_CLASSES = {
    **{("v1", k): getattr(core_pb2, k) for k in ("Service", "Node", "ConfigMap", "Secret", "Namespace", "Endpoints",
                                                 "RangeAllocation", "Pod", "Event", "ServiceAccount")},
    ("discovery.k8s.io/v1beta1", "EndpointSlice"): discovery_v1beta1_pb2.EndpointSlice,
    ("coordination.k8s.io/v1beta1", "Lease"): coordination_v1_pb2.Lease,
    ("coordination.k8s.io/v1", "Lease"): coordination_v1_pb2.Lease,
}


def _typed(real_values):
    for key, value in sorted(real_values.items()):
        if value.startswith(b"k8s\x00"):
            env = envelope.parse(value)
            if registry.message_class(env.api_version, env.kind):
                yield key, value, env


def _norm(x):
    """_norm makes the client's serialization comparable: datetimes to UTC, None dropped."""
    if isinstance(x, dict):
        return {k: _norm(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_norm(v) for v in x]
    if isinstance(x, str) and len(x) >= 20 and x[4:5] == "-" and x[10:11] == "T":
        try:
            return datetime.datetime.fromisoformat(x.replace("Z", "+00:00")).astimezone(datetime.UTC)
        except ValueError:
            return x
    return x


def _subset(small, big, path="") -> None:
    """_subset asserts every value in ``small`` is present and equal in ``big``."""
    if isinstance(small, dict):
        assert isinstance(big, dict), path
        for k, v in small.items():
            assert k in big, f"{path}.{k} missing"
            _subset(v, big[k], f"{path}.{k}")
    elif isinstance(small, list):
        assert isinstance(big, list) and len(small) == len(big), path
        for i, (a, b) in enumerate(zip(small, big)):
            _subset(a, b, f"{path}[{i}]")
    else:
        assert small == big, f"{path}: {small!r} != {big!r}"


def test_every_kind_the_brief_names_decodes(real_values):
    seen = {}
    for key, value in real_values.items():
        matches = [p for p in PREFIXES if key.startswith(p)]
        if value and matches:
            kind = PREFIXES[max(matches, key=len)]
            obj = decode.decode_value(value)
            assert obj["kind"] == kind and obj["apiVersion"]
            seen[kind] = seen.get(kind, 0) + 1
    assert seen.keys() == set(PREFIXES.values())
    assert seen["Pod"] == 12 and seen["Event"] == 62 and seen["Node"] == 3


def test_decoded_objects_validate_as_kubernetes_client_models(real_values):
    client = ApiClient()
    checked = 0
    for key, value, env in _typed(real_values):
        model = MODELS.get(env.kind)
        if model is None:
            continue
        obj = decode.decode_value(value)
        if env.kind == "Secret":
            obj = decode.redact_secret(obj)
            obj["data"] = {k: "" for k in obj.get("data", {})}
        parsed = client.deserialize(json.dumps(obj), model, "application/json")
        again = client.sanitize_for_serialization(parsed)
        _subset(_norm(again), _norm(obj), key.decode())
        assert parsed.metadata.name == obj["metadata"].get("name")
        checked += 1
    assert checked > 150


def test_api_fields_of_well_known_objects(real_values):
    svc = decode.decode_value(real_values[b"/registry/services/specs/default/kubernetes"])
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"] == [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 6443}]
    assert svc["metadata"]["creationTimestamp"] == "2020-08-07T14:20:55Z"
    assert svc["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:clusterIP"] == {}
    dns = decode.decode_value(real_values[b"/registry/services/specs/kube-system/kube-dns"])
    assert dns["spec"]["clusterIP"] == "10.96.0.10" and dns["spec"]["selector"] == {"k8s-app": "kube-dns"}
    nodes = [decode.decode_value(v) for k, v in real_values.items() if k.startswith(b"/registry/minions/")]
    for node in nodes:
        cidr = ipaddress.ip_network(node["spec"]["podCIDR"])
        assert cidr.subnet_of(ipaddress.ip_network("10.5.0.0/16"))
        assert node["spec"]["podCIDRs"] == [node["spec"]["podCIDR"]]
        assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
        assert isinstance(node["status"]["capacity"]["cpu"], str)
    ra = decode.decode_value(real_values[b"/registry/ranges/serviceips"])
    assert ra["range"] == "10.96.0.0/12" and ra["metadata"] == {"creationTimestamp": None}  # Go: a zero Time is null
    lease = decode.decode_value(real_values[b"/registry/leases/kube-node-lease/node1"])
    assert lease["apiVersion"] == "coordination.k8s.io/v1beta1"
    assert lease["spec"]["renewTime"].endswith("Z") and len(lease["spec"]["renewTime"]) == 27  # microseconds
    pods = [decode.decode_value(v) for k, v in real_values.items() if k.startswith(b"/registry/pods/")]
    proxy = next(p for p in pods if p["metadata"]["name"].startswith("kube-proxy"))
    assert proxy["spec"]["volumes"][0]["configMap"] == {"name": "kube-proxy", "defaultMode": 420}  # inlined
    assert proxy["spec"]["containers"][0]["resources"] == {}


def test_real_values_reencode_byte_for_byte(real_values):
    """A message rebuilt from only its meaningful fields and encoded like the apiserver equals the stored bytes."""
    count = 0
    for key, value, env in _typed(real_values):
        cls = ENCODER_CLASSES.get((env.api_version, env.kind))
        if cls is None:
            continue
        msg = cls.FromString(env.raw(value))
        assert msg.SerializeToString(deterministic=True) == env.raw(value), key
        lean = cls()
        _copy_meaningful(msg, lean)
        assert encode.encode_object(lean, env.api_version, env.kind, version=(1, 18)) == value, key
        count += 1
    assert count == 175


def _copy_meaningful(src, dst) -> None:
    """_copy_meaningful copies what a builder would set: non-zero values, and pointer fields even when zero."""
    pointers = encode.POINTER_FIELDS.get(src.DESCRIPTOR.full_name, set())
    for field, value in src.ListFields():
        if field.is_repeated:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                getattr(dst, field.name).MergeFrom(value)
            elif field.message_type is not None:
                for item in value:
                    _copy_meaningful(item, getattr(dst, field.name).add())
            else:
                getattr(dst, field.name).extend(value)
        elif field.message_type is not None:
            sub = getattr(dst, field.name)
            if field.name in pointers or field.message_type.full_name in encode.TIME_TYPES:
                sub.SetInParent()
            _copy_meaningful(value, sub)
            if sub.ByteSize() == 0 and field.name not in pointers:
                dst.ClearField(field.name)
        elif value != field.default_value or field.name in pointers:
            setattr(dst, field.name, value)


def test_unknown_kind_gives_numbered_fields_and_unknown_fields_do_not_break():
    value = b"k8s\x00" + b"\x0a\x17\x0a\x07apps/v1\x12\x0cStatefulSets" + b"\x12\x02\x0a\x00\x1a\x00\x22\x00"
    assert decode.decode_value(value) == {"apiVersion": "apps/v1", "kind": "StatefulSets", "metadata": {}}
    # ObjectMeta{name: w}, 2: {1: "abc", 2: 5, 2: 6}, 3: 7, 4: bytes that are no message and no text
    raw = b"\x0a\x03\x0a\x01w" + b"\x12\x09\x0a\x03abc\x10\x05\x10\x06" + b"\x18\x07" + b"\x22\x02\xff\x07"
    assert decode.decode_object("example.com/v1", "Gadget", raw) == {
        "apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "w"},
        "2": {"1": "abc", "2": [5, 6]}, "3": 7, "4": {"base64": "/wc="}}
    cm = core_pb2.ConfigMap()
    cm.metadata.name = "x"
    raw = cm.SerializeToString() + b"\xa8\x1f\x05" + b"\xb2\x1f\x03abc"  # fields 501 (varint) and 502 (bytes)
    assert decode.decode_object("v1", "ConfigMap", raw) == {"apiVersion": "v1", "kind": "ConfigMap",
                                                             "metadata": {"name": "x"}, "501": 5, "502": "abc"}


def test_encrypted_and_foreign_values_raise():
    with pytest.raises(DecodeError, match="encrypted"):
        decode.decode_value(b"k8s:enc:aescbc:v1:key1:\x01\x02")
    with pytest.raises(DecodeError):
        decode.decode_value(b"1124")
    with pytest.raises(DecodeError):
        decode.decode_object("v1", "Service", b"\x12\x05\x0a")


def test_redact_secret_keeps_keys_only(real_values):
    key = next(k for k in real_values if k.startswith(b"/registry/secrets/kube-system/"))
    secret = decode.decode_value(real_values[key])
    red = decode.redact_secret(secret)
    assert red["data"].keys() == secret["data"].keys() and set(red["data"].values()) == {decode.REDACTED}
    assert red["metadata"] == secret["metadata"] and secret["data"] != red["data"]
    assert decode.redact_secret({"kind": "Secret", "stringData": {"a": "b"}})["stringData"] == {"a": decode.REDACTED}
