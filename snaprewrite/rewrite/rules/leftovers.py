"""What still mentions the old CIDRs after every rule: counted per resource, each with the reason it stays.

Scans every live value the plan does not change for IPv4/IPv6 addresses and CIDRs inside an old
service or pod CIDR, and adds one warning per resource (``/registry/pods/``: 12 objects ...; keys under the
layout root). Pod IPs, endpoints and events are expected to keep old addresses until the cluster refreshes
them. The CNI rules move the CNIs' own pools; what a CNI rebuilds from the pods (CiliumEndpoints, Calico
WorkloadEndpoints) is listed with that reason. Every key is named: the report never elides one.
"""

import ipaddress
import re
from array import array
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator
from itertools import accumulate, chain, compress, repeat
from operator import add, and_, eq, gt, le, not_, sub
from socket import AF_INET6, inet_pton

from ...etcd import revision as revcodec
from ...spill import Part, Spill, Text
from ..plan import Context, Warning

name = "leftovers"
kind = "*"
prefixes = ()

REASONS = {
    "pods": "pod IPs change when the pods are recreated on the new pod CIDR",
    "endpoints": "rebuilt by the endpoints controller once pods and services move",
    "endpointslices": "rebuilt by the endpointslice controller once pods and services move",
    "events": "old events; they expire on their own",
    "minions": "node status addresses or fields snaprewrite does not move",
    "configmaps": "a ConfigMap snaprewrite does not know; edit it by hand",
    "services": "a Service field other than clusterIP(s) (externalIPs, loadBalancerIP?)",
    "ipaddresses": "an IPAddress with no moved Service",
    "excluded": "left as they are, as --exclude asked",
    "ciliumendpoints.cilium.io": "pod addresses: Cilium recreates its endpoints with the pods",
    "workloadendpoints.crd.projectcalico.org": "pod addresses: Calico recreates them with the pods",
    "ipamblocks.crd.projectcalico.org": "blocks of an IPPool the pod CIDR mapping does not cover",
    "blockaffinities.crd.projectcalico.org": "affinities of blocks of an IPPool the mapping does not cover",
    "ipamhandles.crd.projectcalico.org": "handles of blocks of an IPPool the mapping does not cover",
    "ippools.crd.projectcalico.org": "an IPPool the pod CIDR mapping does not cover",
}
CNI_HINT = "a CNI's own IP pool or config: update it with the CNI's tools"
# Values closer than this are searched as one run: a leaf's keys (17 bytes) lie between its values, but not a page's
# free tail, the next page's header and elements, nor (the second pattern) the values the first settled. The
# regex engine reads ~1 GB/s here: at 1.3 GB the runs shrank from 1.28 to ~1.05 GB (first pattern) and 0.76 to
# ~0.52 GB (second), for one search call per leaf or so (8192: 3.50-3.54 s child CPU, 64: 3.16-3.22 s).
GAP = 64
# A warning listing at least this many keys waits in a temp file, not in memory (``spill.Text``): at 8 GiB the
# endpoints' and pods' warnings list ~740k keys, tens of MB that were held through the write, by every child
# forked after planning, and several times over while the text was made and while the report was written.
PART = 1024
TEXTS = Spill()
V6_KEPT = 1 << 16  # IPv6 tokens whose answer ``AddressFinder._mention6`` keeps
_HEXCOLON = frozenset(b"0123456789abcdefABCDEF:")  # bytes that continue an IPv6 token (``mentions`` skips one after them)


def _resource(key: bytes, root: bytes) -> tuple[str, str]:
    """_resource returns (resource name, its key prefix) of a key under the layout ``root``."""
    text = key.decode("utf-8", "replace")
    if not key.startswith(root):  # another tree (/calico/, /openshift.io/): its second component names it
        parts = text.split("/")
        return (parts[2], "/".join(parts[:3]) + "/") if len(parts) > 2 else (parts[-1], text)
    base = root.decode("utf-8", "replace")
    parts = text[len(base):].split("/")
    if len(parts) > 1 and parts[0] == "services":
        res = "endpoints" if parts[1] == "endpoints" else "services"
        return res, base + "/".join(parts[:2]) + "/"
    if len(parts) > 2 and "." in parts[0]:  # <root><group>/<resource>/...: a custom resource
        return f"{parts[1]}.{parts[0]}", base + "/".join(parts[:2]) + "/"
    if len(parts) > 1:
        return parts[0], base + parts[0] + "/"
    return parts[-1], text


