"""make bench: time snaprewrite against etcd's own tools on a representative snapshot, with peak memory.

Each command runs once to warm the page cache (dropping it needs privileges this script does not
assume), then RUNS more times; the median wall clock and the largest peak RSS of the process tree
(``os.wait4`` ``ru_maxrss``: the child and the descendants it waited for) are reported, with the
machine's load average (``os.getloadavg``) before each timed run. Output goes to /dev/null. The snapshot
is built once by build_snapshot.py and cached outside the repository.

Usage: python bench/run.py --cache ~/.cache/snaprewrite-bench [--size 1.3g] [--runs 3] [--results FILE]
"""

import argparse
import compileall
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import build_snapshot

import snaprewrite
from snaprewrite.rehearsal.binaries import find_etcd

RSS_LIMIT_MIB = 300.0


@dataclass
class Result:
    """One measured command: its name, wall seconds and peak RSS, or why it has none."""

    name: str
    argv: list[str]
    seconds: float | None = None
    rss_mib: float | None = None
    runs: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    exit_code: int | None = None
    note: str = ""
    ratios: dict[str, float] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)


def measure(argv: list[str], cwd: Path | None = None) -> tuple[float, float, int, str]:
    """measure runs argv once with output to /dev/null and returns (seconds, peak RSS MiB, exit code, stderr tail)."""
    err_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"snaprewrite-bench-{os.getpid()}.err"
    with open(os.devnull, "wb") as null, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=null, stderr=err, cwd=cwd)
        _, status, rusage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = err_path.read_text(errors="replace").strip().splitlines()
    err_path.unlink(missing_ok=True)
    return seconds, rusage.ru_maxrss / 1024.0, proc.returncode, lines[-1][:160] if lines else ""


