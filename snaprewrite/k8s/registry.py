"""The kinds snaprewrite knows (every built-in kind, from ``schema``'s tables), and field paths by name.

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
from . import schema


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
    return schema.message_class(api_version, kind)


def resolve_path(api_version: str, kind: str, names: tuple[str, ...] | list[str]) -> FieldPath:
    """resolve_path maps API field names of a registered kind to protobuf numbers and JSON keys."""
    return _resolve(api_version, kind, tuple(names))


@functools.lru_cache(maxsize=1024)
def _resolve(api_version: str, kind: str, names: tuple[str, ...]) -> FieldPath:
    cls = message_class(api_version, kind)
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
