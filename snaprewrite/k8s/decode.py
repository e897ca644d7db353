"""Stored value -> the object as the Kubernetes API returns it in JSON (a dict), for every built-in kind.

Protobuf values are parsed with the class ``schema`` builds for (apiVersion, kind) and rendered the way
Go's ``encoding/json`` renders the API's structs, field by field from the schema tables: JSON keys are
the API's names; fields with ``omitempty`` are left out when zero/empty, fields without it are shown
(nil slices, maps and pointers as ``null``); pointer fields are shown whenever set; struct fields
always; ``json:",inline"`` fields merge into their parent. Go's protobuf writer writes every non-pointer
field, so one absent from the wire was unknown to the writing release and is left out (the tables hold
the fields of 1.16 to 1.36 at once). Special types:
``metav1.Time`` is RFC 3339 seconds (``"2020-06-20T10:11:12Z"``, the zero time ``null``), ``MicroTime``
keeps six fractional digits, ``IntOrString`` an int or a string, ``Quantity`` its stored string,
``FieldsV1``/``RawExtension``/``apiextensions JSON`` the embedded JSON (an embedded ``k8s\\x00`` object
decoded), the ``JSONSchemaPropsOr*`` unions as apiextensions marshals them, bytes base64, doubles as
numbers, map keys sorted.

What kube-apiserver adds on every read is added too (``READ_TIME``): StatefulSet
``volumeClaimTemplates[]`` get ``apiVersion: v1`` and ``kind: PersistentVolumeClaim`` (the apps
conversion sets them since 1.17, kubernetes#87583). Defaulting on read is not replayed (e.g. a
PersistentVolume stored without ``status.phase`` is served as ``Pending``).

Values stored as JSON are returned as parsed. Kinds without a schema give apiVersion, kind and the
numbered-field view of ``rawview`` (``metadata`` decoded when field 1 is an ObjectMeta); fields a table
does not know (a newer release's) are added to their message in the same numbered form (``"501": 5``). Encrypted or
non-Kubernetes values raise ``DecodeError`` (callers show them their own way). Never print a decoded
Secret: pass it through ``redact_secret`` first.
"""

import base64
import datetime
import json

from google.protobuf import unknown_fields
from google.protobuf.message import DecodeError as ProtoDecodeError

from ..errors import DecodeError
from . import envelope, rawview, schema

META = "k8s.io.apimachinery.pkg.apis.meta.v1."
EXT = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions."
REDACTED = "<redacted>"


