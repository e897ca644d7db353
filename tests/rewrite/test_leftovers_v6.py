"""The leftovers' IPv6 reading (``leftovers._v6_int``, the C ``inet_pton``) gives ``ipaddress.IPv6Address``'s answer.

The tokens it reads are matches of ``AddressFinder.re6``: hex digits and colons only. ``ipaddress`` is the plain
path; both must refuse the same spellings and read the others as the same address.
"""

import ipaddress
from socket import AF_INET6, inet_pton

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from snaprewrite.rewrite.rules import leftovers

HEX = "0123456789abcdefABCDEF"


def plain(token: bytes) -> int | None:
    try:
        return int(ipaddress.IPv6Address(token.decode()))
    except ValueError:
        return None


def c_only(token: bytes) -> int | None:
    """the C parser alone (``_v6_int`` asks ``ipaddress`` again only where it refuses)"""
    try:
        return int.from_bytes(inet_pton(AF_INET6, token.decode("ascii")), "big")
    except (OSError, ValueError):
        return None


def _spellings(x: int) -> list[bytes]:
    """_spellings are ways to write address ``x``: compressed, exploded, upper case, unpadded, '::' for one group."""
    ip = ipaddress.IPv6Address(x)
    groups = [f"{(x >> (16 * (7 - i))) & 0xFFFF:x}" for i in range(8)]
    out = [str(ip), ip.exploded, str(ip).upper(), ":".join(groups)]
    for i in range(8):  # '::' standing for one group, or for the run starting there
        if groups[i] == "0":
            out.append(":".join(groups[:i]) + "::" + ":".join(groups[i + 1 :]))
    return [s.encode() for s in out]


EDGES = [b"::", b":::", b"::1", b"1::", b":1::2", b"1::2::3", b"1:2:3:4:5:6:7:8", b"1:2:3:4:5:6:7:8:9",
         b"1:2:3:4:5:6:7::", b"::2:3:4:5:6:7:8", b"1::3:4:5:6:7:8:9", b"1:2:3:4:5:6:7:8:", b":1:2:3:4:5:6:7:8",
         b"fd00:", b"fd00::", b"fd00:10:96::a", b"FD00:10:96::A", b"fd00:0010:0096::000a", b"fd00:10:96::00000",
         b"fd00:1:2", b"fd00::1::", b"fd00:10:96:0:0:0:0:0:0", b"", b":", b"0", b"fd00:10:96::12345"]


@pytest.mark.parametrize("token", EDGES)
def test_edge_spellings_read_alike(token):
    assert c_only(token) == plain(token) and leftovers._v6_int(token) == plain(token)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=HEX + ":", max_size=45))
@example("fd00:10:96::1")
def test_any_token_reads_alike(text):
    token = text.encode()
    assert c_only(token) == plain(token) and leftovers._v6_int(token) == plain(token)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, (1 << 128) - 1), st.sets(st.integers(0, 7), max_size=6))
def test_every_spelling_of_an_address_reads_alike(x, zeroed):
    for i in zeroed:  # runs of zero groups, where '::' may stand
        x &= ~(0xFFFF << (16 * (7 - i)))
    for token in _spellings(x):
        assert c_only(token) == plain(token) == x, token


def test_the_comparison_catches_a_lax_reader():
    """Must fail for a reader that takes a trailing single colon (``ipaddress`` refuses it): the check can fail."""
    def lax(token: bytes) -> int | None:
        return c_only(token[:-1] if token.endswith(b":") and not token.endswith(b"::") else token)

    assert any(lax(t) != plain(t) for t in EDGES)


def test_mentions_are_decided_alike():
    """The finder's answers with the C reader are those of ``ipaddress`` membership, on spellings in and out of the nets."""
    nets = [ipaddress.ip_network("fd00:10:96::/108"), ipaddress.ip_network("fd00:10:128::/48")]
    finder = leftovers.AddressFinder(nets)
    for token in [*EDGES, b"fd00:10:96::ffff:ffff", b"fd00:10:96::10:0:0", b"fd00:10:128:ffff::1", b"fd00:10:129::"]:
        ip = plain(token)
        want = ip is not None and any(ipaddress.IPv6Address(ip) in n for n in nets)
        assert finder._mention6(token) == want, token
