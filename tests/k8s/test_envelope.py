"""envelope.parse: protobuf envelopes with exact raw offsets, JSON, encryption prefixes, other values."""

import pytest

from snaprewrite.errors import DecodeError
from snaprewrite.k8s import envelope
from snaprewrite.k8s.proto import runtime_pb2


def _wrap(raw: bytes, api_version="v1", kind="ConfigMap") -> bytes:
    u = runtime_pb2.Unknown(raw=raw, contentEncoding="", contentType="")
    u.typeMeta.apiVersion, u.typeMeta.kind = api_version, kind
    return b"k8s\x00" + u.SerializeToString(deterministic=True)


def test_protobuf_envelope_reports_type_and_exact_raw_span():
    raw = b"\x0a\x03abc" * 50  # 250 bytes: a two-byte length varint
    value = _wrap(raw, "coordination.k8s.io/v1", "Lease")
    env = envelope.parse(value)
    assert (env.storage, env.api_version, env.kind) == ("protobuf", "coordination.k8s.io/v1", "Lease")
    assert value[env.raw_offset : env.raw_offset + env.raw_length] == raw
    assert env.raw(value) == raw
    assert env.raw_offset == 4 + 2 + len(b"\n\x16coordination.k8s.io/v1\x12\x05Lease") + 3


def test_real_service_envelope(real_values):
    value = real_values[b"/registry/services/specs/default/kubernetes"]
    env = envelope.parse(value)
    assert (env.api_version, env.kind, env.content_type, env.content_encoding) == ("v1", "Service", "", "")
    assert value[env.raw_offset - 3 : env.raw_offset - 2] == b"\x12"  # raw's tag, then a 2-byte length


@pytest.mark.parametrize("value", [
    b"k8s\x00",  # no Unknown at all
    b"k8s\x00\x12\x80",  # truncated length varint
    b"k8s\x00\x12\x7f\x00",  # raw claims 127 bytes, 1 present
    b"k8s\x00\x12\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f",  # absurd length: refused without allocating
    b"k8s\x00\x0a\x02\x0a\x00\x12\x00",  # typeMeta without kind
    b"k8s\x00\x0b\x00",  # wire type 3 (groups) is not used by Kubernetes
])
def test_broken_envelopes_raise_one_line_decode_error(value):
    with pytest.raises(DecodeError) as e:
        envelope.parse(value)
    assert "\n" not in str(e.value) and "broken kubernetes envelope" in str(e.value)


def test_json_value_takes_type_from_the_object():
    env = envelope.parse(b'{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"}}\n')
    assert (env.storage, env.api_version, env.kind) == ("json", "example.com/v1", "Widget")


@pytest.mark.parametrize("prefix,provider,version,name", [
    (b"k8s:enc:aescbc:v1:key1:", "aescbc", "v1", "key1"),
    (b"k8s:enc:aesgcm:v1:2024-key:", "aesgcm", "v1", "2024-key"),
    (b"k8s:enc:secretbox:v1:sb:", "secretbox", "v1", "sb"),
    (b"k8s:enc:kms:v2:vault-plugin:", "kms", "v2", "vault-plugin"),
])
def test_encrypted_values_report_provider_and_key(prefix, provider, version, name):
    env = envelope.parse(prefix + b"\x00\x01ciphertext\xff")
    assert (env.storage, env.provider, env.provider_version, env.key_name) == ("encrypted", provider, version, name)


@pytest.mark.parametrize("value", [b"1124", b"", b"{not json", b"[1,2]", b"\x00\x01"])
def test_other_values(value):
    assert envelope.parse(value).storage == "other"
