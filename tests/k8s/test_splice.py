"""splice: in-place string edits keep every other byte; edits and their inverses round-trip exactly."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snaprewrite.errors import DecodeError
from snaprewrite.k8s import envelope, registry, splice

SVC = b"/registry/services/specs/default/kubernetes"
CLUSTER_IP = registry.resolve_path("v1", "Service", ("spec", "clusterIP"))
CLUSTER_IPS = registry.resolve_path("v1", "Service", ("spec", "clusterIPs"))


def test_resolve_path_maps_names_to_numbers_and_json_keys():
    assert CLUSTER_IPS.proto == (2, 18) and CLUSTER_IPS.json == ("spec", "clusterIPs") and CLUSTER_IPS.is_string
    assert registry.resolve_path("v1", "Node", ("spec", "podCIDRs")).proto == (2, 7)
    assert registry.resolve_path("networking.k8s.io/v1beta1", "ServiceCIDR", ("spec", "cidrs")).proto == (2, 1)
    assert registry.resolve_path("v1", "Service", ("spec", "ports", "name")).proto == (2, 1, 1)
    with pytest.raises(DecodeError):
        registry.resolve_path("v1", "Service", ("spec", "clusterIPz"))
    with pytest.raises(DecodeError):
        registry.resolve_path("v1", "Service", ("spec", "clusterIP", "x"))
    with pytest.raises(DecodeError):
        registry.resolve_path("shop.example.com/v1", "Widget", ("spec",))  # no schema


def test_scan_spans_cover_the_message_exactly(real_values):
    value = real_values[SVC]
    env = envelope.parse(value)
    spans = list(splice.scan(value, env.raw_offset, env.raw_offset + env.raw_length))
    assert [f.number for f in spans] == [1, 2, 3]
    assert spans[0].tag_start == env.raw_offset and spans[-1].value_end == env.raw_offset + env.raw_length
    for a, b in zip(spans, spans[1:]):
        assert a.value_end == b.tag_start


def test_get_fields_on_real_services(real_values):
    assert splice.get_fields(real_values[SVC], CLUSTER_IP) == ["10.96.0.1"]
    assert splice.get_fields(real_values[SVC], CLUSTER_IPS) == []  # 1.18 has no clusterIPs
    dns = real_values[b"/registry/services/specs/kube-system/kube-dns"]
    assert splice.get_fields(dns, (2, 1, 1)) == ["dns", "dns-tcp", "metrics"]


def test_edit_then_inverse_gives_back_the_original_bytes(real_values):
    for key, value in real_values.items():
        if not key.startswith(b"/registry/services/specs/"):
            continue
        old = splice.get_fields(value, CLUSTER_IP)
        new_ip = ["fd00:1234:5678::a" if ip != "None" else "None" for ip in old]
        changed = splice.set_fields(value, {CLUSTER_IP: new_ip, (1, 1): lambda name: name + "-moved"})
        assert changed != value and envelope.parse(changed).raw_length == envelope.parse(value).raw_length + (
            (len(new_ip[0]) - len(old[0])) if old and old[0] != "None" else 0) + len("-moved")
        assert splice.get_fields(changed, CLUSTER_IP) == new_ip
        back = splice.set_fields(changed, {CLUSTER_IP: old, (1, 1): lambda name: name[: -len("-moved")]})
        assert back == value


def test_untouched_fields_stay_byte_identical(real_values):
    value = real_values[SVC]
    changed = splice.set_fields(value, {CLUSTER_IP: ["10.100.0.1"]})
    old_env, new_env = envelope.parse(value), envelope.parse(changed)
    old_fields = {f.number: value[f.tag_start : f.value_end]
                  for f in splice.scan(value, old_env.raw_offset, old_env.raw_offset + old_env.raw_length)}
    new_fields = {f.number: changed[f.tag_start : f.value_end]
                  for f in splice.scan(changed, new_env.raw_offset, new_env.raw_offset + new_env.raw_length)}
    assert old_fields[1] == new_fields[1] and old_fields[3] == new_fields[3]  # metadata, status
    assert old_fields[2][2:].replace(b"\x1a\t10.96.0.1", b"\x1a\n10.100.0.1") == new_fields[2][2:]  # only the IP
    assert changed[:4] == b"k8s\x00" and value[-4:] == changed[-4:]  # contentEncoding/contentType kept


def test_length_prefixes_grow_across_the_varint_boundary(real_values):
    value = real_values[SVC]
    long_name = "x" * 300  # metadata and raw lengths need one more varint byte
    changed = splice.set_fields(value, {(1, 1): [long_name]})
    env = envelope.parse(changed)
    # the name's own length prefix grows by one byte too
    assert env.raw_length == envelope.parse(value).raw_length + 300 - len("kubernetes") + 1
    assert splice.get_fields(changed, (1, 1)) == [long_name] and splice.get_fields(changed, CLUSTER_IP) == ["10.96.0.1"]
    assert splice.set_fields(changed, {(1, 1): ["kubernetes"]}) == value


def test_no_op_edits_return_identical_bytes(real_values):
    value = real_values[SVC]
    assert splice.set_fields(value, {CLUSTER_IP: [None]}) == value
    assert splice.set_fields(value, {CLUSTER_IP: lambda ip: ip}) == value
    assert splice.set_fields(value, {CLUSTER_IPS: []}) == value


def test_edit_list_must_match_the_occurrences(real_values):
    with pytest.raises(ValueError):
        splice.set_fields(real_values[SVC], {CLUSTER_IP: ["a", "b"]})
    with pytest.raises(ValueError):
        splice.set_fields(real_values[SVC], {(2,): ["x"], (2, 3): ["y"]})


@pytest.mark.parametrize("message", [
    b"\x12\x80",  # truncated varint
    b"\x12\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # overlong varint
    b"\x12\xff\xff\xff\xff\x0f",  # 4 GiB claimed, nothing there
    b"\x09\x01\x02",  # truncated fixed64
    b"\x00\x00",  # field number 0
])
def test_hostile_messages_are_refused(message):
    with pytest.raises(DecodeError):
        list(splice.scan(message))
    with pytest.raises(DecodeError):
        splice.set_message_fields(message, {(2, 1): lambda s: s})


def test_non_string_leaf_is_refused():
    with pytest.raises(DecodeError):
        splice.get_message_fields(b"\x08\x05", (1,))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=200), min_size=1, max_size=3), st.integers(0, 2))
def test_property_round_trip_on_built_services(ips, ports):
    import kubeobjects as ko

    value = ko.service("ns", "svc", cluster_ips=["10.0.0.1"] * len(ips),
                       ports=[(f"p{i}", "TCP", 80 + i, 8080) for i in range(ports)])
    changed = splice.set_fields(value, {CLUSTER_IPS: ips, CLUSTER_IP: ips[:1]})
    assert splice.get_fields(changed, CLUSTER_IPS) == ips
    assert splice.set_fields(changed, {CLUSTER_IPS: ["10.0.0.1"] * len(ips), CLUSTER_IP: ["10.0.0.1"]}) == value


# ---- JSON twin


CR = (b'{"apiVersion":"example.com/v1", "kind":"Pool","metadata":{"name":"p"},\n'
      b' "spec":{"cidrs":["10.0.0.0/16" , "fd00::/48"],"note":"\\u00e9 \\"q\\"","blocks":[{"cidr":"10.0.1.0/24"},'
      b'{"cidr":"10.0.2.0/24","x":[1,{"cidr":"no"}]}],"cidr":7}}\n')


def test_json_get_and_set_keep_other_bytes():
    assert splice.get_fields(CR, ("spec", "cidrs")) == ["10.0.0.0/16", "fd00::/48"]
    assert splice.get_fields(CR, ("spec", "blocks", "cidr")) == ["10.0.1.0/24", "10.0.2.0/24"]
    assert splice.get_fields(CR, ("spec", "cidr")) == []  # a number is not a string
    changed = splice.set_fields(CR, {("spec", "cidrs"): ["172.16.0.0/16", None],
                                     ("spec", "blocks", "cidr"): lambda c: c.replace("10.0.", "172.16.")})
    assert changed == CR.replace(b'"10.0.0.0/16"', b'"172.16.0.0/16"').replace(b'"10.0.1.0', b'"172.16.1.0') \
        .replace(b'"10.0.2.0', b'"172.16.2.0')
    back = splice.set_fields(changed, {("spec", "cidrs"): ["10.0.0.0/16", None],
                                       ("spec", "blocks", "cidr"): lambda c: c.replace("172.16.", "10.0.")})
    assert back == CR
    assert json.loads(changed)["spec"]["note"] == json.loads(CR)["spec"]["note"]


def test_json_twin_accepts_field_paths_and_rejects_broken_json():
    path = registry.FieldPath(("spec", "cidrs"), (2, 1), ("spec", "cidrs"), True)
    assert splice.get_fields(CR, path) == ["10.0.0.0/16", "fd00::/48"]
    with pytest.raises(DecodeError):
        splice.get_fields(b'{"spec":{"cidrs":["a",}', ("spec", "cidrs"))
    with pytest.raises(DecodeError):
        splice.get_fields(b"plain text", ("spec",))
