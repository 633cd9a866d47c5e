#!/usr/bin/env python3
"""Benchmark a full synth (all stacks) with fast provider imports against stock imports.

    .venv/bin/python scripts/bench_synth.py [--runs 5] [--warmup 1] [--check]

Each run is `python main.py` in a fresh subprocess (the jsii kernel starts anew every time),
with CDKTF_FAST_IMPORTS=1 or 0, writing to its own output folder. Runs are interleaved
(fast, stock, stock, fast, ...) so a busy machine slows both sides alike. Prints both
medians (wall, and CPU of the process tree, which a shared machine distorts less), the ratio,
and the peak resident memory of the whole process tree (Python + the Node jsii kernel,
sampled every 50 ms), then checks that both ways wrote identical JSON.
`--check` exits 1 unless fast median <= 4 s and the speed-up >= 3x (the issue's goal).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")
GOAL_MEDIAN_S = 4.0
GOAL_RATIO = 3.0


def _tree_rss(root_pid: int) -> int:
    """Resident bytes of root_pid and all its descendants (one scan of /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        fields = stat[stat.rindex(b")") + 2:].split()
        parents[int(entry)] = int(fields[1])
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * PAGE
        except OSError:
            pass
    return total


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_synth(fast: bool, outdir: Path) -> tuple[float, int, float]:
    """One synth in a fresh process: (wall seconds, peak tree RSS bytes, CPU seconds of the
    tree: Python and the Node kernel, user + system; on a shared machine, compare this)."""
    env = dict(os.environ)
    env.update(
        CDKTF_FAST_IMPORTS="1" if fast else "0",
        CDKTF_OUTDIR=str(outdir),
        PYTHONDONTWRITEBYTECODE="1",
        PATH=f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{env.get('PATH', '')}",
    )
    peak = 0
    cpu_before = _children_cpu()
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "main.py"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    elapsed = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    done.set()
    sampler.join()
    if process.returncode != 0:
        sys.exit(f"synth ({'fast' if fast else 'stock'}) failed:\n{output.decode(errors='replace')}")
    return elapsed, peak, cpu


def stack_files(outdir: Path) -> dict[str, Path]:
    return {p.relative_to(outdir).as_posix(): p for p in sorted((outdir / "stacks").rglob("*.json"))}


def identical(a: Path, b: Path) -> tuple[bool, int]:
    files_a, files_b = stack_files(a), stack_files(b)
    if files_a.keys() != files_b.keys():
        return False, 0
    same = all(filecmp.cmp(files_a[k], files_b[k], shallow=False) for k in files_a)
    return same, len(files_a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs of each kind (default 5)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unmeasured runs of each kind first (disk cache, jsii package cache)")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 unless fast median <= {GOAL_MEDIAN_S:g} s and ratio >= {GOAL_RATIO:g}x")
    args = parser.parse_args(argv)

    times: dict[str, list[float]] = {"fast": [], "stock": []}
    peaks: dict[str, list[int]] = {"fast": [], "stock": []}
    cpus: dict[str, list[float]] = {"fast": [], "stock": []}
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as tmp:
        tmpdir = Path(tmp)
        print(f"synth benchmark: {args.runs} runs each (+{args.warmup} warm-up), interleaved, "
              f"fresh `python main.py` per run, {os.cpu_count()} CPUs", flush=True)
        for i in range(-args.warmup, args.runs):
            order = ("fast", "stock") if i % 2 == 0 else ("stock", "fast")
            for kind in order:
                outdir = tmpdir / f"{kind}-{i + args.warmup}"
                elapsed, peak, cpu = run_synth(kind == "fast", outdir)
                label = "warm-up" if i < 0 else f"run {i + 1}"
                print(f"  {label:8} {kind:5} {elapsed:6.2f} s  cpu {cpu:6.2f} s  "
                      f"peak {peak / 2**20:5.0f} MiB", flush=True)
                if i >= 0:
                    times[kind].append(elapsed)
                    peaks[kind].append(peak)
                    cpus[kind].append(cpu)
        # Compare the two runs of each round (seconds apart, same sources).
        rounds = [identical(tmpdir / f"fast-{i}", tmpdir / f"stock-{i}")
                  for i in range(args.warmup, args.warmup + args.runs)]
        same = all(ok for ok, _ in rounds)
        count = rounds[0][1]

    fast, stock = statistics.median(times["fast"]), statistics.median(times["stock"])
    ratio = stock / fast
    print()
    for kind, median in (("fast", fast), ("stock", stock)):
        print(f"{kind:5} (CDKTF_FAST_IMPORTS={'1' if kind == 'fast' else '0'}): median {median:5.2f} s "
              f"(min {min(times[kind]):.2f}, max {max(times[kind]):.2f}), "
              f"CPU median {statistics.median(cpus[kind]):.2f} s, "
              f"peak memory {max(peaks[kind]) / 2**20:.0f} MiB (Python + Node kernel)")
    print(f"speed-up: {ratio:.1f}x (CPU: "
          f"{statistics.median(cpus['stock']) / statistics.median(cpus['fast']):.1f}x)")
    print(f"output identical in {sum(ok for ok, _ in rounds)} of {len(rounds)} rounds "
          f"({count} JSON files per round compared byte for byte; a difference while others edit "
          f"lambda/ is the asset hash)")
    if not same:
        return 1
    if args.check and not (fast <= GOAL_MEDIAN_S and ratio >= GOAL_RATIO):
        print(f"goal missed: fast median <= {GOAL_MEDIAN_S:g} s and speed-up >= {GOAL_RATIO:g}x")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
