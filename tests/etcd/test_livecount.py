"""``etcd.livecount`` (a compact hash index, two halves on two cores) equals the dict of every key, and real etcd.

The history below is written by real etcd: keys updated many times, deleted, deleted and created again,
values that look encrypted then are overwritten or deleted, enough records for a tree of several levels
(so the two halves split it). ``count`` must equal ``count_plain`` with the real hash and with a weak
one (every key collides with others: only the key bytes in the file tell them apart), in one process
and in two; the live keys and per-resource counts must be what etcd itself counts. A reader that lies
about the key bytes must change the answer (the check of equal hashes is what makes it exact).
"""

import random
from pathlib import Path

import crc32c
import pytest

from snaprewrite import query
from snaprewrite.etcd import livecount, liveshare
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rehearsal.server import snapshot_save
from snaprewrite.rewrite import cnifind

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
ROOT = b"/registry/"
SEALED = b"k8s:enc:aescbc:v1:key1:"


def weak(key: bytes) -> int:
    return crc32c.crc32c(key) & 3  # four hashes for every key: collisions everywhere


def counts(path, fork, key_hash=hash):
    with Snapshot(path) as snap:
        st, c = livecount.count(snap, query._Resources(ROOT), cnifind.keeper(ROOT), query._seal, b"k8s:enc:",
                                None, fork, key_hash=key_hash)
        return st, c


def plain(path):
    with Snapshot(path) as snap:
        return livecount.count_plain(snap, query._Resources(ROOT), cnifind.keeper(ROOT), query._seal, b"k8s:enc:")


def same(a, b) -> bool:
    (sa, ca), (sb, cb) = a, b
    return sa == sb and (ca.live, dict(ca.classes), dict(ca.sealed), ca.kept) == (cb.live, dict(cb.classes),
                                                                                  dict(cb.sealed), cb.kept)


def put_many(client, items, per_txn=100):  # etcd's default --max-txn-ops is 128
    for i in range(0, len(items), per_txn):
        client.txn_put_many(items[i : i + per_txn])


@pytest.fixture(scope="module")
def history_snapshot(tmp_path_factory, etcd35):
    """A snapshot with updates, deletions, re-creations and sealed values; with etcd's own counts."""
    from snaprewrite.rehearsal.server import EtcdServer

    tmp = tmp_path_factory.mktemp("livecount")
    rnd = random.Random(13)
    with EtcdServer(etcd35, tmp / "data") as server, server.client() as c:
        filler = bytes(rnd.randrange(256) for _ in range(700))
        for batch in range(6):
            put_many(c, [(f"/registry/events/ns{i % 7}/e{batch}-{i}", filler) for i in range(500)])
        for rev in range(4):  # updated again and again, across the history
            put_many(c, [(f"/registry/services/specs/ns{i % 3}/s{i}", b"svc%d" % rev) for i in range(300)])
            put_many(c, [(f"/registry/pods/ns/p{i}", filler[: 100 + rev]) for i in range(200)])
        for i in range(0, 300, 3):
            c.delete(f"/registry/services/specs/ns{i % 3}/s{i}")  # deleted for good
        for i in range(0, 200, 4):
            c.delete(f"/registry/pods/ns/p{i}")
            c.put(f"/registry/pods/ns/p{i}", b"again")  # deleted, then created again
        c.put("/registry/secrets/ns/a", SEALED + b"x")  # sealed, live
        c.put("/registry/secrets/ns/b", SEALED + b"y")
        c.put("/registry/secrets/ns/b", b"plain now")  # sealed, then overwritten
        c.put("/registry/secrets/ns/c", SEALED + b"z")
        c.delete("/registry/secrets/ns/c")  # sealed, then deleted
        c.put("/registry/configmaps/kube-system/kube-flannel-cfg", b"cm")
        c.put("/coreos.com/network/config", b'{"Network": "10.244.0.0/16"}')
        c.put("/other/key", b"outside the root")
        c.put("/registry/configmaps/ns/" + "long" * 40, b"a key of 160 bytes: not where the fast path looks")
        truth = {"live": c.count(), "services": c.count("/registry/services/specs/"),
                 "pods": c.count("/registry/pods/"), "events": c.count("/registry/events/"),
                 "secrets": c.count("/registry/secrets/")}
        path = snapshot_save(server, tmp / "history.db")
    return path, truth


