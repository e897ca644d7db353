"""Replay every saved crasher of tests/corpus/: each once broke the CLI contract, none may again.

An entry is ``<sha>.txt`` (first line ``mutation: {...}``, then what failed) and, unless it was made
from the real snapshot (which holds Secrets and is not committed), the input itself as ``<sha>.db``.
"""

import fuzzlib as F
import pytest

ENTRIES = F.corpus_entries()


def test_corpus_is_not_empty():
    assert ENTRIES, "tests/corpus/ holds no entries"


@pytest.mark.parametrize("txt", ENTRIES, ids=lambda p: p.stem)
def test_corpus_entry_keeps_the_contract(txt, tmp_path):
    seed, data = F.load_entry(txt)
    if not seed.path.is_file():
        pytest.skip(f"seed {seed.name} not found at {seed.path}")
    failures = F.run_all(seed, data, tmp_path / "w")
    assert not failures, f"{txt.name}: " + "; ".join(f"{a[0]}: {why}" for a, why in failures)
