"""Shared machinery of the fuzz suite: seed snapshots, structure-aware mutations, and the CLI contract check.

A *mutation* is a tuple of plain values (so hypothesis can shrink it and a corpus ``.txt`` can name it)
applied to the bbolt part of a seed snapshot; the sha256 trailer is then either kept (the mutation
must be caught by the trailer check where one runs) or recomputed (so the mutation reaches the parsers).

The contract every command must keep on any input (``check_result``): exit code 0 or 1; on 1 exactly one
stderr line, starting ``snaprewrite: error:``; never a traceback; never longer than ``CALL_TIMEOUT``.
``rewrite`` with ``--out`` must leave either a file that passes ``snaprewrite check`` or no file, and
no temp file beside it.
"""

import ast
import contextlib
import hashlib
import os
import shutil
import signal
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from snaprewrite.bbolt import format as fmt
from snaprewrite.bbolt.pages import PageFile
from snaprewrite.cli import app

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES_DIR = REPO_ROOT / "fixtures"
CORPUS_DIR = REPO_ROOT / "tests" / "corpus"
REAL_SNAPSHOT = Path(os.environ.get("SNAPREWRITE_REAL_SNAPSHOT",
                                    REPO_ROOT.parent / "shared" / "real" / "kubeadm-1.18-kube-router.snapshot.db"))
CALL_TIMEOUT = 20.0  # seconds; the seeds take well under one: more is a hang
SUBPROCESS_MEMORY = 1 << 30  # RLIMIT_AS of subprocess runs: an unbounded allocation fails them
TRAILER = 32
# rewrite copies records it does not change as they are, so an input whose bucket ``key`` holds an
# undecodable record (which ``check`` reports) gives an output with that same problem. Accepted here
# when the output's problems are a subset of the input's; job.py could refuse such inputs instead.
INHERITED_OK = False


@dataclass(frozen=True)
class Seed:
    """A snapshot to mutate, with a key it holds and a rewrite mapping that changes something in it."""

    name: str
    path: Path
    key: str
    mapping: tuple[str, ...]


SEEDS = {
    # tiny holds no Kubernetes ranges, so its OLD matches nothing: forced, so the writer still runs on it
    "tiny35": Seed("tiny35", FIXTURES_DIR / "tiny-etcd35.db", "/t/a",
                   ("--service-cidr", "10.96.0.0/12=10.100.0.0/16", "--force-unsafe-mapping")),
    "tiny34": Seed("tiny34", FIXTURES_DIR / "tiny-etcd34.db", "/t/b",
                   ("--service-cidr", "10.96.0.0/12=10.100.0.0/16", "--force-unsafe-mapping")),
    "k8s35": Seed("k8s35", FIXTURES_DIR / "k8s-etcd35.db", "/registry/services/specs/kube-system/kube-dns",
                  ("--service-cidr", "192.168.0.0/16=172.24.0.0/16", "--pod-cidr", "10.244.0.0/16=10.55.0.0/16")),
    "k8s34": Seed("k8s34", FIXTURES_DIR / "k8s-etcd34.db", "/registry/services/specs/default/web",
                  ("--service-cidr", "192.168.0.0/16=172.24.0.0/16", "--pod-cidr", "10.244.0.0/16=10.55.0.0/16")),
    "real": Seed("real", REAL_SNAPSHOT, "/registry/services/specs/kube-system/kube-dns",
                 ("--service-cidr", "10.96.0.0/12=10.100.0.0/16", "--pod-cidr", "10.5.0.0/16=10.55.0.0/16")),
}


# -- seed structure ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    """Where the interesting bytes of a seed are: page size, page count, tree pages and their elements."""

    data: bytes  # the bbolt part (no trailer)
    page_size: int
    npages: int
    # (pgid, flags, count) of every branch or leaf page
    tree_pages: tuple[tuple[int, int, int], ...]
    # absolute (offset, length) of every leaf value, for value-targeted corruption
    values: tuple[tuple[int, int], ...]
    # the same for the Kubernetes objects inside them (from the ``k8s\0`` magic to the record's end)
    objects: tuple[tuple[int, int], ...] = ()


