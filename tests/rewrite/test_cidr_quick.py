"""``CidrMap.map_ip`` (ints and the C library's spelling) answers as ``map_ip_plain`` (``ipaddress`` objects).

Both families, addresses inside, at the edges of and outside the old CIDRs, misfits past a smaller new CIDR,
IPv4-mapped IPv6 addresses (which the C library spells with a dotted tail and ``ipaddress`` does not), and
texts that are no canonical address; ``Reallocator.usable``/``take`` read the same ints either way.
"""

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from snaprewrite.rewrite import cidr
from snaprewrite.rewrite.cidr import CidrMap, Reallocator

MAPS = [
    CidrMap.parse(["10.96.0.0/12=172.16.0.0/12", "fd00:10:96::/108=fd00:172:16::/108"]),
    CidrMap.parse(["10.96.0.0/12=172.24.0.0/16", "fd00:10:96::/108=fd00:172:16::/112"]),  # misfits
    CidrMap.parse(["0.0.0.0/1=128.0.0.0/1", "::/1=8000::/1"]),  # IPv4-mapped, zero runs, ...
    CidrMap.parse(["::ffff:0:0/96=::fffe:0:0/96"]),
    CidrMap.parse(["::fffe:0:0/96=::ffff:0:0/96"]),  # to IPv4-mapped: spelled with no dotted tail
]
EDGES = ["10.96.0.0", "10.96.0.1", "10.111.255.255", "10.112.0.0", "10.95.255.255", "10.96.1.10", "10.96.255.255",
         "fd00:10:96::", "fd00:10:96::a", "fd00:10:96::f:ffff", "fd00:10:96::10:0", "fd00:10:96::1:0",
         "::ffff:10.96.0.1", "::ffff:a60:1", "::1", "::", "1::", "::fffe:a60:1", "0.0.0.0", "127.0.0.1",
         "None", "", " 10.96.0.1", "10.96.0.01", "010.96.0.1", "FD00:10:96::A", "fd00:10:96:0::a",
         "fd00:0010:96::a", "fe80::1%eth0", "10.96.0.1/32", "1.2.3", "1:2:3:4:5:6:7:8", "1:0:0:2:0:0:0:3"]


def _same(cmap: CidrMap, ip) -> None:
    assert cmap.map_ip(ip) == cmap.map_ip_plain(ip), ip


def test_edges():
    for cmap in MAPS:
        for ip in EDGES:
            _same(cmap, ip)
    assert MAPS[0].map_ip("fd00:10:96::a").new == "fd00:172:16::a"
    assert MAPS[1].map_ip("10.97.0.1").new is None  # must fail to fit: offset past a /16
    assert MAPS[1].map_ip("10.97.0.1") == MAPS[1].map_ip_plain("10.97.0.1")  # the reason too


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**128 - 1), st.integers(0, 2**20))
def test_any_address(v4, v6, low):
    for cmap in MAPS:
        for ip in (ipaddress.IPv4Address(v4), ipaddress.IPv6Address(v6), ipaddress.IPv4Address(0x0A600000 + low),
                   ipaddress.IPv6Address((0xFD00001000960000 << 64) + low), ipaddress.IPv6Address(0xFFFF00000000 + v4)):
            _same(cmap, str(ip))


def test_spelling_with_a_dotted_tail_is_ipaddress_s():
    for n in (0xFFFF0A600001, 0xFFFE0A600001, 1, 0, 0x0A600001, 2**128 - 1, 0x20010DB8 << 96):
        assert cidr._spell(6, n) == str(ipaddress.IPv6Address(n))


def test_reallocator_reads_the_same_ints():
    pool = Reallocator.for_service_ips("172.16.0.0/12")
    pool6 = Reallocator.for_service_ips("fd00:172:16::/108")
    for ip in EDGES + ["172.16.0.0", "172.16.0.1", "172.31.255.255", "172.31.255.254", "fd00:172:16::", "fd00:172:16::1"]:
        for p in (pool, pool6):
            if "/" in ip:
                continue  # a subnet: read by ``parse_subnet`` either way
            addr = cidr.parse_ip(ip)
            want = None if addr is None or addr.version != p.net.version else (int(addr), int(addr))
            assert p._span(ip) == want, ip
    assert pool.usable("172.16.0.1") and not pool.usable("172.16.0.0") and not pool.usable("10.96.0.1")
    assert pool.take("172.16.0.10") and not pool.take("172.16.0.10")
