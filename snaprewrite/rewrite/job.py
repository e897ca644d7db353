"""The ``rewrite`` and ``verify`` jobs end to end: options -> plan -> report -> new snapshot.

Safety rules live here: the output must not be the input, an existing output needs ``force``, the
input's trailer is verified on the same read that copies it, and nothing is written on a dry run.
"""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import PlanError, SnapshotError, UsageError
from ..etcd import startup
from ..etcd.output import Written, open_temp
from ..etcd.snapshot import Snapshot
from . import apply as applying
from . import doctor as doctoring
from . import facts as clusterfacts
from . import plan as planning
from . import rails, runbook
from . import verify as verifying
from .cidr import CidrMap

Progress = Callable[[int], None] | None


@dataclass(frozen=True)
class Request:
    """What the operator asked ``rewrite`` to do."""

    snapshot: str
    out: str | None
    service_cidrs: list[str]
    pod_cidrs: list[str]
    excludes: list[str]
    reallocate: bool = False
    only: str | None = None
    dry_run: bool = False
    force: bool = False
    skip_hash_check: bool = False
    as_new_revision: bool = False
    bump_revision: int = 0
    mark_compacted: bool = False
    force_unsafe: bool = False  # --force-unsafe-mapping: go through the rails (rails.py), recorded as "forced"
    encryption_config: str | None = None  # the API server's EncryptionConfiguration: encrypted objects are edited

    @property
    def mode(self) -> applying.Mode:
        return applying.Mode(self.as_new_revision, self.bump_revision, self.mark_compacted)


@dataclass
class Result:
    """The plan's report and, unless a dry run, what was written."""

    report: dict
    written: Written | None


def _cidr_map(specs: list[str]) -> CidrMap:
    """_cidr_map parses repeated OLD=NEW options (none given: an empty map that moves nothing)."""
    return CidrMap.parse(specs) if specs else CidrMap(())


def load_encryption(path: str | None, warn: Callable[[str], None] | None = None):
    """load_encryption parses ``--encryption-config`` (None: no config), passing its warnings to ``warn``."""
    if path is None:
        return None
    from ..k8s import encryption

    config, warnings = encryption.load(path)
    for w in warnings:
        if warn is not None:
            warn(w)
    return config


def options(req: Request, warn: Callable[[str], None] | None = None) -> planning.Options:
    """options validates the request's mappings and filters into plan Options."""
    only = frozenset(x.strip() for x in req.only.split(",") if x.strip()) if req.only else None
    for ex in req.excludes:
        if not ex or ex.count("/") > 1:
            raise UsageError(f"--exclude {ex!r}: want NAMESPACE/NAME (or NAME for a cluster-scoped object)")
    return planning.Options(_cidr_map(req.service_cidrs), _cidr_map(req.pod_cidrs),
                            frozenset(req.excludes), req.reallocate, only,
                            crypt=load_encryption(req.encryption_config, warn))


def _check_target(req: Request) -> None:
    """_check_target refuses writing over the input, or over an existing file without force."""
    if req.out is None:
        return
    if os.path.abspath(req.out) == os.path.abspath(req.snapshot) or (
            os.path.exists(req.out) and os.path.samefile(req.out, req.snapshot)):
        raise UsageError("--out is the input snapshot: refusing to overwrite the input")
    if os.path.isdir(req.out):
        raise UsageError(f"--out {req.out} is a directory")
    if os.path.exists(req.out) and not req.force:
        raise UsageError(f"--out {req.out} exists (use --force to replace it)")
    parent = os.path.dirname(os.path.abspath(req.out))
    if not os.path.isdir(parent):
        raise UsageError(f"--out {req.out}: directory {parent} does not exist")


def refuse_unsafe(state: clusterfacts.State, opts: planning.Options, force: bool) -> list[rails.Refusal]:
    """refuse_unsafe raises on the first rail the mappings break (UsageError or PlanError), unless ``force``.

    Returns the refusals that ``force`` overrode (empty when the request is safe).
    """
    found = clusterfacts.discover(state)
    refusals = rails.check(found, opts.service_map, opts.pod_map,
                           lambda: [ip for s in clusterfacts.services(state, []) for ip in s.ips])
    if refusals and not force:
        first = refusals[0]
        more = f" (and {len(refusals) - 1} more)" if len(refusals) > 1 else ""
        raise (UsageError if first.usage else PlanError)(f"{first.message}{more}; {rails.FORCE_FLAG} overrides")
    return refusals


