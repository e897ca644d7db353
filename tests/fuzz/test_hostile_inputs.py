"""Hand-made broken snapshots, one per kind of damage the contract names, with the answer each must get.

Each damaged file gets a valid sha256 trailer (so the damage reaches the parsers) unless the trailer
itself is the damage. Every command must keep the CLI contract on each (``fuzzlib.run_all``); on top,
each test asserts what a correct tool says: the error, the problem ``check`` lists, the fallback.
"""

import hashlib
import json
import struct

import fuzzlib as F
import pytest

from snaprewrite.bbolt import format as fmt
from snaprewrite.etcd import kv as kvcodec
from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s import envelope

K8S = F.SEEDS["k8s35"]
TINY = F.SEEDS["tiny35"]


def data_of(seed: F.Seed) -> bytearray:
    """data_of returns the bbolt part of a seed (no trailer), writable."""
    return bytearray(F.layout(seed).data)


def write(tmp_path, data: bytes, trailer: bool = True, name: str = "in.db"):
    path = tmp_path / name
    path.write_bytes(F.with_trailer(bytes(data)) if trailer else bytes(data))
    return path


def cli(*args) -> F.Outcome:
    """cli runs one command in-process and asserts the contract before returning the outcome."""
    o = F.invoke([str(a) for a in args])
    assert F.contract_violation(o) is None, (args, F.contract_violation(o))
    return o


def error_line(o: F.Outcome) -> str:
    assert o.code == 1, (o.args, o.code, o.stdout[:300])
    return o.stderr.strip()


def leaf_elements(data, ps: int, pgid: int) -> list[tuple[int, int, int, int, int]]:
    """leaf_elements lists (element offset, flags, key offset, ksize, vsize) of a leaf page."""
    off = pgid * ps
    _, flags, count, _ = fmt.PAGE_HEADER.unpack_from(data, off)
    assert flags == fmt.LEAF_PAGE
    out = []
    for i in range(count):
        e = off + fmt.PAGE_HEADER_SIZE + i * fmt.LEAF_ELEMENT_SIZE
        f, pos, ksize, vsize = fmt.LEAF_ELEMENT.unpack_from(data, e)
        out.append((e, f, e + pos, ksize, vsize))
    return out


def key_bucket_root(seed: F.Seed) -> int:
    with Snapshot(seed.path) as s:
        return s.key_bucket().root


def record_offset(seed: F.Seed, key: bytes) -> tuple[int, kvcodec.KeyValue]:
    """record_offset finds the stored KeyValue of ``key``'s latest revision in the seed's bytes."""
    with Snapshot(seed.path) as s:
        rec = mvcc.record_at(s, mvcc.live_keys(s, key)[key])
    enc = kvcodec.encode(rec.kv)
    data = F.layout(seed).data
    off = data.find(enc)
    assert off > 0 and data.find(enc, off + 1) < 0
    return off, rec.kv


def all_commands_keep_contract(seed: F.Seed, data: bytes, tmp_path) -> None:
    failures = F.run_all(seed, data, tmp_path / "all")
    assert not failures, failures


# -- not a snapshot at all ----------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"\0", b"hello world\n" * 700, bytes(range(256)) * 64,
                                     b"\0" * 8192 + bytes(32)], ids=["empty", "one-byte", "text", "junk", "zeros"])
def test_not_a_snapshot(content, tmp_path):
    path = write(tmp_path, content, trailer=False)
    for args in (["status", path], ["ls", path], ["check", path], ["rewrite", path, "--dry-run", *K8S.mapping]):
        line = error_line(cli(*args))
        assert any(w in line for w in ("empty", "not a bbolt", "too short", "not a snapshot")), line
    all_commands_keep_contract(TINY, content, tmp_path)


def test_missing_file_and_directory(tmp_path):
    assert "no such file" in error_line(cli("ls", tmp_path / "absent.db"))
    assert "directory" in error_line(cli("ls", tmp_path))


@pytest.mark.parametrize("cut", [1, 100, 4095, 4096, 4097, 8192, 12000, -33, -32, -1])
def test_truncated(cut, tmp_path):
    whole = F.with_trailer(bytes(data_of(TINY)))
    path = write(tmp_path, whole[:cut], trailer=False)
    if cut == -32:  # exactly the trailer cut off: a sound raw member/snap/db
        assert cli("ls", path).code == 0 and cli("check", path).code == 0
    else:
        error_line(cli("ls", path))
        error_line(cli("check", path))
    all_commands_keep_contract(TINY, whole[:cut], tmp_path)


