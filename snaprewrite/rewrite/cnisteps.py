"""The host-side steps a pod CIDR move leaves for the CNI that was found (the runbook calls ``cni_steps``).

The CNI rules move what the CNI keeps in etcd; what its agents keep on the hosts (flannel's
``/run/flannel/subnet.env``, Calico's tunnel interfaces, the bridges' gateway addresses) and in memory
must be refreshed by restarting the agents before the pods are recreated, so new pods get addresses
from the moved pools.
"""

AGENTS = {  # CNI -> the workloads to restart, in order
    "calico": "kubectl -n kube-system rollout restart daemonset calico-node (calico-system with the operator)",
    "cilium": "kubectl -n kube-system rollout restart deployment cilium-operator, then daemonset cilium",
    "flannel": "kubectl -n kube-flannel rollout restart daemonset kube-flannel-ds (kube-system in older manifests)",
    "kube-router": "kubectl -n kube-system rollout restart daemonset kube-router",
}
HOST = {
    "calico": "Calico's tunnel interfaces keep their old addresses until calico-node sets the moved one from the "
              "Node annotation: after the restart check tunl0 (IPIP), vxlan.calico (VXLAN) or wireguard.cali on every "
              "node (ip -br addr), delete a stale one (ip link delete tunl0) and restart calico-node there; then run "
              "`calicoctl ipam check` once the pods are recreated.",
    "cilium": "On every node, cilium_host takes the moved router address from its CiliumNode when the agent restarts "
              "(check ip -br addr show cilium_host); CiliumEndpoints are recreated with the pods.",
    "flannel": "On every node, before restarting flannel: delete /run/flannel/subnet.env (flanneld rewrites it with "
               "the node's moved subnet) and the cni0 bridge (ip link delete cni0; it is recreated with the new "
               "gateway address by the next pod).",
    "kube-router": "On every node, delete the kube-bridge interface (ip link delete kube-bridge) so kube-router "
                   "recreates it with the moved gateway address, and check the routes it advertises (ip route).",
}


def cni_steps(found: dict[str, list[str]]) -> list[str]:
    """cni_steps returns the host steps (unnumbered) for the CNIs found, with their pools; empty when none."""
    out = []
    for cni in sorted(found):
        if cni not in AGENTS:
            continue
        pools = ", ".join(found[cni]) or "its pools"
        out.append(f"{cni} ({pools}): {HOST[cni]}")
        out.append(f"Restart the {cni} agents before the pods are recreated, so new pods get addresses from the "
                   f"moved pools: {AGENTS[cni]}.")
    return out