_LAYOUTS: dict[str, Layout] = {}


def layout(seed: Seed) -> Layout:
    """layout parses a seed once (it is a sound file) into the offsets mutations aim at."""
    if seed.name in _LAYOUTS:
        return _LAYOUTS[seed.name]
    raw = seed.path.read_bytes()
    data = raw[:-TRAILER] if len(raw) % 512 == TRAILER else raw
    with PageFile(seed.path, len(data)) as pf:
        ps, n = pf.page_size, pf.meta.pgid
    tree, values = [], []
    p = 2
    while p < n:
        off = p * ps
        pid, flags, count, overflow = fmt.PAGE_HEADER.unpack_from(data, off)
        if pid == p and flags in (fmt.BRANCH_PAGE, fmt.LEAF_PAGE):
            tree.append((p, flags, count))
            if flags == fmt.LEAF_PAGE:
                base = off + fmt.PAGE_HEADER_SIZE
                for i in range(count):
                    e = base + i * fmt.LEAF_ELEMENT_SIZE
                    _f, pos, ksize, vsize = fmt.LEAF_ELEMENT.unpack_from(data, e)
                    if vsize:
                        values.append((e + pos + ksize, vsize))
        p += 1 + (overflow if pid == p else 0)
    objects = []
    for off, ln in values:
        at = data.find(b"k8s\x00", off, off + ln)
        if at >= 0:
            objects.append((at, off + ln - at))
    lay = Layout(data, ps, n, tuple(tree), tuple(values), tuple(objects))
    _LAYOUTS[seed.name] = lay
    return lay


# -- mutations -----------------------------------------------------------------------------------

EXTREMES32 = (0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF)
EXTREMES64 = (0, 1, 2, 0xFFFF, 0xFFFFFFFF, 1 << 63, 0xFFFFFFFFFFFFFFFF)
HEADER_FIELDS = {"id": (0, "<Q"), "flags": (8, "<H"), "count": (10, "<H"), "overflow": (12, "<I")}
LEAF_FIELDS = {"flags": 0, "pos": 4, "ksize": 8, "vsize": 12}
BRANCH_FIELDS = {"pos": (0, "<I"), "ksize": (4, "<I"), "pgid": (8, "<Q")}
META_FIELDS = {"magic": (0, "<I"), "version": (4, "<I"), "pageSize": (8, "<I"), "flags": (12, "<I"),
               "root": (16, "<Q"), "sequence": (24, "<Q"), "freelist": (32, "<Q"), "pgid": (40, "<Q"),
               "txid": (48, "<Q"), "checksum": (56, "<Q")}


def _put(buf: bytearray, off: int, form: str, value: int) -> None:
    size = struct.calcsize(form)
    if off >= 0 and off + size <= len(buf):
        struct.pack_into(form, buf, off, value & ((1 << (8 * size)) - 1))


def _fix_meta_checksum(buf: bytearray, off: int) -> None:
    body = off + fmt.PAGE_HEADER_SIZE
    if body + fmt.META_SIZE <= len(buf):
        _put(buf, body + fmt.META_CHECKSUM_OFFSET, "<Q", fmt.fnv64a(buf[body : body + fmt.META_CHECKSUM_OFFSET]))


