"""The control-plane half of ``rehearse --kube-apiserver``: what a real kube-apiserver says about the restored store.

Run on a started etcd (restored from the rehearsed snapshot) inside the rehearsal's network namespace:
start kube-apiserver with the service range the migrated cluster will run with, wait for /readyz, let
the repair loops settle, then collect through the ``kubernetes`` client library:

  events       Events written after the restored revision (the ClusterIP and NodePort repair loops
               report ClusterIPOutOfRange, ClusterIPNotAllocated, ClusterIPAlreadyAllocated, ... as
               Warning events on the Service), counted by reason; old Events of the snapshot are not
  allocatorLog the allocators' error lines from the server log (``repair.go``: "not within the service
               CIDR", "may have leaked", "not allocated; repairing"), each distinct line once (the
               repair loop runs twice at start: once before readiness, once as its loop begins)
  resources    a LIST of every resource the server serves (preferred version of every group): a value
               it cannot decode or transform fails the list; then each object of a failed list is read
               on its own (keys from etcd) and the ones that fail are named (``undecodable``)
  patches      a metadata-only merge PATCH (one annotation) of every object the rewrite changed: decode,
               admission, validation and re-encode of the new bytes; keys 1.20 does not serve (the
               allocator ranges, ServiceCIDR, IPAddress) are listed as skipped
  probe        a fresh ClusterIP Service: its address(es) must lie in the new range(s) and belong to
               no other Service

``ok`` is true only when the server started, no Warning event and no allocator error appeared, every
list and every PATCH was accepted and the probe's addresses are in range without collision.
"""

import ipaddress
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from .apiserver import ApiServerError, KubeApiServer
from .server import EtcdServer

ANNOTATION = "snaprewrite.io/rehearsal"
PROBE_PREFIX = "snaprewrite-rehearsal-probe-"
PAGE = 500
ALLOCATOR_PHRASES = ("not within the service CIDR", "may have leaked", "not allocated; repairing")
_KLOG = re.compile(r"^([EWF])\d{4} [\d:.]+\s+\d+ (\S+?):\d+\] (.*)$")
_SPECIAL_KEYS = {("services", "specs"): ("services", ""), ("services", "endpoints"): ("endpoints", "")}
_RENAMED = {"minions": "nodes"}


@dataclass
class ApiCheck:
    """What the API server said; ``as_json`` is the ``apiserver`` section of the rehearse report."""

    binary: str
    service_cidrs: list[str]
    service_cidrs_from: str
    settle: float
    isolated: bool = False
    isolation_note: str = ""
    start_error: str | None = None
    start_seconds: float = 0.0
    check_seconds: float = 0.0
    baseline_events: int = 0
    events: list[dict] = field(default_factory=list)
    allocator_log: list[str] = field(default_factory=list)
    resources_listed: int = 0
    objects_listed: int = 0
    list_failures: list[dict] = field(default_factory=list)
    undecodable: list[dict] = field(default_factory=list)
    patched: list[str] = field(default_factory=list)
    patch_failures: list[dict] = field(default_factory=list)
    patch_skipped: list[dict] = field(default_factory=list)
    probe: dict = field(default_factory=dict)

    @property
    def warnings(self) -> list[dict]:
        return [e for e in self.events if e["type"] != "Normal"]

    @property
    def ok(self) -> bool:
        """ok tells whether the API server found the store clean."""
        return (self.start_error is None and not self.warnings and not self.allocator_log and not self.list_failures
                and not self.undecodable and not self.patch_failures and self.probe.get("ok", False))

    def as_json(self) -> dict:
        return {
            "binary": self.binary,
            "serviceCidrs": self.service_cidrs,
            "serviceCidrsFrom": self.service_cidrs_from,
            "networkNamespace": self.isolated,
            "networkNamespaceNote": self.isolation_note or None,
            "started": self.start_error is None,
            "startError": self.start_error,
            "startSeconds": round(self.start_seconds, 3),
            "settleSeconds": self.settle,
            "checkSeconds": round(self.check_seconds, 3),
            "baselineEvents": self.baseline_events,
            "eventsByReason": dict(sorted(Counter(e["reason"] for e in self.events).items())),
            "events": self.events,
            "allocatorLog": self.allocator_log,
            "resources": {"listed": self.resources_listed, "objects": self.objects_listed,
                          "failed": self.list_failures, "undecodable": self.undecodable},
            "patches": {"attempted": len(self.patched) + len(self.patch_failures),
                        "accepted": len(self.patched), "failed": self.patch_failures, "skipped": self.patch_skipped},
            "probe": self.probe,
            "ok": self.ok,
        }


