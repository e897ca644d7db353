"""Presentation: JSON and rich tables for status, history and rewrite reports; progress bars on a terminal.

Everything the CLI prints goes through here: machine output to stdout, diagnostics to stderr.
Nothing in the library below prints.

No value is ever cut: piped into a file or a log, tables take the width their values need (COLUMNS
does not apply); on a terminal too narrow for a table, its rows print as ``column: value`` lines, and
cells that still do not fit wrap (``overflow="fold"``) instead of ending in "…".
Large values (an allocator bitmap) are summarised in tables and complete in JSON.
"""

import base64
import contextlib
import json
import re
import sys
from collections.abc import Callable, Iterator

from . import jsontext


class _Lazy:
    """A console made on first use (``consoles``): output that needs no rich does not load it."""

    def __init__(self, make: str):
        self.make = make
        self.console = None

    def get(self):
        if self.console is None:
            from . import consoles

            self.console = getattr(consoles, self.make)()
        return self.console

    def __getattr__(self, name):
        return getattr(self.get(), name)


stdout = _Lazy("stdout")
stderr = _Lazy("stderr")


def _console(c):
    """_console is the rich console behind ``stdout``/``stderr`` (a test may have put a console there)."""
    return c.get() if isinstance(c, _Lazy) else c


def Table(*args, **kwargs):  # noqa: N802 - the class it makes (``consoles.Table``)
    from .consoles import Table as WrappingTable

    return WrappingTable(*args, **kwargs)


def __getattr__(name: str):
    if name == "FullConsole":  # tests print through one of their own
        from .consoles import FullConsole

        return FullConsole
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def show_table(t: Table) -> None:
    """show_table prints a table; on a terminal too narrow for its values, as ``column: value`` lines per row."""
    con = _console(stdout)
    if not con.is_terminal or t.__rich_measure__(con, con.options).maximum <= con.width:
        con.print(t)
        return
    if t.title:
        stdout.print(str(t.title), markup=False)
    names = [str(c.header) for c in t.columns]
    cells = [list(c.cells) for c in t.columns]
    for i in range(t.row_count):
        for name, column in zip(names, cells, strict=True):
            stdout.print(f"  {name}: {column[i]}", markup=False)
        stdout.print()


def print_json(data) -> None:
    """print_json writes ``json.dumps(data, indent=2, ensure_ascii=False)``'s text to stdout, a piece at a time.

    Objects with an ``as_json`` method (verify's differences) are converted one at a time as they are
    written, so a long result is never held twice (as objects and as dicts) nor as one string.
    """
    jsontext.write(data, sys.stdout.write, ensure_ascii=False)


def error(message: str) -> None:
    """error prints one line on stderr, prefixed like every snaprewrite diagnostic."""
    line = " ".join(str(message).split())
    sys.stderr.write(f"snaprewrite: error: {line}\n")


def warning(message: str) -> None:
    """warning prints one line on stderr."""
    sys.stderr.write(f"snaprewrite: warning: {message}\n")


@contextlib.contextmanager
def progress(description: str, total: int | None) -> Iterator[Callable[[int], None] | None]:
    """progress yields an advance(n) callback that drives a rich bar on a terminal, or None when piped."""
    if not sys.stderr.isatty():
        yield None
        return
    from . import consoles

    bar = consoles.bar(_console(stderr))
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def status_table(st: dict) -> None:
    """status_table renders ``status`` as tables: the etcdutl columns, then buckets and resources."""
    t = Table(title="snapshot")
    for col in ("hash", "revision", "totalKey", "totalSize", "liveKeys", "compactRevision", "pageSize", "trailer"):
        t.add_column(col, justify="right")
    cells = [f"{st['hash']:08x}", st["revision"], st["totalKey"], st["totalSize"], st["liveKeys"],
             st["compactRevision"], st["pageSize"], st["trailer"]]
    if "hashOk" in st:
        t.add_column("hashOk", justify="right")
        cells.append(st["hashOk"])
    t.add_row(*(str(c) for c in cells))
    show_table(t)
    if "layout" in st:
        lay = st["layout"]
        stdout.print(f"layout: prefix {lay['prefix']} ({lay['source']}), "
                     f"compressed: {lay['compressed'] or 'no'}", markup=False, highlight=False, soft_wrap=True)
    b = Table(title="buckets")
    b.add_column("bucket")
    b.add_column("keys", justify="right")
    for name, n in st["buckets"].items():
        b.add_row(name, str(n))
    show_table(b)
    if st["resources"]:
        r = Table(title="resources (live keys)")
        r.add_column("resource")
        r.add_column("count", justify="right")
        for name, n in st["resources"].items():
            r.add_row(name, str(n))
        show_table(r)
    if st.get("cni"):
        c = Table(title="cni")
        c.add_column("cni")
        c.add_column("pools")
        for found in st["cni"]:
            c.add_row(found["name"], ", ".join(found["pools"]))
        show_table(c)
    if st.get("encrypted"):
        e = Table(title="encrypted at rest (live values)")
        for col in ("provider", "key name", "values"):
            e.add_column(col, justify="right" if col == "values" else "left")
        for row in st["encrypted"]:
            e.add_row(row["provider"], row["keyName"], str(row["values"]))
        show_table(e)


