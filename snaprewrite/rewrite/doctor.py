"""``doctor``: what the control plane will say about a snapshot's cluster state, predicted offline.

For the service and pod ranges the control plane will run with (default: those the snapshot declares,
see ``default_ranges``), the checks replay kube-apiserver's ClusterIP repair loops and the node IPAM
controller's start-up, and word their findings as those components do:

* allocator bitmap (``pkg/registry/core/service/ipallocator/controller/repair.go`` of 1.20, per family):
  Services are walked in key order; an IP that is no IP or of an unconfigured family is
  ``ClusterIPNotValid``; outside the range (or its network/broadcast address) ``ClusterIPOutOfRange``;
  already taken by an earlier Service ``ClusterIPAlreadyAllocated``; not set in the stored bitmap
  ``ClusterIPNotAllocated``. Bits no Service claims are logged "may have leaked" (``ClusterIPLeaked``
  here: a log line, no event, so a warning). A stored ``range`` other than the service CIDR is
  ``MismatchedNetwork`` (ipallocator's "the provided network does not match the current range").
* IPAddress objects (1.27+ stores, ``repairip.go``): a Service IP without its IPAddress is
  ``ClusterIPNotAllocated``; one naming another Service ``ClusterIPAlreadyAllocated`` (that Service holds
  the IP too) or a "wrong reference" ``ClusterIPNotAllocated``; an IPAddress whose Service is gone is
  ``IPAddressNotAllocated`` ("appears to have leaked"), one whose Service does not hold it
  ``IPAddressWrongReference``.
* the default ServiceCIDR ``kubernetes`` must list the configured ranges
  (``KubernetesDefaultServiceCIDRInconsistent``).
* Node pod CIDRs: outside every cluster CIDR of its family ``CIDRNotAvailable`` (the node IPAM
  controller's reason when it cannot place a Node); overlapping another Node's ``PodCIDROverlap``; a mask
  other than ``--node-cidr-mask-size`` (kubeadm-config, default 24 / 64) ``PodCIDRMaskSize`` (warning).

The CNIs' own state (Calico IPAM, CiliumNodes, flannel, kube-router) is checked by ``cnicheck``.

Values the checks cannot read are ``Undecodable`` errors naming the key. Severity ``error`` means the
control plane will act (repair events, refusals); the CLI exits 1 when there is one.
"""

import base64
import functools
import ipaddress
from dataclasses import dataclass, field

from ..errors import DecodeError, UsageError
from ..etcd.snapshot import Snapshot
from ..k8s import bitmap
from . import cnicheck
from .cidr import DOTTED_QUAD, CidrMap, parse_subnet, quick_ip
from .doctorsets import Bits, Held, Texts, Verified, service_key
from .facts import (
    ALLOCATORS,
    IPADDRESSES,
    SERVICECIDRS,
    SERVICES,
    Fact,
    Facts,
    Progress,
    State,
    decoded,
    discover,
    key_text,
    networks,
    split_csv,
)

ERROR, WARNING = "error", "warning"
DEFAULT_MASK = {4: 24, 6: 64}
SERVICE_PRIORITY = (b"configmaps/", b"servicecidrs/kubernetes", b"ranges/")  # relative to the layout root
MANAGED_BY = "ipallocator.k8s.io"


@dataclass(frozen=True)
class Finding:
    """One thing the control plane will complain about: the key, severity, its reason, and its words."""

    key: str
    severity: str
    reason: str
    message: str

    def as_json(self) -> dict:
        return {"key": self.key, "severity": self.severity, "reason": self.reason, "message": self.message}


@dataclass
class Diagnosis:
    """The ranges checked against and every finding, in the order the checks ran."""

    service_ranges: list[str]
    pod_ranges: list[str]
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == ERROR)

    def add(self, key: str, severity: str, reason: str, message: str) -> None:
        self.findings.append(Finding(key, severity, reason, message))

    def as_json(self) -> dict:
        return {"serviceRanges": self.service_ranges, "podRanges": self.pod_ranges,
                "errors": self.errors, "warnings": len(self.findings) - self.errors,
                "findings": [f.as_json() for f in self.findings]}


