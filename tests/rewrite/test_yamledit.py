"""Tests of in-place YAML scalar edits on kubeadm, kubelet and kube-proxy configuration texts."""

import os
import pathlib

import pytest
import yaml

from snaprewrite.errors import DecodeError, PlanError
from snaprewrite.rewrite.cidr import CidrMap, each_csv_item
from snaprewrite.rewrite.yamledit import EACH, Change, Match, find_scalars, replace_scalar, replace_scalars

SVC = CidrMap.parse("10.96.0.0/12=172.24.0.0/16,fd00:10:96::/108=fd00:20::/108")
POD = CidrMap.parse("10.244.0.0/16=10.55.0.0/16,fd00:10:244::/56=fd00:55::/56")
svc = each_csv_item(SVC.rewrite_value)
pod = each_csv_item(POD.rewrite_value)


def only_changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(a) == len(b)
    return [(x, y) for x, y in zip(a, b) if x != y]


V1BETA3 = """\
apiServer:
  certSANs:
  - 10.96.0.1   # the first service IP, kept in the cert
  extraArgs:
    authorization-mode: Node,RBAC
    service-cluster-ip-range: "10.96.0.0/12,fd00:10:96::/108"
  timeoutForControlPlane: 4m0s
apiVersion: kubeadm.k8s.io/v1beta3
controllerManager:
  extraArgs:
    cluster-cidr: '10.244.0.0/16,fd00:10:244::/56'
    node-cidr-mask-size-ipv4: "24"
kind: ClusterConfiguration
kubernetesVersion: v1.27.3
networking:
  dnsDomain: cluster.local
  # dual-stack
  podSubnet: 10.244.0.0/16,fd00:10:244::/56
  serviceSubnet: 10.96.0.0/12,fd00:10:96::/108   # trailing comment
scheduler: {}
"""


def test_kubeadm_v1beta3_dual_stack_keeps_every_other_byte():
    new, changes = replace_scalars(V1BETA3, [
        (("networking", "serviceSubnet"), svc),
        (("networking", "podSubnet"), pod),
        (("apiServer", "extraArgs", "service-cluster-ip-range"), svc),
        (("controllerManager", "extraArgs", "cluster-cidr"), pod),
        (("apiServer", "certSANs", EACH), svc),
    ])
    assert only_changed_lines(V1BETA3, new) == [
        ("  - 10.96.0.1   # the first service IP, kept in the cert\n",
         "  - 172.24.0.1   # the first service IP, kept in the cert\n"),
        ('    service-cluster-ip-range: "10.96.0.0/12,fd00:10:96::/108"\n',
         '    service-cluster-ip-range: "172.24.0.0/16,fd00:20::/108"\n'),
        ("    cluster-cidr: '10.244.0.0/16,fd00:10:244::/56'\n",
         "    cluster-cidr: '10.55.0.0/16,fd00:55::/56'\n"),
        ("  podSubnet: 10.244.0.0/16,fd00:10:244::/56\n",
         "  podSubnet: 10.55.0.0/16,fd00:55::/56\n"),
        ("  serviceSubnet: 10.96.0.0/12,fd00:10:96::/108   # trailing comment\n",
         "  serviceSubnet: 172.24.0.0/16,fd00:20::/108   # trailing comment\n"),
    ]
    assert changes[0] == Change(("apiServer", "certSANs", 0), "10.96.0.1", "172.24.0.1")
    assert [c.path for c in changes] == [
        ("apiServer", "certSANs", 0), ("apiServer", "extraArgs", "service-cluster-ip-range"),
        ("controllerManager", "extraArgs", "cluster-cidr"), ("networking", "podSubnet"),
        ("networking", "serviceSubnet")]
    assert yaml.safe_load(new)["networking"]["serviceSubnet"] == "172.24.0.0/16,fd00:20::/108"


V1BETA4 = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
apiServer:
  extraArgs:
  - name: authorization-mode
    value: Node,RBAC
  - name: service-cluster-ip-range
    value: 10.96.0.0/12
controllerManager:
  extraArgs:
  - {name: cluster-cidr, value: 10.244.0.0/16}
  - name: node-cidr-mask-size
    value: "24"
networking:
  serviceSubnet: 10.96.0.0/12
  podSubnet: 10.244.0.0/16
