"""doctor's quick IP parsing and range test equal ``ipaddress``'s (the plain path they replace), for canonical,
non-canonical and invalid literals of both families."""

import ipaddress
import random

from snaprewrite.rewrite.doctor import _inside, _net, _parse_ip

ODD = ["10.96.0.1", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.256.1.1", "1.1.1.999", "01.2.3.4", "1.2.3.04",
       "000.1.1.1", "0.0.0.00", "1.2.3", "1.2.3.4.5", "1..2.3", "+1.2.3.4", "-1.2.3.4", " 1.2.3.4", "1.2.3.4 ",
       "1.2.3.4/32", "\u0661.2.3.4", "1.2.3.\u00b2", "1.2.3.1_0", "1.2.3.0x1", "", "None", "fd00::1", "FD00:0::1",
       "fd00:10:96:0:0:0:0:a", "::ffff:1.2.3.4", "::", "fe80::1%eth0", "1.2.3.4:80", "fd00:::1", "10.096.0.1"]

# IPv6 literals the quick path must read as ``ipaddress`` does, or leave to it: other spellings of an address
# (leading zeros, capitals, a single zero field, an unfavoured zero run, hex and dotted IPv4 tails), a zone.
ODD6 = ["fd00:10:96::a", "fd00:0010:96::a", "fd00:10:96::A", "1:0:2:3:4:5:6:7", "1::2:3:4:5:6:7", "1:0:0:2::3",
        "1::2:0:0:3", "1:0:0:2:0:0:0:3", "1:0:0:2::3", "::ffff:102:304", "::ffff:1.2.3.4", "::102:304", "::1.2.3.4",
        "64:ff9b::102:304", "64:ff9b::1.2.3.4", "::", "::1", "1::", "fe80::1%eth0", "fe80::1%1", "::0:1", "0::1",
        "fd00::1:2:3:4:5:6", "fd00:1:2:3:4:5:6::", "fd00::/64", "fd00:::1", "fd00::1::2", ":fd00::1", "fd00::1:",
        "fd00::g", "fd00::12345", "\uff46d00::1", "fd00::1 ", " fd00::1"]


def plain(raw: str):
    try:
        a = ipaddress.ip_address(raw)
    except ValueError:
        return None
    return str(a), a.version, int(a)


def test_parse_ip_equals_ipaddress():
    rnd = random.Random(13)
    cases = ODD + [str(ipaddress.IPv4Address(rnd.getrandbits(32))) for _ in range(3000)]
    cases += [str(ipaddress.IPv6Address(rnd.getrandbits(128))) for _ in range(300)]
    cases += [".".join(str(rnd.choice([0, 1, 9, 10, 99, 100, 199, 255, 256, 300, 999])) for _ in range(4))
              for _ in range(3000)]
    cases += ODD6 + [":".join(f"{rnd.choice([0, 0, 0, 1, 0xa, 0xffff, rnd.getrandbits(16)]):x}" for _ in range(8))
                     for _ in range(3000)]  # zero runs: which one ``::`` takes (the C library's spelling, or not)
    cases += [str(ipaddress.IPv6Address(rnd.getrandbits(128))).upper() for _ in range(100)]
    for raw in cases:
        assert _parse_ip(raw) == plain(raw), raw
    assert _parse_ip("010.1.1.1") is None and _parse_ip("10.96.0.1") == ("10.96.0.1", 4, 0x0A600001)


def test_inside_equals_ipaddress_membership():
    nets = ["10.96.0.0/12", "192.168.0.0/24", "10.96.0.1/32", "fd00:10:96::/108", "::/0", "0.0.0.0/0"]
    rnd = random.Random(7)
    ips = ["10.96.0.1", "10.111.255.255", "10.112.0.0", "192.168.0.255", "192.168.1.0", "fd00:10:96::ffff",
           "fd00:10:97::", "::ffff:10.96.0.1"] + [str(ipaddress.IPv4Address(rnd.getrandbits(32))) for _ in range(500)]
    for rng in nets:
        n = ipaddress.ip_network(rng)
        for raw in ips:
            _ip, version, value = _parse_ip(raw)
            assert _inside(version, value, [_net(rng)]) == (ipaddress.ip_address(raw) in n), (raw, rng)
    # none of the nets of the IP's family: outside (another family's net does not count)
    assert not _inside(4, 1, [_net("::/0")]) and not _inside(4, 1, [])


def test_state_keys_equal_a_filter_of_every_key():
    """State.keys takes the run of its sorted keys under a prefix: the same as testing every key."""
    from snaprewrite.rewrite.facts import State

    rnd = random.Random(3)
    parts = [b"services/specs/", b"services/endpoints/", b"ipaddresses/", b"minions/", b"ranges/serviceips", b"\xff",
             b"a", b"", b"ipaddresses/10."]
    index = {b"/registry/" + rnd.choice(parts) + rnd.choice(parts) + bytes([rnd.randrange(256)]): b"r"
             for _ in range(2000)}
    overlay = {k: None for k in list(index)[:50]} | {b"/registry/ipaddresses/new": b"v"}
    state = State(None, index, overlay)
    every = sorted(k for k in set(index) | set(overlay) if state.has(k))
    for prefix in parts + [b"/registry/", b"/registry/services/specs/\xff", b"/zzz", b"/"]:
        want = [k for k in every if k.startswith(state.key(prefix))]
        assert state.keys(prefix) == want, prefix
    assert state.keys(b"ipaddresses/") and b"/registry/ipaddresses/new" in state.keys(b"ipaddresses/")


def test_bitmap_decode_gives_canonical_ips():
    """doctor takes the stored bitmap's IPs as they come: they are already what _parse_ip makes of them."""
    from snaprewrite.k8s import bitmap

    rnd = random.Random(5)
    for rng in ("10.96.0.0/12", "192.168.0.0/24", "fd00:10:96::/108", "fd00::/64"):
        first, count = bitmap.allocatable(rng)
        offsets = sorted(set(rnd.randrange(min(count, 1 << 16)) for _ in range(300)))
        ips = bitmap.decode(rng, bitmap.encode_offsets(offsets))
        assert len(ips) == len(offsets) and all(_parse_ip(ip)[0] == ip for ip in ips), rng
