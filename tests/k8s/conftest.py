"""Fixtures for the k8s layer: the latest live value of every key in the real 1.18 snapshot, and kubeobjects."""

import os
import sys
from pathlib import Path

import pytest

from snaprewrite.bbolt.pages import PageFile
from snaprewrite.bbolt.tree import Bucket
from snaprewrite.k8s import splice

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))


def _kv_fields(value: bytes) -> dict[int, bytes | int]:
    """_kv_fields reads mvccpb.KeyValue's key (1) and value (5) with the splice scanner."""
    out: dict = {}
    for f in splice.scan(value):
        if f.wire_type == splice.WIRE_LEN:
            out[f.number] = value[f.value_start : f.value_end]
    return out


@pytest.fixture(scope="session")
def real_values(real_snapshot) -> dict[bytes, bytes]:
    """real_values maps each etcd key to its latest value (tombstones drop the key)."""
    size = os.path.getsize(real_snapshot)
    pf = PageFile(real_snapshot, length=size - 32)
    latest: dict[bytes, bytes] = {}
    try:
        for item in Bucket.root_bucket(pf).bucket(b"key").items():
            kv = _kv_fields(bytes(item.value))
            if len(item.key) == 18 and bytes(item.key[17:]) == b"t":
                latest.pop(kv[1], None)
            else:
                latest[kv[1]] = kv.get(5, b"")
    finally:
        pf.close()
    return latest