"""


def test_kubeadm_v1beta4_extra_args_list_by_name():
    new, changes = replace_scalars(V1BETA4, [
        (("apiServer", "extraArgs", Match("name", "service-cluster-ip-range"), "value"), svc),
        (("controllerManager", "extraArgs", Match("name", "cluster-cidr"), "value"), pod),
        (("networking", "serviceSubnet"), svc),
        (("networking", "podSubnet"), pod),
    ])
    assert [(c.path, c.new) for c in changes] == [
        (("apiServer", "extraArgs", 1, "value"), "172.24.0.0/16"),
        (("controllerManager", "extraArgs", 0, "value"), "10.55.0.0/16"),
        (("networking", "serviceSubnet"), "172.24.0.0/16"),
        (("networking", "podSubnet"), "10.55.0.0/16"),
    ]
    assert "  - {name: cluster-cidr, value: 10.55.0.0/16}\n" in new
    assert len(only_changed_lines(V1BETA4, new)) == 4


KUBELET = """\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
clusterDNS:
- 10.96.0.10
- "fd00:10:96::a"
clusterDomain: cluster.local
podCIDR: 10.244.0.0/24
"""


def test_kubelet_cluster_dns_each_item():
    new, changes = replace_scalar(KUBELET, ("clusterDNS", EACH), SVC.rewrite_ip)
    assert changes == [Change(("clusterDNS", 0), "10.96.0.10", "172.24.0.10"),
                       Change(("clusterDNS", 1), "fd00:10:96::a", "fd00:20::a")]
    assert new == KUBELET.replace("- 10.96.0.10", "- 172.24.0.10").replace('"fd00:10:96::a"', '"fd00:20::a"')
    same, none = replace_scalar(KUBELET, ("clusterDNS", 5), SVC.rewrite_ip)
    assert (same, none) == (KUBELET, [])


def test_flow_sequence_and_unmapped_values_stay():
    text = "clusterDNS: [10.96.0.10, 8.8.8.8]  # dns\nclusterCIDR: 192.168.0.0/16\n"
    new, changes = replace_scalars(text, [(("clusterDNS", EACH), SVC.rewrite_ip),
                                          (("clusterCIDR",), pod)])
    assert new == "clusterDNS: [172.24.0.10, 8.8.8.8]  # dns\nclusterCIDR: 192.168.0.0/16\n"
    assert len(changes) == 1


def test_misfit_propagates_as_plan_error():
    shrink = CidrMap.parse("10.96.0.0/12=172.24.0.0/24")
    with pytest.raises(PlanError, match="does not fit"):
        replace_scalar("clusterDNS:\n- 10.96.1.10\n", ("clusterDNS", 0), shrink.rewrite_ip)


def test_tags_anchors_and_quotes():
    text = "a: !!str 10.96.0.1\nb: &x '10.96.0.2'\nc: *x\nd: \"10.96.0.3\"\n"
    new, changes = replace_scalars(text, [((k,), SVC.rewrite_ip) for k in "abcd"])
    assert new == "a: !!str 172.24.0.1\nb: &x '172.24.0.2'\nc: *x\nd: \"172.24.0.3\"\n"
    assert len(changes) == 3  # the alias is the anchored node, edited once


def test_plain_value_that_would_change_type_gets_quoted():
    new, _ = replace_scalar("v: abc  # c\n", ("v",), lambda s: "123")
    assert new == 'v: "123"  # c\n'
    assert yaml.safe_load(new) == {"v": "123"}


def test_block_and_multiline_scalars_are_refused():
    with pytest.raises(PlanError, match="block scalar"):
        replace_scalar("v: |\n  10.96.0.1\n", ("v",), lambda s: "x")
    with pytest.raises(PlanError, match="spans lines"):
        replace_scalar("v: 10.96.0.1\n  more\n", ("v",), lambda s: "x")


def test_multi_document_text():
    text = "kind: InitConfiguration\n---\nkind: ClusterConfiguration\nnetworking:\n  serviceSubnet: 10.96.0.0/12\n"
    new, changes = replace_scalar(text, ("networking", "serviceSubnet"), svc)
    assert new == text.replace("10.96.0.0/12", "172.24.0.0/16")
    assert len(changes) == 1


def test_find_scalars_spans_and_invalid_yaml():
    refs = find_scalars(V1BETA3, ("networking", "serviceSubnet"))
    assert len(refs) == 1
    assert V1BETA3[refs[0].start : refs[0].end] == "10.96.0.0/12,fd00:10:96::/108"
    with pytest.raises(DecodeError):
        find_scalars("a: [1, 2\n", ("a",))


# -- the real kubeadm 1.18 ConfigMaps ------------------------------------------------------------

REAL = pathlib.Path(os.environ.get("SNAPREWRITE_REAL_SNAPSHOT") or pathlib.Path(__file__).resolve().parents[2].parent
                    / "shared" / "real" / "kubeadm-1.18-kube-router.snapshot.db")  # ../shared/real beside the repo


def _fields(b: bytes) -> list[tuple[int, bytes | int]]:
    """_fields is a minimal protobuf reader (varint and length-delimited fields only)."""
    def varint(i):
        r = s = 0
        while True:
            r |= (b[i] & 0x7F) << s
            s += 7
            i += 1
            if b[i - 1] < 0x80:
                return r, i
    i, out = 0, []
    while i < len(b):
        tag, i = varint(i)
        if tag & 7 == 0:
            v, i = varint(i)
        else:
            n, i = varint(i)
            v, i = b[i : i + n], i + n
        out.append((tag >> 3, v))
    return out


def _configmap_data(name: bytes) -> dict[str, str]:
    from snaprewrite.etcd import mvcc
    from snaprewrite.etcd.snapshot import Snapshot

    with Snapshot(REAL) as snap:
        value = bytes(mvcc.get(snap, b"/registry/configmaps/kube-system/" + name).kv.value)
    assert value[:4] == b"k8s\0"
    raw = dict(_fields(value[4:]))[2]  # runtime.Unknown.raw
    out = {}
    for f, entry in _fields(raw):
        if f == 2:  # ConfigMap.data: map<string, string>
            e = dict(_fields(entry))
            out[e[1].decode()] = e[2].decode()
    return out


@pytest.mark.skipif(not REAL.exists(), reason="real snapshot not available")
def test_real_configmaps_from_kubeadm_1_18():
    svc_map = each_csv_item(CidrMap.parse("10.96.0.0/12=172.24.0.0/16").rewrite_value)
    pod_map = each_csv_item(CidrMap.parse("10.5.0.0/16=10.55.0.0/16").rewrite_value)

    cc = _configmap_data(b"kubeadm-config")["ClusterConfiguration"]
    new, changes = replace_scalars(cc, [(("networking", "serviceSubnet"), svc_map),
                                        (("networking", "podSubnet"), pod_map)])
    assert only_changed_lines(cc, new) == [("  podSubnet: 10.5.0.0/16\n", "  podSubnet: 10.55.0.0/16\n"),
                                           ("  serviceSubnet: 10.96.0.0/12\n", "  serviceSubnet: 172.24.0.0/16\n")]

    kubelet = _configmap_data(b"kubelet-config-1.18")["kubelet"]
    new, changes = replace_scalar(kubelet, ("clusterDNS", EACH), svc_map)
    assert changes == [Change(("clusterDNS", 0), "10.96.0.10", "172.24.0.10")]
    assert len(only_changed_lines(kubelet, new)) == 1

    proxy = _configmap_data(b"kube-proxy")["config.conf"]
    new, changes = replace_scalar(proxy, ("clusterCIDR",), pod_map)
    assert changes == [Change(("clusterCIDR",), "10.5.0.0/16", "10.55.0.0/16")]
    assert only_changed_lines(proxy, new) == [("clusterCIDR: 10.5.0.0/16\n", "clusterCIDR: 10.55.0.0/16\n")]


def test_ipv6_in_a_flow_sequence_is_quoted_when_plain_is_unsafe():
    new, _ = replace_scalar("clusterDNS: [fd00:10:96::a]\n", ("clusterDNS", EACH), SVC.rewrite_ip)
    assert yaml.safe_load(new) == {"clusterDNS": ["fd00:20::a"]}
    assert new in ("clusterDNS: [fd00:20::a]\n", 'clusterDNS: ["fd00:20::a"]\n')


def test_scalar_changes_recovers_exactly_the_in_place_edits():
    from snaprewrite.rewrite.yamledit import path_text, scalar_changes

    new, done = replace_scalars(V1BETA3, [(("apiServer", "extraArgs", "service-cluster-ip-range"), svc)])
    assert done and scalar_changes(V1BETA3, new) == done
    assert [path_text(c.path) for c in done] == ["apiServer.extraArgs.service-cluster-ip-range"]
    assert scalar_changes(V1BETA3, V1BETA3) == []
    # anything else that differs: a comment, quoting of an unchanged value, a key, the structure
    assert scalar_changes(V1BETA3, new.replace("# the first service IP", "# the first service ip")) is None
    assert scalar_changes(V1BETA3, new.replace('"172.24', "'172.24").replace('/108"', "/108'")) is None
    assert scalar_changes(V1BETA3, new.replace("certSANs:", "certSANz:")) is None
    assert scalar_changes(V1BETA3, new + "extra: 1\n") is None
    assert scalar_changes("a: [x, y]\n", "a: [x, z]\n") == [Change(("a", 1), "y", "z")]
    assert path_text(("clusterDNS", 0)) == "clusterDNS[0]"
