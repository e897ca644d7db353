"""Writing a new snapshot file: the input streamed through a bbolt patch, sha256 trailer, atomic rename.

The output is a temp file beside the target, mode 0600 (snapshots hold Secrets). The new bbolt pages
land in it first, at their offsets (``FileSink``: the transaction hands over each page as soon as it
is final, so none is held in memory). Then the input is read once, in chunks; each chunk is patched
(only the new meta page lies inside the copied prefix) and, on the same bytes, hashed for the input's
own sha256 (to verify its trailer) and for the output's, and written: three streams in order on two
cores (hashlib and os.write release the GIL), the reads running a few chunks ahead. The appended
pages are read back (from the page cache) into the output's hash, the trailer follows; the file is
fsynced while the check reads it, then published at the target. ``rewrite`` starts the copy earlier
(``Prefill``: the kept data is the input's first old-pgid pages, known before any transaction), in a
forked child (or a thread) while it plans; the output is then hashed back while the check runs. On
any error (or SIGINT/SIGTERM/SIGHUP) the temp file is removed and the target left as it was. The
input is opened read-only and never written.

Publishing (``Staging``): a run's outputs (the snapshot, its JSON report) wait in temp files until all
are complete, then go into place together; work still running on them (the output's check in a forked
child, its fsync in a thread: ``Staging.wait_for``) is waited for first, and if it fails nothing is
published. A target that must not be replaced is published by link-then-unlink, so one that appeared
meanwhile (another run) makes the publish fail instead of being silently replaced; ``replace`` renames
over it. Temp files are named ``.<target>.<pid>.<random>.tmp``
and flock'ed while open: after a SIGKILL, ``sweep_stale`` removes those whose pid is gone and whose lock
is free, and names any other.
"""

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import stat
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from .. import process
from ..bbolt.writer import PageSink, Patch
from ..errors import ChecksumError, CorruptError, SnapshotError
from ..fileio import pread_full, pwrite_all
from .snapshot import TRAILER_SIZE, Snapshot

CHUNK = 512 << 10  # read, hashed and written while still in the CPU caches (a quarter of a core's L2)
RING = 4  # chunks in flight: reading runs ahead of the input hash and the write
# Bytes per pwrite. The page cache keeps a write's pages in folios as large as the write (ext4, Linux
# 6.16+), and a read fault on a mapping maps a whole folio: after 2 MB writes, the post-write check
# reading one 4 KB leaf of the output made 2 MB of it resident, 16 leaves 32 MB (the rewrite's peak
# RSS). Written 64 KB at a time, a fault maps what the mapping's fault-around does (bbolt.pages).
WRITE_PIECE = 64 << 10


@dataclass(frozen=True)
class Written:
    """The result of a write: the path, its size and its sha256 trailer, and the input's verdict."""

    path: str
    size: int
    sha256: str  # the trailer: sha256 of the data before it
    input_hash_ok: bool | None  # None: the input had no trailer (raw db) or it was not checked
    file_sha256: str = ""  # the whole output, trailer included (what sha256sum prints)
    input_sha256: str | None = None  # the whole input, when its trailer was checked (None: not hashed)


_RANDOM = r"[a-z0-9_]{8}"  # tempfile.mkstemp's random part
_OURS = re.compile(rf"(\d+)\.{_RANDOM}")  # after ".<target>.": "<pid>.<random>"
_OLD_STYLE = re.compile(_RANDOM)  # temp files of versions before the pid was in the name


def open_temp(target: str) -> tuple[int, str]:
    """open_temp creates an exclusive 0600 temp file ``.<target>.<pid>.<random>.tmp`` beside the target, flock'ed while open."""
    d = os.path.dirname(os.path.abspath(target)) or "."
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.{os.getpid()}.", suffix=".tmp", dir=d)
    try:
        os.fchmod(fd, 0o600)
        with contextlib.suppress(OSError):  # no lock support (some network filesystems): the pid still tells
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    process.announce("temp", tmp)
    return fd, tmp


