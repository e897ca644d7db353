"""``rehearse``: a disaster-recovery rehearsal of a snapshot (or of its rewrite) on a real, throwaway etcd.

Steps, all in one scratch dir that is always removed (unless ``keep``), with etcd always stopped,
also on errors and KeyboardInterrupt:
  1. with CIDR mappings, rewrite the snapshot into the scratch dir (``rewrite.job.run``, the same code
     path as ``snaprewrite rewrite``); without them, rehearse the snapshot as it is;
  2. restore it with etcd's own tool (etcdutl 3.5+, ``etcdctl snapshot restore`` 3.4) and start etcd on
     free 127.0.0.1 ports;
  3. read back through the etcd API, pinned at the expected revision: the revision, the key count and,
     record by record (value bytes, create/mod revision, version, lease), every key the plan changed
     against the rewritten file and a deterministic sample of the others (every Nth live key plus all
     keys under the registry prefixes a rewrite touches; all keys with ``full``) against the source.

With ``kube_apiserver`` a fourth step follows (``apicheck``): kube-apiserver starts on the restored
etcd with the service range(s) the migrated cluster will run with (``service_cidr_flags``, default the
ranges of the rewritten snapshot's RangeAllocations), and its repair events, allocator log lines, LIST
and PATCH answers and a fresh Service's address are reported under ``apiserver``. etcd and the API
server then share a private network namespace (``netns``) when the platform allows it.

Expectations are read offline with ``snaprewrite.etcd``. etcd 3.5.1 and 3.4.23 both keep the MVCC
revision on restore (measured): the restored store answers ``mvcc.current_revision`` (the last main
revision of bucket ``key``, or the compaction revision if later) and the snapshot's live key count.
Mismatches name the key and field; values are shown as length and sha256 prefix, never as bytes.
This module sits on top of both sides (the reader layers and the etcd runner); nothing imports it but the CLI.
"""

import contextlib
import hashlib
import ipaddress
import math
import os
import re
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NotSnapshotError, SnapshotError, UsageError
from ..etcd import compressed, mvcc
from ..etcd.kv import KeyValue
from ..etcd.snapshot import Snapshot, has_trailer
from ..k8s.decode import decode_value
from ..k8s.layout import DEFAULT_ROOT, AmbiguousLayoutError, Layout, detect, normalize
from ..rewrite import job
from . import apicheck
from .apiserver import find_kube_tool
from .binaries import EtcdTools, choose_etcd, writer_version
from .client import EtcdClient, KeyRecord
from .netns import NetNamespace, isolated_network
from .server import EtcdServer, EtcdServerError, restore, restore_args

Progress = Callable[[int], None] | None
Stage = Callable[[str], None] | None

SAMPLE_TARGET = 1000
"""About how many keys the every-Nth sample compares (N grows with the snapshot)."""

SAMPLE_PREFIXES = (b"services/", b"minions/", b"ranges/")
"""Keys always compared: the objects a CIDR move is about (relative to the snapshot's layout root)."""
UNZIPPED_NAME = "unzipped.db"

REWRITTEN_NAME = "rewritten.db"
DATA_DIR_NAME = "data"
LOG_NAME = "etcd.log"
FIELDS = ("create_revision", "mod_revision", "version", "lease")


@dataclass(frozen=True)
class Mismatch:
    """One disagreement between the restored etcd and what was expected (no value bytes)."""

    key: str
    what: str
    expected: str
    got: str

    def as_json(self) -> dict:
        """as_json is the mismatch as the report lists it."""
        return {"key": self.key, "what": self.what, "expected": self.expected, "got": self.got}


