"""Refusals of unsafe mappings: pure checks of the operator's ``OLD=NEW`` options against the snapshot's facts.

``check(facts, service_map, pod_map)`` returns every rail a request breaks, in this order:

* ``identity``: a mapping whose NEW equals its OLD (nothing to do);
* ``new-overlap`` (usage, exit 2): a new service range overlapping a new pod range (two new ranges of one
  kind that overlap are refused earlier, by ``CidrMap``);
* ``overlap``: a new service range overlapping a pod range the cluster uses now (kubeadm podSubnet,
  controller-manager cluster-cidr, kube-proxy clusterCIDR, a Node's podCIDR), or a new pod range
  overlapping a service range it uses now (allocator range, ServiceCIDR, kubeadm serviceSubnet):
  during the move, old pods and old Services still hold those addresses;
* ``host-address``: a new range containing a Node's InternalIP or an API server address;
* ``unmatched-old``: an OLD range that is not a range the snapshot declares for that kind (nor, when it
  declares none of that family, holds any object's address), naming the range the cluster uses.

``--force-unsafe-mapping`` turns every refusal into a ``forced`` entry of the report. kubeadm refuses
overlapping service and pod subnets the same way (``validation.ValidateNetworking``).
"""

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .cidr import CidrMap, Mapping, parse_subnet
from .facts import Fact, Facts, networks, ranges_by_family

FORCE_FLAG = "--force-unsafe-mapping"


@dataclass(frozen=True)
class Refusal:
    """One rail a request breaks: its name, one line naming both values, and whether it is a usage error."""

    rail: str
    message: str
    usage: bool = False

    def as_json(self) -> dict:
        return {"rail": self.rail, "message": self.message}


def _flag(kind: str) -> str:
    return "--service-cidr" if kind == "service" else "--pod-cidr"


def _identity(kind: str, cmap: CidrMap) -> list[Refusal]:
    return [Refusal("identity", f"nothing to do: {_flag(kind)} {m} maps {m.old} to itself")
            for m in cmap if m.is_noop]


def _new_overlap(service_map: CidrMap, pod_map: CidrMap) -> list[Refusal]:
    out = []
    for s in service_map:
        for p in pod_map:
            if s.version == p.version and s.new.overlaps(p.new):
                out.append(Refusal("new-overlap", f"new service cidr {s.new} overlaps new pod cidr {p.new}",
                                   usage=True))
    return out


def _first_overlap(net, pairs: list[tuple[object, Fact]]) -> Fact | None:
    """_first_overlap is the first fact whose network (``networks``' pairs) overlaps ``net``."""
    return next((f for n, f in pairs if n.version == net.version and n.overlaps(net)), None)


def _overlap(facts: Facts, service_map: CidrMap, pod_map: CidrMap) -> list[Refusal]:
    out = []
    # each fact's network is made once, not once per mapping (a Node's podCIDRs: 4,000 at 2,000 Nodes)
    current_pods = networks(facts.pod_ranges + facts.node_pod_cidrs) if service_map.mappings else []
    current_services = networks(facts.service_ranges) if pod_map.mappings else []
    for m in service_map:
        hit = _first_overlap(m.new, current_pods)
        if hit is not None:
            out.append(Refusal("overlap", f"new service cidr {m.new} overlaps the pod cidr {hit.value} the cluster "
                                          f"uses ({hit.source})"))
    for m in pod_map:
        hit = _first_overlap(m.new, current_services)
        if hit is not None:
            out.append(Refusal("overlap", f"new pod cidr {m.new} overlaps the service cidr {hit.value} the cluster "
                                          f"uses ({hit.source})"))
    return out


def _host_address(facts: Facts, service_map: CidrMap, pod_map: CidrMap) -> list[Refusal]:
    out = []
    addresses: dict[str, list] = {}  # each fact's address made once, not once per mapping

    def addressed(what: str, items: list[Fact]) -> list:
        got = addresses.get(what)
        if got is None:
            got = addresses[what] = [(a, f) for f in items if (a := f.address()) is not None]
        return got

    for kind, cmap in (("service", service_map), ("pod", pod_map)):
        for m in cmap:
            for what, items in (("node", facts.node_ips), ("API server", facts.apiserver_ips)):
                hit = next((f for a, f in addressed(what, items) if a.version == m.version and a in m.new), None)
                if hit is not None:
                    who = f"{what} {hit.name}'s address" if hit.name else f"{what} address"
                    out.append(Refusal("host-address", f"new {kind} cidr {m.new} contains {who} {hit.value} "
                                                       f"({hit.source})"))
                    break
    return out


def _unmatched(kind: str, m: Mapping, declared: list[Fact], holds: Callable[[Mapping], bool]) -> Refusal | None:
    same_family = [(n, f) for n, f in networks(declared) if n.version == m.version]
    if any(n == m.old for n, _ in same_family):
        return None
    if not same_family:
        if holds(m):
            return None
        return Refusal("unmatched-old", f"old {kind} cidr {m.old} matches nothing in the snapshot: it declares no "
                                        f"ipv{m.version} {kind} range and no {kind} address lies in {m.old}")
    uses = ", ".join(f"{n} ({f.source})" for n, f in ranges_by_family(declared)[m.version])
    return Refusal("unmatched-old", f"old {kind} cidr {m.old} matches nothing in the snapshot: the cluster uses "
                                    f"{uses}")


def check(facts: Facts, service_map: CidrMap, pod_map: CidrMap,
          service_ips: Callable[[], Iterable[str]] = lambda: (),
          cni_pools: Callable[[], Iterable[str]] = lambda: ()) -> list[Refusal]:
    """check lists every rail the mappings break (see the module docstring); usage-level refusals first.

    ``service_ips`` is called only when the snapshot declares no service range of a mapped family;
    ``cni_pools`` (the CNI's own pools: Calico IPPools, Cilium's cluster pool, flannel's Network) only
    for a pod mapping: an old pod CIDR that holds one of them matches the cluster's pod range.
    """
    out = _identity("service", service_map) + _identity("pod", pod_map)
    out += _new_overlap(service_map, pod_map)
    out += _overlap(facts, service_map, pod_map)
    out += _host_address(facts, service_map, pod_map)
    cached: list[str] = []

    def holds_service(m: Mapping) -> bool:
        if not cached:
            cached.extend(service_ips())
        return any(_in(ip, m.old) for ip in cached)

    node_nets: list = []

    def holds_pod(m: Mapping) -> bool:
        if not node_nets:
            node_nets.extend(n for n, _ in networks(facts.node_pod_cidrs))
        return any(n.version == m.version and n.subnet_of(m.old) for n in node_nets)

    for m in service_map:
        r = _unmatched("service", m, facts.service_ranges, holds_service)
        if r is not None:
            out.append(r)
    pools: list = []

    def cni_pool_inside(m: Mapping) -> bool:
        if not pools:
            pools.extend(n for n in (parse_subnet(p) for p in cni_pools()) if n is not None)
        return any(n.version == m.version and n.subnet_of(m.old) for n in pools)

    for m in pod_map:
        if cni_pool_inside(m):
            continue
        r = _unmatched("pod", m, facts.pod_ranges, holds_pod)
        if r is not None:
            out.append(r)
    return sorted(out, key=lambda r: not r.usage)


def _in(ip: str, net) -> bool:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return a.version == net.version and a in net
