"""Fixtures for the crash-safety tests: a snapshot big enough that ``rewrite`` takes a while to copy it."""

import os
import random
import time
from pathlib import Path

import pytest

from snaprewrite.bbolt.writer import Transaction
from snaprewrite.etcd import kv, mvcc, revision
from snaprewrite.etcd.output import write_patched
from snaprewrite.etcd.snapshot import Snapshot

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "fixtures"
K8S_SNAPSHOT = FIXTURES_DIR / "k8s-etcd35.db"
K8S_MAPPING = ["--service-cidr", "192.168.0.0/16=172.24.0.0/16", "--pod-cidr", "10.244.0.0/16=10.55.0.0/16"]
BIG_VALUES = int(os.environ.get("SNAPREWRITE_SAFETY_BIG_MB", "128"))  # 1 MiB values added to the k8s fixture


def grow_snapshot(src: Path, dst: Path, n_values: int, value_size: int = 1 << 20) -> None:
    """grow_snapshot writes ``src`` plus ``n_values`` keys under /big/ to ``dst``, each put with a random
    ``value_size`` value and then overwritten with a small one: the big values are history, which rewrite
    copies but does not plan over, so the copy dominates its run time.
    """
    rng = random.Random(7)
    with Snapshot(src) as snap:
        main = mvcc.current_revision(snap)
        tx = Transaction(snap.pages)
        for i in range(n_values):
            key = f"/big/{i:05d}".encode()
            created = main + 1
            for version, value in ((1, rng.randbytes(value_size)), (2, b"small")):
                main += 1
                record = kv.KeyValue(key, created, main, version, value)
                tx.put((b"key",), revision.encode(revision.Revision(main, 0)), kv.encode(record))
        patch = tx.commit()
        write_patched(snap, patch.copy_length, list(patch.overwrites), patch.append, str(dst))


@pytest.fixture(scope="session")
def big_snapshot(tmp_path_factory) -> Path:
    """big_snapshot is the k8s fixture grown to ~BIG_VALUES MiB with /big/ keys (its Services still to rewrite)."""
    path = tmp_path_factory.mktemp("big") / "big.db"
    grow_snapshot(K8S_SNAPSHOT, path, BIG_VALUES)
    return path


def gone(pid: int) -> bool:
    """gone tells whether process ``pid`` has ended (been reaped) within 10 seconds."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.01)
    return False