@dataclass(frozen=True)
class StaleTemp:
    """A temp file an earlier run into the same target left behind: removed, or only named (``why``)."""

    path: str
    removed: bool
    why: str

    def message(self) -> str:
        if self.removed:
            return f"removed {self.path}: temp file of an interrupted run ({self.why})"
        return f"found {self.path}: {self.why}; remove it by hand once no snaprewrite writes there"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, another user's
    return True


def sweep_stale(target: str) -> list[StaleTemp]:
    """sweep_stale removes temp files beside ``target`` that are provably a dead run's own, and names the others.

    Provably: the name has this version's form with a pid, no process has that pid, and nobody holds
    the file's lock (a live writer in another pid namespace still does).
    """
    d = os.path.dirname(os.path.abspath(target)) or "."
    prefix = f".{os.path.basename(target)}."
    try:
        names = sorted(n for n in os.listdir(d) if n.startswith(prefix) and n.endswith(".tmp"))
    except OSError:
        return []
    found: list[StaleTemp] = []
    for name in names:
        path = os.path.join(d, name)
        middle = name[len(prefix) : -len(".tmp")]
        ours = _OURS.fullmatch(middle)
        if ours is None:
            if _OLD_STYLE.fullmatch(middle):
                found.append(StaleTemp(path, False, "a temp file without a writer's pid (an older snaprewrite?)"))
            continue  # another target's temp file (".<target>.<more>...")
        pid = int(ours.group(1))
        if pid == os.getpid():
            continue
        if _running(pid):
            found.append(StaleTemp(path, False, f"its writer, pid {pid}, is still running"))
            continue
        with process.deferred():
            found.append(_remove_if_unlocked(path, pid))
    return [f for f in found if f.why]


def _remove_if_unlocked(path: str, pid: int) -> StaleTemp:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return StaleTemp(path, False, "")  # another sweep got it
    except OSError as e:
        return StaleTemp(path, False, f"cannot open it ({e.strerror})")
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return StaleTemp(path, False, "not a regular file")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return StaleTemp(path, False, f"locked by a running process (pid {pid} in another namespace?)")
        except OSError:
            pass  # no lock support: the pid is gone
        try:
            os.unlink(path)
        except FileNotFoundError:
            return StaleTemp(path, False, "")
        except OSError as e:
            return StaleTemp(path, False, f"cannot remove it ({e.strerror})")
        return StaleTemp(path, True, f"pid {pid} is no longer running")
    finally:
        os.close(fd)


class TargetExistsError(SnapshotError):
    """Is raised when an output that must not be replaced appeared while this run was writing it."""


_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS, errno.EXDEV}


def _publish_new(tmp: str, target: str) -> None:
    """_publish_new puts ``tmp`` at ``target`` only if no file is there (link, then unlink the temp name)."""
    try:
        os.link(tmp, target, follow_symlinks=False)
    except FileExistsError:
        raise TargetExistsError(f"{target} was created by another process while this run wrote {tmp}: "
                                f"left as it is (replace it with --force)") from None
    except OSError as e:
        if e.errno not in _NO_LINKS:
            raise
        # no hard links here: claim the name exclusively, then rename over the claim
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise TargetExistsError(f"{target} was created by another process while this run wrote {tmp}: "
                                    f"left as it is (replace it with --force)") from None
        os.replace(tmp, target)
        return
    os.unlink(tmp)


@dataclass
class _Staged:
    fd: int
    tmp: str
    target: str
    replace: bool
    published: bool = False


class Pending(Protocol):
    """Work still running on a staged file: ``result`` waits for it (raising if it failed), ``close`` ends it."""

    def result(self) -> object:
        """result waits for the work and raises its error, if any."""

    def close(self) -> object:
        """close ends the work (or waits for what cannot be stopped); safe to call again."""