def refuse_encrypted(state: clusterfacts.State) -> None:
    """refuse_encrypted raises for the first value encrypted at rest among those the rewrite reads (no config given)."""
    from ..k8s import encryption

    for key in state.keys(b""):
        value = state.value(key)
        if value is not None and value.startswith(encryption.ENC_PREFIX):
            encryption.refuse_kms(key, value)
            provider, name = encryption.describe(value)
            raise PlanError(f"{clusterfacts.key_text(key)}: value is encrypted at rest ({provider} v1, key {name!r}); "
                            "give the API server's --encryption-config FILE to rewrite it")


def planned_diagnosis(state: clusterfacts.State, plan: planning.Plan, opts: planning.Options) -> dict:
    """planned_diagnosis runs ``doctor`` on the state the plan leaves, for the input's declared ranges mapped.

    Must run before the plan is applied (applying releases the new values).
    """
    before = clusterfacts.discover(state)
    service, pod = doctoring.default_ranges(before)
    after = state.with_plan(plan)
    return doctoring.examine(after, clusterfacts.discover(after), doctoring.mapped_ranges(service, opts.service_map),
                             doctoring.mapped_ranges(pod, opts.pod_map)).as_json()


def run(req: Request, progress: Progress = None, warn: Callable[[str], None] | None = None) -> Result:
    """run plans the rewrite and, unless ``dry_run``, writes and checks the new snapshot."""
    opts = options(req, warn)
    req.mode.validate()
    if not req.dry_run:
        _check_target(req)
    with Snapshot(req.snapshot) as snap:
        startup.require_ok(snap)  # a record etcd panics on after restore: refuse before any work
        state = clusterfacts.State.scan(snap, progress, opts.crypt)
        try:
            refusals = refuse_unsafe(state, opts, req.force_unsafe)
        except SnapshotError:
            if opts.crypt is None:
                refuse_encrypted(state)  # the rails saw no addresses because they are encrypted: say that
            raise
        plan = planning.build(snap, opts, progress)
        rep = plan.report(None if req.dry_run else req.out)
        if refusals:
            rep["forced"] = [r.as_json() for r in refusals]
        rep["doctor"] = planned_diagnosis(state, plan, opts)
        rep["dryRun"] = req.dry_run
        rep["asNewRevision"] = req.as_new_revision
        if req.as_new_revision and plan.edits:
            rep["newRevision"] = plan.revision + 1
        if req.bump_revision:
            rep["bumpRevision"] = req.bump_revision
            rep["markCompacted"] = req.mark_compacted
        rep["runbook"] = runbook.steps(plan, opts, req.out, bool(req.bump_revision and req.mark_compacted),
                                       flags=runbook.mode_flags(req.as_new_revision, req.bump_revision,
                                                                req.mark_compacted))
        if req.dry_run:
            if not req.skip_hash_check:
                snap.require_trailer_ok()
            return Result(rep, None)
        written = applying.apply(snap, plan, req.out, verify_input=not req.skip_hash_check, progress=progress,
                                 mode=req.mode)
        return Result(rep, written)


def write_report(rep: dict, path: str) -> None:
    """write_report writes the JSON report atomically (mode 0600: it names every object that changed)."""
    fd, tmp = open_temp(path)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(rep, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def verify(old: str, new: str, report_path: str | None, progress: Progress = None,
           encryption_config: str | None = None, warn: Callable[[str], None] | None = None) -> dict:
    """verify compares two snapshots and, with a report, lists the differences it does not account for.

    With ``encryption_config`` encrypted values are compared decrypted (a value sealed again with a fresh
    IV is the same value).
    """
    crypt = load_encryption(encryption_config, warn)
    diffs = verifying.compare(old, new, progress, crypt=crypt)
    out: dict = {"old": old, "new": new, "differences": [d.as_json() for d in diffs]}
    if report_path is not None:
        try:
            with open(report_path) as f:
                rep = json.load(f)
        except (OSError, ValueError) as e:
            raise SnapshotError(f"{report_path}: cannot read the report ({e})") from None
        out["uncovered"] = verifying.uncovered(diffs, rep)
    return out
