"""What still mentions the old CIDRs after every rule: counted per resource, each with the reason it stays.

Scans every live value the plan does not change for IPv4/IPv6 addresses and CIDRs inside an old
service or pod CIDR, and adds one warning per resource (``/registry/pods/``: 12 objects ...). Pod
IPs, endpoints and events are expected to keep old addresses until the cluster refreshes them; a
CNI's own pools (Calico IPPools, flannel's net-conf) need the operator's hand.
"""

import ipaddress
import re

from ...etcd import kv as kvcodec
from ...etcd import revision as revcodec
from ..plan import Context, Warning

name = "leftovers"
kind = "*"
prefixes = ()

IPV4 = re.compile(rb"(?<![0-9.])((?:[0-9]{1,3}\.){3}[0-9]{1,3})(?:/[0-9]{1,2})?(?![0-9.])")
IPV6 = re.compile(rb"(?<![0-9A-Fa-f:])((?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4})(?:/[0-9]{1,3})?(?![0-9A-Fa-f:])")

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
}
CNI_HINT = "a CNI's own IP pool or config: update it with the CNI's tools"


def _resource(key: bytes) -> tuple[str, str]:
    """_resource returns (resource name, its key prefix) of a registry key."""
    parts = key.decode("utf-8", "replace").split("/")
    if len(parts) > 3 and parts[2] == "services":
        res = "endpoints" if parts[3] == "endpoints" else "services"
        return res, "/".join(parts[:4]) + "/"
    if len(parts) > 2:
        return parts[2], "/".join(parts[:3]) + "/"
    return parts[-1], key.decode("utf-8", "replace")


def run(ctx: Context) -> None:
    """run counts the live objects, per resource, whose unchanged values still hold old addresses."""
    nets4 = [m.old for cm in (ctx.options.service_map, ctx.options.pod_map) for m in cm if m.version == 4
             and not m.is_noop]
    nets6 = [m.old for cm in (ctx.options.service_map, ctx.options.pod_map) for m in cm if m.version == 6
             and not m.is_noop]
    if not nets4 and not nets6:
        return
    changed = {e.key for e in ctx.plan.edits}
    hits: dict[tuple[str, str], list[str]] = {}
    for _flags, k, v in ctx.snap.key_bucket().iter_raw():
        if len(k) != revcodec.REV_BYTES_LEN or not v:
            continue
        key = kvcodec.key_of(v)
        rev = ctx.live.get(key)
        if rev is None or key in changed or revcodec.decode(k)[0] != rev:
            continue
        value = bytes(v)
        if _mentions(value, IPV4, nets4) or (nets6 and _mentions(value, IPV6, nets6)):
            group = ("excluded", "(--exclude)") if key in ctx.excluded else _resource(key)
            hits.setdefault(group, []).append(key.decode("utf-8", "backslashreplace"))
    for (res, prefix), keys in sorted(hits.items()):
        reason = REASONS.get(res, CNI_HINT if "." in res else "not rewritten by snaprewrite; review it")
        sample = ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
        ctx.plan.warnings.append(Warning(prefix, f"{len(keys)} object(s) still hold old addresses "
                                         f"({reason}): {sample}"))


def _mentions(value: bytes, pattern: re.Pattern, nets: list) -> bool:
    """_mentions tells whether a value holds an address (or CIDR) inside one of ``nets``."""
    for m in pattern.finditer(value):
        try:
            ip = ipaddress.ip_address(m.group(1).decode())
        except ValueError:
            continue
        if any(ip in n for n in nets):
            return True
    return False
