"""Read-side queries over a snapshot: status, ls, get, dump, history, returning plain data for the CLI.

Values are shown as the Kubernetes API shows them where they are Kubernetes objects, as
``{"encrypted": {...}}`` when encrypted at rest (decrypted instead when the caller passes the API
server's EncryptionConfiguration as ``crypt``), and as ``{"base64": ...}`` otherwise. Secret data is
redacted unless the caller asks for it.
"""

import base64
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .errors import DecodeError
from .etcd import backend, mvcc, revision
from .etcd.fsck import fsck
from .etcd.snapshot import Snapshot

Progress = Callable[[int], None] | None
SECRET_PREFIXES = (b"/registry/secrets/", b"/kubernetes.io/secrets/")  # kube-apiserver's default; OpenShift's


def is_secret_key(key: bytes) -> bool:
    """is_secret_key tells whether a key names a Secret under any key prefix (``/PREFIX/secrets/NS/NAME``).

    Decoded values are also recognised by their kind (``show_value``); the key is what is left for
    values that do not decode (encrypted, damaged, foreign encodings).
    """
    if key.startswith(SECRET_PREFIXES):
        return True
    parts = key.split(b"/")
    return len(parts) >= 5 and parts[-3] == b"secrets"


def resource_of(key: bytes, root: bytes = b"/registry/") -> str | None:
    """resource_of names the registry resource of a key under ``root``: ``/registry/pods/ns/x`` -> ``pods``.

    Group resources (``<root><group>/<resource>/...``, the group has a dot) read ``resource.group``;
    ``<root>services/endpoints`` is ``endpoints`` and ``<root>services/specs`` is ``services``.
    """
    if not key.startswith(root):
        return None
    parts = key[len(root):].decode("utf-8", "replace").split("/")
    if len(parts) < 2:
        return parts[0] or None
    res = parts[0]
    if res == "services":
        return "endpoints" if parts[1] == "endpoints" else "services"
    if "." in res and len(parts) >= 3:
        return f"{parts[1]}.{res}"
    return res


def count_resources(keys: list[bytes], root: bytes = b"/registry/") -> dict[str, int]:
    """count_resources counts keys per registry resource under ``root``, grouping them by key head first.

    The head ("<root><resource>/<second component>") of each key is found by one regex pass over all
    keys joined by newlines (the literal "\n<root>" lets the regex engine skip ahead quickly); a key
    that itself holds a newline sends the count down the per-key path.
    """
    joined = b"\n" + b"\n".join(keys)
    if joined.count(b"\n") == len(keys):
        head = re.compile(b"\n(" + re.escape(root) + rb"[^/\n]*(?:/[^/\n]*)?)")
        heads = Counter(head.findall(joined))
    else:
        depth = root.count(b"/") + 1
        heads = Counter(b"/".join(k.split(b"/", depth + 1)[:depth + 1]) for k in keys)
    out: Counter = Counter()
    for h, n in heads.items():
        res = resource_of(h + b"/_", root)
        if res:
            out[res] += n
    return dict(sorted(out.items()))


class _Sealed:
    """Observes the status scan: which records hold an encrypted value, and with which provider/key name."""

    def __init__(self):
        self.at: dict[bytes, tuple[str, str]] = {}

    def visit(self, _key: bytes, revkey, value) -> None:
        from .etcd import kv as kvcodec
        from .k8s import encryption

        stored = kvcodec.decode(value).value
        if stored.startswith(encryption.ENC_PREFIX):
            self.at[revkey.tobytes()] = encryption.describe(stored)

    def state(self) -> list:
        """state is what a forked scan sends back (JSON): [revision key hex, provider, key name] each."""
        return [[rk.hex(), p, n] for rk, (p, n) in self.at.items()]

    def load(self, state: list) -> None:
        """load takes in ``state`` from a forked scan."""
        self.at = {bytes.fromhex(rk): (p, n) for rk, p, n in state}

    def counts(self, live_revkeys) -> list[dict]:
        """counts is the number of live values per (provider, key name), most first."""
        c = Counter(self.at[rk] for rk in live_revkeys if rk in self.at)
        return [{"provider": p, "keyName": n, "values": v} for (p, n), v in sorted(c.items(), key=lambda x: (-x[1], x[0]))]


