"""The leftovers' search of whole runs of leaves (``Mentions.visit_batch``) decides every record as ``visit`` does.

``visit`` (one value at a time, ``AddressFinder.mentions``) is the plain path. The fast one searches runs of
neighbouring values and looks again only at the values a match touches: these tests compare the keys both
leave on every fixture and the real snapshot, and on laid-out buffers built to break it (an address split
across two records, one in the bbolt key between two values, values far apart, overlapping values); one
test shows the comparison catches a search that only looks at where each match starts.
"""

import ipaddress
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snaprewrite.etcd import mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.rewrite.rules import leftovers
from snaprewrite.rewrite.rules.leftovers import AddressFinder, Mentions

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NET_SETS = {
    "v4": ["10.96.0.0/12", "10.244.0.0/16", "192.168.0.0/16"],
    "dual, one v6 head": ["10.96.0.0/12", "fd00:10:96::/108", "10.128.0.0/12", "fd00:10:128::/48"],
    "wide (no heads, no v6 prefilter)": ["10.0.0.0/8", "fd00::/8"],
    "two v6 heads": ["172.16.0.0/16", "fd00:10:96::/112", "2001:db8::/32"],
    "overlapping and adjacent v4": ["10.96.0.0/12", "10.0.0.0/9", "10.128.0.0/9", "192.168.0.0/24", "192.168.1.0/24"],
}


def _nets(names):
    return [ipaddress.ip_network(n) for n in names]


def _scan(path: Path, nets: list, fast: bool) -> dict:
    seen = Mentions(nets)
    with Snapshot(path) as snap:
        if fast:
            mvcc.scan_index(snap.key_bucket(), None, visit_batch=seen.visit_batch)
        else:
            mvcc.scan_index(snap.key_bucket(), None, visit=seen.visit)
    return seen.keys


@pytest.mark.parametrize("nets", list(NET_SETS), ids=list(NET_SETS))
def test_batch_search_equals_record_by_record_on_every_fixture(nets, real_snapshot):
    paths = sorted(FIXTURES.glob("*.db")) + [real_snapshot]
    found = 0
    for path in paths:
        plain = _scan(path, _nets(NET_SETS[nets]), fast=False)
        assert _scan(path, _nets(NET_SETS[nets]), fast=True) == plain, path.name
        found += len(plain)
    assert found  # the snapshots do mention these networks: not a comparison of two empty sets


class Batch(NamedTuple):  # the part of ``bbolt.tree.LeafBatch`` visit_batch reads
    raw: bytes
    view: memoryview
    ks: list[int]
    vs: list[int]
    ends: list[int]


def _lay_out(records: list[tuple[bytes, bytes, bool]], gaps: list[int], shuffle: list[int], framed: bool = True) -> Batch:
    """_lay_out puts each record, bbolt key then value, into one buffer in the order ``shuffle`` gives (pages are
    not in key order in the file), with filler of ``gaps`` bytes between. Framed: the value is a KeyValue's bytes
    (user key first), as etcd writes. Not framed: the value is the record's bytes alone and the bbolt key ends
    in an address's head, so a match may run from one record's value or key into the next value (what no etcd
    writes, but a damaged page may hold)."""
    placed: dict[int, tuple[int, int, int]] = {}
    buf = bytearray()
    for n, i in enumerate(shuffle):
        key, rest, tomb = records[i]
        buf += b"7" * gaps[n % len(gaps)]  # digits: a match may run on from the filler
        k = len(buf)
        buf += (b"%08d_%08d" % (i, 0) if framed else b"%08d_0010.96." % i) + (b"t" if tomb else b"")
        v = len(buf)
        if key is not None:  # (None: etcd 3.6's revision-bump marker, a record without a value)
            buf += b"\n" + bytes([len(key)]) + key + rest if framed else rest
        placed[i] = (k, v, len(buf))
    ks, vs, ends = (list(x) for x in zip(*(placed[i] for i in range(len(records)))))
    raw = bytes(buf)
    return Batch(raw, memoryview(raw), ks, vs, ends)