@pytest.mark.parametrize("chunk", [1 << 18, 300])
def test_count_equals_the_plain_count_and_etcd(history_snapshot, monkeypatch, chunk):
    """Resolved in one chunk of partitions, or in many."""
    monkeypatch.setattr(livecount, "CHUNK", chunk)
    path, truth = history_snapshot
    want = plain(path)
    assert want[1].live == truth["live"]
    assert {k: want[1].classes[k] for k in ("services", "pods", "events", "secrets")} == {
        k: truth[k] for k in ("services", "pods", "events", "secrets")}
    assert dict(want[1].sealed) == {("aescbc", "key1"): 1}
    assert set(want[1].kept) == {b"/registry/configmaps/kube-system/kube-flannel-cfg", b"/coreos.com/network/config"}
    with Snapshot(path) as snap:
        assert snap.key_bucket()._frontier(2)[0] >= 1  # a tree the halves split
    for fork in (False, True):
        for key_hash in (hash, weak):
            assert same(counts(path, fork, key_hash), want), (fork, key_hash)


def test_keys_at_places_every_key(history_snapshot, real_snapshot):
    """keys_at gives mvcc.user_keys' keys, and where each lies in the file (both of its paths)."""
    from snaprewrite.etcd import mvcc

    plain_leaves = 0
    for path in (history_snapshot[0], real_snapshot):
        with Snapshot(path) as snap:
            for b in snap.key_bucket().leaf_batches():
                if not b.ks:
                    continue
                keys, offs, lens = livecount.keys_at(b.raw, b.view, b.vs, b.ends)
                assert keys == mvcc.user_keys(b.raw, b.view, b.vs, b.ends)
                assert [b.raw[o : o + n] for o, n in zip(offs, lens)] == keys
                plain_leaves += any(len(k) >= 128 for k in keys)
    assert plain_leaves


def test_a_lying_key_reader_changes_the_answer(history_snapshot):
    """With a weak hash only the key bytes tell keys apart: a reader that says every key is the same merges them."""
    path, _ = history_snapshot
    with Snapshot(path) as snap:
        part = livecount.scan_part(snap.key_bucket(), None, query._Resources(ROOT), cnifind.keeper(ROOT),
                                   query._seal, b"k8s:enc:", 1 << livecount.CLASS_BITS, key_hash=weak)
        lied = livecount.tally([part], livecount.resolve([part], lambda words: [b"same"] * len(words)))
    assert lied.live < plain(path)[1].live


@pytest.mark.parametrize("name", ["k8s-etcd35.db", "k8s-etcd34.db", "cni-calico.db", "cni-kuberouter.db",
                                  "cni-cilium.db", "cni-flannel.db",
                                  "allkinds-etcd35.db", "encryption/aescbc/snapshot.db",
                                  "encryption/rotation/snapshot.db", "real"])
def test_status_equals_the_plain_status(name, real_snapshot):
    path = real_snapshot if name == "real" else FIXTURES / name
    want = query.status(str(path), plain=True)
    for fork in (False, True):
        assert query.status(str(path), fork=fork) == want
    with Snapshot(path) as snap:  # the compact path was taken, not the plain one again
        assert query._counts(snap, ROOT, None, False) is not None


def test_unsupported_buckets_take_the_plain_path(history_snapshot):
    path, _ = history_snapshot
    with Snapshot(path) as snap, pytest.raises(livecount.Unsupported):
        livecount.count(snap, query._Resources(ROOT), cnifind.keeper(ROOT), fork=False, classes_max=2)
    assert query.status(str(FIXTURES / "tiny-etcd35.db")) == query.status(str(FIXTURES / "tiny-etcd35.db"), plain=True)


