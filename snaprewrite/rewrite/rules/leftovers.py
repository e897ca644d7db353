"""What still mentions the old CIDRs after every rule: counted per resource, each with the reason it stays.

Scans every live value the plan does not change for IPv4/IPv6 addresses and CIDRs inside an old
service or pod CIDR, and adds one warning per resource (``/registry/pods/``: 12 objects ...; keys under the
layout root). Pod IPs, endpoints and events are expected to keep old addresses until the cluster refreshes
them. The CNI rules move the CNIs' own pools; what a CNI rebuilds from the pods (CiliumEndpoints, Calico
WorkloadEndpoints) is listed with that reason. Every key is named: the report never elides one.
"""

import ipaddress
import re

from ...etcd import revision as revcodec
from ..plan import Context, Warning

name = "leftovers"
kind = "*"
prefixes = ()

REASONS = {
    "pods": "pod IPs change when the pods are recreated on the new pod CIDR",
    "endpoints": "rebuilt by the endpoints controller once pods and services move",
    "endpointslices": "rebuilt by the endpointslice controller once pods and services move",
    "events": "old events; they expire on their own",
    "minions": "node status addresses or fields snaprewrite does not move",
    "configmaps": "a ConfigMap snaprewrite does not know; edit it by hand",
    "services": "a Service field other than clusterIP(s) (externalIPs, loadBalancerIP?)",
    "ipaddresses": "an IPAddress with no moved Service",
    "excluded": "left as they are, as --exclude asked",
    "ciliumendpoints.cilium.io": "pod addresses: Cilium recreates its endpoints with the pods",
    "workloadendpoints.crd.projectcalico.org": "pod addresses: Calico recreates them with the pods",
    "ipamblocks.crd.projectcalico.org": "blocks of an IPPool the pod CIDR mapping does not cover",
    "blockaffinities.crd.projectcalico.org": "affinities of blocks of an IPPool the mapping does not cover",
    "ipamhandles.crd.projectcalico.org": "handles of blocks of an IPPool the mapping does not cover",
    "ippools.crd.projectcalico.org": "an IPPool the pod CIDR mapping does not cover",
}
CNI_HINT = "a CNI's own IP pool or config: update it with the CNI's tools"


def _resource(key: bytes, root: bytes) -> tuple[str, str]:
    """_resource returns (resource name, its key prefix) of a key under the layout ``root``."""
    text = key.decode("utf-8", "replace")
    if not key.startswith(root):  # another tree (/calico/, /openshift.io/): its second component names it
        parts = text.split("/")
        return (parts[2], "/".join(parts[:3]) + "/") if len(parts) > 2 else (parts[-1], text)
    base = root.decode("utf-8", "replace")
    parts = text[len(base):].split("/")
    if len(parts) > 1 and parts[0] == "services":
        res = "endpoints" if parts[1] == "endpoints" else "services"
        return res, base + "/".join(parts[:2]) + "/"
    if len(parts) > 2 and "." in parts[0]:  # <root><group>/<resource>/...: a custom resource
        return f"{parts[1]}.{parts[0]}", base + "/".join(parts[:2]) + "/"
    if len(parts) > 1:
        return parts[0], base + parts[0] + "/"
    return parts[-1], text


class Mentions:
    """Observes the plan's scan: the keys whose latest record so far mentions an old address.

    Records arrive in revision order; a later put that does not mention one, or a deletion, removes
    the key again. Memory follows the number of such keys, not the size of the snapshot.
    """

    def __init__(self, nets: list):
        self.finder = AddressFinder(nets)
        self.keys: dict[bytes, None] = {}

    def visit(self, key: bytes, revkey: memoryview, value: memoryview) -> None:
        if len(revkey) != revcodec.REV_BYTES_LEN or not self.finder.mentions(value):
            self.keys.pop(key, None)
        else:
            self.keys[key] = None

    def export(self) -> list[str]:
        """export is what was found, as JSON (keys as latin-1 text): a forked child's answer (``plan.Aside``)."""
        return [k.decode("latin-1") for k in self.keys]

    def absorb(self, found: list[str]) -> None:
        """absorb takes what ``export`` gave in the child, as if this observer had seen the records itself."""
        self.keys = dict.fromkeys(k.encode("latin-1") for k in found)

    def visit_page(self, run: memoryview | None, records: list) -> None:
        """visit_page is ``visit`` for one leaf's records: a leaf whose bytes hold no candidate is settled at once.

        Every value is a slice of ``run``, so a value with an address in it makes the run match too.
        """
        if run is not None and not self.finder.candidate(run):
            pop = self.keys.pop
            for key, _revkey, _value in records:
                pop(key, None)
            return
        visit = self.visit
        for key, revkey, value in records:
            visit(key, revkey, value)


def _old_nets(options) -> list:
    return [m.old for cm in (options.service_map, options.pod_map) for m in cm if not m.is_noop]


def observer(options) -> Mentions | None:
    """observer is what this rule needs to see of every record during the plan's scan."""
    nets = _old_nets(options)
    return Mentions(nets) if nets else None