# -- meta pages ----------------------------------------------------------------------------------

def newest_meta_slot(data, ps) -> int:
    txids = [struct.unpack_from("<Q", data, s * ps + fmt.PAGE_HEADER_SIZE + 48)[0] for s in (0, 1)]
    return 0 if txids[0] > txids[1] else 1


def test_one_bad_meta_falls_back_to_the_other(tmp_path):
    data = data_of(K8S)
    ps = F.layout(K8S).page_size
    slot = newest_meta_slot(data, ps)
    data[slot * ps + fmt.PAGE_HEADER_SIZE + 60] ^= 0xFF  # the checksum of the newest meta
    path = write(tmp_path, data)
    o = cli("ls", path)
    assert o.code == 0 and "/registry/services/specs/kube-system/kube-dns" in o.stdout.splitlines()
    assert cli("get", path, K8S.key, "-o", "json").code == 0
    c = cli("check", path)
    assert c.code == 1 and f"meta: meta {slot} checksum mismatch" in c.stdout
    all_commands_keep_contract(K8S, bytes(data), tmp_path)


@pytest.mark.parametrize("fix_checksum", [False, True], ids=["bad-checksums", "bad-magic"])
def test_both_metas_bad(fix_checksum, tmp_path):
    data = data_of(TINY)
    ps = F.layout(TINY).page_size
    for slot in (0, 1):
        F.apply_op(F.layout(TINY), data, ("meta", slot, "magic" if fix_checksum else "checksum", 0x1234, fix_checksum))
    path = write(tmp_path, data)
    line = error_line(cli("status", path))
    assert ("not a bbolt" in line) if fix_checksum else ("no valid meta page" in line), line
    assert ps == 4096
    all_commands_keep_contract(TINY, bytes(data), tmp_path)


@pytest.mark.parametrize("field,value", [("root", 0xFFFFFFFF), ("root", 1), ("pgid", 1 << 40), ("pgid", 0),
                                         ("pageSize", 3), ("freelist", 5000), ("txid", 0xFFFFFFFFFFFFFFFF)])
def test_meta_fields_past_the_end(field, value, tmp_path):
    data = data_of(K8S)
    lay = F.layout(K8S)
    F.apply_op(lay, data, ("meta", newest_meta_slot(data, lay.page_size), field, value, True))
    path = write(tmp_path, data)
    if field == "txid":  # readable; only a new transaction cannot follow it
        assert "txid" in error_line(cli("rewrite", path, "--out", tmp_path / "out.db", *K8S.mapping))
        assert not (tmp_path / "out.db").exists()
    else:
        assert cli("check", path).code == 1
    all_commands_keep_contract(K8S, bytes(data), tmp_path)


# -- the sha256 trailer --------------------------------------------------------------------------

def test_trailer_mismatch(tmp_path):
    whole = bytearray(K8S.path.read_bytes())
    whole[-1] ^= 1
    path = write(tmp_path, whole, trailer=False)
    assert cli("ls", path).code == 0  # reading does not need the trailer
    assert "sha256" in error_line(cli("status", path, "--verify"))
    assert "sha256 trailer mismatch" in cli("check", path).stdout
    out = tmp_path / "out.db"
    assert "sha256" in error_line(cli("rewrite", path, "--out", out, *K8S.mapping))
    assert not out.exists()
    assert "sha256" in error_line(cli("rewrite", path, "--dry-run", *K8S.mapping))
    assert cli("rewrite", path, "--out", out, "--skip-hash-check", *K8S.mapping).code == 0
    assert cli("check", out).code == 0


# -- tree pages ------------------------------------------------------------------------------------

def branch_of_key_bucket(seed):
    root = key_bucket_root(seed)
    data = F.layout(seed).data
    _, flags, count, _ = fmt.PAGE_HEADER.unpack_from(data, root * F.layout(seed).page_size)
    assert flags == fmt.BRANCH_PAGE and count >= 2, "the k8s fixture's key bucket should be a branch"
    return root, count


def branch_child_offset(seed, pgid: int, i: int) -> int:
    return pgid * F.layout(seed).page_size + fmt.PAGE_HEADER_SIZE + i * fmt.BRANCH_ELEMENT_SIZE + 8


