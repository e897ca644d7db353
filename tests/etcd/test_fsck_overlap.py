"""fsck hashes the file for the trailer in a thread while it checks the pages: the problems are those of
doing one after the other (page problems first, then the trailer), and a healthy file has none."""

import hashlib

from snaprewrite.bbolt.check import check as check_pages
from snaprewrite.etcd.fsck import fsck
from snaprewrite.etcd.snapshot import Snapshot


def one_after_the_other(path) -> list[str]:
    """the plain order: pages, then the trailer's sha256 (what fsck did before the hash ran in a thread)."""
    with Snapshot(path) as snap:
        problems = list(check_pages(snap.pages, 100))
        stored, got = snap.stored_trailer(), snap.compute_sha256()
        if stored != got:
            problems.append(f"sha256 trailer mismatch: stored {stored.hex()}, data hashes to {got.hex()}")
        return problems


def run(path) -> list[str]:
    with Snapshot(path) as snap:
        return fsck(snap)


def test_healthy_file_has_no_problem(fixture_path):
    assert run(fixture_path("k8s-etcd35.db")) == [] == one_after_the_other(fixture_path("k8s-etcd35.db"))


def test_bad_trailer_alone_and_with_a_bad_page(fixture_path, tmp_path):
    """MUST FAIL: a wrong trailer is reported with both hashes; with a broken page too, both are, pages first."""
    data = bytearray(fixture_path("k8s-etcd35.db").read_bytes())
    data[-1] ^= 1
    bad = tmp_path / "trailer.db"
    bad.write_bytes(bytes(data))
    problems = run(bad)
    want = f"stored {bytes(data[-32:]).hex()}, data hashes to {hashlib.sha256(data[:-32]).hexdigest()}"
    assert problems == [f"sha256 trailer mismatch: {want}"] == one_after_the_other(bad)
    with Snapshot(bad) as snap:
        ps, root = snap.pages.page_size, snap.pages.meta.root
    data[root * ps : root * ps + 8] = (root + 1).to_bytes(8, "little")  # the root page claims another id
    both = tmp_path / "both.db"
    both.write_bytes(bytes(data))
    problems = run(both)
    assert len(problems) >= 2 and problems[-1].startswith("sha256 trailer mismatch") and problems == one_after_the_other(both)
