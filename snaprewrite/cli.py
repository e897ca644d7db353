"""The ``snaprewrite`` command line: parse arguments, call one library function, print through ``report``.

Exit codes: 0 success, 1 bad input or missing key (one line on stderr, no traceback), 2 usage,
128 + n interrupted by signal n (130 SIGINT, 143 SIGTERM, 129 SIGHUP; temp files removed). An
unexpected exception is a bug: one "internal error" line, and the traceback with SNAPREWRITE_DEBUG=1.
"""

from . import process

if __name__ == "__main__":  # python -m snaprewrite.cli: signals handled from here on, imports included
    process.install()

import enum
import functools
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import __version__, lazy_module
from .clihelp import App, Group
from .errors import SnapshotError, UsageError

query = lazy_module("snaprewrite.query")  # the etcd layers: loaded when a command first reads a snapshot
report = lazy_module("snaprewrite.report")  # rich: loaded when something is printed through it

# Commands import the heavier layers they need (protobuf schemas, the rewrite, etcd runner) themselves,
# so that `status` or `ls` on a big snapshot do not pay for them at start-up.

app = App(
    name="snaprewrite",
    cls=Group,
    help="Inspect and rewrite etcd snapshots of Kubernetes clusters offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class TableOrJson(enum.StrEnum):
    table = "table"
    json = "json"


class StatusFormat(enum.StrEnum):
    table = "table"
    json = "json"
    fields = "fields"  # etcdutl snapshot status -w fields


class TextOrJson(enum.StrEnum):
    text = "text"
    json = "json"


class GetFormat(enum.StrEnum):
    yaml = "yaml"
    json = "json"
    raw = "raw"


OUTPUT_FLAGS = ("--output", "-o", "-w", "--write-out")  # -w/--write-out as etcdctl and etcdutl spell it
SnapArg = Annotated[Path, typer.Argument(help="Snapshot file (etcdctl snapshot save) or raw member/snap/db.",
                                          show_default=False, readable=False)]  # unreadable: one line, exit 1
ShowSecretsOpt = Annotated[bool, typer.Option("--show-secrets", help="Print Secret data (redacted by default).")]
ServiceCidrOpt = Annotated[list[str] | None, typer.Option("--service-cidr", metavar="OLD=NEW",
                                                          help="Move service IPs from OLD to NEW (repeatable).")]
PodCidrOpt = Annotated[list[str] | None, typer.Option("--pod-cidr", metavar="OLD=NEW",
                                                      help="Move node pod CIDRs from OLD to NEW (repeatable).")]
ExcludeOpt = Annotated[list[str] | None, typer.Option("--exclude", metavar="NAMESPACE/NAME",
                                                      help="Leave this object as it is (repeatable).")]
ReallocateOpt = Annotated[bool, typer.Option("--reallocate", help="Give objects that do not fit the lowest free "
                                             "address of the new range.")]
OnlyOpt = Annotated[str | None, typer.Option("--only", help="Comma-separated rules to run, e.g. services,nodes.")]
SkipHashOpt = Annotated[bool, typer.Option("--skip-hash-check",
                                           help="Accept an input whose sha256 trailer does not match.")]
TableOrJsonOpt = Annotated[TableOrJson, typer.Option(*OUTPUT_FLAGS, help="Output format.")]
EncryptionConfigOpt = Annotated[Path | None, typer.Option(
    "--encryption-config", metavar="FILE", help="The API server's EncryptionConfiguration "
    "(--encryption-provider-config): read and rewrite values encrypted at rest.")]
LayoutPrefixOpt = Annotated[str | None, typer.Option("--prefix", metavar="PREFIX", help="The cluster's etcd key "
                                                     "prefix (kube-apiserver --etcd-prefix; default: detected, "
                                                     "/registry/ or OpenShift's /kubernetes.io/).")]
ForceUnsafeOpt = Annotated[bool, typer.Option("--force-unsafe-mapping", help="Go through the safety rails: a new "
                                              "range overlapping a current or new range of the other kind or holding "
                                              "a node or API server address, an OLD the snapshot does not use, or "
                                              "OLD=NEW. The report lists each rail overridden under 'forced'.")]


def _encryption(path: Path | None):
    """_encryption loads --encryption-config (None without one), warning when others can read the keys."""
    if path is None:
        return None
    from .k8s import encryption

    config, warnings = encryption.load(path)
    for w in warnings:
        report.warning(w)
    return config


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"snaprewrite {__version__}\n")
        raise typer.Exit()


