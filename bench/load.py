"""`python -m bench.load`: ``POST /collect`` throughput and latency on SQLite, PostgreSQL
(both with group commit) and the JetStream log plus ``tracker-loader``.

Starts the real collector under uvicorn (``python -m collector``: one process, then two that
the clients use in turn, a simple round robin) on each path, sends batches of 1 and of 50
tracker-shaped events from concurrent keep-alive clients over loopback, resends some batches
as a tracker retry would, then checks in the database that every event acknowledged is
stored exactly once (on the JetStream path once the loader has caught up). Bounded in events
and time.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import queue
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.nats import NatsCluster
from tests.pg import Cluster

__all__ = ["main"]

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
README = REPO / "README.md"
MARKERS = ("<!-- load:start -->", "<!-- load:end -->")
RETRY_EVERY = 10
"""Every tenth request is sent a second time, as a tracker retrying an unanswered batch."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    p.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients (8)")
    p.add_argument("--events", type=int, default=30_000, help="most events per run (30000)")
    p.add_argument("--seconds", type=float, default=12.0, help="most seconds per run (12)")
    p.add_argument("--batches", default="1,50", help="batch sizes to run (1,50)")
    p.add_argument(
        "--dbs",
        default="sqlite,postgresql,jetstream",
        help="paths to run (jetstream: the log and one loader into SQLite)",
    )
    p.add_argument("--collectors", default="1,2", help="collector processes to run (1,2)")
    p.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    return p.parse_args(argv)