def _head(key: bytes, root: bytes) -> tuple[bytes, bool]:
    """_head is the start of ``key`` that ``_resource`` reads, and whether every key starting with it has its answer.

    Under ``root`` the first two components and the slashes after them, elsewhere the first three (True); a key
    with fewer is its own head (False: a longer key may read further). A slash is never inside a UTF-8
    sequence: the head decodes as the key's start does.
    """
    under = key.startswith(root)
    at = key.find(b"/", len(root)) if under else key.find(b"/")
    for _ in range(1 if under else 2):
        if at < 0:
            break
        at = key.find(b"/", at + 1)
    return (key[: at + 1], True) if at >= 0 else (key, False)


class Mentions:
    """Observes the plan's scan: the keys whose latest record so far mentions an old address.

    Records arrive in revision order; a later put that does not mention one, or a deletion, removes
    the key again. Memory follows the number of such keys, not the size of the snapshot. The scan shows it
    the records a batch of leaves at a time (``visit_batch``; ``visit_page`` a leaf at a time, ``visit`` one
    record at a time: the plain path, and the one for decrypted values).
    """

    def __init__(self, nets: list):
        self.finder = AddressFinder(nets)
        self.keys: dict[bytes, None] = {}

    def visit(self, key: bytes, revkey: memoryview, value: memoryview) -> None:
        if len(revkey) != revcodec.REV_BYTES_LEN or not self.finder.mentions(value):
            self.keys.pop(key, None)
        else:
            self.keys[key] = None

    def export(self) -> bytes:
        """export is what was found, as bytes (``SortedKeys.to_bytes``): a forked child's answer (``aside.Aside``).

        One buffer, not a JSON list of strings: the parent reads it while its heap is near its highest
        (225k keys at 1.3 GB were +69 MiB there as JSON, its text and the dict made from it; now +10 MB).
        """
        keys = self.keys if isinstance(self.keys, SortedKeys) else SortedKeys(sorted(self.keys))
        return keys.to_bytes()

    def export_pieces(self) -> list:
        """export_pieces is ``export`` in pieces (joined, its bytes): the child writes them as they are, with no
        copy of them all (at 8 GiB ~80 MB, held beside the keys at the child's peak)."""
        keys = self.keys if isinstance(self.keys, SortedKeys) else SortedKeys(sorted(self.keys))
        return keys.pieces()

    def absorb(self, found: memoryview) -> None:
        """absorb takes what ``export`` gave in the child, as if this observer had seen the records itself (packed)."""
        self.keys = SortedKeys.from_bytes(found)

    def pack(self) -> None:
        """pack keeps the keys found, once the scan is over, sorted in one string (``SortedKeys``), not in a dict.

        At 8 GiB ~740k keys (endpoints, slices, pods) wait from the scan to this rule, the last: ~100 MB
        as a dict of bytes objects, ~40 MB packed.
        """
        if isinstance(self.keys, dict):
            ordered = sorted(self.keys)
            self.keys = None  # the dict goes first: packing it should not raise the scan's peak
            self.keys = SortedKeys(ordered)

    def sorted_keys(self) -> Iterator[bytes]:
        """sorted_keys are the keys found, in key order (packed or not)."""
        return iter(self.keys) if isinstance(self.keys, SortedKeys) else iter(sorted(self.keys))

    def visit_page(self, run: memoryview | None, records: list) -> None:
        """visit_page is ``visit`` for one leaf's records: a leaf whose bytes hold no candidate is settled at once.

        Every value is a slice of ``run``, so a value with an address in it makes the run match too.
        """
        if run is not None and not self.finder.candidate(run):
            pop = self.keys.pop
            for key, _revkey, _value in records:
                pop(key, None)
            return
        visit = self.visit
        for key, revkey, value in records:
            visit(key, revkey, value)

    def visit_batch(self, batch, ukeys: list) -> None:
        """visit_batch is ``visit`` for a batch of leaves (``bbolt.tree.LeafBatch``; ``ukeys`` its user keys, None
        for a record without a value): the batch's bytes are searched in a few runs, not value by value.

        ``AddressFinder.touched`` says which values a match of the finder's searches touches (a value none
        touches mentions nothing) and which of them surely mention an address; only the others are searched
        again, alone (``AddressFinder.mentions``). A key's state after the batch is its last record's decision
        (found: a put whose value mentions one; else dropped), so each key is settled once, the whole batch's
        at a time. The same keys as ``visit`` record by record (``tests/rewrite/test_leftovers_batch.py``).
        """
        ks, vs, ends = batch.ks, batch.vs, batch.ends
        if not ks:
            return
        touched = self.finder.touched(batch.raw, vs, ends)
        if 1 in touched:  # (few) the values a match touches that may or may not mention one: each searched alone
            view, mentions, put = batch.view, self.finder.mentions, revcodec.REV_BYTES_LEN
            for x in compress(range(len(ks)), map(eq, touched, repeat(1))):  # (a deletion is never found: not searched)
                touched[x] = 2 if vs[x] - ks[x] == put and mentions(view[vs[x] : ends[x]]) else 0
        keys = self.keys
        hits = list(map(eq, touched, repeat(2)))
        if True not in hits:  # every key of the batch is dropped (None, a record without a value, is never found)
            if keys:
                _pop_all(keys.pop, ukeys)
            return
        # found: mentions one, and a put (a deletion's bbolt key is longer); the last record of a key decides
        sizes = list(map(sub, vs, ks))
        if sizes.count(revcodec.REV_BYTES_LEN) != len(sizes):  # (deletions in the batch)
            hits = list(map(and_, hits, map(eq, sizes, repeat(revcodec.REV_BYTES_LEN))))
        found = dict(zip(ukeys, hits))
        found.pop(None, None)  # (records without a value: no key, never found)
        if True in found.values():
            keys.update(dict.fromkeys(compress(found, found.values())))
            if False not in found.values():
                return
        if keys:
            _pop_all(keys.pop, list(compress(found, map(not_, found.values()))))