def status_fields(st: dict) -> None:
    """status_fields prints ``"Name" : value`` lines: etcdutl's four (``-w fields``) first, then snaprewrite's."""
    lines = [("Hash", st["hash"]), ("Revision", st["revision"]), ("Keys", st["totalKey"]), ("Size", st["totalSize"]),
             ("Trailer", st["trailer"]), ("PageSize", st["pageSize"]), ("CompactRevision", st["compactRevision"]),
             ("ConsistentIndex", st.get("consistentIndex", 0)), ("LiveKeys", st["liveKeys"])]
    if "hashOk" in st:
        lines.append(("HashOk", st["hashOk"]))
    if "layout" in st:
        lines += [("Prefix", st["layout"]["prefix"]), ("Compressed", st["layout"]["compressed"] or "")]
    lines += [(f"Bucket {name}", n) for name, n in st["buckets"].items()]
    lines += [(f"Resource {name}", n) for name, n in st["resources"].items()]
    lines += [(f"CNI {c['name']}", ",".join(c["pools"])) for c in st.get("cni", [])]
    lines += [(f"Encrypted {e['provider']}/{e['keyName']}", e["values"]) for e in st.get("encrypted", [])]
    sys.stdout.write("".join(f'"{name}" : {_field(v)}\n' for name, v in lines))


