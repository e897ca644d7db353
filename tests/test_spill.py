"""spill.Spill gives back exactly the bytes it was given, from its buffer, its file and a forked child.

A plan's new values wait there instead of in memory (``etcd.writes.VALUES``); a wrong byte would be
written into the output snapshot, so every value is compared whole, across flushes.
"""

import os
import random

import pytest

from snaprewrite import spill


def values(n: int, seed: int = 7) -> list[bytes]:
    rnd = random.Random(seed)
    sizes = [rnd.choice((0, 1, spill.MIN_SIZE - 1, spill.MIN_SIZE, 700, 3000, 20000)) for _ in range(n)]
    sizes[n // 2] = 3 * spill.FLUSH  # one value larger than a flush
    return [rnd.randbytes(s) for s in sizes]


def test_every_value_comes_back_whole_and_a_handle_off_by_one_does_not():
    store = spill.Spill()
    given = values(600)
    handles = [store.add(v) for v in given]
    assert [h is None for h in handles] == [len(v) < spill.MIN_SIZE for v in given]  # small ones stay with the caller
    assert store.size() == sum(len(v) for v in given if len(v) >= spill.MIN_SIZE) > 4 * spill.FLUSH  # some flushed
    assert store._base > 0 and store._buf  # part in the file, part in the buffer: both are read
    got = [store.get(h) if h is not None else v for h, v in zip(handles, given)]
    assert got == given
    # the comparison above sees one byte's shift: the neighbouring offset reads other bytes
    i = next(i for i, v in enumerate(given) if len(v) == 3000)
    assert store.get(handles[i] + (1 << 32)) != given[i]
    store.close()


def test_values_read_back_in_any_order_come_back_whole():
    """Read in the order added, values come from a window read ahead; out of order, each is read alone."""
    store = spill.Spill()
    given = values(900, seed=5)
    handles = [store.add(v) for v in given]
    kept = [(h, v) for h, v in zip(handles, given) if h is not None]
    order = list(range(len(kept)))
    random.Random(2).shuffle(order)
    runs = order[:40] + list(range(len(kept))) + order[40:] + list(range(10, 20)) + list(range(5, 30))
    assert [store.get(kept[i][0]) for i in runs] == [kept[i][1] for i in runs]
    assert store._window is not None  # the sequential reads went through the window
    store.close()


def test_a_forked_child_reads_the_parents_values_and_keeps_its_own():
    store = spill.Spill()
    given = values(300, seed=11)
    handles = [store.add(v) for v in given]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: every value, from its copy of the buffer and the shared file
        ok = all(store.get(h) == v for h, v in zip(handles, given) if h is not None)
        ok = ok and store.add(b"x" * 1000) is None  # the file's space past its copy is the parent's
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    os.close(read)
    more = [store.add(v) for v in given]  # the parent goes on adding after the fork
    assert [store.get(h) for h in handles + more if h is not None] == \
        [v for v in given + given if len(v) >= spill.MIN_SIZE]
    store.close()


def test_a_file_that_cannot_be_made_keeps_the_values_with_the_caller(tmp_path):
    store = spill.Spill(directory=str(tmp_path / "missing"))
    assert store.add(b"v" * 1000) is None and store.size() == 0


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to list open files")
def test_the_file_is_unlinked_from_the_start():
    store = spill.Spill()
    assert store.add(b"v" * 1000) is not None
    target = os.readlink(f"/proc/self/fd/{store._file.fileno()}")
    assert not os.path.exists(target) or "(deleted)" in target
    store.close()


def test_a_write_pickles_with_its_bytes_not_its_handle():
    import pickle

    from snaprewrite.etcd import writes
    from snaprewrite.etcd.kv import KeyValue
    from snaprewrite.etcd.mvcc import Record
    from snaprewrite.etcd.revision import Revision

    value = bytes(range(256)) * 4
    w = writes.Write.of(b"/registry/k", Record(Revision(9, 0), False, KeyValue(b"/registry/k", 3, 9, 2, b"old", 5)),
                        value)
    assert type(w.held) is int  # parked in the spill
    back = pickle.loads(pickle.dumps(w))
    assert back.held == value and back.value == value and back.base == w.base and back.key == w.key
    assert back == w  # equal by value, wherever each keeps it
    other = writes.Write.of(w.key, w.base, value[:-1] + b"x")
    assert other != w and other.base == w.base


def test_many_values_read_together_are_each_read_alone(monkeypatch):
    """get_many (values read in file order, neighbours with one pread) gives what get gives, in the order asked,
    from the file and the buffer, a value asked twice, one larger than a read; with far fewer reads."""
    store = spill.Spill()
    given = values(1200, seed=13)
    handles = [store.add(v) for v in given]
    kept = [(h, v) for h, v in zip(handles, given) if h is not None]
    assert store._buf and store._base > spill.SPAN  # part in the buffer, and more in the file than one read
    reads = []
    real = store._pread
    monkeypatch.setattr(store, "_pread", lambda at, n: reads.append(n) or real(at, n))
    rnd = random.Random(4)
    order = rnd.sample(range(len(kept)), len(kept))
    for asked in (order, list(range(len(kept))), [3, 3, 0, len(kept) - 1, 3], [], order[:7]):
        assert store.get_many([kept[i][0] for i in asked]) == [kept[i][1] for i in asked]
    assert len(reads) < len(kept) // 4  # nearby values came together
    # one byte off is seen: a neighbouring offset reads other bytes
    i = next(i for i, (_, v) in enumerate(kept) if len(v) == 3000)
    assert store.get_many([kept[i][0] + (1 << 32)]) != [kept[i][1]]
    store.close()


def test_a_text_reads_back_as_the_string_it_stands_for():
    """``spill.Text``: pieces kept in the spill (long) or in memory (short) read back decoded, one piece at a time or
    whole; ``in`` finds a match across pieces, and a text that differs by one character is not equal."""
    from snaprewrite.spill import Spill, Text

    pieces = [b"intro: ", b"a" * 300 + b"\xe2\x82", b", caf\xc3\xa9, " + b"b" * 200, b", \xff\xfe end"]
    spill = Spill()
    text = Text(spill)
    for p in pieces:
        text.append(p)
    plain = "".join(p.decode("utf-8", "backslashreplace") for p in pieces)
    assert str(text) == plain and text == plain and plain == text and len(text) == len(plain)
    assert list(text.chunks()) == [p.decode("utf-8", "backslashreplace") for p in pieces]
    assert "a\\xe2\\x82, caf\u00e9" in text and "ab" not in text and "\\xff\\xfe end" in text
    assert text != plain[:-1] + "x" and text[:7] == "intro: " and text.endswith(" end")
    more = Text(spill)
    more.append(b"x" * 200)
    more.extend(text)
    assert more == "x" * 200 + plain
    with pytest.raises(ValueError):
        Text(Spill()).extend(text)


def test_long_report_items_are_written_in_pieces_as_json_dumps_writes_them():
    """A list item longer than ``jsontext.BIG`` (a plain string, or a ``spill.Text``) is handed over in pieces, none
    near its length, that join to ``json.dumps``'s text."""
    import json
    import random

    from snaprewrite import jsontext
    from snaprewrite.spill import Spill, Text

    rnd = random.Random(3)
    long = "".join(rnd.choice('ab"\\\n\t\x01\u00e9\u20ac\U0001f600/ ,') for _ in range(jsontext.BIG + 5000))
    text = Text(Spill())
    for at in range(0, len(long), 70000):
        text.append(long[at : at + 70000].encode())
    rep = {"n": 1, "warnings": [{"key": "k", "message": long}, {"key": "s", "message": "short"},
                                {"key": "t", "message": text}], "z": [None]}
    plain = {**rep, "warnings": [{**w, "message": str(w["message"])} for w in rep["warnings"]]}
    for ascii_only in (True, False):
        out = []
        jsontext.write(rep, out.append, ensure_ascii=ascii_only)
        assert "".join(out) == json.dumps(plain, indent=2, ensure_ascii=ascii_only) + "\n"
        assert len(out) > 2 and max(map(len, out)) <= jsontext.BIG + 12 * jsontext.CHUNK  # (an escape: 12 at most)
