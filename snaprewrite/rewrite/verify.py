"""Comparing two snapshots key by key at their latest revisions, and checking the differences against a report.

Every live key of either snapshot is compared: present in both with identical bytes and revisions,
or listed as a difference. For Kubernetes objects the differing fields are named the way the
rewrite report names them (``spec.clusterIPs[0]``, ``data.kubelet``), so ``covered`` can tell
whether the report accounts for every difference.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import DecodeError
from ..etcd import mvcc
from ..etcd.snapshot import Snapshot
from ..k8s import decode

Progress = Callable[[int], None] | None


@dataclass
class Difference:
    """One key that differs: how (``changed``, ``added``, ``removed``) and which fields."""

    key: str
    how: str
    fields: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"key": self.key, "how": self.how, "fields": self.fields}


def field_diff(a, b, path: str = "") -> list[str]:
    """field_diff lists the paths where two decoded objects differ (``spec.clusterIPs[0]``)."""
    if type(a) is not type(b):
        return [path or "."]
    if isinstance(a, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{k}" if path else str(k)
            if k not in a or k not in b:
                out.append(sub)
            else:
                out.extend(field_diff(a[k], b[k], sub))
        return out
    if isinstance(a, list):
        if len(a) != len(b):
            return [path]
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out.extend(field_diff(x, y, f"{path}[{i}]"))
        return out
    return [] if a == b else [path or "."]


def _fields(old: mvcc.Record, new: mvcc.Record) -> list[str]:
    out = []
    for name in ("create_revision", "mod_revision", "version", "lease"):
        if getattr(old.kv, name) != getattr(new.kv, name):
            out.append(f"({name})")
    if old.kv.value != new.kv.value:
        try:
            diff = field_diff(decode.decode_value(old.kv.value), decode.decode_value(new.kv.value))
            out.extend(diff or ["(encoding)"])
        except DecodeError:
            out.append("(value)")
    return out


def compare(old_path: str, new_path: str, progress: Progress = None) -> list[Difference]:
    """compare returns every key whose latest live record differs between two snapshots, in key order."""
    with Snapshot(old_path) as a, Snapshot(new_path) as b:
        la = mvcc.live_keys(a, progress=progress)
        lb = mvcc.live_keys(b, progress=progress)
        out = []
        for key in sorted(set(la) | set(lb)):
            text = key.decode("utf-8", "backslashreplace")
            if key not in lb:
                out.append(Difference(text, "removed"))
            elif key not in la:
                out.append(Difference(text, "added"))
            else:
                ra, rb = mvcc.record_at(a, la[key]), mvcc.record_at(b, lb[key])
                if ra.kv != rb.kv:
                    out.append(Difference(text, "changed", _fields(ra, rb)))
        return out


def _covers(listed: str, diff: str) -> bool:
    """_covers tells whether a report field accounts for a differing path (same, or one contains the other)."""
    base = listed.split(":", 1)[0]
    return diff in (listed, base) or diff.startswith((base + ".", base + "[")) or \
        base.startswith((diff + ".", diff + "["))


def uncovered(diffs: list[Difference], report: dict) -> list[str]:
    """uncovered lists the differences that the rewrite report does not account for."""
    by_key: dict[str, list[str]] = {}
    renamed_to: set[str] = set()
    for c in report.get("changes", []):
        by_key.setdefault(c["key"], []).append(c["field"])
        if c.get("newKey"):
            renamed_to.add(c["newKey"])
            by_key.setdefault(c["newKey"], []).append(c["field"])
    allowed_meta = {"(mod_revision)", "(version)"} if report.get("asNewRevision") else set()
    out = []
    for d in diffs:
        listed = by_key.get(d.key)
        if d.how == "added" and (d.key in renamed_to or listed):
            continue
        if d.how == "removed" and listed:
            continue
        if listed is None:
            out.append(f"{d.key}: {d.how} but not in the report")
            continue
        for f in d.fields:
            if f in allowed_meta or f in ("metadata.name",) and "metadata.name" in listed:
                continue
            if f in ("raw", "(value)"):  # a value with no (full) schema: the report's fields of the key cover it
                continue
            if not any(_covers(x, f) for x in listed):
                out.append(f"{d.key}: field {f} differs but is not in the report")
    return out
