"""Fixtures for the bbolt writer tests: raw bbolt copies of the real snapshot and of a db real etcd 3.5 made."""

from pathlib import Path

import pytest
from bbolt_testutil import raw_copy

from snaprewrite.rehearsal.server import EtcdServer, snapshot_save

ETCD_KEYS = 400


@pytest.fixture(scope="session")
def etcd_made_snapshot(etcd35, tmp_path_factory) -> Path:
    """etcd_made_snapshot is a snapshot saved from a real etcd 3.5 holding /k/NNNN keys, some updated and deleted."""
    out = tmp_path_factory.mktemp("etcd-made") / "made.snapshot.db"
    with EtcdServer(etcd35) as server, server.client() as c:
        c.txn_put_many((f"/k/{i:04d}", f"value-{i}-" + "v" * (50 + i % 200)) for i in range(ETCD_KEYS))
        for i in range(0, ETCD_KEYS, 7):
            c.put(f"/k/{i:04d}", f"updated-{i}")
        for i in range(0, ETCD_KEYS, 11):
            c.delete(f"/k/{i:04d}")
        snapshot_save(server, out)
    return out


@pytest.fixture(params=["real", "etcd35"])
def source_db(request, tmp_path) -> Path:
    """source_db is a writable raw bbolt copy (no trailer) of the real snapshot, then of the etcd-made one."""
    if request.param == "real":
        snap = request.getfixturevalue("real_snapshot")
    else:
        snap = request.getfixturevalue("etcd_made_snapshot")
    return raw_copy(snap, tmp_path / f"{request.param}.db")