def apply_op(lay: Layout, buf: bytearray, op: tuple) -> None:
    """apply_op applies one mutation op in place; ops whose target is missing do nothing.

    Ops (indexes are taken modulo what the seed has, so any integers are valid):
      ("flip", offset, bit) ("set", offset, byte) ("value", i, rel, xor) ("object", i, rel, xor)
      ("swap", a, b) ("copy", src, dst)
      ("header", page_i, field, v) ("elem", page_i, elem_i, field, v) ("meta", slot, field, v, fix_checksum)
      ("truncate", length)
    """
    kind = op[0]
    ps, n = lay.page_size, len(buf)
    if kind == "flip":
        if n:
            buf[op[1] % n] ^= 1 << (op[2] % 8)
    elif kind == "set":
        if n:
            buf[op[1] % n] = op[2] & 0xFF
    elif kind == "value":
        if lay.values:
            off, ln = lay.values[op[1] % len(lay.values)]
            if off + op[2] % ln < n:
                buf[off + op[2] % ln] ^= op[3] & 0xFF or 0xFF
    elif kind == "object":
        if lay.objects:
            off, ln = lay.objects[op[1] % len(lay.objects)]
            if off + op[2] % ln < n:
                buf[off + op[2] % ln] ^= op[3] & 0xFF or 0xFF
    elif kind in ("swap", "copy"):
        npg = n // ps
        if npg >= 2:
            a, b = op[1] % npg, op[2] % npg
            pa, pb = bytes(buf[a * ps : (a + 1) * ps]), bytes(buf[b * ps : (b + 1) * ps])
            buf[b * ps : (b + 1) * ps] = pa
            if kind == "swap":
                buf[a * ps : (a + 1) * ps] = pb
    elif kind == "header":
        if lay.tree_pages:
            pgid = lay.tree_pages[op[1] % len(lay.tree_pages)][0]
            off, form = HEADER_FIELDS[op[2]]
            _put(buf, pgid * ps + off, form, op[3])
    elif kind == "elem":
        if lay.tree_pages:
            pgid, flags, count = lay.tree_pages[op[1] % len(lay.tree_pages)]
            i = op[2] % max(count, 1)
            base = pgid * ps + fmt.PAGE_HEADER_SIZE
            if flags == fmt.LEAF_PAGE:
                _put(buf, base + i * fmt.LEAF_ELEMENT_SIZE + LEAF_FIELDS.get(op[3], 0), "<I", op[4])
            else:
                off, form = BRANCH_FIELDS.get(op[3], (8, "<Q"))
                _put(buf, base + i * fmt.BRANCH_ELEMENT_SIZE + off, form, op[4])
    elif kind == "meta":
        off = (op[1] % 2) * ps
        foff, form = META_FIELDS[op[2]]
        _put(buf, off + fmt.PAGE_HEADER_SIZE + foff, form, op[3])
        if op[4] and op[2] != "checksum":
            _fix_meta_checksum(buf, off)
    elif kind == "truncate":
        del buf[op[1] % (n + 1):]
    else:
        raise ValueError(f"unknown mutation op {kind}")


@dataclass(frozen=True)
class Mutation:
    """A seed, ops on its bbolt part, and what to do with the trailer: keep, recompute, or drop."""

    seed: str
    ops: tuple[tuple, ...]
    trailer: str = "fix"  # "fix": recompute sha256 over the mutated data; "keep": the original; "none"
    cut: int | None = None  # truncate the final file (trailer included) to this many bytes

    def describe(self) -> str:
        """describe names the mutation in one line that ``parse`` reads back (corpus .txt, failure messages)."""
        return repr({"seed": self.seed, "trailer": self.trailer, "cut": self.cut, "ops": list(self.ops)})

    @classmethod
    def parse(cls, text: str) -> "Mutation":
        """parse reads a ``describe`` line back."""
        d = ast.literal_eval(text)
        return cls(d["seed"], tuple(tuple(op) for op in d["ops"]), d["trailer"], d["cut"])


def build(m: Mutation) -> bytes:
    """build returns the bytes of a mutated snapshot."""
    seed = SEEDS[m.seed]
    lay = layout(seed)
    buf = bytearray(lay.data)
    for op in m.ops:
        apply_op(lay, buf, op)
    raw = seed.path.read_bytes()
    if m.trailer == "fix":
        buf += hashlib.sha256(buf).digest()
    elif m.trailer == "keep" and len(raw) % 512 == TRAILER:
        buf += raw[-TRAILER:]
    if m.cut is not None:
        del buf[m.cut % (len(buf) + 1):]
    return bytes(buf)


