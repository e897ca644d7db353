"""``standby.Standby``: a child forked early that is sent its work later (``call``) answers as ``fork_call``'s does.

Its resident set is the early process's, not the caller's at the call (the point of it); the function and
its arguments go pickled, data ``pieces`` one at a time. A request cut short or garbled is refused (the
child ends without an answer: the caller's ``died``), never half run; a standby never called is ended and
reaped; a child killed is a death, not an answer.
"""

import os
import signal

import pytest

from snaprewrite import process
from snaprewrite import standby as sb

pytestmark = pytest.mark.skipif(not process.may_fork(), reason="no fork")
MIB = 1 << 20


class Refused(Exception):
    pass


def _sum(held, extra, pieces=None):
    return [held, extra, [x for p in pieces or [] for x in p]]


def _raises(message):
    raise Refused(message)


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def _reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_answer_is_the_functions_with_held_args_and_pieces():
    with sb.Standby("test", held=("held",)) as standby:
        call = standby.call(_sum, 5, pieces=iter([[1, 2], [3], []]))
        assert call.result() == ["held", 5, [1, 2, 3]]
    with sb.Standby("test", held=(1,)) as standby:
        assert standby.call(_sum, 2).result() == [1, 2, []]  # no pieces: no last argument
    with sb.Standby("test") as standby:
        assert bytes(standby.call(bytes, 3).result()) == b"\0\0\0"  # bytes come back as fork_call's do


def test_the_child_holds_what_its_parent_had_at_the_fork_not_at_the_call():
    """The point: memory the caller holds at the call is not in the child's resident set (it was forked before)."""
    with sb.Standby("test") as standby:
        big = bytearray(os.urandom(1)) * (64 * MIB)  # resident in this process only
        big[:: 4096] = b"\1" * len(big[:: 4096])
        assert standby.call(_rss_kib).result() < _rss_kib() - 48 * 1024
        del big


def test_errors_pass_as_fork_calls_do():
    with sb.Standby("test") as standby, pytest.raises(Refused, match="no way"):
        standby.call(_raises, "no way", passes=(Refused,)).result()
    with sb.Standby("test") as standby, pytest.raises(process.ChildFailed, match="Refused: no way"):
        standby.call(_raises, "no way").result()
    with sb.Standby("test") as standby, pytest.raises(Refused, match="test: its process was killed by SIGKILL"):
        standby.call(_die, died=Refused).result()
    standby = sb.Standby("test")
    call = standby.call(_sum, 1, 2)
    with pytest.raises(RuntimeError, match="used or closed"):
        standby.call(_sum, 1, 2)
    assert call.result() == [1, 2, []]


def _requests():
    """Every request the child must refuse: cut at each place, a wrong head, a garbled pickle, a wrong shape."""
    good = sb.REQUEST + _frame((_sum, (1, 2), True)) + _frame([3]) + bytes(8)
    for cut in (0, 3, len(sb.REQUEST) + 4, len(sb.REQUEST) + 9, len(good) - 9, len(good) - 1):
        yield good[:cut]
    yield b"SNAPREQ0" + good[8:]
    yield sb.REQUEST + (5).to_bytes(8, "little") + b"\x80\x05junk"
    yield sb.REQUEST + _frame(("not callable", (), False))
    yield sb.REQUEST + _frame((_sum, [1], False))  # args not a tuple
    yield sb.REQUEST + bytes(8)  # an empty first frame
    yield sb.REQUEST + _frame((_sum, (1, 2), True)) + _frame([3]) + (1 << 62).to_bytes(8, "little")


def _frame(obj) -> bytes:
    data = sb.pickle.dumps(obj)
    return len(data).to_bytes(8, "little") + data


def _read(data: bytes):
    r, w = os.pipe()
    try:
        os.write(w, data)
        os.close(w)
        return sb._read_request(r)
    finally:
        os.close(r)


def test_a_short_or_garbled_request_is_refused():
    """MUST FAIL: every damaged request reads as None (refused); the whole one reads as its call."""
    assert _read(sb.REQUEST + _frame((_sum, (1, 2), True)) + _frame([3]) + bytes(8)) == (_sum, (1, 2, [[3]]))
    assert _read(sb.REQUEST + _frame((_sum, (1, 2), False))) == (_sum, (1, 2))
    for damaged in _requests():
        assert _read(damaged) is None, damaged


def test_a_child_sent_a_cut_request_ends_without_running_it(monkeypatch, tmp_path):
    """End to end: the request cut short on its way (the pieces' end never comes) is refused: ``died``, and the
    function never ran (it would have written the file)."""
    mark = tmp_path / "ran"
    real = sb._write_all

    def cut(fd, data):
        if data == bytes(8):  # the end of the pieces: not sent
            return
        real(fd, data)

    monkeypatch.setattr(sb, "_write_all", cut)
    with sb.Standby("test") as standby, pytest.raises(Refused, match="test: its process ended without an answer"):
        standby.call(_touch, str(mark), pieces=iter([[1]]), died=Refused).result()
    assert not mark.exists()


def _touch(path, pieces):
    open(path, "w").close()
    return 1


def test_a_standby_not_called_is_ended_and_reaped():
    standby = sb.Standby("test", spool=True)
    pid, spool = standby.pid, standby.spool
    standby.close()
    standby.close()
    assert _reaped(pid) and spool.closed and standby.spool is None
    with sb.standbys({"a": (), "b": ()}):
        taken = sb.take("a")
        left = sb._reserved["b"].pid
        assert sb.take("a") is None
    assert _reaped(left) and sb.take("b") is None
    assert taken.call(_sum, 1, 2).result() == [1, 2, []]


def test_no_standby_where_work_may_not_fork(monkeypatch):
    monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    with sb.standbys({"a": ()}):
        assert sb.take("a") is None


def test_a_signal_while_sending_ends_the_child(monkeypatch):
    """An interrupt while the request is written (a big one blocks) kills and reaps the child."""
    real = sb._write_all
    standby = sb.Standby("test")
    pid = standby.pid

    def interrupted(fd, data):
        real(fd, data)
        raise process.Interrupted(signal.SIGINT)

    monkeypatch.setattr(sb, "_write_all", interrupted)
    with pytest.raises(process.Interrupted):
        standby.call(_sum, 1, 2)
    assert _reaped(pid)