class _Resources:
    """Classifies user keys by registry resource as ``count_resources`` does (``livecount.Classify``).

    Ids are given to resources as they are met (``names[id]``; 0: none). A key's resource depends on its
    first component below the root, and on the second only for ``services`` and group resources (a dot):
    one search over a leaf's keys gives that much of each (its token), and tokens are remembered with
    their id (a few dozen: not one per cluster-scoped object, as whole heads would be).
    """

    def __init__(self, root: bytes):
        self.root = root
        self.names: list[str | None] = [None]
        self._ids: dict[str, int] = {}
        self._tokens: dict[bytes, int] = {}
        self._token = re.compile(b"\n(?:" + re.escape(root) +
                                 rb"((?:services(?=/|\n|\Z)|[^/\n]*\.[^/\n]*)(?:/[^/\n]*)?|[^/\n]*)|(?!" +
                                 re.escape(root) + b"))")
        self._depth = root.count(b"/") + 1
        self._bare = [k for k in (root[:-1], root[:-2]) if k]  # keys outside the root a split head counts

    def __call__(self, keys: list[bytes]) -> list[int]:
        joined = b"\n" + b"\n".join(keys)
        if joined.count(b"\n") != len(keys) or any(b"\n" + k + b"\n" in joined + b"\n" for k in self._bare):
            return [self._key_id(k) for k in keys]
        tokens = self._token.findall(joined)  # one per key: b"" for a key outside the root
        ids = self._tokens
        for t in set(tokens).difference(ids):
            ids[t] = self._id(self.root + t) if t else 0
        return list(map(ids.__getitem__, tokens))

    def _key_id(self, key: bytes) -> int:
        """_key_id is one key's class, and marks the keys on which ``count_resources``' two ways differ.

        ``count_resources`` reads heads by splitting every key when one holds a newline: a key with a
        newline is then counted by its split head, and a key just short of the root ("/registry")
        counts too. Such keys get classes of their own, ``("newline", resource)`` and ``("bare",
        resource)``; ``resources`` settles them once the live keys are known.
        """
        d = self._depth
        head = b"/".join(key.split(b"/", d + 1)[: d + 1])
        if b"\n" not in key and key.startswith(self.root):
            return self._id(head)
        res = resource_of(head + b"/_", self.root) if (head + b"/_").startswith(self.root) else None
        kind = "newline" if b"\n" in key else "bare"
        if kind == "bare" and not res:
            return 0
        return self._name_id((kind, res or ""))

    def _name_id(self, name) -> int:
        if name not in self._ids:
            self._ids[name] = len(self.names)
            self.names.append(name)
        return self._ids[name]

    @staticmethod
    def resources(classes: dict) -> dict[str, int]:
        """resources is ``count_resources`` of the live keys from their counts by class."""
        split = any(isinstance(n, tuple) and n[0] == "newline" and v for n, v in classes.items())
        out: Counter = Counter()
        for n, v in classes.items():
            if isinstance(n, str):
                out[n] += v
            elif n[1] and (n[0] == "newline" or split):
                out[n[1]] += v
        return dict(sorted(out.items()))

    def _id(self, head: bytes) -> int:
        """_id is the class of the keys with this head (``count_resources``' "<root><first>[/<second>]")."""
        if not head.startswith(self.root):
            return 0
        res = resource_of(head + b"/_", self.root)
        return self._name_id(res) if res else 0


def _seal(value) -> tuple[str, str] | None:
    """_seal is (provider, key name) of a record whose value is encrypted at rest, else None (``_Sealed.visit``)."""
    from .etcd import kv as kvcodec
    from .k8s import encryption

    stored = kvcodec.decode(value).value
    return encryption.describe(stored) if stored.startswith(encryption.ENC_PREFIX) else None


