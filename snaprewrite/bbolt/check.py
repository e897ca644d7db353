"""The structural check of a bbolt file, as bbolt's ``tx.Check`` does it, with bounded work on hostile input.

Checked: both meta pages (an invalid one is reported even though the other is used); the freelist
(no page freed twice, free ids inside the file); every page of every bucket tree, nested and inline
buckets included: inside the high-water mark, referenced exactly once, not free, a branch or leaf,
elements inside the page, keys strictly increasing within a page and inside the bounds the parent's
keys give; finally every page below the high-water mark is reachable or free. When no freelist is
synced, unreachable pages are the free ones (what bbolt computes on open), so that last rule holds by
definition.

Every page is entered at most once (a second reference is reported, not followed), so cycles and
shared subtrees cost nothing extra; problem messages are capped. Messages name pages and element
indexes, never key or value bytes.

Speed: one byte per page records reachable and free pages; a page's whole element array is unpacked
in one ``struct`` call; keys are sliced from the mapping as bytes and compared only as the rules need.
A branch's leaf children are checked in runs of up to LEAF_RUN at once (``_sound_leaves``, whole
arrays); a run with anything wrong is walked page by page, which names it: the same problems either way.
Mapped pages are released as the walk goes (``PageFile.touched``), so a big file does not stay resident.

``leaves``: a caller that checks what the leaves hold (``etcd.fsck``: the records) is handed each leaf's
elements as the walk decodes them, so every page is read and decoded once for both checks.
"""

import mmap
from collections.abc import Callable
from itertools import accumulate
from operator import ge, lt

from ..errors import CorruptError, SnapshotError
from . import elements
from . import format as fmt
from .freelist import read_freelist
from .pages import PageFile

MAX_PROBLEMS = 1000
# Pages entered between releases of the mapping (a fault maps a whole large folio around the page it reads).
RELEASE_EVERY = 16
# A branch's leaf children checked at once (``_sound_leaves``), the mapping released after each run: fewer
# whole-array steps per leaf than runs of RELEASE_EVERY (the post-write check of a 1.3 GB rewrite: ~15%
# less CPU), for a few MB more resident (each leaf faults in one fault-around window at most).
LEAF_RUN = 64
STOPPED = "more elements than the file can hold: overlapping elements, check stopped"

_HDR = fmt.PAGE_HEADER.unpack_from
_BUCKET = fmt.BUCKET_HEADER.unpack_from
_HS = fmt.PAGE_HEADER_SIZE

# leaves(bucket, data, ks, vs, ends): the elements of one or more leaves of ``bucket`` (its path as the
# problems name it), element i's key ``data[ks[i]:vs[i]]`` and value ``data[vs[i]:ends[i]]``, in key order.
Leaves = Callable[[str, object, list[int], list[int], list[int]], None]