def _time(msg, micro: bool) -> str | None:
    """_time renders metav1.Time / MicroTime in UTC the way the API does; the zero time is None."""
    if not msg.HasField("seconds") and not msg.HasField("nanos"):
        return None
    try:
        t = datetime.datetime.fromtimestamp(msg.seconds, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None  # e.g. Go's zero time, year 1
    text = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return text + (f".{msg.nanos // 1000 % 1000000:06d}Z" if micro else "Z")


MAX_EMBEDDED = 8  # objects inside objects (RawExtension holding a stored object holding one ...)
_depth = [0]


def _embedded(raw: bytes):
    """_embedded renders the bytes of a RawExtension / FieldsV1 / JSON: JSON as parsed, a stored object decoded."""
    if raw.startswith(envelope.MAGIC) and _depth[0] < MAX_EMBEDDED:
        _depth[0] += 1
        try:
            return decode_value(raw)
        except DecodeError:
            pass
        finally:
            _depth[0] -= 1
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested too deep to parse
        return rawview.value(raw)


def _text(v):
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def _quantity(m):
    return _text(m.string)


def _intstr(m):
    return _text(m.strVal) if m.type == 1 else m.intVal


def _raw(m):
    return _embedded(m.raw) if m.HasField("raw") else None


def _fields_v1(m):
    return _embedded(m.Raw) if m.HasField("Raw") else None


def _or_array(m):  # JSONSchemaPropsOrArray (protobuf names: schema=1, jSONSchemas=2)
    if len(m.jSONSchemas):
        return [render(s) for s in m.jSONSchemas]
    return render(m.schema) if m.HasField("schema") else None


def _or_bool(m):  # JSONSchemaPropsOrBool (allows=1, schema=2)
    return render(m.schema) if m.HasField("schema") else m.allows


def _or_string_array(m):  # JSONSchemaPropsOrStringArray (schema=1, property=2)
    if len(m.property):
        return [_text(p) for p in m.property]
    return render(m.schema) if m.HasField("schema") else None


SPECIAL = {
    META + "Time": lambda m: _time(m, micro=False),
    META + "MicroTime": lambda m: _time(m, micro=True),
    META + "FieldsV1": _fields_v1,
    "k8s.io.apimachinery.pkg.api.resource.Quantity": _quantity,
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": _intstr,
    "k8s.io.apimachinery.pkg.runtime.RawExtension": _raw,
    **{EXT + v + ".JSON": _raw for v in ("v1", "v1beta1")},
    **{EXT + v + ".JSONSchemaPropsOrArray": _or_array for v in ("v1", "v1beta1")},
    **{EXT + v + ".JSONSchemaPropsOrBool": _or_bool for v in ("v1", "v1beta1")},
    **{EXT + v + ".JSONSchemaPropsOrStringArray": _or_string_array for v in ("v1", "v1beta1")},
}


def _scalar(f: schema.Field, v):
    if f.type == "bytes":
        return base64.b64encode(v).decode("ascii")
    if f.type == "double":
        return int(v) if v.is_integer() and abs(v) < 1e21 else v
    return _text(v)


def _value(f: schema.Field, v):
    return render(v) if f.message else _scalar(f, v)


def render(msg) -> object:
    """render converts a parsed message of the schema tables to its API JSON value (see module docstring)."""
    full = msg.DESCRIPTOR.full_name
    special = SPECIAL.get(full)
    if special is not None:
        return special(msg)
    s = schema.schema()
    if full in s.slices:
        f = s.messages[full][0]
        return [_value(f, v) for v in getattr(msg, f.name)]
    out: dict = {}
    for f in s.messages[full]:
        if f.json is None and not f.inline:
            continue
        if f.map or f.repeated:
            items = getattr(msg, f.name)
            if not len(items):
                if not f.omitempty:
                    out[f.json] = None
                continue
            if f.map:
                out[f.json] = {_text(k): _value(f, items[k]) for k in sorted(items)}
            else:
                out[f.json] = [_value(f, v) for v in items]
            continue
        present = msg.HasField(f.name)
        if not present and not f.pointer and f.type != "bytes":
            continue  # Go writes every non-pointer field: absent means a writer whose API had no such field
        if f.message:
            if not present:
                if not f.omitempty:
                    out[f.json] = None
                continue
            value = render(getattr(msg, f.name))
            if f.inline and isinstance(value, dict):
                out.update(value)
            else:
                out[f.json] = value
            continue
        if f.pointer or f.type == "bytes":  # a Go pointer or []byte: nil when absent
            if not present or (f.type == "bytes" and f.omitempty and not getattr(msg, f.name)):
                if not present and not f.omitempty:
                    out[f.json] = None
                continue
            out[f.json] = _scalar(f, getattr(msg, f.name))
            continue
        v = getattr(msg, f.name)
        if f.omitempty and not v:
            continue
        out[f.json] = _scalar(f, v)
    unknown = unknown_fields.UnknownFieldSet(msg)
    if len(unknown):  # fields of a newer release than the tables: numbered, like an unknown kind
        out.update(rawview.numbered([(u.field_number, u.wire_type, u.data) for u in unknown]))
    return out


def _claim_templates(obj: dict) -> None:
    for t in obj.get("spec", {}).get("volumeClaimTemplates") or ():
        t["apiVersion"], t["kind"] = "v1", "PersistentVolumeClaim"


READ_TIME = {("apps/" + v, "StatefulSet"): _claim_templates for v in ("v1", "v1beta1", "v1beta2")}


def decode_object(api_version: str, kind: str, raw: bytes) -> dict:
    """decode_object converts the raw message of a known or unknown kind to the API's JSON form."""
    head = {"apiVersion": api_version, "kind": kind}
    cls = schema.message_class(api_version, kind)
    if cls is None:
        return {**head, **rawview.object_view(bytes(raw), _object_meta)}
    try:
        obj = {**head, **render(cls.FromString(bytes(raw)))}
    except ProtoDecodeError:
        raise DecodeError(f"{kind} ({api_version}): protobuf message does not parse") from None
    except UnicodeDecodeError:  # a map key or value that is not UTF-8 (protobuf raises while iterating)
        raise DecodeError(f"{kind} ({api_version}): a string in a map is not valid utf-8") from None
    fix = READ_TIME.get((api_version, kind))
    if fix is not None:
        fix(obj)
    return obj


def _object_meta(raw: bytes) -> dict | None:
    """_object_meta renders field 1 of an unknown kind as ObjectMeta, or None if it does not parse as one."""
    try:
        return render(schema.message_class_by_name(META + "ObjectMeta").FromString(raw))
    except (ProtoDecodeError, UnicodeDecodeError):
        return None


def decode_value(value: bytes) -> dict:
    """decode_value turns a stored value into the API object; DecodeError for encrypted or non-k8s values."""
    env = envelope.parse(value)
    if env.storage == envelope.PROTOBUF:
        if env.content_encoding or env.content_type not in ("", "application/vnd.kubernetes.protobuf"):
            raise DecodeError(f"{env.kind}: unsupported content {env.content_type!r}/{env.content_encoding!r}")
        return decode_object(env.api_version, env.kind, env.raw(value))
    if env.storage == envelope.JSON:
        return json.loads(bytes(value))
    if env.storage == envelope.ENCRYPTED:
        raise DecodeError(f"value is encrypted ({env.provider}, key {env.key_name})")
    raise DecodeError("not a kubernetes object")


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def redact_secret(obj: dict) -> dict:
    """redact_secret returns a copy of a Secret with every ``data``/``stringData`` value replaced (keys kept).

    ``kubectl apply`` keeps the whole manifest it applied, data included, in the annotation
    ``kubectl.kubernetes.io/last-applied-configuration``: that JSON is redacted the same way (the rest of
    it kept), and replaced whole when it does not parse as a JSON object.
    """
    out = dict(obj)
    for key in ("data", "stringData"):
        if isinstance(obj.get(key), dict):
            out[key] = {k: REDACTED for k in obj[key]}
        elif key in obj:
            out[key] = REDACTED
    meta = obj.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict) and LAST_APPLIED in meta["annotations"]:
        annotations = dict(meta["annotations"])
        annotations[LAST_APPLIED] = _redact_applied(annotations[LAST_APPLIED])
        out["metadata"] = {**meta, "annotations": annotations}
    return out


def _redact_applied(text) -> str:
    """_redact_applied redacts the Secret inside a last-applied-configuration annotation (kubectl's compact JSON)."""
    try:
        applied = json.loads(text)
    except (TypeError, ValueError):
        return REDACTED
    if not isinstance(applied, dict):
        return REDACTED
    tail = "\n" if text.endswith("\n") else ""
    return json.dumps(redact_secret(applied), separators=(",", ":"), ensure_ascii=False) + tail
