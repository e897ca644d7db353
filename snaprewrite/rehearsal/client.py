"""A small etcd v3 client over the JSON gateway (grpc-gateway), for loading and reading test data.

Both etcd 3.4 and 3.5 serve the gateway under ``/v3/`` (3.4 also under ``/v3beta/``); requests are HTTP
POSTs of JSON with base64 keys and values, and int64 fields come back as decimal strings, omitted
when zero. One keep-alive ``http.client`` connection is reused; it only ever connects to 127.0.0.1.

Throughput: single puts are bound by one round trip each; ``txn_put_many`` sends many puts in one
request (one revision, many sub-revisions) up to the server's --max-txn-ops.
"""

import base64
import hashlib
import http.client
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Self

from ..errors import SnapshotError

LOOPBACK = "127.0.0.1"
PREFIX = "/v3"


class EtcdRequestError(SnapshotError):
    """Is raised when the etcd gateway rejects a request or cannot be reached."""


@dataclass(frozen=True)
class KeyRecord:
    """One live key as etcd reports it (mvccpb.KeyValue)."""

    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int

    def to_json(self, inline_limit: int | None = None) -> dict:
        """to_json renders the record as the fixtures' expected files do: base64 key and value, or, for a
        value over ``inline_limit`` bytes, its length and sha256 instead."""
        out = {"key": base64.b64encode(self.key).decode()}
        if inline_limit is None or len(self.value) <= inline_limit:
            out["value"] = base64.b64encode(self.value).decode()
        else:
            out["value_len"] = len(self.value)
            out["value_sha256"] = hashlib.sha256(self.value).hexdigest()
        out.update(create_revision=self.create_revision, mod_revision=self.mod_revision,
                   version=self.version, lease=self.lease)
        return out


