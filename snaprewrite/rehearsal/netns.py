"""A private network namespace for the calling thread, so a restored cluster can dial nothing outside.

A restored real snapshot names admission webhooks, aggregated API servers and cloud endpoints at
other addresses; a kube-apiserver started on it would dial them. ``isolated_network()`` moves the
calling thread into a fresh network namespace whose only interface is an up loopback (127.0.0.1,
::1) and moves it back on exit, also on exceptions and KeyboardInterrupt. Linux keeps a network
namespace per thread: processes started from this thread (etcd, kube-apiserver) and sockets it opens
(health checks, the etcd and Kubernetes clients) live in the namespace, other threads of the process
do not. Threads started from inside inherit it (urllib3 pools opened there keep working after exit
only as long as their sockets stay open; open clients inside the block).

Creating a namespace needs CAP_SYS_ADMIN (root, or a container with it). Without it the block runs
in the host's namespace and ``NetNamespace.isolated`` is False: callers report that, and still bind
127.0.0.1 only. The namespace disappears when its last process exits and the thread has left it.
"""

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ = "16sH14x"


@dataclass
class NetNamespace:
    """Where the block runs: ``isolated`` tells whether it is a private namespace, ``reason`` why not."""

    isolated: bool
    reason: str = ""
    inode: str = ""


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _loopback_up() -> None:
    """_loopback_up sets IFF_UP on ``lo`` of the current namespace (a new namespace starts with it down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        got = fcntl.ioctl(s, _SIOCGIFFLAGS, struct.pack(_IFREQ, b"lo", 0))
        flags = struct.unpack(_IFREQ, got)[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))


def _ns_link() -> str:
    try:
        return os.readlink("/proc/thread-self/ns/net")
    except OSError:
        return ""


@contextlib.contextmanager
def isolated_network(required: bool = False) -> Iterator[NetNamespace]:
    """isolated_network runs the block in a new network namespace (only loopback) when the platform allows it.

    With ``required`` a platform that does not allow it raises OSError; otherwise the block runs in the
    host namespace and the yielded NetNamespace says so (``isolated`` False, ``reason``).
    """
    if os.environ.get("SNAPREWRITE_NO_NETNS"):
        yield NetNamespace(False, "SNAPREWRITE_NO_NETNS is set")
        return
    try:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        if required:
            raise
        yield NetNamespace(False, f"cannot open this thread's network namespace: {e.strerror}")
        return
    libc = _libc()
    entered = False
    try:
        if libc.unshare(CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            if required:
                raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")
            reason = os.strerror(err) + (" (needs CAP_SYS_ADMIN)" if err == errno.EPERM else "")
            yield NetNamespace(False, f"no new network namespace: {reason}")
            return
        entered = True
        _loopback_up()
        yield NetNamespace(True, "", _ns_link())
    finally:
        try:
            if entered and libc.setns(home, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"cannot return to the host network namespace: {os.strerror(err)}")
        finally:
            os.close(home)