@app.callback()
def _app(version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                               help="Print snaprewrite's version and exit.")] = False):
    """Inspect and rewrite etcd snapshots of Kubernetes clusters offline."""


def given_options(ctx: typer.Context) -> dict:
    """given_options is what the command line gave (defaults left out): {"SNAP": ..., "--out": ..., ...}."""
    out: dict = {}
    for p in ctx.command.params:
        source = ctx.get_parameter_source(p.name)
        if source is None or source.name not in ("COMMANDLINE", "ENVIRONMENT"):
            continue
        name = next((o for o in p.opts if o.startswith("--")), p.opts[0]) if p.param_type_name == "option" \
            else p.name.upper()
        value = ctx.params.get(p.name)
        if isinstance(value, (list, tuple)):
            out[name] = [str(v) for v in value]
        else:
            out[name] = value if value is None or isinstance(value, (bool, int)) else str(value)
    return out


def handles_errors(fn):
    """handles_errors turns library errors into one stderr line and exit 1 (usage errors: exit 2)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with process.armed():
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
        except KeyboardInterrupt as e:  # SIGINT, or process.Interrupted for SIGTERM/SIGHUP: cleanups have run
            name, code = (e.name, e.exit_code) if isinstance(e, process.Interrupted) else ("SIGINT", 130)
            report.error(f"interrupted by {name}")
            raise typer.Exit(code) from None
        except Exception as e:  # a bug, not bad input: still one line, the traceback on request
            if isinstance(e, (typer.Exit, typer.Abort)) or type(e).__module__.startswith(("click", "typer")):
                raise  # the command's own exit code, or a usage error for typer to print
            if os.environ.get("SNAPREWRITE_DEBUG"):
                raise
            report.error(f"internal error: {type(e).__name__}: {e} (set SNAPREWRITE_DEBUG=1 for a traceback)")
            raise typer.Exit(1) from None

    return wrapper


@app.command()
@handles_errors
def status(
    snap: SnapArg,
    output: Annotated[StatusFormat, typer.Option(*OUTPUT_FLAGS,
                                                 help="Output format (fields: as etcdutl -w fields).")
                      ] = StatusFormat.table,
    verify: Annotated[bool, typer.Option("--verify", help="Also check the sha256 trailer (adds hashOk).")] = False,
    layout_prefix: LayoutPrefixOpt = None,
):
    """Summarise a snapshot: etcdutl's hash/revision/totalKey/totalSize, buckets, resources, key layout."""
    with report.progress("scanning", None) as advance:
        st = query.status(str(snap), verify, advance, layout_prefix)
    if output == StatusFormat.json:
        report.print_json(st)
    elif output == StatusFormat.fields:
        report.status_fields(st)
    else:
        report.status_table(st)
    if verify and st.get("hashOk") is False:
        report.error(f"{snap}: sha256 trailer does not match the data")
        raise typer.Exit(1)


@app.command("ls")
@handles_errors
def ls_(
    snap: SnapArg,
    prefix: Annotated[str, typer.Argument(help="Only keys starting with this (without a leading /: below the "
                                          "key prefix, e.g. services/specs/).")] = "",
    output: Annotated[TextOrJson, typer.Option(*OUTPUT_FLAGS, help="Output format.")] = TextOrJson.text,
    layout_prefix: LayoutPrefixOpt = None,
):
    """List the live keys at the latest revision, sorted."""
    with report.progress("scanning", None) as advance:
        keys = query.ls(str(snap), prefix, advance, layout_prefix)
    if output == TextOrJson.json:
        report.print_json(keys)
    else:
        sys.stdout.write("".join(k + "\n" for k in keys))


@app.command()
@handles_errors
def get(
    snap: SnapArg,
    key: Annotated[str, typer.Argument(help="The etcd key, e.g. /registry/services/specs/default/kubernetes "
                                       "(or services/specs/default/kubernetes: below the key prefix).")],
    revision: Annotated[int | None, typer.Option("--revision", help="Read as of this revision.", min=1)] = None,
    output: Annotated[GetFormat, typer.Option(*OUTPUT_FLAGS, help="yaml, json, or raw stored bytes.")] = GetFormat.yaml,
    show_secrets: ShowSecretsOpt = False,
    encryption_config: EncryptionConfigOpt = None,
    layout_prefix: LayoutPrefixOpt = None,
):
    """Show one key's value as the Kubernetes API would (raw: the stored bytes)."""
    crypt = _encryption(encryption_config)
    with report.progress("scanning", None) as advance:
        got = query.get(str(snap), key, revision, show_secrets, advance, layout_prefix, crypt)
    if output == GetFormat.raw:
        if got.secret and not show_secrets:
            raise UsageError("refusing to print a Secret's stored bytes without --show-secrets")
        sys.stdout.buffer.write(got.record.kv.value)
        sys.stdout.buffer.flush()
    elif output == GetFormat.json:
        report.print_json(got.shown)
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump(got.shown, sort_keys=False, allow_unicode=True))