def _both(batch: Batch, nets: list, ukeys: list | None = None) -> tuple[dict, dict]:
    if ukeys is None:
        ukeys = mvcc.user_keys_plain(batch.view, batch.vs, batch.ends)
    plain, fast = Mentions(nets), Mentions(nets)
    for u, k, v, e in zip(ukeys, batch.ks, batch.vs, batch.ends):
        if u is not None:  # (as ``mvcc.scan_index`` shows records to ``visit``)
            plain.visit(u, batch.view[k:v], batch.view[v:e])
    fast.visit_batch(batch, ukeys)
    return plain.keys, fast.keys


pieces = st.sampled_from([b"10.96.", b"1.1", b"10.96.1.1", b"10.96.10.96", b"10.100.0.7", b"10.112.0.1", b"0.1",
                          b"310.96.0.1", b"10.96.0.256", b"fd00:10:96::1", b"FD00:10:128::9", b"fd00:", b"00:",
                          b"fd01:10:96::1", b"10:96::1", b".", b"7", b":", b"x", b"\x00", b'"', b"172.16.3.3"])
values = st.lists(pieces, max_size=6).map(b"".join)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([b"/registry/a", b"/registry/10.96.1.1", b"/b", None]), values, st.booleans()),
                min_size=1, max_size=8),
       st.lists(st.sampled_from([0, 0, 0, 1, 5, 47, 64, 65, 9000]), min_size=1, max_size=4),  # (about ``GAP``: runs cut there)
       st.randoms(use_true_random=False), st.sampled_from(list(NET_SETS)))
def test_batch_search_equals_record_by_record_on_laid_out_values(records, gaps, rnd, nets):
    """Values back to back (a mention split across two records, or between a key and its value), apart, and out
    of key order: the same keys as ``visit`` one record at a time, in revision order."""
    order = list(range(len(records)))
    rnd.shuffle(order)
    plain, fast = _both(_lay_out(records, gaps, order), _nets(NET_SETS[nets]))
    assert fast == plain
    plain, fast = _both(_lay_out(records, gaps, order, framed=False), _nets(NET_SETS[nets]), [r[0] for r in records])
    assert fast == plain


SPLIT = [(b"/registry/a", b"x", False), (b"/registry/b", b"10.96.1.1", False)]  # b's key ends "10.96."


def test_a_mention_split_from_the_previous_bytes_is_found():
    """The bytes before a value end with an address's head: the first match runs from them into the value and
    hides the address the value starts with; that match touches the value, so it is looked at."""
    batch = _lay_out(SPLIT, [0], [0, 1], framed=False)
    plain, fast = _both(batch, _nets(["10.96.0.0/12"]), [r[0] for r in SPLIT])
    assert plain == fast and b"/registry/b" in plain


def test_overlapping_values_are_each_looked_at():
    buf = b"xx10.96.1.1yy"
    batch = Batch(buf, memoryview(buf), [0, 0], [0, 4], [11, 13])
    assert AddressFinder(_nets(["10.96.0.0/12"])).touched(buf, batch.vs, batch.ends) == [1, 1]


def test_the_comparison_catches_a_search_that_looks_only_where_matches_start(monkeypatch):
    """Must fail: a search marking only the value each match starts in misses the address that the bytes before
    record b hide (the first match runs from its bbolt key into its value): the keys then differ from ``visit``'s."""
    batch = _lay_out(SPLIT, [0], [0, 1], framed=False)

    def naive(self, pattern, at, buf, sv, se, gap=8192):
        from bisect import bisect_right
        hit = [0] * len(sv)
        for m in pattern.finditer(buf, sv[0], se[-1]):
            k = bisect_right(se, m.start())
            if k < len(sv) and sv[k] <= m.start():
                hit[k] = 1
        return hit

    monkeypatch.setattr(leftovers.AddressFinder, "_search", naive)
    plain, fast = _both(batch, _nets(["10.96.0.0/12"]), [r[0] for r in SPLIT])
    assert plain != fast
    assert b"/registry/b" in plain and b"/registry/b" not in fast


def test_visit_skip_leaves_out_exactly_the_skipped_keys(real_snapshot, fixture_path):
    """``scan_index(visit_skip=...)`` visits the records whose key is under none of the prefixes, as the plain
    visit filtered afterwards; must fail: the filter drops records (a skip that dropped none would show nothing)."""
    from snaprewrite.k8s.layout import KNOWN_ROOTS

    def visited(path, skip) -> list:
        out: list = []
        with Snapshot(path) as snap:
            mvcc.scan_index(snap.key_bucket(), None, visit=lambda u, k, v: out.append((u, bytes(k), bytes(v))),
                            visit_skip=skip)
        return out

    for path in (real_snapshot, fixture_path("cni-flannel.db")):
        every, some = visited(path, ()), visited(path, KNOWN_ROOTS)
        assert some == [r for r in every if not r[0].startswith(KNOWN_ROOTS)], path.name
        assert len(some) < len(every)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(list(NET_SETS)))
