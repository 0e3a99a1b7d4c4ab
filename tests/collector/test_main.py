"""``python -m collector``: flag defaults, and one real start under uvicorn."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from collector.__main__ import parse_args
from collector.settings import REPO_ROOT


def test_defaults() -> None:
    args = parse_args([])
    assert (args.host, args.port, args.db) == ("127.0.0.1", 8000, "tracker.db")
    assert args.web == REPO_ROOT / "web"
    assert args.dist == REPO_ROOT / "dist"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serves_under_uvicorn(tmp_path: Path, site: tuple[Path, Path]) -> None:
    port = _free_port()
    web, dist = site
    db = tmp_path / "served.db"
    command = [sys.executable, "-m", "collector", "--port", str(port), "--db", str(db)]
    command += ["--web", str(web), "--dist", str(dist)]
    proc = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as reply:
                    assert json.load(reply) == {"ok": True}
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "collector did not become healthy"
                time.sleep(0.05)
        with urllib.request.urlopen(f"{base}/dist/micropython.wasm", timeout=5) as reply:
            assert reply.headers["content-type"] == "application/wasm"
        _collect_over_http(port)
        assert db.exists()
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=10)
    assert "GET /" not in output, "access log should be off by default"


def test_collector_flags() -> None:
    args = parse_args(
        ["--allow-origin", "https://a.example", "--allow-origin", "https://b.example"]
        + ["--trust-proxy", "--honor-gpc", "--max-body-bytes", "2000", "--max-batch-events", "9"]
        + ["--max-json-depth", "8", "--max-api-limit", "50"]
    )
    assert args.allow_origin == ["https://a.example", "https://b.example"]
    assert (args.trust_proxy, args.honor_gpc) == (True, True)
    assert (args.max_body_bytes, args.max_batch_events) == (2000, 9)
    assert (args.max_json_depth, args.max_api_limit) == (8, 50)
    defaults = parse_args([])
    assert (defaults.allow_origin, defaults.trust_proxy, defaults.honor_gpc) == ([], False, False)


def _collect_over_http(port: int) -> None:
    """A real POST is stored; a 10 MB body is refused before it is sent, with a JSON 413."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    body = json.dumps([{"messageId": "over-http", "type": "page"}])
    conn.request("POST", "/collect", body, {"Content-Type": "application/json"})
    reply = conn.getresponse()
    assert (reply.status, json.load(reply)) == (200, {"received": 1, "stored": 1})
    conn.putrequest("POST", "/collect")
    conn.putheader("Content-Type", "text/plain;charset=UTF-8")
    conn.putheader("Content-Length", str(10_000_000))
    conn.endheaders(b"[" + b" " * 65536)
    reply = conn.getresponse()
    assert reply.status == 413
    assert "limit" in json.load(reply)["error"]
    conn.close()
