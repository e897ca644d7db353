"""A Plan -> one bbolt transaction on bucket ``key`` -> a new snapshot file, checked before it is renamed.

Where each record goes is the etcd layer's decision (``etcd.writes``): in place (the default) each
edit keeps its record's revision and renames follow the rules written there (exact A -> B -> A); with
``as_new_revision`` every change is recorded as etcd itself would record one transaction at revision
latest + 1. ``bump_revision``/``mark_compacted`` follow etcd 3.6's restore flags exactly
(``writes.bump``). Applying never changes the plan: the same plan can be applied again.

Records are put in bbolt key order (revision order), so the transaction spills each leaf as soon as
the puts move past it, straight into the temp file beside the output (``etcd.output.write_streamed``):
memory holds one leaf and the branch pages, not the new pages. The temp file is re-opened and must
pass the full check (``verify_file``) before it is renamed into place: with a staging, in a forked child
whose answer the staging waits for before it publishes anything, while the run hashes and reports.
"""

from collections.abc import Callable
from dataclasses import dataclass

from .. import process, standby
from ..bbolt.writer import PageSink, Patch, Transaction
from ..errors import CorruptError, SnapshotError, UsageError
from ..etcd import revision, schema, writes
from ..etcd.fsck import fsck
from ..etcd.output import Prefill, Staging, Written, write_streamed
from ..etcd.snapshot import Snapshot
from .plan import Plan

KEY_BUCKET = (schema.KEY,)
STANDBY = "check of the output"  # the ``standby.Standby`` the check runs in, where the caller reserved one


@dataclass(frozen=True)
class Mode:
    """How the changes are recorded: in place, or as a new revision; and etcd 3.6's restore protections."""

    as_new_revision: bool = False
    bump_revision: int = 0
    mark_compacted: bool = False

    def validate(self) -> None:
        if not 0 <= self.bump_revision <= writes.MAX_REVISION:
            raise UsageError(f"--bump-revision {self.bump_revision} is out of range (0..{writes.MAX_REVISION})")
        if self.mark_compacted and not self.bump_revision:
            raise UsageError("--mark-compacted requires --bump-revision (as etcdutl snapshot restore does)")


def verify_file(path: str) -> None:
    """verify_file checks a written snapshot in full and raises CorruptError unless it passes.

    The full check (``etcd.fsck``: bbolt structure and every MVCC record) also catches records the
    input already had broken: etcd would refuse to start on them, so such an output is not written.
    A staged temp file (``etcd.output.Staging.holding``) is checked in a forked child (structure and
    records on one walk of the pages: ``fsck`` in one process) and its staging waits for the answer
    before it publishes anything; meanwhile this process hashes the file back and writes the report.
    Elsewhere the check is made here before it returns (the structure in a child where work may fork).
    """
    staging = Staging.holding(path)
    if staging is None or not process.may_fork():
        _refuse(_problems(path, parallel=True))
        return
    waiting = standby.take(STANDBY)  # forked at the run's start: its resident set is not the planner's
    if waiting is not None:
        call = waiting.call(_problems, path, what="check of the output", passes=(SnapshotError,), died=CorruptError)
    else:
        call = process.fork_call(lambda: _problems(path), "check of the output", passes=(SnapshotError,),
                                 died=CorruptError)
    staging.wait_for(_Verdict(call))


def _problems(path: str, parallel: bool = False) -> list[str]:
    """_problems is the full check's answer on the file at ``path`` (``parallel``: structure and records on two cores)."""
    with Snapshot(path) as out:
        return fsck(out, verify_trailer=False, parallel=parallel)


def _refuse(problems: list[str]) -> None:
    if problems:
        raise CorruptError(f"output failed the check: {problems[0]} ({len(problems)} problems)")


class _Verdict:
    """_Verdict turns a check's problems into the refusal (a ``Pending`` of ``etcd.output``)."""

    def __init__(self, call):
        self.call = call

    def result(self) -> None:
        _refuse(self.call.result())

    def close(self) -> None:
        self.call.close()


def batch(snap: Snapshot, plan: Plan, mode: Mode) -> writes.Batch:
    """batch is every record the plan puts into (or removes from) bucket ``key`` under ``mode``."""
    ws = [e.write for e in plan.edits]
    if mode.as_new_revision:
        return writes.new_revision(ws, plan.revision)
    return writes.in_place(snap, ws, plan.histories, plan.revision)


def apply(snap: Snapshot, plan: Plan, target: str, verify_input: bool = True,
          progress: Callable[[int], None] | None = None, mode: Mode = Mode(), staging: Staging | None = None,
          records: writes.Batch | None = None, prefill: Prefill | None = None) -> Written:
    """apply writes ``plan`` over ``snap`` into ``target`` (atomically; with ``staging``, left there to publish).

    ``records``: ``batch(snap, plan, mode)`` if the caller already placed it (it is not changed here).
    ``prefill``: the input's copy started on ``staging`` before planning (``etcd.output.Prefill``).
    """
    mode.validate()
    if records is None:
        records = batch(snap, plan, mode)
    extra: list[tuple[bytes, bytes, bytes]] = []
    if mode.bump_revision:
        last = snap.key_bucket().last_key()
        last_main = max(records.revision, revision.decode(last)[0].main if last else 0)
        extra = writes.bump(last_main, mode.bump_revision, mode.mark_compacted)  # refuses before writing
    snap.pages.release()  # what the plan's scan left resident: the transaction reads few pages

    def build(sink: PageSink) -> Patch:
        tx = Transaction(snap.pages, sink=sink)
        tx.put_many(KEY_BUCKET, records.ops())  # in key order: a leaf at a time
        for bucket, key, value in extra:
            tx.put((bucket,), key, value)
        patch = tx.commit()
        snap.pages.release()
        return patch

    return write_streamed(snap, target, build, verify_input=verify_input, progress=progress,
                          before_rename=verify_file, staging=staging, prefill=prefill)
