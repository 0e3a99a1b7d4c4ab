"""`python -m bench`: prepare, measure every system interleaved, write and print the report."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench import prepare, report
from bench.measure import CALLS_MAX_MS, TRACK_CALLS, Bench, Sample, settle
from bench.server import BENCH, REPO, BlackholeHandler, Servers
from bench.systems import SYSTEMS, System, select


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--runs", type=int, default=15, help="fresh-context runs per system")
    p.add_argument(
        "--systems", help="comma-separated subset of: " + ", ".join(s.key for s in SYSTEMS)
    )
    p.add_argument("--calls", type=int, default=1000, help="calls per batch for per-call costs")
    p.add_argument("--port", type=int, default=8731, help="bench HTTP server port")
    p.add_argument("--proxy-port", type=int, default=8739, help="blackhole proxy port")
    p.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    p.add_argument("--out", type=Path, default=BENCH / "results", help="output directory")
    p.add_argument("--build", action="store_true", help="rebuild dist/ even if it exists")
    p.add_argument("--no-warmup", action="store_true", help="skip the discarded first round")
    p.add_argument(
        "--max-failures",
        type=int,
        default=2,
        help="drop a system after this many failed runs in a row",
    )
    return p.parse_args(argv)


def commit() -> str:
    """The measured tree: short commit id, with "+dirty" when files differ from it."""

    def git(*args: str) -> str:
        run = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return run.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine(chromium_version: str) -> dict:
    """nproc, CPU model, OS and browser version, for the report header."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "os": platform.platform(terse=True),
        "chromium": f"Chromium {chromium_version}",
        "python": platform.python_version(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def prepare_all(systems: list[System], force_build: bool) -> dict[str, str]:
    """Install and bundle peers, build dist/ if needed; returns {system: why it is n/a}."""
    prepare.install_peers()
    prepare.bundle_peers()
    build_problem = None
    if any(s.needs_dist for s in systems):
        build_problem = prepare.build_dist(force_build)
    skipped = {}
    for s in systems:
        missing = s.missing()
        if missing:
            why = f"not available: {', '.join(missing)} missing"
            if s.needs_dist and build_problem:
                why += f" ({build_problem})"
            skipped[s.key] = why
    return skipped


def run_rounds(
    bench: Bench,
    systems: list[System],
    runs: int,
    warmup: bool,
    max_failures: int,
    skipped: dict[str, str],
) -> list[Sample]:
    """Round-robin over systems (start rotated each round) so noise hits all alike."""
    samples: list[Sample] = []
    streak = {s.key: 0 for s in systems}
    if warmup:  # first loads pay for disk reads and gzip; measure nothing
        for s in systems:
            if s.key not in skipped:
                bench.warm_up(s)
    for r in range(runs):
        t0 = time.monotonic()
        active = [s for s in systems if s.key not in skipped]
        if not active:
            break
        k = r % len(active)
        for s in active[k:] + active[:k]:
            sample = bench.sample(s, r)
            samples.append(sample)
            if sample.error:
                streak[s.key] += 1
                print(f"bench:   {s.key} run {r + 1} failed: {sample.error}", flush=True)
                if streak[s.key] >= max_failures:
                    skipped[s.key] = f"dropped after {streak[s.key]} failed runs: {sample.error}"
            else:
                streak[s.key] = 0
            settle()
        print(f"bench: round {r + 1}/{runs} done in {time.monotonic() - t0:.1f}s", flush=True)
    return samples


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    systems = select(args.systems.split(",") if args.systems else None)
    started = time.monotonic()
    skipped = prepare_all(systems, args.build)
    for key, why in skipped.items():
        print(f"bench: {key}: {why}", flush=True)
    with Servers(port=args.port, proxy_port=args.proxy_port) as servers:
        bench = Bench(args.chromium, servers.origin, servers.proxy_url, calls_n=args.calls)
        try:
            active = [s for s in systems if s.key not in skipped]
            print(
                f"bench: {len(active)} systems × {args.runs} runs on {servers.origin}", flush=True
            )
            samples = run_rounds(
                bench, systems, args.runs, not args.no_warmup, args.max_failures, skipped
            )
            meta = {
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "commit": commit(),
                "machine": machine(bench.version),
                "runs": args.runs,
                "config": {
                    "calls_n": args.calls,
                    "calls_max_ms": CALLS_MAX_MS,
                    "track_calls": TRACK_CALLS,
                    "systems": [s.key for s in systems],
                    "server": "bench/server.py (gzip level 6, same Cache-Control "
                    "and ETag for every system)",
                    "duration_s": None,
                },
            }
        finally:
            bench.close()
    meta["config"]["duration_s"] = round(time.monotonic() - started, 1)
    meta["blocked_by_proxy"] = sorted(set(BlackholeHandler.refused))
    result = report.build(systems, samples, skipped, meta)
    md_path, json_path = report.write(result, samples, args.out)
    print()
    print(md_path.read_text())
    print(f"bench: wrote {md_path} and {json_path} in {meta['config']['duration_s']}s")
    broken = [
        k
        for k, v in result["systems"].items()
        if not v["runs"] and not (v["skipped"] or "").startswith("not available")
    ]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