@pytest.mark.parametrize("how", ["past-end", "self-cycle", "shared", "meta-page"])
def test_branch_children(how, tmp_path):
    root, _ = branch_of_key_bucket(K8S)
    data = data_of(K8S)
    first = struct.unpack_from("<Q", data, branch_child_offset(K8S, root, 0))[0]
    target = {"past-end": 0xFFFFFFFF, "self-cycle": root, "shared": first, "meta-page": 1}[how]
    struct.pack_into("<Q", data, branch_child_offset(K8S, root, 1), target)
    path = write(tmp_path, data)
    c = cli("check", path)
    assert c.code == 1
    want = {"past-end": "out of bounds", "self-cycle": "multiple references", "shared": "multiple references",
            "meta-page": "meta page"}[how]
    assert want in c.stdout, c.stdout
    error_line(cli("rewrite", path, "--dry-run", *K8S.mapping))
    all_commands_keep_contract(K8S, bytes(data), tmp_path)


@pytest.mark.parametrize("field,value", [("pos", 0xFFFFFFFF), ("ksize", 0xFFFF), ("vsize", 0xFFFFFFFF),
                                         ("pos", 0)])
def test_leaf_element_outside_its_page(field, value, tmp_path):
    lay = F.layout(K8S)
    root, _ = branch_of_key_bucket(K8S)
    leaf = struct.unpack_from("<Q", lay.data, branch_child_offset(K8S, root, 0))[0]
    data = data_of(K8S)
    e = leaf_elements(data, lay.page_size, leaf)[0][0]
    struct.pack_into("<I", data, e + F.LEAF_FIELDS[field], value)
    path = write(tmp_path, data)
    assert "outside its page" in error_line(cli("ls", path))
    assert "outside its page" in cli("check", path).stdout
    all_commands_keep_contract(K8S, bytes(data), tmp_path)


def test_page_header_count_extreme(tmp_path):
    lay = F.layout(K8S)
    root, _ = branch_of_key_bucket(K8S)
    data = data_of(K8S)
    struct.pack_into("<H", data, root * lay.page_size + 10, 0xFFFF)
    path = write(tmp_path, data)
    assert "do not fit" in error_line(cli("ls", path))
    all_commands_keep_contract(K8S, bytes(data), tmp_path)


def test_unsorted_keys(tmp_path):
    lay = F.layout(K8S)
    root, _ = branch_of_key_bucket(K8S)
    leaf = struct.unpack_from("<Q", lay.data, branch_child_offset(K8S, root, 0))[0]
    data = data_of(K8S)
    elems = leaf_elements(data, lay.page_size, leaf)
    (_, _, k0, n0, _), (_, _, k1, n1, _) = elems[0], elems[1]
    assert n0 == n1 == 17
    a, b = bytes(data[k0 : k0 + 17]), bytes(data[k1 : k1 + 17])
    data[k0 : k0 + 17], data[k1 : k1 + 17] = b, a
    path = write(tmp_path, data)
    assert "key not greater than the previous one" in cli("check", path).stdout
    all_commands_keep_contract(K8S, bytes(data), tmp_path)


# -- etcd schema -----------------------------------------------------------------------------------

def test_missing_key_bucket(tmp_path):
    data = data_of(K8S)
    lay = F.layout(K8S)
    with Snapshot(K8S.path) as s:
        root = s.pages.meta.root
    (k,) = [k for _, _, k, n, _ in leaf_elements(data, lay.page_size, root) if data[k : k + n] == b"key"]
    data[k : k + 3] = b"kez"  # still sorted between "cluster" and "lease"
    path = write(tmp_path, data)
    for args in (["ls", path], ["dump", path], ["get", path, K8S.key], ["history", path, K8S.key],
                 ["status", path], ["rewrite", path, "--dry-run", *K8S.mapping]):
        assert "no 'key' bucket" in error_line(cli(*args)), args
    assert "no 'key' bucket" in cli("check", path).stdout
    all_commands_keep_contract(K8S, bytes(data), tmp_path)


