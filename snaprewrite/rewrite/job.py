"""The ``rewrite`` and ``verify`` jobs end to end: options -> plan -> report -> new snapshot.

Safety rules live here: every output path (``--out``, ``--report``) is checked before any work (not the
input, not each other, not a directory, writable), an existing output needs ``force``, the input's
trailer is verified on the same read that copies it, and nothing but the report is written on a dry
run. The outputs wait in temp files and are published together once all are complete (``Staging``).
"""

import contextlib
import io
import json
import os
from array import array
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import accumulate

from .. import __version__, jsontext, process, standby
from ..errors import ChecksumError, PlanError, SnapshotError, UsageError
from ..etcd import startup, writes
from ..etcd.output import Prefill, Staging, Written, open_temp, sweep_stale
from ..etcd.snapshot import Snapshot
from ..k8s import layout
from . import apply as applying
from . import cnifind, rails, runbook
from . import doctor as doctoring
from . import facts as clusterfacts
from . import plan as planning
from . import verify as verifying
from .changelist import ChangeList, Observe
from .cidr import CidrMap
from .edits import Edit
from .rules import ipaddresses, services

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
    report: str | None = None  # also write the report as JSON here (published with the snapshot)
    encryption_config: str | None = None  # the API server's EncryptionConfiguration: encrypted objects are edited
    prefix: str | None = None  # --prefix: the key root; None detects it (k8s.layout)
    given: dict | None = None  # the command line's options as given (the report's ``options``)

    @property
    def mode(self) -> applying.Mode:
        return applying.Mode(self.as_new_revision, self.bump_revision, self.mark_compacted)


@dataclass
class Result:
    """The plan's report and, unless a dry run, what was written."""

    report: dict
    written: Written | None
    stale: list[str] = field(default_factory=list)  # temp files of interrupted runs, removed or found


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


def _same_file(a: str, b: str) -> bool:
    """_same_file tells whether two paths name one file: the same inode if both exist, else the same resolved path."""
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def _outputs(req: Request) -> list[tuple[str, str]]:
    """_outputs lists the files the request writes, as (option, path)."""
    outs = [("--out", req.out)] if req.out is not None and not req.dry_run else []
    return outs + ([("--report", req.report)] if req.report is not None else [])


def _check_paths(req: Request) -> None:
    """_check_paths refuses, before any work, outputs over the input or each other, in no directory, or existing without force."""
    outs = _outputs(req)
    for flag, path in outs:
        if _same_file(path, req.snapshot):
            raise UsageError(f"{flag} {path} is the input snapshot {req.snapshot}: refusing to overwrite the input")
        if os.path.isdir(path):
            raise UsageError(f"{flag} {path} is a directory")
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise UsageError(f"{flag} {path}: directory {parent} does not exist")
    if len(outs) == 2 and _same_file(req.out, req.report):
        raise UsageError(f"--report {req.report} and --out {req.out} are the same file: give the report another name")
    if req.out is not None and not req.dry_run and os.path.lexists(req.out) and not req.force:
        raise UsageError(f"--out {req.out} exists (use --force to replace it)")


def _writable(flag: str, path: str, staging: Staging | None = None) -> int:
    """_writable proves ``path``'s directory takes a new file: the temp file is created (kept in ``staging``, else removed)."""
    try:
        if staging is not None:
            return staging.create(path, replace=True)[0]
        with process.deferred():
            fd, tmp = open_temp(path)
            os.close(fd)
            os.unlink(tmp)
        return -1
    except OSError as e:
        raise SnapshotError(f"{flag} {path}: cannot write in {os.path.dirname(os.path.abspath(path))}: "
                            f"{e.strerror}") from None


def dumps_report(rep: dict) -> str:
    """dumps_report is ``json.dumps(rep, indent=2)``, the same text, a few times faster on 100k changes."""
    return "".join(jsontext.pieces(rep))


def _write_json(fd: int, rep: dict, observe: "Observe | None" = None) -> None:
    """_write_json writes ``dumps_report(rep)`` and a newline to ``fd`` a few hundred pieces at a time.

    The text of 160k changes is never held whole (twice, as str and bytes) at the end of a run, when the
    process is at its largest. ``observe`` is told each entry of ``changes`` as it is written
    (``ChangeList.observed``).
    """
    def put(text: str) -> None:
        view = memoryview(text.encode())
        while view:
            view = view[os.write(fd, view):]

    if observe is not None and isinstance(rep.get("changes"), ChangeList):
        rep = {**rep, "changes": rep["changes"].observed(observe)}
    jsontext.write(rep, put)
    os.fsync(fd)


