"""Tests of CIDR mapping, its validation policy and the Reallocator."""

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snaprewrite.errors import PlanError, UsageError
from snaprewrite.k8s import bitmap
from snaprewrite.rewrite.cidr import CidrMap, Reallocator, each_csv_item

# -- parsing and validation ------------------------------------------------------------------------

def test_parse_single_and_dual_stack():
    m = CidrMap.parse("10.96.0.0/12=172.24.0.0/16,fd00:10:96::/108=fd00:20::/108")
    assert str(m) == "10.96.0.0/12=172.24.0.0/16,fd00:10:96::/108=fd00:20::/108"
    assert m.for_version(6).new == ipaddress.ip_network("fd00:20::/108")
    assert str(CidrMap.parse(["10.96.0.0/12=172.24.0.0/16", "fd00::/108=fd01::/108"])) == \
        "10.96.0.0/12=172.24.0.0/16,fd00::/108=fd01::/108"


@pytest.mark.parametrize("spec, fragment", [
    ("10.96.0.1/12=172.24.0.0/16", "did you mean 10.96.0.0/12"),
    ("10.96.0.0/12=172.24.0.5/16", "did you mean 172.24.0.0/16"),
    ("10.96.0.0/12", "OLD=NEW"),
    ("10.96.0.0=172.24.0.0/16", "missing /prefix"),
    ("10.96.0.0/12=fd00::/108", "different ip families"),
    ("banana/3=10.0.0.0/8", "not a cidr"),
    ("", "no cidr mapping"),
])
def test_parse_rejects(spec, fragment):
    with pytest.raises(UsageError, match=fragment):
        CidrMap.parse(spec)


def test_overlapping_old_or_new_cidrs_are_an_error():
    with pytest.raises(UsageError, match="old cidrs 10.0.0.0/8 and 10.96.0.0/12 overlap"):
        CidrMap.parse("10.96.0.0/12=172.24.0.0/16,10.0.0.0/8=192.168.0.0/16")
    with pytest.raises(UsageError, match="new cidrs"):
        CidrMap.parse("10.96.0.0/16=172.24.0.0/16,10.97.0.0/16=172.24.0.0/20")


def test_one_per_family():
    with pytest.raises(UsageError, match="more than one ipv4"):
        CidrMap.parse("10.96.0.0/16=172.24.0.0/16,10.97.0.0/16=172.25.0.0/16", one_per_family=True)


def test_noop_mapping_is_allowed_and_maps_to_itself():
    m = CidrMap.parse("10.96.0.0/12=10.96.0.0/12")
    assert m.is_noop
    assert m.map_ip("10.96.3.4").new == "10.96.3.4"
    assert m.map_subnet("10.96.0.0/12").new == "10.96.0.0/12"


# -- mapping -------------------------------------------------------------------------------------------

M = CidrMap.parse("10.96.0.0/12=172.24.0.0/16,fd00:10:96::/108=fd00:20::/112")


def test_map_ip_keeps_the_offset():
    assert M.map_ip("10.96.0.1").new == "172.24.0.1"
    assert M.map_ip("10.96.0.10").new == "172.24.0.10"
    assert M.map_ip("10.96.255.255").new == "172.24.255.255"
    assert M.map_ip("fd00:10:96::a").new == "fd00:20::a"
    assert M.map_ip("FD00:10:96:0::A").new == "fd00:20::a"  # canonical Kubernetes text on output


def test_map_ip_outside_or_not_an_ip_is_none():
    for value in ["10.95.255.255", "10.112.0.0", "None", "", "kubernetes.default", "fd00:10:97::1"]:
        assert M.map_ip(value) is None, value


def test_map_ip_misfit_is_reported_not_raised():
    r = M.map_ip("10.97.0.1")
    assert not r.fits and r.new is None
    assert "past the end of 172.24.0.0/16" in r.reason
    with pytest.raises(PlanError, match="10.97.0.1 does not fit"):
        M.rewrite_ip("10.97.0.1")
    assert M.rewrite_ip("192.168.1.1") == "192.168.1.1"


