"""Writing a new snapshot file: the input streamed through a bbolt patch, sha256 trailer, atomic rename.

The input is read once, in chunks; each chunk is hashed twice at the same time on two cores (the
input's own sha256, to verify its trailer, and the output's, to write the new trailer: hashlib
releases the GIL), patched (only the new meta page lies inside the copied prefix) and written.
The output is a temp file beside the target, mode 0600 (snapshots hold Secrets), fsynced, then
renamed over the target; on any error the temp file is removed and the target left as it was.
"""

import hashlib
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import ChecksumError, SnapshotError
from .snapshot import TRAILER_SIZE, Snapshot

CHUNK = 8 << 20


@dataclass(frozen=True)
class Written:
    """The result of a write: the path, its size and its sha256 trailer, and the input's verdict."""

    path: str
    size: int
    sha256: str
    input_hash_ok: bool | None  # None: the input had no trailer (raw db) or it was not checked


def open_temp(target: str) -> tuple[int, str]:
    """open_temp creates an exclusive 0600 temp file in the target's directory."""
    d = os.path.dirname(os.path.abspath(target)) or "."
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=d)
    os.fchmod(fd, 0o600)
    return fd, tmp


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def write_patched(snap: Snapshot, copy_length: int, overwrites: list[tuple[int, bytes]], append: bytes,
                  target: str, verify_input: bool = True, progress: Callable[[int], None] | None = None,
                  before_rename: Callable[[str], None] | None = None) -> Written:
    """write_patched writes ``input[:copy_length]`` with ``overwrites`` applied, then ``append`` and a trailer.

    With ``verify_input`` the input's own trailer is checked on the same read; a mismatch aborts the
    write (ChecksumError). ``before_rename(tmp_path)`` may inspect the finished temp file (a structural
    check) and raise to abort. The input file is opened read-only and never written.
    """
    if os.path.abspath(target) == os.path.abspath(snap.path) or (
            os.path.exists(target) and os.path.samefile(target, snap.path)):
        raise SnapshotError("output is the input file: refusing to overwrite the input")
    stored = snap.stored_trailer() if verify_input else None
    h_in = hashlib.sha256()
    h_out = hashlib.sha256()
    fd, tmp = open_temp(target)
    try:
        with open(snap.path, "rb", buffering=0) as src, ThreadPoolExecutor(1) as pool:
            in_len = snap.identity.size - (TRAILER_SIZE if snap.trailer else 0)
            buf = bytearray(CHUNK)
            view = memoryview(buf)
            off = 0
            # The input hash covers the whole data (a raw copy_length may stop short of it).
            while off < max(copy_length, in_len if stored is not None else 0):
                n = src.readinto(view[: min(CHUNK, max(copy_length, in_len) - off)])
                if not n:
                    raise SnapshotError(f"{snap.path}: file shrank while reading")
                chunk = view[:n]
                pending = pool.submit(h_in.update, bytes(chunk)) if stored is not None else None
                if off < copy_length:
                    out = chunk[: max(0, min(n, copy_length - off))]
                    hits = [(o, b) for o, b in overwrites if o < off + len(out) and o + len(b) > off]
                    if hits:
                        out = bytearray(out)
                        for o, b in hits:
                            lo, hi = max(o, off), min(o + len(b), off + len(out))
                            out[lo - off : hi - off] = b[lo - o : hi - o]
                    h_out.update(out)
                    _write_all(fd, out)
                if pending is not None:
                    pending.result()
                off += n
                if progress is not None:
                    progress(n)
        if stored is not None and h_in.digest() != stored:
            raise ChecksumError(f"{snap.path}: sha256 trailer", stored.hex(), h_in.hexdigest())
        if append:
            h_out.update(append)
            _write_all(fd, append)
        digest = h_out.digest()
        _write_all(fd, digest)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        if before_rename is not None:
            before_rename(tmp)
        snap.check_unchanged()
        os.replace(tmp, target)
        tmp = None
        dfd = os.open(os.path.dirname(os.path.abspath(target)) or ".", os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        size = copy_length + len(append) + TRAILER_SIZE
        return Written(target, size, digest.hex(), None if stored is None else True)
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
