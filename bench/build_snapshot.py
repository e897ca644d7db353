"""Build a benchmark snapshot once with real etcd 3.5, shaped like a 1.31+ dual-stack cluster.

    python bench/build_snapshot.py --cache ~/.cache/snaprewrite-bench [--size 1.3g] [--force]

What it holds at the default size (1.3 GB, >= 850k records in bucket ``key``; other sizes scale the
counts; objects from bench/objects.py and fixtures/kubeobjects.py, protobuf as kube-apiserver stores them):
- ~46,000 Services in 50 namespaces: a quarter dual-stack (IPv4 from 10.96.0.0/12, IPv6 from
  fd00:10:96::/108), 2% headless, 1% ExternalName; ``kubernetes`` at 10.96.0.1, ``kube-dns`` at 10.96.0.10;
  each written 4 times (create, one update before the compaction, two after);
- one IPAddress object per cluster IP (/registry/ipaddresses/<ip>), the ``kubernetes`` ServiceCIDR with
  both ranges, and the ``serviceips`` / ``secondaryserviceips`` RangeAllocation bitmaps;
- per Service its Endpoints and EndpointSlice(s) (an IPv6 slice too when dual-stack);
- 2,000 dual-stack Nodes (~15 KB: 75 images) with podCIDRs = the i-th /24 of 10.128.0.0/12 and the
  i-th /64 of fd00:10:128::/48, HEARTBEATS updates each; their Leases renewed LEASE_RENEWALS times;
- Pods (created Pending, then Running), ConfigMaps, and Events (~1 KB, with a lease, 100 per
  transaction) as filler until the file and record targets are met;
- a compaction mid-history (after the first round of updates), as the API server's compactor does.
Writes go through the v3 JSON gateway from WORKERS processes; update jobs are shuffled (seeded) so the
history interleaves kinds like a live cluster's. The result is ``<cache>/bench-<size>.db`` plus
``<cache>/bench-<size>.json`` (counts, CIDRs, sizes, build time); both are written only when complete,
so an interrupted build leaves no half snapshot behind.
"""

import argparse
import ipaddress
import json
import random
import sys
import time
from multiprocessing import Pool
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "fixtures"))

import kubeobjects
import objects

from snaprewrite.k8s import bitmap
from snaprewrite.rehearsal.binaries import find_etcd
from snaprewrite.rehearsal.client import EtcdClient
from snaprewrite.rehearsal.server import EtcdServer, EtcdServerError, snapshot_save, snapshot_status

SERVICE_CIDR, SERVICE_TARGET = "10.96.0.0/12", "172.16.0.0/12"
SERVICE_CIDR6, SERVICE_TARGET6 = "fd00:10:96::/108", "fd00:172:16::/108"
POD_CIDR, POD_TARGET = "10.128.0.0/12", "10.32.0.0/12"
POD_CIDR6, POD_TARGET6 = "fd00:10:128::/48", "fd00:10:32::/48"
FORMAT = 3  # bump when the content changes, so cached snapshots of an older layout get rebuilt

BASE_BYTES = 1_300_000_000  # the default size; counts below are for it and scale with --size
SERVICES, NODES, PODS, CONFIGMAPS, NAMESPACES = 46_000, 2_000, 20_000, 5_000, 50
MAX_NODES = 4_000  # /24 per node inside a /12: room for 4096
DUAL_STACK_MAX = 60_000  # the IPv6 allocator bitmap covers 65,536 addresses (bitmap.IPV6_BITMAP_LIMIT)
MIN_RECORDS = 850_000
HEARTBEATS, HEARTBEATS_BEFORE = 15, 5  # Node updates, of which HEARTBEATS_BEFORE precede the compaction
LEASE_RENEWALS, RENEWALS_BEFORE = 40, 10
SERVICE_UPDATES, SERVICE_UPDATES_BEFORE = 3, 1
EVENT_BATCH, EVENT_ROUND = 100, 50_000
WORKERS = 3
SEED = 20240601

_client: EtcdClient | None = None


