"""Build the benchmark snapshot once with real etcd 3.5: a >= 1 GiB Kubernetes cluster with 500k+ revisions.

    python bench/build_snapshot.py --cache ~/.cache/snaprewrite-bench [--force]

What it holds (objects from bench/objects.py, protobuf as kube-apiserver stores them):
- 50,000 Services in 50 namespaces, cluster IPs spread over the service CIDR 10.96.0.0/12 (``kubernetes``
  at 10.96.0.1, ``kube-dns`` at 10.96.0.10), their Endpoints (3 pod IPs each), and the ``serviceips``
  RangeAllocation bitmap;
- 2,000 Nodes (~15 KB: 75 images, conditions, addresses) with podCIDR/podCIDRs = the i-th /24 of the pod
  CIDR 10.128.0.0/12, each updated HEARTBEATS times (single puts), and their kube-node-lease Leases
  renewed LEASE_RENEWALS times (single puts);
- 20,000 Pods (IPs inside their node's /24) created Pending then updated Running, 5,000 ConfigMaps of 4 KB,
  and Events (~1 KB, with a lease) written 100 per transaction until the backend holds >= 1 GiB in use.
Writes go through the v3 JSON gateway from WORKERS processes; update jobs are shuffled (seeded) so the
history interleaves kinds like a live cluster's. No compaction: every revision stays in bucket ``key``.
The result is ``<cache>/bench.db`` plus ``<cache>/bench.json`` (counts, CIDRs, sizes, build time);
both are written only when complete, so an interrupted build leaves no half snapshot behind.
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
POD_CIDR, POD_TARGET = "10.128.0.0/12", "10.32.0.0/12"
SNAP_NAME, META_NAME = "bench.db", "bench.json"
FORMAT = 2  # bump when the content changes, so cached snapshots of an older layout get rebuilt

SERVICES, NODES, PODS, CONFIGMAPS, NAMESPACES = 50_000, 2_000, 20_000, 5_000, 50
HEARTBEATS, LEASE_RENEWALS = 15, 40
EVENT_BATCH, EVENT_ROUND = 100, 50_000
TARGET_IN_USE = 1 << 30
MIN_REVISIONS = 500_000
WORKERS = 3
SEED = 20240601

_client: EtcdClient | None = None


def app_ns(i: int) -> str:
    """app_ns is the namespace of the i-th application object."""
    return f"app-{i % NAMESPACES:02d}"


def node_cidr(i: int) -> str:
    """node_cidr is node i's pod range: the i-th /24 of the pod CIDR."""
    return str(ipaddress.ip_network(POD_CIDR).network_address + (i << 8)) + "/24"


def node_ip(i: int) -> str:
    """node_ip is node i's InternalIP, as objects.node writes it."""
    return str(ipaddress.IPv4Address("192.168.0.0") + 10 + i)