def test_map_subnet():
    pods = CidrMap.parse("10.244.0.0/16=10.55.0.0/16")
    assert pods.map_subnet("10.244.1.0/24").new == "10.55.1.0/24"
    assert pods.map_subnet("10.244.0.0/16").new == "10.55.0.0/16"
    assert pods.map_subnet("10.245.0.0/24") is None
    assert pods.map_subnet("10.244.1.7/24") is None  # not a network literal
    wide = pods.map_subnet("10.0.0.0/8")
    assert not wide.fits and "wider than the old cidr" in wide.reason
    # the old cidr itself maps to the new one even when the prefixes differ
    assert M.map_subnet("10.96.0.0/12").new == "172.24.0.0/16"
    assert M.map_subnet("fd00:10:96::/108").new == "fd00:20::/112"
    shrink = CidrMap.parse("10.244.0.0/16=10.55.0.0/20")
    assert shrink.map_subnet("10.244.15.0/24").new == "10.55.15.0/24"
    assert "past the end" in shrink.map_subnet("10.244.16.0/24").reason
    assert "wider than the new cidr" in shrink.map_subnet("10.244.0.0/19").reason


def test_rewrite_value_and_csv():
    f = each_csv_item(M.rewrite_value)
    assert f("10.96.0.0/12,fd00:10:96::/108") == "172.24.0.0/16,fd00:20::/112"
    assert f("10.96.0.10, fd00:10:96::a") == "172.24.0.10, fd00:20::a"
    assert f("192.168.0.0/16") == "192.168.0.0/16"


def test_reverse():
    r = M.reverse()
    assert str(r) == "172.24.0.0/16=10.96.0.0/12,fd00:20::/112=fd00:10:96::/108"
    assert r.map_ip("172.24.0.10").new == "10.96.0.10"


@given(st.integers(min_value=0, max_value=2**16 - 1))
def test_map_then_reverse_is_identity_for_fitting_ips(offset):
    old = str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("10.96.0.0")) + offset))
    new = M.map_ip(old)
    assert new.fits
    assert M.reverse().map_ip(new.new).new == old


@given(st.integers(min_value=0, max_value=2**20 - 1))
def test_mapping_ipv6_matches_arithmetic(offset):
    old = ipaddress.IPv6Address(int(ipaddress.IPv6Address("fd00:10:96::")) + offset)
    r = M.map_ip(str(old))
    if offset < 2**16:
        assert r.new == str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("fd00:20::")) + offset))
    else:
        assert not r.fits


# -- reallocation --------------------------------------------------------------------------------------

def test_service_reallocator_skips_network_and_broadcast():
    r = Reallocator.for_service_ips("172.24.0.0/29", ["172.24.0.1", "172.24.0.3"])
    got = [r.allocate_ip() for _ in range(4)]
    assert got == ["172.24.0.2", "172.24.0.4", "172.24.0.5", "172.24.0.6"]
    with pytest.raises(PlanError, match="172.24.0.0/29 is exhausted"):
        r.allocate_ip()
    assert not r.usable("172.24.0.0") and not r.usable("172.24.0.7")


def test_service_reallocator_ipv6_keeps_last_address_but_not_past_the_bitmap():
    small = Reallocator.for_service_ips("fd00::/126", ["fd00::1", "fd00::2"])
    assert small.allocate_ip() == "fd00::3"  # no broadcast in IPv6
    big = Reallocator.for_service_ips("fd00::/108")
    assert big.usable("fd00::ffff") and not big.usable("fd00::1:0")


def test_service_reallocator_agrees_with_the_bitmap():
    r = Reallocator.for_service_ips("10.0.0.0/28")
    ips = [r.allocate_ip() for _ in range(14)]
    assert bitmap.decode("10.0.0.0/28", bitmap.encode("10.0.0.0/28", ips)) == ips


def test_dynamic_first_starts_at_the_band_then_falls_back():
    r = Reallocator.for_service_ips("10.0.0.0/24", dynamic_first=True)
    assert r.allocate_ip() == "10.0.0.17"  # offset 16 from the first usable address
    r = Reallocator.for_service_ips("10.0.0.0/27", [f"10.0.0.{i}" for i in range(17, 31)],
                                    dynamic_first=True)
    assert r.allocate_ip() == "10.0.0.1"