_HOLDERS: "dict[str, Staging]" = {}  # temp file path -> the live staging holding it (``Staging.holding``)


class Staging:
    """Staging keeps one run's outputs in locked temp files and publishes them all, or none.

    ``create`` makes the temp file beside a target (``replace``: may replace an existing target;
    default: the staging's own). ``wait_for`` adds work still running on them (``Pending``).
    ``publish`` waits for that work (an error stops it before anything is renamed), then puts the
    files in place, those that must not replace first (link, which fails on a target that appeared
    meanwhile), and takes those back if a later one fails. Leaving the ``with`` block ends the work
    still running and removes every temp file that was not published.
    """

    def __init__(self, replace: bool = True):
        self.replace = replace
        self._items: list[_Staged] = []
        self._pending: list[Pending] = []

    @staticmethod
    def holding(path: str) -> "Staging | None":
        """holding is the live staging whose temp file is at ``path`` (None: not a staged temp file)."""
        return _HOLDERS.get(os.path.abspath(path))

    def create(self, target: str, replace: bool | None = None) -> tuple[int, str]:
        """create returns (fd, path) of a new temp file for ``target``; the staging owns the fd."""
        with process.deferred():  # a signal now would find the file made but not yet listed for cleanup
            fd, tmp = open_temp(target)
            self._items.append(_Staged(fd, tmp, target, self.replace if replace is None else replace))
            _HOLDERS[os.path.abspath(tmp)] = self
        return fd, tmp

    def wait_for(self, pending: Pending) -> None:
        """wait_for makes ``publish`` wait for ``pending`` first (its error publishes nothing) and ``discard`` end it."""
        self._pending.append(pending)

    def _settle(self) -> None:
        """_settle waits for every pending work in turn; at the first error the others are ended and it is raised."""
        pending, self._pending = self._pending, []
        try:
            for p in pending:
                p.result()
        finally:
            for p in pending:
                p.close()

    def publish(self) -> None:
        """publish waits for the work still running on the files, moves every temp file to its target and syncs the directories."""
        self._settle()
        done: list[_Staged] = []
        try:
            for item in sorted(self._items, key=lambda i: i.replace):
                if item.replace:
                    os.replace(item.tmp, item.target)
                else:
                    _publish_new(item.tmp, item.target)
                item.published = True
                done.append(item)
        except BaseException:
            with process.deferred():
                for item in done:  # take back what was new (a replaced file cannot come back)
                    if not item.replace and _same_inode(item.target, item.fd):
                        with contextlib.suppress(OSError):
                            os.unlink(item.target)
            raise
        for d in sorted({os.path.dirname(os.path.abspath(i.target)) or "." for i in self._items}):
            dfd = os.open(d, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        self.discard()

    def discard(self) -> None:
        """discard ends the work still running, closes every temp file and removes those not published (signals wait)."""
        with process.deferred():
            pending, self._pending = self._pending, []
            for p in pending:
                p.close()
            for item in self._items:
                _HOLDERS.pop(os.path.abspath(item.tmp), None)
                if item.fd >= 0:
                    os.close(item.fd)
                    item.fd = -1
                if not item.published:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(item.tmp)
            self._items.clear()

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc) -> None:
        self.discard()


def _same_inode(path: str, fd: int) -> bool:
    try:
        return os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
    except OSError:
        return False


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _pwrite_all(fd: int, data, offset: int) -> None:
    """_pwrite_all writes ``data`` at ``offset``, at most ``WRITE_PIECE`` bytes per call (see there)."""
    pwrite_all(fd, data, offset, WRITE_PIECE)


