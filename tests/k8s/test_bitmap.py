"""Tests of the RangeAllocation bitmap against hand-made cases and the real kubeadm 1.18 snapshot."""

import ipaddress
import os
import pathlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snaprewrite.errors import DecodeError, PlanError
from snaprewrite.k8s import bitmap

REAL = pathlib.Path(os.environ.get("SNAPREWRITE_REAL_SNAPSHOT") or pathlib.Path(__file__).resolve().parents[2].parent
                    / "shared" / "real" / "kubeadm-1.18-kube-router.snapshot.db")  # ../shared/real beside the repo


# -- a minimal protobuf reader, independent of the package's own decoders -----------------------

def _varint(b: bytes, i: int) -> tuple[int, int]:
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def _fields(b: bytes) -> list[tuple[int, object]]:
    i, out = 0, []
    while i < len(b):
        tag, i = _varint(b, i)
        f, w = tag >> 3, tag & 7
        if w == 0:
            v, i = _varint(b, i)
        elif w == 2:
            n, i = _varint(b, i)
            v, i = b[i : i + n], i + n
        elif w == 1:
            v, i = b[i : i + 8], i + 8
        elif w == 5:
            v, i = b[i : i + 4], i + 4
        else:
            raise ValueError(w)
        out.append((f, v))
    return out


def _unknown_raw(value: bytes) -> bytes:
    assert value[:4] == b"k8s\0"
    return dict(_fields(value[4:]))[2]


def _latest_live(prefix: bytes) -> dict[bytes, bytes]:
    from snaprewrite.bbolt.pages import PageFile
    from snaprewrite.bbolt.tree import Bucket

    pf = PageFile(REAL, length=os.path.getsize(REAL) - 32)
    latest: dict[bytes, tuple[bool, bytes]] = {}
    for it in Bucket.root_bucket(pf).bucket(b"key").items():
        kv = dict(_fields(bytes(it.value)))
        if kv[1].startswith(prefix):
            latest[kv[1]] = (len(it.key) == 18, kv.get(5, b""))  # items come in revision order
    return {k: v for k, (dead, v) in latest.items() if not dead}


# -- hand-made cases --------------------------------------------------------------------------------

def test_worked_example_from_the_docstring():
    assert bitmap.encode("10.96.0.0/12", ["10.96.0.1", "10.96.0.10"]) == b"\x02\x01"
    assert bitmap.decode("10.96.0.0/12", b"\x02\x01") == ["10.96.0.1", "10.96.0.10"]


def test_empty_bitmap_is_empty_bytes():
    assert bitmap.encode("10.96.0.0/12", []) == b""
    assert bitmap.decode("10.96.0.0/12", b"") == []
    assert bitmap.decode("10.96.0.0/12", b"\x00\x00") == []  # Go's SetBytes accepts leading zeros


def test_ipv4_never_holds_network_or_broadcast():
    assert bitmap.allocatable("10.0.0.0/24") == (int.from_bytes(bytes([10, 0, 0, 1]), "big"), 254)
    assert bitmap.offset_of("10.0.0.0/24", "10.0.0.0") is None
    assert bitmap.offset_of("10.0.0.0/24", "10.0.0.255") is None
    assert bitmap.offset_of("10.0.0.0/24", "10.0.0.254") == 253
    with pytest.raises(PlanError):
        bitmap.encode("10.0.0.0/24", ["10.0.0.255"])


def test_ipv6_range_is_capped_and_keeps_its_last_address():
    # a /120 has 256 addresses; only the network address is excluded
    assert bitmap.allocatable("fd00:10:96::/120")[1] == 255
    assert bitmap.offset_of("fd00:10:96::/120", "fd00:10:96::ff") == 254
    # a /108 has 2**20 addresses, the bitmap only 65536 - 1 offsets
    assert bitmap.allocatable("fd00:10:96::/108")[1] == 65535
    assert bitmap.offset_of("fd00:10:96::/108", "fd00:10:96::1:0") is None
    assert bitmap.decode("fd00:10:96::/108", b"\x02\x01") == ["fd00:10:96::1", "fd00:10:96::a"]


