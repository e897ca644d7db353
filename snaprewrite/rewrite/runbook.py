"""The host-side steps that remain after a rewrite, in order, with this snapshot's values filled in.

snaprewrite changes what etcd holds; the API server's flags and certificate, kubelet's config file,
kube-proxy's rules and the pods' own addresses live on the hosts. The runbook names each step and the
concrete value it needs (new first service IP for the certificate, kube-dns's new address, ...).
"""

import ipaddress

from .cnisteps import cni_steps
from .plan import Options, Plan

KUBERNETES_SVC = "/registry/services/specs/default/kubernetes"
KUBE_DNS_SVC = "/registry/services/specs/kube-system/kube-dns"


def _moved(plan: Plan, key: str, field_prefix: str) -> str | None:
    for c in plan.changes:
        if c.key == key and c.field.startswith(field_prefix):
            return c.new
    return None


def steps(plan: Plan, options: Options, output: str | None, bumped: bool) -> list[str]:
    """steps returns the ordered host-side steps for this plan (empty when nothing moved)."""
    if not plan.edits:
        return []
    smap, pmap = options.service_map, options.pod_map
    out = output or "<the rewritten snapshot>"
    api_ip = _moved(plan, KUBERNETES_SVC, "spec.clusterIP")
    if api_ip is None and smap.mappings:
        api_ip = str(ipaddress.ip_network(smap.mappings[0].new)[1])
    dns_ip = _moved(plan, KUBE_DNS_SVC, "spec.clusterIP") or next(
        (c.new for c in plan.changes if c.field.startswith("data.kubelet:clusterDNS")), None)
    flags = " ".join(f"--service-cidr {m.old}={m.new}" for m in smap) + \
        (" " if smap.mappings and pmap.mappings else "") + " ".join(f"--pod-cidr {m.old}={m.new}" for m in pmap)
    s = [
        f"Rehearse the restore first: snaprewrite rehearse {out}",
        "Stop the control plane on every control-plane node: move kube-apiserver.yaml, kube-controller-manager.yaml "
        "and etcd.yaml out of /etc/kubernetes/manifests (kubelet stops the pods).",
        f"Restore {out} on every etcd member (etcdutl snapshot restore {out} --data-dir <new dir> with the member's "
        "--name, --initial-cluster and --initial-advertise-peer-urls), point etcd.yaml at the new data dir.",
        f"Rewrite the static pod manifests on every control-plane node: snaprewrite manifests "
        f"<moved-out manifests dir> {flags}",
    ]
    if api_ip and smap.mappings:
        s.append(f"Reissue the API server certificate with the new first service IP {api_ip} in its SANs: move "
                 "apiserver.crt/.key out of /etc/kubernetes/pki, then `kubeadm init phase certs apiserver --config "
                 "<ClusterConfiguration with the new serviceSubnet>`.")
    s.append("Start etcd, then kube-apiserver, then kube-controller-manager and kube-scheduler (put the manifests "
             "back in that order, waiting for each to be healthy).")
    if dns_ip:
        s.append(f"On every node set clusterDNS to {dns_ip} in /var/lib/kubelet/config.yaml (or `kubeadm upgrade node "
                 "phase kubelet-config`) and restart kubelet.")
    if smap.mappings:
        s.append("Restart kube-proxy (kubectl -n kube-system rollout restart daemonset kube-proxy) so it programs "
                 "the new service IPs and drops the old rules.")
    if pmap.mappings:
        s.extend(cni_steps(plan.cni))
        s.append(f"Recreate the pods so they get addresses in {', '.join(str(m.new) for m in pmap)} and the new "
                 "DNS server: drain and uncordon node by node, or delete the pods of each namespace.")
    if any("CNI" in w.message for w in plan.warnings):
        s.append("Update your CNI's own address pools (see the warnings: e.g. Calico IPPools, flannel net-conf.json).")
    if not bumped:
        s.append("Controllers and informers may hold caches from before the restore: restart them, or rewrite with "
                 "--bump-revision 1000000 --mark-compacted so every watcher relists.")
    return [f"{i}. {text}" for i, text in enumerate(s, 1)]
