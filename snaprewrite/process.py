"""The process around a command: SIGINT, SIGTERM and SIGHUP end a run cleanly; a supervisor reports crashes.

Signals. ``install`` (called before the command line's heavy imports) makes SIGINT, SIGTERM and SIGHUP
(a stopped unit, a dropped ssh connection) end the run the same way: while a command runs (``armed``)
the handler raises ``Interrupted`` (a ``KeyboardInterrupt``), so every ``finally`` removes its temp
files and the CLI prints one line and exits 128 + the signal number; outside a command (start-up
imports, argument parsing) there is nothing to clean up and it prints the line and exits at once.
Only the first signal counts: repeats while cleaning up are ignored, and ``deferred`` holds a signal
back until a cleanup step is finished.

Supervisor. A truncated input makes reads of its mapping fault (SIGBUS), which no Python handler can
recover from. ``supervise`` forks: the child runs the command, the parent waits for it, passes
SIGINT/SIGTERM/SIGHUP on, and when the child dies of a signal it prints one line naming the file
that changed ("input changed while reading": files in use are ``announce``d to it through a pipe) and
removes the temp files the child left. The child dies with the parent (PR_SET_PDEATHSIG).

Forked work. ``fork_call`` runs a function in a forked child (the second core, for work that holds the
GIL) and reads its JSON result back through a pipe. The child never runs its parent's cleanups (it
leaves by ``os._exit``), dies on SIGINT/SIGTERM/SIGHUP and with its parent, and owns no temp file; the
parent kills and reaps it when it stops waiting (``ForkedCall.close``, on any error or signal). A function
that returns bytes has them passed as they are (no JSON: a big answer is one buffer in the parent, not a
text decoded and parsed).

Limit: the first milliseconds of the interpreter (before ``site`` is imported and any snaprewrite code
runs) belong to Python: a SIGINT there is Python's own KeyboardInterrupt report. From the first line of
``snaprewrite.cli`` (``python -m``) or ``snaprewrite.__main__`` (the console script) on, it is ours.

Like ``errors``, this module imports nothing from snaprewrite: every layer may use it.
"""

import contextlib
import gc
import json
import os
import signal
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PREFIX = "snaprewrite: error: "


class Interrupted(KeyboardInterrupt):
    """Is raised in a running command by SIGINT, SIGTERM or SIGHUP."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class _State:
    armed = False  # a command is running: raise so that cleanups run
    exiting = False  # the first signal was acted on: ignore the rest
    deferred = 0  # inside a cleanup step: hold the signal back
    pending: int | None = None
    child = 0  # supervisor: the pid the signals are passed to
    notes_fd = -1  # supervised child: where announcements go


_state = _State()


def _handler(signum: int, frame) -> None:
    if _state.child:
        try:
            os.kill(_state.child, signum)
        except ProcessLookupError:
            pass
        return
    if _state.exiting:
        return
    if _state.deferred:
        _state.pending = signum
        return
    _state.exiting = True
    _ignore_the_rest()
    if _state.armed:
        raise Interrupted(signum)
    sys.stderr.write(f"{PREFIX}interrupted by {signal.Signals(signum).name}\n")
    sys.stderr.flush()
    raise SystemExit(128 + signum)


def _ignore_the_rest() -> None:
    """_ignore_the_rest has the kernel ignore SIGINT, SIGTERM and SIGHUP from now on: the first one is being acted on.

    The handler ignores them too, but Python's shutdown puts its handlers back to the default: a second signal
    arriving then (Ctrl-C reaches this process and its supervisor, which passes its copy on) killed the process
    after it had printed its line, and the supervisor printed a second one ("killed by SIGINT").
    """
    for s in SIGNALS:
        with contextlib.suppress(ValueError):  # (not the main thread: ``deferred`` acting on a held signal there)
            signal.signal(s, signal.SIG_IGN)


def install() -> None:
    """install routes SIGINT, SIGTERM and SIGHUP to the handler (main thread only; call it first)."""
    for s in SIGNALS:
        signal.signal(s, _handler)


@contextlib.contextmanager
def armed() -> Iterator[None]:
    """armed marks a running command: a signal raises ``Interrupted`` inside it instead of exiting at once."""
    before = _state.armed
    _state.armed = True
    try:
        yield
    finally:
        _state.armed = before


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """deferred holds a signal back while a cleanup step runs, and acts on it when the step is done."""
    _state.deferred += 1
    try:
        yield
    finally:
        _state.deferred -= 1
        if not _state.deferred and _state.pending is not None:
            signum, _state.pending = _state.pending, None
            _handler(signum, None)


def announce(kind: str, path: str, size: int = 0) -> None:
    """announce tells a supervisor about a file in use: ``read`` (mapped input, its size) or ``temp`` (to remove after a crash)."""
    if _state.notes_fd < 0:
        return
    line = f"{kind}\t{size}\t{os.path.abspath(path)}\n".encode("utf-8", "surrogateescape")
    try:
        os.write(_state.notes_fd, line)
    except OSError:
        _state.notes_fd = -1


def _die_with_parent(parent: int) -> None:
    """_die_with_parent asks Linux to SIGKILL this process when its parent dies (a SIGKILLed supervisor)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent:  # the parent died before the request
        os._exit(128 + signal.SIGKILL)