def _call(client, method: str, path: str, body=None, content_type: str = "application/json") -> tuple[int, object]:
    """_call sends one request through the kubernetes client library and returns (status, decoded JSON or text)."""
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = content_type
    method, url, headers, body, _ = client.param_serialize(method=method, resource_path=path, header_params=headers,
                                                           body=body, auth_settings=["BearerToken"])
    resp = client.call_api(method, url, header_params=headers, body=body, _request_timeout=60)
    data = resp.read()
    try:
        return resp.status, json.loads(data)
    except ValueError:
        return resp.status, data.decode("utf-8", "replace")


def _message(answer) -> str:
    if isinstance(answer, dict):
        return str(answer.get("message") or answer.get("reason") or answer)[:500]
    return str(answer)[:500]


@dataclass(frozen=True)
class Served:
    """One resource the server serves at a group's preferred version."""

    group_version: str
    name: str
    namespaced: bool

    @property
    def group(self) -> str:
        return self.group_version.rpartition("/")[0]

    def path(self, namespace: str | None, name: str | None = None) -> str:
        base = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        return f"{base}/{self.name}" + (f"/{name}" if name else "")


def discover(client) -> list[Served]:
    """discover lists the listable resources at each group's preferred version (core v1 first)."""
    out: list[Served] = []
    versions = ["v1"]
    status, groups = _call(client, "GET", "/apis")
    if status != 200:
        raise ApiServerError(f"discovery /apis answered {status}: {_message(groups)}")
    for g in groups.get("groups", []):
        versions.append(g["preferredVersion"]["groupVersion"])
    for gv in versions:
        status, doc = _call(client, "GET", "/api/v1" if gv == "v1" else f"/apis/{gv}")
        if status != 200:  # an aggregated API whose backend is unreachable: not the store's fault
            continue
        for r in doc.get("resources", []):
            if "/" not in r["name"] and "list" in r.get("verbs", []):
                out.append(Served(gv, r["name"], bool(r.get("namespaced"))))
    return out


def resource_for_key(key: str, served: list[Served], root: str = "/registry/") -> tuple[Served, str | None, str] | None:
    """resource_for_key maps an etcd key under ``root`` to (resource, namespace, name), or None if not served."""
    if not key.startswith(root):
        return None
    parts = key[len(root):].split("/")
    if len(parts) < 2:
        return None
    if tuple(parts[:2]) in _SPECIAL_KEYS:
        resource, group = _SPECIAL_KEYS[tuple(parts[:2])]
        rest = parts[2:]
    elif "." in parts[0]:
        group, resource, rest = parts[0], parts[1], parts[2:]
    else:
        resource, group, rest = _RENAMED.get(parts[0], parts[0]), None, parts[1:]
    candidates = [s for s in served if s.name == resource and (group is None or s.group == group)]
    candidates.sort(key=lambda s: s.group_version != "v1")
    for s in candidates:
        if s.namespaced and len(rest) == 2:
            return s, rest[0], rest[1]
        if not s.namespaced and len(rest) == 1:
            return s, None, rest[0]
    return None


def allocator_lines(log: str) -> list[str]:
    """allocator_lines picks the allocators' error and warning lines (repair.go, or the known phrases) from a klog log."""
    out = []
    for line in log.splitlines():
        m = _KLOG.match(line)
        if not m:
            continue
        level, source, msg = m.groups()
        if source.endswith("repair.go") or any(p in msg for p in ALLOCATOR_PHRASES):
            out.append(f"{level} {source}: {msg}")
    return list(dict.fromkeys(out))


