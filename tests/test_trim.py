"""process.trim hands the C heap's freed pages back, and a forked child does not map what its parent freed.

A forked child's RSS counts every resident page of its parent (peak RSS is the max over the processes):
memory a run frees before it forks (the plan's scan) must not stay resident in the heap and be counted
twice. Needs glibc's ``malloc_trim`` (skipped elsewhere).
"""

import pytest

from snaprewrite import process

MIB = 1 << 20


def rss_anon() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("RssAnon:"))


def glibc() -> bool:
    process.trim()
    return bool(process._malloc_trim)


def freed_heap() -> tuple[int, list[bytes]]:
    """freed_heap fills 40 MB of the C heap and frees all but every 64th block; returns RssAnon then and the kept.

    The kept blocks pin the freed runs between them inside the heap, where ``free`` leaves them resident.
    """
    blocks = [bytes(4000) + bytes([i % 251]) for i in range(10000)]  # malloc'd: under the mmap threshold
    kept = blocks[::64]
    del blocks
    return rss_anon(), kept


@pytest.mark.skipif(not glibc(), reason="no malloc_trim (not glibc)")
def test_trim_returns_freed_heap_pages():
    before, _pin = freed_heap()
    process.trim()
    assert before - rss_anon() > 25 * MIB


@pytest.mark.skipif(not glibc() or not process.may_fork(), reason="no malloc_trim or no fork")
def test_a_forked_child_does_not_map_what_its_parent_freed():
    before, _pin = freed_heap()
    with process.fork_call(rss_anon, "rss probe") as child:
        in_child = child.result()
    assert before - in_child > 25 * MIB
