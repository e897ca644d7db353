"""Stored value -> the object as the Kubernetes API returns it in JSON (a dict).

Protobuf values are parsed with the message class the registry maps (apiVersion, kind) to, then
converted field by field: JSON keys are the API's camelCase names in field-number order after
``apiVersion`` and ``kind``; ``metav1.Time`` becomes RFC 3339 seconds (``"2020-06-20T10:11:12Z"``, the
zero time ``null``), ``MicroTime`` keeps microseconds, ``IntOrString`` becomes an int or a string,
``Quantity`` its string, ``FieldsV1`` the parsed JSON, byte fields base64 like the API, maps objects.
Fields the API inlines into their parent (``volumeSource``, ``localObjectReference``, ``handler``) are
merged into it. Zero scalars are left out (Go's ``omitempty``) except the fields in ``SHOW_ZERO``
(pointers that are set, and fields without ``omitempty``); nested structs are always shown.

Values stored as JSON are returned as parsed. Kinds without a schema give apiVersion, kind and
``{"raw": base64}``. Encrypted or non-Kubernetes values raise ``DecodeError`` (callers show them their
own way). Never print a decoded Secret: pass it through ``redact_secret`` first.
"""

import base64
import datetime
import json

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError as ProtoDecodeError

from ..errors import DecodeError
from . import envelope, registry

META = "k8s.io.apimachinery.pkg.apis.meta.v1."
CORE = "k8s.io.api.core.v1."

INLINE = {"volumeSource", "localObjectReference", "handler"}

SHOW_ZERO = {
    CORE + name for name in (
        "ServicePort.port", "ContainerPort.containerPort", "EndpointPort.port", "DaemonEndpoint.Port",
        "ContainerStatus.ready", "ContainerStatus.restartCount", "ContainerStatus.started",
        "ContainerStateTerminated.exitCode", "PodSpec.automountServiceAccountToken", "PodSpec.enableServiceLinks",
        "PodSpec.priority", "PodSpec.shareProcessNamespace", "PodSpec.hostUsers", "PodSpec.setHostnameAsFQDN",
        "PodSpec.terminationGracePeriodSeconds", "PodSpec.activeDeadlineSeconds", "SecurityContext.privileged",
        "SecurityContext.runAsUser", "SecurityContext.runAsGroup", "SecurityContext.runAsNonRoot",
        "SecurityContext.readOnlyRootFilesystem", "SecurityContext.allowPrivilegeEscalation",
        "PodSecurityContext.runAsUser", "PodSecurityContext.runAsGroup", "PodSecurityContext.runAsNonRoot",
        "PodSecurityContext.fsGroup", "ServiceSpec.allocateLoadBalancerNodePorts", "ConfigMap.immutable",
        "Secret.immutable", "SecretVolumeSource.defaultMode", "SecretVolumeSource.optional",
        "ConfigMapVolumeSource.defaultMode", "ConfigMapVolumeSource.optional", "ProjectedVolumeSource.defaultMode",
        "DownwardAPIVolumeSource.defaultMode", "KeyToPath.mode", "Toleration.tolerationSeconds",
        "Probe.terminationGracePeriodSeconds", "ServiceAccount.automountServiceAccountToken",
        "ClientIPConfig.timeoutSeconds", "ConfigMapKeySelector.optional", "SecretKeySelector.optional",
        "ConfigMapEnvSource.optional", "SecretEnvSource.optional", "ServiceAccountTokenProjection.expirationSeconds",
        *(f"NodeSystemInfo.{f}" for f in ("machineID", "systemUUID", "bootID", "kernelVersion", "osImage",
                                          "containerRuntimeVersion", "kubeletVersion", "kubeProxyVersion",
                                          "operatingSystem", "architecture")),
    )
} | {
    META + "Condition.reason", META + "Condition.message",
    META + "ObjectMeta.deletionGracePeriodSeconds", META + "OwnerReference.controller",
    META + "OwnerReference.blockOwnerDeletion",
    "k8s.io.api.discovery.v1.EndpointConditions.ready", "k8s.io.api.discovery.v1.EndpointConditions.serving",
    "k8s.io.api.discovery.v1.EndpointConditions.terminating", "k8s.io.api.discovery.v1.EndpointPort.port",
    "k8s.io.api.coordination.v1.LeaseSpec.leaseDurationSeconds",
    "k8s.io.api.coordination.v1.LeaseSpec.leaseTransitions",
}

REDACTED = "<redacted>"


def _time(msg, micro: bool) -> str | None:
    """_time renders metav1.Time / MicroTime in UTC the way the API does; the zero time is None."""
    if not msg.HasField("seconds") and not msg.HasField("nanos"):
        return None
    try:
        t = datetime.datetime.fromtimestamp(msg.seconds, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None  # e.g. Go's zero time, year 1
    if micro:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{msg.nanos // 1000:06d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _special(msg):
    """_special converts the few messages the API spells as scalars; returns NotImplemented otherwise."""
    name = msg.DESCRIPTOR.full_name
    if name == META + "Time":
        return _time(msg, micro=False)
    if name == META + "MicroTime":
        return _time(msg, micro=True)
    if name == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        return msg.string
    if name == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        return msg.strVal if msg.type == 1 else msg.intVal
    if name in (META + "FieldsV1", "k8s.io.apimachinery.pkg.runtime.RawExtension"):
        raw = msg.Raw if name.endswith("FieldsV1") else msg.raw
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return base64.b64encode(raw).decode("ascii")
    return NotImplemented


def _scalar(field, value):
    """_scalar converts one scalar: bytes to base64, everything else as is."""
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, bytes):  # a string field holding invalid UTF-8: protobuf hands back the bytes
        return value.decode("utf-8", "replace")
    return value


def _value(field, value):
    """_value converts a singular value of ``field`` (message or scalar)."""
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        special = _special(value)
        if isinstance(special, bytes):  # a Quantity or IntOrString string that is not UTF-8
            return special.decode("utf-8", "replace")
        return message_to_dict(value) if special is NotImplemented else special
    return _scalar(field, value)


def message_to_dict(msg) -> dict:
    """message_to_dict converts a parsed protobuf message to its API JSON form (see module docstring)."""
    out: dict = {}
    desc = msg.DESCRIPTOR
    for field, value in msg.ListFields():
        if field.is_repeated:
            if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
                vfield = field.message_type.fields_by_name["value"]
                out[field.name] = {k: _value(vfield, v) for k, v in sorted(value.items())}
            else:
                out[field.name] = [_value(field, v) for v in value]
            continue
        if field.type != FieldDescriptor.TYPE_MESSAGE and value == field.default_value \
                and f"{desc.full_name}.{field.name}" not in SHOW_ZERO:
            continue
        converted = _value(field, value)
        if field.name in INLINE and isinstance(converted, dict):
            out.update(converted)
        elif converted is not None:
            out[field.name] = converted
    return out


def decode_object(api_version: str, kind: str, raw: bytes) -> dict:
    """decode_object converts the raw message of a known or unknown kind to the API's JSON form."""
    cls = registry.message_class(api_version, kind)
    head = {"apiVersion": api_version, "kind": kind}
    if cls is None:
        return {**head, "raw": base64.b64encode(raw).decode("ascii")}
    try:
        msg = cls.FromString(bytes(raw))
        return {**head, **message_to_dict(msg)}
    except ProtoDecodeError:
        raise DecodeError(f"{kind} ({api_version}): protobuf message does not parse") from None
    except UnicodeDecodeError:  # a map key or value that is not UTF-8 (protobuf raises while iterating)
        raise DecodeError(f"{kind} ({api_version}): a string in a map is not valid utf-8") from None


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