def supervise() -> None:
    """supervise forks; it returns in the child (which runs the command) and never returns in the parent."""
    if not hasattr(os, "fork") or os.environ.get("SNAPREWRITE_NO_SUPERVISOR"):
        return
    parent = os.getpid()
    r, w = os.pipe()  # non-inheritable: programs the child starts (etcd) do not hold it open
    old = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        pid = os.fork()
    except OSError:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        os.close(r)
        os.close(w)
        return
    if pid == 0:
        os.close(r)
        _state.notes_fd = w
        _die_with_parent(parent)
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return
    os.close(w)
    _state.child = pid
    signal.pthread_sigmask(signal.SIG_SETMASK, old)
    notes = bytearray()
    while chunk := os.read(r, 1 << 16):  # EOF: the child exited
        notes += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    os._exit(_verdict(status, notes.decode("utf-8", "surrogateescape")))


def _verdict(status: int, notes: str) -> int:
    """_verdict turns the child's wait status into the exit code; a death by signal gets its one line here."""
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    signum = os.WTERMSIG(status)
    reads: list[tuple[str, int]] = []
    temps: set[str] = set()
    for line in notes.splitlines():
        kind, size, path = line.split("\t", 2)
        if kind == "read":
            reads.append((path, int(size)))
        elif kind == "temp":
            temps.add(path)
            with contextlib.suppress(OSError):
                os.unlink(path)  # the dead child's own temp file (or a name it already published)
    reads = [(p, s) for p, s in reads if p not in temps]  # the output, mapped for its check
    name = signal.Signals(signum).name
    if signum == signal.SIGBUS:
        message = f"killed by SIGBUS: a file being read was truncated ({', '.join(p for p, _ in reads) or 'unknown'})"
        for path, size in reads:
            try:
                now = os.stat(path).st_size
            except OSError:
                now = -1
            if now != size:
                state = "is gone" if now < 0 else f"is now {now}"
                message = f"{path}: input changed while reading: it was {size} bytes and {state} (SIGBUS)"
                break
        code = 1
    else:
        message = f"killed by {name}" + (" (out of memory?)" if signum == signal.SIGKILL else "")
        code = 128 + signum
    sys.stderr.write(PREFIX + message + "\n")
    sys.stderr.flush()
    return code