@dataclass
class Rehearsal:
    """The outcome of one rehearsal: timings, what etcd answered, what was compared, and the mismatches."""

    snapshot: str
    etcd_version: str
    rewritten: bool
    full: bool
    sample_every: int
    etcd_choice: str = ""  # why this etcd: "--etcd 3.4", or the marker of the version that wrote the snapshot
    restore_command: str = ""  # the restore as run, with the real binary path (scratch paths as they were)
    layout: dict | None = None
    rewrite_seconds: float = 0.0
    restore_seconds: float = 0.0
    expect_seconds: float = 0.0
    start_seconds: float = 0.0
    verify_seconds: float = 0.0
    revision: int = 0
    expected_revision: int = 0
    keys: int = 0
    expected_keys: int = 0
    planned: int = 0
    renamed: int = 0
    sampled: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    kept_in: str | None = None
    rewrite_summary: dict | None = None
    apiserver: apicheck.ApiCheck | None = None
    apiserver_seconds: float = 0.0
    forced: list[dict] = field(default_factory=list)  # rails overridden by --force-unsafe-mapping

    @property
    def verified(self) -> int:
        """verified is the number of keys checked: planned and sampled records, and renamed-away keys' absence."""
        return self.planned + self.renamed + self.sampled

    @property
    def ok(self) -> bool:
        """ok tells whether everything matched and the API server (if asked) found nothing (the CLI exits 0 only then)."""
        return not self.mismatches and (self.apiserver is None or self.apiserver.ok)

    def as_json(self) -> dict:
        """as_json is the JSON report of ``rehearse --output json``."""
        return {
            "snapshot": self.snapshot,
            "etcdVersion": self.etcd_version,
            "etcdChoice": self.etcd_choice,
            "restoreCommand": self.restore_command,
            "layout": self.layout,
            "rewritten": self.rewritten,
            "rewriteSeconds": round(self.rewrite_seconds, 3),
            "restoreSeconds": round(self.restore_seconds, 3),
            "expectSeconds": round(self.expect_seconds, 3),
            "startSeconds": round(self.start_seconds, 3),
            "verifySeconds": round(self.verify_seconds, 3),
            "revision": self.revision,
            "expectedRevision": self.expected_revision,
            "keys": self.keys,
            "expectedKeys": self.expected_keys,
            "verified": self.verified,
            "planned": self.planned,
            "renamed": self.renamed,
            "sampled": self.sampled,
            "sampleEvery": self.sample_every,
            "full": self.full,
            "keptIn": self.kept_in,
            "rewriteSummary": self.rewrite_summary,
            **({"forced": self.forced} if self.forced else {}),
            "ok": self.ok,
            "mismatches": [m.as_json() for m in self.mismatches],
            "apiserverSeconds": round(self.apiserver_seconds, 3),
            "apiserver": self.apiserver.as_json() if self.apiserver is not None else None,
        }