def test_bit_beyond_the_range_is_a_decode_error():
    with pytest.raises(DecodeError):
        bitmap.decode("10.0.0.0/30", b"\x04")  # offset 2 of a /30 (2 usable addresses)


@pytest.mark.parametrize("rng, data", [("10.0.0.0/30", b"\x04"), ("10.0.0.0/30", b"\x00\x04"),
                                       ("fd00::/120", b"\x01" + bytes(32)), ("no-cidr", b"\x01")])
def test_decode_bits_refuses_what_decode_refuses(rng, data):
    with pytest.raises(DecodeError) as plain:
        bitmap.decode(rng, data)
    with pytest.raises(DecodeError) as bits:
        bitmap.decode_bits(rng, data)
    assert str(bits.value) == str(plain.value)


@given(st.sets(st.integers(min_value=0, max_value=4093)), st.booleans(), st.integers(0, 2))
def test_decode_bits_holds_what_decode_lists(offsets, v6, pad):
    """doctor's bit form (doctorsets.Bits over decode_bits) holds exactly the IPs decode lists, and lists them alike."""
    from snaprewrite.rewrite import doctorsets

    rng = "fd00:10:96::/116" if v6 else "10.0.0.0/20"
    data = bytes(pad) + bitmap.encode_offsets(offsets)  # leading zero bytes are not big.Int.Bytes() but decode takes them
    listed = bitmap.decode(rng, data)
    bits = doctorsets.Bits(*bitmap.decode_bits(rng, data))
    assert bits.texts() == listed
    first = bitmap.allocatable(rng)[0]
    for k in range(-2, 4100, 7):
        ip = str(ipaddress.ip_address(first + k)) if k >= -1 else "0.0.0.0"
        assert bits.has(ip, 6 if v6 else 4, first + k) == (ip in listed), k
        assert not bits.has(ip, 4 if v6 else 6, first + k)


def test_range_spec_is_go_ipnet_string():
    assert bitmap.range_spec("FD00:10:96:0::/108") == "fd00:10:96::/108"


def test_dynamic_band_offset_matches_kep_3070_formula():
    assert bitmap.dynamic_band_offset("10.0.0.0/28") == 0
    assert bitmap.dynamic_band_offset("10.0.0.0/24") == 16
    assert bitmap.dynamic_band_offset("10.0.0.0/20") == 256
    assert bitmap.dynamic_band_offset("10.96.0.0/12") == 256


@given(st.sets(st.integers(min_value=0, max_value=4093)))
def test_offsets_round_trip(offsets):
    data = bitmap.encode_offsets(offsets)
    assert data[:1] != b"\x00"
    assert bitmap.decode_offsets(data) == sorted(offsets)
    assert bitmap.encode("10.0.0.0/20", bitmap.decode("10.0.0.0/20", data)) == data


def test_node_port_bitmap_uses_the_same_form():
    # offset = port - 30000, e.g. ports 30000 and 30080
    data = bitmap.encode_offsets([0, 80])
    assert [30000 + k for k in bitmap.decode_offsets(data)] == [30000, 30080]


# -- the real snapshot ----------------------------------------------------------------------------

@pytest.mark.skipif(not REAL.exists(), reason="real snapshot not available")
def test_real_serviceips_bitmap_matches_live_cluster_ips():
    ranges = _latest_live(b"/registry/ranges/serviceips")
    alloc = dict(_fields(_unknown_raw(ranges[b"/registry/ranges/serviceips"])))
    range_cidr, data = alloc[2].decode(), alloc[3]
    assert range_cidr == bitmap.range_spec(range_cidr) == "10.96.0.0/12"

    cluster_ips = set()
    for value in _latest_live(b"/registry/services/specs/").values():
        spec = dict(_fields(_unknown_raw(value)))[2]
        ip = dict(_fields(spec)).get(3, b"").decode()
        if ip and ip != "None":
            cluster_ips.add(ip)
    assert cluster_ips == {"10.96.0.1", "10.96.0.10"}
    assert set(bitmap.decode(range_cidr, data)) == cluster_ips
    assert bitmap.encode(range_cidr, bitmap.decode(range_cidr, data)) == data