class FileSink:
    """FileSink is a PageSink over the output file: page ``pgid`` is written at ``pgid * page_size`` and read back from there.

    Pages that follow one another in the file (the transaction allocates them in order) are gathered and
    written ``WRITE_PIECE`` bytes at a time, not one system call per page; ``flush`` writes what is
    gathered (a read of gathered pages flushes first). The file's bytes are the same either way.
    """

    def __init__(self, fd: int, page_size: int):
        self.fd = fd
        self.page_size = page_size
        self.end = 0  # offset past the last page written
        self._buf = bytearray()
        self._at = 0  # file offset of _buf[0]

    def write(self, pgid: int, image: bytes) -> None:
        """write puts the page image at its offset (gathered with the pages before it when it follows them)."""
        off = pgid * self.page_size
        if self._buf and off != self._at + len(self._buf):
            self.flush()
        if not self._buf:
            self._at = off
        self._buf += image
        if len(self._buf) >= WRITE_PIECE:
            self.flush()
        self.end = max(self.end, off + len(image))

    def flush(self) -> None:
        """flush writes the gathered pages."""
        if self._buf:
            _pwrite_all(self.fd, self._buf, self._at)
            self._buf = bytearray()

    def read(self, pgid: int, size: int) -> bytes:
        """read returns ``size`` bytes written from page ``pgid`` on."""
        off = pgid * self.page_size
        if off + size > self.end:
            raise CorruptError("internal: page read back past what was written", pgid)
        if self._buf and off + size > self._at:
            self.flush()
        out = pread_full(self.fd, size, off)
        if len(out) < size:
            raise CorruptError("internal: output file shorter than the pages written", pgid)
        return out


