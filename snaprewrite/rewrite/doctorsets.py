"""The sets ``doctor`` keeps while it walks the Services, in a compact form and the plain one it is tested equal to.

At 8 GiB a snapshot holds ~280k Services and ~330k IPAddresses: a string per allocated IP, a Service
object per Service and a key per verified IPAddress took ~300 MB. The compact forms: an allocator as one
bit per address of its range (``Bits``), the IPs only of the Services whose IPAddresses were not all
found correct (``Held``; any other Service is read again if asked for), a bit per IPAddress key
(``Verified``). The plain forms (``Texts``, ``Held(compact=False)``) are what ``examine(quick=False)``
uses, and ``tests/rewrite/test_doctor.py`` holds the two paths' findings equal.
"""

import bisect
import ipaddress
from collections.abc import Iterator

from ..k8s import bitmap
from .facts import IPADDRESSES, SERVICES, ServiceIPs, State, service_at, services

CHUNK = 2048  # Services (and their IPAddresses) read at once by the compact path


class Texts:
    """A set of IPs as canonical strings (the plain form ``Bits`` is tested equal to)."""

    def __init__(self, ips=()):
        self.ips = set(ips)

    def has(self, ip: str, _version: int, _value: int) -> bool:
        return ip in self.ips

    def add(self, ip: str, _version: int, _value: int) -> None:
        self.ips.add(ip)

    def discard(self, ip: str, _version: int, _value: int) -> None:
        self.ips.discard(ip)

    def take(self, ip: str, version: int, value: int) -> bool:
        """take is ``has``, then ``add`` when it was not there (one step: the Service loop does both per IP)."""
        ips = self.ips
        if ip in ips:
            return True
        ips.add(ip)
        return False

    def pop(self, ip: str, version: int, value: int) -> bool:
        """pop is ``has``, then ``discard`` when it was there."""
        ips = self.ips
        if ip in ips:
            ips.discard(ip)
            return True
        return False

    def texts(self) -> list[str]:
        """texts are the IPs in address order."""
        return sorted(self.ips, key=ipaddress.ip_address)


class Bits:
    """A set of IPs of one family as one bit per offset from ``first`` (``big.Int.Bytes()`` layout, see
    ``k8s.bitmap``): a byte per 8 addresses of a service range instead of a string per IP."""

    def __init__(self, version: int, first: int, bits: bytearray):
        self.version, self.first, self.bits = version, first, bits

    def _at(self, version: int, value: int) -> tuple[int, int] | None:
        k = value - self.first
        i = len(self.bits) - 1 - (k >> 3)
        if version != self.version or k < 0 or i < 0:
            return None
        return i, 1 << (k & 7)

    def has(self, _ip: str, version: int, value: int) -> bool:
        at = self._at(version, value)
        return at is not None and bool(self.bits[at[0]] & at[1])

    def add(self, _ip: str, version: int, value: int) -> None:
        i, bit = self._at(version, value)  # only offsets inside the range are added
        self.bits[i] |= bit

    def discard(self, _ip: str, version: int, value: int) -> None:
        at = self._at(version, value)
        if at is not None:
            self.bits[at[0]] &= ~at[1] & 0xFF

    def take(self, _ip: str, version: int, value: int) -> bool:
        """take is ``has``, then ``add`` when it was not there, finding the bit once (the offset is in range)."""
        k = value - self.first
        i = len(self.bits) - 1 - (k >> 3)
        if version != self.version or k < 0 or i < 0:
            return False  # (``has``: not there; ``add`` is only asked inside the range)
        bits, bit = self.bits, 1 << (k & 7)
        if bits[i] & bit:
            return True
        bits[i] |= bit
        return False

    def pop(self, _ip: str, version: int, value: int) -> bool:
        """pop is ``has``, then ``discard`` when it was there, finding the bit once."""
        k = value - self.first
        i = len(self.bits) - 1 - (k >> 3)
        if version != self.version or k < 0 or i < 0:
            return False
        bits, bit = self.bits, 1 << (k & 7)
        if bits[i] & bit:
            bits[i] &= ~bit & 0xFF
            return True
        return False

    def texts(self) -> list[str]:
        """texts are the IPs in address order, written as ``bitmap.decode`` writes them."""
        make = ipaddress.IPv4Address if self.version == 4 else ipaddress.IPv6Address
        return [str(make(self.first + k)) for k in bitmap.decode_offsets(self.bits)]


