"""Kubernetes values with strings that are not UTF-8 decode to JSON-serialisable objects or a DecodeError.

protobuf hands back ``bytes`` for a proto2 string field holding invalid UTF-8 and raises while
iterating a map with such a key; both once escaped as TypeError/UnicodeDecodeError tracebacks.
"""

import json

import pytest

from snaprewrite.errors import DecodeError
from snaprewrite.k8s import decode

BAD = b"\xff\xfe"


def ld(field: int, payload: bytes) -> bytes:
    return bytes([field << 3 | 2, len(payload)]) + payload


@pytest.mark.parametrize("kind,raw", [
    ("Service", ld(1, ld(1, b"a" + BAD))),                                      # metadata.name
    ("Service", ld(2, ld(1, ld(1, b"p") + ld(4, bytes([0x08, 0x01]) + ld(3, BAD))))),  # ports[0].targetPort
    ("Pod", ld(2, ld(2, ld(1, b"c") + ld(8, ld(1, ld(1, b"cpu") + ld(2, ld(1, BAD))))))),  # limits quantity
])
def test_invalid_utf8_strings_are_replaced(kind, raw):
    obj = decode.decode_object("v1", kind, raw)
    text = json.dumps(obj)
    assert "\\ufffd" in text


def test_invalid_utf8_map_key_is_a_decode_error():
    raw = ld(2, ld(1, BAD) + ld(2, b"x"))  # ConfigMap.data {BAD: "x"}
    with pytest.raises(DecodeError, match="not valid utf-8"):
        decode.decode_object("v1", "ConfigMap", raw)


def deep_json(depth: int) -> bytes:
    return (b'{"apiVersion":"example.com/v1","kind":"Widget","spec":' + b"[" * depth + b"]" * depth + b"}")


def snapshot_with(tmp_path, values: dict[bytes, bytes]) -> bytes:
    """snapshot_with returns the k8s fixture plus puts of ``values`` (a trailer included)."""
    import fuzzlib as F

    from snaprewrite.bbolt.writer import Transaction
    from snaprewrite.etcd import kv, mvcc, revision
    from snaprewrite.etcd.output import write_patched
    from snaprewrite.etcd.snapshot import Snapshot

    out = tmp_path / "made.db"
    with Snapshot(F.SEEDS["k8s35"].path) as snap:
        main = mvcc.current_revision(snap)
        tx = Transaction(snap.pages)
        for key, value in values.items():
            main += 1
            tx.put((b"key",), revision.encode(revision.Revision(main)), kv.encode(kv.KeyValue(key, main, main, 1, value)))
        patch = tx.commit()
        write_patched(snap, patch.copy_length, list(patch.overwrites), patch.append, str(out))
    return out.read_bytes()


def test_deeply_nested_json_values(tmp_path):
    """A custom resource nested 100000 deep is shown as undecodable; one 900 deep is shown; no command breaks."""
    import fuzzlib as F
    deep, fine = b"/registry/example.com/widgets/default/deep", b"/registry/example.com/widgets/default/fine"
    data = snapshot_with(tmp_path, {deep: deep_json(100000), fine: deep_json(900)})
    assert not F.run_all(F.SEEDS["k8s35"], data, tmp_path / "w")
    path = tmp_path / "in.db"
    path.write_bytes(data)
    o = F.invoke(["dump", str(path), "--prefix", "/registry/example.com/"])
    assert o.code == 0, o.stderr
    shown = {json.loads(x)["key"]: json.loads(x)["value"] for x in o.stdout.splitlines()}
    assert "nested too deeply" in shown[deep.decode()]["undecodable"]
    assert shown[fine.decode()]["kind"] == "Widget"
