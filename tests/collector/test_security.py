"""Hardening, tried as an attacker would: reads behind the API key, no IP kept under
``SP-Anonymous``, bounded bodies everywhere, single-use login proofs, one live session per
anonymous id, private files and keys, the Host check, and /healthz off the event loop."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from collector import Settings, create_app, events, stats
from collector.__main__ import main, parse_args
from collector.settings import REPO_ROOT
from collector.store import Store
from tests.collector.test_anonymous import (
    API_KEY,
    SECRET,
    FakeClock,
    assert_error,
    call,
    proof,
    start,
    transfer,
)
from tests.collector.test_stats import batch, event, rows, store_batch
from tests.pg import Cluster

ANON = "4d2c0a37-7b3e-4a8e-9f5e-0c1d2b3a4f56"
IP = "198.51.100.23"


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_SECRET", SECRET)
    monkeypatch.setenv("TRACKER_API_KEY", API_KEY)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(make_client: Any, keys: None, clock: FakeClock) -> Any:
    return make_client(clock=clock, metadata_max_bytes=2048)


# --- 1. reads behind the API key -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/events", "/api/stats", "/api/events?user_id=alice"])
def test_reads_need_the_api_key(make_client: Any, keys: None, path: str) -> None:
    closed = make_client(public_reads=False)
    closed.post("/collect", {"messageId": "m1", "anonymousId": ANON})
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": API_KEY}):
        reply = closed.get(path, headers)
        assert_error(reply, 401)
        assert reply.headers["www-authenticate"].startswith("Bearer")
        assert ANON not in reply.text
    reply = closed.get(path, {"authorization": f"Bearer {API_KEY}"})
    assert reply.status == 200, reply.text
    opened = make_client(public_reads=True)
    assert opened.get(path).status == 200


def test_reads_are_public_only_where_the_demo_login_is(tmp_path: Path) -> None:
    from collector.__main__ import wants_public_reads

    clone = (REPO_ROOT / "build.py").is_file()
    assert wants_public_reads(parse_args([])) is clone
    assert not wants_public_reads(parse_args(["--web", str(tmp_path)]))
    assert not wants_public_reads(parse_args(["--no-demo-login"]))
    assert wants_public_reads(parse_args(["--web", str(tmp_path), "--public-reads"]))
    assert wants_public_reads(parse_args(["--web", str(tmp_path), "--demo-login"]))
    assert not wants_public_reads(parse_args(["--no-public-reads"]))


# --- 3. server anonymisation keeps no IP -----------------------------------------------------


def test_sp_anonymous_keeps_no_ip_anywhere_in_the_row(make_client: Any) -> None:
    client = make_client(public_reads=True)
    sent = {"messageId": "anon-1", "type": "page", "ip": IP, "context": {"ip": IP, "x": 1}}
    reply = client.post("/collect", sent, {"sp-anonymous": "*"})
    assert reply.status == 200
    with client.app.state.store.transaction() as tx:
        row = tx.execute("SELECT * FROM events").fetchone()
    assert row is not None and IP not in json.dumps(list(row))
    assert json.loads(row["body"])["context"] == {"x": 1}
    answer = client.get("/api/events")
    assert IP not in answer.text and answer.json()[0]["ip"] is None
    # not anonymous: context.ip is still what gets recorded
    client.post("/collect", {"messageId": "named-1", "context": {"ip": IP}})
    assert client.get("/api/events").json()[-1]["ip"] == IP


# --- 4. every body is bounded ----------------------------------------------------------------


def test_every_body_is_read_in_chunks_and_refused_past_the_limit(api: Any) -> None:
    token = start(api, user_id=ANON)["session_token"]
    megabyte = b" " * 1_000_000
    for method, path, auth in (
        ("POST", "/anonymous/token", None),
        ("PATCH", "/anonymous/session", token),
        ("POST", "/anonymous/transfer", token),
        ("POST", "/auth/login-proof", API_KEY),
        ("POST", "/demo/login", None),
    ):
        headers = {"content-type": "application/json"}
        if auth:
            headers["authorization"] = f"Bearer {auth}"
        reply = api.request(method, path, headers, chunks=[b"{"] + [megabyte] * 60)
        assert_error(reply, 413)
        assert reply.extra["chunks_read"] <= 2, (path, reply.extra["chunks_read"])


# --- 5. proofs and sessions ------------------------------------------------------------------


def test_a_login_proof_is_single_use(api: Any) -> None:
    one = start(api, user_id=ANON)["session_token"]
    two = start(api, user_id="7c9e6679-7425-40de-944b-e07fc1f90ae7")["session_token"]
    login = proof(api, "alice")
    assert transfer(api, one, login).status == 200
    assert "already used" in assert_error(transfer(api, one, login), 403)
    assert "already used" in assert_error(transfer(api, two, login), 403)
    with api.app.state.store.transaction() as tx:
        links = tx.execute("SELECT anonymous_id FROM identity_links").fetchall()
    assert [r[0] for r in links] == [ANON]
    # a proof refused for another reason is not spent
    bound = proof(api, "alice", anonymous_id="7c9e6679-7425-40de-944b-e07fc1f90ae7")
    assert_error(transfer(api, one, bound), 403)
    assert transfer(api, two, bound).status == 200


def test_a_second_live_session_needs_the_first_ones_token(api: Any, clock: FakeClock) -> None:
    first = start(api, user_id=ANON)
    # someone who only knows the anonymous id cannot open a session of their own for it
    reply = call(api, "POST", "/anonymous/token", {"user_id": ANON})
    assert_error(reply, 401)
    other = start(api, user_id="someone-else")
    reply = call(api, "POST", "/anonymous/token", {"user_id": ANON}, other["session_token"])
    assert_error(reply, 401)
    reply = call(api, "POST", "/anonymous/token", {"user_id": ANON}, first["access_token"])
    assert_error(reply, 401)
    # the holder of the live session may
    reply = call(api, "POST", "/anonymous/token", {"user_id": ANON}, first["session_token"])
    assert reply.status == 200 and reply.json()["session_id"] != first["session_id"]
    # once the sessions are revoked or expired, a new one needs nothing
    for token in (first["session_token"], reply.json()["session_token"]):
        assert call(api, "DELETE", "/anonymous/session", None, token).status == 204
    third = start(api, user_id=ANON)
    clock.now += 7 * 24 * 3600 + 1
    assert start(api, user_id=ANON)["session_id"] != third["session_id"]


# --- 6, 3. forwarded headers, access log, Host check and reads: the real server ---------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(
    port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    data = None if body is None else json.dumps(body)
    conn.request(method, path, data, {"Content-Type": "application/json", **(headers or {})})
    reply = conn.getresponse()
    raw = reply.read()
    conn.close()
    return reply.status, json.loads(raw) if raw[:1] in (b"{", b"[") else raw


def _serve(tmp_path: Path, site: tuple[Path, Path], *flags: str) -> tuple[Any, int]:
    import subprocess
    import sys

    port = _free_port()
    web, dist = site
    command = [sys.executable, "-m", "collector", "--port", str(port)]
    command += ["--db", str(tmp_path / f"{port}.db"), "--web", str(web), "--dist", str(dist)]
    env = {**os.environ, "TRACKER_SECRET": SECRET, "TRACKER_API_KEY": API_KEY}
    proc = subprocess.Popen(
        [*command, *flags],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            if _http(port, "GET", "/healthz")[0] == 200:
                return proc, port
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "collector did not start"
        time.sleep(0.05)


def _stop(proc: Any) -> str:
    proc.terminate()
    output, _ = proc.communicate(timeout=10)
    return str(output)


def _endless_chunked_body(port: int, path: str) -> tuple[int, bytes]:
    """Send a chunked body of up to 100 MB; (bytes sent before the server hung up, answer)."""
    import socket

    with socket.create_connection(("127.0.0.1", port)) as conn:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        conn.sendall(head.encode() + b"Transfer-Encoding: chunked\r\n\r\n")
        chunk, sent = b" " * 1_000_000, 0
        try:
            while sent < 100_000_000:
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except OSError:
            pass
        conn.settimeout(2)
        try:
            return sent, conn.recv(200)
        except OSError:
            return sent, b""


def test_a_collector_of_ones_own_guards_its_reads_proxy_and_host(
    tmp_path: Path, site: tuple[Path, Path]
) -> None:
    proc, port = _serve(tmp_path, site, "--verbose")
    key = {"Authorization": f"Bearer {API_KEY}"}
    try:
        assert _http(port, "GET", "/api/events")[0] == 401
        assert _http(port, "GET", "/api/stats")[0] == 401
        forged = {"X-Forwarded-For": "203.0.113.5"}
        assert _http(port, "POST", "/collect", {"messageId": "xff"}, forged)[0] == 200
        status, found = _http(port, "GET", "/api/events", headers=key)
        assert status == 200 and found[0]["ip"] == "127.0.0.1"
        # DNS rebinding: a page on another name reaching this port is refused
        status, answer = _http(port, "GET", "/api/events", headers={**key, "Host": "evil.test"})
        assert status == 400 and "host" in answer["error"].lower()
        assert _http(port, "GET", "/healthz", headers={"Host": "localhost:1"})[0] == 200
        # an endless body is answered 413 and the connection closed: the rest is never read
        for path in ("/anonymous/token", "/collect"):
            sent, answer = _endless_chunked_body(port, path)
            assert sent < 50_000_000, f"{path} read {sent} bytes"
            assert answer == b"" or answer.startswith(b"HTTP/1.1 413"), answer
    finally:
        output = _stop(proc)
    assert "203.0.113.5" not in output
    proc, port = _serve(tmp_path, site, "--verbose", "--trust-proxy", "--allowed-host", "a.test")
    try:
        sent = {"messageId": "proxied", "context": {"ip": IP}}
        hidden = {"X-Forwarded-For": "203.0.113.77", "SP-Anonymous": "*", "Host": "a.test"}
        assert _http(port, "POST", "/collect", sent, hidden)[0] == 200
        status, found = _http(port, "GET", "/api/events", headers=key)
        assert status == 200 and found[0]["ip"] is None and IP not in json.dumps(found)
        shown = {"X-Forwarded-For": "203.0.113.78"}
        assert _http(port, "POST", "/collect", {"messageId": "p2"}, shown)[0] == 200
        assert _http(port, "GET", "/api/events", headers=key)[1][1]["ip"] == "203.0.113.78"
    finally:
        output = _stop(proc)
    assert "POST /collect" in output  # the access log is on (--verbose) ...
    assert "203.0.113.7" not in output  # ... and records no client address
    assert not re.search(r"127\.0\.0\.1:\d+ - ", output)


# --- 7. files and keys -------------------------------------------------------------------------


def test_database_and_wal_files_are_private(tmp_path: Path) -> None:
    db = tmp_path / "private" / "t.db"
    app = create_app(Settings(db=db, web_dir=tmp_path, dist_dir=tmp_path), warm_cache=False)
    try:
        with app.state.store.transaction() as tx:
            tx.execute("INSERT INTO stats_salts (day, salt) VALUES ('2026-01-01', 'x')")
        made = [p for p in db.parent.iterdir() if p.name.startswith("t.db")]
        assert {p.name for p in made} >= {"t.db", "t.db-wal"}
        for path in made:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        app.state.store.close()


@pytest.mark.parametrize("problem", ["others-write", "group-write", "not-mine"])
def test_a_key_file_others_control_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, problem: str
) -> None:
    monkeypatch.delenv("TRACKER_SECRET", raising=False)
    monkeypatch.delenv("TRACKER_API_KEY", raising=False)
    key = tmp_path / ".collector-secret"
    key.write_text("planted-secret-" + "x" * 40 + "\n")
    key.chmod({"others-write": 0o606, "group-write": 0o620, "not-mine": 0o600}[problem])
    if problem == "not-mine":
        if os.geteuid() != 0:
            pytest.skip("changing a file's owner needs root")
        os.chown(key, 65534, 65534)
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("served with a bad key"))
    with pytest.raises(SystemExit) as exited:
        main(["--db", str(tmp_path / "t.db"), "--web", str(tmp_path), "--dist", str(tmp_path)])
    assert str(key) in str(exited.value.code)
    # the collector's own 0600 file is fine
    key.unlink()
    app = create_app(Settings(db=tmp_path / "t.db", web_dir=tmp_path, dist_dir=tmp_path))
    app.state.store.close()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


# --- 8. Host check -----------------------------------------------------------------------------


def test_only_allowed_hosts_are_answered(make_client: Any) -> None:
    client = make_client(allowed_hosts=("127.0.0.1", "localhost"))
    for host in ("127.0.0.1:8000", "localhost", "LOCALHOST:8000"):
        assert client.get("/healthz", {"host": host}).status == 200, host
    for host in ("evil.test", "127.0.0.1.evil.test", ""):
        reply = client.get("/healthz", {"host": host})
        assert_error(reply, 400)
    from collector.__main__ import allowed_hosts

    args = parse_args(["--host", "0.0.0.0", "--allowed-host", "shop.example"])
    assert allowed_hosts(args) == ("0.0.0.0", "localhost", "shop.example")
    assert allowed_hosts(parse_args([])) == ("127.0.0.1", "localhost")


# --- 9. /healthz off the event loop --------------------------------------------------------------


def test_healthz_pings_the_database_in_the_threadpool(client: Any, monkeypatch: Any) -> None:
    seen: list[bool] = []

    def ping() -> bool:
        try:
            asyncio.get_running_loop()
            seen.append(True)
        except RuntimeError:
            seen.append(False)
        return True

    monkeypatch.setattr(client.app.state.store, "ping", ping)
    assert client.get("/healthz").status == 200
    assert seen == [False], "the database ping ran on the event loop"


# --- 10. the pool's size, and a batch that commits after midnight --------------------------------


def test_the_connection_pool_never_passes_its_size(
    pg_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    store = Store(pg_cluster.create_schema())
    real = psycopg.connect
    opened: list[int] = []

    def slow_connect(*args: Any, **kwargs: Any) -> Any:
        opened.append(1)
        time.sleep(0.2)
        return real(*args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", slow_connect)

    def work() -> None:
        with store.transaction() as tx:
            tx.execute("SELECT pg_sleep(0.2)")

    try:
        threads = [threading.Thread(target=work) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert 1 + len(opened) <= 8, f"{1 + len(opened)} connections opened"
    finally:
        store.close()


def test_a_batch_committing_after_midnight_brings_back_no_salt(db_url: str) -> None:
    store = Store(db_url, [*events.TABLES, *stats.TABLES])
    late = dt.datetime(2026, 12, 1, 23, 59, 59, tzinfo=dt.UTC)
    try:
        store_batch(store, batch([event()], ip=None, received_at=late))
        # just after midnight, the numbers are read: the day's salt goes
        stats.day_stats(store, "2026-12-01", today="2026-12-02")
        assert rows(store, "SELECT day FROM stats_salts WHERE day < '2026-12-02'") == []
        # a batch received before midnight commits now, from another visitor
        store_batch(store, batch([event()], ip=None, received_at=late, user_agent="other"))
        assert rows(store, "SELECT day FROM stats_salts WHERE day < '2026-12-02'") == []
        assert rows(store, "SELECT day FROM stats_visitors WHERE day < '2026-12-02'") == []
        got = stats.day_stats(store, "2026-12-01", today="2026-12-02")
        assert (got["events"], got["cookieless_visitors"]) == (2, 2)
    finally:
        store.close()
