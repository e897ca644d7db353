"""Hypothesis strategies for mutated snapshots (shared by the fuzz tests and ``tests/fuzz_long.py``)."""

import fuzzlib as F
from hypothesis import strategies as st

ANY_INT = st.integers(0, 1 << 32)
BYTE_OPS = st.one_of(
    st.tuples(st.just("flip"), ANY_INT, st.integers(0, 7)),
    st.tuples(st.just("set"), ANY_INT, st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x0A, 0x12, 0x22])),
    st.tuples(st.just("value"), ANY_INT, ANY_INT, st.integers(1, 255)),
)
OBJECT_OPS = st.tuples(st.just("object"), ANY_INT, ANY_INT, st.sampled_from([0x01, 0x80, 0xFF, 0x07, 0x05, 0x7F]))
EXTREME = st.sampled_from(F.EXTREMES64) | st.integers(0, 64)
STRUCT_OPS = st.one_of(
    st.tuples(st.just("swap"), ANY_INT, ANY_INT),
    st.tuples(st.just("copy"), ANY_INT, ANY_INT),
    st.tuples(st.just("header"), ANY_INT, st.sampled_from(sorted(F.HEADER_FIELDS)), EXTREME),
    st.tuples(st.just("elem"), ANY_INT, ANY_INT, st.sampled_from(["flags", "pos", "ksize", "vsize", "pgid"]),
              st.sampled_from(F.EXTREMES32) | st.integers(0, 64)),
)
META_OPS = st.tuples(st.just("meta"), st.integers(0, 1), st.sampled_from(sorted(F.META_FIELDS)), EXTREME,
                     st.booleans())
TRUNCATE_OPS = st.tuples(st.just("truncate"), ANY_INT)
ALL_OPS = st.one_of(BYTE_OPS, OBJECT_OPS, STRUCT_OPS, META_OPS, TRUNCATE_OPS)
TRAILERS = st.sampled_from(["fix", "fix", "fix", "keep", "none"])


def mutations(seeds, ops=ALL_OPS, max_ops: int = 3, cut: bool = True):
    """mutations draws Mutation values over ``seeds`` with up to ``max_ops`` of ``ops``."""
    return st.builds(
        F.Mutation,
        st.sampled_from(list(seeds)),
        st.lists(ops, min_size=1, max_size=max_ops).map(tuple),
        TRAILERS,
        st.none() | st.integers(0, 1 << 22) if cut else st.none(),
    )
