"""Stored values for the benchmark cluster: Kubernetes objects as kube-apiserver writes them, sized like production.

Every builder returns ``(etcd key, stored value)``; values are protobuf in the ``k8s\\0`` envelope through
``snaprewrite.k8s.encode.encode_object`` (gogo field presence). Content is a pure function of the
arguments (no clock, no randomness), so two builds hold the same objects. Nodes carry a realistic image
list (75 images, ~15 KB per value); Events, Pods and ConfigMaps are the few-KB filler of a busy cluster.
"""

import hashlib
import ipaddress

from snaprewrite.k8s.encode import encode_object
from snaprewrite.k8s.proto import coordination_v1_pb2, core_pb2

EPOCH = 1_700_000_000  # creation times count from here (2023-11-14), one second per index


def uid(*parts) -> str:
    """uid is a deterministic UUID-shaped string derived from the parts."""
    h = hashlib.md5("/".join(map(str, parts)).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _meta(m, name: str, namespace: str, created: int, labels: dict | None = None) -> None:
    m.name, m.namespace, m.uid = name, namespace, uid(namespace, name)
    m.creationTimestamp.seconds = EPOCH + created
    for k, v in (labels or {}).items():
        m.labels[k] = v


def namespace(name: str, i: int) -> tuple[str, bytes]:
    """namespace is a Namespace object."""
    ns = core_pb2.Namespace()
    _meta(ns.metadata, name, "", i, {"kubernetes.io/metadata.name": name})
    ns.spec.finalizers.append("kubernetes")
    ns.status.phase = "Active"
    return f"/registry/namespaces/{name}", encode_object(ns, "v1", "Namespace")


def service(ns: str, name: str, cluster_ip: str, i: int, ports: int = 2) -> tuple[str, bytes]:
    """service is a ClusterIP Service with one address (clusterIP and clusterIPs)."""
    svc = core_pb2.Service()
    _meta(svc.metadata, name, ns, i, {"app": name, "team": f"team-{i % 40}"})
    svc.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"] = (
        f'{{"apiVersion":"v1","kind":"Service","metadata":{{"name":"{name}","namespace":"{ns}"}},'
        f'"spec":{{"ports":[{{"port":80,"targetPort":8080}}],"selector":{{"app":"{name}"}}}}}}')
    for p in range(ports):
        port = svc.spec.ports.add()
        port.name, port.protocol, port.port = f"port-{p}", "TCP", 80 + p * 363
        port.targetPort.type, port.targetPort.intVal = 0, 8080 + p
    svc.spec.selector["app"] = name
    svc.spec.clusterIP = cluster_ip
    svc.spec.clusterIPs.append(cluster_ip)
    svc.spec.type, svc.spec.sessionAffinity = "ClusterIP", "None"
    svc.spec.ipFamilies.append("IPv4")
    svc.spec.ipFamilyPolicy, svc.spec.internalTrafficPolicy = "SingleStack", "Cluster"
    svc.status.loadBalancer.SetInParent()
    return f"/registry/services/specs/{ns}/{name}", encode_object(svc, "v1", "Service")


def endpoints(ns: str, name: str, pod_ips: list[tuple[str, str]], i: int) -> tuple[str, bytes]:
    """endpoints is the Endpoints of a Service: (pod IP, node name) pairs on port 8080."""
    ep = core_pb2.Endpoints()
    _meta(ep.metadata, name, ns, i, {"app": name})
    sub = ep.subsets.add()
    for k, (ip, node) in enumerate(pod_ips):
        addr = sub.addresses.add()
        addr.ip, addr.nodeName = ip, node
        addr.targetRef.kind, addr.targetRef.namespace = "Pod", ns
        addr.targetRef.name, addr.targetRef.uid = f"{name}-{k}", uid(ns, name, k)
    port = sub.ports.add()
    port.name, port.port, port.protocol = "port-0", 8080, "TCP"
    return f"/registry/services/endpoints/{ns}/{name}", encode_object(ep, "v1", "Endpoints")