def _field(v) -> str:
    """_field spells a value as Go's fmt.Println does: numbers bare, booleans true/false, strings bare."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


def history_table(rows: list[dict]) -> None:
    """history_table renders the records of one key, oldest first."""
    t = Table()
    for col in ("revision", "sub", "type", "createRevision", "modRevision", "version", "lease", "valueSize"):
        t.add_column(col, justify="right")
    for row in rows:
        t.add_row(*(str(row[c]) for c in ("revision", "sub", "type", "createRevision", "modRevision",
                                             "version", "lease", "valueSize")))
    show_table(t)


MAX_ROWS_PER_KIND = 50
LARGE = 256  # characters: a base64 value longer than this is summarised in tables (JSON keeps it whole)
BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def summarise(value, cidr: str | None = None) -> str:
    """summarise shows a table cell: a large base64 value (an allocator bitmap) as its size and popcount.

    ``cidr`` names the range a bitmap indexes (a RangeAllocation's ``range``), when known.
    """
    text = str(value)
    if len(text) <= LARGE or not BASE64.fullmatch(text):
        return text
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return text
    bits = int.from_bytes(raw, "big").bit_count()
    where = f" in {cidr}" if cidr else ""
    return f"bitmap: {bits} addresses allocated{where} ({len(raw)} bytes; whole value in -o json)"


class ChangeTally:
    """What ``rewrite_table`` counts of a report's changes, told one entry at a time (``add``).

    Per kind: its fields, its objects and the positions of the first rows shown; per key, the position of
    its last ``range`` change (a RangeAllocation's, to say what a bitmap indexes). ``rewrite`` tells it each
    entry as it writes the report file (``job.run``'s ``observe``), so the table reads no entry again but
    the rows it shows; without a report file the table counts them itself, through the same ``add``.

    ``ordered``: a kind's objects are counted as the keys that differ from the one before (a report lists its
    entries in key order: no set of every key, ~100 MB at 8 GiB, while the report is written); a key out of
    order makes the tally void (``count`` -1: the table counts again, with sets). Else: a set per kind.
    """

    def __init__(self, ordered: bool = True):
        self.count = 0  # entries told
        self.ordered = ordered
        self.fields: dict[str, int] = {}
        self.objects: dict[str, set[str] | list] = {}  # per kind: its keys, or [objects counted, the last key]
        self.shown: dict[str, list[int]] = {}
        self.ranges: dict[str, int] = {}

    def add(self, i: int, kind: str, key: str, field: str) -> None:
        """add counts entry ``i`` (entries are told in order, from 0)."""
        if self.count < 0:
            return
        self.count += 1
        fields = self.fields
        fields[kind] = fields.get(kind, 0) + 1
        objects = self.objects.get(kind)
        if objects is None:
            objects = self.objects[kind] = set() if not self.ordered else [0, None]
            self.shown[kind] = []
        if not self.ordered:
            objects.add(key)
        elif key != objects[1]:
            if objects[1] is not None and key < objects[1]:
                self.count = -1  # out of key order: counted again by the table
                return
            objects[0] += 1
            objects[1] = key
        rows = self.shown[kind]
        if len(rows) < MAX_ROWS_PER_KIND:
            rows.append(i)
        if field == "range":
            self.ranges[key] = i

    def objects_of(self, kind: str) -> int:
        """objects_of is the number of objects of ``kind`` that change."""
        objects = self.objects[kind]
        return len(objects) if isinstance(objects, set) else objects[0]


def rewrite_table(rep: dict, dry_run: bool, tally: ChangeTally | None = None) -> None:
    """rewrite_table renders a rewrite report: one table per kind (capped), warnings, totals.

    ``tally``: the changes counted as the report was written (used when it counted every entry).
    """
    changes = rep["changes"]
    if tally is None or tally.count != len(changes):  # the entries are counted here, none kept
        tally = ChangeTally(ordered=False)
        for i, c in enumerate(changes):
            tally.add(i, c["kind"], c["key"], c["field"])
    fields = tally.fields
    range_changes: dict[int, dict] = {}

    def ranges_get(key: str) -> dict:
        at = tally.ranges.get(key)
        if at is None:
            return {}
        if at not in range_changes:
            range_changes[at] = changes[at]
        return range_changes[at]

    for kind, at in tally.shown.items():
        rows = [changes[i] for i in at]
        t = Table(title=f"{kind}: {tally.objects_of(kind)} object(s), {fields[kind]} field(s)", title_justify="left")
        for col in ("object", "field", "old", "new"):
            t.add_column(col, overflow="fold")
        for c in rows:
            r = ranges_get(c["key"])
            t.add_row(f"{c['namespace']}/{c['name']}" if c["namespace"] else c["name"], c["field"],
                      summarise(c["old"], r.get("old")), summarise(c["new"], r.get("new")))
        if fields[kind] > MAX_ROWS_PER_KIND:
            t.add_row(f"... {fields[kind] - MAX_ROWS_PER_KIND} more (see --report)", "", "", "")
        show_table(t)
    if rep["warnings"]:
        w = Table(title=f"warnings: {len(rep['warnings'])}", title_justify="left")
        w.add_column("key")
        w.add_column("message")
        for x in rep["warnings"][:MAX_ROWS_PER_KIND]:
            w.add_row(x["key"], shown_warning(x["message"]))
        if len(rep["warnings"]) > MAX_ROWS_PER_KIND:
            w.add_row(f"... {len(rep['warnings']) - MAX_ROWS_PER_KIND} more (see --report)", "")
        show_table(w)
    if rep.get("encrypted"):
        keys: dict[str, int] = {}
        for e in rep["encrypted"]:
            label = f"{e['provider']}/{e['keyName']}"
            keys[label] = keys.get(label, 0) + 1
        stdout.print("encrypted at rest, sealed again with the key each was read with: "
                     + ", ".join(f"{k} {n}" for k, n in keys.items()), markup=False)
    s = rep["summary"]
    totals = ", ".join(f"{k} {v}" for k, v in s.items() if k != "byKind")
    stdout.print(f"{'dry run: ' if dry_run else ''}{totals}")
    for f in rep.get("forced", []):
        stdout.print(f"forced past the {f['rail']} rail: {f['message']}", markup=False)
    if rep.get("doctor") is not None:
        d = rep["doctor"]
        stdout.print(f"doctor on the planned output ({', '.join(d['serviceRanges'])}): {d['errors']} error(s), "
                     f"{d['warnings']} warning(s)", markup=False)
        for f in d["findings"][:MAX_ROWS_PER_KIND]:
            stdout.print(f"  {f['severity']} {f['reason']} {f['key']}: {f['message']}", markup=False)
    if rep.get("runbook"):
        # plain writes: the runbook's commands must reach the terminal byte for byte (no markup, emoji or wrap)
        sys.stdout.write("\nWhat remains, in order (docs/runbook.md explains each step):\n")
        sys.stdout.write("".join(step + "\n" for step in rep["runbook"]))


MAX_WARNING_SHOWN = 600  # characters of a warning's message on screen (a list of 57k keys is 2.8 MB)


def shown_warning(message: str, limit: int = MAX_WARNING_SHOWN) -> str:
    """shown_warning cuts a long warning (a list of keys) for the screen at an item's end, saying how much is left out.

    The report (``--report``) keeps every message whole. A message over ``limit`` keeps its text up
    to the last ``", "`` before the limit (where a listed key ends) and names the rest's length.
    """
    if len(message) <= limit:
        return str(message)
    message = str(message)  # (a long text kept out of memory, ``spill.Text``: made once here)
    cut = message.rfind(", ", 0, limit)
    if cut <= 0:
        return f"{message[:limit]}... ({len(message) - limit} more characters in --report)"
    return f"{message[:cut]}, ... ({message.count(', ', cut)} more listed in --report)"


def _one_line(v: str | None, limit: int | None = 200) -> str:
    """_one_line writes a value on one line: absent as -, what a terminal would not print escaped, long text cut."""
    if v is None:
        return "-"
    text = v if v.isprintable() else json.dumps(v)[1:-1]
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."


def verify_lines(result: dict) -> None:
    """verify_lines prints each differing key with every field's old and new value, then what a report lacks."""
    write = sys.stdout.write
    for d in result["differences"]:
        if not isinstance(d, dict):
            d = d.as_json()
        write(f"{d['how']:8} {_one_line(d['key'], None)}"
              + (f" -> {_one_line(d['newKey'], None)}" if d.get("newKey") else "") + "\n")
        for c in d["changes"]:
            write(f"    {_one_line(c['field'], None)}: {_one_line(c['old'])} -> {_one_line(c['new'])}\n")
    for u in result.get("uncovered", []):
        write(f"NOT AS REPORTED: {u}\n")
    write(f"{len(result['differences'])} key(s) differ\n")


def manifest_edits(edits, written, dry_run: bool) -> None:
    """manifest_edits prints each manifest's unified diff, its notes, and the backups written."""
    for e in edits:
        if e.diff:
            sys.stdout.write(e.diff if e.diff.endswith("\n") else e.diff + "\n")
        for n in e.notes:
            sys.stdout.write(f"# {e.path}: {n}\n")
    for path, backup in written:
        sys.stdout.write(f"wrote {path}" + (f" (backup {backup})" if backup else "") + "\n")
    changed = sum(1 for e in edits if e.changed)
    sys.stdout.write(f"{'dry run: ' if dry_run else ''}{changed} manifest(s) to change, {len(written)} written\n")


def cert_result(res, dry_run: bool) -> None:
    """cert_result prints the SAN diff of a reissued API server certificate and the files written (never key bytes)."""
    p = res.plan
    out = [f"{p.directory}/apiserver.crt ({p.subject}), issuer {p.issuer}", "subjectAltName:"]
    out += p.san_diff
    out += [f"note: {n}" for n in p.notes]
    for path, backup in res.written:
        out.append(f"wrote {path}" + (f" (backup {backup})" if backup else ""))
    key = "a new key" if res.new_key else "the existing key"
    days = p.validity.total_seconds() / 86400
    out.append(f"{'dry run: would reissue' if dry_run else 'reissued'} apiserver.crt for {p.new_ip} (was {p.old_ip}), "
               f"valid {days:g} days from now, {key}, signed by ca.crt")
    sys.stdout.write("".join(line + "\n" for line in out))


def doctor_table(d: dict) -> None:
    """doctor_table renders ``doctor``: the ranges checked against, then one row per finding."""
    stdout.print(f"service ranges: {', '.join(d['serviceRanges']) or '-'}; pod ranges: {', '.join(d['podRanges']) or '-'}",
                 markup=False)
    if d["findings"]:
        t = Table(title=f"findings: {d['errors']} error(s), {d['warnings']} warning(s)", title_justify="left")
        for col in ("severity", "reason", "key", "message"):
            t.add_column(col)
        for f in d["findings"]:
            t.add_row(f["severity"], f["reason"], f["key"], f["message"])
        show_table(t)
    else:
        stdout.print("no findings: the control plane should have nothing to repair")


def rehearsal_table(r: dict) -> None:
    """rehearsal_table renders a rehearsal: timings, what etcd served, what was compared, mismatches."""
    t = Table(title=f"rehearsal of {r['snapshot']} with etcd {r['etcdVersion']}", title_justify="left")
    t.add_column("step")
    t.add_column("result", justify="right")
    rows = [("rewrite", f"{r['rewriteSeconds']:.2f} s" if r["rewritten"] else "-"),
            ("etcd", f"{r['etcdVersion']}" + (f" ({r['etcdChoice']})" if r.get("etcdChoice") else "")),
            ("restore", f"{r['restoreSeconds']:.2f} s"), ("start", f"{r['startSeconds']:.2f} s"),
            ("revision (expected)", f"{r['revision']} ({r['expectedRevision']})"),
            ("keys (expected)", f"{r['keys']} ({r['expectedKeys']})"),
            ("verified", f"{r['verified']}" + (" (all keys)" if r["full"] else f" (planned + sample of every {r['sampleEvery']})")),
            ("mismatches", str(len(r["mismatches"])))]
    for step, value in rows:
        t.add_row(step, value)
    show_table(t)
    if r.get("restoreCommand"):
        stdout.print(f"restored with: {r['restoreCommand']}", markup=False, highlight=False, soft_wrap=True)
    if r["mismatches"]:
        m = Table(title="mismatches", title_justify="left")
        for col in ("key", "what", "expected", "got"):
            m.add_column(col, overflow="fold")
        for x in r["mismatches"][:MAX_ROWS_PER_KIND]:
            m.add_row(x["key"], x["what"], str(x["expected"]), str(x["got"]))
        show_table(m)
    for f in r.get("forced", []):
        stdout.print(f"forced past the {f['rail']} rail: {f['message']}", markup=False)
    if r.get("apiserver"):
        apiserver_table(r["apiserver"])
    stdout.print("ok: etcd served exactly what was planned" + (" and kube-apiserver found nothing" if r.get("apiserver")
                                                                 else "") if r["ok"] else "FAILED: see above")


def apiserver_findings(a: dict) -> str:
    """apiserver_findings sums up what kube-apiserver found, on one line."""
    if not a["started"]:
        return f"did not start ({a['startError']})"
    parts = [f"{n} {reason}" for reason, n in a["eventsByReason"].items()]
    if a["allocatorLog"]:
        parts.append(f"{len(a['allocatorLog'])} allocator log line(s)")
    if a["resources"]["failed"]:
        parts.append(f"{len(a['resources']['failed'])} resource list(s) failed")
    if a["resources"]["undecodable"]:
        parts.append(f"{len(a['resources']['undecodable'])} object(s) unreadable")
    if a["patches"]["failed"]:
        parts.append(f"{len(a['patches']['failed'])} PATCH(es) refused")
    if not a["probe"].get("ok"):
        parts.append("new Service address " + (a["probe"].get("error") or
                                                f"{a['probe'].get('clusterIPs')} outside the range or taken"))
    return ", ".join(parts) or "nothing"


def apiserver_table(a: dict) -> None:
    """apiserver_table renders the ``apiserver`` section of a rehearsal."""
    t = Table(title=f"kube-apiserver on the restored store (service range {','.join(a['serviceCidrs'])}, "
                    f"from the {a['serviceCidrsFrom']})", title_justify="left")
    t.add_column("check")
    t.add_column("result", overflow="fold")
    probe = a["probe"]
    rows = [("network namespace", "private" if a["networkNamespace"] else f"host ({a['networkNamespaceNote']})"),
            ("started", f"{a['startSeconds']:.2f} s" if a["started"] else f"no: {a['startError']}"),
            ("new events", ", ".join(f"{r} x{n}" for r, n in a["eventsByReason"].items()) or "none"),
            ("allocator log lines", str(len(a["allocatorLog"]))),
            ("resources listed", f"{a['resources']['listed']} ({a['resources']['objects']} objects, "
                                 f"{len(a['resources']['failed'])} failed)"),
            ("PATCH of changed objects", f"{a['patches']['accepted']}/{a['patches']['attempted']} accepted, "
                                         f"{len(a['patches']['skipped'])} not served"),
            ("new Service got", ", ".join(probe.get("clusterIPs", [])) or probe.get("error", "-"))]
    for row in rows:
        t.add_row(*row)
    show_table(t)
    for line in a["allocatorLog"][:MAX_ROWS_PER_KIND]:
        stdout.print(f"  {line}")
    for f in (a["resources"]["failed"][:MAX_ROWS_PER_KIND] + a["resources"]["undecodable"][:MAX_ROWS_PER_KIND]
              + a["patches"]["failed"][:MAX_ROWS_PER_KIND]):
        stdout.print(f"  {f.get('resource') or f.get('key')}: {f['status']} {f['error']}")
