"""The ``snaprewrite`` command line: parse arguments, call one library function, print through ``report``.

Exit codes: 0 success, 1 bad input or missing key (one line on stderr, no traceback), 2 usage.
"""

import enum
import functools
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml

from . import query, report
from .errors import SnapshotError, UsageError

app = typer.Typer(
    name="snaprewrite",
    help="Inspect and rewrite etcd snapshots of Kubernetes clusters offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class TableOrJson(str, enum.Enum):
    table = "table"
    json = "json"


class TextOrJson(str, enum.Enum):
    text = "text"
    json = "json"


class GetFormat(str, enum.Enum):
    yaml = "yaml"
    json = "json"
    raw = "raw"


SnapArg = Annotated[Path, typer.Argument(help="Snapshot file (etcdctl snapshot save) or raw member/snap/db.",
                                          show_default=False)]
ShowSecretsOpt = Annotated[bool, typer.Option("--show-secrets", help="Print Secret data (redacted by default).")]


def handles_errors(fn):
    """handles_errors turns library errors into one stderr line and exit 1 (usage errors: exit 2)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UsageError as e:
            report.error(str(e))
            raise typer.Exit(2) from None
        except SnapshotError as e:
            report.error(str(e))
            raise typer.Exit(1) from None
        except (OSError, MemoryError) as e:
            if isinstance(e, BrokenPipeError):
                raise typer.Exit(0) from None
            report.error(f"{type(e).__name__}: {e}")
            raise typer.Exit(1) from None

    return wrapper


@app.command()
@handles_errors
def status(
    snap: SnapArg,
    output: Annotated[TableOrJson, typer.Option("--output", "-o", help="Output format.")] = TableOrJson.table,
    verify: Annotated[bool, typer.Option("--verify", help="Also check the sha256 trailer (adds hashOk).")] = False,
):
    """Summarise a snapshot: etcdutl's hash/revision/totalKey/totalSize, buckets, resources."""
    with report.progress("scanning", None) as advance:
        st = query.status(str(snap), verify, advance)
    if output == TableOrJson.json:
        report.print_json(st)
    else:
        report.status_table(st)
    if verify and st.get("hashOk") is False:
        report.error(f"{snap}: sha256 trailer does not match the data")
        raise typer.Exit(1)


@app.command("ls")
@handles_errors
def ls_(
    snap: SnapArg,
    prefix: Annotated[str, typer.Argument(help="Only keys starting with this.")] = "",
    output: Annotated[TextOrJson, typer.Option("--output", "-o", help="Output format.")] = TextOrJson.text,
):
    """List the live keys at the latest revision, sorted."""
    with report.progress("scanning", None) as advance:
        keys = query.ls(str(snap), prefix, advance)
    if output == TextOrJson.json:
        report.print_json(keys)
    else:
        sys.stdout.write("".join(k + "\n" for k in keys))


@app.command()
@handles_errors
def get(
    snap: SnapArg,
    key: Annotated[str, typer.Argument(help="The etcd key, e.g. /registry/services/specs/default/kubernetes.")],
    revision: Annotated[int | None, typer.Option("--revision", help="Read as of this revision.", min=1)] = None,
    output: Annotated[GetFormat, typer.Option("--output", "-o", help="yaml, json, or raw stored bytes.")] = GetFormat.yaml,
    show_secrets: ShowSecretsOpt = False,
):
    """Show one key's value as the Kubernetes API would (raw: the stored bytes)."""
    with report.progress("scanning", None) as advance:
        got = query.get(str(snap), key, revision, show_secrets, advance)
    if output == GetFormat.raw:
        if got.record.kv.key.startswith(query.SECRET_PREFIXES) and not show_secrets:
            raise UsageError("refusing to print a Secret's stored bytes without --show-secrets")
        sys.stdout.buffer.write(got.record.kv.value)
        sys.stdout.buffer.flush()
    elif output == GetFormat.json:
        report.print_json(got.shown)
    else:
        sys.stdout.write(yaml.safe_dump(got.shown, sort_keys=False, allow_unicode=True))


@app.command()
@handles_errors
def dump(
    snap: SnapArg,
    prefix: Annotated[str, typer.Option("--prefix", help="Only keys starting with this.")] = "",
    show_secrets: ShowSecretsOpt = False,
):
    """Print every live key as a JSON line: key, revisions, version, lease, decoded value."""
    with report.progress("scanning", None) as advance:
        write = sys.stdout.write
        for rec in query.dump(str(snap), prefix, show_secrets, advance):
            write(query.to_json_line(rec) + "\n")


@app.command()
@handles_errors
def history(
    snap: SnapArg,
    key: Annotated[str, typer.Argument(help="The etcd key.")],
    output: Annotated[TableOrJson, typer.Option("--output", "-o", help="Output format.")] = TableOrJson.table,
    values: Annotated[bool, typer.Option("--values", help="Include each revision's decoded value.")] = False,
    show_secrets: ShowSecretsOpt = False,
):
    """List every stored revision of one key, deletions included."""
    with report.progress("scanning", None) as advance:
        rows = query.history(str(snap), key, values, show_secrets, advance)
    if not rows:
        report.error(f"key {key} has no stored revision")
        raise typer.Exit(1)
    if output == TableOrJson.json or values:
        report.print_json(rows)
    else:
        report.history_table(rows)


def main() -> None:
    """main is the console-script entry point."""
    app()


if __name__ == "__main__":
    main()