@pytest.mark.parametrize("grow", [-1, 2, -17])
def test_revision_key_of_wrong_length(grow, tmp_path):
    """The key's start moves (pos) so its length changes while the KeyValue after it stays intact."""
    lay = F.layout(K8S)
    root, _ = branch_of_key_bucket(K8S)
    leaf = struct.unpack_from("<Q", lay.data, branch_child_offset(K8S, root, 0))[0]
    data = data_of(K8S)
    e = leaf_elements(data, lay.page_size, leaf)[1][0]
    _, pos, ksize, _ = fmt.LEAF_ELEMENT.unpack_from(data, e)
    struct.pack_into("<II", data, e + 4, pos - grow, ksize + grow)
    path = write(tmp_path, data)
    assert f"revision key of {17 + grow} bytes" in error_line(cli("status", path))
    assert cli("check", path).code == 1
    all_commands_keep_contract(K8S, bytes(data), tmp_path)


def test_undecodable_keyvalue(tmp_path):
    off, _ = record_offset(K8S, K8S.key.encode())
    data = data_of(K8S)
    data[off] = 0x0F  # field 1 with wire type 7: no such wire type
    path = write(tmp_path, data)
    assert "KeyValue" in cli("check", path).stdout
    line = error_line(cli("ls", path))
    assert "KeyValue" in line
    all_commands_keep_contract(K8S, bytes(data), tmp_path)


def test_undecodable_kubernetes_value(tmp_path):
    """A broken Service: read commands show it as undecodable and go on; rewrite refuses to touch it."""
    off, rec = record_offset(K8S, K8S.key.encode())
    env = envelope.parse(rec.value)
    enc = kvcodec.encode(rec)
    value_at = off + enc.find(rec.value)
    data = data_of(K8S)
    data[value_at + env.raw_offset] = 0x0F  # the first tag of the Service message: wire type 7
    path = write(tmp_path, data)
    got = json.loads(cli("get", path, K8S.key, "-o", "json").stdout)
    assert "undecodable" in got and got["size"] == len(rec.value)
    lines = [json.loads(x) for x in cli("dump", path).stdout.splitlines()]
    assert len(lines) == 43
    assert [x["value"].get("undecodable") is not None for x in lines].count(True) == 1
    assert cli("ls", path).code == 0 and cli("status", path).code == 0
    out = tmp_path / "out.db"
    line = error_line(cli("rewrite", path, "--out", out, *K8S.mapping))
    assert not out.exists()
    assert hashlib.sha256(bytes(rec.value)).hexdigest()[:16] not in line
    all_commands_keep_contract(K8S, bytes(data), tmp_path)


def shared_page_ladder(seed: F.Seed, rungs: int = 30) -> bytes:
    """shared_page_ladder appends ``rungs`` branch pages, each with both children on the next one, and
    points bucket ``key`` at the first: a DAG with 2**rungs root-to-leaf paths through shared pages.
    """
    lay = F.layout(seed)
    ps, n = lay.page_size, lay.npages
    data = bytearray(lay.data)
    with Snapshot(seed.path) as s:
        root_page, old_key_root = s.pages.meta.root, s.key_bucket().root
    for i in range(rungs):
        page = bytearray(ps)
        child = n + i + 1 if i + 1 < rungs else old_key_root
        fmt.PAGE_HEADER.pack_into(page, 0, n + i, fmt.BRANCH_PAGE, 2, 0)
        for j in range(2):
            e = fmt.PAGE_HEADER_SIZE + j * fmt.BRANCH_ELEMENT_SIZE
            key_at = fmt.PAGE_HEADER_SIZE + 2 * fmt.BRANCH_ELEMENT_SIZE + j
            fmt.BRANCH_ELEMENT.pack_into(page, e, key_at - e, 1, child)
            page[key_at] = j
        data += page
    (elem,) = [e for e, _, k, ksize, _ in leaf_elements(data, ps, root_page) if data[k : k + ksize] == b"key"]
    _, pos, ksize, _ = fmt.LEAF_ELEMENT.unpack_from(data, elem)
    struct.pack_into("<Q", data, elem + pos + ksize, n)  # the key bucket's root page
    lay2 = F.Layout(bytes(data), ps, n + rungs, (), ())
    for slot in (0, 1):
        F.apply_op(lay2, data, ("meta", slot, "pgid", n + rungs, True))
    return bytes(data)


def test_shared_pages_do_not_multiply_work(tmp_path):
    """2**30 paths through 30 shared pages: every command must stop at the second visit, not walk them all."""
    data = shared_page_ladder(K8S)
    path = write(tmp_path, data)
    assert "referenced twice" in error_line(cli("ls", path))
    assert "multiple references" in cli("check", path).stdout
    all_commands_keep_contract(K8S, F.with_trailer(data), tmp_path)
