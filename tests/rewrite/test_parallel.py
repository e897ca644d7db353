"""OrderedPool gives each item's result, in the order added, whether workers run it or this process does."""

import pytest

from snaprewrite.rewrite import parallel


def square_all(xs: list[int]) -> list[int]:
    return [x * x for x in xs]


def fail_on_7(xs: list[int]) -> list[int]:
    if 7 in xs:
        raise ValueError("seven")
    return xs


@pytest.mark.parametrize("workers", [0, 2])
def test_results_come_back_in_order(workers, monkeypatch):
    monkeypatch.setattr(parallel, "BATCH", 3)  # many batches, several in flight
    got = []
    with parallel.OrderedPool(workers, square_all, lambda tag, r: got.append((tag, r)), preload=__name__) as pool:
        for i in range(50):
            pool.add(f"t{i}", i)
        pool.finish()
    assert got == [(f"t{i}", i * i) for i in range(50)]


def test_an_error_in_a_worker_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(parallel, "BATCH", 2)
    with pytest.raises(ValueError, match="seven"), parallel.OrderedPool(2, fail_on_7, lambda t, r: None) as pool:
        for i in range(20):
            pool.add(i, i)
        pool.finish()


# ---- halves: a list shared with a forked child, front and back


def _cube(x: int) -> int:
    return x * x * x


@pytest.mark.parametrize("n", [0, 1, 5, 257, 1000])
def test_halves_equals_the_plain_loop(n, monkeypatch):
    monkeypatch.setattr(parallel, "CHUNK", 7)
    monkeypatch.delenv("SNAPREWRITE_NO_FORK", raising=False)
    assert parallel.halves(_cube, list(range(n)), "cubes", min_split=1) == [_cube(x) for x in range(n)]


def test_halves_really_shares_the_work(monkeypatch):
    import os
    import time

    monkeypatch.setattr(parallel, "CHUNK", 4)
    monkeypatch.delenv("SNAPREWRITE_NO_FORK", raising=False)
    me = os.getpid()

    def who(x):
        time.sleep(0.001)
        return os.getpid()

    pids = parallel.halves(who, list(range(400)), "pids", min_split=1)
    assert pids[0] == me and pids[-1] != me  # the front here, the back in the child
    assert pids == sorted(pids, key=lambda p: p != me)  # one border: the child's part is the tail


@pytest.mark.parametrize("bad", [3, 150, 397])
def test_halves_raises_the_first_error_of_the_plain_loop(bad, monkeypatch):
    monkeypatch.setattr(parallel, "CHUNK", 8)
    monkeypatch.delenv("SNAPREWRITE_NO_FORK", raising=False)

    def fail(x):
        if x in (bad, bad + 1, 399):
            raise ValueError(f"item {x}")
        return x

    with pytest.raises(ValueError, match=f"^item {bad}$"):
        parallel.halves(fail, list(range(400)), "failing", min_split=1)


def test_halves_survives_a_child_that_dies(monkeypatch):
    import os

    monkeypatch.setattr(parallel, "CHUNK", 8)
    monkeypatch.delenv("SNAPREWRITE_NO_FORK", raising=False)
    me = os.getpid()

    def die_in_child(x):
        if os.getpid() != me:
            os._exit(3)
        return x + 1

    assert parallel.halves(die_in_child, list(range(300)), "dying", min_split=1) == list(range(1, 301))


def test_halves_without_fork_is_the_plain_loop(monkeypatch):
    import os

    monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    me = os.getpid()
    assert parallel.halves(lambda x: os.getpid(), list(range(50)), "here", min_split=1) == [me] * 50
