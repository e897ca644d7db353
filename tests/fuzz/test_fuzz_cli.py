"""Every command on mutated real snapshots keeps the CLI contract (exit 0/1, one error line, no traceback, no hang).

Seeds: the committed fixtures and the real kubeadm snapshot (read into memory; the original is never
touched). Hypothesis runs derandomized with a fixed example budget, so ``make test`` sees the same
inputs every time; ``make fuzz`` (tests/fuzz_long.py) runs the same strategies for longer, at random.
"""

import fuzzlib as F
import pytest
import strategies as S
from hypothesis import HealthCheck, given, settings

FIXTURE_SEEDS = ["tiny35", "tiny34", "k8s35", "k8s34"]
FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def assert_contract(seed: F.Seed, m: F.Mutation, workdir, subprocess_every: int = 0) -> None:
    """assert_contract runs every command on the mutated input and fails naming the mutation and the break."""
    failures = F.run_all(seed, F.build(m), workdir, subprocess_every)
    assert not failures, f"{m.describe()}: " + "; ".join(f"{' '.join(a[:1])}: {why}" for a, why in failures)


@settings(FUZZ, max_examples=30)
@given(m=S.mutations(FIXTURE_SEEDS, S.BYTE_OPS))
def test_byte_corruption(m, tmp_path_factory):
    assert_contract(F.SEEDS[m.seed], m, tmp_path_factory.getbasetemp() / "bytes")


@settings(FUZZ, max_examples=30)
@given(m=S.mutations(["k8s35", "k8s34"], S.OBJECT_OPS, max_ops=4, cut=False))
def test_kubernetes_object_corruption(m, tmp_path_factory):
    """Bytes of stored Services, Nodes, ConfigMaps...: read commands go on, rewrite plans or refuses cleanly."""
    assert_contract(F.SEEDS[m.seed], m, tmp_path_factory.getbasetemp() / "objects")


@settings(FUZZ, max_examples=30)
@given(m=S.mutations(FIXTURE_SEEDS, S.STRUCT_OPS, cut=False))
def test_page_and_element_fields(m, tmp_path_factory):
    assert_contract(F.SEEDS[m.seed], m, tmp_path_factory.getbasetemp() / "struct")


@settings(FUZZ, max_examples=25)
@given(m=S.mutations(FIXTURE_SEEDS, S.META_OPS, max_ops=2, cut=False))
def test_meta_fields(m, tmp_path_factory):
    assert_contract(F.SEEDS[m.seed], m, tmp_path_factory.getbasetemp() / "meta")


@settings(FUZZ, max_examples=25)
@given(m=S.mutations(FIXTURE_SEEDS, S.TRUNCATE_OPS, max_ops=1))
def test_truncation(m, tmp_path_factory):
    assert_contract(F.SEEDS[m.seed], m, tmp_path_factory.getbasetemp() / "truncate")


@settings(FUZZ, max_examples=10)
@given(m=S.mutations(["real"], S.ALL_OPS))
def test_real_snapshot_mutations(m, tmp_path_factory, real_snapshot):
    assert_contract(F.SEEDS[m.seed], m, tmp_path_factory.getbasetemp() / "real")


SUBPROCESS_SAMPLE = [
    F.Mutation("k8s35", (("value", 7, 40, 0xFF),)),
    F.Mutation("k8s34", (("elem", 3, 1, "pgid", 0xFFFFFFFF),)),
    F.Mutation("tiny35", (("meta", 0, "pgid", 1 << 63, True), ("meta", 1, "pgid", 1 << 63, True))),
    F.Mutation("k8s35", (("truncate", 50000),), "fix"),
]


@pytest.mark.parametrize("m", SUBPROCESS_SAMPLE, ids=lambda m: m.seed + "-" + m.ops[0][0])
def test_subprocess_sample(m, tmp_path):
    """Real processes: real stderr, a memory limit (RLIMIT_AS), a timeout; every 3rd command of each input."""
    assert_contract(F.SEEDS[m.seed], m, tmp_path / "w", subprocess_every=3)
