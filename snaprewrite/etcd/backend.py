"""etcd's backend as a whole: its buckets, key counts and the hash ``etcdutl snapshot status`` prints.

The status hash is CRC-32C (Castagnoli) over, for each top-level bucket in name order, the bucket
name and then every key followed by its value; ``totalKey`` counts the key/value pairs of all buckets
(etcd 3.4/3.5); ``revision`` is the main revision of the last key of bucket ``key``.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import crc32c

from . import revision, schema
from .snapshot import Snapshot


@dataclass
class BackendStats:
    """What etcdutl's ``snapshot status`` reports, plus the key count of each bucket."""

    hash: int = 0
    revision: int = 0
    total_key: int = 0
    total_size: int = 0
    buckets: dict[str, int] = field(default_factory=dict)


def stats(snap: Snapshot, progress: Callable[[int], None] | None = None) -> BackendStats:
    """stats walks every bucket once, computing the etcdutl hash, counts and revision."""
    st = BackendStats(total_size=snap.data_size)
    h = 0
    done = 0
    for name, bucket in snap.root.buckets():
        h = crc32c.crc32c(name, h)
        n = 0
        last_key = None
        for _flags, k, v in bucket.iter_raw():
            h = crc32c.crc32c(k, h)
            h = crc32c.crc32c(v, h)
            n += 1
            last_key = k
            if progress is not None and n % 4096 == 0:
                progress(4096)
                done += 4096
        if name == schema.KEY and last_key is not None:
            st.revision = revision.main_of(last_key)
        st.buckets[name.decode("utf-8", "replace")] = n
        st.total_key += n
        if progress is not None:
            progress(n % 4096)
    st.hash = h
    return st
