"""A leaf whose keys and values are not laid out in element order still hashes as etcd hashes it.

bbolt allows any data layout inside a leaf page (elements point at their key and value). The hash of
``status`` folds whole contiguous runs at once; a copy of a fixture with two middle elements' data
swapped (elements and keys still in order, first and last element where they were) must not be taken
for such a run: etcdutl ``snapshot status`` on the damaged copy is the reference.
"""

import json
import shutil
import struct

from typer.testing import CliRunner

from snaprewrite.bbolt import format as fmt
from snaprewrite.cli import app
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rehearsal.server import snapshot_status

ELEMENT = struct.Struct("<IIII")  # flags, pos, ksize, vsize (bbolt leafPageElement)


def swap_middle_data(src, dst) -> int:
    """swap_middle_data copies ``src`` and swaps the data of elements 1 and 2 of a key-bucket leaf; returns its pgid."""
    shutil.copyfile(src, dst)
    with Snapshot(src) as snap:
        page_size = snap.pages.page_size
        pgid, count = next((p, h.count) for p, h, _ in snap.key_bucket().leaf_pages() if p and h.count >= 4)
    with open(dst, "r+b") as f:
        f.seek(pgid * page_size)
        page = bytearray(f.read(page_size))
        at = [fmt.PAGE_HEADER_SIZE + i * ELEMENT.size for i in range(count)]
        el = [list(ELEMENT.unpack_from(page, a)) for a in at]
        start1 = at[1] + el[1][1]
        len1, len2 = el[1][2] + el[1][3], el[2][2] + el[2][3]
        assert at[2] + el[2][1] == start1 + len1  # laid out in order, as etcd wrote it
        data1, data2 = bytes(page[start1:start1 + len1]), bytes(page[start1 + len1:start1 + len1 + len2])
        page[start1:start1 + len1 + len2] = data2 + data1
        el[2][1] = start1 - at[2]
        el[1][1] = start1 + len2 - at[1]
        for a, e in zip(at, el):
            ELEMENT.pack_into(page, a, *e)
        f.seek(pgid * page_size)
        f.write(page)
    return pgid


def test_status_hash_follows_elements_not_layout(etcd35, fixture_path, tmp_path):
    damaged = tmp_path / "swapped.db"
    swap_middle_data(fixture_path("k8s-etcd35.db"), damaged)
    want = snapshot_status(etcd35, damaged)
    original = snapshot_status(etcd35, fixture_path("k8s-etcd35.db"))
    assert want["hash"] == original["hash"]  # same keys and values in the same element order
    r = CliRunner().invoke(app, ["status", str(damaged), "-o", "json"])
    assert r.exit_code == 0, r.stderr
    ours = json.loads(r.stdout)
    assert {k: ours[k] for k in want} == want
