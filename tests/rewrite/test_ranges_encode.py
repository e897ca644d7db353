"""The allocator bitmap made from the addresses the ranges rule already parsed is ``bitmap.encode``'s, byte for byte.

For IPv4 and IPv6 ranges and sets of addresses inside the network: the same bytes where every address
is allocatable, and the same error (naming the address) where one is not (the network address, the
IPv4 broadcast address, an IPv6 address past the bitmap's cap). The stored bitmap is checked by
``decode_bits``, which refuses what ``decode`` refuses with the same message.
"""

import ipaddress
import random

import pytest

from snaprewrite.errors import DecodeError, PlanError
from snaprewrite.k8s import bitmap
from snaprewrite.rewrite.cidr import parse_ip, parse_ip_int
from snaprewrite.rewrite.rules import ranges


def _outcome(fn, *args):
    try:
        return fn(*args)
    except PlanError as e:
        return str(e)


@pytest.mark.parametrize("cidr", ["10.96.0.0/24", "172.16.0.0/12", "fd00:172:16::/108", "fd00:1::/64"])
def test_encode_from_parsed_addresses_equals_bitmap_encode(cidr):
    rng = random.Random(cidr)
    net = ipaddress.ip_network(cidr)
    span = min(net.num_addresses, 1 << 20)
    ends = [net.network_address, net.network_address + span - 1]
    for trial in range(40):
        ips = {str(net.network_address + rng.randrange(span)) for _ in range(rng.randrange(0, 60))}
        if trial % 4 == 0:
            ips.add(str(rng.choice(ends)))  # reserved (network, broadcast) or past the IPv6 cap
        held = sorted(ips, key=lambda ip: int(ipaddress.ip_address(ip)))
        addrs = {ip: parse_ip_int(ip) for ip in held}
        want = _outcome(bitmap.encode, cidr, held)
        assert _outcome(ranges._encode, cidr, held, addrs) == want
    assert isinstance(_outcome(bitmap.encode, cidr, [str(net.network_address)]), str)  # the error path is met


def test_decode_bits_refuses_what_decode_refuses():
    for data in (b"\x01", b"\xff" * 32, b"\x01" + b"\x00" * 31, b"\x80" + b"\x00" * 31, b""):
        errs = []
        for fn in (bitmap.decode, bitmap.decode_bits):
            try:
                fn("10.96.0.0/24", data)
                errs.append(None)
            except DecodeError as e:
                errs.append(str(e))
        assert errs[0] == errs[1]
    with pytest.raises(DecodeError):
        bitmap.decode_bits("10.96.0.0/24", b"\x80" + b"\x00" * 31)


def test_held_addresses_are_those_in_the_network_in_address_order():
    """``ranges._held`` (ints) keeps the addresses ``ipaddress`` puts in the network, in its order; and must not keep
    one of another family or outside (a wrong mask or version check would)."""
    rng = random.Random(7)
    v4, v6 = ipaddress.ip_network("10.96.0.0/16"), ipaddress.ip_network("fd00:10:96::/108")
    ips = [str(v4.network_address + rng.randrange(1 << 17)) for _ in range(300)]
    ips += [str(v6.network_address + rng.randrange(1 << 21)) for _ in range(300)]
    ips += ["None", "", "10.96.1.1", "10.96.1.1", "fd00:10:96:0:0:0:0:1", "::ffff:10.96.0.1", "10.97.0.1"]
    addrs = {ip: parse_ip_int(ip) for ip in ips}
    assert all(addrs[ip] == (None if parse_ip(ip) is None else (parse_ip(ip).version, int(parse_ip(ip)))) for ip in ips)
    for net in (v4, v6):
        want = sorted({ip for ip in ips if parse_ip(ip) is not None and parse_ip(ip) in net},
                      key=lambda ip: int(parse_ip(ip)))
        got = ranges._held(ips, addrs, net)
        assert got == want and 100 < len(got) < 300
    assert "10.97.0.1" not in ranges._held(ips, addrs, v4) and "fd00:10:96:0:0:0:0:1" in ranges._held(ips, addrs, v6)