def refuse_unsafe(state: clusterfacts.State, opts: planning.Options, force: bool) -> list[rails.Refusal]:
    """refuse_unsafe raises on the first rail the mappings break (UsageError or PlanError), unless ``force``.

    Returns the refusals that ``force`` overrode (empty when the request is safe).
    """
    found = clusterfacts.discover(state)
    refusals = rails.check(found, opts.service_map, opts.pod_map,
                           lambda: [ip for s in clusterfacts.services(state, []) for ip in s.ips],
                           lambda: [p for c in cnifind.find(state.snap, cni_index(state), state.layout.root)
                                    for p in c["pools"]])
    if refusals and not force:
        first = refusals[0]
        more = f" (and {len(refusals) - 1} more)" if len(refusals) > 1 else ""
        raise (UsageError if first.usage else PlanError)(f"{first.message}{more}; {rails.FORCE_FLAG} overrides")
    return refusals


def cni_index(state: clusterfacts.State) -> dict[bytes, bytes]:
    """cni_index is the part of ``state.index`` that ``cnifind.find`` reads (``cnifind.keeper``'s choice of keys:
    its prefixes below the layout root, and the keys outside it), taken by bisection, not by a walk of every key;
    ``find`` answers from it as from the whole index."""
    heads = (cnifind.CALICO_POOLS, cnifind.CILIUM_NODES, cnifind.CONFIGMAPS, cnifind.DAEMONSETS, cnifind.NODES)
    index = state.index
    return {k: index[k] for k in [*(k for h in heads for k in state.keys(h)), *state.keys_outside(b"")] if k in index}


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

    Reads the plan's new values (``diagnose`` runs it in a child that has them as they were at the fork).
    """
    before = clusterfacts.discover(state)
    service, pod = doctoring.default_ranges(before)
    after = state.with_plan(plan)
    return doctoring.examine(after, clusterfacts.discover(after), doctoring.mapped_ranges(service, opts.service_map),
                             doctoring.mapped_ranges(pod, opts.pod_map)).as_json()


def diagnose(state: clusterfacts.State, plan: planning.Plan, opts: planning.Options):
    """diagnose starts ``planned_diagnosis`` in a forked child (the second core) while the caller writes.

    Its ``result()`` is what ``planned_diagnosis`` returns, or raises the same error (a SnapshotError
    with the same message); a child that dies raises a SnapshotError. Leaving its ``with`` block kills
    the child if it still runs. Where there is no fork it is computed here, at once.
    """
    return process.call_aside(lambda: planned_diagnosis(state, plan, opts), "doctor on the planned output",
                              passes=(SnapshotError,), died=SnapshotError)


def run(req: Request, progress: Progress = None, warn: Callable[[str], None] | None = None,
        observe: "Observe | None" = None) -> Result:
    """run plans the rewrite and, unless ``dry_run``, writes and checks the new snapshot; then publishes the outputs.

    ``observe`` is told (position, kind, key, field) of each change as the report file is written (if one is).
    """
    opts = options(req, warn)
    req.mode.validate()
    _check_paths(req)
    stale = [s.message() for _, path in _outputs(req) for s in sweep_stale(path)]
    written = None
    with Staging(replace=req.force) as staging, contextlib.ExitStack() as stack:
        stack.enter_context(planning.no_cycle_collection())  # a heap of long-lived, acyclic objects: see there
        report_fd = _writable("--report", req.report, staging) if req.report is not None else -1
        if req.out is not None and not req.dry_run:
            _writable("--out", req.out)
        with Snapshot(req.snapshot) as snap:
            startup.require_ok(snap)  # a record etcd panics on after restore: refuse before any work
            lay = layout.detect(snap, req.prefix)
            # children for work that comes late, forked while this process is small (a child's resident set
            # starts with its parent's): the Services' reads and IPAddress renames (on this snapshot), the output's check
            stack.enter_context(standby.standbys({services.STANDBY: (snap,), ipaddresses.STANDBY: (snap,), **(
                {applying.STANDBY: ()} if req.out is not None and not req.dry_run else {})}))
            prefill = hashing = None  # the input's copy and hash take the second core while the plan is made
            if req.out is not None and not req.dry_run:
                prefill = stack.enter_context(Prefill(snap, req.out, staging, verify_input=not req.skip_hash_check))
            elif req.dry_run:
                hashing = stack.enter_context(ThreadPoolExecutor(1)).submit(snap.hashes)
            # one pass over bucket key: the rules' objects and observers, and the cluster facts' keys
            scanned = planning.scan(snap, opts, progress, lay, also=clusterfacts.indexed(lay))
            if scanned.aside is not None:
                stack.enter_context(scanned.aside)  # a child still searching ends with the run
            stack.callback(planning.close_all, scanned.begun)  # and one reading for a rule (``build`` takes it)
            state = clusterfacts.State.of_index(snap, scanned.also_index, lay, opts.crypt)
            scanned.also_index = {}  # the State holds what it keeps of it: not a second dict through planning
            try:
                refusals = refuse_unsafe(state, opts, req.force_unsafe)
            except SnapshotError:
                if opts.crypt is None:
                    refuse_encrypted(state)  # the rails saw no addresses because they are encrypted: say that
                raise
            plan = planning.build(snap, opts, progress, lay, scanned, release=True)
            del scanned  # the rules' objects (and what they cached) are not needed past planning: free them
            snap.key_bucket().element_hints.clear()  # where the scanned records lie (~25 MB at 1.3 GB): read no more
            diagnosis = stack.enter_context(diagnose(state, plan, opts))  # before the report: a smaller child
            del state  # the child has its copy: the facts' index is not needed here past the fork
            rep = plan.report(None if req.dry_run else req.out)
            rep["layout"] = lay.as_json()
            if refusals:
                rep["forced"] = [r.as_json() for r in refusals]
            rep["doctor"] = None  # the key keeps its place; the doctor runs on the second core meanwhile
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
            # the records are placed once: the report's newRecord is read from the batch that is written
            records = applying.batch(snap, plan, req.mode) if not req.dry_run or any(
                e.new_key is not None for e in plan.edits) else None
            _record_renames(rep, snap, plan, records)
            if req.dry_run:
                _provenance(rep, req, snap, plan.revision, _input_sha256(snap, req.skip_hash_check, hashing), None)
            else:
                written = applying.apply(snap, plan, req.out, verify_input=not req.skip_hash_check,
                                         progress=progress, mode=req.mode, staging=staging, records=records,
                                         prefill=prefill)
                _provenance(rep, req, snap, plan.revision, written.input_sha256 or snap.hashes()[1], written)
            rep["doctor"] = diagnosis.result()
        if report_fd >= 0:
            _write_json(report_fd, rep, observe)
        staging.publish()
    process.memlog(f"rewrite ends: {process.memory()}")
    return Result(rep, written, stale)


NEW_RECORD = ("createRevision", "modRevision", "version")  # a rename's ``newRecord`` fields
RENAMES_AT_ONCE = 4096  # renamed edits whose changes ``_record_renames`` reads at once


def _record_renames(rep: dict, snap: Snapshot, plan: planning.Plan, batch: writes.Batch | None) -> None:
    """_record_renames adds to each rename's change the record its new key ends with (``newRecord``), for ``verify``.

    The etcd layer places a renamed record from the keys' histories (in place it may continue an earlier
    generation of the new key); verify cannot derive that from the mode alone. ``batch`` is the plan's
    records as ``apply`` writes them (``apply.batch``; None only when nothing is renamed). ``rep["changes"]``
    is the plan's ``ChangeList`` (``Plan.report``).
    """
    edits = plan.edits
    renames = array("q", (i for i, e in enumerate(edits) if e.write.new_key is not None))
    if not renames:
        return
    firsts = array("q", accumulate((e.count for e in edits), initial=0))  # each edit's first entry in the changes
    changes: ChangeList = rep["changes"]  # its entries are the edits' changes in order (``plan.EditChanges``)
    # a rename's key text -> the record its new key ends with: made RENAMES_AT_ONCE renames at a time when no two
    # renamed keys can read as one text (at 8 GiB the whole map, 334k texts and records, was the run's peak);
    # a change naming a renamed key outside its part finds it in ``Placed.elsewhere``
    placed = Placed(snap, batch, plan.histories, edits, renames)
    # only a renamed object's Changes are read (their packed keys, RENAMES_AT_ONCE edits at a time); no
    # entry's dict is made
    for c in range(0, len(renames), RENAMES_AT_ONCE):
        part = renames[c : c + RENAMES_AT_ONCE]
        here = placed.part(part)
        rows = []  # (entry, its newRecord's values), in entry order
        for i, keys in zip(part, Edit.change_keys_of([edits[i] for i in part])):
            for j, (key, new_key) in enumerate(keys):
                kv = (here[key] if key in here else placed.elsewhere(key)) if new_key else None
                if kv is not None:
                    rows.append((firsts[i] + j, (kv.create_revision, kv.mod_revision, kv.version)))
        changes.add_objects("newRecord", NEW_RECORD, rows)
    batch.last_of = None  # (where the renames put each key's last record: read, not needed past here)


class Placed:
    """Placed is ``{text of a renamed edit's key: latest record of its new key}`` over the renames of a plan, made a
    part at a time (``part``) where it can be: ``_record_renames``.

    The whole map (``whole``, the plain path) is made at once only when two renamed keys could read as one text
    (a key that is not UTF-8 or holds a backslash: ``backslashreplace`` is then not one-to-one and the last
    rename of a text wins) or the batch does not say where the renames ended (``Batch.last_of``). Otherwise
    each text is one key's: a part's map answers as the whole one for the keys of its part, and another
    renamed key is found by its bytes (``elsewhere``).
    ``tests/rewrite/test_record_renames.py`` checks that both answer alike.
    """

    def __init__(self, snap: Snapshot, batch: writes.Batch, histories: writes.Histories, edits: list, renames: array):
        self.snap, self.batch, self.histories, self.edits, self.renames = snap, batch, histories, edits, renames
        self.by_key: dict[bytes, int] | None = None  # renamed key -> its edit (made at the first ``elsewhere``)
        # (a part at a time needs where ``in_place`` put each new key's last record: else each part walks the batch)
        by_parts = batch.last_of is not None and all(map(_one_text, (edits[i].write.key for i in renames)))
        self._whole = None if by_parts else self.whole()

    def whole(self) -> dict:
        """whole is the map of every rename at once (the plain path)."""
        return self._of(self.renames)

    def _of(self, part) -> dict:
        edits = self.edits
        news = [edits[i].write.new_key for i in part]
        latest = writes.latest_records(self.snap, self.batch, self.histories, news, values=False)
        return {edits[i].write.key.decode("utf-8", "backslashreplace"): latest[nk] for i, nk in zip(part, news)}

    def part(self, part) -> dict:
        """part is the map for the renames ``part`` (the whole map when texts may repeat)."""
        return self._whole if self._whole is not None else self._of(part)

    def elsewhere(self, text: str):
        """elsewhere is ``whole().get(text)`` for a text that is not in the part's map."""
        if self._whole is not None:
            return self._whole.get(text)
        if self.by_key is None:
            self.by_key = {self.edits[i].write.key: i for i in self.renames}
        try:
            at = self.by_key.get(text.encode("utf-8"))
        except UnicodeEncodeError:
            return None
        return None if at is None else self._of([at]).get(text)


def _one_text(key: bytes) -> bool:
    """_one_text tells whether no other key reads as the same text as ``key`` (UTF-8, no backslash)."""
    if b"\\" in key:
        return False
    try:
        key.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _input_sha256(snap: Snapshot, skip_hash_check: bool, hashing: "Future | None" = None) -> str:
    """_input_sha256 hashes the whole input, checking its trailer on the same read unless told not to.

    ``hashing``: ``snap.hashes()`` already running in a thread (its result is used, its error raised).
    """
    data, whole = hashing.result() if hashing is not None else snap.hashes()
    stored = snap.stored_trailer()
    if not skip_hash_check and stored is not None and stored != data:
        raise ChecksumError(f"{snap.path}: sha256 trailer", stored.hex(), data.hex())
    return whole


def _provenance(rep: dict, req: Request, snap: Snapshot, revision: int, input_sha256: str,
                written: Written | None) -> None:
    """_provenance records who made the report, from what, with which options, and what was written."""
    rep["snaprewriteVersion"] = __version__
    rep["options"] = dict(req.given) if req.given is not None else {}
    rep["input"] = verifying.identity(snap, input_sha256, revision)
    if written is not None:
        rep["output"] = {"path": written.path, "size": written.size, "sha256": written.file_sha256,
                         "trailerSha256": written.sha256}


def write_report(rep: dict, path: str) -> None:
    """write_report writes the JSON report atomically (mode 0600: it names every object that changed)."""
    with Staging() as staging:
        fd, _ = staging.create(path)
        _write_json(fd, rep)
        staging.publish()


def read_report(report_path: str, on_change: Callable[[verifying.Listed], None] | None = None) -> dict:
    """read_report loads a rewrite report (SnapshotError if it cannot be read or is not one).

    Each entry of ``changes`` becomes a ``verify.Listed`` tuple as it is parsed (a report of a big
    rewrite holds hundreds of thousands: tuples, not dicts). The text is read a chunk at a time
    (``jsontext.read_streaming``), never whole. With ``on_change`` each entry is passed there instead
    of being kept (``changes`` is then an empty list).
    """
    entries: list[verifying.Listed] = []
    keep = entries.append if on_change is None else on_change

    def entry(c) -> None:
        if not isinstance(c, verifying.Listed):
            raise _NotReport
        keep(c)

    try:
        with open(report_path, "rb") as f:
            encoding = json.detect_encoding(f.read(4))  # what json.loads(bytes) does
            f.seek(0)
            text = io.TextIOWrapper(f, encoding=encoding, errors="surrogatepass")
            rep = jsontext.read_streaming(text, "changes", entry, verifying.listed_or_dict)
    except (OSError, ValueError) as e:
        raise SnapshotError(f"{report_path}: cannot read the report ({e})") from None
    except _NotReport:
        rep = None
    if not isinstance(rep, dict) or rep.get("changes") != []:
        raise SnapshotError(f"{report_path}: not a snaprewrite rewrite report (no list of changes)")
    rep["changes"] = entries
    return rep


class _NotReport(Exception):
    """A ``changes`` entry that is not a change (``read_report``)."""


def verify(old: str, new: str, report_path: str | None, progress: Progress = None, prefix: str | None = None,
           encryption_config: str | None = None, warn: Callable[[str], None] | None = None) -> dict:
    """verify compares two snapshots and, with a report, lists what differs otherwise than the report says.

    The report must have been made from ``old`` (its recorded size and sha256): another size is refused
    before anything is compared, another sha256 (hashed while the snapshots are compared) once it is known.
    A report of a written rewrite also names its output's sha256, which ``new`` must have.
    Every key is compared whatever the layout; ``layout`` names the old snapshot's (``prefix``: ``--prefix``).
    With ``encryption_config`` encrypted values are compared decrypted (a value sealed again with a fresh
    IV is the same value).

    ``differences`` is a ``verify.Differences``: ``verify.Difference`` objects made when read, in key
    order (``as_json`` each; ``report.print_json`` streams them).
    """
    crypt = load_encryption(encryption_config, warn)
    with Snapshot(old) as snap:
        lay = layout.detect(snap, prefix)
    ident = packed = renames = recorded = None
    if report_path is not None:
        # what it lists waits compressed as it is read: the report's changes are never all objects at once
        packed, renames = verifying.Packed(), {}

        def take(c: verifying.Listed) -> None:
            packed.add(c)
            if c.new_key:
                renames[c.key.encode()] = c.new_key.encode()  # verify.renames, entry by entry

        rep = read_report(report_path, take)
        packed.finish(rep)
        verifying.check_size(rep, report_path, old)
        ident = {"input": rep.get("input")}
        recorded = rep.get("output")
        if not (isinstance(recorded, dict) and recorded.get("sha256")):
            recorded = None
        del rep
    # Both files are hashed in threads while the snapshots are compared (sha256 and reads release the GIL);
    # a report of another snapshot of the same size is refused once its hash is known.
    with ThreadPoolExecutor(2, thread_name_prefix="verify-sha256") as pool:
        old_sha = pool.submit(_whole_sha256, old) if ident is not None else None
        new_sha = pool.submit(_whole_sha256, new) if recorded is not None else None
        try:
            diffs = verifying.compare(old, new, progress, renames, crypt, workers=None)
            renames = None  # not read again: its keys and dict go before ``uncovered`` runs (~60 MB at 8 GiB)
        finally:
            if old_sha is not None:
                verifying.check_identity(ident, report_path, old, sha256=old_sha.result())
    out: dict = {"snaprewriteVersion": __version__, "old": old, "new": new, "layout": lay.as_json(),
                 "differences": diffs}
    if packed is not None:
        lines = []
        if recorded is not None:
            got = new_sha.result()
            if got != recorded["sha256"]:
                lines.append(f"{new}: sha256 {got} is not the sha256 {recorded['sha256']} the report "
                             f"recorded for its output {recorded.get('path')}")
        out["uncovered"] = lines + verifying.uncovered(diffs, packed)  # the entries stay packed (expected.Lookup)
    return out


def _whole_sha256(path: str) -> str:
    with Snapshot(path) as snap:
        return snap.hashes()[1]