def parse_size(text: str) -> int:
    """parse_size reads a size such as 1.3g, 8g or 500m (decimal GB/MB for g/m, GiB for gi) into bytes."""
    t = text.strip().lower()
    for suffix, mult in (("gi", 1 << 30), ("mi", 1 << 20), ("g", 10**9), ("m", 10**6)):
        if t.endswith(suffix):
            return int(float(t[: -len(suffix)]) * mult)
    return int(t)


class Shape:
    """Shape is the object counts of one snapshot size (the 1.3 GB counts times size / 1.3 GB)."""

    def __init__(self, size: str):
        self.size = size
        self.target_bytes = parse_size(size)
        scale = self.target_bytes / BASE_BYTES
        self.services = max(int(SERVICES * scale), 200)
        self.nodes = min(max(int(NODES * scale), 20), MAX_NODES)
        self.pods = max(int(PODS * scale), 200)
        self.configmaps = max(int(CONFIGMAPS * scale), 10)
        self.min_records = int(MIN_RECORDS * scale)

    def args(self) -> dict:
        return {"services": self.services, "nodes": self.nodes, "pods": self.pods}


def app_ns(i: int) -> str:
    """app_ns is the namespace of the i-th application object."""
    return f"app-{i % NAMESPACES:02d}"


def node_cidr(i: int) -> str:
    """node_cidr is node i's IPv4 pod range: the i-th /24 of the pod CIDR."""
    return str(ipaddress.ip_network(POD_CIDR).network_address + (i << 8)) + "/24"


def node_cidr6(i: int) -> str:
    """node_cidr6 is node i's IPv6 pod range: the i-th /64 of the IPv6 pod CIDR."""
    return str(ipaddress.ip_network(POD_CIDR6).network_address + (i << 64)) + "/64"


def node_ip(i: int) -> str:
    """node_ip is node i's InternalIP, as objects.node writes it."""
    return str(ipaddress.IPv4Address("192.168.0.0") + 10 + i)