class SortedKeys:
    """SortedKeys are byte strings held sorted in one string and an array of their ends; iterating gives them in order."""

    __slots__ = ("blob", "ends")

    def __init__(self, keys):
        ordered = keys if isinstance(keys, list) and all(map(le, keys, keys[1:])) else sorted(keys)
        self.ends = array("q", accumulate(map(len, ordered)))
        self.blob = b"".join(ordered)

    def to_bytes(self) -> bytes:
        """to_bytes is how many keys (8 bytes), their ends (8 bytes each) and the keys joined."""
        return b"".join([len(self.ends).to_bytes(8, "little"), self.ends.tobytes(), self.blob])

    def pieces(self) -> list:
        """pieces are ``to_bytes`` in pieces (bytes-like; joined they are its bytes): the count, the ends, the keys."""
        return [len(self.ends).to_bytes(8, "little"), self.ends, self.blob]

    @classmethod
    def from_bytes(cls, data) -> "SortedKeys":
        """from_bytes is the SortedKeys ``to_bytes`` gave (ValueError if ``data`` is not one): bytes, or a
        ``spill.Part`` of a file holding them."""
        keys = cls.__new__(cls)
        keys.ends = array("q")
        if isinstance(data, Part):  # only the ends are read: the keys are read from the file, a piece at a time
            n = int.from_bytes(data.read(0, 8), "little")
            keys.ends.frombytes(data.read(8, n * keys.ends.itemsize))
            keys.blob = data.part(8 + n * keys.ends.itemsize)
        else:
            n = int.from_bytes(data[:8], "little")
            keys.ends.frombytes(data[8 : 8 + n * keys.ends.itemsize])
            # the keys stay where they are (a view: a forked child's answer, read at the peak of planning, is not
            # copied; ~75 MB at 8 GiB); iterating makes each key's bytes
            keys.blob = memoryview(data)[8 + n * keys.ends.itemsize :]
        ends = keys.ends
        if len(ends) != n or (ends[-1] if n else 0) != len(keys.blob) or not all(map(le, [0, *ends], ends)):
            raise ValueError("not SortedKeys.to_bytes")
        return keys

    def __iter__(self) -> Iterator[bytes]:
        blob, ends = self.blob, self.ends
        if type(blob) is Part:
            return _read_keys(blob, ends)
        if type(blob) is not bytes:  # a view (``from_bytes``)
            return map(bytes, map(blob.__getitem__, map(slice, chain((0,), ends), ends)))
        return map(blob.__getitem__, map(slice, chain((0,), ends), ends))

    def __len__(self) -> int:
        return len(self.ends)

    def __eq__(self, other) -> bool:
        if isinstance(other, SortedKeys):
            return self.ends == other.ends and list(self) == list(other)
        return NotImplemented

    __hash__ = None


