"""Eager spill and page sinks: in-order puts hold one leaf at a time, any order stays correct, sinks see every page."""

import random

from bbolt_testutil import commit_and_verify, content
from test_writer import KEY, _delete, _put, assert_etcd_agrees, rev

from snaprewrite.bbolt.pages import PageFile
from snaprewrite.bbolt.writer import MemorySink, Transaction


def test_in_order_puts_hold_one_leaf(source_db, etcd35, tmp_path):
    """Growing every record in key order: at most one dirty leaf is materialized at any time; content as lazy."""
    peak = []

    def grow(tx, model):
        b = tx._bucket(KEY)
        for k in sorted(model[KEY]):
            _put(tx, model, KEY, k, model[KEY][k] + b"+" * 700)
            peak.append(sum(1 for n in b.nodes.values() if n.is_leaf))

    patch, _, eager = commit_and_verify(source_db, tmp_path / "eager.db", grow)
    assert max(peak) <= 1
    assert_etcd_agrees(etcd35, tmp_path / "eager.db", eager, tmp_path)
    peak.clear()
    lazy_patch, _, lazy = commit_and_verify(source_db, tmp_path / "lazy.db", grow, eager=False)
    assert max(peak) > 10  # without eager spill every dirty leaf waits for the commit
    assert lazy == eager and lazy_patch.new_length == patch.new_length


def test_going_back_to_spilled_leaves(source_db, etcd35, tmp_path):
    """Puts and deletes that return to leaves already spilled read their new pages back; with a synced
    freelist those new pages, now unreachable, are listed free, and bbolt agrees with the result."""
    rnd = random.Random(11)

    def back_and_forth(tx, model):
        keys = sorted(model[KEY])
        for k in keys[: len(keys) * 2 // 3]:
            _put(tx, model, KEY, k, model[KEY][k] + b"#" * 300)
        for k in rnd.sample(keys[: len(keys) // 2], 40):
            if rnd.random() < 0.5:
                _delete(tx, model, KEY, k)
            else:
                _put(tx, model, KEY, k, rnd.randbytes(rnd.randrange(0, 3000)))
        last = int.from_bytes(keys[-1][:8], "big")
        for i in range(1, 200):
            _put(tx, model, KEY, rev(last + i), b"n" * 100)

    out = tmp_path / "back.db"
    patch, before, after = commit_and_verify(source_db, out, back_and_forth, sync_freelist=True)
    old_pgid = patch.copy_length // patch.page_size
    assert any(p >= old_pgid for p in patch.freed), "no spilled page was read back"
    assert_etcd_agrees(etcd35, out, after, tmp_path)


class RecordingSink(MemorySink):
    """A caller's sink: keeps pages like MemorySink and records the order they came in."""

    def __init__(self, page_size: int, first: int):
        super().__init__(page_size, first)
        self.order: list[int] = []

    def write(self, pgid: int, image: bytes) -> None:
        self.order.append(pgid)
        super().write(pgid, image)


def test_callers_sink_gets_every_page_in_order(source_db):
    """With a caller's sink the Patch carries only the appended length; the pages are the in-memory mode's bytes."""
    def edit(tx):
        with PageFile(source_db) as pf:
            keys = sorted(content(pf)[KEY])
        for k in keys[::3]:
            tx.put(KEY, k, b"s" * 900)

    with PageFile(source_db) as pf:
        tx = Transaction(pf)
        edit(tx)
        mem = tx.commit()
        sink = RecordingSink(pf.page_size, pf.meta.pgid)
        tx = Transaction(pf, sink=sink)
        edit(tx)
        streamed = tx.commit()
    assert streamed.append is None and mem.append is not None
    assert streamed.append_length == len(mem.append) == len(sink.data())
    assert streamed.new_length == mem.new_length and streamed.meta == mem.meta
    assert sink.data() == mem.append
    first = mem.copy_length // mem.page_size
    assert sink.order[0] == first and sink.order == sorted(sink.order)