def available(snaprewrite: Path, sub: str) -> bool:
    """available tells whether `snaprewrite SUB --help` works (the command exists and imports)."""
    try:
        out = subprocess.run([str(snaprewrite), sub, "--help"], check=False, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0


def run_case(name: str, argv: list[str], prepare=None, runs: int = 3) -> Result:
    """run_case warms with one untimed run, then times runs more; prepare() runs before each (clears outputs)."""
    res = Result(name=name, argv=[str(a) for a in argv])
    rss_max = 0.0
    for i in range(runs + 1):
        if prepare is not None:
            prepare()
        load = os.getloadavg()[0]
        seconds, rss, code, tail = measure(res.argv)
        if code != 0:
            res.exit_code, res.note = code, f"failed (exit {code}): {tail}"
            print(f"  {name}: {res.note}", flush=True)
            return res
        if i > 0:
            res.runs.append(round(seconds, 3))
            res.load.append(round(load, 2))
            rss_max = max(rss_max, rss)
    res.seconds, res.rss_mib, res.exit_code = statistics.median(res.runs), rss_max, 0
    print(f"  {name}: {res.seconds:.2f}s (runs {', '.join(f'{r:.2f}' for r in res.runs)}; load "
          f"{', '.join(f'{x:.1f}' for x in res.load)}), {rss_max:.0f} MiB", flush=True)
    return res


def fresh(*paths: Path):
    """fresh returns a prepare() that removes the given files or directories."""
    def prepare() -> None:
        for p in paths:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
    return prepare


def ratio(a: Result | None, b: Result | None) -> float | None:
    """ratio is a's time over b's time, when both were measured (--only may have left one out)."""
    if a is None or b is None or a.seconds is None or b.seconds is None or b.seconds == 0:
        return None
    return a.seconds / b.seconds


def judge(results: dict[str, Result]) -> None:
    """judge fills in the ratios against the references and the verdict on each target."""
    def mark(res: Result, text: str, ok: bool | None) -> None:
        res.targets.append(f"{text}: {'n/a' if ok is None else 'ok' if ok else 'MISSED'}")

    status, ref = results.get("snaprewrite status"), results.get("etcdutl snapshot status")
    if status and ref:
        r = ratio(status, ref)
        if r is not None:
            status.ratios["vs etcdutl status"] = r
        mark(status, "<= 1.5x etcdutl status", None if r is None else r <= 1.5)
    rewrite = results.get("snaprewrite rewrite")
    floor, restore = results.get("floor: cp + sha256sum"), results.get("etcdutl snapshot restore")
    if rewrite:
        rf, rr = ratio(rewrite, floor), ratio(rewrite, restore)
        if rf is not None:
            rewrite.ratios["vs floor"] = rf
        if rr is not None:
            rewrite.ratios["vs etcdutl restore"] = rr
        mark(rewrite, "<= 2x floor", None if rf is None else rf <= 2.0)
        mark(rewrite, "faster than etcdutl restore", None if rr is None else rr < 1.0)
    for name, res in results.items():
        if name.startswith("snaprewrite"):
            mark(res, f"RSS < {RSS_LIMIT_MIB:.0f} MiB", None if res.rss_mib is None else res.rss_mib < RSS_LIMIT_MIB)


def table(results: dict[str, Result]) -> str:
    """table renders the results as fixed-width text."""
    rows = [("command", "median s", "peak RSS MiB", "load", "ratio", "targets")]
    for res in results.values():
        secs = f"{res.seconds:.2f}" if res.seconds is not None else (res.note or "-")
        rss = f"{res.rss_mib:.0f}" if res.rss_mib is not None else "-"
        load = "/".join(f"{x:.1f}" for x in res.load) or "-"
        rat = ", ".join(f"{v:.2f}x {k}" for k, v in res.ratios.items()) or "-"
        rows.append((res.name, secs, rss, load, rat, "; ".join(res.targets) or "-"))
    widths = [min(max(len(r[i]) for r in rows), 60) for i in range(5)]
    out = []
    for r in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5])
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """main builds the snapshot if needed, measures every command and writes the results JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "snaprewrite-bench")
    ap.add_argument("--results", type=Path, default=None, help="default: bench/results-<size>.json")
    ap.add_argument("--rebuild", action="store_true", help="build the snapshot again even if cached")
    ap.add_argument("--size", default="1.3g", help="snapshot size: 1.3g (default) or e.g. 8g")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per command (the median is reported)")
    ap.add_argument("--only", action="append", default=[], help="run only cases whose name contains this")
    ap.add_argument("--service-cidr", action="append", default=[], help="OLD=NEW (default: both families)")
    ap.add_argument("--pod-cidr", action="append", default=[], help="OLD=NEW (default: both families)")
    args = ap.parse_args(argv)

    snap, meta = build_snapshot.ensure(args.cache, args.size, rebuild=args.rebuild)
    # time what an installed package runs, its modules compiled: under PYTHONDONTWRITEBYTECODE=1 every
    # timed run would compile each module changed since its last .pyc again (~0.1-0.3 s of every command)
    compileall.compile_dir(str(Path(snaprewrite.__file__).parent), quiet=1)
    tools = find_etcd("3.5")
    exe = Path(sys.executable).parent / "snaprewrite"
    scratch = args.cache / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    copy, data_dir, out = scratch / "copy.db", scratch / "restored", scratch / "rewritten.db"
    report_path = scratch / "report.json"
    size = snap.stat().st_size
    print(f"snapshot {snap}: {size / 1e9:.2f} GB, {meta.get('records', '?')} records in bucket key, "
          f"{meta.get('services', '?')} services ({meta.get('dual_stack_services', '?')} dual-stack), "
          f"{meta.get('nodes', '?')} nodes, {meta.get('ipaddresses', '?')} IPAddresses", flush=True)
    print(f"each command runs once to warm the page cache, then {args.runs} timed runs (median); "
          f"load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} cpus", flush=True)

    mapping = []
    for cidr in args.service_cidr or meta.get("service_cidrs", []):
        mapping += ["--service-cidr", cidr]
    for cidr in args.pod_cidr or meta.get("pod_cidrs", []):
        mapping += ["--pod-cidr", cidr]
    subs = ("status", "ls", "get", "rewrite", "verify", "check", "doctor")
    can = {sub: exe.exists() and available(exe, sub) for sub in subs}
    cases = [
        ("snaprewrite --help", [exe, "--help"], None, None),
        ("etcdutl snapshot status", [tools.etcdutl, "snapshot", "status", snap, "-w", "json"], None, None),
        ("snaprewrite status", [exe, "status", snap, "--output", "json"], None, "status"),
        ("snaprewrite ls /registry/services/", [exe, "ls", snap, "/registry/services/"], None, "ls"),
        ("snaprewrite get kubernetes svc",
         [exe, "get", snap, "/registry/services/specs/default/kubernetes"], None, "get"),
        ("floor: cp + sha256sum", ["sh", "-c", 'cp "$1" "$2" && sha256sum "$2"', "sh", snap, copy],
         fresh(copy), None),
        ("etcdutl snapshot restore", [tools.etcdutl, "snapshot", "restore", snap, "--data-dir", data_dir],
         fresh(data_dir), None),
        ("snaprewrite rewrite", [exe, "rewrite", snap, "--out", out, *mapping, "--report", report_path],
         fresh(out, report_path), "rewrite"),
        ("snaprewrite verify", [exe, "verify", snap, out, "--report", report_path], None, "verify"),
        ("snaprewrite check", [exe, "check", out], None, "check"),
        ("snaprewrite doctor", [exe, "doctor", snap], None, "doctor"),
    ]
    results: dict[str, Result] = {}
    for name, cmd, prepare, sub in cases:
        if args.only and not any(o in name for o in args.only):
            continue
        if sub is not None and not can[sub]:
            results[name] = Result(name, [str(c) for c in cmd], note="not available")
            print(f"  {name}: not available", flush=True)
            continue
        if name in ("snaprewrite check", "snaprewrite verify") and not out.exists():
            results[name] = Result(name, [str(c) for c in cmd], note="not available (no rewritten snapshot)")
            print(f"  {name}: not available (no rewritten snapshot)", flush=True)
            continue
        results[name] = run_case(name, cmd, prepare, args.runs)
        if name == "floor: cp + sha256sum":
            fresh(copy)()
        if name == "etcdutl snapshot restore":
            fresh(data_dir)()
    shutil.rmtree(scratch, ignore_errors=True)

    judge(results)
    helps = results.get("snaprewrite --help")
    if helps is not None and helps.seconds is not None:
        helps.targets.append(f"<= 0.15 s: {'ok' if helps.seconds <= 0.15 else 'MISSED'}")
    print()
    print(table(results))
    payload = {
        "snapshot": {"path": str(snap), "bytes": size, **meta},
        "method": (f"median of {args.runs} runs after one that warms the page cache; wall clock; load average "
                   "before each run; peak RSS via os.wait4 ru_maxrss, largest of the runs "
                   "(includes file-backed mmap pages: etcdutl maps the whole db)"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "etcd": tools.version_str,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "results": [asdict(r) for r in results.values()],
    }
    results_path = args.results or HERE / f"results-{args.size}.json"
    results_path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nresults written to {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
