"""The leftovers scanner's fast address finder agrees with a plain ipaddress-based search."""

import ipaddress
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from snaprewrite.rewrite.rules.leftovers import AddressFinder

NETS = [ipaddress.ip_network("10.96.0.0/12"), ipaddress.ip_network("192.168.0.0/16"),
        ipaddress.ip_network("fd00:10:96::/112")]
PLAIN4 = re.compile(rb"(?<![0-9.])((?:[0-9]{1,3}\.){3}[0-9]{1,3})(?![0-9])")


def plain(value: bytes, nets=NETS) -> bool:
    for m in PLAIN4.finditer(value):
        try:
            ip = ipaddress.ip_address(m.group(1).decode())
        except ValueError:
            continue
        if any(ip in n for n in nets):
            return True
    for token in re.findall(rb"[0-9A-Fa-f:]{3,}", value):
        try:
            ip = ipaddress.IPv6Address(token.decode())
        except ValueError:
            continue
        if any(ip in n for n in nets):
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


# Two IPv6 networks with one first hextet (a dual-stack cluster's service and pod CIDRs): the finder must
# keep its narrow head pattern and its case-free prefilter, and still agree with the plain search.
SHARED = [ipaddress.ip_network("10.96.0.0/12"), ipaddress.ip_network("fd00:10:96::/108"),
          ipaddress.ip_network("fd00:10:128::/48")]
shared_addresses = st.sampled_from(["fd00:10:96::a", "FD00:10:96::b", "Fd00:10:128:5::1", "fd00:10:97::1",
                                    "fd00:192:168::a", "fd01:10:96::a", "afd00:10:96::1", "10.100.0.1", "::1"])


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.one_of(shared_addresses, st.text(alphabet="abcdfF:0\x00\n", max_size=8)), max_size=6))
def test_finder_with_a_shared_ipv6_head_agrees_with_plain_search(parts):
    value = " ".join(parts).encode()
    f = AddressFinder(SHARED)
    assert f.mentions(memoryview(value)) == plain(value, SHARED), value
    assert f.candidate(memoryview(value)) or not plain(value, SHARED), value  # a prefilter never hides a mention


def test_shared_head_keeps_narrow_patterns():
    f = AddressFinder(SHARED)
    assert f.re6.pattern == rb"(?i)(?:fd00:)[0-9A-Fa-f:]*"
    assert f.pre6.pattern == rb"00:"
    assert not f.candidate(memoryview(b'{"time":"12:30:01","f:metadata":{}}'))


def _observe(path: str, nets: list, per_page: bool) -> dict:
    from snaprewrite.etcd import mvcc
    from snaprewrite.etcd.snapshot import Snapshot
    from snaprewrite.rewrite.rules.leftovers import Mentions

    seen = Mentions(nets)
    with Snapshot(path) as snap:
        if per_page:
            mvcc.scan_index(snap.key_bucket(), None, visit_page=seen.visit_page)
        else:
            mvcc.scan_index(snap.key_bucket(), None, visit=seen.visit)
    return seen.keys


