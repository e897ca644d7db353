"""The Services rule holds what ``object_edits`` reads of each Service packed (``services._pack``) between reading
and editing: given back (``_unpack``) it equals the cache the read left, and the plan is the plan of the plain cache.
"""

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
    return {k: (v.state() if k == "located" else v) for k, v in obj.cache.items() if k != "record"}


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
    return [(e.key, e.new_key, e.new_value, e.changes) for e in plan.edits]


def test_the_plan_made_from_packed_services_is_the_plan_of_the_plain_caches(fixture_path, monkeypatch, forking):
    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        lay = detect(snap)
        forked = planning.build(snap, options(), None, lay)  # most Services read in children (their states packed)
        monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
        here = planning.build(snap, options(), None, lay)
        monkeypatch.setattr(services, "_pack", lambda obj, state: None)  # every cache stays as the read left it
        plain = planning.build(snap, options(), None, lay)
    assert plain.edits and any(e.kind == "Service" for e in plain.edits)
    assert _edits(forked) == _edits(plain)
    assert _edits(here) == _edits(plain)


def test_offsets_of_any_width_read_back_as_they_were(fixture_path):
    """_pack keeps the offsets in the narrowest array that holds them: wide ones (a Service far into a big value,
    a -1) come back exactly, and a narrow array is what a small Service costs."""
    from array import array

    with Snapshot(fixture_path("k8s-etcd35.db")) as snap:
        obj = next(o for o in _services(snap) if len(o.cache) == 0)
        prefetch(obj, "v1", *services.PATHS, keep=True)
        type_names, names, texts, flat = obj.cache["located"].state()
        small = services._pack(obj, (type_names, names, texts, flat))
        for extra in ([], [-1], [40000], [-40000], [1 << 31], [-(1 << 40)]):
            wide = array("q", flat)
            wide.extend(extra)
            packed = services._pack(obj, (type_names, names, texts, wide.tobytes()))
            again = planning.Object(obj.key, obj.revkey, obj.kind, obj.namespace, obj.name, snap)
            services._unpack(again, packed)
            assert again.cache["located"].state() == (type_names, names, texts, wide.tobytes())
            assert _cache(again) == {**_cache(obj), "located": (type_names, names, texts, wide.tobytes())}
        assert len(small) < len(flat)  # (the int64 offsets alone weigh more than the whole packed Service)