def test_an_address_is_found_inside_exactly_the_networks_that_hold_it(x, nets):
    """The finder's ranges (merged where networks overlap or touch) hold an address as ``ipaddress`` says."""
    ns = _nets(NET_SETS[nets])
    for ip in (ipaddress.IPv4Address(x), *(n.network_address for n in ns if n.version == 4),
               *(n.broadcast_address + 1 for n in ns if n.version == 4 and int(n.broadcast_address) < 2**32 - 1)):
        text = b"ip " + str(ip).encode() + b" "
        assert AddressFinder(ns).mentions(memoryview(text)) == any(ip in n for n in ns if n.version == 4), (ip, nets)


parts = st.sampled_from([b"10.96.", b"10.97.", b"10.111.", b"10.112.", b"192.168.", b"1", b"25", b"255", b"256", b"01",
                         b"002", b"999", b".", b"x", b"3", b"10.96.1.2555", b"010.96.1.1"])


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.lists(parts, min_size=1, max_size=10).map(b"".join), st.sampled_from(["v4", "dual, one v6 head"]))
def test_the_one_match_confirmation_answers_as_inside4(value, nets):
    """``sure4`` (one match at p - 1, the value's end as endpos) says yes exactly where ``_inside4`` does, for every match of
    ``re4`` that ``_search`` would confirm (inside the value, not at its start, ending before its end)."""
    finder = AddressFinder(_nets(NET_SETS[nets]))
    assert finder.sure4 is not None  # (whole /16s: the one-match confirmation is used)
    for m in finder.re4.finditer(value):
        p, q = m.span()
        if p > 0 and q < len(value):
            sure = finder.sure4.match(value, p - 1, len(value)) is not None
            assert sure == finder._inside4(value, p, q, 0, len(value)), (value, p)


def test_no_one_match_confirmation_for_networks_narrower_than_a_16():
    """A /24's head (``192.168.``) is not enough to be inside it: ``_inside4`` confirms those (no ``sure4``)."""
    assert AddressFinder(_nets(NET_SETS["overlapping and adjacent v4"])).sure4 is None
    assert AddressFinder(_nets(["fd00::/8"])).sure4 is None


def test_the_comparison_catches_a_confirmation_that_ignores_the_byte_before(monkeypatch):
    """Must fail: a confirmation without its leading ``[^0-9.]`` takes ``310.96.0.1`` (not an address of 10.96/12) for
    a mention: the keys then differ from ``visit``'s."""
    import re

    records = [(b"/registry/a", b"ip 310.96.0.1 x", False)]
    batch = _lay_out(records, [0], [0])
    nets = _nets(["10.96.0.0/12"])
    plain, fast = _both(batch, nets)
    assert plain == fast and not plain
    loose = re.compile(rb"[^.](?:10\.9[6-9]\.|10\.10[0-9]\.|10\.11[01]\.)[0-9]{1,3}\.[0-9]{1,3}")
    monkeypatch.setattr(AddressFinder, "_v4_sure", classmethod(lambda cls, nets: loose))
    plain, fast = _both(batch, nets)
    assert plain != fast and b"/registry/a" in fast


# IPv6 spellings the batch search now decides itself (``AddressFinder._mention6``) where a match of ``re6`` lies
# inside one value: leading zeros, upper case, the network's own address, a full spelling, tokens that are no
# address (a trailing ``:``, two ``::``, too many groups), tokens that a hex digit or colon comes before, tokens
# outside the networks, and bare heads.
V6_PIECES = [b"fd00:10:96::1", b"FD00:0010:0096::a", b"fd00:10:96::", b"fD00:10:96:0:0:0:0:ffff", b"fd00:10:96::1:",
             b"fd00:10:96::1::2", b"fd00:10:96:1:2:3:4:5:6", b"afd00:10:96::1", b":fd00:10:96::1", b"fd00:10:96::10:1",
             b"fd00:10:128:ffff::1", b"fd00:10:129::1", b"fd00:", b"00:", b"Fd00::", b"fd01:10:96::1", b"10.96.0.1",
             b"x", b" ", b"\x00", b":", b"a"]