def key_prefixes(res: Served, root: str = "/registry/") -> list[bytes]:
    """key_prefixes are where kube-apiserver may store a resource: <root><resource>/ or <root><group>/<resource>/."""
    inverse = {v[0]: "/".join(k) for k, v in _SPECIAL_KEYS.items()} | {v: k for k, v in _RENAMED.items()}
    if res.group == "":
        return [f"{root}{inverse.get(res.name, res.name)}/".encode()]
    return [f"{root}{res.name}/".encode(), f"{root}{res.group}/{res.name}/".encode()]


def _find_undecodable(client, etcd: EtcdServer, res: Served, served: list[Served], result: ApiCheck,
                      root: str = "/registry/") -> None:
    """_find_undecodable GETs each object of a resource whose LIST failed, to name the ones the server cannot read."""
    with etcd.client() as c:
        keys = [r.key.decode("utf-8", "surrogateescape") for p in key_prefixes(res, root) for r in c.range(p, keys_only=True)]
    for key in keys:
        target = resource_for_key(key, served, root)
        if target is None or target[0] != res:
            continue
        status, answer = _call(client, "GET", res.path(target[1], target[2]))
        if status != 200:
            result.undecodable.append({"key": key, "status": status, "error": _message(answer)})


def _pages(client, path: str) -> Iterator[tuple[int, object]]:
    """_pages LISTs a collection PAGE items at a time, yielding (status, answer) until the last page or a failure."""
    cont = None
    while True:
        status, answer = _call(client, "GET", f"{path}?limit={PAGE}" + (f"&continue={quote(cont, safe='')}" if cont else ""))
        yield status, answer
        cont = answer.get("metadata", {}).get("continue") if status == 200 else None
        if not cont:
            return


def _list_all(client, etcd: EtcdServer, served: list[Served], result: ApiCheck, root: str = "/registry/") -> None:
    for s in served:
        for status, answer in _pages(client, s.path(None)):
            if status != 200:
                result.list_failures.append({"resource": f"{s.name}.{s.group_version}", "status": status,
                                             "error": _message(answer)})
                _find_undecodable(client, etcd, s, served, result, root)
                break
            result.objects_listed += len(answer.get("items", []))
        result.resources_listed += 1


def _patch_changed(client, served: list[Served], keys: list[str], stamp: str, result: ApiCheck,
                   root: str = "/registry/") -> None:
    body = {"metadata": {"annotations": {ANNOTATION: stamp}}}
    for key in keys:
        target = resource_for_key(key, served, root)
        if target is None:
            result.patch_skipped.append({"key": key, "reason": "not served by this kube-apiserver"})
            continue
        res, ns, name = target
        status, answer = _call(client, "PATCH", res.path(ns, name), body, "application/merge-patch+json")
        if status == 200 and isinstance(answer, dict) and \
                answer.get("metadata", {}).get("annotations", {}).get(ANNOTATION) == stamp:
            result.patched.append(key)
        else:
            result.patch_failures.append({"key": key, "status": status, "error": _message(answer)})


def _probe(client, cidrs: list[str], result: ApiCheck) -> None:
    from kubernetes import client as k8s

    core = k8s.CoreV1Api(client)
    name = PROBE_PREFIX + secrets.token_hex(3)
    spec = k8s.V1ServiceSpec(ports=[k8s.V1ServicePort(port=80, protocol="TCP")], type="ClusterIP")
    if len(cidrs) > 1:
        spec.ip_family_policy = "PreferDualStack"
    try:
        made = core.create_namespaced_service("default", k8s.V1Service(
            metadata=k8s.V1ObjectMeta(name=name, namespace="default"), spec=spec))
    except k8s.ApiException as e:
        result.probe = {"service": f"default/{name}", "ok": False, "error": f"create answered {e.status}: "
                        + _message(_json_or_text(e.body))}
        return
    ips = list(made.spec.cluster_ips or [made.spec.cluster_ip])
    holders = {}
    for svc in core.list_service_for_all_namespaces().items:
        if svc.metadata.name == name and svc.metadata.namespace == "default":
            continue
        for ip in svc.spec.cluster_ips or ([svc.spec.cluster_ip] if svc.spec.cluster_ip else []):
            holders[ip] = f"{svc.metadata.namespace}/{svc.metadata.name}"
    result.probe = {"service": f"default/{name}", **probe_verdict(ips, cidrs, holders)}


