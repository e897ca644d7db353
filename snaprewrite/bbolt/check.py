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
"""

from dataclasses import dataclass

from ..errors import CorruptError, SnapshotError
from . import format as fmt
from .freelist import read_freelist
from .pages import PageFile
from .tree import read_branch, read_leaf

MAX_PROBLEMS = 1000
STOPPED = "more elements than the file can hold: overlapping elements, check stopped"


@dataclass
class _Task:
    """A page to visit: its id (0 with ``inline`` for an inline bucket) and the key bounds its parent gives."""

    pgid: int
    lo: bytes | None  # keys must be >= lo
    hi: bytes | None  # keys must be < hi
    bucket: str
    inline: memoryview | None = None
    is_root: bool = False


class _Checker:
    """One run of the check: reachable and free page sets, the problems found so far."""

    def __init__(self, pf: PageFile, freed: set[int], max_problems: int):
        self.pf = pf
        self.hwm = pf.meta.pgid
        self.freed = freed
        self.reachable: set[int] = {0, 1}
        self.problems: list[str] = []
        self.dropped = 0
        self.max_problems = max_problems
        # Elements of a sound file occupy distinct bytes (inline buckets' too): more visits than that
        # means elements overlapping on purpose (e.g. inline buckets nested through shared bytes).
        self.budget = pf.length // fmt.LEAF_ELEMENT_SIZE + 1024
        self.stopped = False

    def problem(self, msg: str) -> None:
        """problem records one finding (past the cap only counts it)."""
        if len(self.problems) < self.max_problems:
            self.problems.append(msg)
        else:
            self.dropped += 1

    def mark(self, pgid: int, overflow: int, what: str) -> bool:
        """mark records pages ``pgid .. pgid+overflow`` as reachable; False if one was already (then don't descend)."""
        ok = True
        for p in range(pgid, pgid + overflow + 1):
            if p in self.reachable:
                self.problem(f"page {p}: multiple references ({what})")
                ok = False
            else:
                self.reachable.add(p)
        return ok

    def walk(self, root: int) -> None:
        """walk checks the root bucket's tree and every bucket nested in it."""
        stack = [_Task(root, None, None, "<root>", is_root=True)]
        while stack:
            t = stack.pop()
            if self.budget < 0:
                self.stopped = True
                return
            try:
                self.visit(t, stack)
            except CorruptError as e:
                self.problem(str(e) if e.pgid is not None else f"bucket {t.bucket}: {e}")

    def visit(self, t: _Task, stack: list[_Task]) -> None:
        """visit checks one page (or inline page image) and pushes its children and sub-buckets."""
        where = f"bucket {t.bucket}"
        if t.inline is not None:
            buf = t.inline
            if len(buf) < fmt.PAGE_HEADER_SIZE:
                self.problem(f"{where}: inline page shorter than its header")
                return
            _, flags, count, _ = fmt.PAGE_HEADER.unpack_from(buf, 0)
            label = f"{where} inline page"
            if flags != fmt.LEAF_PAGE:
                self.problem(f"{label}: type {flags:#x}, not a leaf")
                return
            pgid = None
        else:
            pgid = t.pgid
            label = f"page {pgid}"
            if pgid < 2:
                self.problem(f"{label}: {where} points at a meta page")
                return
            if pgid >= self.hwm:
                self.problem(f"{label}: out of bounds: {self.hwm} ({where})")
                return
            h = self.pf.header(pgid)
            if pgid + h.overflow >= self.hwm:
                self.problem(f"{label}: overflow of {h.overflow} pages runs past the high-water mark")
                return
            if not self.mark(pgid, h.overflow, where):
                return
            if pgid in self.freed:
                self.problem(f"{label}: reachable freed")
            if h.flags not in (fmt.BRANCH_PAGE, fmt.LEAF_PAGE):
                self.problem(f"{label}: invalid type: {fmt.PAGE_TYPES.get(h.flags, hex(h.flags))} ({where})")
                return
            _, buf = self.pf.page(pgid)
            flags, count = h.flags, h.count
        if flags == fmt.BRANCH_PAGE:
            elems = read_branch(buf, count, pgid)
            keys = [bytes(k) for k, _ in elems]
        else:
            items = read_leaf(buf, count, pgid)
            keys = [bytes(it.key) for it in items]
            if not items and not t.is_root and t.inline is None:
                self.problem(f"{label}: empty leaf page below the root of {where}")
        self.budget -= len(keys) + 1  # counted once parsed: a parsed count fits in its page
        self.check_keys(label, keys, t)
        if flags == fmt.BRANCH_PAGE:
            for i in range(len(elems) - 1, -1, -1):
                hi = keys[i + 1] if i + 1 < len(keys) else t.hi
                stack.append(_Task(elems[i][1], keys[i], hi, t.bucket))
            return
        for i, it in enumerate(items):
            if not it.is_bucket:
                continue
            name = f"{t.bucket}/{bytes(it.key).decode('utf-8', 'backslashreplace')}".removeprefix("<root>/")
            if len(it.value) < fmt.BUCKET_HEADER_SIZE:
                self.problem(f"{label}: element {i}: bucket value too short for a bucket header")
                continue
            root, _seq = fmt.BUCKET_HEADER.unpack_from(it.value, 0)
            if root == 0:
                stack.append(_Task(0, None, None, name, inline=it.value[fmt.BUCKET_HEADER_SIZE :], is_root=True))
            else:
                stack.append(_Task(root, None, None, name, is_root=True))

    def check_keys(self, label: str, keys: list[bytes], t: _Task) -> None:
        """check_keys checks keys are non-empty, strictly increasing and inside the parent's [lo, hi) bounds."""
        prev = None
        for i, k in enumerate(keys):
            if not k:
                self.problem(f"{label}: element {i}: empty key")
            if prev is not None and k <= prev:
                self.problem(f"{label}: element {i}: key not greater than the previous one")
            if i == 0 and t.lo is not None and k < t.lo:
                self.problem(f"{label}: element 0: key below the parent's key for this page")
            if t.hi is not None and k >= t.hi:
                self.problem(f"{label}: element {i}: key not below the parent's next key")
            prev = k

    def result(self) -> list[str]:
        """result returns the problems, with closing lines counting those past the cap and telling of a stop."""
        out = list(self.problems)
        if self.dropped:
            out.append(f"{self.dropped} more problems not shown")
        if self.stopped:
            out.append(STOPPED)
        return out


def check(pf: PageFile, max_problems: int = MAX_PROBLEMS) -> list[str]:
    """check returns the structural problems of the file as bbolt's tx.Check finds them (empty list: healthy)."""
    problems: list[str] = [f"meta: {e}" for e in pf.meta_errors]
    meta = pf.meta
    freed: set[int] = set()
    freelist_ok = True
    if meta.has_freelist:
        try:
            ids = read_freelist(pf)
        except SnapshotError as e:
            problems.append(f"freelist: {e}")
            ids, freelist_ok = [], False
        for p in ids:
            if p in freed:
                problems.append(f"page {p}: already freed")
            elif p < 2 or p >= meta.pgid:
                problems.append(f"page {p}: free page out of bounds: {meta.pgid}")
            freed.add(p)
            if len(problems) > max_problems:
                break
    c = _Checker(pf, freed, max_problems)
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
    if meta.has_freelist and not c.stopped:  # a stopped walk has not seen every reachable page
        for p in range(meta.pgid):
            if p not in c.reachable and p not in freed:
                c.problem(f"page {p}: unreachable unfreed")
    return c.result()


def reachable_pages(pf: PageFile) -> set[int]:
    """reachable_pages returns every page id the chosen meta reaches (metas, freelist, trees); raises on a broken graph."""
    c = _Checker(pf, set(), 1)
    if pf.meta.has_freelist:
        c.mark(pf.meta.freelist, pf.header(pf.meta.freelist).overflow, "freelist")
    if not 2 <= pf.meta.root < pf.meta.pgid:
        raise CorruptError("root bucket page out of bounds", pf.meta.root)
    c.walk(pf.meta.root)
    if c.problems or c.stopped:
        raise CorruptError(c.problems[0] if c.problems else STOPPED)
    return c.reachable


def unreachable_pages(pf: PageFile) -> list[int]:
    """unreachable_pages returns the page ids below the high-water mark that nothing reaches (bbolt's free pages on open)."""
    reach = reachable_pages(pf)
    return [p for p in range(2, pf.meta.pgid) if p not in reach]
