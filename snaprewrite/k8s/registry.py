"""The kinds snaprewrite knows: (apiVersion, kind) -> protobuf message class, and field paths by name.

A *field path* names a field the way the API does, from the object's top level, e.g. for a Service
``("spec", "clusterIPs")``. ``resolve_path`` turns it into a :class:`FieldPath` carrying both spellings:
``proto`` = the field numbers inside the object's message (``(2, 18)``), used by ``splice`` on protobuf
values, and ``json`` = the JSON keys (``("spec", "clusterIPs")``), used on objects stored as JSON.
Names are looked up in the message descriptors, so any field of a registered kind can be named; a
repeated field on the way (``("spec", "ports", "name")``) means "every element".

Fields the API inlines into their parent (``volumeSource``, ``localObjectReference``, ``handler``)
keep their own name here, because they are separate messages on the wire.
"""

import functools
from dataclasses import dataclass

from google.protobuf.descriptor import FieldDescriptor

from ..errors import DecodeError
from .proto import apps_v1_pb2 as apps_v1
from .proto import coordination_v1_pb2 as coordination_v1
from .proto import core_pb2 as core
from .proto import discovery_v1_pb2 as discovery_v1
from .proto import discovery_v1beta1_pb2 as discovery_v1beta1
from .proto import networking_v1_pb2 as networking_v1

KINDS: dict[tuple[str, str], type] = {
    ("v1", "Service"): core.Service,
    ("v1", "Node"): core.Node,
    ("v1", "ConfigMap"): core.ConfigMap,
    ("v1", "Secret"): core.Secret,
    ("v1", "Namespace"): core.Namespace,
    ("v1", "Endpoints"): core.Endpoints,
    ("v1", "RangeAllocation"): core.RangeAllocation,
    ("v1", "Pod"): core.Pod,
    ("v1", "Event"): core.Event,
    ("v1", "ServiceAccount"): core.ServiceAccount,
    ("discovery.k8s.io/v1", "EndpointSlice"): discovery_v1.EndpointSlice,
    ("discovery.k8s.io/v1beta1", "EndpointSlice"): discovery_v1beta1.EndpointSlice,
    ("coordination.k8s.io/v1", "Lease"): coordination_v1.Lease,
    ("coordination.k8s.io/v1beta1", "Lease"): coordination_v1.Lease,  # same fields 1-5 as v1
    ("networking.k8s.io/v1", "ServiceCIDR"): networking_v1.ServiceCIDR,
    ("networking.k8s.io/v1beta1", "ServiceCIDR"): networking_v1.ServiceCIDR,  # same schema as v1
    ("networking.k8s.io/v1", "IPAddress"): networking_v1.IPAddress,
    ("networking.k8s.io/v1beta1", "IPAddress"): networking_v1.IPAddress,
}


# Partial schemas: enough to name fields for in-place edits (splice walks the wire by number and keeps
# every other field), too little to decode the whole object, so ``message_class`` does not return them.
EDIT_ONLY: dict[tuple[str, str], type] = {
    ("apps/v1", "DaemonSet"): apps_v1.DaemonSet,  # metadata and the pod template (see apps_v1.proto)
    ("apps/v1", "Deployment"): apps_v1.Deployment,
}


@dataclass(frozen=True)
class FieldPath:
    """One field named by API names, with its protobuf numbers and JSON keys (see module docstring)."""

    names: tuple[str, ...]
    proto: tuple[int, ...]
    json: tuple[str, ...]
    is_string: bool
    repeated: tuple[bool, ...] = ()  # per step: a repeated field (every occurrence counts) or a singular one


def message_class(api_version: str, kind: str) -> type | None:
    """message_class returns the protobuf class stored for (apiVersion, kind), or None if unknown."""
    return KINDS.get((api_version, kind))


def resolve_path(api_version: str, kind: str, names: tuple[str, ...] | list[str]) -> FieldPath:
    """resolve_path maps API field names of a registered kind to protobuf numbers and JSON keys."""
    return _resolve(api_version, kind, tuple(names))


@functools.lru_cache(maxsize=1024)
def _resolve(api_version: str, kind: str, names: tuple[str, ...]) -> FieldPath:
    cls = message_class(api_version, kind) or EDIT_ONLY.get((api_version, kind))
    if cls is None:
        raise DecodeError(f"no schema for {kind} ({api_version})")
    desc = cls.DESCRIPTOR
    numbers = []
    repeated = []
    field = None
    for i, name in enumerate(names):
        if desc is None:
            raise DecodeError(f"{kind}: {'.'.join(names[:i])} has no sub-fields")
        field = desc.fields_by_name.get(name)
        if field is None:
            raise DecodeError(f"{kind}: no field {'.'.join(names[: i + 1])}")
        numbers.append(field.number)
        repeated.append(field.is_repeated)
        desc = field.message_type if field.type == FieldDescriptor.TYPE_MESSAGE else None
    if field is None:
        raise DecodeError(f"{kind}: empty field path")
    return FieldPath(tuple(names), tuple(numbers), tuple(names), field.type == FieldDescriptor.TYPE_STRING,
                     tuple(repeated))
