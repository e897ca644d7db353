"""The doctor's compact sets step by step: ``take``/``pop`` (one step each) equal the ``has`` then ``add``/``discard``
they replace, for ``Bits`` and ``Texts`` alike; ``Verified`` marks exactly the live IPAddress keys added.

(``tests/rewrite/test_doctor.py`` holds the quick path's findings equal to the plain path's on real states.)
"""

import ipaddress
import random

from snaprewrite.rewrite.doctorsets import Bits, Texts, Verified
from snaprewrite.rewrite.facts import IPADDRESSES


def _ops(rng: random.Random, first: int, count: int, version: int) -> list[tuple[str, int, int, str]]:
    """Random takes and pops of IPs in and around a range (some of another family, some outside it)."""
    make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    out = []
    for _ in range(3000):
        value = first + rng.randrange(-20, count + 20)
        v = version if rng.random() < 0.95 else 10 - version
        out.append((rng.choice(("take", "pop")), v, max(value, 0), str(make(max(value, 0)))))
    return out


def test_take_and_pop_equal_has_then_add_or_discard():
    rng = random.Random(7)
    for version, first, count in ((4, (10 << 24) + 1, 254), (6, 1 << 100, 1000)):
        one = Bits(version, first, bytearray(rng.randbytes((count + 7) // 8)))
        two = Bits(version, first, bytearray(one.bits))
        texts_one, texts_two = Texts(one.texts()), Texts(one.texts())
        answers = 0
        for op, v, value, ip in _ops(rng, first, count, version):
            inside = v == version and 0 <= value - first < count
            if op == "take":
                if not inside:  # the Service loop takes only offsets inside the range (``add`` refuses others)
                    continue
                was = two.has(ip, v, value)
                if not was:
                    two.add(ip, v, value)
                was_text = texts_two.has(ip, v, value)
                if not was_text:
                    texts_two.add(ip, v, value)
                assert one.take(ip, v, value) == was == texts_one.take(ip, v, value) == was_text
            else:
                was = two.has(ip, v, value)
                two.discard(ip, v, value)
                was_text = texts_two.has(ip, v, value) and inside
                if was_text:
                    texts_two.discard(ip, v, value)
                assert one.pop(ip, v, value) == was
                if inside:
                    assert texts_one.pop(ip, v, value) == was_text == was
            answers += was
            assert one.bits == two.bits
        assert one.texts() == two.texts() == texts_one.texts() == texts_two.texts()
        assert 0 < answers < 3000  # both answers met


class _State:
    """What ``Verified`` asks a ``facts.State``: the live keys under a prefix, its absolute form, ``live``."""

    ROOT = b"/registry/"

    def __init__(self, live: list[bytes]):
        self._live = sorted(live)

    def key(self, rel: bytes) -> bytes:
        return self.ROOT + rel

    def keys(self, rel: bytes) -> list[bytes]:
        return [k for k in self._live if k.startswith(self.key(rel))]

    def live(self, key: bytes) -> bool:
        return key in self._live


def test_verified_marks_exactly_the_live_ipaddress_keys_added():
    """MUST FAIL if a key is lost: the keys not added (and only those) are unverified, in key order, whatever
    order they were added in, twice or not; keys that are not live IPAddresses are not counted."""
    rng = random.Random(3)
    prefix = _State.ROOT + IPADDRESSES
    live = [prefix + f"10.0.{i // 256}.{i % 256}".encode() for i in range(600)]
    state = _State(live + [_State.ROOT + b"services/specs/default/a"])
    verified = Verified(state)
    added = rng.sample(live, 400)
    for key in added + added[:50]:
        verified.add(key)
    verified.add(prefix + b"10.9.9.9")  # not live: not counted
    verified.add(_State.ROOT + b"services/specs/default/a")  # live, but no IPAddress
    assert verified.count == 450
    assert added[0] in verified
    want = [k for k in sorted(live) if k not in set(added)]
    assert list(verified.unverified()) == want
    late = want[:10]
    for key in late:  # added after the bits were asked for once
        verified.add(key)
    assert list(verified.unverified()) == want[10:]
    assert all(k in verified for k in late) and want[10] not in verified