def test_halves_are_the_whole(real_snapshot):
    """Bucket.leaf_batches(part): the parts' leaves, in order, are all the leaves, and share no page below the cut."""
    with Snapshot(real_snapshot) as snap:
        b = snap.key_bucket()
        whole = [k for batch in b.leaf_batches() for k in batch.ks]
        assert len(whole) > 100
        for n in (2, 3):
            seens = [bytearray(snap.pages.meta.pgid) for _ in range(n)]
            got = [k for i in range(n) for batch in b.leaf_batches((i, n), seens[i]) for k in batch.ks]
            assert got == whole
            assert all(any(s) for s in seens)
            assert all(liveshare._shared(seens[i], seens[j]) is None for i in range(n) for j in range(i))
            page = seens[1].index(1)
            seens[0][page] = 1
            assert liveshare._shared(seens[0], seens[1]) == page  # the check that must fail does


def test_crc32c_combine():
    rnd = random.Random(7)
    for la, lb in ((0, 0), (5, 0), (0, 9), (1, 1), (100, 3000), (4096, 70000)):
        a, b = rnd.randbytes(la), rnd.randbytes(lb)
        assert livecount.crc32c_combine(crc32c.crc32c(a), crc32c.crc32c(b), lb) == crc32c.crc32c(a + b)
        assert livecount.crc32c_combine(crc32c.crc32c(a, 77), crc32c.crc32c(b), lb) == crc32c.crc32c(b, crc32c.crc32c(a, 77))


KEYS = [b"/registry/pods/ns/a", b"/registry/services/specs/ns/s", b"/registry/services/endpoints/ns/e",
        b"/registry/services", b"/registry/services/", b"/registry/servicesX/a", b"/registry/services.x/y/z",
        b"/registry/x.y", b"/registry/x.y/", b"/registry/x.y/res/a", b"/registry/", b"/registry//a", b"/other/a",
        b"/registry/ipaddresses/10.0.0.1", b"/registry/minions/n1", b"/registry/minions/n2", b"",
        b"/registry/apiextensions.k8s.io/customresourcedefinitions/foo", b"/registry", b"/kubernetes.io/pods/a/b"]


@pytest.mark.parametrize("root", [b"/registry/", b"/kubernetes.io/", b"/a/b/"])
@pytest.mark.parametrize("extra", [[], [b"/registry/a\nb/c", b"/registry/pods/x\ny", b"/other\n"]])
def test_resources_classify_as_count_resources(root, extra):
    keys = [k.replace(b"/registry/", root, 1) for k in KEYS] + extra
    classify = query._Resources(root)
    for batches in ([keys], [keys[:7], keys[7:]], [[k] for k in keys]):
        got = {}
        for batch in batches:
            for i in classify(batch):
                if i:
                    got[classify.names[i]] = got.get(classify.names[i], 0) + 1
        assert query._Resources.resources(got) == query.count_resources(keys, root)
    assert len(classify._tokens) < len(keys)


def test_damaged_files_fail_as_the_plain_status_does(real_snapshot, randomly_damaged):
    """Bytes changed at random: the same answer or the same error (class and line) on every path."""
    data = real_snapshot.read_bytes()
    rnd = random.Random(5)
    failed = 0
    for trial in range(15):
        path = randomly_damaged(data, rnd, f"damaged-{trial}.db")
        got = []
        for kw in ({"plain": True}, {"fork": False}, {"fork": True}):
            try:
                got.append(query.status(str(path), **kw))
            except Exception as e:  # noqa: BLE001 - compared, class and message
                got.append((type(e).__name__, str(e)))
        assert got[1] == got[0] and got[2] == got[0], trial
        failed += isinstance(got[0], tuple)
    assert failed  # some damage is found