class Prefill:
    """Prefill copies the input's kept data into a staged temp file for ``target`` and hashes the input, aside.

    Started before planning, handed to ``write_streamed``, which waits for it (``finish``), patches the
    meta page over the copy and hashes the output back from the page cache. The kept data is
    ``old pgid * page_size`` bytes (``bbolt.writer.Patch``'s invariant): known before any transaction.
    With ``verify_input`` the whole input is hashed for its trailer (``finish`` raises ChecksumError on a
    mismatch). The copy runs in a forked child where work may fork (``process.may_fork``), elsewhere in a
    thread (the same bytes): a thread takes the GIL back after every read, hash and write, and the
    planning thread, forced to hand it over, slept hundreds of times a run (1.3 GB bench). ``stop`` ends
    it early; it must be stopped or finished before the temp file closes.
    """

    def __init__(self, snap: Snapshot, target: str, staging: "Staging", verify_input: bool = True):
        _refuse_input(snap, target)
        self.snap = snap
        self.copy_length = snap.pages.meta.pgid * snap.pages.page_size
        self.stored = snap.stored_trailer() if verify_input else None
        self.verify_input = verify_input
        self.fd, self.tmp = staging.create(target)
        self._stop = False
        self._hashes: bytes | None = None  # the answer: the input's data digest and whole-file digest
        self._error: BaseException | None = None
        self._child: process.ForkedCall | None = None
        self._thread: threading.Thread | None = None
        if process.may_fork():
            self._child = process.fork_call(self._copy, "copy of the input", passes=(SnapshotError, OSError),
                                            died=SnapshotError)
        else:
            self._thread = threading.Thread(target=self._run, name="snaprewrite-prefill", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._hashes = self._copy()
        except BaseException as e:  # noqa: BLE001 - raised again by finish()
            self._error = e

    def _copy(self) -> bytes:
        """_copy writes the kept data and hashes the input's; returns its data digest and whole-file digest
        (the trailer hashed after it), or nothing if the input is not verified."""
        snap, fd, copy_length, stored = self.snap, self.fd, self.copy_length, self.stored
        in_len = snap.identity.size - (TRAILER_SIZE if snap.trailer else 0)
        end = max(copy_length, in_len if stored is not None else 0)
        h = hashlib.sha256()
        with open(snap.data_path, "rb", buffering=0) as src:
            buf = memoryview(bytearray(CHUNK))
            off = 0
            while off < end and not self._stop:
                n = src.readinto(buf[: min(CHUNK, end - off)])
                if not n:
                    raise snap.changed()
                if stored is not None:
                    h.update(buf[:n])
                if off < copy_length:
                    _pwrite_all(fd, buf[: min(n, copy_length - off)], off)
                off += n
        if stored is None:
            return b""
        data = h.digest()
        h.update(stored)
        return data + h.digest()

    def finish(self, copy_length: int) -> str | None:
        """finish waits for the copy, checks the input's data hash against its trailer and returns the
        input's whole-file sha256 (hex; None if the input was not verified)."""
        if self._child is not None:
            with self._child:
                self._hashes = bytes(self._child.result())
        else:
            self._thread.join()
            if self._error is not None:
                raise self._error
        if self._stop:
            raise CorruptError("internal: the prefill was stopped")
        if copy_length != self.copy_length:
            raise CorruptError(f"internal: patch keeps {copy_length} bytes, the prefill copied {self.copy_length}")
        if self.stored is None:
            return None
        data, whole = self._hashes[:32], self._hashes[32:]
        if data != self.stored:
            raise ChecksumError(f"{self.snap.path}: sha256 trailer", self.stored.hex(), data.hex())
        return whole.hex()

    def stop(self) -> None:
        """stop ends the copy (the child is killed; the thread stops at the next chunk) and waits for it."""
        self._stop = True
        if self._child is not None:
            self._child.close()
        else:
            self._thread.join()

    def running(self) -> bool:
        """running tells whether the copy's child or thread may still write into the temp file."""
        if self._child is not None:
            return self._child.pid != 0
        return self._thread.is_alive()

    def __enter__(self) -> "Prefill":
        return self

    def __exit__(self, *exc) -> None:
        if self.running():
            self.stop()


def write_patched(snap: Snapshot, copy_length: int, overwrites: list[tuple[int, bytes]], append: bytes,
                  target: str, verify_input: bool = True, progress: Callable[[int], None] | None = None,
                  before_rename: Callable[[str], None] | None = None, staging: "Staging | None" = None) -> Written:
    """write_patched writes ``input[:copy_length]`` with ``overwrites`` applied, then ``append`` and a trailer.

    With ``verify_input`` the input's own trailer is checked on the same read; a mismatch aborts the
    write (ChecksumError). ``before_rename(tmp_path)`` may inspect the finished temp file (a structural
    check) and raise to abort. With ``staging`` the finished file waits there to be published with the
    run's other outputs; without, it is published at once (replacing ``target``). The input file is
    opened read-only and never written.
    """

    def fill(fd: int) -> tuple[int, list[tuple[int, bytes]], int]:
        if append:
            _pwrite_all(fd, append, copy_length)
        return copy_length, overwrites, len(append)

    return _write(snap, target, fill, verify_input, progress, before_rename, staging)


def write_streamed(snap: Snapshot, target: str, build: Callable[[PageSink], Patch], verify_input: bool = True,
                   progress: Callable[[int], None] | None = None,
                   before_rename: Callable[[str], None] | None = None, staging: "Staging | None" = None,
                   prefill: Prefill | None = None) -> Written:
    """write_streamed runs ``build(sink)`` (a bbolt transaction committing into ``sink``), then writes the snapshot.

    The sink puts each new page straight into the temp output file; the returned ``Patch`` gives the
    kept prefix, its meta overwrite and the appended length. Otherwise as ``write_patched``. With
    ``prefill`` (started on ``staging`` with the same ``verify_input``) the kept data is already copied
    and the input hashed: the file is the same, byte for byte.
    """

    def fill(fd: int) -> tuple[int, list[tuple[int, bytes]], int]:
        sink = FileSink(fd, snap.pages.page_size)
        patch = build(sink)
        sink.flush()
        if patch.append is not None:  # a transaction that kept its pages after all
            _pwrite_all(fd, patch.append, patch.copy_length)
            sink.end = max(sink.end, patch.copy_length + len(patch.append))
        if sink.end > patch.new_length or (patch.append_length and sink.end != patch.new_length):
            raise CorruptError(f"internal: pages written up to offset {sink.end}, patch ends at {patch.new_length}")
        return patch.copy_length, list(patch.overwrites), patch.append_length

    if prefill is not None and (staging is None or prefill.verify_input != verify_input):
        raise CorruptError("internal: a prefill needs the staging it was started on and the same verify_input")
    return _write(snap, target, fill, verify_input, progress, before_rename, staging, prefill)


def _refuse_input(snap: Snapshot, target: str) -> None:
    if os.path.abspath(target) == os.path.abspath(snap.path) or (
            os.path.exists(target) and os.path.samefile(target, snap.path)):
        raise SnapshotError("output is the input file: refusing to overwrite the input")


def _write(snap: Snapshot, target: str, fill: Callable[[int], tuple[int, list[tuple[int, bytes]], int]],
           verify_input: bool, progress: Callable[[int], None] | None,
           before_rename: Callable[[str], None] | None, staging: "Staging | None",
           prefill: Prefill | None = None) -> Written:
    """_write is the common body: temp file, ``fill`` (the new pages), prefix copy and hashes, trailer, check, publish."""
    _refuse_input(snap, target)
    stored = snap.stored_trailer() if verify_input else None
    own = staging is None
    stage = Staging() if own else staging
    try:
        fd, tmp = (prefill.fd, prefill.tmp) if prefill is not None else stage.create(target)
        copy_length, overwrites, append_length = fill(fd)
        for o, b in overwrites:
            if o < 0 or o + len(b) > copy_length:
                raise CorruptError(f"patch overwrite at offset {o} falls outside the kept data")
        size = copy_length + append_length
        if prefill is None:
            h_out, h_in = _copy_prefix(snap, fd, copy_length, overwrites, stored, progress)
            if stored is not None:
                h_in.update(stored)  # the input's whole-file hash, as h_out is the output's
            input_sha256 = None if stored is None else h_in.hexdigest()
            _hash_back(fd, h_out, copy_length, append_length)
            digest = _add_trailer(fd, h_out, size)
            with ThreadPoolExecutor(1) as pool:  # the check reads the page cache while it goes to disk
                synced = pool.submit(os.fsync, fd)
                try:
                    if before_rename is not None:
                        before_rename(tmp)
                finally:
                    synced.result()
        else:  # the kept data is there: patch it; the check runs while the output is hashed back and synced
            input_sha256 = prefill.finish(copy_length)
            stored = prefill.stored
            for o, b in overwrites:
                _pwrite_all(fd, b, o)
            syncing = _Syncing(fd)  # to disk in a thread; publishing waits for it
            stage.wait_for(syncing)
            h_out = hashlib.sha256()
            with ThreadPoolExecutor(1) as pool:
                hashed = pool.submit(_hash_back, fd, h_out, 0, size)
                try:
                    if before_rename is not None:
                        before_rename(tmp)  # the data without its trailer: exactly the pages the trailer will cover
                finally:
                    hashed.result()
            digest = _add_trailer(fd, h_out, size)
            syncing.again()  # the trailer too, after the data
        snap.check_unchanged()
        if own:
            stage.publish()
        return Written(target, size + TRAILER_SIZE, digest.hex(), None if stored is None else True,
                       h_out.hexdigest(), input_sha256)
    finally:
        if own:
            stage.discard()


class _Syncing:
    """_Syncing fsyncs a staged file in a thread (a ``Pending``): the data now, and again (the trailer) on ``again``."""

    def __init__(self, fd: int):
        self.fd = fd
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="snaprewrite-fsync")
        self.syncs = [self.pool.submit(os.fsync, fd)]

    def again(self) -> None:
        """again fsyncs once more, after the syncs asked before (one thread runs them in order)."""
        self.syncs.append(self.pool.submit(os.fsync, self.fd))

    def result(self) -> None:
        """result waits for every fsync asked and raises the first one's error."""
        self.pool.shutdown(wait=True)
        for sync in self.syncs:
            sync.result()

    def close(self) -> None:
        """close waits for the fsyncs under way (an fsync cannot be stopped, and the fd must outlive it)."""
        self.pool.shutdown(wait=True)