def probe_verdict(ips: list[str], cidrs: list[str], holders: dict[str, str]) -> dict:
    """probe_verdict judges a new Service's addresses: one per range, each inside one, none held by another Service."""
    nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    outside = [ip for ip in ips if not any(ipaddress.ip_address(ip) in n for n in nets)]
    collisions = {ip: holders[ip] for ip in ips if ip in holders}
    verdict = {"clusterIPs": ips, "outsideRange": outside, "collisions": collisions,
               "ok": not outside and not collisions and len(ips) == len(cidrs)}
    if len(ips) != len(cidrs):
        verdict["error"] = f"got {len(ips)} address(es) for {len(cidrs)} service range(s)"
    return verdict


def _json_or_text(body):
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return body


def baseline_events(etcd: EtcdServer, root: str = "/registry/") -> int:
    """baseline_events counts the Events the restored store already holds (they are not findings)."""
    with etcd.client() as c:
        return c.count(f"{root}events/".encode())


def _new_events(client, since_revision: int, result: ApiCheck) -> None:
    """_new_events collects the Events written after the restored revision (page by page: a snapshot may hold many)."""
    for status, answer in _pages(client, "/api/v1/events"):
        if status != 200:
            result.list_failures.append({"resource": "events.v1", "status": status, "error": _message(answer)})
            break
        for e in answer.get("items", []):
            if int(e["metadata"].get("resourceVersion") or 0) <= since_revision:
                continue
            obj = e.get("involvedObject", {})
            what = "/".join(p for p in (obj.get("kind"), obj.get("namespace"), obj.get("name")) if p)
            result.events.append({"type": e.get("type", ""), "reason": e.get("reason", ""), "object": what,
                                  "message": e.get("message", ""), "count": e.get("count", 1)})
    result.events.sort(key=lambda e: (e["reason"], e["object"], e["message"]))


def run(binary: str | Path, etcd: EtcdServer, service_cidrs: list[str], cidrs_from: str, changed_keys: list[str],
        since_revision: int, settle: float, workdir: Path, isolated: bool, isolation_note: str = "",
        extra_args: list[str] | None = None, root: str = "/registry/") -> ApiCheck:
    """run starts kube-apiserver on ``etcd`` and collects its verdict (see the module docstring); always stops it.

    ``root`` is the snapshot's key root: another than ``/registry/`` is passed as ``--etcd-prefix``.
    """
    result = ApiCheck(str(binary), list(service_cidrs), cidrs_from, settle, isolated, isolation_note)
    result.baseline_events = baseline_events(etcd, root)
    extra = list(extra_args or [])
    if root != "/registry/":
        extra.append(f"--etcd-prefix={root.rstrip('/')}")
    api = KubeApiServer(binary, etcd.client_url, service_cidrs, workdir=workdir, extra_args=extra)
    try:
        try:
            api.start()
        except ApiServerError as e:
            result.start_error = str(e)
            result.allocator_log = allocator_lines(api.final_log)
            return result
        result.start_seconds = api.start_seconds
        time.sleep(max(0.0, settle))
        t0 = time.monotonic()
        client = api.api_client()
        _new_events(client, since_revision, result)
        result.allocator_log = allocator_lines(api.log_text())
        served = discover(client)
        _list_all(client, etcd, served, result, root)
        _patch_changed(client, served, sorted(changed_keys), f"patched-{int(time.time())}", result, root)
        _probe(client, service_cidrs, result)
        result.check_seconds = time.monotonic() - t0
    finally:
        api.stop()
    return result