def pod_ip(j: int, nodes: int) -> str:
    """pod_ip is pod j's IP: on node j mod nodes, inside that node's /24."""
    return str(ipaddress.ip_network(POD_CIDR).network_address + ((j % nodes) << 8) + 2 + j // nodes)


def pod_ip6(j: int, nodes: int) -> str:
    """pod_ip6 is pod j's IPv6 address inside its node's /64."""
    return str(ipaddress.ip_network(POD_CIDR6).network_address + ((j % nodes) << 64) + 2 + j // nodes)


def pod_name(j: int) -> str:
    """pod_name is pod j's name (a Deployment's pod: app name, then a suffix)."""
    return f"app-{j // 4:05d}-{objects.uid('pod', j)[:5]}"


def service_kind(i: int) -> str:
    """service_kind is how service i is shaped: single, dual (a quarter), headless (2%) or external (1%)."""
    if i == 0:
        return "single"
    if i == 1:
        return "dual"
    if i % 4 == 1 and i < 4 * DUAL_STACK_MAX:
        return "dual"
    if i % 50 == 2:
        return "headless"
    if i % 100 == 4:
        return "external"
    return "single"


def service_ips(services: int) -> tuple[list[str | None], list[str | None]]:
    """service_ips are the IPv4 and IPv6 cluster IPs of services 0..services-1 (None where a service has none)."""
    net, net6 = ipaddress.ip_network(SERVICE_CIDR), ipaddress.ip_network(SERVICE_CIDR6)
    rng = random.Random(SEED)
    offsets = iter([0, 9] + rng.sample(range(16, net.num_addresses - 2), services - 2))
    offsets6 = iter([9] + rng.sample(range(16, bitmap.IPV6_BITMAP_LIMIT - 2), min(services // 4, DUAL_STACK_MAX) + 1))
    v4: list[str | None] = []
    v6: list[str | None] = []
    for i in range(services):
        kind = service_kind(i)
        off = next(offsets)
        v4.append(str(net.network_address + 1 + off) if kind in ("single", "dual") else None)
        v6.append(str(net6.network_address + 1 + next(offsets6)) if kind == "dual" else None)
    return v4, v6


def service_name(i: int) -> tuple[str, str]:
    """service_name is (namespace, name) of service i."""
    if i == 0:
        return "default", "kubernetes"
    if i == 1:
        return "kube-system", "kube-dns"
    return app_ns(i), f"svc-{i:05d}"


def service_value(i: int, ips: tuple[list, list], rev: int) -> bytes:
    """service_value is service i as stored at its rev-th write (a rollout label changes between writes)."""
    ns, name = service_name(i)
    kind = service_kind(i)
    labels = {"app": name, "team": f"team-{i % 40}", "rollout": f"r{rev}"}
    ports = [("http", "TCP", 80, 8080), ("metrics", "TCP", 9090, "metrics")]
    if kind == "external":
        return kubeobjects.service(ns, name, type="ExternalName", external_name=f"{name}.example.com",
                                   ports=ports, labels=labels)
    if kind == "headless":
        return kubeobjects.service(ns, name, headless=True, ports=ports, selector={"app": name}, labels=labels)
    if kind == "dual":
        return kubeobjects.service(ns, name, cluster_ips=[ips[0][i], ips[1][i]], ports=ports,
                                   selector={"app": name}, labels=labels,
                                   ip_family_policy="PreferDualStack" if i % 8 == 1 else "RequireDualStack")
    return kubeobjects.service(ns, name, ips[0][i], ports=ports, selector={"app": name}, labels=labels)


# -- jobs: (kind, start, stop) ranges, run in worker processes -------------------------------------------

def _items(kind: str, start: int, stop: int, shape: dict, ips):
    """_items yields the (key, value) writes of one job."""
    nodes, pods = shape["nodes"], shape["pods"]
    base, _, arg = kind.partition(":")
    for i in range(start, stop):
        if base == "namespace":
            yield objects.namespace(("default", "kube-system", "kube-node-lease")[i] if i < 3 else app_ns(i - 3), i)
        elif base == "service":
            ns, name = service_name(i)
            yield f"/registry/services/specs/{ns}/{name}", service_value(i, ips, int(arg or 0))
        elif base == "ipaddress":
            ns, name = service_name(i)
            for ip in (ips[0][i], ips[1][i]):
                if ip is not None:
                    yield f"/registry/ipaddresses/{ip}", kubeobjects.ip_address(ip, ns, name)
        elif base in ("endpoints", "endpointslice"):
            if service_kind(i) == "external":
                continue
            ns, name = service_name(i)
            js = [(3 * i + k) % pods for k in range(3)]
            if base == "endpoints":
                yield objects.endpoints(ns, name, [(pod_ip(j, nodes), f"node-{j % nodes:05d}") for j in js], i)
                continue
            suffix = objects.uid("slice", i)[:5]
            ports = [("http", 8080, "TCP")]
            yield (f"/registry/endpointslices/{ns}/{name}-{suffix}",
                   kubeobjects.endpoint_slice(ns, f"{name}-{suffix}", name, [pod_ip(j, nodes) for j in js], ports))
            if service_kind(i) == "dual":
                suffix6 = objects.uid("slice6", i)[:5]
                if suffix6 == suffix:  # 5 hex digits collide once in ~1M: service 57849 of the 8g shape
                    suffix6 = objects.uid("slice6", i)[5:10]
                yield (f"/registry/endpointslices/{ns}/{name}-{suffix6}",
                       kubeobjects.endpoint_slice(ns, f"{name}-{suffix6}", name,
                                                  [pod_ip6(j, nodes) for j in js], ports, address_type="IPv6"))
        elif base in ("node", "heartbeat"):
            yield objects.node(i, node_cidr(i), int(arg or 0), node_cidr6(i))
        elif base in ("lease", "renew"):
            yield objects.node_lease(i, int(arg or 0))
        elif base in ("pod", "pod-running"):
            phase = "Pending" if base == "pod" else "Running"
            yield objects.pod(app_ns(i), pod_name(i), f"node-{i % nodes:05d}", node_ip(i % nodes),
                              pod_ip(i, nodes), i, phase)
        elif base == "configmap":
            yield objects.configmap(app_ns(i), f"config-{i:05d}", i)
        elif base == "event":
            yield objects.event(app_ns(i), i, pod_name(i % pods))
        else:
            raise ValueError(f"unknown job kind {kind}")


BATCHED = {"endpoints": 100, "endpointslice": 100, "ipaddress": 100, "node": 20, "lease": 100,
           "event": EVENT_BATCH, "namespace": 0}
_ips_cache: dict = {}


def run_job(job: tuple) -> tuple[str, int, int]:
    """run_job writes one job through this worker's client; returns (kind, entries written, single puts)."""
    global _client
    port, kind, start, stop, lease, shape = job
    if _client is None or _client.port != port:
        _client = EtcdClient(port, timeout=300)
    base = kind.split(":")[0]
    ips = None
    if base in ("service", "ipaddress"):
        if shape["services"] not in _ips_cache:
            _ips_cache[shape["services"]] = service_ips(shape["services"])
        ips = _ips_cache[shape["services"]]
    batch = BATCHED.get(base, 0)
    items = _items(kind, start, stop, shape, ips)
    written = 0
    if not batch:
        for key, value in items:
            _client.put(key, value)
            written += 1
        return kind, written, written
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == batch:
            _client.txn_put_many(chunk, lease=lease if base == "event" else 0)
            written += len(chunk)
            chunk = []
    if chunk:
        _client.txn_put_many(chunk, lease=lease if base == "event" else 0)
        written += len(chunk)
    return kind, written, 0


def _jobs(port: int, kind: str, total: int, size: int, shape: dict, lease: int = 0, offset: int = 0) -> list:
    return [(port, kind, offset + s, offset + min(s + size, total), lease, shape) for s in range(0, total, size)]


def _run_phase(pool: Pool, jobs: list[tuple], counts: dict, label: str) -> None:
    """_run_phase runs jobs on the pool and adds what they wrote to counts."""
    t0 = time.monotonic()
    for done, (kind, n, single) in enumerate(pool.imap_unordered(run_job, jobs), 1):
        base = kind.split(":")[0]
        counts[base] = counts.get(base, 0) + n
        counts["single_put_revisions"] = counts.get("single_put_revisions", 0) + single
        counts["entries"] = counts.get("entries", 0) + n
        if done % 20 == 0 or done == len(jobs):
            print(f"  {label}: {done}/{len(jobs)} jobs, {counts['entries']} entries, "
                  f"{time.monotonic() - t0:.0f}s", flush=True)


def _in_use(status: dict) -> int:
    """_in_use reads the backend's in-use size from a gateway status answer (either JSON field spelling)."""
    return int(status.get("dbSizeInUse", status.get("db_size_in_use", 0)))


def _db_size(status: dict) -> int:
    return int(status.get("dbSize", status.get("db_size", 0)))


def paths(cache: Path, size: str) -> tuple[Path, Path]:
    """paths are the cached snapshot and its metadata file for one size."""
    return cache / f"bench-{size}.db", cache / f"bench-{size}.json"


def build(cache: Path, size: str) -> tuple[Path, dict]:
    """build writes a fresh benchmark snapshot of the given size into cache and returns its path and metadata."""
    cache.mkdir(parents=True, exist_ok=True)
    shape = Shape(size)
    sh = shape.args()
    tools = find_etcd("3.5")
    t0 = time.monotonic()
    counts: dict = {}
    v4, v6 = service_ips(shape.services)
    log_path = cache / f"etcd-build-{size}.log"
    log_path.unlink(missing_ok=True)
    quota = max(8 << 30, shape.target_bytes * 2)
    # The pool forks before etcd starts, so no worker inherits the server object.
    with Pool(WORKERS) as pool, \
            EtcdServer(tools, quota_backend_bytes=quota, max_txn_ops=10000, start_timeout=120,
                       log_path=log_path) as server, \
            server.client(timeout=600) as client:
        port = server.client_port
        leases = [client.lease_grant(7 * 86400, 0x6500 + k) for k in range(10)]
        print(f"etcd {tools.version_str} on port {port}; {shape.services} services, {shape.nodes} nodes; "
              "creating objects", flush=True)
        S = shape.services
        create = (_jobs(port, "namespace", NAMESPACES + 3, NAMESPACES + 3, sh)
                  + _jobs(port, "service:0", S, 1000, sh) + _jobs(port, "ipaddress", S, 1000, sh)
                  + _jobs(port, "endpoints", S, 2000, sh) + _jobs(port, "endpointslice", S, 2000, sh)
                  + _jobs(port, "node", shape.nodes, 200, sh) + _jobs(port, "lease", shape.nodes, 1000, sh)
                  + _jobs(port, "pod", shape.pods, 1000, sh) + _jobs(port, "configmap", shape.configmaps, 1000, sh))
        _run_phase(pool, create, counts, "create")
        singles = [
            objects.range_allocation("/registry/ranges/serviceips", bitmap.range_spec(SERVICE_CIDR),
                                     bitmap.encode(SERVICE_CIDR, [ip for ip in v4 if ip])),
            objects.range_allocation("/registry/ranges/secondaryserviceips", bitmap.range_spec(SERVICE_CIDR6),
                                     bitmap.encode(SERVICE_CIDR6, [ip for ip in v6 if ip])),
            ("/registry/servicecidrs/kubernetes", kubeobjects.service_cidr("kubernetes", [SERVICE_CIDR, SERVICE_CIDR6])),
        ]
        for key, value in singles:
            client.put(key, value)
        counts["rangeallocation"], counts["servicecidr"] = 2, 1
        counts["single_put_revisions"] += 3
        counts["entries"] += 3

        events = 0
        per_round = min(EVENT_ROUND, max(1000, int(EVENT_ROUND * shape.target_bytes / BASE_BYTES)))

        def event_jobs(n: int) -> list:
            nonlocal events
            jobs = []
            for _ in range(n):
                jobs += _jobs(port, "event", per_round, 5000, sh, leases[events // per_round % len(leases)],
                              offset=events)
                events += per_round
            return jobs

        rounds = max(1, round(2 * shape.target_bytes / BASE_BYTES))
        print("updating before the compaction (heartbeats, renewals, services, pods, events)", flush=True)
        update = [j for b in range(1, HEARTBEATS_BEFORE + 1) for j in _jobs(port, f"heartbeat:{b}", shape.nodes, 500, sh)]
        update += [j for b in range(1, RENEWALS_BEFORE + 1) for j in _jobs(port, f"renew:{b}", shape.nodes, 1000, sh)]
        update += [j for r in range(1, SERVICE_UPDATES_BEFORE + 1) for j in _jobs(port, f"service:{r}", S, 1000, sh)]
        update += _jobs(port, "pod-running", shape.pods, 1000, sh)
        update += event_jobs(rounds)
        random.Random(SEED).shuffle(update)
        _run_phase(pool, update, counts, "update")
        # Every key written more than once so far loses all but its latest revision to the compaction.
        removed = (counts.get("service", 0) - S) + counts.get("heartbeat", 0) + counts.get("renew", 0) \
            + counts.get("pod-running", 0)
        compact_rev = client.revision()
        print(f"compacting at revision {compact_rev} ({removed} revisions go)", flush=True)
        client.compact(compact_rev, physical=True)

        print("updating after the compaction", flush=True)
        update = [j for b in range(HEARTBEATS_BEFORE + 1, HEARTBEATS + 1)
                  for j in _jobs(port, f"heartbeat:{b}", shape.nodes, 500, sh)]
        update += [j for b in range(RENEWALS_BEFORE + 1, LEASE_RENEWALS + 1)
                   for j in _jobs(port, f"renew:{b}", shape.nodes, 1000, sh)]
        update += [j for r in range(SERVICE_UPDATES_BEFORE + 1, SERVICE_UPDATES + 1)
                   for j in _jobs(port, f"service:{r}", S, 1000, sh)]
        update += event_jobs(rounds)
        random.Random(SEED + 1).shuffle(update)
        _run_phase(pool, update, counts, "update")

        while True:
            st = client.status()
            records = counts["entries"] - removed
            print(f"backend: {_db_size(st) / 1e9:.2f} GB, {_in_use(st) / 1e9:.2f} GB in use, "
                  f"{records} records in bucket key", flush=True)
            if _db_size(st) >= shape.target_bytes and records >= shape.min_records:
                break
            _run_phase(pool, event_jobs(1), counts, "more events")

        final = client.status()
        tmp = cache / (paths(cache, size)[0].name + ".tmp")
        print("saving snapshot", flush=True)
        for attempt in (1, 2, 3):
            try:
                snapshot_save(server, tmp)
                break
            except EtcdServerError as e:
                print(f"snapshot save attempt {attempt} failed: {e}; etcd log: {server.log_tail(5)}", flush=True)
                if attempt == 3:
                    raise
    st = snapshot_status(tools, tmp)
    seconds = time.monotonic() - t0
    meta = {
        "format": FORMAT,
        "size": size,
        "etcd": tools.version_str,
        "build_seconds": round(seconds, 1),
        "bytes": tmp.stat().st_size,
        "db_size_in_use": _in_use(final),
        "revision": st.get("revision"),
        "compact_revision": compact_rev,
        "total_key": st.get("totalKey"),
        "hash": st.get("hash"),
        "revisions_written": counts["entries"],
        "records": counts["entries"] - removed,
        "single_put_revisions": counts["single_put_revisions"],
        "services": S,
        "dual_stack_services": sum(1 for ip in v6 if ip),
        "headless_services": sum(1 for i in range(S) if service_kind(i) == "headless"),
        "externalname_services": sum(1 for i in range(S) if service_kind(i) == "external"),
        "service_writes": counts.get("service", 0),
        "ipaddresses": counts.get("ipaddress", 0),
        "endpoints": counts.get("endpoints", 0),
        "endpointslices": counts.get("endpointslice", 0),
        "nodes": shape.nodes,
        "node_heartbeats": counts.get("heartbeat", 0),
        "node_lease_renewals": counts.get("renew", 0),
        "pods": counts.get("pod", 0),
        "configmaps": counts.get("configmap", 0),
        "events": counts.get("event", 0),
        "service_cidrs": [f"{SERVICE_CIDR}={SERVICE_TARGET}", f"{SERVICE_CIDR6}={SERVICE_TARGET6}"],
        "pod_cidrs": [f"{POD_CIDR}={POD_TARGET}", f"{POD_CIDR6}={POD_TARGET6}"],
        "node_masks": [24, 64],
        "kubernetes_service_ip": v4[0],
        "kube_dns_service_ips": [v4[1], v6[1]],
    }
    snap, meta_path = paths(cache, size)
    tmp.replace(snap)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"built {snap}: {meta['bytes'] / 1e9:.2f} GB, {meta['records']} records in bucket key "
          f"({meta['revisions_written']} written) in {seconds / 60:.1f} min", flush=True)
    return snap, meta


def ensure(cache: Path, size: str = "1.3g", rebuild: bool = False) -> tuple[Path, dict]:
    """ensure returns the cached snapshot of a size and its metadata, building them first if missing or stale."""
    snap, meta_path = paths(cache, size)
    if not rebuild and snap.exists() and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            meta = {}
        if meta.get("format") == FORMAT and meta.get("bytes") == snap.stat().st_size:
            return snap, meta
        print(f"cached snapshot {snap} is stale or incomplete: rebuilding", flush=True)
    else:
        print(f"building the {size} benchmark snapshot in {cache} (one time, a while)", flush=True)
    return build(cache, size)


def main(argv: list[str] | None = None) -> int:
    """main builds the snapshot (again with --force)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "snaprewrite-bench")
    ap.add_argument("--size", default="1.3g", help="snapshot size: 1.3g (default), 8g, 100m, ...")
    ap.add_argument("--force", action="store_true", help="rebuild even if a snapshot is cached")
    args = ap.parse_args(argv)
    _, meta = ensure(args.cache, args.size, rebuild=args.force)
    print(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
