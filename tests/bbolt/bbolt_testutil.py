"""Helpers for the bbolt writer tests: whole-file content models, patch application, etcd's own view."""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import crc32c

from snaprewrite.bbolt import format as fmt
from snaprewrite.bbolt.check import check
from snaprewrite.bbolt.freelist import build_freelist
from snaprewrite.bbolt.pages import MetaInfo, PageFile, build_meta
from snaprewrite.bbolt.tree import Bucket
from snaprewrite.bbolt.writer import Patch, Transaction, apply_patch

BUCKET = "<bucket>"


def raw_copy(snapshot: Path, dst: Path) -> Path:
    """raw_copy writes the bbolt data of a snapshot (the file minus its 32-byte trailer) to ``dst``."""
    size = snapshot.stat().st_size
    with open(snapshot, "rb") as src, open(dst, "wb") as out:
        out.write(src.read(size - 32 if size % 512 == 32 else size))
    return dst


def content(pf: PageFile) -> dict:
    """content models the whole file: {bucket path: {key: value}} for every bucket, nested and inline."""
    out: dict = {}
    todo = [((name,), b) for name, b in Bucket.root_bucket(pf).buckets()]
    while todo:
        path, b = todo.pop()
        items = {}
        for it in b.items():
            if it.is_bucket:
                items[bytes(it.key)] = BUCKET
                todo.append((path + (bytes(it.key),), Bucket.from_header(pf, it.value, bytes(it.key))))
            else:
                items[bytes(it.key)] = bytes(it.value)
        out[path] = items
    return out


def etcd_hash(model: dict) -> tuple[int, int]:
    """etcd_hash computes what `etcdutl snapshot status` reports as (hash, totalKey) for a content model."""
    h, total = 0, 0
    for (name,) in sorted(p for p in model if len(p) == 1):
        h = crc32c.crc32c(name, h)
        for k in sorted(model[(name,)]):
            v = model[(name,)][k]
            h = crc32c.crc32c(k, h)
            h = crc32c.crc32c(b"" if v == BUCKET else v, h)
            total += 1
    return h, total


def with_trailer(raw: Path, dst: Path) -> Path:
    """with_trailer writes ``raw`` plus the sha256 trailer etcd appends to a snapshot."""
    data = raw.read_bytes()
    dst.write_bytes(data + hashlib.sha256(data).digest())
    return dst


def etcdutl_status(tools, path: Path) -> subprocess.CompletedProcess:
    """etcdutl_status runs `etcdutl snapshot status -w json` (bbolt's tx.Check inside) and returns the result."""
    return subprocess.run([str(tools.etcdutl), "snapshot", "status", str(path), "-w", "json"], check=False,
                          capture_output=True, text=True, timeout=120, env=tools.env(),
                          stdin=subprocess.DEVNULL)


def old_meta_view(pf: PageFile) -> PageFile:
    """old_meta_view points an open PageFile at its older meta (to read the tree the old meta reaches)."""
    pf.meta = min(pf.metas, key=lambda m: m.txid)
    return pf


def commit_and_verify(src: Path, dst: Path, edit, **tx_kwargs) -> tuple[Patch, dict, dict]:
    """commit_and_verify runs ``edit(tx, model)`` on src, writes dst, and checks the invariants every patch keeps.

    Returns (patch, model before, model after). Checked: check() clean before and after; content equals
    the edited model; the old meta still reads the original content; every kept page except the new
    meta slot is byte-identical; the patch's overwrite is exactly that meta slot.
    """
    with PageFile(src) as pf:
        assert check(pf) == []
        before = content(pf)
        model = {p: dict(v) for p, v in before.items()}
        old = pf.meta
        tx = Transaction(pf, **tx_kwargs)
        edit(tx, model)
        patch = tx.commit()
        apply_patch(src, patch, dst)
    slot = (old.txid + 1) % 2
    assert patch.copy_length == old.pgid * old.page_size
    assert [off for off, _ in patch.overwrites] == [slot * old.page_size]
    assert patch.meta.txid == old.txid + 1 and patch.meta.slot == slot
    assert dst.stat().st_size == patch.new_length == patch.meta.pgid * old.page_size
    a, b = src.read_bytes(), dst.read_bytes()
    ps = old.page_size
    for pg in range(old.pgid):
        if pg != slot:
            assert a[pg * ps : (pg + 1) * ps] == b[pg * ps : (pg + 1) * ps], f"kept page {pg} changed"
    with PageFile(dst) as pf:
        assert pf.meta.txid == old.txid + 1
        assert check(pf) == []
        after = content(pf)
        assert after == model
        assert len(pf.metas) == 2
        old_meta_view(pf)
        assert pf.meta.root == old.root and pf.meta.pgid == old.pgid
        assert check(pf) == []
        assert content(pf) == before
    return patch, before, after


def new_db(path: Path, page_size: int, free_pages: int = 0) -> Path:
    """new_db writes a fresh bbolt file like bbolt's init (metas, freelist, empty root leaf) plus free zero pages."""
    root, freelist = 3, 2
    extra = list(range(4, 4 + free_pages))
    fl = build_freelist(freelist, extra, page_size)
    npages = len(fl) // page_size
    if npages > 1:  # a big freelist: move the root past its overflow pages
        root = freelist + npages
        extra = list(range(root + 1, root + 1 + free_pages))
        fl = build_freelist(freelist, extra, page_size)
    hwm = root + 1 + free_pages
    metas = []
    for txid in (0, 1):
        m = MetaInfo(txid, page_size, 0, root, 0, freelist, hwm, txid, 0)
        metas.append(build_meta(m, txid))
    leaf = fmt.PAGE_HEADER.pack(root, fmt.LEAF_PAGE, 0, 0).ljust(page_size, b"\0")
    with open(path, "wb") as f:
        f.write(metas[0] + metas[1] + fl + leaf)
        f.truncate(hwm * page_size)
    return path


def copy(src: Path, dst: Path) -> Path:
    """copy copies a file and makes it writable."""
    shutil.copyfile(src, dst)
    os.chmod(dst, 0o644)
    return dst