def _show_key(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace")


def _value_id(value: bytes) -> str:
    """_value_id names a value without showing it: its length and a sha256 prefix."""
    return f"{len(value)} bytes sha256:{hashlib.sha256(value).hexdigest()[:12]}"


def _go_bytes_as_hex(line: str) -> str:
    """_go_bytes_as_hex shortens Go's printed byte slices ("[164 170 ...]", e.g. sha256 sums) to hex."""
    return re.sub(r"\[(\d{1,3}(?: \d{1,3}){7,})\]",
                  lambda m: bytes(int(x) for x in m[1].split()).hex() if all(
                      int(x) < 256 for x in m[1].split()) else m[0], line)


def compare(key: bytes, expected: KeyValue | None, got: KeyRecord | None) -> list[Mismatch]:
    """compare checks one record etcd returned against the expected one, field by field."""
    shown = _show_key(key)
    if expected is None and got is None:
        return []
    if expected is None:
        return [Mismatch(shown, "unexpected", "absent", "present")]
    if got is None:
        return [Mismatch(shown, "missing", "present", "absent")]
    out = []
    if got.value != expected.value:
        out.append(Mismatch(shown, "value", _value_id(expected.value), _value_id(got.value)))
    for name in FIELDS:
        want, have = getattr(expected, name), getattr(got, name)
        if want != have:
            out.append(Mismatch(shown, name, str(want), str(have)))
    return out


def sample_keys(keys: Iterable[bytes], every: int, prefixes: tuple[bytes, ...] = (b"/registry/services/",
                                                                                   b"/registry/minions/",
                                                                                   b"/registry/ranges/")) -> list[bytes]:
    """sample_keys picks every Nth key in key order, plus every key under the always-compared prefixes."""
    ordered = sorted(keys)
    picked = {k for i, k in enumerate(ordered) if i % every == 0}
    picked.update(k for k in ordered if k.startswith(prefixes))
    return sorted(picked)


def sample_step(n_keys: int, full: bool, sample_every: int | None) -> int:
    """sample_step is N of the every-Nth sample: 1 with ``full``, else as given, else about SAMPLE_TARGET keys."""
    if full:
        return 1
    if sample_every is not None:
        if sample_every < 1:
            raise UsageError(f"sample step {sample_every} must be at least 1")
        return sample_every
    return max(1, math.ceil(n_keys / SAMPLE_TARGET))


@dataclass
class _Expected:
    """What the restored etcd must hold, read offline."""

    revision: int
    live: dict[bytes, KeyValue]  # the restored file's live keys that are compared, with their records
    count: int
    gone: set[bytes] = field(default_factory=set)  # keys the plan renamed away: absent after restore


def _read_records(snap: Snapshot, wanted: Iterable[bytes], index: dict) -> dict[bytes, KeyValue]:
    """_read_records loads the latest live record of each wanted key present in ``index``."""
    return {k: mvcc.record_at(snap, index[k]).kv for k in wanted if k in index}


def _plan_keys(report: dict) -> tuple[set[bytes], set[bytes]]:
    """_plan_keys is the keys a rewrite report says it wrote (a renamed object's new key) and the renamed-away keys."""
    written, renamed = set(), set()
    for c in report.get("changes", []):
        key = c["key"].encode("utf-8", "surrogateescape")
        new = c.get("newKey")
        written.add(new.encode("utf-8", "surrogateescape") if new else key)
        if new and new != c["key"]:
            renamed.add(key)
    return written, renamed - written


def _expectations(source: str, target: str, plan_keys: set[bytes], gone: set[bytes], full: bool,
                  sample_every: int | None, progress: Progress,
                  prefixes: tuple[bytes, ...]) -> tuple[_Expected, dict[bytes, KeyValue], int, list[Mismatch]]:
    """_expectations reads the planned records from the restored file and a sample of the others from the source.

    Returns the expectations, the sampled source records, the sample step and the offline problems.
    """
    problems: list[Mismatch] = []
    with Snapshot(target) as tsnap:
        tindex = mvcc.live_keys(tsnap, progress=progress)
        revision = mvcc.current_revision(tsnap)
        planned = _read_records(tsnap, sorted(plan_keys), tindex)
    for k in sorted(plan_keys - planned.keys()):
        problems.append(Mismatch(_show_key(k), "planned", "live in the rewritten snapshot", "absent"))
    for k in sorted(gone & tindex.keys()):
        problems.append(Mismatch(_show_key(k), "renamed", "absent from the rewritten snapshot", "live"))
    with Snapshot(source) as ssnap:
        sindex = tindex if target == source else mvcc.live_keys(ssnap, progress=progress)
        every = sample_step(len(sindex), full, sample_every)
        others = sample_keys((k for k in sindex if k not in plan_keys and k not in gone), every, prefixes)
        sampled = _read_records(ssnap, others, sindex)
    if target != source:
        # a key live in only one of the two files that the plan does not name: the rewrite added or lost it
        for k in sorted((sindex.keys() ^ tindex.keys()) - plan_keys - gone):
            problems.append(Mismatch(_show_key(k), "unplanned", "same key set as the source",
                                     "only in the " + ("source" if k in sindex else "rewritten snapshot")))
    return _Expected(revision, planned, len(tindex), gone), sampled, every, problems


def _verify(client: EtcdClient, exp: _Expected, sampled: dict[bytes, KeyValue], full: bool,
            result: Rehearsal, prefixes: tuple[bytes, ...]) -> None:
    """_verify reads etcd back at the expected revision and records every mismatch in ``result``."""
    result.revision = client.revision()
    if result.revision != exp.revision:
        result.mismatches.append(Mismatch("", "revision", str(exp.revision), str(result.revision)))
    # Pin every read: a lease of the snapshot may expire while we read, deleting keys at a later revision.
    at = min(exp.revision, result.revision)
    result.keys = client.count(revision=at)
    if result.keys != exp.count:
        result.mismatches.append(Mismatch("", "keys", str(exp.count), str(result.keys)))
    for key, want in exp.live.items():
        result.mismatches.extend(compare(key, want, client.get(key, revision=at)))
    for key in sorted(exp.gone):
        result.mismatches.extend(compare(key, None, client.get(key, revision=at)))
    result.planned, result.renamed = len(exp.live), len(exp.gone)
    if full or result.sample_every == 1:  # every key is compared: one paged range beats a get per key
        seen = set()
        for rec in client.range(revision=at):
            if rec.key in exp.live:
                continue
            if rec.key in exp.gone:
                continue  # reported above
            seen.add(rec.key)
            result.mismatches.extend(compare(rec.key, sampled.get(rec.key), rec))
        for key in sorted(sampled.keys() - seen):
            result.mismatches.extend(compare(key, sampled[key], None))
    else:
        fetched: dict[bytes, KeyRecord] = {}
        for prefix in prefixes:
            for rec in client.range(prefix, revision=at):
                if rec.key not in exp.live and rec.key not in exp.gone:
                    fetched[rec.key] = rec
        for key in sorted(sampled):
            if key not in fetched and not key.startswith(prefixes):
                rec = client.get(key, revision=at)
                if rec is not None:
                    fetched[key] = rec
        for key in sorted(sampled.keys() | fetched.keys()):
            result.mismatches.extend(compare(key, sampled.get(key), fetched.get(key)))
    result.sampled = len(sampled)


def _scratch(keep: str | os.PathLike | None) -> Path:
    """_scratch creates the work dir: ``keep`` (new or empty) or a fresh temp dir."""
    if keep is None:
        return Path(tempfile.mkdtemp(prefix="snaprewrite-rehearse-"))
    path = Path(keep)
    if path.exists():
        if not path.is_dir():
            raise UsageError(f"--keep {keep} is not a directory")
        if any(path.iterdir()):
            raise UsageError(f"--keep {keep} is not empty")
    elif not path.parent.is_dir():
        raise UsageError(f"--keep {keep}: directory {path.parent} does not exist")
    path.mkdir(mode=0o700, exist_ok=True)
    return path


@dataclass(frozen=True)
class ApiOptions:
    """How ``rehearse`` runs kube-apiserver: the binary, the service ranges (None: from the snapshot), settle time."""

    binary: Path
    service_cidrs: tuple[str, ...] | None = None
    settle: float = 5.0


def api_options(kube_apiserver: str | os.PathLike | None, service_cidr_flags: Iterable[str] | None,
                settle: float) -> ApiOptions | None:
    """api_options checks the API server options up front (nothing runs before they are known good)."""
    flags = [c.strip() for item in (service_cidr_flags or []) for c in item.split(",") if c.strip()]
    if kube_apiserver is None:
        if flags:
            raise UsageError("--service-cidr-flags needs --kube-apiserver")
        return None
    if settle < 0:
        raise UsageError(f"--settle {settle} must not be negative")
    for f in flags:
        if not _is_cidr(f):
            raise UsageError(f"--service-cidr-flags {f} is not a CIDR")
    if len(flags) > 2 or len({ipaddress.ip_network(f).version for f in flags}) < len(flags):
        raise UsageError(f"--service-cidr-flags {','.join(flags)}: give one range, or one IPv4 and one IPv6 range")
    return ApiOptions(find_kube_tool("kube-apiserver", kube_apiserver), tuple(flags) or None, settle)


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=True)
        return "/" in text
    except ValueError:
        return False


