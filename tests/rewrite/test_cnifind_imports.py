"""``rewrite.cnifind`` repeats a few names of the rules so ``status`` runs without loading them: they must agree."""

import subprocess
import sys

from snaprewrite.rewrite import cnifind, facts
from snaprewrite.rewrite.rules import flannel


def test_constants_are_the_rules_own():
    assert cnifind.NODES == facts.NODES
    for name in ("SUBNET_KEY", "CONFIG_KEY"):
        mine, theirs = getattr(cnifind, name), getattr(flannel, name)
        assert (mine.pattern, mine.flags) == (theirs.pattern, theirs.flags), name


def test_status_path_loads_no_rules():
    code = ("import sys; from snaprewrite import query; from snaprewrite.rewrite import cnifind; "
            "print(sorted(m for m in sys.modules if m.startswith(('snaprewrite.rewrite.rules', 'snaprewrite.rewrite.facts'))))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