def _counts_plain(snap: Snapshot, root: bytes, progress: Progress) -> tuple:
    """_counts_plain is status's (stats, live keys, resources, cni, encrypted) from a dict of every key (the plain path)."""
    from .rewrite import cnifind  # reads a handful of records named by the index

    with backend.StatsJob(snap, _Sealed(), marker=b"k8s:enc:") as job:  # the bucket hashes, on a free core
        index = job.index(progress)
        live = [k for k, rk in index.items() if len(rk) == revision.REV_BYTES_LEN]
        cni = cnifind.find(snap, index, root)
        live_revkeys = [rk for rk in index.values() if len(rk) == revision.REV_BYTES_LEN]
        del index
        resources = count_resources(live, root)
        st, sealed = job.result()
    return st, len(live), resources, cni, sealed.counts(live_revkeys)


def _counts(snap: Snapshot, root: bytes, progress: Progress, fork: bool | None = None) -> tuple | None:
    """_counts is ``_counts_plain`` from ``etcd.livecount`` (bounded memory, both cores), or None where it cannot."""
    from .etcd import livecount
    from .rewrite import cnifind

    try:
        st, c = livecount.count(snap, _Resources(root), cnifind.keeper(root), _seal, b"k8s:enc:", progress, fork)
    except livecount.Unsupported:
        return None
    encrypted = [{"provider": p, "keyName": n, "values": v}
                 for (p, n), v in sorted(c.sealed.items(), key=lambda x: (-x[1], x[0]))]
    return st, c.live, _Resources.resources(c.classes), cnifind.find(snap, c.kept, root), encrypted


def status(path: str, verify: bool = False, progress: Progress = None, prefix: str | None = None,
           plain: bool = False, fork: bool | None = None) -> dict:
    """status reports what ``etcdutl snapshot status`` does, plus trailer, page size, compaction, counts, layout.

    ``encrypted`` counts live values encrypted at rest by provider and key name (read from their
    prefixes: no config needed). ``plain`` takes the plain path (a dict of every key) instead of
    ``etcd.livecount`` (the same answer, tested); ``fork`` as ``backend.StatsJob``'s.
    """
    from .k8s import layout as k8slayout

    with Snapshot(path) as snap:
        snap.key_bucket()  # an etcd backend has one: refuse anything else before counting
        lay = k8slayout.detect(snap, prefix)
        got = None if plain else _counts(snap, lay.root, progress, fork)
        st, live, resources, cni, encrypted = got if got is not None else _counts_plain(snap, lay.root, progress)
        cs = mvcc.compact_state(snap)
        out = {
            "hash": st.hash,
            "revision": st.revision,
            "totalKey": st.total_key,
            "totalSize": st.total_size,
            "trailer": snap.trailer,
            "pageSize": snap.pages.page_size,
            "compactRevision": max(cs.scheduled, cs.finished),
            "consistentIndex": cs.consistent_index,
            "liveKeys": live,
            "buckets": st.buckets,
            "resources": resources,
            "layout": lay.as_json(),
            "cni": cni,
            "encrypted": encrypted,
        }
        if verify:
            out["hashOk"] = snap.verify_trailer()
        snap.check_unchanged()
        return out


def key_arg(snap: Snapshot, key: str, root: str | None = None) -> bytes:
    """key_arg is a key given on the command line: as given if it starts with ``/``, else below the layout root
    (``services/specs/`` -> ``/kubernetes.io/services/specs/`` on OpenShift); ``root`` is ``--prefix``."""
    if key.startswith("/") or not key:
        return os.fsencode(key)
    from .k8s import layout as k8slayout

    return k8slayout.detect(snap, root).absolute(os.fsencode(key))


def ls(path: str, prefix: str = "", progress: Progress = None, root: str | None = None) -> list[str]:
    """ls lists the live keys at the latest revision under ``prefix`` (relative: below the layout root), sorted."""
    with Snapshot(path) as snap:
        index = mvcc.latest_index(snap, key_arg(snap, prefix, root), progress)
        keys = [k for k, rk in index.items() if not mvcc.is_tombstone(rk)]  # ``live_keys`` without its dict
        del index
        for i, k in enumerate(keys):  # in place: each key's bytes go as its text comes (8 GiB: 570k keys)
            keys[i] = k.decode("utf-8", "backslashreplace")
        keys.sort()
        return keys


