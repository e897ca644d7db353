"""bbolt's on-disk layout, declared once: page header, meta, branch/leaf elements, bucket header, freelist.

Every byte layout of the file format lives here and nowhere else. bbolt casts its structs onto the
mmap, so the byte order is the host's; every real-world bbolt file comes from a little-endian machine
(amd64, arm64), and that is what we read and write.

Two views of the same layouts are kept side by side:
  * ``construct`` declarations (``PageHeader``, ``Meta``, ...) for headers and for building pages;
  * precompiled ``struct.Struct`` twins (``PAGE_HEADER``, ``LEAF_ELEMENT``, ...) for the per-element
    hot loops over ``memoryview``/``mmap``.
``tests/bbolt/test_format.py`` checks that both agree on sizes and on parsed values.
"""

import struct

from construct import Int16ul, Int32ul, Int64ul, Struct

MAGIC = 0xED0CDAED
VERSION = 2

# Page flags (page header ``flags``).
BRANCH_PAGE = 0x01
LEAF_PAGE = 0x02
META_PAGE = 0x04
FREELIST_PAGE = 0x10
PAGE_TYPES = {BRANCH_PAGE: "branch", LEAF_PAGE: "leaf", META_PAGE: "meta", FREELIST_PAGE: "freelist"}

# Leaf element flag: the value is a bucket header (plus an inline page image when the root is 0).
BUCKET_LEAF_FLAG = 0x01

# meta.freelist when the freelist is not synced to disk (bbolt's NoFreelistSync; etcd on Linux).
PGID_NO_FREELIST = 0xFFFFFFFFFFFFFFFF
# The largest txid a meta may hold and still be followed by a transaction (bbolt's txid is a u64).
MAX_TXID = 0xFFFFFFFFFFFFFFFF - 1
# A freelist or page element count at or above this is stored in the first u64 after the header.
COUNT_OVERFLOW = 0xFFFF

PageHeader = Struct(
    "id" / Int64ul,
    "flags" / Int16ul,
    "count" / Int16ul,
    "overflow" / Int32ul,
)

BucketHeader = Struct(
    "root" / Int64ul,  # 0: inline bucket, a page image follows the header inside the value
    "sequence" / Int64ul,
)

Meta = Struct(
    "magic" / Int32ul,
    "version" / Int32ul,
    "pageSize" / Int32ul,
    "flags" / Int32ul,
    "root" / BucketHeader,
    "freelist" / Int64ul,
    "pgid" / Int64ul,  # high-water mark: first page id past the end of the data
    "txid" / Int64ul,
    "checksum" / Int64ul,  # FNV-1a 64 over the 56 bytes before it
)

BranchElement = Struct(
    "pos" / Int32ul,  # from the start of this element to its key
    "ksize" / Int32ul,
    "pgid" / Int64ul,
)

LeafElement = Struct(
    "flags" / Int32ul,
    "pos" / Int32ul,  # from the start of this element to its key; the value follows the key
    "ksize" / Int32ul,
    "vsize" / Int32ul,
)


PAGE_HEADER_SIZE = PageHeader.sizeof()
META_SIZE = Meta.sizeof()
META_CHECKSUM_OFFSET = META_SIZE - Int64ul.sizeof()
BRANCH_ELEMENT_SIZE = BranchElement.sizeof()
LEAF_ELEMENT_SIZE = LeafElement.sizeof()
BUCKET_HEADER_SIZE = BucketHeader.sizeof()

# Precompiled twins for hot loops (same layouts, checked against the construct ones in tests).
PAGE_HEADER = struct.Struct("<QHHI")
META = struct.Struct("<IIII QQ QQQQ")
BRANCH_ELEMENT = struct.Struct("<IIQ")
LEAF_ELEMENT = struct.Struct("<IIII")
BUCKET_HEADER = struct.Struct("<QQ")
U64 = struct.Struct("<Q")

# Page sizes tried, after meta 0's own claim, to locate meta 1 when meta 0 is damaged.
CANDIDATE_PAGE_SIZES = (4096, 8192, 16384, 32768, 65536, 2048, 1024, 512)
MIN_PAGE_SIZE = 512
MAX_PAGE_SIZE = 1 << 20

# What bbolt's Put accepts (bucket.go's MaxKeySize and MaxValueSize).
MAX_KEY_SIZE = 32768
MAX_VALUE_SIZE = (1 << 31) - 2

# bbolt's defaults for splitting nodes when writing.
DEFAULT_FILL_PERCENT = 0.5
MIN_KEYS_PER_PAGE = 2


def fnv64a(data: bytes | memoryview) -> int:
    """fnv64a returns the 64-bit FNV-1a hash bbolt stores as a meta checksum."""
    h = 0xCBF29CE484222325
    for b in bytes(data):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h