@app.command()
@handles_errors
def dump(
    snap: SnapArg,
    prefix: Annotated[str, typer.Option("--prefix", help="Only keys starting with this (without a leading /: "
                                        "below the detected key prefix).")] = "",
    show_secrets: ShowSecretsOpt = False,
    encryption_config: EncryptionConfigOpt = None,
):
    """Print every live key as a JSON line: key, revisions, version, lease, decoded value."""
    crypt = _encryption(encryption_config)
    with report.progress("scanning", None) as advance:
        write = sys.stdout.write
        for rec in query.dump(str(snap), prefix, show_secrets, advance, crypt):
            write(query.to_json_line(rec) + "\n")


@app.command()
@handles_errors
def history(
    snap: SnapArg,
    key: Annotated[str, typer.Argument(help="The etcd key.")],
    output: TableOrJsonOpt = TableOrJson.table,
    values: Annotated[bool, typer.Option("--values", help="Include each revision's decoded value.")] = False,
    show_secrets: ShowSecretsOpt = False,
    encryption_config: EncryptionConfigOpt = None,
    layout_prefix: LayoutPrefixOpt = None,
):
    """List every stored revision of one key, deletions included."""
    crypt = _encryption(encryption_config)
    with report.progress("scanning", None) as advance:
        rows = query.history(str(snap), key, values, show_secrets, advance, layout_prefix, crypt)
    if not rows:
        report.error(f"key {key} has no stored revision")
        raise typer.Exit(1)
    if output == TableOrJson.json or values:
        report.print_json(rows)
    else:
        report.history_table(rows)


@app.command()
@handles_errors
def rewrite(
    ctx: typer.Context,
    snap: SnapArg,
    out: Annotated[Path | None, typer.Option("--out", help="The new snapshot to write.")] = None,
    service_cidr: ServiceCidrOpt = None,
    pod_cidr: PodCidrOpt = None,
    exclude: ExcludeOpt = None,
    reallocate: ReallocateOpt = False,
    only: OnlyOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the report; write no snapshot.")] = False,
    report_file: Annotated[Path | None, typer.Option("--report", help="Also write the report as JSON here.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")] = False,
    skip_hash_check: SkipHashOpt = False,
    as_new_revision: Annotated[bool, typer.Option("--as-new-revision", help="Record the changes as one new etcd "
                                                  "revision (watchers see MODIFIED events) instead of in place.")] = False,
    bump_revision: Annotated[int, typer.Option("--bump-revision", min=0, help="As etcd 3.6's restore flag: add an "
                                               "empty record at latest revision + N.")] = 0,
    mark_compacted: Annotated[bool, typer.Option("--mark-compacted", help="As etcd 3.6's restore flag: schedule a "
                                                 "compaction at the bumped revision (needs --bump-revision).")] = False,
    output: Annotated[TableOrJson, typer.Option(*OUTPUT_FLAGS, help="How to print the report.")] = TableOrJson.table,
    force_unsafe: ForceUnsafeOpt = False,
    encryption_config: EncryptionConfigOpt = None,
    layout_prefix: LayoutPrefixOpt = None,
):
    """Move Services and Nodes to new CIDRs and write a new snapshot (or only report, with --dry-run)."""
    from .rewrite import job as rewriting

    if not service_cidr and not pod_cidr:
        raise UsageError("nothing to do: give --service-cidr OLD=NEW and/or --pod-cidr OLD=NEW")
    if out is None and not dry_run:
        raise UsageError("--out is required (or use --dry-run)")
    request = rewriting.Request(str(snap), str(out) if out else None, service_cidr or [], pod_cidr or [],
                                exclude or [], reallocate, only, dry_run, force, skip_hash_check,
                                as_new_revision, bump_revision, mark_compacted, force_unsafe,
                                report=str(report_file) if report_file is not None else None,
                                encryption_config=str(encryption_config) if encryption_config else None,
                                prefix=layout_prefix, given=given_options(ctx))
    tally = report.ChangeTally() if output != TableOrJson.json else None  # counted as the report file is written
    with report.progress("planning", None) as advance:
        result = rewriting.run(request, advance, report.warning, tally.add if tally is not None else None)
    for note in result.stale:
        report.warning(note)
    if output == TableOrJson.json:
        report.print_json(result.report)
    else:
        report.rewrite_table(result.report, dry_run, tally)
        if result.written is not None:
            report.stdout.print(f"wrote {result.written.path} ({result.written.size} bytes, "
                                f"sha256 {result.written.file_sha256}, trailer {result.written.sha256[:16]}...)")


