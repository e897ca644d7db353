"""Opening etcd snapshot files and raw backend databases, and their sha256 trailer.

``etcdctl snapshot save`` writes bbolt's consistent copy of the backend, then the sha256 of those
bytes (32 bytes). Since the bbolt part is a whole number of pages (at least 512 bytes each), such a
file has ``size % 512 == 32``; a raw ``member/snap/db`` has ``size % 512 == 0`` and no trailer.
A k3s/rke2 compressed snapshot (a zip holding one such file, see ``compressed``) is read through a
temp copy: ``path`` stays the file the user named, ``data_path`` is the file read.
"""

import hashlib
import os
import stat
from dataclasses import dataclass

from ..bbolt.pages import PageFile
from ..bbolt.tree import Bucket
from ..errors import ChecksumError, NotSnapshotError, SchemaError
from . import compressed, schema

TRAILER_SIZE = 32
HASH_CHUNK = 8 << 20


def has_trailer(size: int) -> bool:
    """has_trailer tells whether a file of ``size`` bytes carries etcd's sha256 trailer."""
    return size % 512 == TRAILER_SIZE


@dataclass(frozen=True)
class Identity:
    """What a file was when opened (size, mtime, inode): compared again to detect concurrent writers."""

    size: int
    mtime_ns: int
    ino: int

    @classmethod
    def of(cls, fd_or_path) -> "Identity":
        st = os.fstat(fd_or_path) if isinstance(fd_or_path, int) else os.stat(fd_or_path)
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)


