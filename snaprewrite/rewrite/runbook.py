"""The migration runbook: every step left after a rewrite, in an order that loses no data, with this plan's values.

snaprewrite changes what etcd holds; the API server's flags and certificate, kubelet's config file,
kube-proxy's rules, the CNI's pools and the pods' own addresses live on the hosts. This module is the
one source of the runbook: ``rewrite`` prints it and puts it in the report, and the step lists in
``docs/runbook.md`` are generated from it (``make runbook-docs``; a test checks they agree).

The order is what keeps data safe:
  rehearse on a copy -> stop the writers (API servers) -> take the *final* snapshot -> rewrite it
  (same flags) -> verify -> restore on every member -> host files -> CNI before any pod is recreated
  -> start exactly the components that were stopped -> restart kube-proxy -> recreate pods -> relist.
Anything written to etcd after the final snapshot would be lost, so the snapshot is taken only once no
API server runs. Steps appear only when they apply: a pod-only move has no certificate or DNS step; a
pod move restarts kube-proxy because its ``clusterCIDR`` changed.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from .cnisteps import cni_steps
from .plan import Options, Plan

KUBERNETES_SVC = b"services/specs/default/kubernetes"  # relative to the layout root
KUBE_DNS_SVC = b"services/specs/kube-system/kube-dns"
KUBE_DNS = "kube-system/kube-dns"

# kubeadm's layout, the names every command below uses
MANIFESTS = "/etc/kubernetes/manifests"
STOPPED_DIR = "/etc/kubernetes/manifests-stopped"
PKI = "/etc/kubernetes/pki"
KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
WRITERS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")  # stopped before the final snapshot
ETCD_TLS = ("--endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt "
            "--cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key")
FINAL = "final.db"
FINAL_OUT = "final-migrated.db"
FINAL_REPORT = "final-plan.json"


@dataclass(frozen=True)
class Step:
    """One runbook step: a stable ``key`` (for tests and tools), a title, and its lines ("$ " marks a command)."""

    key: str
    title: str
    lines: tuple[str, ...]

    def render(self, number: int) -> str:
        """render is the step as printed: "N. title", then its lines indented by three spaces."""
        return "\n".join([f"{number}. {self.title}"] + [f"   {line}" for line in self.lines])


@dataclass(frozen=True)
class Facts:
    """What the runbook needs from a plan: which ranges move, and the addresses that follow."""

    input: str
    service: tuple[tuple[str, str], ...]  # (OLD, NEW) service CIDRs
    pod: tuple[tuple[str, str], ...]  # (OLD, NEW) pod CIDRs
    flags: tuple[str, ...]  # the mapping options (--service-cidr, --pod-cidr, --exclude, ...), as rehearse takes them
    api: tuple[str, str] | None  # the kubernetes Service's (old, new) first IP, when it moves
    dns: tuple[tuple[str, str], ...]  # kubelet clusterDNS / kube-dns (old, new) pairs, when they move
    kept_dns: tuple[tuple[str, str], ...]  # reduced downtime: kube-dns left in place, (its IP, where it goes later)
    cni_keys: tuple[str, ...]  # warning keys that name a CNI's own resources
    bumped: bool
    mode: tuple[str, ...] = ()  # revision-mode options of rewrite only (--as-new-revision, --bump-revision, ...)
    cni_found: tuple[tuple[str, tuple[str, ...]], ...] = ()  # CNI -> its pools, as the CNI rules found them

    @property
    def cert_mapping(self) -> tuple[str, str] | None:
        """cert_mapping is the service OLD=NEW whose OLD holds the kubernetes Service's IP (the certificate's SAN)."""
        if self.api is None:
            return None
        import ipaddress

        ip = ipaddress.ip_address(self.api[0])
        return next(((o, n) for o, n in self.service if ip in ipaddress.ip_network(o)), None)


def _primary_ip_change(plan: Plan, rel: bytes):
    """_primary_ip_change is the change of a Service's primary cluster IP (the one kubeadm's certificate names)."""
    enc = plan.layout.key(rel)
    key = enc.decode("utf-8", "backslashreplace")
    return next((c for e in plan.edits if e.key == enc for c in e.changes
                 if c.key == key and c.field in ("spec.clusterIP", "spec.clusterIPs[0]")), None)


def mode_flags(as_new_revision: bool = False, bump_revision: int = 0, mark_compacted: bool = False) -> tuple[str, ...]:
    """mode_flags are the rewrite's revision-mode options as typed, to repeat them on the final snapshot."""
    out: list[str] = []
    if as_new_revision:
        out.append("--as-new-revision")
    if bump_revision:
        out.append(f"--bump-revision {bump_revision}")
    if mark_compacted:
        out.append("--mark-compacted")
    return tuple(out)