def tracker_event(n: int) -> dict:
    """An event shaped like the tracker's ``track`` (about 600 bytes of JSON)."""
    return {
        "type": "track",
        "messageId": str(uuid.uuid4()),
        "timestamp": 1764670000000 + n,
        "appId": "bench",
        "event": "Product Viewed",
        "properties": {"sku": f"sku-{n % 997}", "price": 19.99, "currency": "EUR"},
        "anonymousId": str(uuid.uuid4()),
        "context": {
            "library": {"name": "tracker", "version": "0.1.0"},
            "page": {
                "url": "https://shop.example/products/42?ref=home",
                "path": "/products/42",
                "referrer": "https://shop.example/",
                "title": "Product 42 - Shop",
            },
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/140.0",
            "session": {"id": str(uuid.uuid4()), "index": 1},
        },
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def collector(db: str, sinks: list[str] | None = None) -> Iterator[int]:
    """The real collector under uvicorn on ``db`` (writing to the JetStream ``sinks`` when
    given); yields its port once healthy."""
    port = free_port()
    command = [sys.executable, "-m", "collector", "--port", str(port), "--db", db]
    for url in sinks or []:
        command += ["--sink", url]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = proc.stdout.read().decode() if proc.stdout else ""
                    raise RuntimeError(f"collector did not start:\n{output}") from None
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@dataclass
class Run:
    """One measured configuration and what the database held afterwards."""

    db: str
    collectors: int
    batch: int
    clients: int
    requests: int
    retried_requests: int
    events_sent: int
    events_acknowledged: int
    seconds: float
    events_per_s: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    stored_of_acknowledged: int
    stored_total: int
    exactly_once: bool


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def drive(ports: list[int], batch: int, clients: int, max_events: int, max_seconds: float) -> dict:
    """Send batches from ``clients`` threads (client ``k`` to ``ports[k % len(ports)]``)
    until the events or the time run out."""
    bodies: queue.Queue[tuple[bytes, list[str], bool]] = queue.Queue()
    for i in range(max_events // batch):
        events = [tracker_event(i * batch + j) for j in range(batch)]
        body = json.dumps(events).encode()
        ids = [e["messageId"] for e in events]
        bodies.put((body, ids, False))
        if i % RETRY_EVERY == RETRY_EVERY - 1:
            bodies.put((body, ids, True))
    latencies: list[float] = []
    sent_ids: set[str] = set()
    acked_ids: set[str] = set()
    counts = {"requests": 0, "retried": 0, "errors": 0}
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = 0.0

    def client(port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        start.wait()
        while time.monotonic() < deadline:
            try:
                body, ids, retry = bodies.get_nowait()
            except queue.Empty:
                break
            began = time.perf_counter()
            try:
                conn.request("POST", "/collect", body, headers)
                reply = conn.getresponse()
                reply.read()
                ok = reply.status == 200
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
            took = (time.perf_counter() - began) * 1000
            with lock:
                latencies.append(took)
                counts["requests"] += 1
                counts["retried"] += retry
                sent_ids.update(ids)
                if ok:
                    acked_ids.update(ids)
                else:
                    counts["errors"] += 1
        conn.close()

    threads = [
        threading.Thread(target=client, args=(ports[k % len(ports)],)) for k in range(clients)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + max_seconds
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    return {
        "latencies": latencies,
        "sent": sent_ids,
        "acked": acked_ids,
        "seconds": seconds,
        **counts,
    }


def stored_counts(db: str, sent: set[str]) -> tuple[int, int, int]:
    """(rows whose messageId is in ``sent``, rows in total, messageIds stored more than once)."""
    query_total = "SELECT count(*), count(DISTINCT message_id) FROM events"
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as conn:
            total, distinct = conn.execute(query_total).fetchone() or (0, 0)
            conn.execute("CREATE TEMP TABLE sent (message_id TEXT PRIMARY KEY)")
            with conn.cursor().copy("COPY sent (message_id) FROM STDIN") as copy:
                for message_id in sent:
                    copy.write_row((message_id,))
            row = conn.execute("SELECT count(*) FROM events JOIN sent USING (message_id)")
            matched = (row.fetchone() or (0,))[0]
    else:
        conn = sqlite3.connect(db)
        try:
            total, distinct = conn.execute(query_total).fetchone()
            conn.execute("CREATE TEMP TABLE sent (message_id TEXT PRIMARY KEY)")
            conn.executemany("INSERT INTO sent VALUES (?)", [(m,) for m in sent])
            matched = conn.execute(
                "SELECT count(*) FROM events JOIN sent USING (message_id)"
            ).fetchone()[0]
        finally:
            conn.close()
    return int(matched), int(total), int(total) - int(distinct)


@contextmanager
def loader(db: str, sinks: list[str]) -> Iterator[None]:
    """One ``tracker-loader`` from the JetStream log into ``db``."""
    command = [sys.executable, "-m", "collector.loader", "--db", db]
    for url in sinks:
        command += ["--sink", url]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def caught_up(db: str, acked: set[str], timeout: float = 120) -> tuple[int, int, int]:
    """``stored_counts`` once every acknowledged event is stored (or the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            counts = stored_counts(db, acked)
        except Exception:
            counts = (0, 0, 0)
        if counts[0] >= len(acked) or time.monotonic() > deadline:
            return counts
        time.sleep(0.5)


def measure(db_kind: str, db: str, batch: int, collectors: int, args: argparse.Namespace) -> Run:
    with contextlib.ExitStack() as stack:
        sinks = None
        if db_kind == "jetstream":
            nats = NatsCluster(1).start()
            stack.callback(nats.stop)
            sinks = nats.urls
        ports = [stack.enter_context(collector(db, sinks)) for _ in range(collectors)]
        if sinks is not None:
            stack.enter_context(loader(db, sinks))
        warm = drive(ports, batch, 2, min(200, args.events), 3.0)  # warm-up
        before = caught_up(db, warm["acked"])[1]
        result = drive(ports, batch, args.clients, args.events, args.seconds)
        if sinks is not None:
            caught_up(db, result["acked"])
    matched, total, duplicates = stored_counts(db, result["acked"])
    acked = len(result["acked"])
    sent = len(result["sent"])
    latencies = result["latencies"]
    return Run(
        db=db_kind,
        collectors=collectors,
        batch=batch,
        clients=args.clients,
        requests=result["requests"],
        retried_requests=result["retried"],
        events_sent=sent,
        events_acknowledged=acked,
        seconds=round(result["seconds"], 2),
        events_per_s=round(acked / result["seconds"], 1),
        requests_per_s=round(result["requests"] / result["seconds"], 1),
        p50_ms=round(statistics.median(latencies), 2) if latencies else float("nan"),
        p99_ms=round(percentile(latencies, 0.99), 2),
        errors=result["errors"],
        stored_of_acknowledged=matched,
        stored_total=total - before,
        # Every acknowledged event is there, nothing is there twice, nothing unsent was added.
        exactly_once=matched == acked and duplicates == 0 and acked <= total - before <= sent,
    )


def markdown(runs: list[Run], meta: dict) -> str:
    lines = [
        f"`POST /collect`, {meta['clients']} keep-alive clients over loopback, one uvicorn "
        f"process per collector (two: the clients take them in turn); sqlite and postgresql "
        f"store directly with group commit, jetstream publishes to one nats-server and one "
        f"tracker-loader stores into SQLite; {meta['machine']}, "
        f"1-minute load average {meta['loadavg_at_start'][0]} at "
        f"start and {meta['loadavg_at_end'][0]} at the end (other work on the machine slows it); "
        f"{meta['date']}, commit {meta['commit']}.",
        "",
        "| path | collectors | batch | requests | events/s | requests/s | p50 ms | p99 ms "
        "| errors | acknowledged → stored once |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in runs:
        check = "yes" if r.exactly_once else "**NO**"
        lines.append(
            f"| {r.db} | {r.collectors} | {r.batch} | {r.requests} ({r.retried_requests} retries) "
            f"| {r.events_per_s:,.0f} | {r.requests_per_s:,.0f} | {r.p50_ms:.1f} "
            f"| {r.p99_ms:.1f} | {r.errors} | {r.events_acknowledged:,} → "
            f"{r.stored_of_acknowledged:,} {check} |"
        )
    return "\n".join(lines) + "\n"


def update_readme(table: str) -> None:
    """Replace the README's collector load table (between the markers) with ``table``."""
    start, end = MARKERS
    text = README.read_text()
    if start not in text or end not in text:
        return
    head, rest = text.split(start, 1)
    README.write_text(f"{head}{start}\n{table}{end}{rest.split(end, 1)[1]}")


def commit() -> str:
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    batches = [int(b) for b in args.batches.split(",")]
    collector_counts = [int(c) for c in args.collectors.split(",")]
    runs: list[Run] = []
    for kind in args.dbs.split(","):
        cluster = Cluster(durable=True).start() if kind == "postgresql" else None
        tmp = tempfile.TemporaryDirectory(prefix="trk-load-")
        try:
            for collectors, batch in [(c, b) for c in collector_counts for b in batches]:
                if cluster is not None:
                    db = cluster.create_database()
                else:
                    db = str(Path(tmp.name) / f"load-{collectors}-{batch}.db")
                run = measure(kind, db, batch, collectors, args)
                runs.append(run)
                print(
                    f"load: {kind} x{collectors} batch {batch}: {run.events_per_s:,.0f} events/s, "
                    f"p50 {run.p50_ms} ms, p99 {run.p99_ms} ms, "
                    f"exactly once: {run.exactly_once}",
                    flush=True,
                )
        finally:
            if cluster is not None:
                cluster.stop()
            tmp.cleanup()
    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "clients": args.clients,
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "loadavg_at_start": load_at_start,
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "limits": {"events": args.events, "seconds": args.seconds},
        "retry_every": RETRY_EVERY,
        "duration_s": round(time.monotonic() - started, 1),
    }
    table = markdown(runs, meta)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load.md").write_text(table)
    doc = {"meta": meta, "runs": [asdict(r) for r in runs]}
    (args.out / "load.json").write_text(json.dumps(doc, indent=1) + "\n")
    if args.out.resolve() == RESULTS.resolve():
        update_readme(table)
    print()
    print(table)
    print(f"load: wrote {args.out / 'load.md'} and load.json in {meta['duration_s']}s")
    return 0 if all(r.exactly_once for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
