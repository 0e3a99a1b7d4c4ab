"""The JetStream path with real servers: ``python -m collector --sink`` in front of real
``nats-server`` processes (one node, and a 3-node cluster losing a node mid-load), and
``python -m collector.loader`` storing the log into SQLite or PostgreSQL, killed and
restarted mid-batch. Every event a collector acknowledged is stored exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.store import Store
from tests.nats import NatsCluster, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def event(n: int = 0) -> dict[str, Any]:
    return {
        "type": "track",
        "messageId": str(uuid.uuid4()),
        "timestamp": 1764670000000,
        "appId": "nats",
        "event": "Clicked",
        "properties": {"n": n},
        "anonymousId": str(uuid.uuid4()),
        "context": {"page": {"url": "https://shop.example/p"}},
    }


class Processes:
    """Collectors and loaders started by a test, killed at its end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []

    def _spawn(self, args: list[str], log: str) -> subprocess.Popen[bytes]:
        out = open(self.tmp / log, "ab")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.Popen([sys.executable, *args], stdout=out, stderr=out, env=env, cwd=ROOT)
        out.close()
        self.procs.append(proc)
        return proc

    def collector(self, nats: NatsCluster, db: str, *flags: str) -> int:
        port = free_port()
        sinks = [a for url in nats.urls for a in ("--sink", url)]
        self._spawn(
            ["-m", "collector", "--host", "127.0.0.1", "--port", str(port), "--db", db]
            + sinks
            + list(flags),
            f"collector-{port}.log",
        )
        wait_for_port(port, 60)
        return port

    def loader(self, nats: NatsCluster, db: str, *flags: str) -> subprocess.Popen[bytes]:
        sinks = [a for url in nats.urls for a in ("--sink", url)]
        return self._spawn(["-m", "collector.loader", "--db", db, *sinks, *flags], "loader.log")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    p = Processes(tmp_path)
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def one_node() -> Iterator[NatsCluster]:
    nats = NatsCluster(1).start()
    try:
        yield nats
    finally:
        nats.stop()


def post(port: int, events: list[dict[str, Any]], timeout: float = 15) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/collect",
        data=json.dumps(events).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, None
    except OSError:
        return 0, None


def deliver(port: int, events: list[dict[str, Any]], patience: float = 60) -> Any:
    """Send like the tracker: retry a 503 or a network error until a 2xx."""
    deadline = time.monotonic() + patience
    while True:
        status, body = post(port, events)
        if 200 <= status <= 299:
            return body
        assert status in (0, 503), status
        assert time.monotonic() < deadline, "the collector never acknowledged"
        time.sleep(0.2)


def stored_ids(db: str) -> list[str]:
    store = Store(db)
    try:
        with store.transaction() as tx:
            return [row[0] for row in tx.execute("SELECT message_id FROM events").fetchall()]
    finally:
        store.close()


def wait_stored(db: str, count: int, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            ids = stored_ids(db)
        except Exception:
            ids = []
        if len(ids) >= count or time.monotonic() > deadline:
            return ids
        time.sleep(0.2)


def test_one_node_stores_every_acknowledged_event_once(
    procs: Processes, one_node: NatsCluster, db_url: str
) -> None:
    port = procs.collector(one_node, db_url)
    procs.loader(one_node, db_url)
    batch = [event(n) for n in range(50)]
    assert deliver(port, batch) == {"received": 50, "stored": 50}
    singles = [event(n) for n in range(20)]
    for single in singles:
        assert deliver(port, [single])["stored"] == 1
    # a resend inside JetStream's window is acknowledged and dropped by the log itself
    assert deliver(port, batch) == {"received": 50, "stored": 0}
    sent = {e["messageId"] for e in batch + singles}
    ids = wait_stored(db_url, len(sent))
    assert sorted(ids) == sorted(sent)
    row = Store(db_url)
    try:
        with row.transaction() as tx:
            got = tx.execute(
                "SELECT ip, received_at FROM events WHERE message_id = ?",
                (singles[0]["messageId"],),
            ).fetchone()
    finally:
        row.close()
    assert got[0] == "127.0.0.1" and got[1].endswith("Z")


def test_duplicates_beyond_the_window_are_stored_once(
    procs: Processes, one_node: NatsCluster, tmp_path: Path
) -> None:
    db = str(tmp_path / "t.db")
    port = procs.collector(one_node, db, "--sink-duplicate-window", "1")
    procs.loader(one_node, db)
    batch = [event(n) for n in range(10)]
    assert deliver(port, batch)["stored"] == 10
    assert deliver(port, batch)["stored"] == 0  # inside the window: JetStream drops it
    # beyond it (JetStream forgets ids a little after the window) the log takes it again;
    # a resend can straddle the expiry and be taken in parts, so count what is taken...
    deadline = time.monotonic() + 20
    taken = 0
    while taken < len(batch):
        assert time.monotonic() < deadline, "JetStream never forgot the ids"
        time.sleep(0.5)
        taken += deliver(port, batch)["stored"]
    wait_stored(db, 10)
    time.sleep(1.5)  # ...and the loader's unique messageId stores it once
    assert sorted(stored_ids(db)) == sorted(e["messageId"] for e in batch)


def test_loader_killed_mid_batch_and_restarted_loses_and_doubles_nothing(
    procs: Processes, one_node: NatsCluster, tmp_path: Path
) -> None:
    db = str(tmp_path / "t.db")
    port = procs.collector(one_node, db)
    sent = []
    for _ in range(40):
        batch = [event(n) for n in range(50)]
        deliver(port, batch)
        sent += [e["messageId"] for e in batch]
    loader = procs.loader(one_node, db, "--batch", "200")
    deadline = time.monotonic() + 60
    while not stored_ids(db) and time.monotonic() < deadline:
        time.sleep(0.02)
    loader.send_signal(signal.SIGKILL)
    loader.wait()
    assert 0 < len(stored_ids(db)) < len(sent), "killed mid-load"
    procs.loader(one_node, db, "--batch", "200")
    ids = wait_stored(db, len(sent))
    assert sorted(ids) == sorted(sent)


def test_cluster_loses_a_node_mid_load_nothing_lost_nothing_twice(
    procs: Processes, tmp_path: Path
) -> None:
    nats = NatsCluster(3).start()
    try:
        db = str(tmp_path / "t.db")
        port = procs.collector(nats, db, "--sink-replicas", "3")
        procs.loader(nats, db)
        acknowledged: list[str] = []
        lock = threading.Lock()
        errors: list[BaseException] = []

        def client(k: int) -> None:
            try:
                for n in range(40):
                    e = event(n)
                    deliver(port, [e], patience=90)
                    with lock:
                        acknowledged.append(e["messageId"])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        while len(acknowledged) < 50 and all(t.is_alive() for t in threads):
            time.sleep(0.02)
        nats.kill_node(0)
        for thread in threads:
            thread.join(180)
        assert not errors, errors
        assert len(acknowledged) == 160
        ids = wait_stored(db, len(acknowledged), timeout=90)
        logs = "".join(p.read_text() for p in tmp_path.glob("*.log"))
        assert sorted(ids) == sorted(acknowledged), logs[-3000:]
    finally:
        nats.stop()