def with_trailer(data: bytes) -> bytes:
    """with_trailer appends etcd's sha256 trailer to bbolt data."""
    return data + hashlib.sha256(data).digest()


# -- running commands ----------------------------------------------------------------------------

class CallTimeout(BaseException):
    """Is raised inside a command that ran longer than CALL_TIMEOUT (a BaseException: nothing catches it)."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """time_limit raises CallTimeout in the main thread after ``seconds`` (SIGALRM)."""

    def on_alarm(signum, frame):
        raise CallTimeout(f"call took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Outcome:
    """What one command did: exit code, stdout, stderr, and an escaped exception (None when clean)."""

    args: list[str]
    code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None


_runner = CliRunner()


def invoke(args: list[str], timeout: float = CALL_TIMEOUT) -> Outcome:
    """invoke runs the CLI in-process under a time limit."""
    try:
        with time_limit(timeout):
            r = _runner.invoke(app, args, catch_exceptions=True)
    except CallTimeout as e:  # raised between commands, outside the runner
        return Outcome(args, -1, "", "", e)
    exc = r.exception if not isinstance(r.exception, SystemExit) else None
    return Outcome(args, r.exit_code, r.stdout, r.stderr, exc)


def run_subprocess(args: list[str], timeout: float = CALL_TIMEOUT) -> Outcome:
    """run_subprocess runs ``python -m snaprewrite.cli`` for real (real stderr), memory and time bounded."""

    def limits():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (SUBPROCESS_MEMORY, SUBPROCESS_MEMORY))

    try:
        p = subprocess.run([sys.executable, "-m", "snaprewrite.cli", *args], capture_output=True, text=True,
                           timeout=timeout, preexec_fn=limits, errors="replace", check=False)
    except subprocess.TimeoutExpired as e:
        return Outcome(args, -1, "", "", CallTimeout(f"subprocess timed out after {timeout} s: {e}"))
    return Outcome(args, p.returncode, p.stdout, p.stderr)


def contract_violation(o: Outcome) -> str | None:
    """contract_violation returns why an outcome breaks the CLI contract, or None when it keeps it."""
    if o.exception is not None:
        return f"escaped {type(o.exception).__name__}: {o.exception}"
    if "Traceback" in o.stderr or "Traceback" in o.stdout:
        last = (o.stderr.strip() or o.stdout.strip()).splitlines()[-1]
        return f"traceback printed, ending {last[:200]!r}"
    if o.code not in (0, 1):
        return f"exit code {o.code}"
    if o.code == 1:
        lines = o.stderr.splitlines()
        if len(lines) != 1 or not lines[0].startswith("snaprewrite: error: "):
            return f"stderr is not one error line: {o.stderr[:300]!r}"
        if "internal error" in lines[0].lower():  # a catch-all in the CLI hides a bug, it does not fix it
            return f"internal error reported: {lines[0][:300]!r}"
    return None


def commands(seed: Seed, snap: Path, workdir: Path) -> list[list[str]]:
    """commands lists every command the fuzz suite runs on one input."""
    s = str(snap)
    return [
        ["status", s, "-o", "json"],
        ["ls", s],
        ["dump", s],
        ["get", s, seed.key, "-o", "json"],
        ["history", s, seed.key, "--values"],
        ["check", s],
        ["verify", str(seed.path), s, "-o", "json"],
        ["rewrite", s, "--dry-run", "-o", "json", *seed.mapping],
        ["rewrite", s, "--out", str(workdir / "out.db"), "-o", "json", *seed.mapping],
    ]


def record_problems(path: Path) -> set[str]:
    """record_problems lists the bad records of bucket ``key`` the way ``check`` words them, even when
    ``check`` stops before the records because of a structural problem (a bad meta the reader falls back from).
    """
    from snaprewrite.errors import SnapshotError
    from snaprewrite.etcd import kv as kvcodec
    from snaprewrite.etcd import revision as revcodec
    from snaprewrite.etcd.snapshot import Snapshot

    out: set[str] = set()
    try:
        with Snapshot(path) as snap:
            for _flags, k, v in snap.key_bucket().iter_raw():
                try:
                    rev, tomb = revcodec.decode(k)
                    rec = kvcodec.decode(v)
                    if not tomb and rec.mod_revision != rev.main:
                        out.add(f"bucket key: record at revision {rev.main}/{rev.sub}: mod_revision {rec.mod_revision}")
                except SnapshotError as e:
                    out.add(f"bucket key: {e}")
    except SnapshotError:
        pass
    return out


def check_rewrite_output(workdir: Path, snap: Path, o: Outcome) -> str | None:
    """check_rewrite_output checks what ``rewrite --out`` left: a checked file on success, nothing on failure."""
    out = workdir / "out.db"
    stray = sorted(p.name for p in workdir.iterdir() if p.name not in (snap.name, out.name))
    if stray:
        return f"files left beside the output: {stray}"
    if o.code == 0:
        if not out.exists():
            return "rewrite succeeded but wrote no file"
        c = invoke(["check", str(out)])
        if c.code != 0:
            new = set(c.stdout.splitlines())
            if INHERITED_OK and new <= record_problems(snap):
                return None  # the input already had exactly these record problems (see INHERITED_OK)
            return f"rewrite wrote a file that fails check: {c.stdout[:300]!r} {c.stderr[:200]!r}"
    elif out.exists():
        return "rewrite failed but left an output file"
    return None


def run_all(seed: Seed, data: bytes, workdir: Path, subprocess_every: int = 0) -> list[tuple[list[str], str]]:
    """run_all writes ``data`` into ``workdir`` and runs every command; returns (args, violation) failures.

    ``subprocess_every`` > 0 also runs every n-th command through a real subprocess.
    """
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    snap = workdir / "in.db"
    snap.write_bytes(data)
    failures = []
    for i, args in enumerate(commands(seed, snap, workdir)):
        o = invoke(args)
        why = contract_violation(o)
        if why is None and args[0] == "rewrite" and "--out" in args:
            why = check_rewrite_output(workdir, snap, o)
        if why is not None:
            failures.append((args, why))
        (workdir / "out.db").unlink(missing_ok=True)
        if subprocess_every and i % subprocess_every == 0:
            o = run_subprocess(args)
            why = contract_violation(o)
            if why is not None:
                failures.append((["subprocess", *args], why))
            (workdir / "out.db").unlink(missing_ok=True)
    if snap.read_bytes() != data:
        failures.append((["*"], "the input file was modified"))
    return failures


def save_crasher(m: Mutation, data: bytes, failures: list[tuple[list[str], str]],
                 corpus: Path = CORPUS_DIR) -> Path:
    """save_crasher stores a failing input as <corpus>/<sha>.txt (mutation, commands, failures) plus <sha>.db.

    Inputs made from the real snapshot are stored as the recipe only (``mutation:`` line; the replay
    rebuilds them): that snapshot holds Secrets, which must not be committed.
    """
    corpus.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256(data).hexdigest()[:16]
    if m.seed != "real":
        (corpus / f"{sha}.db").write_bytes(data)
    lines = [f"mutation: {m.describe()}"] + [f"failed: {' '.join(a)}: {why}" for a, why in failures]
    path = corpus / f"{sha}.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def corpus_entries(corpus: Path = CORPUS_DIR) -> list[Path]:
    """corpus_entries lists the .txt files of the corpus (one per saved input)."""
    return sorted(corpus.glob("*.txt")) if corpus.is_dir() else []


def load_entry(txt: Path) -> tuple[Seed, bytes]:
    """load_entry returns the seed (for its key and mapping) and the bytes of one corpus input."""
    head = txt.read_text().splitlines()[0]
    if not head.startswith("mutation: "):
        raise ValueError(f"{txt}: first line must be 'mutation: {{...}}'")
    m = Mutation.parse(head.removeprefix("mutation: "))
    db = txt.with_suffix(".db")
    return SEEDS[m.seed], db.read_bytes() if db.exists() else build(m)
