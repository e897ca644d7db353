"""A second signal after the first is acted on must not kill the process (Ctrl-C reaches it twice).

Ctrl-C sends SIGINT to the whole process group: the working process gets it, and so does its supervisor, which
passes its own copy on. The first is acted on (cleanups, one line, exit 128 + n); the copy may arrive while
Python shuts down, when Python has put its handlers back to the default, and then killed the process after its
line (the supervisor printed a second: "killed by SIGINT"). The kernel must ignore the rest from the first on.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}

FIRST_SIGNAL = """
import os, signal, sys
from snaprewrite import process
process.install()
try:
    with process.armed():
        os.kill(os.getpid(), signal.Signals[sys.argv[1]])
        for _ in range(1000):
            pass
    print("not interrupted")
except process.Interrupted:
    pass
with open("/proc/self/status") as f:
    ignored = int(next(line for line in f if line.startswith("SigIgn:")).split()[1], 16)
print(" ".join(str(int(bool(ignored >> (s - 1) & 1))) for s in process.SIGNALS))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the kernel's signal dispositions in /proc")
@pytest.mark.parametrize("first", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_after_the_first_signal_the_kernel_ignores_the_rest(first):
    p = subprocess.run([sys.executable, "-c", FIRST_SIGNAL, first], capture_output=True, text=True, env=ENV,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["1", "1", "1"], p.stdout  # SIGINT, SIGTERM, SIGHUP: each ignored by the kernel