def _add_trailer(fd: int, h_out: "hashlib._Hash", size: int) -> bytes:
    """_add_trailer writes the data's sha256 (``h_out`` so far) at ``size``; ``h_out`` then hashes the whole file."""
    digest = h_out.digest()
    h_out.update(digest)
    os.lseek(fd, size, os.SEEK_SET)
    _write_all(fd, digest)
    if os.fstat(fd).st_size != size + TRAILER_SIZE:
        raise CorruptError(f"internal: output is {os.fstat(fd).st_size} bytes, expected {size + TRAILER_SIZE}")
    return digest


def _copy_prefix(snap: Snapshot, fd: int, copy_length: int, overwrites: list[tuple[int, bytes]],
                 stored: bytes | None, progress: Callable[[int], None] | None
                 ) -> tuple["hashlib._Hash", "hashlib._Hash"]:
    """_copy_prefix writes ``input[:copy_length]`` (patched) at offset 0, hashing input and output on two cores.

    The input hash covers the whole data (``copy_length`` may stop short of it) and must match ``stored``.
    Returns the output hash so far and the input's data hash.
    """
    h_in = hashlib.sha256()
    h_out = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    in_len = snap.identity.size - (TRAILER_SIZE if snap.trailer else 0)
    end = max(copy_length, in_len if stored is not None else 0)
    with open(snap.data_path, "rb", buffering=0) as src, ThreadPoolExecutor(1) as hashing, \
            ThreadPoolExecutor(1) as writing:
        bufs = [memoryview(bytearray(CHUNK)) for _ in range(RING)]
        pending: list[tuple] = [()] * RING  # per buffer: the jobs still reading it
        off = 0
        i = 0
        while off < end:
            slot = i % RING
            for job in pending[slot]:
                job.result()  # the buffer is reused: its hash and write must be done with it
            n = src.readinto(bufs[slot][: min(CHUNK, end - off)])
            if not n:
                raise snap.changed()
            chunk = bufs[slot][:n]
            jobs = [hashing.submit(h_in.update, chunk)] if stored is not None else []
            if off < copy_length:
                out = chunk[: max(0, min(n, copy_length - off))]
                hits = [(o, b) for o, b in overwrites if o < off + len(out) and o + len(b) > off]
                if hits:
                    out = bytearray(out)
                    for o, b in hits:
                        lo, hi = max(o, off), min(o + len(b), off + len(out))
                        out[lo - off : hi - off] = b[lo - o : hi - o]
                jobs.append(writing.submit(_write_all, fd, out))
                h_out.update(out)
            pending[slot] = tuple(jobs)
            off += n
            i += 1
            if progress is not None:
                progress(n)
        for jobs in pending:
            for job in jobs:
                job.result()
    if stored is not None and h_in.digest() != stored:
        raise ChecksumError(f"{snap.path}: sha256 trailer", stored.hex(), h_in.hexdigest())
    return h_out, h_in


def _hash_back(fd: int, h: "hashlib._Hash", start: int, length: int) -> None:
    """_hash_back reads ``length`` bytes of the output at ``start`` (the appended pages, still cached) into ``h``."""
    buf = bytearray(min(CHUNK, max(length, 1)))
    view = memoryview(buf)
    off = 0
    while off < length:
        n = os.preadv(fd, [view[: min(len(buf), length - off)]], start + off)
        if not n:
            raise CorruptError(f"internal: output shorter than its appended pages at offset {start + off}")
        h.update(view[:n])
        off += n
