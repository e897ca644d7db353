"""The Services rule holds what ``object_edits`` reads of each Service packed (``services._pack``) between reading
and editing: given back (``_unpack``) it equals the cache the read left, and the plan is the plan of the plain cache.
"""

import pytest

from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s.layout import detect
from snaprewrite.rewrite import plan as planning
from snaprewrite.rewrite.cidr import CidrMap
from snaprewrite.rewrite.rules import services
from snaprewrite.rewrite.rules.addresses import prefetch


def options() -> planning.Options:
    return planning.Options(CidrMap.parse(["10.96.0.0/12=172.16.0.0/12", "fd00:10:96::/112=fd00:20:96::/112"]),
                            CidrMap.parse(["10.244.0.0/16=10.32.0.0/16"]))


def _cache(obj) -> dict:
    """_cache is an object's cache with its Located as plain values (``state``), comparable."""
    return {k: (v.state() if k == "located" else v) for k, v in obj.cache.items() if k not in ("record", "fields")}


def _services(snap):
    lay = detect(snap)
    objs = planning.load_objects(snap, {lay.key(services.prefixes[0]): "Service"})["Service"]
    assert len(objs) > 3
    return objs


def test_a_packed_service_reads_back_as_its_cache(fixture_path):
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        for obj in _services(snap):
            prefetch(obj, "v1", *services.PATHS, keep=True)
            want = _cache(obj)
            for state in (None, obj.cache["located"].state()):  # read here, or in a child (its state)
                packed = services._pack(obj, state)
                assert packed is not None
                again = planning.Object(obj.key, obj.revkey, obj.kind, obj.namespace, obj.name, snap)
                services._unpack(again, packed)
                assert _cache(again) == want
            obj.clear()


def test_a_service_not_located_in_one_walk_is_not_packed(fixture_path):
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        obj = _services(snap)[0]
        prefetch(obj, "v1", *services.PATHS, keep=True)
        obj.cache.pop("located")
        assert services._pack(obj, None) is None
        prefetch(obj, "v1", *services.PATHS, keep=True)
        obj.cache[services.PATHS[1]] = ["10.0.0.1"]  # (the texts are not the located ones)
        assert services._pack(obj, None) is None


def _edits(plan) -> list:
    return [(e.key, e.new_key, e.new_value, e.changes, e.write.packed) for e in plan.edits]


@pytest.mark.parametrize("name", ["k8s-etcd35.db", "apiserver-etcd35.db"])
def test_the_plan_made_from_packed_services_is_the_plan_of_the_plain_caches(fixture_path, monkeypatch, forking, name):
    with Snapshot(fixture_path(name)) as snap:
        lay = detect(snap)
        forked = planning.build(snap, options(), None, lay)  # most Services read in children (their states packed)
        monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
        here = planning.build(snap, options(), None, lay)
        monkeypatch.setattr(services, "FAST", False)  # the Edits made from the caches the packs give back
        unpacked = planning.build(snap, options(), None, lay)
        monkeypatch.setattr(services, "_pack", lambda obj, state: None)  # every cache stays as the read left it
        plain = planning.build(snap, options(), None, lay)
    assert plain.edits and any(e.kind == "Service" for e in plain.edits)
    assert any(len(e.changes) > 1 for e in plain.edits if e.kind == "Service")  # (clusterIP with clusterIPs)
    assert _edits(forked) == _edits(plain)
    assert _edits(here) == _edits(plain)
    assert _edits(unpacked) == _edits(plain)


def test_an_edit_from_a_pack_that_differs_is_seen(fixture_path, monkeypatch):
    """Must fail: a pack whose clusterIP is not the stored one gives another plan (the fast path reads the pack)."""
    real = services._pack

    def wrong(obj, state):
        got = real(obj, state)
        if got is None or len(got[2]) != 1:
            return got
        return (got[0], got[1], got[2], ["10.96.99.99"], got[4])  # clusterIP no longer the stored one

    with Snapshot(fixture_path("apiserver-etcd35.db")) as snap:
        lay = detect(snap)
        monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
        plain = planning.build(snap, options(), None, lay)
        monkeypatch.setattr(services, "_pack", wrong)
        bent = planning.build(snap, options(), None, lay)
    assert _edits(bent) != _edits(plain)


def test_a_compact_pack_expands_to_the_pack_whatever_the_offsets(fixture_path):
    """What waits between a Service's read and its edit is ``_compact``: it must expand to the pack it was made of,
    offsets of any width included (a -1, offsets past 32 KiB or 2 GiB), and weigh less than the pack's offsets alone."""
    from array import array

    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        packs = []
        for obj in _services(snap):
            prefetch(obj, "v1", *services.PATHS, keep=True)
            packed = services._pack(obj, None)
            obj.clear()
            if packed is not None:
                packs.append(packed)
        assert any(p[2] for p in packs)
        for packed in packs:
            assert services._expand(services._compact(packed)) == packed
            assert len(services._compact(packed)) < len(packed[4])
            for extra in ([-1], [40000], [-40000], [1 << 31], [-(1 << 40)]):
                wide = array("q", packed[4])
                wide.extend(extra)
                again = (*packed[:4], wide.tobytes())
                assert services._expand(services._compact(again)) == again
            mirrored = (*packed[:3], ["10.0.0.9"], packed[4])  # (a clusterIP that is not clusterIPs' first entry)
            assert services._expand(services._compact(mirrored)) == mirrored
