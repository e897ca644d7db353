"""A Plan -> one bbolt transaction on bucket ``key`` -> a new snapshot file, checked before it is renamed.

In place (the default) each Edit replaces the record at its revision (same bbolt key, new KeyValue:
revisions and version kept) and each Tombstone adds a deletion record. With ``as_new_revision`` every
change is instead recorded as etcd itself would record one transaction at revision latest + 1:
sub revisions in key order, ``mod_revision`` = that revision, ``version`` + 1, ``create_revision`` kept;
a rename is a deletion of the old key and a creation of the new one.

``bump_revision``/``mark_compacted`` follow etcd 3.6's restore flags exactly: a record with an empty
value at revision (latest + N, 0), and meta ``scheduledCompactRev`` set to it, so watchers and
informers holding older revisions are told "compacted" and relist.

Records are put in bbolt key order (revision order), so the transaction spills each leaf as soon as
the puts move past it, straight into the temp file beside the output (``etcd.output.write_streamed``):
memory holds one leaf and the branch pages, not the new pages. The temp file is re-opened and must
pass the structural check before it is renamed into place.
"""

from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter

from ..bbolt.writer import PageSink, Patch, Transaction
from ..errors import CorruptError, UsageError
from ..etcd import kv, revision, schema
from ..etcd.fsck import fsck
from ..etcd.kv import KeyValue
from ..etcd.output import Staging, Written, write_streamed
from ..etcd.revision import Revision
from ..etcd.snapshot import Snapshot
from .plan import Plan

KEY_BUCKET = (schema.KEY,)
META_BUCKET = (schema.META,)


@dataclass(frozen=True)
class Mode:
    """How the changes are recorded: in place, or as a new revision; and etcd 3.6's restore protections."""

    as_new_revision: bool = False
    bump_revision: int = 0
    mark_compacted: bool = False

    def validate(self) -> None:
        if self.bump_revision < 0:
            raise UsageError("--bump-revision must be >= 0")
        if self.mark_compacted and not self.bump_revision:
            raise UsageError("--mark-compacted requires --bump-revision (as etcdutl snapshot restore does)")


def verify_file(path: str) -> None:
    """verify_file opens a written snapshot and raises CorruptError unless it passes the full check.

    The full check (``etcd.fsck``: bbolt structure and every MVCC record) also catches records the
    input already had broken: etcd would refuse to start on them, so such an output is not written.
    """
    with Snapshot(path) as out:
        problems = fsck(out, verify_trailer=False)
    if problems:
        raise CorruptError(f"output failed the check: {problems[0]} ({len(problems)} problems)")


def _in_place(tx: Transaction, plan: Plan) -> int:
    """_in_place puts every edit and tombstone at its own revision, in bbolt key order (records encoded one at a time).

    Each edit's new value is released once it is in the transaction (the report keeps its changes):
    a 50k-object plan would otherwise hold every new value through the write and the check.
    """
    ops = [(revision.encode(e.revision), 0, i) for i, e in enumerate(plan.edits)]
    ops += [(revision.encode(t.revision, tombstone=True), 1, i) for i, t in enumerate(plan.tombstones)]
    ops.sort(key=itemgetter(0))  # stable: a (never expected) repeated key keeps the plan's order
    for key, tomb, i in ops:
        if tomb:
            tx.put(KEY_BUCKET, key, kv.encode(KeyValue(plan.tombstones[i].key)))
        else:
            e = plan.edits[i]
            tx.put(KEY_BUCKET, key, kv.encode(e.new_record()))
            e.new_value = b""
    return plan.revision


def _new_revision(tx: Transaction, plan: Plan) -> int:
    """_new_revision records every change as one etcd transaction at revision latest + 1."""
    main = plan.revision + 1
    ops: list[tuple[bytes, bool, KeyValue]] = []  # (etcd key, is deletion, record)
    for e in plan.edits:
        r = e.record
        if e.new_key is not None:
            ops.append((r.key, True, KeyValue(r.key)))
            ops.append((e.new_key, False, KeyValue(e.new_key, main, main, 1, e.new_value, r.lease)))
        else:
            ops.append((r.key, False, KeyValue(r.key, r.create_revision, main, r.version + 1, e.new_value, r.lease)))
    for sub, (_key, tomb, rec) in enumerate(sorted(ops, key=lambda op: (op[0], not op[1]))):
        tx.put(KEY_BUCKET, revision.encode(Revision(main, sub), tombstone=tomb), kv.encode(rec))
    return main if ops else plan.revision


def apply(snap: Snapshot, plan: Plan, target: str, verify_input: bool = True,
          progress: Callable[[int], None] | None = None, mode: Mode = Mode(), staging: Staging | None = None) -> Written:
    """apply writes ``plan`` over ``snap`` into ``target`` (atomically; with ``staging``, left there to publish)."""
    mode.validate()
    snap.pages.release()  # what the plan's scan left resident: the transaction reads few pages

    def build(sink: PageSink) -> Patch:
        tx = Transaction(snap.pages, sink=sink)
        latest = _new_revision(tx, plan) if mode.as_new_revision else _in_place(tx, plan)
        if mode.bump_revision:
            last = snap.key_bucket().last_key()
            last_main = max(latest, revision.decode(last)[0].main if last else 0)
            bumped = Revision(last_main + mode.bump_revision, 0)
            tx.put(KEY_BUCKET, revision.encode(bumped), b"")
            if mode.mark_compacted:
                tx.put(META_BUCKET, schema.SCHEDULED_COMPACT_REV, revision.encode(bumped))
        patch = tx.commit()
        snap.pages.release()
        return patch

    return write_streamed(snap, target, build, verify_input=verify_input, progress=progress,
                          before_rename=verify_file, staging=staging)
