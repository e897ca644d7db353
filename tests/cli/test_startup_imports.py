"""`snaprewrite --help` imports only the command line: no snapshot layer, no protobuf, no rich.

The help is printed in well under 0.15 s on an idle core only if the layers below the CLI stay unloaded;
this checks what is loaded (a deterministic stand-in for the timing, which a busy CI machine would blur).
"""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import sys
sys.argv = ["snaprewrite", "--help"]
from snaprewrite.cli import main
try:
    main()
except SystemExit:
    pass
heavy = ("snaprewrite.etcd", "snaprewrite.bbolt", "snaprewrite.k8s", "snaprewrite.rewrite", "rich",
         "google.protobuf", "crc32c", "yaml")
loaded = sorted(m for m, mod in sys.modules.items() if m.startswith(heavy)
                and type(mod).__name__ != "_LazyModule")
print("LOADED", loaded, file=sys.stderr)
"""


def _loaded(code: str) -> tuple[str, str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    line = next(x for x in out.stderr.splitlines() if x.startswith("LOADED"))
    return out.stdout, line


def test_help_loads_no_snapshot_layer():
    stdout, loaded = _loaded(PROBE)
    assert "Commands:" in stdout and "rewrite" in stdout
    assert loaded == "LOADED []"


def test_a_command_still_loads_what_it_needs():
    """The lazy modules really load on use: `status` on a fixture reads it through the etcd layer."""
    fixture = REPO / "fixtures" / "k8s-etcd35.db"
    stdout, loaded = _loaded(PROBE.replace('"--help"]', f'"status", "{fixture}", "-o", "json"]'))
    assert '"revision": 59' in stdout
    assert "snaprewrite.etcd.snapshot" in loaded and "snaprewrite.bbolt.pages" in loaded
