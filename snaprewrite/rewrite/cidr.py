"""Address and subnet mapping between CIDRs, and deterministic reallocation of what does not fit.

A mapping ``OLD=NEW`` moves every address of OLD to the address at the same offset from NEW's network
address: with ``10.96.0.0/12=172.24.0.0/16``, ``10.96.0.10`` becomes ``172.24.0.10``. When NEW is
smaller than OLD, addresses whose offset is past NEW's end do not fit: the result says so (a
``Mapped`` with ``new=None`` and a reason) so a caller can collect every misfit before giving up or
reallocating them with a ``Reallocator``.

Validation policy (``CidrMap.parse``):
- both sides must be network addresses (``10.96.0.0/12``, not ``10.96.0.1/12``): a host part is
  rejected rather than silently masked, since it usually means a typo in the migration command;
- both sides must be of the same family; an ``OLD`` equal to ``NEW`` is allowed and maps to itself;
- two old CIDRs (or two new CIDRs) that overlap are a usage error (exit 2): a mapping must be a
  function and its reverse too. Overlaps with the snapshot's ranges are ``rails``' business.

Text forms are Kubernetes': Go prints IPv6 compressed per RFC 5952 (``fd00:10:96::a``), as does
``ipaddress``. Values that are not IP literals (``"None"`` of headless Services, ``""``) are not in
any CIDR and map to None. IPv4 with leading zeros (``010.96.0.1``) is not accepted as an address.
"""

import bisect
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..errors import PlanError, UsageError
from ..k8s import bitmap

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _addr(version: int, n: int) -> Address:
    return ipaddress.IPv4Address(n) if version == 4 else ipaddress.IPv6Address(n)


def _parse_network(text: str, what: str) -> Network:
    text = text.strip()
    if "/" not in text:
        raise UsageError(f"{what} {text!r} is not a cidr (missing /prefix)")
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as e:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise UsageError(f"{what} {text!r} is not a cidr: {e}") from None
        raise UsageError(f"{what} {text} has host bits set; did you mean {loose}?") from None


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
DOTTED_QUAD = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}").fullmatch  # canonical IPv4 text: ASCII digits, no leading zeros


def parse_ip(text: str) -> Address | None:
    """parse_ip returns the address of an IP literal, or None for anything else ("None", "", a name).

    A plain dotted quad (what Services hold) is read with ``socket.inet_aton``, about ten times quicker
    than ``ipaddress.ip_address``, which accepts exactly these and reads the same address from them;
    so is an IPv6 literal already in the C library's canonical spelling (``inet_ntop`` gives the text
    back). ``tests/rewrite/test_cidr.py`` compares both ways; anything else goes to ``ipaddress``.
    """
    quick = quick_ip(text)
    if quick is not None:
        return ipaddress.IPv4Address(quick[1]) if quick[0] == 4 else ipaddress.IPv6Address(quick[1])
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def parse_ip_int(text: str) -> tuple[int, int] | None:
    """parse_ip_int is (version, address as an int) of ``parse_ip(text)``, None where that is None; no address object is
    made where ``quick_ip`` reads the text (the usual spellings)."""
    quick = quick_ip(text)
    if quick is not None:
        return quick
    addr = parse_ip(text)
    return None if addr is None else (addr.version, int(addr))


def quick_ip(text: str) -> tuple[int, int] | None:
    """quick_ip is (family, address as an int) of an IP literal in the spelling Kubernetes stores, read without
    ``ipaddress``: None for any other text (``parse_ip`` then asks ``ipaddress``)."""
    if type(text) is not str:
        return None
    if DOTTED_QUAD(text):
        return 4, int.from_bytes(socket.inet_aton(text), "big")
    if ":" in text and text.isascii():
        try:
            packed = socket.inet_pton(socket.AF_INET6, text)
        except (OSError, ValueError):
            return None
        if socket.inet_ntop(socket.AF_INET6, packed) == text:
            return 6, int.from_bytes(packed, "big")
    return None


def parse_subnet(text: str) -> Network | None:
    """parse_subnet returns the network of a CIDR literal with no host bits, or None for anything else."""
    if "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        return None


@dataclass(frozen=True)
class Mapping:
    """One ``OLD=NEW`` pair of networks of the same family."""

    old: Network
    new: Network

    @property
    def version(self) -> int:
        return self.old.version

    @property
    def is_noop(self) -> bool:
        return self.old == self.new

    def __str__(self) -> str:
        return f"{self.old}={self.new}"