READ = 1 << 20  # bytes of keys read from a file at once (``SortedKeys`` of a ``spill.Part``)


def _read_keys(blob: Part, ends: array) -> Iterator[bytes]:
    """_read_keys yields the keys of a ``SortedKeys`` whose joined keys lie in a file, reading ``READ`` bytes
    (or one longer key) at a time: the keys a forked child found wait on disk (~75 MB at 8 GiB), not in memory."""
    at, i, n = 0, 0, len(ends)
    while i < n:
        j = bisect_right(ends, max(at + READ, ends[i]), i)  # keys i..j-1 lie in the piece read now
        piece, part = blob.read(at, ends[j - 1] - at), ends[i:j]
        yield from map(piece.__getitem__, map(slice, map(sub, chain((at,), part[:-1]), repeat(at)),
                                              map(sub, part, repeat(at))))
        at, i = ends[j - 1], j


def _pop_all(pop, keys: list) -> None:
    """_pop_all drops each key from the found ones, in one call (None, a record without a value, is never found)."""
    deque(map(pop, keys, repeat(None)), 0)


def _v6_int(token: bytes) -> int | None:
    """_v6_int is the IPv6 address ``token`` (a match of ``re6``: hex digits and colons) spells, as an int, or None:
    ``ipaddress.IPv6Address``'s answer. The C parser (``inet_pton``) reads these spellings as ``ipaddress`` does
    (``tests/rewrite/test_leftovers_v6.py``), ten times faster; what it refuses is asked of ``ipaddress`` again."""
    try:
        return int.from_bytes(inet_pton(AF_INET6, token.decode("ascii")), "big")
    except (OSError, ValueError):
        pass
    try:
        return int(ipaddress.IPv6Address(token.decode("ascii", "replace")))
    except ValueError:
        return None


def _old_nets(options) -> list:
    return [m.old for cm in (options.service_map, options.pod_map) for m in cm if not m.is_noop]


def observer(options) -> Mentions | None:
    """observer is what this rule needs to see of every record during the plan's scan."""
    nets = _old_nets(options)
    return Mentions(nets) if nets else None


def run(ctx: Context) -> None:
    """run counts the live objects, per resource, whose unchanged values still hold old addresses."""
    seen: Mentions | None = ctx.observed.get(name)
    if seen is None:
        return
    changed = sorted(e.key for e in ctx.plan.edits)  # walked beside the sorted keys: no set of 600k keys at 8 GiB
    at, n = 0, len(changed)
    # kept by --exclude: what a rule left alone because of it, and every object the planner marked (whichever rule
    # loads it, and also where its rule would not have changed it: kube-flannel-cfg, cilium-config)
    kept = ctx.excluded | ctx.marked.keys()
    # Each group's keys are joined a thousand at a time as they come, and the joined parts go to a temp file
    # (``spill.Text``, which the report is written from): no object per key is kept (225k keys at 1.3 GB, 740k
    # at 8 GB), nor the warnings' text (tens of MB at 8 GB). A group of fewer keys gets its text as a str,
    # decoded once. Decoding the joined bytes gives the keys' own decodings joined, whole or a part at a time:
    # no UTF-8 sequence spans ", ", and the handler replaces byte by byte. The keys come in key order: a key
    # that starts with the last one's head has its group.
    root = ctx.layout.root
    excluded = ("excluded", "(--exclude)")
    groups: dict[bytes, tuple[str, str]] = {}  # a key's head (``_head``) -> its group
    hits: dict[tuple[str, str], list] = {}  # group -> [number of keys, their parts joined (Text), keys not yet joined]
    head = group = None
    for key in seen.sorted_keys():
        while at < n and changed[at] < key:
            at += 1
        if at < n and changed[at] == key:
            continue
        if key in kept:
            hit = hits.get(excluded) or hits.setdefault(excluded, [0, None, []])
        else:
            if head is None or not key.startswith(head):
                head, whole = _head(key, root)
                group = groups.get(head) or groups.setdefault(head, _resource(head, root))
                if not whole:
                    head = None
            hit = hits.get(group) or hits.setdefault(group, [0, None, []])
        hit[0] += 1
        keys = hit[2]
        keys.append(key)
        if len(keys) == PART:
            if hit[1] is None:
                hit[1] = Text(TEXTS)
                hit[1].append(b", ".join(keys))
            else:
                hit[1].append(b", ".join([b"", *keys]))  # (", " and the part)
            keys.clear()
    del groups, changed, kept  # (freed before the warnings are made)
    for res, prefix in sorted(hits):
        count, parts, keys = hits.pop((res, prefix))
        reason = REASONS.get(res, CNI_HINT if "." in res else "not rewritten by snaprewrite; review it")
        intro = f"{count} object(s) still hold old addresses ({reason}): ".encode()
        if parts is None:
            ctx.plan.warnings.append(Warning(prefix, (intro + b", ".join(keys)).decode("utf-8", "backslashreplace")))
            continue
        text = Text(TEXTS)
        text.append(intro)
        text.extend(parts)
        if keys:
            text.append(b", ".join([b"", *keys]))
        ctx.plan.warnings.append(Warning(prefix, text))


