"""``plan.load_objects`` groups the indexed keys by prefix in whole runs of the sorted keys; it must equal the
plain key-by-key path (each key under the first prefix it starts with, split by ``split_key``).

The plain path is written out below; both run on the fixtures, the real snapshot and prefix sets where
prefixes nest (the one named first wins) or cover nothing, and the objects and ``also`` index must agree.
"""

import pytest

from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite import plan as planning

DBS = ["k8s-etcd35.db", "k8s-etcd34.db", "cni-calico.db", "allkinds-etcd35.db", "apiserver-etcd35.db"]
PREFIX_SETS = [
    {b"/registry/services/specs/": "services", b"/registry/minions/": "nodes"},
    # nested: the more specific named first takes its keys, then the other: both orders
    {b"/registry/configmaps/kube-system/": "ks", b"/registry/configmaps/": "cm", b"/registry/pods/": "pods"},
    {b"/registry/configmaps/": "cm", b"/registry/configmaps/kube-system/": "ks"},
    # two prefixes of one kind, a prefix matching nothing, a prefix that is a whole key, everything
    {b"/registry/services/": "svc", b"/registry/ipaddresses/": "svc", b"/nothing/": "none",
     b"/registry/services/endpoints/default/kubernetes": "ep"},
    {b"": "all", b"/registry/\xff": "ff"},
]
ALSO = (b"/registry/ranges/", b"/registry/services/endpoints/default/kubernetes")


def plain(snap, prefixes: dict, also: tuple) -> tuple[dict, dict]:
    """plain is load_objects key by key: (kind -> [(key, revkey, kind, namespace, name)], also index)."""
    wanted = tuple(prefixes)
    index = mvcc.live_keys(snap, tuple(dict.fromkeys(wanted + also)))
    out = {kind: [] for kind in prefixes.values()}
    for key in sorted(index):
        prefix = next((p for p in wanted if key.startswith(p)), None)
        if prefix is None:
            continue
        ns, name = planning.split_key(key, prefix)
        out[prefixes[prefix]].append((key, index[key], prefixes[prefix], ns, name))
    return out, {k: v for k, v in index.items() if k.startswith(also)}


@pytest.mark.parametrize("prefixes", PREFIX_SETS)
def test_objects_equal_the_key_by_key_path(fixture_path, real_snapshot, prefixes):
    found = 0
    for path in [fixture_path(n) for n in DBS] + [real_snapshot]:
        with Snapshot(path) as snap:
            also_index: dict = {}
            got = planning.load_objects(snap, prefixes, also=ALSO, also_index=also_index)
            got = {kind: [(o.key, o.revkey, o.kind, o.namespace, o.name) for o in objs] for kind, objs in got.items()}
            want, want_also = plain(snap, prefixes, ALSO)
            assert got == want, path.name
            assert also_index == want_also, path.name
            found += sum(map(len, got.values()))
    assert found


def test_a_key_under_nested_prefixes_goes_to_the_first_named(fixture_path):
    """The kube-system ConfigMaps go to ``ks`` when it is named first, to ``cm`` when that is (not both)."""
    system = b"/registry/configmaps/kube-system/"
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        first = planning.load_objects(snap, PREFIX_SETS[1])
        second = planning.load_objects(snap, PREFIX_SETS[2])
    assert first["ks"] and all(o.namespace == "" and o.key.startswith(system) for o in first["ks"])
    assert not any(o.key.startswith(system) for o in first["cm"])
    assert not second["ks"] and [o.key for o in second["cm"] if o.key.startswith(system)] == [o.key for o in first["ks"]]
