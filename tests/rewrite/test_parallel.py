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