def pod_ip(j: int) -> str:
    """pod_ip is pod j's IP: on node j mod NODES, inside that node's /24."""
    return str(ipaddress.ip_network(POD_CIDR).network_address + ((j % NODES) << 8) + 2 + j // NODES)


def pod_name(j: int) -> str:
    """pod_name is pod j's name (a Deployment's pod: app name, then a suffix)."""
    return f"app-{j // 4:05d}-{objects.uid('pod', j)[:5]}"


def service_ips() -> list[str]:
    """service_ips are the cluster IPs of services 0..SERVICES-1: kubernetes, kube-dns, then seeded random ones."""
    net = ipaddress.ip_network(SERVICE_CIDR)
    first = int(net.network_address) + 1
    rng = random.Random(SEED)
    offsets = rng.sample(range(16, net.num_addresses - 2), SERVICES - 2)
    return [str(ipaddress.IPv4Address(first + off)) for off in [0, 9] + offsets]


def service_name(i: int) -> tuple[str, str]:
    """service_name is (namespace, name) of service i."""
    if i == 0:
        return "default", "kubernetes"
    if i == 1:
        return "kube-system", "kube-dns"
    return app_ns(i), f"svc-{i:05d}"


# -- jobs: (kind, start, stop) ranges, run in worker processes -------------------------------------------

def _items(kind: str, start: int, stop: int, ips: list[str]):
    """_items yields the (key, value) writes of one job."""
    for i in range(start, stop):
        if kind == "namespace":
            yield objects.namespace(("default", "kube-system", "kube-node-lease")[i] if i < 3 else app_ns(i - 3), i)
        elif kind == "service":
            ns, name = service_name(i)
            yield f"/registry/services/specs/{ns}/{name}", kubeobjects.service(
                ns, name, ips[i], ports=[("http", "TCP", 80, 8080), ("metrics", "TCP", 9090, "metrics")],
                selector={"app": name}, labels={"app": name, "team": f"team-{i % 40}"})
        elif kind == "endpoints":
            ns, name = service_name(i)
            addrs = [(pod_ip(j), f"node-{j % NODES:05d}") for j in ((3 * i + k) % PODS for k in range(3))]
            yield objects.endpoints(ns, name, addrs, i)
        elif kind == "node":
            yield objects.node(i, node_cidr(i), 0)
        elif kind == "lease":
            yield objects.node_lease(i, 0)
        elif kind.startswith("heartbeat"):
            yield objects.node(i, node_cidr(i), int(kind.split(":")[1]))
        elif kind.startswith("renew"):
            yield objects.node_lease(i, int(kind.split(":")[1]))
        elif kind in ("pod", "pod-running"):
            phase = "Pending" if kind == "pod" else "Running"
            yield objects.pod(app_ns(i), pod_name(i), f"node-{i % NODES:05d}", node_ip(i % NODES), pod_ip(i), i, phase)
        elif kind == "configmap":
            yield objects.configmap(app_ns(i), f"config-{i:05d}", i)
        elif kind == "event":
            yield objects.event(app_ns(i), i, pod_name(i % PODS))
        else:
            raise ValueError(f"unknown job kind {kind}")


BATCHED = {"endpoints": 100, "node": 20, "lease": 100, "event": EVENT_BATCH, "namespace": 0}


def run_job(job: tuple) -> tuple[str, int, int]:
    """run_job writes one job through this worker's client; returns (kind, entries written, single puts)."""
    global _client
    port, kind, start, stop, lease = job
    if _client is None or _client.port != port:
        _client = EtcdClient(port, timeout=300)
    ips = service_ips() if kind == "service" else []
    batch = BATCHED.get(kind.split(":")[0], 0)
    items = _items(kind, start, stop, ips)
    if not batch:
        for key, value in items:
            _client.put(key, value)
        return kind, stop - start, stop - start
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == batch:
            _client.txn_put_many(chunk, lease=lease if kind == "event" else 0)
            chunk = []
    if chunk:
        _client.txn_put_many(chunk, lease=lease if kind == "event" else 0)
    return kind, stop - start, 0


def _jobs(port: int, kind: str, total: int, size: int, lease: int = 0, offset: int = 0) -> list[tuple]:
    return [(port, kind, offset + s, offset + min(s + size, total), lease) for s in range(0, total, size)]


def _run_phase(pool: Pool, jobs: list[tuple], counts: dict, label: str) -> None:
    """_run_phase runs jobs on the pool and adds what they wrote to counts."""
    t0 = time.monotonic()
    for done, (kind, n, single) in enumerate(pool.imap_unordered(run_job, jobs), 1):
        base = kind.split(":")[0]
        counts.setdefault(base, 0)
        counts[base] += n
        counts["single_put_revisions"] = counts.get("single_put_revisions", 0) + single
        counts["entries"] = counts.get("entries", 0) + n
        if done % 20 == 0 or done == len(jobs):
            print(f"  {label}: {done}/{len(jobs)} jobs, {counts['entries']} entries, "
                  f"{time.monotonic() - t0:.0f}s", flush=True)


def _in_use(status: dict) -> int:
    """_in_use reads the backend's in-use size from a gateway status answer (either JSON field spelling)."""
    return int(status.get("dbSizeInUse", status.get("db_size_in_use", 0)))


def build(cache: Path) -> tuple[Path, dict]:
    """build writes a fresh benchmark snapshot into cache and returns its path and metadata."""
    cache.mkdir(parents=True, exist_ok=True)
    tools = find_etcd("3.5")
    t0 = time.monotonic()
    counts: dict = {}
    ips = service_ips()
    log_path = cache / "etcd-build.log"
    log_path.unlink(missing_ok=True)
    # The pool forks before etcd starts, so no worker inherits the server object.
    with Pool(WORKERS) as pool, \
            EtcdServer(tools, quota_backend_bytes=8 << 30, max_txn_ops=10000, start_timeout=120,
                       log_path=log_path) as server, \
            server.client(timeout=300) as client:
        port = server.client_port
        leases = [client.lease_grant(7 * 86400, 0x6500 + k) for k in range(10)]
        print(f"etcd {tools.version_str} on port {port}; creating objects", flush=True)
        create = (_jobs(port, "namespace", NAMESPACES + 3, NAMESPACES + 3)
                  + _jobs(port, "service", SERVICES, 1000) + _jobs(port, "endpoints", SERVICES, 2000)
                  + _jobs(port, "node", NODES, 200) + _jobs(port, "lease", NODES, 1000)
                  + _jobs(port, "pod", PODS, 1000) + _jobs(port, "configmap", CONFIGMAPS, 1000))
        _run_phase(pool, create, counts, "create")
        key, value = objects.range_allocation("/registry/ranges/serviceips", bitmap.range_spec(SERVICE_CIDR),
                                              bitmap.encode(SERVICE_CIDR, ips))
        client.put(key, value)
        counts["rangeallocation"] = 1
        counts["single_put_revisions"] += 1
        counts["entries"] += 1

        print("updating (heartbeats, lease renewals, pods, events)", flush=True)
        update = [j for b in range(1, HEARTBEATS + 1) for j in _jobs(port, f"heartbeat:{b}", NODES, 500)]
        update += [j for b in range(1, LEASE_RENEWALS + 1) for j in _jobs(port, f"renew:{b}", NODES, 1000)]
        update += _jobs(port, "pod-running", PODS, 1000)
        events = 0
        for r in range(4):
            update += _jobs(port, "event", EVENT_ROUND, 5000, leases[r % len(leases)], offset=events)
            events += EVENT_ROUND
        random.Random(SEED).shuffle(update)
        _run_phase(pool, update, counts, "update")

        while True:
            st = client.status()
            in_use = _in_use(st)
            print(f"backend: {int(st.get('dbSize', st.get('db_size', 0))) / 2**30:.2f} GiB, {in_use / 2**30:.2f} GiB in use, "
                  f"{counts['entries']} entries", flush=True)
            if in_use >= TARGET_IN_USE and counts["entries"] >= MIN_REVISIONS:
                break
            more = _jobs(port, "event", EVENT_ROUND, 5000, leases[events // EVENT_ROUND % len(leases)], offset=events)
            events += EVENT_ROUND
            _run_phase(pool, more, counts, "more events")

        final = client.status()
        tmp = cache / (SNAP_NAME + ".tmp")
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
        "etcd": tools.version_str,
        "build_seconds": round(seconds, 1),
        "bytes": tmp.stat().st_size,
        "db_size_in_use": _in_use(final),
        "revision": st.get("revision"),
        "total_key": st.get("totalKey"),
        "hash": st.get("hash"),
        "revisions": counts["entries"],
        "single_put_revisions": counts["single_put_revisions"],
        "services": counts.get("service", 0),
        "endpoints": counts.get("endpoints", 0),
        "nodes": counts.get("node", 0),
        "node_heartbeats": counts.get("heartbeat", 0),
        "node_lease_renewals": counts.get("renew", 0),
        "pods": counts.get("pod", 0),
        "configmaps": counts.get("configmap", 0),
        "events": counts.get("event", 0),
        "service_cidr": SERVICE_CIDR,
        "service_target": SERVICE_TARGET,
        "pod_cidr": POD_CIDR,
        "pod_target": POD_TARGET,
        "node_mask": 24,
        "kubernetes_service_ip": ips[0],
        "kube_dns_service_ip": ips[1],
    }
    snap = cache / SNAP_NAME
    tmp.replace(snap)
    (cache / META_NAME).write_text(json.dumps(meta, indent=2) + "\n")
    print(f"built {snap}: {meta['bytes'] / 2**30:.2f} GiB, {meta['revisions']} revisions "
          f"({meta['single_put_revisions']} single puts) in {seconds / 60:.1f} min", flush=True)
    return snap, meta


def ensure(cache: Path, rebuild: bool = False) -> tuple[Path, dict]:
    """ensure returns the cached snapshot and its metadata, building them first if missing, stale or asked to."""
    snap, meta_path = cache / SNAP_NAME, cache / META_NAME
    if not rebuild and snap.exists() and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            meta = {}
        if meta.get("format") == FORMAT and meta.get("bytes") == snap.stat().st_size:
            return snap, meta
        print(f"cached snapshot in {cache} is stale or incomplete: rebuilding", flush=True)
    else:
        print(f"building the benchmark snapshot in {cache} (one time, several minutes)", flush=True)
    return build(cache)


def main(argv: list[str] | None = None) -> int:
    """main builds the snapshot (again with --force)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "snaprewrite-bench")
    ap.add_argument("--force", action="store_true", help="rebuild even if a snapshot is cached")
    args = ap.parse_args(argv)
    _, meta = ensure(args.cache, rebuild=args.force)
    print(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
