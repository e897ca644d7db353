"""Rewriting the CIDR flags of kubeadm's static pod manifests (``/etc/kubernetes/manifests``).

``kube-apiserver.yaml`` carries ``--service-cluster-ip-range``; ``kube-controller-manager.yaml``
carries it too, plus ``--cluster-cidr``. Both are found in ``spec.containers[*].command`` or ``args``,
as ``--flag=value`` (kubeadm's form) or as ``--flag`` followed by the value. Dual-stack values
(``10.96.0.0/12,fd00:10:96::/108``) are mapped element by element. The edit is a text splice
(``rewrite.yamledit``): every other byte of the file stays as it was.

Backups and temporary files are dot-files beside the manifest: kubelet reads *every* non-hidden
regular file of its static pod directory as a manifest, whatever its extension (it globs ``[^.]*``,
``pkg/kubelet/config/file.go``), so a ``kube-apiserver.yaml.bak`` would start a second API server pod.
Hence ``.kube-apiserver.yaml.snaprewrite-<UTC timestamp>.bak``.
"""

import difflib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PlanError, SnapshotError, UsageError
from ..rewrite import yamledit
from ..rewrite.cidr import CidrMap, parse_subnet
from ..rewrite.yamledit import EACH

SERVICE_RANGE_FLAG = "--service-cluster-ip-range"
CLUSTER_CIDR_FLAG = "--cluster-cidr"

APISERVER = "kube-apiserver.yaml"
CONTROLLER_MANAGER = "kube-controller-manager.yaml"

# which flags each manifest carries, and which map ("service" or "pod") rewrites them
MANIFEST_FLAGS: dict[str, tuple[tuple[str, str], ...]] = {
    APISERVER: ((SERVICE_RANGE_FLAG, "service"),),
    CONTROLLER_MANAGER: ((SERVICE_RANGE_FLAG, "service"), (CLUSTER_CIDR_FLAG, "pod")),
}

_ARG_LISTS = (("spec", "containers", EACH, "command", EACH), ("spec", "containers", EACH, "args", EACH))


@dataclass(frozen=True)
class FlagChange:
    """One rewritten flag value."""

    flag: str
    old: str
    new: str


