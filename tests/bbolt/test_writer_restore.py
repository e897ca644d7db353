"""A written snapshot restores with real etcd 3.5, which then serves the changed keys."""

from bbolt_testutil import commit_and_verify, etcdutl_status, raw_copy, with_trailer

from snaprewrite.etcd import kv, revision

KEY = (b"key",)
BIG = b"!" * 2000


def test_restore_and_read_back(etcd_made_snapshot, etcd35, restored_etcd, tmp_path):
    src = raw_copy(etcd_made_snapshot, tmp_path / "src.db")
    latest: dict[bytes, tuple[bytes, kv.KeyValue]] = {}
    touched: set[bytes] = set()

    def edit(tx, model):
        last = 0
        for rk in sorted(model[KEY]):
            rev, tomb = revision.decode(rk)
            last = max(last, rev.main)
            rec = kv.decode(model[KEY][rk])
            latest[rec.key] = (rk, None if tomb else rec)
            if not tomb and rec.key.startswith(b"/k/01"):  # grow every revision of /k/01xx: splits
                new = kv.encode(kv.KeyValue(rec.key, rec.create_revision, rec.mod_revision, rec.version,
                                            rec.value + BIG, rec.lease))
                tx.put(KEY, rk, new)
                model[KEY][rk] = new
                touched.add(rec.key)
        _, old = latest[b"/k/0001"]
        main = last + 1  # a new revision at the end, as etcd would append it
        rec = kv.KeyValue(b"/k/0001", old.create_revision, main, old.version + 1, b"changed-offline", 0)
        rk = revision.encode(revision.Revision(main, 0))
        tx.put(KEY, rk, kv.encode(rec))
        model[KEY][rk] = kv.encode(rec)

    out = tmp_path / "out.db"
    commit_and_verify(src, out, edit)
    snap = with_trailer(out, tmp_path / "out.snapshot.db")
    assert etcdutl_status(etcd35, snap).returncode == 0
    server = restored_etcd(etcd35, snap)
    with server.client() as c:
        got = c.get("/k/0001")
        assert got.value == b"changed-offline"
        assert got.mod_revision == c.revision()
        live = [k for k in touched if latest[k][1] is not None]
        assert len(live) > 50
        for k in sorted(live)[:20]:
            assert c.get(k).value.endswith(BIG)
        assert c.get("/k/0399") is not None
