"""Classify a stored etcd value: Kubernetes protobuf envelope, JSON object, encrypted, or something else.

kube-apiserver stores built-in kinds as ``k8s\\x00`` followed by a ``runtime.Unknown`` message
``{typeMeta{apiVersion=1, kind=2}=1, raw=2, contentEncoding=3, contentType=4}``; ``raw`` is the object's
own message. Custom resources (and aggregated APIs) are stored as JSON. With encryption at rest the
value starts ``k8s:enc:<provider>:v1:<key name>:`` (``kms:v2`` for KMS v2) and the rest is ciphertext.

The envelope is read with ``splice.select`` (bounds-checked, as ``splice.scan``), so ``raw_offset`` is the exact byte offset
of ``raw``'s payload inside the stored value: ``value[raw_offset:raw_offset + raw_length]``.
"""

import json
from dataclasses import dataclass

from ..errors import DecodeError
from . import splice

MAGIC = b"k8s\x00"
ENC_PREFIX = b"k8s:enc:"

PROTOBUF, JSON, ENCRYPTED, OTHER = "protobuf", "json", "encrypted", "other"


@dataclass(frozen=True)
class Envelope:
    """What a stored value is; ``raw_offset``/``raw_length`` locate the object's own bytes in the value."""

    storage: str  # "protobuf" | "json" | "encrypted" | "other"
    api_version: str | None = None
    kind: str | None = None
    provider: str | None = None  # encrypted: aescbc, aesgcm, secretbox, kms
    provider_version: str | None = None  # encrypted: v1 or v2
    key_name: str | None = None  # encrypted: the key (or KMS plugin) name from the config
    raw_offset: int = 0
    raw_length: int = 0
    content_encoding: str = ""
    content_type: str = ""

    def raw(self, value: bytes) -> bytes:
        """raw returns the object's own bytes (protobuf message or JSON text) out of the stored value."""
        return bytes(value[self.raw_offset : self.raw_offset + self.raw_length])


_ENVELOPE = {1: "typeMeta", 2: "raw", 3: "contentEncoding", 4: "contentType"}  # runtime.Unknown
_TYPE_META = {1: "apiVersion", 2: "kind"}


def _parse_protobuf(value: bytes) -> Envelope:
    """_parse_protobuf reads the runtime.Unknown after the magic; any inconsistency is a DecodeError.

    Fields of another wire type under these numbers are skipped; problems are met in wire order, as a
    walk over ``splice.scan`` meets them (``select`` returns the first one after the fields before it).
    """
    api_version = kind = None
    raw = None
    encoding = ctype = ""
    try:
        fields, err = splice.select(value, len(MAGIC), len(value), _ENVELOPE, strict=False)
        for _, number, _, _, start, end in fields:
            if number == 1:
                names, inner_err = splice.select(value, start, end, _TYPE_META, strict=False)
                for _, n, _, _, a, b in names:
                    if n == 1:
                        api_version = value[a:b].decode("utf-8")
                    else:
                        kind = value[a:b].decode("utf-8")
                if inner_err is not None:
                    raise inner_err
            elif number == 2:
                raw = (start, end - start)
            elif number == 3:
                encoding = value[start:end].decode("utf-8")
            else:
                ctype = value[start:end].decode("utf-8")
        if err is not None:
            raise err
    except UnicodeDecodeError:
        raise DecodeError("broken kubernetes envelope: type name is not utf-8") from None
    except DecodeError as e:
        raise DecodeError(f"broken kubernetes envelope: {e}") from None
    if raw is None or not kind or not api_version:
        raise DecodeError("broken kubernetes envelope: missing typeMeta or raw")
    return Envelope(PROTOBUF, api_version, kind, raw_offset=raw[0], raw_length=raw[1],
                    content_encoding=encoding, content_type=ctype)


def _parse_encrypted(value: bytes) -> Envelope:
    """_parse_encrypted reads ``k8s:enc:<provider>:<version>:<name>:``; odd prefixes still count as encrypted."""
    parts = bytes(value[len(ENC_PREFIX) : len(ENC_PREFIX) + 512]).split(b":", 3)
    provider = parts[0].decode("utf-8", "replace") if parts and parts[0] else None
    version = parts[1].decode("utf-8", "replace") if len(parts) > 1 else None
    name = parts[2].decode("utf-8", "replace") if len(parts) > 3 else None
    return Envelope(ENCRYPTED, provider=provider, provider_version=version, key_name=name)


def _parse_json(value: bytes) -> Envelope:
    """_parse_json accepts a JSON object; apiVersion/kind come from it (None if absent)."""
    try:
        obj = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return Envelope(OTHER)
    except RecursionError:  # arrays or objects nested ~1000 deep: valid JSON we cannot hold
        raise DecodeError("JSON value nested too deeply to decode") from None
    if not isinstance(obj, dict):
        return Envelope(OTHER)
    av, kind = obj.get("apiVersion"), obj.get("kind")
    return Envelope(JSON, av if isinstance(av, str) else None, kind if isinstance(kind, str) else None,
                    raw_offset=0, raw_length=len(value))


def parse(value: bytes) -> Envelope:
    """parse classifies a stored value; raises DecodeError for a broken ``k8s\\x00`` envelope or too-deep JSON."""
    value = bytes(value)
    if value.startswith(MAGIC):
        return _parse_protobuf(value)
    if value.startswith(ENC_PREFIX):
        return _parse_encrypted(value)
    if value.lstrip()[:1] == b"{":
        return _parse_json(value)
    return Envelope(OTHER)