@dataclass
class ManifestEdit:
    """The planned edit of one manifest: old and new text, the flag changes, and notes for the operator."""

    path: Path
    old_text: str
    new_text: str
    changes: list[FlagChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.new_text != self.old_text

    @property
    def diff(self) -> str:
        """diff is the unified diff from the old text to the new one ("" when unchanged)."""
        return "".join(difflib.unified_diff(
            self.old_text.splitlines(keepends=True), self.new_text.splitlines(keepends=True),
            fromfile=f"{self.path} (before)", tofile=f"{self.path} (after)"))


def _flag_values(text: str, flag: str) -> list[yamledit.ScalarRef | tuple[yamledit.ScalarRef, str]]:
    """_flag_values finds the scalars holding ``flag``'s value: (ref, prefix) for ``--flag=v``, ref for ``--flag v``."""
    found: list = []
    for path in _ARG_LISTS:
        refs = yamledit.find_scalars(text, path)
        by_path = {r.path: r for r in refs}
        for r in refs:
            if r.value.startswith(flag + "="):
                found.append((r, flag + "="))
            elif r.value == flag:
                nxt = by_path.get(r.path[:-1] + (r.path[-1] + 1,))
                if nxt is None:
                    raise PlanError(f"flag {flag} has no value at {'.'.join(map(str, r.path))}")
                found.append(nxt)
    return found


def _map_value(value: str, cmap: CidrMap, flag: str, notes: list[str]) -> str:
    out = []
    for item in value.split(","):
        item = item.strip()
        mapped = cmap.map_subnet(item)
        if mapped is None:
            net = parse_subnet(item)
            if net is not None and any(m.new == net for m in cmap):
                notes.append(f"{flag}: {item} is already the new cidr")
            else:
                notes.append(f"{flag}: {item} is not inside any old cidr of {cmap}; left unchanged")
            out.append(item)
        elif not mapped.fits:
            raise PlanError(f"{flag}={value}: {mapped.reason}")
        else:
            out.append(mapped.new)
    return ",".join(out)


def rewrite_manifest(text: str, flag_maps: dict[str, CidrMap]) -> tuple[str, list[FlagChange], list[str]]:
    """rewrite_manifest rewrites the given flags' values in a static pod manifest's text."""
    edits: list[tuple[yamledit.ScalarRef, str]] = []
    changes: list[FlagChange] = []
    notes: list[str] = []
    for flag, cmap in flag_maps.items():
        found = _flag_values(text, flag)
        if not found:
            notes.append(f"{flag} is not set")
        for item in found:
            ref, prefix = item if isinstance(item, tuple) else (item, "")
            old = ref.value[len(prefix):]
            new = _map_value(old, cmap, flag, notes)
            if new != old:
                edits.append((ref, prefix + new))
                changes.append(FlagChange(flag, old, new))
    if not edits:
        return text, changes, notes
    return yamledit.splice(text, edits), changes, notes


def plan_manifests(directory: str | os.PathLike, service_map: CidrMap | None = None,
                   pod_map: CidrMap | None = None) -> list[ManifestEdit]:
    """plan_manifests computes the edits of kube-apiserver.yaml and kube-controller-manager.yaml in a directory."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a directory")
    if service_map is None and pod_map is None:
        raise UsageError("give --service-cidr and/or --pod-cidr")
    maps = {"service": service_map, "pod": pod_map}
    edits = []
    for name, flags in MANIFEST_FLAGS.items():
        path = directory / name
        if not path.is_file():
            continue
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise SnapshotError(f"{path}: cannot read: {e}") from None
        flag_maps = {flag: maps[kind] for flag, kind in flags if maps[kind] is not None}
        new, changes, notes = rewrite_manifest(text, flag_maps)
        edits.append(ManifestEdit(path, text, new, changes, notes))
    if not edits:
        raise UsageError(f"{directory} holds neither {APISERVER} nor {CONTROLLER_MANAGER}")
    return edits


def backup_path(path: str | os.PathLike, now: float | None = None) -> Path:
    """backup_path names a free hidden backup beside ``path`` (hidden, so kubelet ignores it)."""
    path = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    candidate = path.parent / f".{path.name}.snaprewrite-{stamp}.bak"
    n = 1
    while candidate.exists():
        candidate = path.parent / f".{path.name}.snaprewrite-{stamp}-{n}.bak"
        n += 1
    return candidate


def _write_new(path: Path, data: bytes, st: os.stat_result | None, mode: int | None = None) -> None:
    """_write_new creates ``path`` (it must not exist) with ``data``, fsynced, with ``st``'s owner and mode (or ``mode``)."""
    mode = mode if mode is not None else (st.st_mode & 0o7777 if st is not None else 0o644)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, mode)
        if st is not None:
            try:
                os.fchown(fd, st.st_uid, st.st_gid)
            except PermissionError:
                pass  # not root: the file is ours anyway
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)


def write_atomically(path: str | os.PathLike, text: str | bytes, *, backup: bool = True,
                     now: float | None = None, mode: int | None = None) -> Path | None:
    """write_atomically replaces a file's content (backup, temp file, fsync, rename), keeping mode and owner.

    A symlink is followed: its target is replaced, the link stays. ``mode`` forces the mode of the new
    file and of the backup (keys: 0600); with ``mode`` a missing file is created (no backup). Returns
    the backup's path.
    """
    target = Path(os.path.realpath(path))
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        try:
            st = os.stat(target)
        except FileNotFoundError:
            if mode is None:
                raise
            st = None
        saved = None
        if backup and st is not None:
            saved = backup_path(target, now)
            _write_new(saved, target.read_bytes(), st, mode)
        tmp = target.parent / f".{target.name}.snaprewrite-tmp-{os.getpid()}"
        _write_new(tmp, data, st, mode)
        os.replace(tmp, target)
        dfd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError as e:
        raise SnapshotError(f"{target}: cannot write: {e.strerror or e}") from None
    return saved


def apply_manifests(edits: list[ManifestEdit], *, now: float | None = None) -> list[tuple[Path, Path | None]]:
    """apply_manifests writes every changed manifest atomically; returns (manifest, backup) pairs."""
    return [(e.path, write_atomically(e.path, e.new_text, now=now)) for e in edits if e.changed]


def run(directory: str | os.PathLike, service_cidr: str | None = None, pod_cidr: str | None = None,
        dry_run: bool = False) -> tuple[list[ManifestEdit], list[tuple[Path, Path | None]]]:
    """run is ``snaprewrite manifests``: parse the ``OLD=NEW`` options, plan, and write unless dry_run."""
    service_map = CidrMap.parse(service_cidr, one_per_family=True) if service_cidr else None
    pod_map = CidrMap.parse(pod_cidr, one_per_family=True) if pod_cidr else None
    edits = plan_manifests(directory, service_map, pod_map)
    written = [] if dry_run else apply_manifests(edits)
    return edits, written