def facts(plan: Plan, options: Options, bumped: bool, flags: Sequence[str] = ()) -> Facts:
    """facts extracts from a plan and its options what the runbook's steps depend on."""
    service = tuple((str(m.old), str(m.new)) for m in options.service_map if not m.is_noop)
    pod = tuple((str(m.old), str(m.new)) for m in options.pod_map if not m.is_noop)
    typed = [f"--service-cidr {o}={n}" for o, n in service] + [f"--pod-cidr {o}={n}" for o, n in pod]
    typed += [f"--exclude {x}" for x in sorted(options.excludes)]
    if options.reallocate:
        typed.append("--reallocate")
    if options.only is not None:
        typed.append(f"--only {','.join(sorted(options.only))}")
    if plan.layout.source == "--prefix":
        typed.append(f"--prefix {plan.layout.prefix}")
    api = _primary_ip_change(plan, KUBERNETES_SVC)
    dns = [(c.old, c.new) for e in plan.edits if e.kind == "ConfigMap"  # (kubelet's ConfigMap: not every change read)
           for c in e.changes if c.field.startswith("data.kubelet:clusterDNS")]
    svc_dns = _primary_ip_change(plan, KUBE_DNS_SVC)
    if svc_dns is not None and (svc_dns.old, svc_dns.new) not in dns:
        dns.insert(0, (svc_dns.old, svc_dns.new))
    kept = []
    for ip in plan.kept_ips.get(KUBE_DNS, ()):
        new = options.service_map.rewrite_ip(ip)
        if new != ip:
            kept.append((ip, new))
    cni = tuple(w.key for w in plan.warnings if "CNI" in w.message)
    return Facts(plan.input, service, pod, tuple(typed), (api.old, api.new) if api else None,
                 tuple(dict.fromkeys(dns)), tuple(kept), cni, bumped, tuple(flags),
                 cni_found=tuple((name, tuple(pools)) for name, pools in sorted(plan.cni.items())))


def _sed(pairs: Sequence[tuple[str, str]], path: str) -> str:
    exprs = " ".join(f"-e 's/\\b{o.replace('.', '[.]')}\\b/{n}/'" for o, n in pairs)
    return f"sed -i {exprs} {path}"


def _cidr_flags(f: Facts) -> str:
    return " ".join([f"--service-cidr {o}={n}" for o, n in f.service] + [f"--pod-cidr {o}={n}" for o, n in f.pod])


