"""Fixtures: the collector app on temporary directories, and a tiny in-process ASGI client.

The client drives the app directly (no sockets, no httpx), so these tests stay fast
and need nothing beyond starlette.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

# The collector is run from the repository root, not installed: make it importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from collector import Settings, create_app  # noqa: E402
from tests.pg import Cluster  # noqa: E402


@dataclass
class Reply:
    """One HTTP response as the client saw it."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)

    def decoded(self) -> bytes:
        """The body with any gzip content encoding undone."""
        if self.headers.get("content-encoding") == "gzip":
            return gzip.decompress(self.body)
        return self.body


class Client:
    """Sends one request at a time to an ASGI app and collects the response."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        *,
        chunks: list[bytes] | None = None,
        scheme: str = "http",
        client: tuple[str, int] = ("127.0.0.1", 50000),
    ) -> Reply:
        """One request; ``chunks`` sends the body in pieces (``extra["chunks_read"]`` counts
        the pieces the app asked for); ``extra["headers"]`` keeps repeated headers."""
        path, _, query = path.partition("?")
        given = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        if not any(k == b"host" for k, _ in given):
            given.append((b"host", b"testserver"))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": scheme,
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": given,
            "client": client,
            "server": ("testserver", 80),
        }
        sent: list[dict[str, Any]] = []
        pieces = [body] if chunks is None else chunks
        messages = [
            {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
            for i, piece in enumerate(pieces)
        ]
        read = 0

        async def receive() -> dict[str, Any]:
            nonlocal read
            if messages:
                read += 1
                return messages.pop(0)
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        asyncio.run(self.app(scope, receive, send))
        start = next(m for m in sent if m["type"] == "http.response.start")
        pairs = [(k.decode().lower(), v.decode()) for k, v in start.get("headers", [])]
        content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return Reply(start["status"], dict(pairs), content, {"headers": pairs, "chunks_read": read})

    def post(
        self, path: str, data: Any = None, headers: dict[str, str] | None = None, **kw: Any
    ) -> Reply:
        """POST ``data`` as JSON (bytes are sent as they are) with a JSON content type."""
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        return self.request(
            "POST", path, {"content-type": "application/json", **(headers or {})}, body, **kw
        )

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers)


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    """A small demo site and build: (web_dir, dist_dir)."""
    web = tmp_path / "web"
    dist = tmp_path / "dist"
    (web / "sub").mkdir(parents=True)
    dist.mkdir()
    (web / "index.html").write_text("<!doctype html><title>demo</title>" + "<p>x</p>" * 200)
    (web / "demo.css").write_text("body { margin: 0 }\n")
    (web / "demo.js").write_text("console.log('demo');\n" * 100)
    (web / "sub" / "index.html").write_text("<p>sub</p>")
    (dist / "tracker.js").write_text("window.tracker = function () {};\n" * 100)
    (dist / "runtime.mjs").write_text("export default 1;\n" * 100)
    (dist / "micropython.wasm").write_bytes(b"\0asm\1\0\0\0" + bytes(4096))
    (dist / "tracker.mpy").write_bytes(b"M\6" + bytes(2048))
    (dist / "tracker.bundle").write_bytes(bytes(1024))
    (dist / "python_stdlib.zip").write_bytes(b"PK\3\4" + bytes(2048))
    (dist / "lock.json").write_text(json.dumps({"packages": list(range(300))}))
    return web, dist


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """One throwaway PostgreSQL server for the session (fails, never skips, when missing)."""
    cluster = Cluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database for this test: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "db" / "t.db")
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    return cluster.create_schema()


@pytest.fixture
def make_client(db_url: str, site: tuple[Path, Path]) -> Iterator[Any]:
    """Build a client for an app on ``site`` with optional setting overrides."""
    apps: list[Starlette] = []

    def make(**overrides: Any) -> Client:
        web, dist = site
        options: dict[str, Any] = {
            "db": db_url,
            "web_dir": web,
            "dist_dir": dist,
            "demo_login": True,  # the test site stands for the bundled demo
            "public_reads": True,  # as the bundled demo's reads are
        }
        options.update(overrides)
        app = create_app(Settings(**options), warm_cache=False)
        apps.append(app)
        return Client(app)

    yield make
    for app in apps:
        app.state.store.close()


@pytest.fixture
def client(make_client: Any) -> Client:
    """A client for the app on the default test site."""
    return make_client()
