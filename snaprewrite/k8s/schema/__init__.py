"""Every stored Kubernetes kind as a compact table: one line of field facts per message, one module per API group.

Each group module (``core.py``, ``apps.py``, ...) holds ``PACKAGES = {alias: {message: fields}}``.
``fields`` is ``"; "``-separated ``NUMBER NAME[=JSON] TYPE[FLAGS]``:

- ``NUMBER`` the protobuf field number, ``NAME`` the protobuf field name (what field paths use),
  ``=JSON`` the JSON key where Go's json tag differs from it (``=-``: never in JSON);
- ``TYPE`` ``string``, ``int32``, ``int64``, ``bool``, ``bytes``, ``double``, or a message: ``Name`` in the
  same package, ``alias.Name`` in another; ``[]T`` repeated, ``{string}T`` a map;
- ``FLAGS`` what Go's JSON encoder needs beyond the wire: ``*`` the Go field is a pointer (shown whenever
  it is on the wire, zero or not), ``!`` no ``omitempty`` (shown even when zero/empty; nil slices, maps and
  pointers as ``null``), ``^`` embedded with ``json:",inline"`` (its fields merge into the parent).
  Struct-valued fields (no ``*``) are always shown, as Go does.

A message named ``Name[]`` is a Go slice type wrapped in a message (``ExtraValue``): JSON is its one
repeated field. Package aliases are Go's import names: ``metav1``, ``runtime``, ``intstr``, ``resource``
(Quantity), and ``<group><version>`` for API packages (``corev1``, ``appsv1beta2``, ``apiextensionsv1``).

The facts (numbers, names, types) come from Kubernetes' ``generated.proto`` files of 1.16 to 1.36
(kubernetes/api, apimachinery, apiextensions-apiserver, kube-aggregator); the flags from the json tags
and Go types of the same structs. Field numbers never change and are never reused, so one table per
package version holds every field any release wrote. Adding a field is adding one ``NUMBER NAME TYPE``.

``message_class(api_version, kind)`` gives a protobuf-runtime class built from these tables (a private
descriptor pool, made on first use): parsing runs in the C runtime; ``fields(full_name)`` gives the
JSON facts ``decode`` renders with. Kinds are the messages whose field 1 is ``metav1.ObjectMeta``.
"""

import functools
import importlib
import re
from dataclasses import dataclass

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

GROUP_MODULES = ("meta", "core", "admissionregistration", "apiextensions", "apiregistration", "apiserverinternal",
                 "apps", "auditregistration", "autoscaling", "batch", "certificates", "coordination", "discovery",
                 "events", "extensions", "flowcontrol", "networking", "node", "policy", "rbac", "resource",
                 "scheduling", "settings", "storage", "storagemigration")

# API group of each package family (core is the legacy group: apiVersion "v1")
GROUPS = {
    "core": "", "apps": "apps", "batch": "batch", "autoscaling": "autoscaling", "policy": "policy",
    "extensions": "extensions", "rbac": "rbac.authorization.k8s.io", "storage": "storage.k8s.io",
    "scheduling": "scheduling.k8s.io", "coordination": "coordination.k8s.io", "discovery": "discovery.k8s.io",
    "networking": "networking.k8s.io", "certificates": "certificates.k8s.io", "events": "events.k8s.io",
    "admissionregistration": "admissionregistration.k8s.io", "apiextensions": "apiextensions.k8s.io",
    "apiregistration": "apiregistration.k8s.io", "flowcontrol": "flowcontrol.apiserver.k8s.io",
    "node": "node.k8s.io", "resource": "resource.k8s.io", "apiserverinternal": "internal.apiserver.k8s.io",
    "storagemigration": "storagemigration.k8s.io", "auditregistration": "auditregistration.k8s.io",
    "settings": "settings.k8s.io",
}
FIXED = {
    "metav1": "k8s.io.apimachinery.pkg.apis.meta.v1",
    "runtime": "k8s.io.apimachinery.pkg.runtime",
    "intstr": "k8s.io.apimachinery.pkg.util.intstr",
    "resource": "k8s.io.apimachinery.pkg.api.resource",
}
SCALARS = {
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "int32": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
    "double": descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
}
_ALIAS = re.compile(r"([a-z]+)(v\d+(?:(?:alpha|beta)\d+)?)")
_FIELD = re.compile(r"(\d+) (\w+)(?:=(\S+))? (\[\]|\{string\})?([\w.]+)([*!^]*)")


@dataclass(frozen=True, slots=True)
class Field:
    """One field's facts: wire (number, name, type) and JSON (key, Go shape)."""

    number: int
    name: str
    json: str | None  # None: never in JSON
    type: str  # a scalar name or a message's full name
    repeated: bool
    map: bool
    pointer: bool
    omitempty: bool
    inline: bool

    @property
    def message(self) -> bool:
        return self.type not in SCALARS


def package_name(alias: str) -> str:
    """package_name is the protobuf package of a Go import alias (``appsv1`` -> ``k8s.io.api.apps.v1``)."""
    if alias in FIXED:
        return FIXED[alias]
    m = _ALIAS.fullmatch(alias)
    if not m:
        raise ValueError(f"schema: unknown package alias {alias!r}")
    group, version = m.groups()
    if group == "apiextensions":
        return f"k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.{version}"
    if group == "apiregistration":
        return f"k8s.io.kube_aggregator.pkg.apis.apiregistration.{version}"
    return f"k8s.io.api.{group}.{version}"


