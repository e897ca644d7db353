"""etcd's backend as a whole: its buckets, key counts and the hash ``etcdutl snapshot status`` prints.

The status hash is CRC-32C (Castagnoli) over, for each top-level bucket in name order, the bucket
name and then every key followed by its value; ``totalKey`` counts the key/value pairs of all buckets
(etcd 3.4/3.5); ``revision`` is the main revision of the last key of bucket ``key``.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import crc32c

from . import mvcc, revision, schema
from .snapshot import Snapshot


@dataclass
class BackendStats:
    """What etcdutl's ``snapshot status`` reports, plus the key count of each bucket."""

    hash: int = 0
    revision: int = 0
    total_key: int = 0
    total_size: int = 0
    buckets: dict[str, int] = field(default_factory=dict)


def stats(snap: Snapshot, progress: Callable[[int], None] | None = None,
          index: dict[bytes, bytes] | None = None, visit: mvcc.Visit = None,
          marker: bytes | None = None) -> BackendStats:
    """stats walks every bucket once, computing the etcdutl hash, counts and revision.

    With ``index`` (a dict), bucket ``key``'s pass also fills it like ``mvcc.latest_index``, so a
    status needs one pass over the file, not two; ``visit``/``marker`` are passed to that pass
    (``mvcc.scan_index``).
    """
    st = BackendStats(total_size=snap.data_size)
    h = 0
    crc = crc32c.crc32c
    for name, bucket in snap.root.buckets():
        h = crc(name, h)
        if name == schema.KEY:
            found, h, n, last_key = mvcc.scan_index(bucket, b"" if index is not None else None, progress, crc, h,
                                                    visit=visit, marker=marker)
            if index is not None:
                index.update(found)
        else:
            n = 0
            last_key = None
            for _flags, k, v in bucket.iter_raw():
                h = crc(v, crc(k, h))
                n += 1
                last_key = k
        if name == schema.KEY and last_key is not None:
            st.revision = revision.main_of(last_key)
        st.buckets[name.decode("utf-8", "replace")] = n
        st.total_key += n
    st.hash = h
    return st
