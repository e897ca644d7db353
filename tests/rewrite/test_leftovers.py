"""The leftovers scanner's fast address finder agrees with a plain ipaddress-based search."""

import ipaddress
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from snaprewrite.rewrite.rules.leftovers import AddressFinder

NETS = [ipaddress.ip_network("10.96.0.0/12"), ipaddress.ip_network("192.168.0.0/16"),
        ipaddress.ip_network("fd00:10:96::/112")]
PLAIN4 = re.compile(rb"(?<![0-9.])((?:[0-9]{1,3}\.){3}[0-9]{1,3})(?![0-9])")


def plain(value: bytes) -> bool:
    for m in PLAIN4.finditer(value):
        try:
            ip = ipaddress.ip_address(m.group(1).decode())
        except ValueError:
            continue
        if any(ip in n for n in NETS):
            return True
    for token in re.findall(rb"[0-9A-Fa-f:]{3,}", value):
        try:
            ip = ipaddress.IPv6Address(token.decode())
        except ValueError:
            continue
        if any(ip in n for n in NETS):
            return True
    return False


addresses = st.one_of(
    st.ip_addresses(v=4).map(str), st.sampled_from(["10.96.0.1", "10.111.255.254", "10.112.0.1", "192.168.3.7",
                                                     "192.169.0.1", "fd00:10:96::a", "fd00:10:97::1", "10.96.0.0/12",
                                                     "1.10.96.0", "310.96.0.1"]))


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.one_of(addresses, st.text(alphabet="abc:/.\x00\n\"0123456789", max_size=8)), max_size=6))
def test_finder_agrees_with_plain_search(parts):
    value = " ".join(parts).encode()
    assert AddressFinder(NETS).mentions(memoryview(value)) == plain(value), value


def test_finder_examples():
    f = AddressFinder(NETS)
    assert f.mentions(memoryview(b'{"podIP":"10.100.3.4"}'))
    assert f.mentions(memoryview(b"\x12\x0dfd00:10:96::a"))
    assert not f.mentions(memoryview(b"110.96.0.1 and 10.112.0.1 and 10.96.0"))