@app.command()
@handles_errors
def check(
    snap: SnapArg,
    skip_hash_check: Annotated[bool, typer.Option("--skip-hash-check", help="Do not verify the trailer.")] = False,
):
    """Check a snapshot's structure (pages, keys, meta, trailer, MVCC records); exit 1 listing problems."""
    with report.progress("checking", None) as advance:
        problems = query.check(str(snap), not skip_hash_check, advance)
    if problems:
        for p in problems:
            sys.stdout.write(p + "\n")
        report.error(f"{snap}: {len(problems)} problem(s) found")
        raise typer.Exit(1)
    sys.stdout.write(f"{snap}: ok\n")


@app.command()
@handles_errors
def verify(
    old: Annotated[Path, typer.Argument(help="The original snapshot.", readable=False)],
    new: Annotated[Path, typer.Argument(help="The rewritten snapshot.", readable=False)],
    report_file: Annotated[Path | None, typer.Option("--report", help="A rewrite report: fail if anything "
                                                     "differs that it does not list.")] = None,
    output: TableOrJsonOpt = TableOrJson.table,
    encryption_config: EncryptionConfigOpt = None,
    layout_prefix: LayoutPrefixOpt = None,
):
    """Compare two snapshots key by key at their latest revisions and list what differs."""
    from .rewrite import job as rewriting

    with report.progress("comparing", None) as advance:
        result = rewriting.verify(str(old), str(new), str(report_file) if report_file else None, advance,
                                  layout_prefix, str(encryption_config) if encryption_config else None,
                                  report.warning)
    if output == TableOrJson.json:
        report.print_json(result)
    else:
        report.verify_lines(result)
    if result.get("uncovered"):
        report.error(f"{len(result['uncovered'])} difference(s) from what {report_file} says")
        raise typer.Exit(1)


@app.command()
@handles_errors
def doctor(
    snap: SnapArg,
    service_cidr: Annotated[list[str] | None, typer.Option("--service-cidr", metavar="CIDR", help="A service range "
                                                           "the API server will run with (repeatable; default: the "
                                                           "ranges the snapshot declares).")] = None,
    pod_cidr: Annotated[list[str] | None, typer.Option("--pod-cidr", metavar="CIDR", help="A cluster pod range "
                                                       "(repeatable; default: the snapshot's).")] = None,
    output: TableOrJsonOpt = TableOrJson.table,
    encryption_config: EncryptionConfigOpt = None,
    layout_prefix: LayoutPrefixOpt = None,
):
    """Predict the API server's ClusterIP repair events and the node IPAM checks offline; exit 1 on an error."""
    from .rewrite import doctor as doctoring

    crypt = _encryption(encryption_config)
    with report.progress("scanning", None) as advance:
        result = doctoring.diagnose(str(snap), service_cidr, pod_cidr, advance, layout_prefix, crypt)
    if output == TableOrJson.json:
        report.print_json(result)
    else:
        report.doctor_table(result)
    if result["errors"]:
        report.error(f"{snap}: {result['errors']} error finding(s)")
        raise typer.Exit(1)


@app.command()
@handles_errors
def manifests(
    directory: Annotated[Path, typer.Argument(help="The static pod manifests directory, e.g. /etc/kubernetes/manifests.")],
    service_cidr: Annotated[list[str] | None, typer.Option("--service-cidr", metavar="OLD=NEW",
                                                           help="Move --service-cluster-ip-range.")] = None,
    pod_cidr: Annotated[list[str] | None, typer.Option("--pod-cidr", metavar="OLD=NEW",
                                                       help="Move --cluster-cidr.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the diffs; write nothing.")] = False,
):
    """Rewrite the CIDR flags of kube-apiserver and kube-controller-manager static pod manifests."""
    from .hostfiles import manifests as hostfiles

    if not service_cidr and not pod_cidr:
        raise UsageError("nothing to do: give --service-cidr OLD=NEW and/or --pod-cidr OLD=NEW")
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a directory")
    edits, written = hostfiles.run(directory, service_cidr, pod_cidr, dry_run)
    report.manifest_edits(edits, written, dry_run)