class Held:
    """The cluster IPs of any Service by the (namespace, name) a parentRef gives, for the IPAddress checks.

    Plain: every Service read first and kept whole by (namespace, name). Compact: the IPs of a Service the
    loop could not verify every IPAddress of are kept by its key (the State's own key objects); any other
    Service is read again when asked for (a healthy cluster asks for none). A Service that does not read
    is None either way (the Service loop reports it).
    """

    def __init__(self, state: State, compact: bool):
        self.state, self.compact = state, compact
        self.by_key: dict[bytes, str | tuple[str, ...]] = {}
        self.by_ref: dict[tuple[str, str], ServiceIPs] = {}

    def each(self, problems: list[str]) -> Iterator[tuple[bytes | None, ServiceIPs]]:
        """each reads every live Service in key order: (its key, or None on the plain path, the Service)."""
        for batch in self.batches(problems):
            yield from batch

    def batches(self, problems: list[str]) -> Iterator[list[tuple[bytes | None, ServiceIPs]]]:
        """batches is ``each`` a list at a time: on the compact path ``CHUNK`` Services whose values were read
        together (``State.values``), on the plain path all of them, each read alone."""
        state = self.state
        if not self.compact:
            every = list(services(state, problems))
            self.by_ref.update(((svc.namespace, svc.name), svc) for svc in every)
            yield [(None, svc) for svc in every]
            return
        prefix = len(state.key(SERVICES))
        keys = state.keys(SERVICES)
        for at in range(0, len(keys), CHUNK):
            chunk = keys[at : at + CHUNK]
            batch = []
            for key, value in zip(chunk, state.values(chunk), strict=True):
                svc = service_at(state, key, prefix, problems, value)
                if svc is not None:
                    batch.append((key, svc))
            yield batch

    def keep(self, key: bytes | None, svc: ServiceIPs) -> None:
        """keep holds a Service's IPs so that asking for them does not read it again."""
        if self.compact:
            self.by_key[key] = svc.ips[0] if len(svc.ips) == 1 else svc.ips

    def holds(self, svc: ServiceIPs) -> bool:
        """holds tells whether ``svc`` is the Service found under its (namespace, name)."""
        return self.compact or self.by_ref.get((svc.namespace, svc.name)) is svc

    def ips(self, namespace: str, name: str) -> tuple[str, ...] | None:
        """ips are the cluster IPs of the live Service (namespace, name), None if there is none or it does not read."""
        if not self.compact:
            svc = self.by_ref.get((namespace, name))
            return svc.ips if svc is not None else None
        if "/" in namespace:  # the key's first "/" after the prefix splits namespace from name
            return None
        key = self.state.key(service_key(namespace, name))
        got = self.by_key.get(key)
        if got is not None:
            return got if isinstance(got, tuple) else (got,)
        if not self.state.has(key):
            return None
        svc = service_at(self.state, key, len(self.state.key(SERVICES)), [])
        return svc.ips if svc is not None else None


class Verified:
    """IPAddress keys the Service loop found correct: a bit per live IPAddress key (by its place in order)."""

    def __init__(self, state: State):
        self.keys = state.keys(IPADDRESSES)
        self.bits = bytearray(len(self.keys))
        self.count = 0  # keys added

    def _at(self, key: bytes) -> int | None:
        i = bisect.bisect_left(self.keys, key)
        return i if i < len(self.keys) and self.keys[i] == key else None

    def add(self, key: bytes) -> None:
        i = self._at(key)
        if i is not None:  # a live IPAddress (the loop checked ``has``): always
            self.bits[i] = 1
            self.count += 1

    def unverified(self) -> Iterator[bytes]:
        """unverified are the live IPAddress keys not added, in key order."""
        return (k for k, bit in zip(self.keys, self.bits) if not bit)

    def __contains__(self, key: bytes) -> bool:
        i = self._at(key)
        return i is not None and bool(self.bits[i])


def service_key(namespace: str, name: str) -> bytes:
    """service_key is the Service key (relative to the layout root) a parentRef names, as syncIPAddress looks it up."""
    return SERVICES + f"{namespace}/{name}".encode()