def test_take_reports_duplicates_and_ignores_outsiders():
    r = Reallocator.for_service_ips("10.0.0.0/24")
    assert r.take("10.0.0.5") and not r.take("10.0.0.5")
    assert not r.take("192.168.0.1") and not r.take("None") and not r.take("fd00::1")
    assert not r.is_free("10.0.0.5") and r.is_free("10.0.0.6")


def test_subnet_reallocator_aligns_and_skips_taken():
    r = Reallocator.for_subnets("10.55.0.0/16", ["10.55.0.0/24", "10.55.1.0/24", "10.55.3.0/24",
                                                 "10.55.4.7"])
    assert r.allocate_subnet(24) == "10.55.2.0/24"
    assert r.allocate_subnet(24) == "10.55.5.0/24"  # 10.55.4.0/24 holds a taken address
    assert r.allocate_subnet(23) == "10.55.6.0/23"
    assert r.allocate_subnet(25) == "10.55.4.128/25"  # lowest free, beside the taken address
    with pytest.raises(PlanError):
        r.allocate_subnet(8)


def test_subnet_reallocator_first_subnet_is_allocatable_and_exhausts():
    r = Reallocator.for_subnets("fd00:10:244::/62")
    assert [r.allocate_subnet(64) for _ in range(4)] == [
        "fd00:10:244::/64", "fd00:10:244:1::/64", "fd00:10:244:2::/64", "fd00:10:244:3::/64"]
    with pytest.raises(PlanError, match="no free /64 subnet"):
        r.allocate_subnet(64)


@given(st.lists(st.integers(min_value=0, max_value=63), unique=True), st.integers(min_value=0, max_value=70))
def test_reallocator_never_repeats_and_fills_lowest_first(taken_offsets, n):
    net = ipaddress.ip_network("10.1.0.0/26")
    taken = [str(net.network_address + k) for k in taken_offsets]
    r = Reallocator.for_service_ips(str(net), taken)
    free = [str(net.network_address + k) for k in range(1, 63) if k not in taken_offsets]
    got = []
    for _ in range(n):
        try:
            got.append(r.allocate_ip())
        except PlanError:
            break
    assert got == free[: len(got)]
    assert len(got) == min(n, len(free))


# -- parse_ip's dotted-quad fast path answers as ipaddress does ------------------------------------------


def _plain_parse_ip(text):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


_quad_parts = st.one_of(st.integers(0, 300).map(str), st.sampled_from(["00", "01", "010", "", " 1", "1 ", "+1", "٣",
                                                                       "0x1", "1_0", "²", "255", "256"]))


@settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.lists(_quad_parts, min_size=3, max_size=5).map(".".join),
    st.lists(_quad_parts, min_size=4, max_size=4).map(lambda p: ".".join(p) + "\n"),
    st.text(alphabet="0123456789.:abcdef%/ ", max_size=24),
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded),
    st.ip_addresses(v=6).map(lambda a: str(a).upper()),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    st.ip_addresses(v=4).map(lambda a: f"::{a}"),
    st.lists(st.sampled_from(["", "0", "00000", "fd00", "FFFF", "1.2.3.4", "01.2.3.4", "g", "%eth0", "٣"]),
             min_size=2, max_size=10).map(":".join),
))
def test_parse_ip_fast_path_equals_ipaddress(text):
    from snaprewrite.rewrite.cidr import parse_ip

    got, want = parse_ip(text), _plain_parse_ip(text)
    assert got == want and type(got) is type(want), text


def test_parse_ip_refuses_what_ipaddress_refuses():
    from snaprewrite.rewrite.cidr import parse_ip

    for text in ("010.96.0.1", "10.96.0.256", "10.96.0", "10.96.0.1\n", "٣.96.0.1", "1.96.0.٣", "None", ""):
        assert parse_ip(text) is None, text
    assert parse_ip("10.96.0.1") == ipaddress.IPv4Address("10.96.0.1") and parse_ip("fd00::a").version == 6
    for text in ("fd00::a%eth0", "::ffff:1.2.3.4", "::1.2.3.4", "fd00:0::a", "FD00::A", "::", "1::"):
        assert parse_ip(text) == ipaddress.ip_address(text), text
    for text in ("fd00::a::1", "::ffff:01.2.3.4", "fd00:٣::1", "1:2:3:4:5:6:7:8:9", "fd00::a\x00"):
        assert parse_ip(text) is None, text
