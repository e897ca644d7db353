"""fixtures/kubeobjects: builders decode to what they were given, validate as client models, and
serialize like kube-apiserver (gogo presence, Unknown with empty content fields)."""

import json

import kubeobjects as ko
from kubernetes.client import ApiClient

from snaprewrite.k8s import decode, envelope, splice


def _model(obj: dict, model: str):
    return ApiClient().deserialize(json.dumps(obj), model, "application/json")


def test_service_builder_round_trips_through_decode():
    value = ko.service("default", "web", "10.96.5.5", selector={"app": "web"},
                       ports=[("http", "TCP", 80, 8080), ("grpc", "TCP", 9090, "grpc")])
    svc = decode.decode_value(value)
    assert svc["spec"]["clusterIP"] == "10.96.5.5" and svc["spec"]["clusterIPs"] == ["10.96.5.5"]
    assert svc["spec"]["ipFamilies"] == ["IPv4"] and svc["spec"]["ipFamilyPolicy"] == "SingleStack"
    assert [p["targetPort"] for p in svc["spec"]["ports"]] == [8080, "grpc"]
    model = _model(svc, "V1Service")
    assert model.spec.cluster_ips == ["10.96.5.5"] and model.spec.selector == {"app": "web"}


def test_headless_dual_stack_and_external_name_services():
    hl = decode.decode_value(ko.service("ns", "hl", headless=True))["spec"]
    assert hl["clusterIP"] == "None" and hl["clusterIPs"] == ["None"]
    ds = decode.decode_value(ko.service("ns", "ds", cluster_ips=["10.96.0.20", "fd00:10:96::20"],
                                        ip_family_policy="PreferDualStack"))["spec"]
    assert ds["ipFamilies"] == ["IPv4", "IPv6"] and ds["clusterIPs"][1] == "fd00:10:96::20"
    ext = decode.decode_value(ko.service("ns", "ext", type="ExternalName", external_name="db.example.com"))["spec"]
    assert ext["externalName"] == "db.example.com" and "clusterIP" not in ext and "ipFamilyPolicy" not in ext


def test_builders_write_every_non_pointer_field_like_gogo():
    value = ko.service("default", "web", "10.96.5.5")
    env = envelope.parse(value)
    assert value.endswith(b"\x1a\x00\x22\x00")  # Unknown.contentEncoding and contentType, written empty
    spec = [f.number for f in splice.scan(value, env.raw_offset, env.raw_offset + env.raw_length)
            if f.number == 2]
    assert spec == [2]
    fields = [f.number for f in splice.scan(value, *_span(value, (2, 2)))]
    assert fields == sorted(fields)  # field-number order
    assert {3, 4, 7, 8, 10, 11, 12, 13} <= set(fields)  # always-written scalars, even when empty
    assert 14 not in fields and 20 not in fields  # pointer fields that were not set
    assert ko.service("default", "web", "10.96.5.5") == value  # deterministic


def _span(value: bytes, path: tuple[int, ...]) -> tuple[int, int]:
    env = envelope.parse(value)
    start, end = env.raw_offset, env.raw_offset + env.raw_length
    for number in path[1:]:
        f = next(f for f in splice.scan(value, start, end) if f.number == number)
        start, end = f.value_start, f.value_end
    return start, end


def test_every_builder_decodes_and_validates():
    cases = [
        (ko.node("n1", "10.244.1.0/24", addresses=[("InternalIP", "192.168.10.11")]), "V1Node"),
        (ko.config_map("kube-system", "kubeadm-config", {"ClusterConfiguration": "podSubnet: 10.244.0.0/16\n"}),
         "V1ConfigMap"),
        (ko.namespace("team-a"), "V1Namespace"),
        (ko.endpoints("default", "kubernetes", ["192.168.10.11"], [("https", 6443, "TCP")]), "V1Endpoints"),
        (ko.endpoint_slice("default", "web-x1", "web", ["10.244.1.5"], [("http", 8080, "TCP")]), "V1EndpointSlice"),
        (ko.service_cidr("kubernetes", ["10.96.0.0/12"]), "V1ServiceCIDR"),
        (ko.ip_address("10.96.0.1", "default", "kubernetes"), "V1IPAddress"),
        (ko.pod("default", "web-1", "n1", "10.244.1.5"), "V1Pod"),
        (ko.lease("kube-node-lease", "n1", "n1"), "V1Lease"),
        (ko.event("default", "web-1.1", "Pod", "web-1", "Scheduled", "assigned"), "CoreV1Event"),
    ]
    for value, model in cases:
        obj = decode.decode_value(value)
        parsed = _model(obj, model)
        assert parsed.metadata.uid == obj["metadata"]["uid"] and obj["metadata"]["creationTimestamp"]
    node = decode.decode_value(cases[0][0])
    assert node["spec"]["podCIDRs"] == ["10.244.1.0/24"] and node["status"]["capacity"]["pods"] == "110"
    pod = decode.decode_value(cases[7][0])
    assert pod["status"]["podIPs"] == [{"ip": "10.244.1.5"}] and pod["spec"]["enableServiceLinks"] is True
    assert pod["spec"]["priority"] == 0  # a pointer set to zero is shown
    lease = decode.decode_value(cases[8][0])
    assert lease["spec"]["renewTime"] == "2024-05-01T10:10:00.123456Z"
    event = decode.decode_value(cases[9][0])
    assert event["eventTime"] is None  # the zero MicroTime: a struct without omitempty, null in Go's JSON


def test_range_allocation_secret_and_custom_resource():
    ra = decode.decode_value(ko.range_allocation("10.96.0.0/12", b"\x02\x01"))
    assert ra == {"apiVersion": "v1", "kind": "RangeAllocation", "metadata": {"creationTimestamp": None},
                  "range": "10.96.0.0/12",
                  "data": "AgE="}
    sec = decode.decode_value(ko.secret("default", "s", {"token": b"\x00\xffsecret"}))
    assert sec["data"] == {"token": "AP9zZWNyZXQ="} and decode.redact_secret(sec)["data"] == {"token": "<redacted>"}
    cr = ko.custom_resource("crd.projectcalico.org/v1", "IPPool", "", "default-pool", {"cidr": "10.244.0.0/16"})
    assert cr.endswith(b"\n") and envelope.parse(cr).kind == "IPPool"
    assert decode.decode_value(cr)["spec"] == {"cidr": "10.244.0.0/16"}
    assert splice.get_fields(cr, ("spec", "cidr")) == ["10.244.0.0/16"]
