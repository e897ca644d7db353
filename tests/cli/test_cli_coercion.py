"""clihelp._Plain coerces command-line values as typer's pydantic adapters do, without loading pydantic.

Every parameter of every command is given the same values through both (``_Plain`` and typer's own
``build_runtime_param``): the results, or the errors' words, must be equal. A run of ``status -o json``
must import neither pydantic nor rich (together ~0.15-0.2 s of its start) and must print what it did.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from typer import _click as click
from typer import _coercion
from typer.main import get_command

from snaprewrite import cli, clihelp

REPO = Path(__file__).resolve().parents[2]
VALUES = ["json", "JSON", "table", "fields", "xml", "yaml", "text", "", "-", "a", "10.0.0.0/8=10.1.0.0/16",
          "/registry/", "/nonexist", "/tmp", str(REPO / "fixtures" / "k8s-etcd35.db"), None, "7", "1.5"]


def _outcome(rp, value, param, ctx):
    try:
        got = rp.coerce(value, param=param, ctx=ctx)
        return "ok", type(got), got
    except click.exceptions.ClickException as e:
        return "error", type(e), e.format_message()
    except Exception as e:  # noqa: BLE001 - compared, not swallowed
        return "raised", type(e), str(e)


def _params():
    group = get_command(cli.app)
    for name, cmd in sorted(group.commands.items()):
        ctx = click.Context(cmd, info_name=name)
        for p in cmd.get_params(ctx):
            if hasattr(p, "type_descriptor"):
                yield name, cmd, ctx, p


def test_plain_coercion_equals_typers_for_every_parameter():
    checked = fast = 0
    for name, _cmd, ctx, p in _params():
        plain = clihelp._Plain(p)
        typers = _coercion.build_runtime_param(p.type_descriptor)
        for v in VALUES:
            want = _outcome(typers, v, p, ctx)
            assert _outcome(plain, v, p, ctx) == want, (name, p.name, v)
            checked += 1
        fast += plain.full is None  # answered every value without typer's adapter
    assert checked > 200 and fast >= 10


def test_plain_coercion_falls_back_for_what_it_does_not_know():
    """A value typer's adapter must judge (a list, an int for a str option) goes to it, with its words."""
    _, _cmd, ctx, p = next(x for x in _params() if x[0] == "status" and x[3].name == "output")
    plain = clihelp._Plain(p)
    assert plain.coerce("json", param=p, ctx=ctx) == cli.StatusFormat.json and plain.full is None
    with pytest.raises(click.exceptions.BadParameter) as e:
        plain.coerce("xml", param=p, ctx=ctx)
    assert "xml" in e.value.format_message() and plain.full is not None


def test_status_loads_no_pydantic_and_prints_the_same():
    """status -o json loads neither pydantic nor rich, and prints what it prints with typer's own coercion."""
    fixture = REPO / "fixtures" / "k8s-etcd35.db"
    probe = (f"import sys\nsys.argv = ['snaprewrite', 'status', {str(fixture)!r}, '-o', 'json']\n"
             "from snaprewrite.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
             "print('HEAVY', sorted(m for m in sys.modules if m.startswith(('pydantic', 'rich'))), file=sys.stderr)\n")
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "SNAPREWRITE_NO_FORK": "1"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env)
    assert "HEAVY []" in out.stderr  # nor rich: JSON needs no console (report.consoles)
    plain = subprocess.run([sys.executable, "-c", probe.replace("from snaprewrite.cli import main",
                                                                "import typer.core, typer._adapters\n"
                                                                "from snaprewrite import clihelp\n"
                                                                "clihelp.plain_coercion = lambda c, x: None\n"
                                                                "from snaprewrite.cli import main")],
                           capture_output=True, text=True, timeout=120, env=env)
    assert "HEAVY ['pydantic" in plain.stderr  # the plain run really took typer's adapters
    assert out.stdout == plain.stdout and '"revision": 59' in out.stdout