def node(i: int, pod_cidr: str, beat: int, pod_cidr6: str = "") -> tuple[str, bytes]:
    """node is a worker Node with podCIDR/podCIDRs and a full status (~15 KB); beat moves its heartbeat times.

    With pod_cidr6 the Node is dual-stack: podCIDRs lists both ranges (IPv4 first) and it has an IPv6 InternalIP.
    """
    name = f"node-{i:05d}"
    n = core_pb2.Node()
    _meta(n.metadata, name, "", i, {
        "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": "m5.2xlarge", "topology.kubernetes.io/zone": f"zone-{i % 3}"})
    n.metadata.annotations["node.alpha.kubernetes.io/ttl"] = "0"
    n.metadata.annotations["volumes.kubernetes.io/controller-managed-attach-detach"] = "true"
    n.spec.podCIDR = pod_cidr
    n.spec.podCIDRs.append(pod_cidr)
    if pod_cidr6:
        n.spec.podCIDRs.append(pod_cidr6)
    n.spec.providerID = f"aws:///zone-{i % 3}/i-{hashlib.md5(name.encode()).hexdigest()[:17]}"
    st = n.status
    for k, v in (("cpu", "8"), ("memory", "32386520Ki"), ("pods", "110"), ("ephemeral-storage", "101445540Ki")):
        st.capacity[k].string = v
        st.allocatable[k].string = v
    beat_time = EPOCH + 86400 + beat * 40
    for ctype, status, reason in (("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                                  ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                                  ("PIDPressure", "False", "KubeletHasSufficientPID"),
                                  ("Ready", "True", "KubeletReady")):
        c = st.conditions.add()
        c.type, c.status, c.reason = ctype, status, reason
        c.message = f"kubelet is posting ready status ({reason})"
        c.lastHeartbeatTime.seconds = beat_time
        c.lastTransitionTime.seconds = EPOCH + i
    host = ipaddress.IPv4Address("192.168.0.0") + 10 + i
    host6 = [("InternalIP", f"fd00:192:168::{10 + i:x}")] if pod_cidr6 else []
    for atype, addr in (("InternalIP", str(host)), *host6, ("Hostname", name),
                        ("InternalDNS", f"ip-{str(host).replace('.', '-')}.ec2.internal")):
        a = st.addresses.add()
        a.type, a.address = atype, addr
    st.daemonEndpoints.kubeletEndpoint.Port = 10250
    info = st.nodeInfo
    info.machineID = info.systemUUID = hashlib.md5(name.encode()).hexdigest()
    info.bootID = uid(name, "boot", beat // 100)
    info.kernelVersion, info.osImage = "5.10.199-190.747.amzn2.x86_64", "Amazon Linux 2"
    info.containerRuntimeVersion, info.kubeletVersion = "containerd://1.7.11", "v1.29.0"
    info.kubeProxyVersion, info.operatingSystem, info.architecture = "v1.29.0", "linux", "amd64"
    for k in range(75):
        img = st.images.add()
        repo = f"registry.example.com/team-{(i + k) % 40}/service-{k:03d}"
        digest = hashlib.sha256(f"{repo}:{beat // 50}".encode()).hexdigest()
        img.names.append(f"{repo}@sha256:{digest}")
        img.names.append(f"{repo}:v{k}.{beat // 50}.0")
        img.sizeBytes = 10_000_000 + k * 1_234_567
    for k in range(8):
        st.volumesInUse.append(f"kubernetes.io/csi/ebs.csi.aws.com^vol-{uid(name, k)[:17]}")
    return f"/registry/minions/{name}", encode_object(n, "v1", "Node")


def node_lease(i: int, beat: int) -> tuple[str, bytes]:
    """node_lease is the kube-node-lease Lease a kubelet renews every 10 seconds."""
    name = f"node-{i:05d}"
    lease = coordination_v1_pb2.Lease()
    _meta(lease.metadata, name, "kube-node-lease", i)
    ref = lease.metadata.ownerReferences.add()
    ref.apiVersion, ref.kind, ref.name, ref.uid = "v1", "Node", name, uid("", name)
    lease.spec.holderIdentity, lease.spec.leaseDurationSeconds = name, 40
    lease.spec.renewTime.seconds = EPOCH + 86400 + beat * 10
    return f"/registry/leases/kube-node-lease/{name}", encode_object(lease, "coordination.k8s.io/v1", "Lease")


def pod(ns: str, name: str, node_name: str, host_ip: str, pod_ip: str, i: int, phase: str) -> tuple[str, bytes]:
    """pod is a running Pod of a Deployment with two containers and env (~3 KB)."""
    p = core_pb2.Pod()
    _meta(p.metadata, name, ns, i, {"app": name.rsplit("-", 1)[0], "pod-template-hash": "5d8f7c9b4"})
    ref = p.metadata.ownerReferences.add()
    ref.apiVersion, ref.kind, ref.name = "apps/v1", "ReplicaSet", name.rsplit("-", 1)[0] + "-5d8f7c9b4"
    ref.uid, ref.controller, ref.blockOwnerDeletion = uid(ns, ref.name), True, True
    for c in range(2):
        ctr = p.spec.containers.add()
        ctr.name, ctr.image = f"c{c}", f"registry.example.com/app/{name}:v{c}"
        ctr.command.extend(["/bin/app", "--config=/etc/app/config.yaml", f"--shard={i % 16}"])
        for e in range(12):
            env = ctr.env.add()
            env.name, env.value = f"APP_SETTING_{e}", f"value-{e}-" + "x" * 40
        port = ctr.ports.add()
        port.containerPort, port.protocol = 8080 + c, "TCP"
    p.spec.nodeName, p.spec.restartPolicy = node_name, "Always"
    p.spec.serviceAccountName, p.spec.dnsPolicy = "default", "ClusterFirst"
    p.status.phase, p.status.hostIP, p.status.podIP = phase, host_ip, pod_ip
    p.status.podIPs.add().ip = pod_ip
    p.status.hostIPs.add().ip = host_ip
    p.status.startTime.seconds = EPOCH + i
    return f"/registry/pods/{ns}/{name}", encode_object(p, "v1", "Pod")


def event(ns: str, i: int, involved: str, message_pad: int = 600) -> tuple[str, bytes]:
    """event is a Warning/Normal Event about a Pod (~1 KB); events carry a lease in real clusters."""
    name = f"{involved}.{i:016x}"
    ev = core_pb2.Event()
    _meta(ev.metadata, name, ns, i)
    ev.involvedObject.kind, ev.involvedObject.namespace, ev.involvedObject.name = "Pod", ns, involved
    ev.involvedObject.uid, ev.involvedObject.apiVersion = uid(ns, involved), "v1"
    ev.reason = ("Pulled", "Started", "BackOff", "Unhealthy")[i % 4]
    ev.message = "Readiness probe failed: Get \"http://pod:8080/healthz\": context deadline exceeded " + \
        "detail " * (message_pad // 7)
    ev.source.component, ev.source.host = "kubelet", f"node-{i % 2000:05d}"
    ev.firstTimestamp.seconds = ev.lastTimestamp.seconds = EPOCH + i
    ev.count, ev.type = 1 + i % 7, "Warning" if i % 4 >= 2 else "Normal"
    ev.reportingComponent, ev.reportingInstance = "kubelet", ev.source.host
    return f"/registry/events/{ns}/{name}", encode_object(ev, "v1", "Event")


def configmap(ns: str, name: str, i: int, size: int = 4000) -> tuple[str, bytes]:
    """configmap is an application ConfigMap holding a YAML file of about size bytes."""
    cm = core_pb2.ConfigMap()
    _meta(cm.metadata, name, ns, i, {"app": name})
    lines = [f"setting_{k}: value-{k}-{i}" for k in range(size // 24)]
    cm.data["config.yaml"] = "\n".join(lines) + "\n"
    return f"/registry/configmaps/{ns}/{name}", encode_object(cm, "v1", "ConfigMap")


def range_allocation(key: str, range_cidr: str, data: bytes) -> tuple[str, bytes]:
    """range_allocation is the serviceips allocation bitmap object."""
    ra = core_pb2.RangeAllocation()
    ra.metadata.creationTimestamp.seconds = EPOCH
    ra.range, ra.data = range_cidr, data
    return key, encode_object(ra, "v1", "RangeAllocation")
