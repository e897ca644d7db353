"""Compressed snapshots: k3s and rke2 ``etcd-snapshot save --compress`` write a zip holding one file.

k3s (``pkg/etcd/snapshot.go`` ``compressSnapshot``) deflates the ``etcdctl snapshot save`` file into
``<name>.zip`` with a single entry named ``<name>``. snaprewrite reads such a file by decompressing
that entry into a temp file in ``$TMPDIR`` (mode 0600, named ``.snaprewrite-unzip.<pid>.<random>.tmp``,
flock'ed while in use, announced to the supervisor) and opening the copy; the zip is never written.
The copy is removed when the snapshot is closed (also on SIGINT/SIGTERM/SIGHUP, which unwind through
``Snapshot.close``); one left by a SIGKILL is removed by the supervisor or the next run's sweep.
"""

import os
import tempfile
import zipfile

from .. import process
from ..errors import NotSnapshotError

ZIP_MAGIC = b"PK\x03\x04"
ZIP = "zip"
CHUNK = 8 << 20


def kind_of(path: str) -> str | None:
    """kind_of names the compression of a file from its first bytes (``zip``), None for a plain file."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(ZIP_MAGIC))
    except OSError:
        return None  # the caller's own open reports it
    return ZIP if head == ZIP_MAGIC else None


def temp_target() -> str:
    """temp_target is the name the temp copies are made beside (in ``$TMPDIR``)."""
    return os.path.join(tempfile.gettempdir(), "snaprewrite-unzip")


def extract(path: str) -> tuple[int, str]:
    """extract decompresses the one entry of the zip at ``path`` into a new temp file; returns (locked fd, path).

    Refuses (NotSnapshotError, one line) a damaged zip, one with other than exactly one file, an
    encrypted entry, or one whose data does not match its recorded size and CRC.
    """
    from .output import open_temp, sweep_stale  # output imports this layer's Snapshot

    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise NotSnapshotError(f"{path}: a zip file that cannot be read: {e}") from None
    with zf:
        files = [i for i in zf.infolist() if not i.is_dir()]
        if len(files) != 1:
            names = ", ".join(i.filename for i in files[:3]) + (", ..." if len(files) > 3 else "")
            raise NotSnapshotError(f"{path}: a zip holding {len(files)} files ({names or 'none'}); a compressed "
                                   f"snapshot holds exactly one")
        info = files[0]
        if info.flag_bits & 0x1:
            raise NotSnapshotError(f"{path}: {info.filename} is encrypted inside the zip")
        target = temp_target()
        sweep_stale(target)
        fd, tmp = open_temp(target)
        try:
            written = 0
            with zf.open(info) as src:
                while chunk := src.read(CHUNK):
                    written += len(chunk)
                    if written > info.file_size:
                        raise NotSnapshotError(f"{path}: {info.filename} inflates past its recorded size "
                                               f"{info.file_size}")
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
            if written != info.file_size:
                raise NotSnapshotError(f"{path}: {info.filename} is {written} bytes, the zip records "
                                       f"{info.file_size}")
        except (zipfile.BadZipFile, EOFError, NotImplementedError, ValueError) as e:
            discard(fd, tmp)
            raise NotSnapshotError(f"{path}: {info.filename}: cannot decompress it: {e}") from None
        except BaseException:
            discard(fd, tmp)
            raise
    return fd, tmp


def discard(fd: int, tmp: str) -> None:
    """discard removes a temp copy and releases its lock (a signal waits until it is done)."""
    with process.deferred():
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)