def _first_per_family(items: list[Fact]) -> list[str]:
    out: dict[int, str] = {}
    for net, _f in networks(items):
        out.setdefault(net.version, str(net))
    return list(out.values())


def default_ranges(found: Facts) -> tuple[list[str], list[str]]:
    """default_ranges is (service ranges, pod ranges) the snapshot declares, one per family, primary first.

    Service: kubeadm-config (apiServer's flag, then networking.serviceSubnet), then the ServiceCIDR
    ``kubernetes``, then the allocators. Pod: controllerManager's cluster-cidr, podSubnet, kube-proxy.
    """
    def rank(f: Fact) -> int:
        return next((i for i, p in enumerate(SERVICE_PRIORITY) if f.key.encode().startswith(found.root + p)),
                    len(SERVICE_PRIORITY))

    return _first_per_family(sorted(found.service_ranges, key=rank)), _first_per_family(found.pod_ranges)


def mapped_ranges(ranges: list[str], cmap: CidrMap) -> list[str]:
    """mapped_ranges is each range after a mapping (ranges no mapping covers stay)."""
    out = []
    for r in ranges:
        m = cmap.map_subnet(r)
        out.append(m.new if m is not None and m.fits else r)
    return out


_FAMILIES = {4: "IPv4", 6: "IPv6"}


def _family(version: int) -> str:
    return _FAMILIES.get(version) or f"IPv{version}"


def _parse_ip(raw: str) -> tuple[str, int, int] | None:
    """_parse_ip is (canonical text, version, integer value) of an IP literal, or None if it is none.

    A dotted quad already in canonical form (1-3 ASCII digits per octet, no leading zero, each <= 255:
    what every stored IPv4 cluster IP is; one precompiled match) is taken apart with ``str.split``; an IPv6
    literal in the C library's spelling without a dotted tail (what the API server stores, and what
    ``ipaddress`` writes: ``cidr.quick_ip``) is read by the C library, ten times quicker than ``ipaddress``
    (a dual-stack cluster's IPv6 cluster IPs were a twentieth of the doctor on the 1.3 GB bench); anything
    else goes through ``ipaddress`` (``_parse_ip_plain``), which decides, and which the quick forms are
    tested equal to.
    """
    if DOTTED_QUAD(raw):
        a, b, c, d = map(int, raw.split("."))
        return raw, 4, (a << 24) | (b << 16) | (c << 8) | d
    if ":" in raw and "." not in raw:  # (a dotted tail: ``ipaddress`` spells it in hex, the C library does not)
        quick = quick_ip(raw)
        if quick is not None:
            return raw, 6, quick[1]
    return _parse_ip_plain(raw)


@functools.lru_cache(maxsize=1 << 15)
def _parse_ip_plain(raw: str) -> tuple[str, int, int] | None:
    """_parse_ip_plain is ``_parse_ip`` through ``ipaddress`` (cached, bounded: IPv6 IPs are met again in the
    IPAddress checks)."""
    try:
        addr = ipaddress.ip_address(raw)
    except ValueError:
        return None
    return str(addr), addr.version, int(addr)


def _canonical(ip: str) -> str | None:
    got = _parse_ip(ip)
    return got[0] if got is not None else None


def _net(rng: str) -> tuple[int, int, int]:
    """_net is a network's (version, network address, netmask) as integers, for ``_inside``."""
    net = ipaddress.ip_network(rng)
    return net.version, int(net.network_address), int(net.netmask)


def _inside(version: int, value: int, nets: list[tuple[int, int, int]]) -> bool:
    """_inside is ``ip in net`` of ``ipaddress`` for any of ``nets`` of the IP's version, on integers."""
    for v, base, mask in nets:  # noqa: SIM110 (a loop, not ``any`` over a generator: asked per cluster IP)
        if v == version and value & mask == base:
            return True
    return False


