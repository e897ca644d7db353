"""``backend.StatsJob`` (stats in a forked child, the index here, as ``status`` drives it) equals ``backend.stats``
with an index in one pass.

Same numbers, same index, same observer state on the fixtures and the real snapshot; on a damaged file
the same error (type and one-line message); and the one-process path where ``fork`` is missing.
"""

import os
import shutil
from pathlib import Path

import pytest

from snaprewrite.bbolt import format as fmt
from snaprewrite.errors import SnapshotError
from snaprewrite.etcd import backend
from snaprewrite.etcd.snapshot import Snapshot

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


class Seen:
    """An observer: every record it is shown (user key, revision key)."""

    def __init__(self):
        self.records = []

    def visit(self, key, revkey, _value):
        self.records.append((key, bytes(revkey)))

    def state(self):
        return [[k.hex(), rk.hex()] for k, rk in self.records]

    def load(self, state):
        self.records = [(bytes.fromhex(k), bytes.fromhex(rk)) for k, rk in state]


def one_pass(path, marker):
    with Snapshot(path) as snap:
        index, seen = {}, Seen()
        st = backend.stats(snap, None, index, seen.visit, marker)
        return st, index, seen.records


def two_cores(path, marker, fork=True):
    with Snapshot(path) as snap:
        with backend.StatsJob(snap, Seen(), marker, fork) as job:
            index = job.index(None)
            st, seen = job.result()
        return st, index, seen.records


@pytest.mark.parametrize("name", ["k8s-etcd35.db", "k8s-etcd34.db", "cni-flannel.db", "real"])
def test_parallel_equals_one_pass(name, real_snapshot):
    path = real_snapshot if name == "real" else FIXTURES / name
    for marker in (b"kube-system", None):
        want = one_pass(path, marker)
        assert two_cores(path, marker) == want
        assert two_cores(path, marker, fork=False) == want  # no free core: one pass
        assert want[0].total_key and want[1] and want[2]


def test_without_fork_one_process(monkeypatch):
    want = one_pass(FIXTURES / "k8s-etcd35.db", b"kube-system")
    monkeypatch.delattr(os, "fork")
    assert two_cores(FIXTURES / "k8s-etcd35.db", b"kube-system") == want


def outcome(f, path):
    try:
        f(path, None)
        return None
    except SnapshotError as e:
        return type(e), str(e)


@pytest.mark.parametrize("damage", ["first-leaf", "last-leaf", "record"])
def test_damaged_key_bucket_same_error(tmp_path, damage):
    """A leaf element of bucket ``key`` pointed past its page, or a record whose key length runs past it:
    the error (raised in the child, or by the index pass here) comes back as one pass raises it."""
    src = FIXTURES / "k8s-etcd35.db"
    dst = tmp_path / "damaged.db"
    shutil.copyfile(src, dst)
    with Snapshot(src) as snap:
        leaves = [(p, bytes(img)) for p, _h, img in snap.key_bucket().leaf_pages()]
        ps = snap.pages.page_size
    pgid, image = leaves[0] if damage == "first-leaf" else leaves[-1]
    data = bytearray(dst.read_bytes())
    if damage == "record":
        _f, pos, ksize, _vsize = fmt.LEAF_ELEMENT.unpack_from(image, fmt.PAGE_HEADER_SIZE)
        at = pgid * ps + fmt.PAGE_HEADER_SIZE + pos + ksize + 1  # the user key's one-byte length
        data[at : at + 3] = b"\xff\xff\x7f"  # a varint length far past the record
    else:
        at = pgid * ps + fmt.PAGE_HEADER_SIZE + 4  # element 0's pos
        data[at : at + 4] = (ps * 4).to_bytes(4, "little")
    dst.write_bytes(bytes(data))
    want = outcome(one_pass, dst)
    assert want is not None and "\n" not in want[1]
    assert damage == "record" or f"page {pgid}" in want[1]
    assert outcome(two_cores, dst) == want
    assert outcome(lambda p, m: two_cores(p, m, fork=False), dst) == want