class _Checker:
    """One run of the check: reachable and free pages (one byte each), the problems found so far."""

    def __init__(self, pf: PageFile, freed: bytearray, max_problems: int, leaves: Leaves | None = None):
        self.pf = pf
        self.leaves = leaves
        self.hwm = pf.meta.pgid
        self.page_size = pf.page_size
        obj = pf.data.obj
        self.data = obj if isinstance(obj, mmap.mmap) else bytes(pf.data)  # slices of it are bytes
        self.length = pf.length
        self.freed = freed
        self.seen = bytearray(self.hwm)
        self.seen[0:2] = b"\x01\x01"[: min(2, self.hwm)]
        self.problems: list[str] = []
        self.dropped = 0
        self.max_problems = max_problems
        # Elements of a sound file occupy distinct bytes (inline buckets' too): more visits than that
        # means elements overlapping on purpose (e.g. inline buckets nested through shared bytes).
        self.budget = pf.length // fmt.LEAF_ELEMENT_SIZE + 1024
        self.stopped = False
        self.entered = 0

    def problem(self, msg: str) -> None:
        """problem records one finding (past the cap only counts it)."""
        if len(self.problems) < self.max_problems:
            self.problems.append(msg)
        else:
            self.dropped += 1

    def mark(self, pgid: int, overflow: int, what: str) -> bool:
        """mark records pages ``pgid .. pgid+overflow`` as reachable; False if one was already (then don't descend)."""
        seen = self.seen
        end = min(pgid + overflow + 1, len(seen))
        if seen.find(1, pgid, end) < 0:
            seen[pgid:end] = b"\x01" * (end - pgid)
            return True
        for p in range(pgid, end):
            if seen[p]:
                self.problem(f"page {p}: multiple references ({what})")
            else:
                seen[p] = 1
        return False

    def walk(self, root: int) -> None:
        """walk checks the root bucket's tree and every bucket nested in it."""
        # A task: (pgid, lo, hi, bucket name, inline image or None, is the bucket's root).
        stack: list[tuple] = [(root, None, None, "<root>", None, True)]
        visit = self.visit
        while stack:
            t = stack.pop()
            if self.budget < 0:
                self.stopped = True
                return
            try:
                visit(t, stack)
            except CorruptError as e:
                self.problem(str(e) if e.pgid is not None else f"bucket {t[3]}: {e}")

    def visit(self, t: tuple, stack: list[tuple]) -> None:
        """visit checks one page (or inline page image) and pushes its children and sub-buckets."""
        pgid, lo, hi, bucket, inline, is_root = t
        if inline is not None:
            data, off, size = inline, 0, len(inline)
            where = f"bucket {bucket}"
            if size < _HS:
                self.problem(f"{where}: inline page shorter than its header")
                return
            _, flags, count, _ = _HDR(data, 0)
            label = f"{where} inline page"
            if flags != fmt.LEAF_PAGE:
                self.problem(f"{label}: type {flags:#x}, not a leaf")
                return
            pgid = None
        else:
            if pgid < 2:
                self.problem(f"page {pgid}: bucket {bucket} points at a meta page")
                return
            if pgid >= self.hwm:
                self.problem(f"page {pgid}: out of bounds: {self.hwm} (bucket {bucket})")
                return
            data = self.data
            off = pgid * self.page_size
            if off + _HS > self.length:
                raise CorruptError("page past the end of the file", pgid)
            pid, flags, count, overflow = _HDR(data, off)
            if pid != pgid:
                raise CorruptError(f"page header claims id {pid}", pgid)
            if pgid + overflow >= self.hwm:
                self.problem(f"page {pgid}: overflow of {overflow} pages runs past the high-water mark")
                return
            if not self.mark(pgid, overflow, f"bucket {bucket}"):
                return
            if self.freed[pgid]:
                self.problem(f"page {pgid}: reachable freed")
            if flags != fmt.LEAF_PAGE and flags != fmt.BRANCH_PAGE:
                self.problem(f"page {pgid}: invalid type: {fmt.PAGE_TYPES.get(flags, hex(flags))} (bucket {bucket})")
                return
            size = (overflow + 1) * self.page_size
            if off + size > self.length:
                raise CorruptError("page runs past the end of the file", pgid)
            self.entered += 1
            if self.entered % RELEASE_EVERY == 0:
                self.pf.release()
            label = None
        if flags == fmt.BRANCH_PAGE:
            self._branch(data, off, size, count, pgid, lo, hi, bucket, label, stack)
        else:
            self._leaf(data, off, size, count, pgid, lo, hi, bucket, label, inline is not None, is_root, stack)

    def _branch(self, data, off: int, size: int, count: int, pgid: int, lo, hi, bucket: str, label,
                stack: list[tuple]) -> None:
        """_branch checks a branch page's elements and keys and pushes its children (first child on top)."""
        ks, kends, children = elements.branch_spans(data, off, size, count, pgid)
        keys = list(map(data.__getitem__, map(slice, ks, kends)))
        self.budget -= count + 1
        self._check_keys(label or f"page {pgid}", keys, lo, hi)
        done = 0  # children checked at once, in runs of sound leaves
        while done < count:
            end = min(done + LEAF_RUN, count)
            if not self._sound_leaves(children[done:end], keys[done:end], keys[end] if end < count else hi, bucket):
                break
            done = end
        for i in range(count - 1, done - 1, -1):
            stack.append((children[i], keys[i], keys[i + 1] if i + 1 < count else hi, bucket, None, False))

    def _sound_leaves(self, children, keys: list[bytes], hi: bytes | None, bucket: str) -> bool:
        """_sound_leaves checks a run of a branch's children at once when they are all sound leaves (True: done, marked).

        ``keys`` are the branch's keys for these children, ``hi`` the key after the last one's (None: the
        parent's bound, or none). Sound: what ``visit`` and ``_leaf`` would find nothing wrong with, checked
        over whole arrays: real data pages of this file with headers naming them (``PageFile.spans``),
        leaves, none of their pages (overflow included) reached before or free or shared, not empty, every
        element inside its page (``elements.leaf_batch``), no nested bucket, keys non-empty, increasing,
        each child's from its key up to below the next one. False: nothing was marked or counted, and this
        child and those after it are walked one by one as before, which names whatever is wrong. Without
        problems the walk is the same: the children are next on the stack either way. Runs of at most
        LEAF_RUN pages, each run's pages released after it, keep the mapping's resident pages few.
        """
        pf = self.pf
        if min(children) < 2 or max(children) >= self.hwm or len(set(children)) != len(children):
            return False
        seen, freed = self.seen, self.freed
        if any(map(seen.__getitem__, children)) or any(map(freed.__getitem__, children)):
            return False
        located = pf.spans(children, fmt.LEAF_PAGE)
        if located is None:
            return False
        offs, sizes, counts = located
        if not all(counts):
            return False
        ps = self.page_size
        covered = children
        if sizes.count(ps) != len(sizes):  # overflow pages: each reached once too, none free
            covered = [p for pgid, size in zip(children, sizes) for p in range(pgid, pgid + size // ps)]
            if (len(set(covered)) != len(covered) or any(map(seen.__getitem__, covered))
                    or any(map(freed.__getitem__, covered))):
                return False
        total = sum(counts) + len(counts)
        if self.budget - total < 0:  # distinct pages cannot exhaust it: kept so the accounting is the walk's
            return False
        decoded = elements.leaf_batch(self.data, offs, sizes, counts)
        if decoded is None:
            return False
        flags, ks, vs, ends, _firsts = decoded
        if any(flags):
            return False
        found = list(map(self.data.__getitem__, map(slice, ks, vs)))
        if not found[0] or not all(map(lt, found, found[1:])):
            return False
        stops = list(accumulate(counts))
        firsts = [found[stop - n] for stop, n in zip(stops, counts)]
        lasts = [found[stop - 1] for stop in stops]
        if not all(map(ge, firsts, keys)) or not all(map(lt, lasts, keys[1:])) or (hi is not None and lasts[-1] >= hi):
            return False
        for p in covered:
            seen[p] = 1
        self.budget -= total
        self.entered += len(children)
        if self.leaves is not None:
            self.leaves(bucket, self.data, ks, vs, ends)
        pf.release()
        return True

    def _leaf(self, data, off: int, size: int, count: int, pgid: int | None, lo, hi, bucket: str, label,
              inline: bool, is_root: bool, stack: list[tuple]) -> None:
        """_leaf checks a leaf page's elements and keys and pushes the buckets nested in it."""
        flags, ks, vs, ends, _first = elements.leaf_spans(data, off, size, count, pgid)
        keys = list(map(data.__getitem__, map(slice, ks, vs)))
        label = label or f"page {pgid}"
        if not count and not is_root and not inline:
            self.problem(f"{label}: empty leaf page below the root of bucket {bucket}")
        self.budget -= count + 1
        self._check_keys(label, keys, lo, hi)
        if self.leaves is not None:
            self.leaves(bucket, data, ks, vs, ends)
        if not any(flags):
            return
        for n in range(count):
            if not flags[n] & fmt.BUCKET_LEAF_FLAG:
                continue
            key = keys[n]
            name = f"{bucket}/{key.decode('utf-8', 'backslashreplace')}".removeprefix("<root>/")
            v = vs[n]
            vsize = ends[n] - v
            if vsize < fmt.BUCKET_HEADER_SIZE:
                self.problem(f"{label}: element {n}: bucket value too short for a bucket header")
                continue
            root, _seq = _BUCKET(data, v)
            if root == 0:
                image = data[v + fmt.BUCKET_HEADER_SIZE : v + vsize]
                stack.append((0, None, None, name, bytes(image), True))
            else:
                stack.append((root, None, None, name, None, True))

    def _check_keys(self, label: str, keys: list[bytes], lo: bytes | None, hi: bytes | None) -> None:
        """_check_keys checks keys are non-empty, strictly increasing and inside the parent's [lo, hi) bounds."""
        if not keys:
            return
        if (keys[0] and all(map(lt, keys, keys[1:])) and (lo is None or keys[0] >= lo)
                and (hi is None or keys[-1] < hi)):
            return
        prev = None
        for i, k in enumerate(keys):
            if not k:
                self.problem(f"{label}: element {i}: empty key")
            if prev is not None and k <= prev:
                self.problem(f"{label}: element {i}: key not greater than the previous one")
            if i == 0 and lo is not None and k < lo:
                self.problem(f"{label}: element 0: key below the parent's key for this page")
            if hi is not None and k >= hi:
                self.problem(f"{label}: element {i}: key not below the parent's next key")
            prev = k

    def unmarked(self) -> list[int]:
        """unmarked returns the page ids neither reachable nor free, in order."""
        n = self.hwm
        both = (int.from_bytes(self.seen, "little") | int.from_bytes(self.freed, "little")).to_bytes(n, "little")
        out = []
        p = both.find(0)
        while p >= 0:
            out.append(p)
            p = both.find(0, p + 1)
        return out

    def result(self) -> list[str]:
        """result returns the problems, with closing lines counting those past the cap and telling of a stop."""
        out = list(self.problems)
        if self.dropped:
            out.append(f"{self.dropped} more problems not shown")
        if self.stopped:
            out.append(STOPPED)
        return out


def check(pf: PageFile, max_problems: int = MAX_PROBLEMS, leaves: Leaves | None = None) -> list[str]:
    """check returns the structural problems of the file as bbolt's tx.Check finds them (empty list: healthy).

    ``leaves`` (see ``Leaves``) is called with the elements of every leaf page the walk enters, each
    once, the leaves of a bucket in key order (inline pages too); on a file without problems that is
    every leaf of every bucket.
    """
    problems: list[str] = [f"meta: {e}" for e in pf.meta_errors]
    meta = pf.meta
    freed = bytearray(meta.pgid)
    freed_outside: set[int] = set()  # listed ids past the high-water mark (reported, remembered for repeats)
    freelist_ok = True
    if meta.has_freelist:
        try:
            ids = read_freelist(pf)
        except SnapshotError as e:
            problems.append(f"freelist: {e}")
            ids, freelist_ok = [], False
        for p in ids:
            if freed[p] if p < meta.pgid else p in freed_outside:
                problems.append(f"page {p}: already freed")
            elif p < 2 or p >= meta.pgid:
                problems.append(f"page {p}: free page out of bounds: {meta.pgid}")
            if p < meta.pgid:
                freed[p] = 1
            else:
                freed_outside.add(p)
            if len(problems) > max_problems:
                break
    c = _Checker(pf, freed, max_problems, leaves)
    c.problems = problems[:max_problems]
    if meta.has_freelist and freelist_ok:
        try:
            h = pf.header(meta.freelist)
            c.mark(meta.freelist, h.overflow, "freelist")
        except CorruptError as e:
            c.problem(str(e))
    if not 2 <= meta.root < meta.pgid:
        c.problem(f"page {meta.root}: root bucket page out of bounds: {meta.pgid}")
    else:
        c.walk(meta.root)
    pf.release()
    if meta.has_freelist and not c.stopped:  # a stopped walk has not seen every reachable page
        lost = c.unmarked()
        for i, p in enumerate(lost):
            if len(c.problems) >= max_problems:
                c.dropped += len(lost) - i
                break
            c.problem(f"page {p}: unreachable unfreed")
    return c.result()


def reachable_pages(pf: PageFile) -> set[int]:
    """reachable_pages returns every page id the chosen meta reaches (metas, freelist, trees); raises on a broken graph."""
    c = _reach(pf)
    return {p for p, v in enumerate(c.seen) if v}


def _reach(pf: PageFile) -> _Checker:
    """_reach walks the chosen meta's trees with nothing free; raises CorruptError on the first problem."""
    c = _Checker(pf, bytearray(pf.meta.pgid), 1)
    if pf.meta.has_freelist:
        c.mark(pf.meta.freelist, pf.header(pf.meta.freelist).overflow, "freelist")
    if not 2 <= pf.meta.root < pf.meta.pgid:
        raise CorruptError("root bucket page out of bounds", pf.meta.root)
    c.walk(pf.meta.root)
    pf.release()
    if c.problems or c.stopped:
        raise CorruptError(c.problems[0] if c.problems else STOPPED)
    return c


def unreachable_pages(pf: PageFile) -> list[int]:
    """unreachable_pages returns the page ids below the high-water mark that nothing reaches (bbolt's free pages on open)."""
    return [p for p in _reach(pf).unmarked() if p >= 2]