def _b64(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else bytes(data)


def prefix_end(prefix: bytes) -> bytes:
    """prefix_end is the range end covering every key that starts with prefix (b"\\0" for the empty prefix)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\x00"


def _record(kv: dict) -> KeyRecord:
    return KeyRecord(
        key=base64.b64decode(kv.get("key", "")),
        value=base64.b64decode(kv.get("value", "")),
        create_revision=int(kv.get("create_revision", 0)),
        mod_revision=int(kv.get("mod_revision", 0)),
        version=int(kv.get("version", 0)),
        lease=int(kv.get("lease", 0)),
    )


class EtcdClient:
    """A keep-alive JSON gateway client for one etcd on 127.0.0.1 (close it, or use it as a context manager)."""

    def __init__(self, port: int, host: str = LOOPBACK, timeout: float = 60.0):
        if host not in (LOOPBACK, "localhost"):
            raise EtcdRequestError(f"refusing to talk to etcd at {host}: only {LOOPBACK} is allowed")
        self.port = port
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        """close drops the keep-alive connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call(self, path: str, body: dict) -> dict:
        """call POSTs one JSON request to a gateway path like "/kv/put" and returns the decoded answer."""
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request("POST", PREFIX + path, body=data, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                break
            except (OSError, http.client.HTTPException) as e:
                self.close()
                # A stale keep-alive connection fails on first use; retry once on a fresh one. Writes are
                # only retried when nothing was answered, which the gateway cannot have applied twice.
                if attempt == 1 or isinstance(e, TimeoutError):
                    raise EtcdRequestError(f"etcd gateway {path} on port {self.port} unreachable: {e}") from e
        try:
            answer = json.loads(payload) if payload else {}
        except ValueError as e:
            raise EtcdRequestError(f"etcd gateway {path} answered {resp.status} with non-json") from e
        if resp.status != 200 or "error" in answer and "header" not in answer:
            msg = answer.get("message") or answer.get("error") or f"http {resp.status}"
            raise EtcdRequestError(f"etcd gateway {path} failed: {msg}")
        return answer

    # -- kv -----------------------------------------------------------------------------------------

    def put(self, key: bytes | str, value: bytes | str, lease: int = 0) -> int:
        """put writes one key and returns the revision it created."""
        body = {"key": _b64(key), "value": _b64(value)}
        if lease:
            body["lease"] = str(lease)
        return int(self.call("/kv/put", body)["header"]["revision"])

    def get(self, key: bytes | str, revision: int | None = None) -> KeyRecord | None:
        """get reads one key (at a revision if given) and returns its record, or None if absent."""
        body = {"key": _b64(key)}
        if revision:
            body["revision"] = str(revision)
        kvs = self.call("/kv/range", body).get("kvs", [])
        return _record(kvs[0]) if kvs else None

    def range(self, prefix: bytes | str | None = None, *, start: bytes | str | None = None,
              end: bytes | str | None = None, revision: int | None = None, limit: int = 500,
              keys_only: bool = False) -> Iterator[KeyRecord]:
        """range yields the records of a prefix (or [start, end); all keys by default), page by page at one revision."""
        if prefix is not None:
            if start is not None or end is not None:
                raise EtcdRequestError("range takes a prefix or start/end, not both")
            start = _as_bytes(prefix)
            end = prefix_end(start)
        else:
            start = _as_bytes(start) if start is not None else b"\x00"
            end = _as_bytes(end) if end is not None else b"\x00"
        pinned = revision
        while True:
            body = {"key": _b64(start), "range_end": _b64(end), "limit": str(limit)}
            if pinned:
                body["revision"] = str(pinned)
            if keys_only:
                body["keys_only"] = True
            answer = self.call("/kv/range", body)
            if not pinned:
                pinned = int(answer["header"]["revision"])
            kvs = answer.get("kvs", [])
            for kv in kvs:
                yield _record(kv)
            if not answer.get("more") or not kvs:
                return
            start = base64.b64decode(kvs[-1]["key"]) + b"\x00"

    def count(self, prefix: bytes | str | None = None, revision: int | None = None) -> int:
        """count is the number of live keys under a prefix (all keys by default)."""
        start = _as_bytes(prefix) if prefix is not None else b"\x00"
        end = prefix_end(start) if prefix is not None else b"\x00"
        body = {"key": _b64(start), "range_end": _b64(end), "count_only": True}
        if revision:
            body["revision"] = str(revision)
        return int(self.call("/kv/range", body).get("count", 0))

    def delete(self, key: bytes | str, *, prefix: bool = False) -> int:
        """delete removes one key (or every key under a prefix) and returns the revision of the deletion."""
        body = {"key": _b64(key)}
        if prefix:
            body["range_end"] = _b64(prefix_end(_as_bytes(key)))
        return int(self.call("/kv/deleterange", body)["header"]["revision"])

    def compact(self, revision: int, physical: bool = True) -> None:
        """compact discards history before revision (physical: wait until the backend has compacted)."""
        self.call("/kv/compaction", {"revision": str(revision), "physical": physical})

    def txn_put_many(self, items: Iterable[tuple[bytes | str, bytes | str]], lease: int = 0) -> int:
        """txn_put_many writes many keys in one transaction (one revision) and returns that revision."""
        ops = []
        for key, value in items:
            put = {"key": _b64(key), "value": _b64(value)}
            if lease:
                put["lease"] = str(lease)
            ops.append({"request_put": put})
        if not ops:
            raise EtcdRequestError("txn_put_many needs at least one item")
        return int(self.call("/kv/txn", {"success": ops})["header"]["revision"])

    # -- lease and maintenance ----------------------------------------------------------------------

    def lease_grant(self, ttl: int, lease_id: int = 0) -> int:
        """lease_grant creates a lease (with a chosen id if given, for deterministic fixtures) and returns its id."""
        body = {"TTL": str(ttl)}
        if lease_id:
            body["ID"] = str(lease_id)
        return int(self.call("/lease/grant", body)["ID"])

    def status(self) -> dict:
        """status is the member's status with the current revision as an int under "revision"."""
        answer = self.call("/maintenance/status", {})
        answer["revision"] = int(answer["header"]["revision"])
        return answer

    def revision(self) -> int:
        """revision is the store's current revision."""
        return self.status()["revision"]


def put_parallel(port: int, items: Iterable[tuple[bytes | str, bytes | str]], threads: int = 8) -> int:
    """put_parallel writes items as single puts (one revision each) over several connections; returns the count."""
    import threading

    source = iter(items)
    lock = threading.Lock()
    done = [0] * threads
    errors: list[BaseException] = []

    def work(slot: int) -> None:
        with EtcdClient(port) as client:
            while not errors:
                with lock:
                    item = next(source, None)
                if item is None:
                    return
                try:
                    client.put(*item)
                except BaseException as e:  # noqa: BLE001 - handed to the caller below
                    errors.append(e)
                    return
                done[slot] += 1

    workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
    return sum(done)