class ForkedCall:
    """ForkedCall is a function running in a forked child; ``result`` waits for its JSON-able return value.

    An exception of a class in ``passes`` (or a subclass) is raised again in the parent: the same class,
    the same message and plain attributes (built without its ``__init__``). A child that dies (a
    signal) or ends without an answer raises ``died`` with one line naming it; any other exception in
    the child raises ``ChildFailed`` carrying the child's traceback (a bug keeps its traceback).
    """

    def __init__(self, pid: int, fd: int, what: str, passes: tuple[type[BaseException], ...],
                 died: type[BaseException]):
        self.pid = pid
        self.fd = fd
        self.what = what
        self.passes = passes
        self.died = died

    def result(self) -> Any:
        """result waits for the child and returns what its function returned (or raises what it raised);
        bytes come back as a bytearray."""
        try:
            raw, data = _read_answer(self.fd)
        finally:
            status = self.close()
        if status is not None and os.WIFSIGNALED(status):
            raise self.died(f"{self.what}: its process was killed by {signal.Signals(os.WTERMSIG(status)).name}")
        if raw:
            if data is None:
                raise self.died(f"{self.what}: its process ended without its whole answer")
            return data
        try:
            answer = json.loads(data)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise self.died(f"{self.what}: its process ended without an answer")
        if "ok" in answer:
            return answer["ok"]
        for cls in self.passes:
            for sub in (cls, *_subclasses(cls)):
                if f"{sub.__module__}.{sub.__qualname__}" == answer.get("type"):
                    exc = sub.__new__(sub)
                    BaseException.__init__(exc, answer.get("message", ""))
                    exc.__dict__.update(answer.get("attrs") or {})  # CorruptError.pgid, ChecksumError.expected, ...
                    raise exc
        raise ChildFailed(f"{self.what}: its process failed:\n{answer.get('traceback', '')}")

    def close(self) -> int | None:
        """close kills the child if it still runs and reaps it; returns its wait status (None if reaped before)."""
        with deferred():
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1
            if not self.pid:
                return None
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                _, status = os.waitpid(self.pid, 0)
            self.pid = 0
            return status

    def __enter__(self) -> "ForkedCall":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ChildFailed(RuntimeError):
    """Is raised when a forked child's function raised an exception its caller does not pass on (a bug)."""


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


RAW = b"\0"  # first byte of an answer that is the function's bytes (a JSON answer starts with ``{``)


def _read_answer(fd: int) -> tuple[bool, bytearray | None]:
    """_read_answer reads a child's answer to EOF: (True, the bytes) for a ``RAW`` one (None if it is cut short),
    else (False, the JSON text).

    A ``RAW`` answer says its size first: it is read into one buffer of that size (a buffer grown as the
    pipe gives it was three times its size in the parent's heap, and left holes there).
    """
    head = bytearray()
    while len(head) < 9 and (chunk := os.read(fd, 9 - len(head))):
        head += chunk
    if head[:1] != RAW:
        while chunk := os.read(fd, 1 << 20):
            head += chunk
        return False, head
    if len(head) < 9:
        return True, None
    data = bytearray(int.from_bytes(head[1:], "little"))
    got = 0
    with memoryview(data) as view:
        while got < len(data) and (n := os.readv(fd, [view[got:]])):
            got += n
    return True, data if got == len(data) and not os.read(fd, 1) else None


def _answer(fn: Callable[[], Any]) -> tuple[bytes, ...]:
    """_answer is the child's JSON answer: {"ok": result} or the exception's type, message and traceback;
    a result that is bytes goes as ``RAW``, their size (8 bytes) and the bytes (pieces written one after another)."""
    try:
        got = fn()
        if isinstance(got, (bytes, bytearray)):
            return RAW + len(got).to_bytes(8, "little"), got
        return (json.dumps({"ok": got}).encode(),)
    except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
        attrs = {k: v for k, v in vars(e).items() if isinstance(v, (str, int, float, bool, type(None)))}
        return (json.dumps({"type": f"{type(e).__module__}.{type(e).__qualname__}", "message": str(e),
                            "attrs": attrs, "traceback": traceback.format_exc()}).encode(),)


def reply(fd: int, fn: Callable[[], Any], label: str) -> None:
    """reply writes ``fn``'s answer (``_answer``'s pieces) to ``fd`` in a child, whole; with ``SNAPREWRITE_MEMLOG``,
    logs the child's memory at its start (``label``) and at the end."""
    born = memory() if os.environ.get("SNAPREWRITE_MEMLOG") else None
    for piece in _answer(fn):
        data = memoryview(piece)
        while data:
            data = data[os.write(fd, data):]
    if born is not None:
        memlog(f"{label} {born}; at exit {memory()}")


def may_fork() -> bool:
    """may_fork tells whether work may go to a forked child: the platform forks and ``SNAPREWRITE_NO_FORK`` is unset.

    ``SNAPREWRITE_NO_FORK=1`` runs everything in the command's own process (the same results, one core).
    """
    return hasattr(os, "fork") and not os.environ.get("SNAPREWRITE_NO_FORK")