@app.command()
@handles_errors
def certs(
    pki_dir: Annotated[Path, typer.Argument(help="The PKI directory holding apiserver.crt/.key and ca.crt/.key, "
                                            "e.g. /etc/kubernetes/pki.")],
    service_cidr: Annotated[str, typer.Option("--service-cidr", metavar="OLD=NEW", help="The service range move: "
                                              "OLD's first IP in the SANs becomes NEW's.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the SAN diff; write nothing.")] = False,
    new_key: Annotated[bool, typer.Option("--new-key", help="Also replace apiserver.key with a new key of the "
                                          "same type.")] = False,
):
    """Reissue the API server certificate with the new first service IP, signed by the cluster CA (no kubeadm)."""
    from .hostfiles import certs as hostcerts

    try:
        result = hostcerts.run(pki_dir, service_cidr, dry_run=dry_run, new_key=new_key)
    except hostcerts.ExternalCAError as e:
        sys.stdout.write(e.alternative)
        raise
    report.cert_result(result, dry_run)


@app.command()
@handles_errors
def rehearse(
    snap: SnapArg,
    service_cidr: ServiceCidrOpt = None,
    pod_cidr: PodCidrOpt = None,
    exclude: ExcludeOpt = None,
    reallocate: ReallocateOpt = False,
    only: OnlyOpt = None,
    skip_hash_check: SkipHashOpt = False,
    etcd: Annotated[str | None, typer.Option("--etcd", metavar="PATH_OR_VERSION",
                                             help="etcd binaries: a directory, a binary, or a version like 3.5.")] = None,
    keep: Annotated[Path | None, typer.Option("--keep", metavar="DIR", help="Keep the restored data dir and the "
                                              "rewritten snapshot here.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Compare every key, not a sample.")] = False,
    sample_every: Annotated[int | None, typer.Option("--sample-every", min=1, help="Compare every Nth unplanned "
                                                     "key (default: about 1000 keys).")] = None,
    kube_apiserver: Annotated[Path | None, typer.Option("--kube-apiserver", metavar="PATH", help="Then start this "
                                                        "kube-apiserver on the restored etcd and report what it finds.")] = None,
    service_cidr_flags: Annotated[str | None, typer.Option("--service-cidr-flags", metavar="CIDR[,CIDR]", help="The "
                                                           "API server's --service-cluster-ip-range (default: the "
                                                           "rewritten snapshot's allocator ranges).")] = None,
    settle: Annotated[float, typer.Option("--settle", metavar="SECONDS", min=0, help="How long the API server's "
                                          "repair loops run before the checks.")] = 5.0,
    output: TableOrJsonOpt = TableOrJson.table,
    force_unsafe: ForceUnsafeOpt = False,
    encryption_config: EncryptionConfigOpt = None,
    layout_prefix: LayoutPrefixOpt = None,
):
    """Restore a snapshot (rewritten first, with mapping options) with real etcd on 127.0.0.1 and read it back."""
    from .rehearsal import rehearse as rehearsal

    with report.progress("rehearsing", None) as advance:
        result = rehearsal.rehearse(str(snap), service_cidrs=service_cidr or [], pod_cidrs=pod_cidr or [],
                                    excludes=exclude or [], reallocate=reallocate, only=only,
                                    skip_hash_check=skip_hash_check, etcd=etcd, keep=str(keep) if keep else None,
                                    full=full, sample_every=sample_every, progress=advance,
                                    force_unsafe=force_unsafe, kube_apiserver=kube_apiserver, settle=settle,
                                    service_cidr_flags=[service_cidr_flags] if service_cidr_flags else None,
                                    prefix=layout_prefix,
                                    encryption_config=str(encryption_config) if encryption_config else None,
                                    warn=report.warning)
    data = result.as_json()
    if output == TableOrJson.json:
        report.print_json(data)
    else:
        report.rehearsal_table(data)
    if not result.ok:
        api = data["apiserver"]
        found = [f"{len(data['mismatches'])} mismatch(es)"] if data["mismatches"] else []
        if api and not api["ok"]:
            found.append(f"kube-apiserver: {report.apiserver_findings(api)}")
        report.error(f"rehearsal of {snap}: {'; '.join(found)}")
        raise typer.Exit(1)


def main() -> None:
    """main is the console-script entry point: signals handled, the command run under a supervisor."""
    process.install()
    process.supervise()
    app()


if __name__ == "__main__":
    main()
