"""The allocation bitmap of ``RangeAllocation.data``: which service IPs (or node ports) are taken.

kube-apiserver (``pkg/registry/core/service/allocator/bitmap.go``) keeps a ``big.Int`` with one bit per
*offset* and stores ``big.Int.Bytes()``: the big-endian bytes of that integer with leading zero bytes
dropped (an empty range stores no bytes). Offset ``k`` is therefore bit ``k mod 8`` (LSB = 0) of byte
``len - 1 - k // 8``.

For service IPs (``ipallocator/bitmap.go``) offset 0 is the address after the network address:
``ip = network + 1 + offset``. The network address is never handed out; for IPv4 neither is the
broadcast address; for IPv6 the bitmap is capped at 65536 addresses, so the usable offsets are
``0 .. min(2**hostbits, 65536) - 2``. ``RangeAllocation.range`` is Go's ``IPNet.String()`` of the
``--service-cluster-ip-range`` entry (compressed IPv6, same as Python's ``ipaddress``).

Worked example: range ``10.96.0.0/12`` with ``10.96.0.1`` and ``10.96.0.10`` allocated has offsets 0
and 9, integer ``0b10_0000_0001`` = 0x201, stored as the two bytes ``02 01``.

The node-port allocator (``/registry/ranges/servicenodeports``, range ``"30000-32767"``) stores the
same form with offset = port - first port; ``decode_offsets`` / ``encode_offsets`` serve it as well.
"""

import functools
import hashlib
import ipaddress
from collections.abc import Iterable

from ..errors import DecodeError, PlanError

IPV6_BITMAP_LIMIT = 65536  # ipallocator caps an IPv6 range's bitmap at this many addresses


@functools.lru_cache(maxsize=64)
def _network(range_cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(range_cidr, strict=True)
    except ValueError:
        raise DecodeError(f"service ip range {range_cidr!r} is not a cidr network") from None


def range_spec(range_cidr: str) -> str:
    """range_spec returns the canonical ``RangeAllocation.range`` text of a CIDR (Go's IPNet.String())."""
    return str(_network(range_cidr))


@functools.lru_cache(maxsize=64)
def allocatable(range_cidr: str) -> tuple[int, int]:
    """allocatable returns (first address as int, number of usable offsets) of a service IP range."""
    net = _network(range_cidr)
    size = net.num_addresses
    if net.version == 6:
        size = min(size, IPV6_BITMAP_LIMIT)
    else:
        size -= 1  # the broadcast address
    return int(net.network_address) + 1, max(size - 1, 0)


def dynamic_band_offset(range_cidr: str) -> int:
    """dynamic_band_offset is the offset above which Kubernetes >= 1.25 hands out dynamic IPs (KEP-3070).

    ``min(max(16, size / 16), 256)`` of the CIDR size, or 0 for ranges of at most 16 addresses.
    """
    size = _network(range_cidr).num_addresses
    if size <= 16:
        return 0
    return min(max(16, size // 16), 256)


def decode_offsets(data: bytes) -> list[int]:
    """decode_offsets returns the set bits of a ``big.Int.Bytes()`` bitmap, ascending (linear in its size)."""
    data = bytes(data)
    last = len(data) - 1
    out = []
    for i in range(last, -1, -1):  # the last byte holds offsets 0-7
        b = data[i]
        if b:
            base = (last - i) * 8
            out.extend(base + bit for bit in range(8) if b >> bit & 1)
    return out


def encode_offsets(offsets: Iterable[int]) -> bytes:
    """encode_offsets builds the ``big.Int.Bytes()`` form of a set of offsets (no leading zero bytes)."""
    offsets = list(offsets)
    if any(k < 0 for k in offsets):
        raise PlanError(f"negative bitmap offset {min(offsets)}")
    if not offsets:
        return b""
    size = max(offsets) // 8 + 1
    out = bytearray(size)
    for k in offsets:
        out[size - 1 - k // 8] |= 1 << (k % 8)
    return bytes(out)


def decode(range_cidr: str, data: bytes) -> list[str]:
    """decode returns the allocated service IPs of a range's bitmap, in address order."""
    first, count = allocatable(range_cidr)
    version = _network(range_cidr).version
    offsets = decode_offsets(data)
    if offsets and offsets[-1] >= count:
        raise DecodeError(f"service ip bitmap of {range_cidr} has offset {offsets[-1]} beyond its "
                          f"{count} usable addresses")
    return [str(ipaddress.ip_address(first + k) if version == 4 else ipaddress.IPv6Address(first + k))
            for k in offsets]


def decode_bits(range_cidr: str, data: bytes) -> tuple[int, int, bytearray]:
    """decode_bits is ``decode`` without the list of IPs: (IP version, address of offset 0 as int, the bitmap's bytes).

    The same checks and errors as ``decode`` (a range that is no cidr, an offset past the usable ones), for
    readers that test membership bit by bit instead of holding a string per allocated IP.
    """
    first, count = allocatable(range_cidr)
    version = _network(range_cidr).version
    bits = bytearray(data)
    top = int.from_bytes(bits, "big").bit_length() - 1
    if top >= count:
        raise DecodeError(f"service ip bitmap of {range_cidr} has offset {top} beyond its {count} usable addresses")
    return version, first, bits


def offset_of(range_cidr: str, ip: str) -> int | None:
    """offset_of returns the bitmap offset of ``ip`` in the range, or None if the allocator cannot hold it."""
    first, count = allocatable(range_cidr)
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if addr.version != _network(range_cidr).version:
        return None
    k = int(addr) - first
    return k if 0 <= k < count else None


def encode(range_cidr: str, ips: Iterable[str]) -> bytes:
    """encode builds the bitmap of a set of service IPs; each must be allocatable in the range."""
    offsets = []
    for ip in ips:
        k = offset_of(range_cidr, ip)
        if k is None:
            raise PlanError(f"ip {ip} is not an allocatable address of service range {range_cidr}")
        offsets.append(k)
    return encode_offsets(offsets)


def summary(range_text: str, data: bytes) -> str:
    """summary names a bitmap by what it holds and its exact bytes: ``2 addresses allocated in R, sha256 H``.

    The rewrite report gives the allocator's ``data`` change in this form (old and new), and ``verify``
    renders the stored bitmaps the same way, so a bitmap with other bytes than planned cannot pass.
    """
    data = bytes(data)
    return (f"{len(decode_offsets(data))} addresses allocated in {range_text}, "
            f"sha256 {hashlib.sha256(data).hexdigest()}")
