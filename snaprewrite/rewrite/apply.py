"""A Plan -> one bbolt transaction on bucket ``key`` -> a new snapshot file, checked before it is renamed.

Each Edit replaces the record at its revision (same bbolt key, new KeyValue: revisions and version
kept); each Tombstone adds a deletion record. The transaction's Patch is streamed to a temp file
beside the output (``etcd.output``); the temp file is re-opened and must pass the structural check
before it is renamed into place, so a reported success is a file bbolt and etcd accept.
"""

from collections.abc import Callable

from ..bbolt.check import check
from ..bbolt.writer import Transaction
from ..errors import CorruptError
from ..etcd import kv, revision, schema
from ..etcd.output import Written, write_patched
from ..etcd.snapshot import Snapshot
from .plan import Plan

KEY_BUCKET = (schema.KEY,)


def verify_file(path: str) -> None:
    """verify_file opens a written snapshot and raises CorruptError if its structure is not sound."""
    with Snapshot(path) as out:
        problems = check(out.pages)
        out.key_bucket()
    if problems:
        raise CorruptError(f"output failed the structural check: {problems[0]} ({len(problems)} problems)")


def apply(snap: Snapshot, plan: Plan, target: str, verify_input: bool = True,
          progress: Callable[[int], None] | None = None) -> Written:
    """apply writes ``plan`` over ``snap`` into ``target`` (atomically) and returns what was written."""
    tx = Transaction(snap.pages)
    for e in plan.edits:
        tx.put(KEY_BUCKET, revision.encode(e.revision), kv.encode(e.new_record()))
    for t in plan.tombstones:
        tx.put(KEY_BUCKET, revision.encode(t.revision, tombstone=True), kv.encode(kv.KeyValue(t.key)))
    patch = tx.commit()
    return write_patched(snap, patch.copy_length, list(patch.overwrites), patch.append, target,
                         verify_input=verify_input, progress=progress, before_rename=verify_file)