def show_value(key: bytes, value: bytes, show_secrets: bool = False, crypt=None) -> dict:
    """show_value turns a stored value into what a reader should see (decoded, redacted, or base64).

    With ``crypt`` (``k8s.encryption.EncryptionConfig``) an encrypted value is decrypted first; one it
    cannot open raises EncryptionError (unknown key name, wrong key, kms).
    """
    from .k8s import decode as k8sdecode  # protobuf schemas load only for commands that show values
    from .k8s import envelope

    if crypt is not None:
        value = crypt.open(key, value)[0]
    try:
        env = envelope.parse(value)
    except DecodeError as e:
        return {"undecodable": str(e), "size": len(value)}
    if env.storage == "encrypted":
        return {"encrypted": {"provider": env.provider, "keyName": env.key_name}, "size": len(value)}
    if env.storage == "other":
        if is_secret_key(key) and not show_secrets:
            return {"redacted": True, "size": len(value)}
        return {"base64": base64.b64encode(value).decode()}
    try:
        obj = k8sdecode.decode_value(value)
    except DecodeError as e:
        return {"undecodable": str(e), "size": len(value)}
    if not show_secrets and (obj.get("kind") == "Secret" or is_secret_key(key)):
        obj = k8sdecode.redact_secret(obj)
    return obj


@dataclass(frozen=True)
class Got:
    """The answer of ``get``: the record, the value as shown, and whether it is a Secret (by key or kind)."""

    record: mvcc.Record
    shown: dict
    secret: bool = False


def get(path: str, key: str, revision: int | None = None, show_secrets: bool = False,
        progress: Progress = None, root: str | None = None, crypt=None) -> Got:
    """get returns a key's record visible at ``revision`` (latest by default) and its shown value."""
    with Snapshot(path) as snap:
        rec = mvcc.get(snap, key_arg(snap, key, root), revision, progress)
        shown = show_value(rec.kv.key, rec.kv.value, show_secrets, crypt)
        secret = is_secret_key(rec.kv.key) or shown.get("kind") == "Secret"  # redaction keeps the kind
        return Got(rec, shown, secret)


def record_json(rec: mvcc.Record, value: dict | None) -> dict:
    """record_json is the JSON line of one record, as ``dump`` prints it."""
    out = {
        "key": rec.kv.key.decode("utf-8", "backslashreplace"),
        "createRevision": rec.kv.create_revision,
        "modRevision": rec.kv.mod_revision,
        "version": rec.kv.version,
        "lease": rec.kv.lease,
    }
    if value is not None:
        out["value"] = value
    return out


def dump(path: str, prefix: str = "", show_secrets: bool = False, progress: Progress = None,
         crypt=None) -> Iterator[dict]:
    """dump yields one JSON-ready dict per live key under ``prefix``, in key order.

    With ``crypt`` every encrypted value is opened once before the first line is yielded, so a value
    it cannot open stops the dump with no partial output.
    """
    with Snapshot(path) as snap:
        live = mvcc.live_keys(snap, key_arg(snap, prefix), progress)
        keys = sorted(live)
        if crypt is not None:
            for key in keys:
                crypt.open(key, mvcc.record_at(snap, live[key]).kv.value)
        for key in keys:
            rec = mvcc.record_at(snap, live[key])
            yield record_json(rec, show_value(key, rec.kv.value, show_secrets, crypt))


def history(path: str, key: str, values: bool = False, show_secrets: bool = False,
            progress: Progress = None, root: str | None = None, crypt=None) -> list[dict]:
    """history lists every stored record of ``key``, deletions included, oldest first."""
    with Snapshot(path) as snap:
        out = []
        for rec in mvcc.history(snap, key_arg(snap, key, root), progress):
            row = {"revision": rec.revision.main, "sub": rec.revision.sub,
                   "type": "DELETE" if rec.tombstone else "PUT", **record_json(rec, None),
                   "valueSize": len(rec.kv.value)}
            if values and not rec.tombstone:
                row["value"] = show_value(rec.kv.key, rec.kv.value, show_secrets, crypt)
            out.append(row)
        return out


def to_json_line(obj: dict) -> str:
    """to_json_line serialises one dump record compactly."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def check(path: str, verify_trailer: bool = True, progress: Progress = None) -> list[str]:
    """check runs the full structural check of a snapshot and returns its problems."""
    with Snapshot(path) as snap:
        return fsck(snap, verify_trailer, progress)