def build(f: Facts) -> list[Step]:
    """build returns the runbook's steps for these facts, in the order an operator must follow them."""
    if not f.service and not f.pod:
        return []
    reduced = bool(f.kept_dns)
    flags = " ".join(f.flags)
    writers = " ".join(f"{MANIFESTS}/{c}.yaml" for c in WRITERS)
    s: list[Step] = []
    s.append(Step("rehearse", "Rehearse on a copy while the cluster still runs", (
        f"Keep {f.input} untouched: it is your rollback. Restore a rewrite of it with real etcd and read it back:",
        f"$ snaprewrite rehearse {f.input} {flags} --full",
        "Get the etcd tools of your etcd version (etcdctl; etcdutl from 3.5 on) from etcd's release:",
        f"$ ETCD_VER=$(sed -n 's/.*image: .*etcd:\\([0-9.]*\\).*/\\1/p' {MANIFESTS}/etcd.yaml)",
        "$ curl -fsSL https://github.com/etcd-io/etcd/releases/download/v$ETCD_VER/etcd-v$ETCD_VER-linux-amd64.tar.gz"
        " | tar xz -C /usr/local/lib && ETCD=/usr/local/lib/etcd-v$ETCD_VER-linux-amd64",
        "Save what the restore and a rollback need while the API server answers:",
        f"$ $ETCD/etcdctl {ETCD_TLS} member list -w table > etcd-members.txt",
        "$ kubectl -n kube-system get cm kubeadm-config -o jsonpath='{.data.ClusterConfiguration}' "
        "> cluster-config.pre-migration.yaml",
    )))
    s.append(Step("stop-writers", "Stop the writers: every API server, controller-manager and scheduler", (
        "On every control-plane node (etcd keeps running; kubelet stops the static pods):",
        f"$ mkdir -p {STOPPED_DIR} && mv {writers} {STOPPED_DIR}/",
        "$ crictl ps --name 'kube-apiserver|kube-controller-manager|kube-scheduler'   # wait until empty",
        f"From now on nothing writes to etcd: the snapshot of the next step is the final state. Keep {STOPPED_DIR} "
        f"outside {MANIFESTS} (kubelet runs every non-hidden file there).",
    )))
    s.append(Step("final-snapshot", "Take the final snapshot (after every API server stopped)", (
        "On one etcd member:",
        f"$ $ETCD/etcdctl {ETCD_TLS} snapshot save {FINAL}",
        f"$ chmod 600 {FINAL}   # it holds every Secret of the cluster; keep it as the rollback point",
    )))
    rewrite_flags = " ".join(f.flags + f.mode)
    bump_hint = () if f.bumped or "--bump-revision" in rewrite_flags else (
        "Add --bump-revision 1000000 --mark-compacted to make every watcher relist after the restore (last step).",)
    s.append(Step("rewrite-final", "Rewrite the final snapshot with the same options", (
        f"$ snaprewrite rewrite {FINAL} --out {FINAL_OUT} {rewrite_flags} --report {FINAL_REPORT}",
    ) + bump_hint))
    s.append(Step("verify", "Verify the rewritten snapshot before it replaces anything", (
        f"$ snaprewrite verify {FINAL} {FINAL_OUT} --report {FINAL_REPORT}   # every difference is in the report",
        f"$ snaprewrite rehearse {FINAL_OUT} --full   # real etcd restores it and serves it back",
        f"Compare \"summary\" in {FINAL_REPORT} with the practice run's: same counts, give or take new objects.",
    )))
    bump_restore = ("The snapshot already carries the revision bump: do not pass --bump-revision to the restore.",) \
        if f.bumped else ()
    s.append(Step("restore", "Stop etcd and restore the same file on every member", (
        f"Copy {FINAL_OUT} to every etcd member, then on each:",
        f"$ mv {MANIFESTS}/etcd.yaml {STOPPED_DIR}/ && crictl ps --name '^etcd$'   # wait until empty",
        f"$ grep -E -- '--(name|initial-advertise-peer-urls)=' {STOPPED_DIR}/etcd.yaml",
        f"$ $ETCD/etcdutl snapshot restore {FINAL_OUT} --name NAME --initial-advertise-peer-urls https://IP:2380 "
        "--initial-cluster NAME1=https://IP1:2380,NAME2=https://IP2:2380,NAME3=https://IP3:2380 "
        "--data-dir /var/lib/etcd.migrated",
        "$ mv /var/lib/etcd /var/lib/etcd.pre-migration && mv /var/lib/etcd.migrated /var/lib/etcd",
        "NAME and IP are this member's; --initial-cluster lists every member (etcd-members.txt from step 1). "
        "etcd 3.4 has no etcdutl: use $ETCD/etcdctl snapshot restore with the same flags.",
    ) + bump_restore))
    s.append(Step("manifests", "Rewrite the static pod manifests", (
        "On every control-plane node (a hidden backup stays beside each file):",
        f"$ snaprewrite manifests {STOPPED_DIR} {_cidr_flags(f)}",
    )))
    cert = f.cert_mapping
    if f.api is not None and cert is not None:
        s.append(Step("certificate", "Reissue the API server certificate", (
            f"The kubernetes Service moves from {f.api[0]} to {f.api[1]}; pods reach the API there, so the serving "
            "certificate must name it. On every control-plane node:",
            f"$ snaprewrite certs {PKI} --service-cidr {cert[0]}={cert[1]}",
            f"$ openssl x509 -in {PKI}/apiserver.crt -noout -ext subjectAltName   # {f.api[1]}, and no {f.api[0]}",
            "Without ca.key (an external CA), snaprewrite certs prints how to get it signed from a CSR instead.",
        )))
    if f.dns and not reduced:
        news = ", ".join(dict.fromkeys(n for _, n in f.dns))
        s.append(Step("kubelet-dns", "Point kubelet at the new DNS address", (
            f"kube-dns moves to {news}; kubelet gives it to every new pod. On every node:",
            f"$ {_sed(f.dns, KUBELET_CONFIG)}",
            f"$ grep -A1 clusterDNS {KUBELET_CONFIG} && systemctl restart kubelet",
        )))
    if f.pod:
        olds = ", ".join(o for o, _ in f.pod)
        news = ", ".join(n for _, n in f.pod)
        s.append(Step("kube-proxy-config", "kube-proxy's clusterCIDR", (
            f"ConfigMap kube-system/kube-proxy already says clusterCIDR {news} in the rewritten snapshot. A kube-proxy "
            f"run from a host file instead (--cluster-cidr, /var/lib/kube-proxy/config.conf) gets {news} now. It "
            "restarts after the control plane is up.",
        )))
        cni_warned = (f"The dry run warned about: {', '.join(f.cni_keys)}.",) if f.cni_keys else ()
        if f.cni_found:  # the CNI rules moved its pools in the snapshot: only the hosts are left
            s.append(Step("cni", "CNI agents and host state, before any pod is recreated", (
                f"The rewritten snapshot already holds the CNI's pools in {news} (see the report's changes). "
                "On the hosts:", *(f"- {line}" for line in cni_steps(dict(f.cni_found)))) + cni_warned))
        else:
            s.append(Step("cni", "CNI configuration, before any pod is recreated", (
                f"Node podCIDRs move to {news}. A CNI that follows them (kube-router, flannel with --kube-subnet-mgr, "
                "Calico with host-local usePodCidr) only needs the restart below. A CNI with its own pool gets "
                f"{news} now, or new pods get addresses in {olds}:",
                "- flannel: \"Network\" in ConfigMap kube-flannel-cfg (net-conf.json); on every node "
                "`ip link delete cni0` so the bridge is rebuilt;",
                f"- Calico: a new IPPool {news}, the old one disabled (calicoctl patch ippool default-ipv4-ippool "
                "-p '{\"spec\":{\"disabled\":true}}');",
                f"- Cilium cluster-pool: clusterPoolIPv4PodCIDRList {news} in its config.",
                "Host files change now; pools stored in the cluster change in the next step, after the API server "
                "is up and before the scheduler places any pod.",
            ) + cni_warned))
    apiserver_checks = [
        f"$ mv {STOPPED_DIR}/kube-apiserver.yaml {MANIFESTS}/   # every control-plane node",
        "$ kubectl get --raw /readyz",
    ]
    if f.api is not None:
        apiserver_checks.append(f"$ kubectl get svc kubernetes   # CLUSTER-IP {f.api[1]}")
    if f.pod and not f.cni_found:
        apiserver_checks.append("Apply the CNI pools of the previous step now (the scheduler is still stopped).")
    rest = [c for c in WRITERS if c != "kube-apiserver"]
    start_tail = [
        f"$ mv {' '.join(f'{STOPPED_DIR}/{c}.yaml' for c in rest)} {MANIFESTS}/   # every control-plane node",
        f"$ ls {STOPPED_DIR}   # empty: everything stopped is running again (backups are hidden)",
    ]
    if f.pod:
        start_tail.append("$ kubectl get nodes -o custom-columns=NAME:.metadata.name,PODCIDRS:.spec.podCIDRs")
    s.append(Step("start-control-plane", "Start the control plane: exactly what was stopped, in order", tuple([
        f"$ mv {STOPPED_DIR}/etcd.yaml {MANIFESTS}/   # every etcd member",
        f"$ $ETCD/etcdctl {ETCD_TLS} endpoint status --cluster -w table   # one revision, one leader",
    ] + apiserver_checks + start_tail)))
    why = []
    if f.service:
        why.append("program the new service IPs and drop the old rules")
    if f.pod:
        why.append(f"read its new clusterCIDR {', '.join(n for _, n in f.pod)}")
    old_rule = f"-d {f.api[0]}/32" if f.api is not None else (f.pod[0][0] if f.pod else f.service[0][0])
    s.append(Step("kube-proxy-restart", "Restart kube-proxy", (
        f"It must {' and '.join(why)}:",
        "$ kubectl -n kube-system rollout restart daemonset kube-proxy",
        "$ kubectl -n kube-system rollout status daemonset kube-proxy",
        f"$ iptables-save | grep -c -- '{old_rule}'   # on a node: 0 (IPVS: ipvsadm -Ln)",
        "A CNI that also proxies Services (kube-router --run-service-proxy, Cilium without kube-proxy) "
        "restarts too.",
    )))
    reasons = []
    if f.pod:
        reasons.append(f"addresses in {', '.join(n for _, n in f.pod)}")
    if f.service:
        reasons.append(f"KUBERNETES_SERVICE_HOST={f.api[1]}" if f.api else "the new *_SERVICE_HOST variables")
    if f.dns and not reduced:
        reasons.append(f"nameserver {f.dns[0][1]}")
    s.append(Step("recreate-pods", "Recreate the pods", (
        f"Running pods keep their old values until recreated; new ones get {', '.join(reasons)}. CoreDNS first, "
        "then node by node:",
        "$ kubectl -n kube-system rollout restart deployment coredns",
        "$ kubectl drain NODE --ignore-daemonsets --delete-emptydir-data && kubectl uncordon NODE   "
        "# 1.18/1.19: --delete-local-data",
        "$ kubectl get ds -A --no-headers | while read ns name _; do kubectl -n $ns rollout restart ds $name; done",
    )))
    if f.bumped:
        relist = ("The rewrite bumped the revision and marked it compacted: every watch resumed at an old "
                  "revision is refused as compacted, so every informer relists. Nothing to restart.",)
    else:
        relist = ("The final snapshot kept every revision number (no --bump-revision --mark-compacted), so "
                  "watchers that resume see no change and keep stale caches: restart everything that watches "
                  "(kubelet on every node, CNI agents, CoreDNS, ingress controllers, operators).",
                  "$ systemctl restart kubelet   # every node",
                  "$ kubectl -n NAMESPACE rollout restart deployment NAME   # every controller and operator")
    s.append(Step("relist", "Make every watcher relist", relist))
    if reduced:
        old, new = f.kept_dns[0]
        jq_ip = (f".spec.clusterIP=\"{new}\" | if .spec.clusterIPs then .spec.clusterIPs=[\"{new}\"] else . end")
        s.append(Step("move-kube-dns", "Move kube-dns later, without a DNS outage (reduced-downtime variant)", (
            f"kube-dns kept {old} and kubelets still point at it, so DNS never stopped. The API server reports it "
            "as ClusterIPOutOfRange and leaves it. When convenient:",
            f"$ kubectl -n kube-system get svc kube-dns -o json | jq '.metadata={{name:\"kube-dns-migration\","
            f"namespace:\"kube-system\"}} | {jq_ip} | del(.status)' | kubectl create -f -",
            "$ for cm in $(kubectl -n kube-system get cm -o name | grep kubelet-config); do kubectl -n kube-system "
            f"get $cm -o yaml | sed 's/\\b{old.replace('.', '[.]')}\\b/{new}/' | kubectl replace -f -; done",
            f"$ {_sed([(old, new)], KUBELET_CONFIG)} && systemctl restart kubelet   # every node",
            f"Recreate the pods as above; when none older than the kubelet change is left (none uses {old}):",
            "$ kubectl -n kube-system delete svc kube-dns-migration",
            f"$ kubectl -n kube-system get svc kube-dns -o json | jq '{jq_ip} | "
            "del(.metadata.resourceVersion, .metadata.uid, .status)' | kubectl replace --force -f -",
        )))
    return s


def steps(plan: Plan, options: Options, output: str | None, bumped: bool, *, flags: Sequence[str] = ()) -> list[str]:
    """steps returns the printed runbook for this plan (empty when nothing moves).

    ``output`` is the rewrite's own ``--out`` (the runbook rewrites the final snapshot to its own name);
    ``flags`` are further rewrite options to repeat on the final snapshot (``mode_flags``).
    """
    del output  # the final rewrite has its own names: FINAL, FINAL_OUT, FINAL_REPORT
    if not plan.edits:
        return []
    return [step.render(i) for i, step in enumerate(build(facts(plan, options, bumped, flags)), 1)]