def test_page_at_a_time_equals_record_at_a_time():
    """The leaf-at-a-time observer (whole-page prefilter) finds exactly the keys the per-record one does."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "fixtures"
    found = 0
    for name, nets in (("k8s-etcd35.db", ["10.96.0.0/12", "10.244.0.0/16", "192.168.0.0/16"]),
                       ("apiserver-etcd35.db", ["10.96.0.0/12", "10.0.0.0/8", "fd00::/16"]),
                       ("basic-etcd34.db", ["10.0.0.0/8", "192.168.0.0/16"])):
        ns = [ipaddress.ip_network(n) for n in nets]
        plain_keys = _observe(str(root / name), ns, per_page=False)
        assert _observe(str(root / name), ns, per_page=True) == plain_keys, name
        found += len(plain_keys)
    assert found  # the fixtures do mention these networks: the comparison is not between two empty sets


ODD_KEYS = [b"/registry/pods/ns/\xe2\x82\xac", b"/registry/pods/ns/a\xe2\x82", b"/registry/pods/ns/b, c",
            b"/registry/pods/ns/\xff\xfe", b"/registry/pods/ns/\xed\xa0\x80x", b"/registry/pods/ns/changed",
            b"/registry/configmaps/x\n\x00y", b"/registry/services/specs/ns/kept", b"/other/tree/k\xc3"]


def _warnings_of(seen) -> list[tuple[str, str]]:
    from types import SimpleNamespace

    from snaprewrite.k8s.layout import Layout
    from snaprewrite.rewrite.rules import leftovers

    plan = SimpleNamespace(edits=[SimpleNamespace(key=b"/registry/pods/ns/changed")], warnings=[])
    ctx = SimpleNamespace(observed={"leftovers": seen}, plan=plan, excluded={b"/registry/services/specs/ns/kept"}, marked={},
                          layout=Layout(), objects={})
    leftovers.run(ctx)
    return [(w.key, w.message) for w in plan.warnings]


def test_the_childs_answer_gives_the_warnings_of_the_keys_found_here():
    """What a forked child found (``export``, read back by ``absorb``) gives the warnings the observer's own keys
    give, and each names its keys as they decode one by one (joined as bytes, invalid UTF-8 at a key's end too)."""
    from snaprewrite.rewrite.rules.leftovers import Mentions

    here = Mentions(NETS)
    here.keys = dict.fromkeys(reversed(ODD_KEYS))  # the scan's order is not the key order
    there = Mentions(NETS)
    there.absorb(memoryview(bytearray(here.export())))
    assert list(there.sorted_keys()) == list(here.sorted_keys()) == sorted(ODD_KEYS)
    got = _warnings_of(there)
    assert got == _warnings_of(here)
    pods = sorted(k for k in ODD_KEYS if k.startswith(b"/registry/pods/") and not k.endswith(b"changed"))
    one_by_one = ", ".join(k.decode("utf-8", "backslashreplace") for k in pods)
    assert ("/registry/pods/", f"5 object(s) still hold old addresses (pod IPs change when the pods are recreated "
                               f"on the new pod CIDR): {one_by_one}") in got
    assert [w[0] for w in got] == ["/registry/configmaps/", "(--exclude)", "/registry/pods/", "/other/tree/"]


def test_the_answer_in_pieces_is_the_answer():
    """What the child writes piece by piece (``export_pieces``) is ``export``'s bytes, packed or not."""
    from snaprewrite.rewrite.rules.leftovers import Mentions

    here = Mentions(NETS)
    here.keys = dict.fromkeys(reversed(ODD_KEYS))
    whole = here.export()
    assert b"".join(here.export_pieces()) == whole
    here.pack()
    assert b"".join(here.export_pieces()) == here.export() == whole
    here.keys = {}
    assert b"".join(here.export_pieces()) == here.export() == bytes(8)


def test_a_cut_answer_is_refused():
    from snaprewrite.rewrite.rules.leftovers import Mentions

    here = Mentions(NETS)
    here.keys = dict.fromkeys(ODD_KEYS)
    answer = here.export()
    try:
        Mentions(NETS).absorb(memoryview(answer[:-1]))
    except ValueError:
        return
    raise AssertionError("a cut answer was taken")


parts = st.one_of(st.sampled_from([b"services", b"endpoints", b"specs", b"pods", b"crd.projectcalico.org", b"",
                                   b"calico", b"ns", b"\xe2\x82", b"\xff", b"a.b"]), st.binary(max_size=4))


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.sampled_from([b"/registry/", b"/kubernetes.io/"]), st.sampled_from([b"", b"/", b"x"]),
       st.lists(parts, max_size=5), st.lists(parts, max_size=3))
def test_a_keys_head_has_its_group(root, start, names, more):
    """Every key that starts with a key's head (when the head says so) has that key's group (what ``run`` relies on
    to look a group up once per head): the same as ``_resource`` of each key."""
    from snaprewrite.rewrite.rules.leftovers import _head, _resource

    key = (start or root) + b"/".join(names)  # under the root, or in another tree
    head, whole = _head(key, root)
    assert key.startswith(head) and _resource(head, root) == _resource(key, root), key
    if whole:
        longer = head + b"/".join(more)
        assert _resource(longer, root) == _resource(key, root), (key, longer)


def test_spilled_warnings_are_the_texts_made_in_memory(monkeypatch):
    """A group of PART keys or more gets its warning as a ``spill.Text`` (its parts in a temp file): the same text,
    part by part or whole (an undecodable key at a part's end too), and the report's JSON of it is the same."""
    import json

    from snaprewrite import jsontext
    from snaprewrite.rewrite.rules import leftovers
    from snaprewrite.spill import Text

    seen = leftovers.Mentions(NETS)
    seen.keys = dict.fromkeys(ODD_KEYS)
    whole = _warnings_of(seen)
    assert not any(isinstance(m, Text) for _, m in whole)
    for part in (1, 2, 3):
        monkeypatch.setattr(leftovers, "PART", part)
        monkeypatch.setattr(leftovers, "TEXTS", leftovers.Spill())
        spilled = _warnings_of(seen)
        texts = [m for _, m in spilled if isinstance(m, Text)]
        assert texts and len(list(texts[-1].chunks())) > 1 if part < 3 else texts
        assert spilled == whole and [(k, str(m)) for k, m in spilled] == whole
        assert [len(m) for _, m in spilled] == [len(m) for _, m in whole]
        rep = {"warnings": [{"key": k, "message": m} for k, m in spilled]}
        for ascii_only in (True, False):
            out = []
            jsontext.write(rep, out.append, ensure_ascii=ascii_only)
            assert "".join(out) == json.dumps({"warnings": [{"key": k, "message": m} for k, m in whole]}, indent=2,
                                              ensure_ascii=ascii_only) + "\n"
