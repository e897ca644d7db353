"""The ``rewrite`` and ``verify`` jobs end to end: options -> plan -> report -> new snapshot.

Safety rules live here: the output must not be the input, an existing output needs ``force``, the
input's trailer is verified on the same read that copies it, and nothing is written on a dry run.
"""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import SnapshotError, UsageError
from ..etcd import startup
from ..etcd.output import Written, open_temp
from ..etcd.snapshot import Snapshot
from . import apply as applying
from . import plan as planning
from . import runbook
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


def options(req: Request) -> planning.Options:
    """options validates the request's mappings and filters into plan Options."""
    only = frozenset(x.strip() for x in req.only.split(",") if x.strip()) if req.only else None
    for ex in req.excludes:
        if not ex or ex.count("/") > 1:
            raise UsageError(f"--exclude {ex!r}: want NAMESPACE/NAME (or NAME for a cluster-scoped object)")
    return planning.Options(_cidr_map(req.service_cidrs), _cidr_map(req.pod_cidrs),
                            frozenset(req.excludes), req.reallocate, only)


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


def run(req: Request, progress: Progress = None) -> Result:
    """run plans the rewrite and, unless ``dry_run``, writes and checks the new snapshot."""
    opts = options(req)
    req.mode.validate()
    if not req.dry_run:
        _check_target(req)
    with Snapshot(req.snapshot) as snap:
        startup.require_ok(snap)  # a record etcd panics on after restore: refuse before any work
        plan = planning.build(snap, opts, progress)
        rep = plan.report(None if req.dry_run else req.out)
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


def verify(old: str, new: str, report_path: str | None, progress: Progress = None) -> dict:
    """verify compares two snapshots and, with a report, lists the differences it does not account for."""
    diffs = verifying.compare(old, new, progress)
    out: dict = {"old": old, "new": new, "differences": [d.as_json() for d in diffs]}
    if report_path is not None:
        try:
            with open(report_path) as f:
                rep = json.load(f)
        except (OSError, ValueError) as e:
            raise SnapshotError(f"{report_path}: cannot read the report ({e})") from None
        out["uncovered"] = verifying.uncovered(diffs, rep)
    return out
