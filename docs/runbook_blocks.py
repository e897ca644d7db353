"""Regenerate the runbook blocks of docs/runbook.md from what ``snaprewrite rewrite`` prints (``make runbook-docs``).

The runbook has one source, ``snaprewrite/rewrite/runbook.py``. Each case below runs the real command
line (``rewrite --dry-run``) on the real kubeadm 1.18 snapshot, named ``pre-migration.db`` as in the
docs, and puts the printed runbook between the case's markers:

    <!-- runbook:begin both -->
    ```text
    1. Rehearse on a copy while the cluster still runs
    ...
    ```
    <!-- runbook:end both -->

``--check`` exits 1 when the docs differ from what the tool prints (tests/rewrite/test_runbook.py does
the same check in the test suite).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "runbook.md"
REAL_SNAPSHOT = ROOT.parent / "shared" / "real" / "kubeadm-1.18-kube-router.snapshot.db"
HEADER = "What remains, in order (docs/runbook.md explains each step):"

SERVICE = ("--service-cidr", "10.96.0.0/12=10.128.0.0/12")
POD = ("--pod-cidr", "10.5.0.0/16=10.6.0.0/16")
CASES: dict[str, tuple[str, ...]] = {
    "service-only": SERVICE,
    "pod-only": POD,
    "both": SERVICE + POD,
    "reduced-downtime": SERVICE + ("--exclude", "kube-system/kube-dns"),
}
_BLOCK = re.compile(r"<!-- runbook:begin (?P<case>[\w-]+) -->\n```text\n(?P<body>.*?)```\n<!-- runbook:end (?P=case) -->",
                    re.S)


def real_snapshot() -> Path:
    """real_snapshot is the kubeadm 1.18 snapshot (``$SNAPREWRITE_REAL_SNAPSHOT`` or ../shared/real)."""
    return Path(os.environ.get("SNAPREWRITE_REAL_SNAPSHOT", REAL_SNAPSHOT))


def run_rewrite(snapshot: Path, args: tuple[str, ...], *extra: str) -> subprocess.CompletedProcess:
    """run_rewrite runs ``snaprewrite rewrite pre-migration.db --dry-run --out migrated.db ARGS`` as an operator would."""
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(os.path.abspath(snapshot), os.path.join(tmp, "pre-migration.db"))
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        done = subprocess.run(
            [sys.executable, "-c", "from snaprewrite.cli import main; main()", "rewrite", "pre-migration.db",
             "--dry-run", "--out", "migrated.db", *args, *extra],
            cwd=tmp, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"rewrite {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def printed_runbook(stdout: str) -> str:
    """printed_runbook is the runbook part of ``rewrite``'s table output (everything after its header)."""
    if HEADER not in stdout:
        raise ValueError("the rewrite printed no runbook")
    return stdout.split(HEADER + "\n", 1)[1]


def generate(snapshot: Path) -> dict[str, str]:
    """generate returns each case's printed runbook."""
    return {case: printed_runbook(run_rewrite(snapshot, args).stdout) for case, args in CASES.items()}


def blocks(text: str) -> dict[str, str]:
    """blocks returns the runbook blocks of the docs, by case."""
    return {m["case"]: m["body"] for m in _BLOCK.finditer(text)}


def update(text: str, generated: dict[str, str]) -> str:
    """update replaces every case's block in the docs' text (each must have its markers already)."""
    missing = set(generated) - set(blocks(text))
    if missing:
        raise ValueError(f"docs/runbook.md has no markers for {', '.join(sorted(missing))}")
    return _BLOCK.sub(lambda m: (f"<!-- runbook:begin {m['case']} -->\n```text\n{generated[m['case']]}```\n"
                                 f"<!-- runbook:end {m['case']} -->"), text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/runbook.md differs; write nothing")
    args = ap.parse_args()
    text = DOC.read_text()
    if not real_snapshot().is_file():
        print(f"{real_snapshot()} not found: set SNAPREWRITE_REAL_SNAPSHOT", file=sys.stderr)
        return 2
    new = update(text, generate(real_snapshot()))
    if args.check:
        if new != text:
            print("docs/runbook.md differs from the printed runbook: run make runbook-docs", file=sys.stderr)
            return 1
        return 0
    if new != text:
        DOC.write_text(new)
        print("docs/runbook.md updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