class _Bitmaps:
    """The stored allocator of each family and the rebuilt one, as repair.go keeps them.

    ``compact``: as bits (``Bits``); else as sets of strings (``Texts``, the plain path).
    """

    def __init__(self, state: State, ranges: dict[int, str], primary: int | None, dx: Diagnosis, legacy: bool,
                 compact: bool = True):
        self.compact = compact
        self.stored: dict[int, Texts | Bits] = {}
        self.key: dict[int, str] = {}
        self.rebuilt: dict[int, Texts | Bits] = {}
        for version, rng in ranges.items():
            key = state.key(ALLOCATORS[0] if version == primary else ALLOCATORS[1])
            self.key[version] = key_text(key)
            if not state.has(key):
                if legacy:  # the apiserver starts from an empty snapshot: every IP is "not allocated"
                    self.stored[version] = Bits(version, 0, bytearray()) if compact else Texts()
                continue
            obj = decoded(state, key, [])
            if obj is None:
                dx.add(key_text(key), ERROR, "Undecodable", f"{key_text(key)}: the allocator does not decode")
                continue
            stored_range = obj.get("range") or rng
            try:
                data = base64.b64decode(obj.get("data") or "")
                ips = Bits(*bitmap.decode_bits(stored_range, data)) if compact else Texts(
                    bitmap.decode(stored_range, data))  # bitmap.decode writes each IP as ipaddress does: canonical
            except (DecodeError, ValueError) as e:
                dx.add(key_text(key), ERROR, "Undecodable", f"unable to rebuild allocator from snapshots for "
                                                           f"family:{_family(version)} with error:{e}")
                continue
            if ipaddress.ip_network(stored_range, strict=False) != ipaddress.ip_network(rng):
                dx.add(key_text(key), ERROR, "MismatchedNetwork",
                       f"allocator range {stored_range} is not the service CIDR {rng}: the provided network does "
                       "not match the current range")
            self.stored[version] = ips

    def rebuilt_of(self, version: int, first: int, count: int) -> "Texts | Bits":
        """rebuilt_of is the rebuilt allocator of a family whose range has ``count`` offsets from ``first``."""
        got = self.rebuilt.get(version)
        if got is None:
            got = self.rebuilt[version] = Bits(version, first, bytearray((count + 7) // 8)) if self.compact \
                else Texts()
        return got


def _check_services(state: State, found: Facts, dx: Diagnosis, ranges: dict[int, str], primary: int | None,
                    legacy: bool, ipaddress_mode: bool, held: Held, verified: "Verified | None") -> None:
    """_check_services walks every Service's cluster IPs, in key order, one Service read at a time.

    ``held`` keeps the IPs of the Services not found correct, for the IPAddress checks. ``verified`` (if given) receives the
    IPAddress keys found naming, as a Service of the API group "", a live Service that holds their IP:
    ``_check_ipaddress_objects`` has nothing to say about those.
    """
    bitmaps = _Bitmaps(state, ranges, primary, dx, legacy, held.compact)
    problems: list[str] = []
    cidr_nets = [(n.version, int(n.network_address), int(n.netmask)) for n, _ in
                 networks(f for f in found.service_ranges if f.key.startswith(key_text(state.key(SERVICECIDRS))))]
    range_nets = {version: [_net(rng)] for version, rng in ranges.items()}
    allocatable: dict[int, tuple[int, int]] = {}
    for key, svc, parents, parsed_ips in _with_parents(state, held, problems, ipaddress_mode):
        mark = verified.count if verified is not None else 0
        for raw in () if _allocates_nothing(svc) else svc.ips:
            parsed = parsed_ips[raw] if raw in parsed_ips else _parse_ip(raw)
            if parsed is None:
                dx.add(svc.key, ERROR, "ClusterIPNotValid", f"Cluster IP {raw} is not a valid IP; please recreate "
                                                           "service")
                continue
            ip, version, value = parsed
            fam = _family(version)
            rng = ranges.get(version)
            if rng is None:
                dx.add(svc.key, ERROR, "ClusterIPNotValid", f"Cluster IP {ip}({fam}) is of ip family that is no "
                                                           "longer configured on cluster; please recreate service")
                continue
            if version in bitmaps.stored:
                if version not in allocatable:
                    allocatable[version] = bitmap.allocatable(rng)
                first, count = allocatable[version]
                rebuilt = bitmaps.rebuilt_of(version, first, count)
                stored = bitmaps.stored[version]
                if not 0 <= value - first < count:  # bitmap.offset_of is None
                    dx.add(svc.key, ERROR, "ClusterIPOutOfRange", f"Cluster IP [{fam}]:{ip} is not within the "
                                                                 f"service CIDR {rng}; please recreate service")
                elif rebuilt.take(ip, version, value):  # (taken by an earlier Service; else taken now)
                    dx.add(svc.key, ERROR, "ClusterIPAlreadyAllocated", f"Cluster IP [{fam}]:{ip} was assigned to "
                                                                       "multiple services; please recreate service")
                elif not stored.pop(ip, version, value):
                    dx.add(svc.key, ERROR, "ClusterIPNotAllocated", f"Cluster IP [{fam}]:{ip} is not allocated; "
                                                                   "repairing")
            elif not ipaddress_mode and not _inside(version, value, range_nets[version]):
                dx.add(svc.key, ERROR, "ClusterIPOutOfRange", f"Cluster IP [{fam}]:{ip} is not within the service "
                                                             f"CIDR {rng}; please recreate service")
            if ipaddress_mode:
                _check_ipaddress(state, dx, svc, ip, version, value, cidr_nets or range_nets[version], held,
                                 verified, parents)
        if verified is None or verified.count - mark < len(svc.ips):
            held.keep(key, svc)
    for version, left in bitmaps.stored.items():
        for ip in left.texts():
            dx.add(bitmaps.key[version], WARNING, "ClusterIPLeaked",
                   f"the cluster IP {ip} may have leaked: flagging for later clean up")
    for p in problems:
        dx.add(p.split(":", 1)[0], ERROR, "Undecodable", p)


_PARENT_REF_FIELDS = ("group", "resource", "namespace", "name")


def _allocates_nothing(svc) -> bool:
    """_allocates_nothing: an ExternalName or headless Service (or one without a cluster IP) holds no address."""
    return svc.type == "ExternalName" or not svc.ips or svc.ips[0] in ("", "None")


def _with_parents(state: State, held: Held, problems: list[str], ipaddress_mode: bool):
    """_with_parents is ``held.each`` with, per Service, the IPAddresses already read for ``_check_ipaddress``.

    On the compact path the IPAddresses the IPs of a batch of Services name are read first, together
    (``State.values``): a plan's renamed IPAddresses lie in its temp file in another order than their
    new names. On the plain path none (each is read when checked).
    """
    for batch in held.batches(problems):
        parents: dict[bytes, tuple[dict, dict] | None] = {}
        parsed_ips: dict[str, tuple[str, int, int] | None] = {}  # the batch's IPs, parsed once (``_parse_ip``)
        if ipaddress_mode and held.compact:
            keys = []
            live, prefix = state.live, state.key(IPADDRESSES)
            for _key, svc in batch:
                if _allocates_nothing(svc):
                    continue
                for raw in svc.ips:
                    parsed = parsed_ips[raw] = _parse_ip(raw)
                    if parsed is not None and live(key := prefix + parsed[0].encode()):
                        keys.append(key)
            keys = list(dict.fromkeys(keys))
            read = functools.partial(_ipaddress_parent, state, labels=False)  # the Service loop reads no label
            parents.update(zip(keys, map(read, keys, state.values(keys))))
        for key, svc in batch:
            yield key, svc, parents, parsed_ips


def _ipaddress_parent(state: State, key: bytes, value: bytes | None = None,
                      labels: bool = True) -> tuple[dict, dict | None] | None:
    """_ipaddress_parent is an IPAddress's (spec.parentRef, metadata.labels) as the API shows them, or None.

    A protobuf IPAddress (all of them, as the API server writes them) is parsed by the protobuf runtime
    for just these fields (56k of them took a tenth of a rewrite through the full decode); anything else
    (JSON, another kind in the envelope, an encoding, bytes the runtime refuses) goes through ``decoded``.
    ``value``: the key's value, already read. ``labels=False``: the labels may be None (not read).
    """
    got = _ipaddress_parent_fast(state.value(key) if value is None else value, labels)
    if got is not None:
        return got
    obj = decoded(state, key, [])
    if obj is None:
        return None
    return (obj.get("spec") or {}).get("parentRef") or {}, (obj.get("metadata") or {}).get("labels") or {}


@functools.cache
def _protobuf():
    """_protobuf is the runtime's Unknown message class (imported once, not per IPAddress)."""
    from ..k8s.proto import runtime_pb2

    return runtime_pb2.Unknown


@functools.lru_cache(maxsize=64)
def _ipaddress_class(api_version: str):
    """_ipaddress_class is the IPAddress message class of an apiVersion (None if there is none)."""
    from ..k8s import registry

    return registry.message_class(api_version, "IPAddress")


def _ipaddress_parent_fast(value: bytes | None, labels: bool = True) -> tuple[dict, dict | None] | None:
    """_ipaddress_parent_fast is ``_ipaddress_parent`` through the protobuf runtime, or None to take the decode.

    ``labels=False``: the labels are not made (None), only the parentRef (the Service loop reads no label).
    """
    if value is None or bytes(value[:4]) != b"k8s\x00":
        return None
    try:
        unknown = _protobuf().FromString(bytes(value[4:]))
        meta = unknown.typeMeta
        cls = _ipaddress_class(meta.apiVersion) if meta.kind == "IPAddress" else None
        if cls is None or unknown.contentEncoding or unknown.contentType:
            return None
        msg = cls.FromString(unknown.raw)
        ref = msg.spec.parentRef
        # the API omits empty strings (omitempty), as decode does
        return ({f: v for f in _PARENT_REF_FIELDS if (v := getattr(ref, f))},
                dict(msg.metadata.labels) if labels else None)
    except Exception:  # any parse surprise: the full decode decides (and names the problem)
        return None


def _check_ipaddress(state: State, dx: Diagnosis, svc, ip: str, version: int, value: int,
                     cidr_nets: list[tuple[int, int, int]], held: Held, verified: "Verified | None",
                     parents: dict[bytes, tuple[dict, dict] | None] | None = None) -> None:
    """_check_ipaddress replays repairip.go's Service -> IPAddress checks for one (canonical) cluster IP.

    ``parents``: IPAddresses already read (``_ipaddress_parent`` of each key); any other is read here.
    """
    fam = _family(version)
    if not _inside(version, value, cidr_nets):
        dx.add(svc.key, ERROR, "ClusterIPOutOfRange", f"Cluster IP [{fam}]: {ip} is not within any configured "
                                                     "Service CIDR; please recreate service")
        return
    key = state.key(IPADDRESSES) + ip.encode()  # (``state.key(IPADDRESSES + ...)``: the same bytes)
    if parents and key in parents:  # read because it is live
        got = parents[key]
    elif not state.live(key):
        dx.add(svc.key, ERROR, "ClusterIPNotAllocated", f"Cluster IP [{fam}]: {ip} is not allocated; repairing")
        return
    else:
        got = _ipaddress_parent(state, key)
    if got is None:
        dx.add(key_text(key), ERROR, "Undecodable", f"{key_text(key)}: the IPAddress does not decode")
        return
    ref, _labels = got
    wrong = f"the ClusterIP [{fam}]: {ip} for Service {svc.namespace}/{svc.name} has a wrong reference; repairing"
    if ref.get("group") or ref.get("resource") != "services":
        dx.add(svc.key, ERROR, "ClusterIPNotAllocated", wrong)
    elif (ref.get("namespace", ""), ref.get("name", "")) != (svc.namespace, svc.name):
        other = held.ips(ref.get("namespace", ""), ref.get("name", ""))
        if other is not None and ip in {_canonical(x) for x in other}:
            dx.add(svc.key, ERROR, "ClusterIPAlreadyAllocated", f"Cluster IP [{fam}]:{ip} was assigned to multiple "
                                                               "services; please recreate service")
        else:
            dx.add(svc.key, ERROR, "ClusterIPNotAllocated", wrong)
    elif verified is not None and held.holds(svc) and state.live(
            state.key(SERVICES) + f"{svc.namespace}/{svc.name}".encode()):  # (``state.has(service_key(...))``)
        verified.add(key)  # names this live Service, which holds ip: syncIPAddress finds nothing to say


def _check_ipaddress_objects(state: State, dx: Diagnosis, held: Held, verified: "Verified | None" = None) -> None:
    """_check_ipaddress_objects replays repairip.go's IPAddress -> Service checks (syncIPAddress).

    ``held``: the Services ``_check_services`` read, so none is read twice (a Service missing from it did
    not read: the Service loop reports it). ``verified``: IPAddress keys the
    Service loop found referencing a live Service that holds their IP: whatever their labels, no finding
    (either not managed by the allocator, or a correct reference), so they are not read again.
    """
    prefix = state.key(IPADDRESSES)
    for key in verified.unverified() if verified is not None else state.keys(IPADDRESSES):
        name = key_text(key[len(prefix):])
        got = _ipaddress_parent(state, key)
        if got is None:
            dx.add(key_text(key), ERROR, "Undecodable", f"{key_text(key)}: the IPAddress does not decode")
            continue
        ref, labels = got
        if labels.get("ipaddress.kubernetes.io/managed-by") != MANAGED_BY:
            continue
        if ref.get("group") or ref.get("resource") != "services":
            dx.add(key_text(key), WARNING, "IPAddressNotAllocated", f"IPAddress {name} appears to have been modified, "
                                                                   "not referencing a Service: cleaning up")
            continue
        ns, svc_name = ref.get("namespace", ""), ref.get("name", "")
        svc_key = service_key(ns, svc_name)
        if not state.has(svc_key):
            dx.add(key_text(key), WARNING, "IPAddressNotAllocated", f"IPAddress: {name} for Service {ns}/{svc_name} "
                                                                   "appears to have leaked: cleaning up")
            continue
        ips = held.ips(ns, svc_name)
        if ips is None:
            continue  # the Service loop reports it
        if name not in {_canonical(x) for x in ips}:
            dx.add(key_text(key), ERROR, "IPAddressWrongReference", f"IPAddress: {name} for Service {ns}/{svc_name} "
                                                                   "has a wrong reference; cleaning up")


def _check_default_servicecidr(state: State, dx: Diagnosis, ranges: list[str]) -> None:
    key = state.key(SERVICECIDRS + b"kubernetes")
    obj = decoded(state, key, [])
    if obj is None:
        return
    cidrs = ((obj.get("spec") or {}).get("cidrs")) or []
    normal = []
    for c in cidrs:
        try:
            normal.append(str(ipaddress.ip_network(c, strict=False)))
        except ValueError:
            normal.append(c)
    if normal != ranges:
        dx.add(key_text(key), ERROR, "KubernetesDefaultServiceCIDRInconsistent",
               f"The default ServiceCIDR {cidrs} does not match the flag configurations {ranges}")


def _check_nodes(found: Facts, dx: Diagnosis, pod_ranges: list[str]) -> None:
    clusters = [ipaddress.ip_network(r) for r in pod_ranges]
    placed: list[tuple[object, Fact]] = []
    for f in found.node_pod_cidrs:
        net = f.network()
        if net is None:
            dx.add(f.key, ERROR, "CIDRNotAvailable", f"Node {f.name} {f.field} {f.value} is not a cidr")
            continue
        same = [c for c in clusters if c.version == net.version]
        if same and not any(net.subnet_of(c) for c in same):
            dx.add(f.key, ERROR, "CIDRNotAvailable", f"Node {f.name} {f.field} {net} is out the range of cluster cidr "
                                                     f"{', '.join(map(str, same))}")
        mask_fact = found.node_mask_sizes.get(net.version)
        try:
            mask = int(mask_fact.value) if mask_fact is not None else DEFAULT_MASK[net.version]
        except ValueError:
            mask = DEFAULT_MASK[net.version]
        if same and net.prefixlen != mask:
            dx.add(f.key, WARNING, "PodCIDRMaskSize", f"Node {f.name} {f.field} {net} is a /{net.prefixlen}; the node "
                                                      f"cidr mask size is {mask}")
        placed.append((net, f))
    placed.sort(key=lambda p: (p[0].version, int(p[0].network_address), p[0].prefixlen))
    for (a, fa), (b, fb) in zip(placed, placed[1:]):
        if a.version == b.version and a.overlaps(b) and fa.key != fb.key:
            dx.add(fb.key, ERROR, "PodCIDROverlap", f"Node {fb.name} {fb.field} {b} overlaps Node {fa.name}'s {a}")


def examine(state: State, found: Facts, service_ranges: list[str] | None = None,
            pod_ranges: list[str] | None = None, quick: bool = True) -> Diagnosis:
    """examine runs every check of the module docstring on ``state`` for the given (or declared) ranges.

    ``quick=False`` is the plain path the tests hold the quick one equal to: every Service read first and
    kept whole, allocators as sets of IP strings, and every IPAddress read in the IPAddress -> Service
    checks, also those the Service loop already found correct. The quick path reads one Service at a time
    and keeps only its IPs, holds allocators as bits (``Bits``) and skips the IPAddresses found correct.
    """
    declared_service, declared_pod = default_ranges(found)
    svc = [str(ipaddress.ip_network(r)) for r in service_ranges] if service_ranges else declared_service
    pod = [str(ipaddress.ip_network(r)) for r in pod_ranges] if pod_ranges else declared_pod
    dx = Diagnosis(svc, pod)
    for p in found.problems:
        dx.add(p.split(":", 1)[0], ERROR, "Undecodable", p)
    by_family: dict[int, str] = {}
    for r in svc:
        by_family.setdefault(ipaddress.ip_network(r).version, r)
    primary = ipaddress.ip_network(svc[0]).version if svc else None
    ipaddress_mode = bool(state.keys(SERVICECIDRS) or state.keys(IPADDRESSES))
    legacy = bool(any(state.has(k) for k in ALLOCATORS) or not ipaddress_mode)
    held = Held(state, quick)
    verified = Verified(state) if quick else None
    _check_services(state, found, dx, by_family, primary, legacy, ipaddress_mode, held, verified)
    if ipaddress_mode:
        _check_ipaddress_objects(state, dx, held, verified)
    _check_default_servicecidr(state, dx, svc)
    _check_nodes(found, dx, pod)
    cnicheck.check(state, dx)  # the CNIs' own state: pools, blocks, leases, annotations
    return dx


def parse_ranges(specs: list[str] | None, flag: str) -> list[str] | None:
    """parse_ranges validates repeated (or comma-separated) CIDR options; None when none were given."""
    if not specs:
        return None
    out = []
    for spec in specs:
        for part in split_csv(spec):
            net = parse_subnet(part)
            if net is None:
                raise UsageError(f"{flag} {part!r} is not a cidr network (want e.g. 10.96.0.0/12)")
            out.append(str(net))
    versions = [ipaddress.ip_network(r).version for r in out]
    if len(set(versions)) != len(versions):
        raise UsageError(f"{flag}: more than one range of one ip family ({', '.join(out)})")
    return out


def diagnose(path: str, service_cidrs: list[str] | None = None, pod_cidrs: list[str] | None = None,
             progress: Progress = None, prefix: str | None = None, crypt=None) -> dict:
    """diagnose opens a snapshot and returns ``examine``'s report as JSON (``doctor``'s output).

    ``crypt`` (``k8s.encryption.EncryptionConfig``, from ``--encryption-config``) reads values encrypted at rest.
    """
    from ..k8s.layout import detect

    svc = parse_ranges(service_cidrs, "--service-cidr")
    pod = parse_ranges(pod_cidrs, "--pod-cidr")
    with Snapshot(path) as snap:
        state = State.scan(snap, progress, detect(snap, prefix), crypt)
        found = discover(state)
        out = {"snapshot": path, **examine(state, found, svc, pod).as_json()}
        snap.check_unchanged()
        return out