class Snapshot:
    """An etcd backend file opened read-only: the bbolt pages, the trailer if any, the root buckets.

    ``compressed`` is ``"zip"`` for a compressed snapshot (then ``data_path`` is its temp copy, removed
    by ``close``) and None otherwise (``data_path == path``). ``identity`` is the data file's,
    ``source_identity`` the named file's (what ``check_unchanged`` compares).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self.data_path = self.path
        self.compressed: str | None = None
        self._temp: tuple[int, str] | None = None
        self._stat_source()
        self.source_identity = self.identity
        if self.identity.size and compressed.kind_of(self.path) == compressed.ZIP:
            self._temp = compressed.extract(self.path)
            self.compressed = compressed.ZIP
            self.data_path = self._temp[1]
            try:
                self.identity = Identity.of(self._temp[0])
                self._open()
            except BaseException:
                self._drop_temp()
                raise
        else:
            self._open()

    def _stat_source(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise NotSnapshotError(f"{self.path}: no such file") from None
        except OSError as e:
            raise NotSnapshotError(f"{self.path}: cannot read it: {e.strerror}") from None
        if stat.S_ISDIR(st.st_mode):
            raise NotSnapshotError(f"{self.path}: is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise NotSnapshotError(f"{self.path}: not a regular file (a pipe, socket or device): "
                                   f"copy the snapshot to a file first")
        self.identity = Identity(st.st_size, st.st_mtime_ns, st.st_ino)
        if st.st_size == 0:
            raise NotSnapshotError(f"{self.path}: empty file")

    def _open(self) -> None:
        size = self.identity.size
        if size == 0:
            raise NotSnapshotError(f"{self.path}: empty file")
        self.trailer = has_trailer(size)
        if not self.trailer and size % 512:
            # bbolt files are whole pages (>= 512 bytes each); a snapshot adds exactly 32 bytes.
            raise NotSnapshotError(f"{self.path}: size {size} is neither whole pages nor pages plus a 32-byte "
                                   f"sha256 trailer: truncated or not a snapshot")
        try:
            self.pages = PageFile(self.data_path, size - TRAILER_SIZE if self.trailer else size)
        except PermissionError as e:
            raise NotSnapshotError(f"{self.path}: cannot read it: {e.strerror}") from None
        if self.trailer and self.pages.meta.pgid * self.pages.page_size != size - TRAILER_SIZE:
            # bbolt's WriteTo writes exactly pgid pages; anything else is a truncated or padded file.
            self.pages.close()
            raise NotSnapshotError(
                f"{self.path}: size {size} does not match the database ({self.pages.meta.pgid} pages "
                f"of {self.pages.page_size} bytes plus a 32-byte trailer): truncated or not a snapshot")
        self.root = Bucket.root_bucket(self.pages)
        self._key_bucket: Bucket | None = None

    @property
    def data_size(self) -> int:
        """data_size is the size of the bbolt database (what etcdutl reports as totalSize)."""
        return self.pages.meta.pgid * self.pages.page_size

    def stored_trailer(self) -> bytes | None:
        """stored_trailer returns the 32 trailer bytes, or None for a raw database."""
        if not self.trailer:
            return None
        with open(self.data_path, "rb") as f:
            f.seek(self.identity.size - TRAILER_SIZE)
            return f.read(TRAILER_SIZE)

    def compute_sha256(self) -> bytes:
        """compute_sha256 hashes the file up to its trailer (reads in chunks, not through the mapping)."""
        h = hashlib.sha256()
        remaining = self.identity.size - TRAILER_SIZE
        with open(self.data_path, "rb", buffering=0) as f:
            buf = bytearray(HASH_CHUNK)
            view = memoryview(buf)
            while remaining > 0:
                n = f.readinto(view[: min(HASH_CHUNK, remaining)])
                if not n:
                    raise self.changed()
                h.update(view[:n])
                remaining -= n
        return h.digest()

    def hashes(self) -> tuple[bytes, str]:
        """hashes returns, in one read, the sha256 of the data (what the trailer must hold) and of the whole file.

        The whole file's hash (trailer included) is the hex ``sha256sum`` prints: the file's identity.
        """
        data_len = self.identity.size - (TRAILER_SIZE if self.trailer else 0)
        h = hashlib.sha256()
        with open(self.path, "rb", buffering=0) as f:
            buf = bytearray(HASH_CHUNK)
            view = memoryview(buf)
            remaining = data_len
            while remaining > 0:
                n = f.readinto(view[: min(HASH_CHUNK, remaining)])
                if not n:
                    raise NotSnapshotError(f"{self.path}: file shrank while reading")
                h.update(view[:n])
                remaining -= n
            data = h.digest()
            tail = f.read(TRAILER_SIZE + 1) if self.trailer else f.read(1)
        if len(tail) != (TRAILER_SIZE if self.trailer else 0):
            raise NotSnapshotError(f"{self.path}: file changed size while reading")
        h.update(tail)
        return data, h.hexdigest()

    def verify_trailer(self) -> bool | None:
        """verify_trailer returns True/False for a snapshot file, None for a raw database."""
        stored = self.stored_trailer()
        if stored is None:
            return None
        return self.compute_sha256() == stored

    def require_trailer_ok(self) -> None:
        """require_trailer_ok raises ChecksumError unless the sha256 trailer matches (or there is none)."""
        stored = self.stored_trailer()
        if stored is None:
            return
        got = self.compute_sha256()
        if got != stored:
            raise ChecksumError(f"{self.path}: sha256 trailer", stored.hex(), got.hex())

    def check_unchanged(self) -> None:
        """check_unchanged refuses a file that changed since it was opened (another writer)."""
        if Identity.of(self.path) != self.source_identity:
            raise self.changed()

    def changed(self) -> NotSnapshotError:
        """changed is the error for an input another process changed while it was read, naming both states."""
        was = self.source_identity
        try:
            now = Identity.of(self.path)
        except OSError:
            return NotSnapshotError(f"{self.path}: input changed while reading: it was {was.size} bytes and is gone")
        if now.size != was.size:
            how = f"it was {was.size} bytes and is now {now.size}"
        elif now.ino != was.ino:
            how = f"inode {was.ino} was replaced by {now.ino}"
        else:
            how = f"same size, modified at {now.mtime_ns} ns instead of {was.mtime_ns}"
        return NotSnapshotError(f"{self.path}: input changed while reading: {how}")

    def bucket(self, name: bytes) -> Bucket | None:
        """bucket opens one of etcd's top-level buckets, or None."""
        return self.root.bucket(name)

    def key_bucket(self) -> Bucket:
        """key_bucket opens bucket ``key`` (the MVCC records); an etcd backend always has it."""
        if self._key_bucket is None:
            b = self.root.bucket(schema.KEY)
            if b is None:
                raise SchemaError(f"{self.path}: no 'key' bucket: not an etcd backend")
            self._key_bucket = b
        return self._key_bucket

    def close(self) -> None:
        """close releases the mapping (and removes the temp copy of a compressed snapshot)."""
        try:
            if hasattr(self, "pages"):
                self.pages.close()
        finally:
            self._drop_temp()

    def _drop_temp(self) -> None:
        if self._temp is not None:
            temp, self._temp = self._temp, None
            compressed.discard(*temp)

    def __enter__(self) -> "Snapshot":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