V6_NETS = {"dual, one v6 head": NET_SETS["dual, one v6 head"], "v6 only": ["fd00:10:96::/108", "fd00:10:128::/48"]}


def _lay_out_v6(records: list[tuple[bytes, bytes]], gaps: list[int], tail: bytes) -> Batch:
    """_lay_out_v6 puts each record's bbolt key (ending in ``tail``: a match may run from it into the value) and
    value (the record's bytes alone, no framing) back to back or ``gaps`` apart, in record order."""
    buf, ks, vs, ends = bytearray(), [], [], []
    for n, (_key, value) in enumerate(records):
        buf += b"f" * gaps[n % len(gaps)]  # a hex digit: a match may run on from the filler
        ks.append(len(buf))
        buf += (b"%08d_%08d" % (n, 0))[: 17 - len(tail)] + tail  # (17 bytes: a put's bbolt key)
        vs.append(len(buf))
        buf += value
        ends.append(len(buf))
    raw = bytes(buf)
    return Batch(raw, memoryview(raw), ks, vs, ends)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([b"/registry/a", b"/registry/b", b"/c"]),
                          st.lists(st.sampled_from(V6_PIECES), max_size=5).map(b"".join)), min_size=1, max_size=8),
       st.lists(st.sampled_from([0, 0, 1, 3, 64, 65]), min_size=1, max_size=3),
       st.sampled_from([b"", b"fd00:", b"f", b"d00", b":", b"0"]), st.sampled_from(list(V6_NETS)),
       st.sampled_from([1, 2, 1 << 16]))
def test_ipv6_decided_in_the_search_equals_record_by_record(records, gaps, tail, nets, kept):
    """IPv6 mentions at a value's start and end, after a bbolt key ending in a piece of the head, one value running
    into the next, in every spelling above, with the finder's answers kept for 1, 2 or 65536 tokens (one finder
    for the whole batch: a kept answer is reused): the same keys as ``visit`` one record at a time."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(leftovers, "V6_KEPT", kept)
        batch = _lay_out_v6(records, gaps, tail)
        plain, fast = _both(batch, _nets(V6_NETS[nets]), [r[0] for r in records])
    assert fast == plain


def test_ipv6_spellings_found_and_not_found():
    """One value per spelling, each searched in one batch: the mentions are exactly the addresses in the networks
    (checked against ``ipaddress``), whatever their case or leading zeros; the others are not."""
    import ipaddress as ipa

    nets = _nets(V6_NETS["v6 only"])
    spellings = [b"fd00:10:96::1", b"FD00:0010:0096::a", b"fd00:10:96::", b"fD00:10:96:0:0:0:0:ffff",
                 b"fd00:10:128:ffff::1", b"fd00:10:96::10:1", b"fd00:10:129::1", b"fd00:10:96::1:", b"afd00:10:96::1"]
    records = [(b"/registry/%d" % i, b" " + s + b" ") for i, s in enumerate(spellings)]
    plain, fast = _both(_lay_out_v6(records, [0], b""), nets, [r[0] for r in records])
    assert fast == plain

    def inside(s: bytes) -> bool:
        try:
            return any(ipa.IPv6Address(s.decode()) in n for n in nets)
        except ValueError:
            return False

    assert set(fast) == {b"/registry/%d" % i for i, s in enumerate(spellings) if inside(s)}
    assert len(fast) == 5  # the first five: not a comparison of two empty sets


def test_the_comparison_catches_an_ipv6_decision_that_ignores_the_byte_before(monkeypatch):
    """Must fail: with no byte taken to continue a token, the search takes ``afd00:10:96::1`` (whose re6 match
    ``mentions`` skips: a hex digit comes before it) for a mention: the keys then differ from ``visit``'s."""
    records = [(b"/registry/a", b"x afd00:10:96::1 y")]
    nets = _nets(V6_NETS["v6 only"])
    plain, fast = _both(_lay_out_v6(records, [0], b""), nets, [r[0] for r in records])
    assert plain == fast and not plain
    monkeypatch.setattr(leftovers, "_HEXCOLON", frozenset())
    plain, fast = _both(_lay_out_v6(records, [0], b""), nets, [r[0] for r in records])
    assert plain != fast and b"/registry/a" in fast