RANGE_KEYS = (b"ranges/serviceips", b"ranges/secondaryserviceips")  # relative to the layout root


def snapshot_service_ranges(path: str | os.PathLike, lay: Layout | None = None, crypt=None) -> list[str]:
    """snapshot_service_ranges reads the service range(s) a snapshot's ClusterIP allocators hold (primary first).

    The API server encrypts the allocators with the services' key: ``crypt`` (``k8s.encryption``) opens them.
    """
    with Snapshot(path) as snap:
        lay = lay or detect(snap)
        index = mvcc.live_keys(snap, lay.key(b"ranges/"))
        out = []
        for key in lay.keys(RANGE_KEYS):
            if key in index:
                try:
                    value = mvcc.record_at(snap, index[key]).kv.value
                    rng = decode_value(crypt.open(key, value)[0] if crypt else value).get("range")
                except SnapshotError:
                    rng = None
                if rng:
                    out.append(rng)
    if not out:
        raise UsageError(f"{os.fspath(path)} holds no service IP allocator range: give --service-cidr-flags")
    return out


def rehearse(snapshot: str | os.PathLike, *, service_cidrs: Iterable[str] = (), pod_cidrs: Iterable[str] = (),
             excludes: Iterable[str] = (), reallocate: bool = False, only: str | None = None,
             skip_hash_check: bool = False, etcd: str | None = None, keep: str | os.PathLike | None = None,
             full: bool = False, sample_every: int | None = None, progress: Progress = None,
             stage: Stage = None, force_unsafe: bool = False, kube_apiserver: str | os.PathLike | None = None,
             service_cidr_flags: Iterable[str] | None = None, settle: float = 5.0,
             prefix: str | None = None, encryption_config: str | None = None,
             warn: Callable[[str], None] | None = None) -> Rehearsal:
    """rehearse rewrites (with mappings), restores and starts a snapshot in a throwaway etcd and compares what it serves.

    ``progress(n)`` is advanced while records are scanned (as for ``rewrite``); ``stage(name)`` is called
    as each step begins: "rewrite", "restore", "expect", "start", "verify", "apiserver", "stop". Returns
    the result (mismatches and API server findings included); raises SnapshotError when a step fails
    (e.g. "restore failed: ...").
    """
    source = os.fspath(snapshot)
    if not os.path.isfile(source):
        raise NotSnapshotError(f"{source}: no such file")
    service_cidrs, pod_cidrs, excludes = list(service_cidrs), list(pod_cidrs), list(excludes)
    rewriting = bool(service_cidrs or pod_cidrs)
    if not rewriting and (excludes or reallocate or only):
        raise UsageError("--exclude, --reallocate and --only need --service-cidr or --pod-cidr")
    if encryption_config is not None and not rewriting and kube_apiserver is None:
        raise UsageError("--encryption-config needs --service-cidr/--pod-cidr or --kube-apiserver")
    if encryption_config is not None:
        job.load_encryption(encryption_config, warn)  # a bad config stops here, before any etcd runs; warn once
    api = api_options(kube_apiserver, service_cidr_flags, settle)
    try:
        with Snapshot(source) as snap:
            lay = detect(snap, prefix)
            written_by = writer_version(snap)
    except AmbiguousLayoutError:
        raise
    except SnapshotError:
        if compressed.kind_of(source) is not None:
            raise  # etcd cannot restore a zip: the reader's error is the answer
        # a file the offline reader refuses: etcd's own restore gives the verdict (see "restore failed")
        lay, written_by = Layout(normalize(prefix) if prefix else DEFAULT_ROOT, None,
                                 "--prefix" if prefix else "default"), None
    tools, choice = choose_etcd(etcd, written_by)
    scratch = _scratch(keep)
    result = Rehearsal(source, tools.version_str, rewriting, full, 1, etcd_choice=choice, layout=lay.as_json(),
                       kept_in=str(scratch) if keep else None)
    try:
        _run(source, tools, scratch, result, rewriting, service_cidrs, pod_cidrs, excludes, reallocate, only,
             skip_hash_check, full, sample_every, progress, stage or (lambda _name: None), force_unsafe, api, lay,
             encryption_config)
    finally:
        if keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return result