def run(ctx: Context) -> None:
    """run counts the live objects, per resource, whose unchanged values still hold old addresses."""
    seen: Mentions | None = ctx.observed.get(name)
    if seen is None:
        return
    changed = {e.key for e in ctx.plan.edits}
    mentions = [k for k in seen.keys if k not in changed]
    hits: dict[tuple[str, str], list[str]] = {}
    for key in sorted(mentions):
        group = ("excluded", "(--exclude)") if key in ctx.excluded else _resource(key, ctx.layout.root)
        hits.setdefault(group, []).append(key.decode("utf-8", "backslashreplace"))
    for (res, prefix), keys in sorted(hits.items()):
        reason = REASONS.get(res, CNI_HINT if "." in res else "not rewritten by snaprewrite; review it")
        ctx.plan.warnings.append(Warning(prefix, f"{len(keys)} object(s) still hold old addresses "
                                         f"({reason}): {', '.join(keys)}"))


class AddressFinder:
    """Finds IPv4/IPv6 addresses (or CIDRs) inside given networks in raw bytes, fast.

    A value is first searched for the literal text every address of the networks must start with
    (``10.96.`` ... ``10.111.`` for 10.96.0.0/12; the first hextet for IPv6), one compiled pattern
    per family; only candidates are parsed and compared as integers.
    """

    def __init__(self, nets: list):
        self.v4 = [(int(n.network_address), int(n.broadcast_address)) for n in nets if n.version == 4]
        self.v6 = [n for n in nets if n.version == 6]
        self.re4 = self._v4_pattern([n for n in nets if n.version == 4])
        self.re6 = self._v6_pattern(self.v6)
        self.pre6 = self._v6_prefilter(self.v6)

    @staticmethod
    def _v4_pattern(nets: list) -> re.Pattern | None:
        if not nets:
            return None
        heads = set()
        for n in nets:
            lo, hi = int(n.network_address) >> 16, int(n.broadcast_address) >> 16
            if hi - lo > 4096:
                heads = None
                break
            heads.update(f"{h >> 8}.{h & 255}." for h in range(lo, hi + 1))
        head = "|".join(re.escape(h) for h in sorted(heads)) if heads else r"[0-9]{1,3}\.[0-9]{1,3}\."
        return re.compile(rb"(?:" + head.encode() + rb")[0-9]{1,3}\.[0-9]{1,3}")

    @staticmethod
    def _v6_pattern(nets: list) -> re.Pattern | None:
        if not nets:
            return None
        heads = {f"{int(n.network_address) >> 112:x}:" for n in nets if n.prefixlen >= 16}
        if any(n.prefixlen < 16 for n in nets):  # two networks may share a first hextet (one head)
            return re.compile(rb"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:]+")
        return re.compile(rb"(?i)(?:" + "|".join(sorted(heads)).encode() + rb")[0-9A-Fa-f:]*")

    @staticmethod
    def _v6_prefilter(nets: list) -> re.Pattern | None:
        """_v6_prefilter is a case-free literal every IPv6 candidate holds (``00:`` for ``fd00:``), or None.

        The IPv6 pattern is case-insensitive, which the regex engine cannot search by literal prefix;
        digits and colons have no case, so their longest run in the one common head is searched first.
        """
        heads = {f"{int(n.network_address) >> 112:x}:" for n in nets}
        if len(heads) != 1 or any(n.prefixlen < 16 for n in nets):
            return None
        runs = re.findall(r"[0-9:]+", heads.pop())
        return re.compile(re.escape(max(runs, key=len)).encode()) if runs else None

    def candidate(self, data) -> bool:
        """candidate tells whether ``data`` holds anything ``mentions`` would look at (False: it mentions none)."""
        return bool(self.re4 is not None and self.re4.search(data)
                    or self.re6 is not None and (self.pre6 or self.re6).search(data))

    def mentions(self, value) -> bool:
        """mentions tells whether ``value`` holds an address inside one of the networks."""
        if self.re4 is not None:
            for m in self.re4.finditer(value):
                start, end = m.span()
                if start and value[start - 1] in b"0123456789." or end < len(value) and value[end] in b"0123456789":
                    continue
                parts = bytes(value[start:end]).split(b".")
                if any(int(p) > 255 for p in parts):
                    continue
                x = int(parts[0]) << 24 | int(parts[1]) << 16 | int(parts[2]) << 8 | int(parts[3])
                if any(lo <= x <= hi for lo, hi in self.v4):
                    return True
        if self.re6 is not None and (self.pre6 is None or self.pre6.search(value)):
            for m in self.re6.finditer(value):
                start = m.start()
                if start and value[start - 1] in b"0123456789abcdefABCDEF:":
                    continue
                try:
                    ip = ipaddress.IPv6Address(bytes(value[start : m.end()]).decode())
                except ValueError:
                    continue
                if any(ip in n for n in self.v6):
                    return True
        return False