class AddressFinder:
    """Finds IPv4/IPv6 addresses (or CIDRs) inside given networks in raw bytes, fast.

    A value is first searched for the literal text every address of the networks must start with
    (``10.96.`` ... ``10.111.`` for 10.96.0.0/12; the first hextet for IPv6), one compiled pattern
    per family; only candidates are parsed and compared as integers.
    """

    def __init__(self, nets: list):
        self.v4 = [(int(n.network_address), int(n.broadcast_address)) for n in nets if n.version == 4]
        merged: list[list[int]] = []  # the same addresses as disjoint ascending ranges: one bisect finds x's
        for lo, hi in sorted(self.v4):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        self.v4_lows, self.v4_highs = [r[0] for r in merged], [r[1] for r in merged]
        self.v6 = [n for n in nets if n.version == 6]
        self.v6_ranges = [(int(n.network_address), int(n.broadcast_address)) for n in self.v6]
        self.re4 = self._v4_pattern([n for n in nets if n.version == 4])
        self.sure4 = self._v4_sure([n for n in nets if n.version == 4])
        self.re6 = self._v6_pattern(self.v6)
        self.pre6 = self._v6_prefilter(self.v6)
        self._seen6: dict[bytes, bool] = {}  # ``_mention6``'s answers

    @staticmethod
    def _v4_heads(nets: list) -> str | None:
        """_v4_heads is the alternation of the first two parts (``10.96.``) every address of the networks starts with,
        or None when they span more than 4096 of them."""
        heads = set()
        for n in nets:
            lo, hi = int(n.network_address) >> 16, int(n.broadcast_address) >> 16
            if hi - lo > 4096:
                return None
            heads.update(f"{h >> 8}.{h & 255}." for h in range(lo, hi + 1))
        return "|".join(re.escape(h) for h in sorted(heads))

    @classmethod
    def _v4_pattern(cls, nets: list) -> re.Pattern | None:
        if not nets:
            return None
        head = cls._v4_heads(nets) or r"[0-9]{1,3}\.[0-9]{1,3}\."
        return re.compile(rb"(?:" + head.encode() + rb")[0-9]{1,3}\.[0-9]{1,3}")

    @classmethod
    def _v4_sure(cls, nets: list) -> re.Pattern | None:
        """_v4_sure matches at p - 1 exactly where ``_inside4`` says yes to ``re4``'s match at p (p inside the value, the
        match ending before the value does: search with the value's end as ``endpos``), or None.

        Only for networks that are whole /16s (prefix 16 or shorter, heads known): an address starting with one of
        the heads is then inside one. The pattern is ``_inside4``'s test: no digit or dot before, a head, two parts of
        at most three digits each with a value below 256 (leading zeros allowed, as ``int`` reads them), no digit after.
        """
        head = cls._v4_heads(nets) if nets and all(n.prefixlen <= 16 for n in nets) else None
        if not head:
            return None
        part = rb"(?:25[0-5]|2[0-4][0-9]|[01][0-9][0-9]|[0-9][0-9]?)"
        return re.compile(rb"[^0-9.](?:" + head.encode() + rb")" + part + rb"\." + part + rb"(?![0-9])")

    @staticmethod
    def _v6_pattern(nets: list) -> re.Pattern | None:
        if not nets:
            return None
        heads = {f"{int(n.network_address) >> 112:x}:" for n in nets if n.prefixlen >= 16}
        if any(n.prefixlen < 16 for n in nets):  # two networks may share a first hextet (one head)
            return re.compile(rb"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:]+")
        return re.compile(rb"(?i)(?:" + "|".join(sorted(heads)).encode() + rb")[0-9A-Fa-f:]*")

    def _v6_prefilter(self, nets: list) -> re.Pattern | None:
        """_v6_prefilter is a case-free literal every IPv6 candidate holds (``00:`` for ``fd00:``), or None.

        The IPv6 pattern is case-insensitive, which the regex engine cannot search by literal prefix;
        digits and colons have no case, so their longest run in the one common head is searched first.
        """
        heads = {f"{int(n.network_address) >> 112:x}:" for n in nets}
        if len(heads) != 1 or any(n.prefixlen < 16 for n in nets):
            return None
        runs = list(re.finditer(r"[0-9:]+", heads.pop()))
        if not runs:
            return None
        longest = max(runs, key=lambda m: len(m.group()))
        self.pre6_at, self.pre6_text = longest.start(), longest.group().encode()  # (for ``searches``)
        return re.compile(re.escape(longest.group()).encode())

    def searches(self) -> list[tuple[re.Pattern, int]]:
        """searches are the patterns whose matches ``mentions`` needs, each with how to confirm a match (or -1).

        IPv4: ``re4`` (each address ``mentions`` parses is one of its matches). IPv6: the case-free
        prefilter when there is one (``mentions`` looks at no value without it), else ``re6``. The prefilter
        is a piece of the one IPv6 head: where it lies at offset n of the head and cannot overlap itself,
        a match of it at p stands for a match of ``re6`` at p - n only if ``re6`` matches there (its
        confirmation is n; -1: none).
        """
        out: list[tuple[re.Pattern, int]] = [(self.re4, -1)] if self.re4 is not None else []
        if self.pre6 is not None:
            lit = self.pre6_text
            alone = all(lit[i:] != lit[: len(lit) - i] for i in range(1, len(lit)))
            out.append((self.pre6, self.pre6_at if alone else -1))
        elif self.re6 is not None:
            out.append((self.re6, -1))
        return out

    def touched(self, buf, vs: list[int], ends: list[int]) -> list[int]:
        """touched tells, per value ``buf[vs[i]:ends[i]]``, whether a match of ``searches`` touches it (0: no, and it
        mentions nothing; 1: yes; 2: yes, and it mentions an address), searching runs of neighbouring values,
        not value by value.

        Why a value no match touches holds no match: none of the patterns has an anchor or a look-around,
        so a match inside a value is a match at the same place in any run holding the value. A search
        finds the leftmost match from where it starts; the next one starts at that match's end or, past it,
        at the end of the last value the match touched (that value is settled, and no other holds the bytes
        skipped): a place in an unsettled value where a match could start is either found or lies inside a
        match found, which then touches that value. A confirmed prefilter (``searches``) cannot overlap
        itself, so each of its places is found the same way, and a place ``re6`` does not match at is no
        mention's. A value the first pattern touches is not searched for the others (``mentions`` looks at
        it whole). Values that overlap (a damaged page) are all reported touched.

        2: the first match of ``re4`` in a value is the first one ``mentions`` meets there when the search
        started at or before the value and the match ends inside it (the pattern reads no byte past its
        match's end): when that match is an address inside a network, ``mentions`` is True. Also 2: a match of ``re6``
        (the prefilter's, confirmed) that lies whole inside a value and is an IPv6 mention as ``mentions`` reads one (no
        hex digit or colon before it in the value, an address in a network: ``_mention6``); one that is not a mention
        is passed over as an unconfirmed prefilter match is (a mention after it is still searched for).
        """
        order = sorted(range(len(vs)), key=vs.__getitem__)
        sv = list(map(vs.__getitem__, order))
        se = list(map(ends.__getitem__, order))
        if not all(map(le, se[:-1], sv[1:])):  # overlapping values: ``mentions`` decides each
            return [1] * len(vs)
        out = [0] * len(vs)
        for pattern, at in self.searches():
            if not order:
                break
            hit = self._search(pattern, at, buf, sv, se)
            for x, h in compress(zip(order, hit), hit):
                out[x] = h
            miss = list(map(not_, hit))
            order, sv, se = list(compress(order, miss)), list(compress(sv, miss)), list(compress(se, miss))
        return out

    def _search(self, pattern: re.Pattern, at: int, buf, sv: list[int], se: list[int], gap: int = GAP) -> list[int]:
        """_search tells which of the values ``[sv[i], se[i])`` (ascending, disjoint) a match of ``pattern`` touches
        (``touched``'s 0, 1, 2). Values closer than ``gap`` bytes are searched as one run (``GAP``). ``at`` >= 0: the
        pattern is ``re6``'s prefilter, lying ``at`` bytes into ``re6``'s match (``searches``).
        """
        n = len(sv)
        hit = [0] * n
        search = pattern.search
        confirm = self.re6.match if at >= 0 else None
        inside = self._inside4 if pattern is self.re4 else None
        sure = self.sure4.match if inside is not None and self.sure4 is not None else None
        mention6 = self._mention6
        cuts = [0, *compress(range(1, n), map(gt, sv[1:], map(add, se[:-1], repeat(gap)))), n]
        for a, b in zip(cuts, cuts[1:]):
            lo, hi = sv[a], se[b - 1]
            pos = lo
            while True:
                m = search(buf, pos, hi)
                if m is None:
                    break
                p, q = m.span()
                if confirm is not None:  # the prefilter's match at p: re6's at p - at, if it matches there
                    p -= at
                    t = confirm(buf, p, hi) if p >= lo else None
                    if t is None:
                        pos = q
                        continue
                    k = bisect_right(se, p, a, b)
                    if k < b and sv[k] <= p and t.end() <= se[k]:  # re6's whole match inside one value: decided here
                        if (p == sv[k] or buf[p - 1] not in _HEXCOLON) and mention6(bytes(buf[p : t.end()])):
                            hit[k] = 2
                            pos = se[k]
                        else:  # (as ``mentions`` decides it) not a mention: the search goes on past the prefilter's match
                            pos = q
                        continue
                k = bisect_right(se, p, a, b)  # the first value ending after the match starts ...
                if inside is not None and k < b and pos <= sv[k] <= p and q < se[k] and not hit[k] and (
                        sure(buf, p - 1, se[k]) is not None if sure is not None and p > sv[k]
                        else inside(buf, p, q, sv[k], se[k])):  # (``sure``: the same answer in one match)
                    hit[k] = 2
                    pos = se[k]
                    continue
                while k < b and sv[k] < q:  # ... and each one after it that starts before the match ends
                    hit[k] = hit[k] or 1
                    q = max(q, se[k])
                    k += 1
                pos = q
        return hit

    def candidate(self, data) -> bool:
        """candidate tells whether ``data`` holds anything ``mentions`` would look at (False: it mentions none)."""
        return bool(self.re4 is not None and self.re4.search(data)
                    or self.re6 is not None and (self.pre6 or self.re6).search(data))

    def _inside4(self, data, start: int, end: int, first: int, stop: int) -> bool:
        """_inside4 tells whether ``re4``'s match ``data[start:end]``, in the value ``data[first:stop]``, is an address
        inside one of the networks: not part of a longer run of digits and dots, each part a byte."""
        if start > first and data[start - 1] in b"0123456789." or end < stop and data[end] in b"0123456789":
            return False
        a, b, c, d = map(int, bytes(data[start:end]).split(b"."))  # (four parts: every match of re4 has)
        if a > 255 or b > 255 or c > 255 or d > 255:
            return False
        x = a << 24 | b << 16 | c << 8 | d
        i = bisect_right(self.v4_lows, x) - 1  # the last range starting at or below x
        return i >= 0 and x <= self.v4_highs[i]

    def mentions(self, value) -> bool:
        """mentions tells whether ``value`` holds an address inside one of the networks."""
        if self.re4 is not None:
            inside = self._inside4
            size = len(value)
            for m in self.re4.finditer(value):
                if inside(value, *m.span(), 0, size):
                    return True
        if self.re6 is not None and (self.pre6 is None or self.pre6.search(value)):
            for m in self.re6.finditer(value):
                start = m.start()
                if start and value[start - 1] in b"0123456789abcdefABCDEF:":
                    continue
                if self._mention6(bytes(value[start : m.end()])):
                    return True
        return False

    def _mention6(self, token: bytes) -> bool:
        """_mention6 tells whether ``token`` (a match of ``re6``) is an IPv6 address inside one of the networks.

        Answers are kept (a cluster's few thousand addresses recur in many values), up to ``V6_KEPT`` of them.
        """
        known = self._seen6.get(token)
        if known is None:
            x = _v6_int(token)
            known = x is not None and any(lo <= x <= hi for lo, hi in self.v6_ranges)
            if len(self._seen6) >= V6_KEPT:
                self._seen6.clear()
            self._seen6[token] = known
        return known