@dataclass(frozen=True)
class Mapped:
    """The result of mapping one address or subnet: ``new`` is None when it does not fit (see ``reason``)."""

    old: str
    new: str | None
    mapping: Mapping
    reason: str = ""

    @property
    def fits(self) -> bool:
        return self.new is not None


class CidrMap:
    """A validated set of mappings (at most one per old CIDR, none overlapping on either side)."""

    def __init__(self, mappings: Iterable[Mapping]):
        self.mappings: tuple[Mapping, ...] = tuple(mappings)
        # per mapping: (family, first and last old address, first new address, new size) as ints (``map_ip``)
        self._spans = tuple((m.version, int(m.old.network_address), int(m.old.broadcast_address),
                             int(m.new.network_address), m.new.num_addresses, m) for m in self.mappings)
        for side in ("old", "new"):
            nets = sorted((getattr(m, side) for m in self.mappings), key=lambda n: (n.version, n))
            for a, b in zip(nets, nets[1:]):
                if a.version == b.version and a.overlaps(b):
                    raise UsageError(f"{side} cidrs {a} and {b} overlap")

    @classmethod
    def parse(cls, specs: str | Iterable[str], *, one_per_family: bool = False) -> "CidrMap":
        """parse reads ``OLD=NEW`` specs (a string may hold several, comma-separated) into a CidrMap."""
        if isinstance(specs, str):
            specs = [specs]
        mappings = []
        for spec in specs:
            for part in spec.split(","):
                part = part.strip()
                if not part:
                    continue
                old_text, sep, new_text = part.partition("=")
                if not sep or "=" in new_text:
                    raise UsageError(f"cidr mapping {part!r} is not of the form OLD=NEW")
                old = _parse_network(old_text, "old cidr")
                new = _parse_network(new_text, "new cidr")
                if old.version != new.version:
                    raise UsageError(f"cidr mapping {part}: old and new are of different ip families")
                mappings.append(Mapping(old, new))
        if not mappings:
            raise UsageError("no cidr mapping given")
        if one_per_family:
            versions = [m.version for m in mappings]
            for v in set(versions):
                if versions.count(v) > 1:
                    raise UsageError(f"more than one ipv{v} mapping given; a range has one cidr per family")
        return cls(mappings)

    def __str__(self) -> str:
        return ",".join(str(m) for m in self.mappings)

    def __iter__(self):
        return iter(self.mappings)

    @property
    def is_noop(self) -> bool:
        return all(m.is_noop for m in self.mappings)

    def reverse(self) -> "CidrMap":
        """reverse returns the map NEW=OLD of every mapping."""
        return CidrMap(Mapping(m.new, m.old) for m in self.mappings)

    def for_version(self, version: int) -> Mapping | None:
        """for_version returns the (first) mapping of IP family 4 or 6, or None."""
        return next((m for m in self.mappings if m.version == version), None)

    def _find(self, net_or_addr) -> Mapping | None:
        for m in self.mappings:
            if m.version != net_or_addr.version:
                continue
            if isinstance(net_or_addr, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
                if net_or_addr.subnet_of(m.old):
                    return m
            elif net_or_addr in m.old:
                return m
        return None

    def map_ip(self, ip: str) -> Mapped | None:
        """map_ip maps an address at the same offset; None if it is no IP or in no old CIDR.

        An address in the spelling Kubernetes stores (``parse_ip``'s quick forms) is mapped as an int and its new
        address spelled by the C library (``_spell``); anything else, and a misfit, as ``map_ip_plain`` does,
        which ``tests/rewrite/test_cidr.py`` checks gives the same answer on every address.
        """
        quick = quick_ip(ip)
        if quick is None:
            return self.map_ip_plain(ip)
        version, n = quick
        for v, lo, hi, new_lo, size, m in self._spans:
            if v == version and lo <= n <= hi:
                if n - lo >= size:
                    return self.map_ip_plain(ip)  # a misfit: its reason names the address
                return Mapped(ip, _spell(version, new_lo + n - lo), m)
        return None

    def map_ip_plain(self, ip: str) -> Mapped | None:
        """map_ip_plain is ``map_ip`` through ``ipaddress`` objects (the reference the quick path must equal)."""
        addr = parse_ip(ip)
        if addr is None:
            return None
        m = self._find(addr)
        if m is None:
            return None
        offset = int(addr) - int(m.old.network_address)
        if offset >= m.new.num_addresses:
            return Mapped(ip, None, m, f"offset {offset} of {addr} in {m.old} is past the end of {m.new}")
        return Mapped(ip, str(_addr(m.version, int(m.new.network_address) + offset)), m)

    def map_subnet(self, cidr: str) -> Mapped | None:
        """map_subnet maps a CIDR inside an old CIDR, keeping its own prefix; the old CIDR itself maps to NEW.

        None if it is no CIDR or shares no address with any old CIDR; a CIDR that contains an old CIDR
        (a supernet) does not fit.
        """
        net = parse_subnet(cidr)
        if net is None:
            return None
        m = self._find(net)
        if m is None:
            for other in self.mappings:
                if other.version == net.version and net.overlaps(other.old):
                    return Mapped(cidr, None, other, f"{net} is wider than the old cidr {other.old}")
            return None
        if net == m.old:
            return Mapped(cidr, str(m.new), m)
        if net.prefixlen < m.new.prefixlen:
            return Mapped(cidr, None, m, f"{net} is wider than the new cidr {m.new}")
        offset = int(net.network_address) - int(m.old.network_address)
        if offset + net.num_addresses > m.new.num_addresses:
            return Mapped(cidr, None, m, f"offset {offset} of {net} in {m.old} is past the end of {m.new}")
        start = _addr(m.version, int(m.new.network_address) + offset)
        return Mapped(cidr, str(ipaddress.ip_network(f"{start}/{net.prefixlen}")), m)

    def rewrite_ip(self, ip: str) -> str:
        """rewrite_ip returns the mapped address, the input unchanged if unmapped; raises PlanError on a misfit."""
        r = self.map_ip(ip)
        return _rewritten(r, ip)

    def rewrite_subnet(self, cidr: str) -> str:
        """rewrite_subnet returns the mapped CIDR, the input unchanged if unmapped; raises PlanError on a misfit."""
        r = self.map_subnet(cidr)
        return _rewritten(r, cidr)

    def rewrite_value(self, value: str) -> str:
        """rewrite_value rewrites an IP or a CIDR (whichever the text is), else returns it unchanged."""
        return self.rewrite_subnet(value) if "/" in value else self.rewrite_ip(value)


def _spell(version: int, n: int) -> str:
    """_spell is ``str(ipaddress.ip_address(n))`` for an address of the family: the C library's spelling, which is
    RFC 5952's as ``ipaddress`` writes it but for an IPv6 address it writes with a dotted tail (IPv4-mapped)."""
    if version == 4:
        return socket.inet_ntoa(n.to_bytes(4, "big"))
    text = socket.inet_ntop(socket.AF_INET6, n.to_bytes(16, "big"))
    return str(ipaddress.IPv6Address(n)) if "." in text else text


def _rewritten(r: Mapped | None, original: str) -> str:
    if r is None:
        return original
    if not r.fits:
        raise PlanError(f"{original} does not fit: {r.reason}")
    return r.new


def each_csv_item(fn: Callable[[str], str]) -> Callable[[str], str]:
    """each_csv_item lifts ``fn`` to comma-separated values (dual-stack flags), keeping spaces around items."""

    def apply(value: str) -> str:
        parts = value.split(",")
        out = []
        for p in parts:
            stripped = p.strip()
            if not stripped:
                out.append(p)
                continue
            lead = p[: len(p) - len(p.lstrip())]
            trail = p[len(p.rstrip()):]
            out.append(lead + fn(stripped) + trail)
        return ",".join(out)

    return apply


class Reallocator:
    """Hands out free addresses or subnets of one CIDR, lowest first, never the same twice.

    Taken space is a sorted list of disjoint closed intervals of integers. The order of the results
    depends only on the order of the calls, so a caller that sorts its requests (by etcd key) gets the
    same answer every run.

    ``for_service_ips`` reserves what kube-apiserver's ipallocator never hands out: the network address,
    the IPv4 broadcast address, and IPv6 addresses past the 65536-address bitmap cap (see k8s.bitmap).
    ``for_subnets`` reserves nothing: nodeipam's cidrset hands out the first subnet of a cluster CIDR too.
    """

    def __init__(self, cidr: str | Network, taken: Iterable[str] = (), *,
                 reserved: Iterable[tuple[int, int]] = (), low_first_from: int | None = None):
        self.net = cidr if isinstance(cidr, (ipaddress.IPv4Network, ipaddress.IPv6Network)) else _parse_network(cidr, "cidr")
        self._lo = int(self.net.network_address)
        self._hi = int(self.net.broadcast_address)
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._low_first_from = low_first_from
        for lo, hi in reserved:
            if lo <= hi:
                self._add(lo, hi)
        self._reserved = [(s, e) for s, e in zip(self._starts, self._ends)]
        for item in taken:
            self.take(item)

    @classmethod
    def for_service_ips(cls, cidr: str, taken: Iterable[str] = (), *,
                        dynamic_first: bool = False) -> "Reallocator":
        """for_service_ips allocates Service cluster IPs as kube-apiserver's bitmap allocator may hold them.

        With ``dynamic_first`` the search starts at the dynamic band (KEP-3070, Kubernetes >= 1.25)
        and falls back to the low, static band, like the apiserver's own choice but deterministic.
        """
        net = _parse_network(cidr, "service cidr")
        first, count = bitmap.allocatable(str(net))
        lo, hi = int(net.network_address), int(net.broadcast_address)
        reserved = [(lo, first - 1), (first + count, hi)]
        start = first + bitmap.dynamic_band_offset(str(net)) if dynamic_first else None
        return cls(net, taken, reserved=reserved, low_first_from=start)

    @classmethod
    def for_subnets(cls, cidr: str, taken: Iterable[str] = ()) -> "Reallocator":
        """for_subnets allocates node pod CIDRs inside a cluster CIDR."""
        return cls(_parse_network(cidr, "cluster cidr"), taken)

    # -- interval set ------------------------------------------------------------------------

    def _overlaps(self, lo: int, hi: int) -> bool:
        i = bisect.bisect_left(self._ends, lo)
        return i < len(self._starts) and self._starts[i] <= hi

    def _add(self, lo: int, hi: int) -> None:
        j = bisect.bisect_left(self._ends, lo - 1)
        k = bisect.bisect_right(self._starts, hi + 1)
        if j < k:
            lo = min(lo, self._starts[j])
            hi = max(hi, self._ends[k - 1])
        self._starts[j:k] = [lo]
        self._ends[j:k] = [hi]

    def _span(self, item: str) -> tuple[int, int] | None:
        quick = quick_ip(item)  # (``parse_ip``'s int, without the address object)
        if quick is not None:
            return (quick[1], quick[1]) if quick[0] == self.net.version else None
        if "/" in item:
            net = parse_subnet(item)
            if net is None or net.version != self.net.version:
                return None
            return int(net.network_address), int(net.broadcast_address)
        addr = parse_ip(item)
        if addr is None or addr.version != self.net.version:
            return None
        return int(addr), int(addr)

    # -- public --------------------------------------------------------------------------------

    def usable(self, item: str) -> bool:
        """usable tells whether an address or subnet lies in the CIDR and touches no reserved address."""
        span = self._span(item)
        if span is None or span[0] < self._lo or span[1] > self._hi:
            return False
        return not any(s <= span[1] and span[0] <= e for s, e in self._reserved)

    def is_free(self, item: str) -> bool:
        """is_free tells whether an address or subnet is usable and not taken yet."""
        span = self._span(item)
        return self.usable(item) and not self._overlaps(*span)

    def take(self, item: str) -> bool:
        """take marks an address or subnet as taken; False if it was (partly) taken already.

        Items outside the CIDR (or not IPs at all) are ignored and give False.
        """
        span = self._span(item)
        if span is None or span[1] < self._lo or span[0] > self._hi:
            return False
        lo, hi = max(span[0], self._lo), min(span[1], self._hi)
        fresh = not self._overlaps(lo, hi)
        self._add(lo, hi)
        return fresh

    def _first_free(self, size: int, lo: int, hi: int) -> int | None:
        cand = self._lo + -(-(lo - self._lo) // size) * size  # align up relative to the network
        while cand + size - 1 <= hi:
            i = bisect.bisect_left(self._ends, cand)
            if i == len(self._starts) or self._starts[i] > cand + size - 1:
                return cand
            nxt = self._ends[i] + 1
            cand = self._lo + -(-(nxt - self._lo) // size) * size
        return None

    def _allocate(self, size: int, what: str) -> int:
        found = None
        if self._low_first_from is not None:
            found = self._first_free(size, self._low_first_from, self._hi)
        if found is None:
            found = self._first_free(size, self._lo, self._hi)
        if found is None:
            raise PlanError(f"{self.net} is exhausted: no free {what} left")
        self._add(found, found + size - 1)
        return found

    def allocate_ip(self) -> str:
        """allocate_ip takes and returns the lowest free address."""
        return str(_addr(self.net.version, self._allocate(1, "address")))

    def allocate_subnet(self, prefixlen: int) -> str:
        """allocate_subnet takes and returns the lowest free aligned subnet of ``prefixlen``."""
        if not self.net.prefixlen <= prefixlen <= self.net.max_prefixlen:
            raise PlanError(f"cannot allocate a /{prefixlen} subnet inside {self.net}")
        size = 1 << (self.net.max_prefixlen - prefixlen)
        start = self._allocate(size, f"/{prefixlen} subnet")
        return f"{_addr(self.net.version, start)}/{prefixlen}"