class _Done:
    """A result computed at once, with ``ForkedCall``'s interface (``call_aside`` where there is no fork)."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value

    def close(self) -> None:
        pass

    def __enter__(self) -> "_Done":
        return self

    def __exit__(self, *exc) -> None:
        pass


def call_aside(fn: Callable[[], Any], what: str, passes: tuple[type[BaseException], ...] = (),
               died: type[BaseException] = RuntimeError) -> "ForkedCall | _Done":
    """call_aside is ``fork_call`` where work may be forked (``may_fork``), else ``fn()`` computed here at once.

    Either way the caller uses ``result()`` inside a ``with`` block.
    """
    if not may_fork():
        return _Done(fn())
    return fork_call(fn, what, passes, died)


def trim() -> None:
    """trim hands the C allocator's free memory back to the system (glibc's ``malloc_trim``; elsewhere nothing).

    Objects a run frees (a plan's scan, once the plan is made) leave their pages in the allocator's heap,
    resident and counted in the process's RSS, and in a forked child's, which maps every resident page
    of its parent. ``fork_call`` trims before it forks.
    """
    global _malloc_trim
    if _malloc_trim is None:
        _malloc_trim = False
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL(None).malloc_trim  # glibc (musl and macOS have none: nothing to do)
        except (OSError, AttributeError):
            pass
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


def memory() -> str:
    """memory is this process's resident set from /proc/self/status (MiB): rss (anon+file), its high-water mark, and
    the CPU time it used (user+system)."""
    try:
        with open("/proc/self/status") as f:
            got = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return "?"
    mib = {k: int(got.get(k, "0 kB").split()[0]) >> 10 for k in ("VmRSS", "RssAnon", "RssFile", "VmHWM")}
    t = os.times()
    return "rss {VmRSS} (anon {RssAnon} file {RssFile}) hwm {VmHWM} MiB".format(**mib) + f", cpu {t.user + t.system:.2f} s"


def memlog(line: str) -> None:
    """memlog writes one line of memory facts to stderr when ``SNAPREWRITE_MEMLOG`` is set (a measuring aid)."""
    if os.environ.get("SNAPREWRITE_MEMLOG"):
        os.write(2, f"memlog {os.getpid()}: {line}\n".encode())


def fork_call(fn: Callable[[], Any], what: str, passes: tuple[type[BaseException], ...] = (),
              died: type[BaseException] = RuntimeError) -> ForkedCall:
    """fork_call starts ``fn()`` in a forked child; the returned ``ForkedCall`` gives its result (see there).

    ``what`` names the work in messages. The parent's objects are shared copy-on-write (its free heap
    memory is handed back first: ``trim``); ``gc.freeze``
    keeps the child's collector from touching (and so copying) them. Only the calling thread exists in the
    child: call it while no other thread holds a lock the child needs (one blocked in ``os.fsync`` is fine).
    """
    trim()  # what the parent freed is not mapped into the child (its RSS counts every page it maps)
    memlog(f"forking {what!r}: {memory()}")
    r, w = os.pipe()
    parent = os.getpid()
    gc.freeze()
    old = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        with warnings.catch_warnings():  # 3.12+ warns of fork with threads: ours only wait in system calls
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        gc.unfreeze()
        os.close(r)
        os.close(w)
        raise
    if pid == 0:  # the child: leaves only through os._exit, never through its parent's cleanups
        try:
            os.close(r)
            if _state.notes_fd >= 0:
                os.close(_state.notes_fd)  # the supervisor reads it to EOF: only the command process holds it
                _state.notes_fd = -1
            for s in SIGNALS:
                signal.signal(s, signal.SIG_DFL)
            _die_with_parent(parent)
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
            reply(w, fn, f"child {what!r}: at fork")
        finally:
            os._exit(0)
    call = ForkedCall(pid, r, what, passes, died)
    try:
        os.close(w)
        gc.unfreeze()
        signal.pthread_sigmask(signal.SIG_SETMASK, old)  # a signal held back now raises here: the child goes too
    except BaseException:
        call.close()
        raise
    return call