def _run(source: str, tools: EtcdTools, scratch: Path, result: Rehearsal, rewriting: bool,
         service_cidrs: list[str], pod_cidrs: list[str], excludes: list[str], reallocate: bool,
         only: str | None, skip_hash_check: bool, full: bool, sample_every: int | None,
         progress: Progress, stage: Callable[[str], None], force_unsafe: bool = False,
         api: ApiOptions | None = None, lay: Layout | None = None, encryption_config: str | None = None) -> None:
    """_run does the steps of ``rehearse`` inside the scratch dir, filling ``result``."""
    lay = lay or Layout()
    target, plan_keys, gone = source, set(), set()
    if not rewriting and lay.compressed:  # etcd restores a plain file: the snapshot inside the zip, in the scratch dir
        target = str(scratch / UNZIPPED_NAME)
        with Snapshot(source) as snap:
            shutil.copyfile(snap.data_path, target)
            os.chmod(target, 0o600)
    if rewriting:
        stage("rewrite")
        t0 = time.monotonic()
        req = job.Request(source, str(scratch / REWRITTEN_NAME), service_cidrs, pod_cidrs, excludes,
                          reallocate=reallocate, only=only, skip_hash_check=skip_hash_check,
                          force_unsafe=force_unsafe, prefix=lay.prefix if lay.source == "--prefix" else None,
                          encryption_config=encryption_config)
        done = job.run(req, progress)
        result.rewrite_seconds = time.monotonic() - t0
        result.rewrite_summary = done.report["summary"]
        result.forced = done.report.get("forced", [])
        target = done.written.path if done.written else req.out
        plan_keys, gone = _plan_keys(done.report)

    stage("restore")
    # A raw member/snap/db has no sha256 trailer to check; a rewritten file always has a fresh one.
    skip_hash = (skip_hash_check and not rewriting) or not has_trailer(os.path.getsize(target))
    t0 = time.monotonic()
    result.restore_command = shlex.join(str(a) for a in restore_args(tools, target, scratch / DATA_DIR_NAME,
                                                                     skip_hash))
    try:
        data_dir = restore(tools, target, scratch / DATA_DIR_NAME, skip_hash_check=skip_hash)
    except EtcdServerError as e:
        detail = str(e).split(": ", 1)[-1]
        raise SnapshotError(f"restore failed: {_go_bytes_as_hex(detail)}") from None
    result.restore_seconds = time.monotonic() - t0

    stage("expect")
    t0 = time.monotonic()
    expected, sampled, result.sample_every, problems = _expectations(
        source, os.fspath(target), plan_keys, gone, full, sample_every, progress, lay.keys(SAMPLE_PREFIXES))
    result.expected_revision, result.expected_keys = expected.revision, expected.count
    result.mismatches.extend(problems)
    if api is not None:
        cidrs_from = "flags" if api.service_cidrs else "snapshot"
        api_cidrs = list(api.service_cidrs or snapshot_service_ranges(
            target, lay, job.load_encryption(encryption_config) if encryption_config else None))
    result.expect_seconds = time.monotonic() - t0

    net = isolated_network() if api is not None else contextlib.nullcontext(NetNamespace(False, "no API server"))
    with net as ns:
        stage("start")
        server = EtcdServer(tools, data_dir, log_path=scratch / LOG_NAME)
        t0 = time.monotonic()
        with server:
            result.start_seconds = time.monotonic() - t0
            stage("verify")
            t0 = time.monotonic()
            with server.client() as client:
                _verify(client, expected, sampled, full, result, lay.keys(SAMPLE_PREFIXES))
            result.verify_seconds = time.monotonic() - t0
            if api is not None:
                stage("apiserver")
                t0 = time.monotonic()
                result.apiserver = apicheck.run(
                    api.binary, server, api_cidrs, cidrs_from, sorted(k.decode("utf-8", "surrogateescape")
                                                                      for k in plan_keys),
                    expected.revision, api.settle, scratch, ns.isolated, ns.reason,
                    [f"--encryption-provider-config={os.path.abspath(encryption_config)}"] if encryption_config else None,
                    root=lay.prefix)
                result.apiserver_seconds = time.monotonic() - t0
            stage("stop")