def parse_fields(spec: str, package: str) -> list[Field]:
    """parse_fields reads one message's field line (see the module docstring)."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        m = _FIELD.fullmatch(part)
        if not m:
            raise ValueError(f"schema: cannot read field {part!r} in {package}")
        number, name, json_name, shape, typ, flags = m.groups()
        if typ not in SCALARS:
            head, _, tail = typ.rpartition(".")
            typ = f"{package_name(head)}.{tail}" if head else f"{package}.{typ}"
        json_key = name if json_name is None else (None if json_name == "-" else json_name)
        out.append(Field(int(number), name, json_key, typ, shape == "[]", shape == "{string}", "*" in flags,
                         "!" not in flags, "^" in flags))
    return out


@dataclass(frozen=True)
class Schema:
    messages: dict[str, tuple[Field, ...]]  # full name -> fields in number order
    slices: frozenset[str]  # messages that are Go slice types (JSON: the one repeated field)
    kinds: dict[tuple[str, str], str]  # (apiVersion, kind) -> full message name
    packages: dict[str, str]  # full package name -> group module


@functools.cache
def schema() -> Schema:
    """schema reads every group module's tables once."""
    messages: dict[str, tuple[Field, ...]] = {}
    slices = set()
    kinds = {}
    packages = {}
    for mod_name in GROUP_MODULES:
        mod = importlib.import_module(f"{__name__}.{mod_name}")
        for alias, table in mod.PACKAGES.items():
            package = package_name(alias)
            packages[package] = mod_name
            m = _ALIAS.fullmatch(alias)
            for name, spec in table.items():
                if name.endswith("[]"):
                    name = name[:-2]
                    slices.add(f"{package}.{name}")
                fields = tuple(sorted(parse_fields(spec, package), key=lambda f: f.number))
                full = f"{package}.{name}"
                messages[full] = fields
                if (m and alias not in FIXED and fields and fields[0].number == 1 and fields[0].name == "metadata"
                        and fields[0].type == FIXED["metav1"] + ".ObjectMeta" and not name.endswith("List")):
                    group = GROUPS[m.group(1)]
                    kinds[(f"{group}/{m.group(2)}" if group else m.group(2), name)] = full
    return Schema(messages, frozenset(slices), kinds, packages)


def fields(full_name: str) -> tuple[Field, ...] | None:
    """fields gives a message's fields by its full protobuf name (None: not in the tables)."""
    return schema().messages.get(full_name)


def kind_message(api_version: str, kind: str) -> str | None:
    """kind_message is the full message name stored for (apiVersion, kind), or None."""
    return schema().kinds.get((api_version, kind))


@functools.cache
def _pool() -> descriptor_pool.DescriptorPool:
    """_pool declares every table to a private protobuf descriptor pool (one file per package, in dependency order)."""
    s = schema()
    by_package: dict[str, dict[str, tuple[Field, ...]]] = {}
    for full, flds in s.messages.items():
        package, _, name = full.rpartition(".")
        by_package.setdefault(package, {})[name] = flds
    deps = {p: sorted({f.type.rpartition(".")[0] for flds in msgs.values() for f in flds if f.message} - {p})
            for p, msgs in by_package.items()}
    pool = descriptor_pool.DescriptorPool()
    done: set[str] = set()

    def add(package: str, path: tuple[str, ...] = ()) -> None:
        if package in done:
            return
        if package in path:
            raise ValueError(f"schema: package import cycle {' -> '.join(path + (package,))}")
        for d in deps[package]:
            add(d, path + (package,))
        pool.Add(_file(package, by_package[package], deps[package]))
        done.add(package)

    for package in sorted(by_package):
        add(package)
    return pool


def _file(package: str, msgs: dict[str, tuple[Field, ...]], deps: list[str]) -> descriptor_pb2.FileDescriptorProto:
    fdp = descriptor_pb2.FileDescriptorProto(name=f"snaprewrite/{package}.proto", package=package, syntax="proto2",
                                            dependency=[f"snaprewrite/{d}.proto" for d in deps])
    F = descriptor_pb2.FieldDescriptorProto
    for name, flds in msgs.items():
        msg = fdp.message_type.add(name=name)
        for f in flds:
            fd = msg.field.add(name=f.name, number=f.number,
                               label=F.LABEL_REPEATED if (f.repeated or f.map) else F.LABEL_OPTIONAL)
            if f.map:
                entry = msg.nested_type.add(name=_entry_name(f.name))
                entry.options.map_entry = True
                entry.field.add(name="key", number=1, label=F.LABEL_OPTIONAL, type=F.TYPE_STRING)
                value = entry.field.add(name="value", number=2, label=F.LABEL_OPTIONAL)
                _set_type(value, f.type)
                fd.type = F.TYPE_MESSAGE
                fd.type_name = f".{package}.{name}.{entry.name}"
            else:
                _set_type(fd, f.type)
    return fdp


def _entry_name(field_name: str) -> str:
    return field_name[:1].upper() + field_name[1:] + "Entry"


def _set_type(fd, typ: str) -> None:
    if typ in SCALARS:
        fd.type = SCALARS[typ]
    else:
        fd.type = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
        fd.type_name = "." + typ


@functools.cache
def message_class_by_name(full_name: str):
    """message_class_by_name is the protobuf-runtime class of a message of the tables."""
    return message_factory.GetMessageClass(_pool().FindMessageTypeByName(full_name))


def message_class(api_version: str, kind: str):
    """message_class is the class stored for (apiVersion, kind), or None for a kind not in the tables."""
    full = kind_message(api_version, kind)
    return None if full is None else message_class_by_name(full)
