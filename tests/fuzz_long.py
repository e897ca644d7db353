#!/usr/bin/env python3
"""``make fuzz``: a longer randomized fuzzing run of every command over mutated snapshots.

Usage: tests/fuzz_long.py --seconds N [--jobs J] [--seed S] [--seeds tiny35,k8s35,...] [--corpus DIR]

Each worker draws random mutations (the op vocabulary of tests/fuzz/fuzzlib.py) of the fixture
snapshots and the real one, runs every command in-process (every 25th input also as a real
subprocess, memory-limited), and checks the CLI contract. A failing input is shrunk (ops dropped while
the same failure remains) and saved as <corpus>/<sha>.db + .txt, which tests/fuzz/test_corpus.py
replays. Exit status: 0 when nothing failed, 1 otherwise. Prints inputs tried and distinct failures.
"""

import argparse
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))

import fuzzlib as F

KINDS = ["flip", "set", "value", "object", "object", "swap", "copy", "header", "elem", "elem", "meta", "truncate"]


def random_op(rng: random.Random, lay: F.Layout) -> tuple:
    """random_op draws one mutation op aimed at the seed's layout."""
    k = rng.choice(KINDS)
    n = len(lay.data)
    some_page = rng.randrange(lay.npages + 3)
    if k == "flip":
        return (k, rng.randrange(n), rng.randrange(8))
    if k == "set":
        return (k, rng.randrange(n), rng.choice([0, 0xFF, 0x7F, 0x80, 0x0A, 0x12, rng.randrange(256)]))
    if k == "value":
        return (k, rng.randrange(1 << 20), rng.randrange(1 << 20), rng.randrange(1, 256))
    if k == "object":
        return (k, rng.randrange(1 << 20), rng.randrange(1 << 20), rng.choice([0x01, 0x80, 0xFF, 0x07, rng.randrange(1, 256)]))
    if k in ("swap", "copy"):
        return (k, rng.randrange(lay.npages), rng.randrange(lay.npages))
    if k == "header":
        return (k, rng.randrange(1 << 16), rng.choice(sorted(F.HEADER_FIELDS)),
                rng.choice(F.EXTREMES64 + (some_page, rng.randrange(64))))
    if k == "elem":
        return (k, rng.randrange(1 << 16), rng.randrange(1 << 16),
                rng.choice(["flags", "pos", "ksize", "vsize", "pgid"]),
                rng.choice(F.EXTREMES32 + (some_page, rng.randrange(64), rng.randrange(1 << 16))))
    if k == "meta":
        return (k, rng.randrange(2), rng.choice(sorted(F.META_FIELDS)),
                rng.choice(F.EXTREMES64 + (some_page, rng.randrange(1 << 16))), rng.random() < 0.7)
    return (k, rng.randrange(n))


def random_mutation(rng: random.Random, seeds: list[str]) -> F.Mutation:
    """random_mutation draws a seed, 1-4 ops, a trailer policy and rarely a cut of the final file."""
    name = rng.choice(seeds)
    lay = F.layout(F.SEEDS[name])
    ops = tuple(random_op(rng, lay) for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])))
    trailer = rng.choice(["fix", "fix", "fix", "keep", "none"])
    cut = rng.randrange(len(lay.data) + 33) if rng.random() < 0.05 else None
    return F.Mutation(name, ops, trailer, cut)


def signature(failures) -> tuple:
    """signature names a failure by command and the start of its reason (page numbers dropped)."""
    return tuple(sorted({(a[0] if a[0] != "subprocess" else a[1], "".join(c for c in why[:60] if not c.isdigit()))
                         for a, why in failures}))


def shrink(m: F.Mutation, sig: tuple, workdir: Path) -> F.Mutation:
    """shrink drops ops (and the cut) one at a time while the same failure signature remains."""
    changed = True
    while changed:
        changed = False
        candidates = [F.Mutation(m.seed, m.ops[:i] + m.ops[i + 1:], m.trailer, m.cut) for i in range(len(m.ops))
                      if len(m.ops) > 1]
        if m.cut is not None:
            candidates.append(F.Mutation(m.seed, m.ops, m.trailer, None))
        for c in candidates:
            if signature(F.run_all(F.SEEDS[c.seed], F.build(c), workdir)) == sig:
                m, changed = c, True
                break
    return m


def worker(args) -> tuple[int, list[tuple[str, str, str]]]:
    """worker fuzzes until the deadline; returns (inputs tried, [(signature, mutation, failures)])."""
    wid, seed, deadline, seeds, subprocess_every = args
    rng = random.Random(seed)
    found: dict[tuple, tuple[str, str]] = {}
    tried = 0
    with tempfile.TemporaryDirectory(prefix=f"snaprewrite-fuzz{wid}-") as tmp:
        workdir = Path(tmp) / "w"
        while time.monotonic() < deadline:
            m = random_mutation(rng, seeds)
            data = F.build(m)
            tried += 1
            every = 1 if subprocess_every and tried % subprocess_every == 0 else 0
            failures = F.run_all(F.SEEDS[m.seed], data, workdir, every)
            if not failures:
                continue
            sig = signature(failures)
            if sig in found:
                continue
            m = shrink(m, sig, workdir)
            data = F.build(m)
            failures = F.run_all(F.SEEDS[m.seed], data, workdir) or failures
            path = F.save_crasher(m, data, failures, CORPUS)
            found[sig] = (m.describe(), f"{path.name}: " + "; ".join(f"{a[0]}: {w[:200]}" for a, w in failures))
            print(f"[worker {wid}] FAILURE saved to {path}: {found[sig][1]}", flush=True)
    return tried, [(repr(s), d, f) for s, (d, f) in found.items()]


CORPUS = F.CORPUS_DIR


def main() -> int:
    """main parses options, runs the workers and prints the closing numbers."""
    global CORPUS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    ap.add_argument("--seeds", default=",".join(F.SEEDS), help="which seed snapshots to mutate")
    ap.add_argument("--corpus", type=Path, default=F.CORPUS_DIR)
    ap.add_argument("--subprocess-every", type=int, default=25)
    a = ap.parse_args()
    CORPUS = a.corpus
    seeds = [s for s in a.seeds.split(",") if s]
    unknown = [s for s in seeds if s not in F.SEEDS]
    if unknown:
        ap.error(f"unknown seeds {unknown}; known: {sorted(F.SEEDS)}")
    seeds = [s for s in seeds if F.SEEDS[s].path.is_file()] or ap.error("no seed snapshot found")
    base = a.seed if a.seed is not None else int(time.time())
    print(f"fuzzing {a.seconds:.0f} s with {a.jobs} worker(s), seeds {seeds}, random seed {base}", flush=True)
    deadline = time.monotonic() + a.seconds
    jobs = [(i, base + i, deadline, seeds, a.subprocess_every) for i in range(a.jobs)]
    t0 = time.monotonic()
    if a.jobs == 1:
        results = [worker(jobs[0])]
    else:
        with mp.get_context("fork").Pool(a.jobs) as pool:
            results = pool.map(worker, jobs)
    tried = sum(r[0] for r in results)
    failures = {s: (d, f) for r in results for s, d, f in r[1]}
    print(f"inputs tried: {tried} in {time.monotonic() - t0:.0f} s; distinct failures: {len(failures)}")
    for d, f in failures.values():
        print(f"  {f}\n    mutation: {d}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
