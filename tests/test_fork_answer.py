"""A forked child's function that returns bytes has them passed as they are (``process.fork_call``).

They come back whole (any byte, a JSON-looking start too) in one buffer of their announced size: the
parent reads a big answer without a second copy (its peak RSS grows by the answer, not three times it).
An answer cut short is the child's death, never a shorter or zero-filled buffer.
"""

import pytest

from snaprewrite import process

MIB = 1 << 20
pytestmark = pytest.mark.skipif(not process.may_fork(), reason="no fork")


def test_bytes_come_back_as_they_are():
    payload = bytes(range(256)) * 4099 + b"\0{"
    for answer in (payload, b'{"ok": 1}', b"", bytearray(b"\0\0")):
        assert process.fork_call(lambda a=answer: a, "test").result() == answer
    assert process.fork_call(lambda: {"ok": [1]}, "test").result() == {"ok": [1]}  # JSON answers as before


def test_a_cut_answer_is_the_childs_death(monkeypatch):
    monkeypatch.setattr(process, "_answer", lambda fn: (process.RAW + (100).to_bytes(8, "little"), b"short"))
    with pytest.raises(RuntimeError, match="test: its process ended without its whole answer"):
        process.fork_call(lambda: b"", "test").result()


def test_a_big_answer_is_read_into_one_buffer_of_its_size():
    """The buffer is allocated once, at the size the child announced: not grown as the pipe gives (a buffer grown
    in the heap of a run that has freed big blocks before left copies behind: +31 MiB for a 10 MB answer)."""
    size = 24 * MIB + 5
    got = process.fork_call(lambda: b"x" * size, "test").result()
    assert len(got) == size and got.count(b"x") == size
    assert got.__alloc__() == size + 1  # (a bytearray keeps one byte past its end)
