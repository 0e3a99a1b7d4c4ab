"""The one HTTP server every benchmarked system is loaded from, plus a blackhole proxy.

All static files get the same treatment whatever system they belong to: gzip
(level 6, when it saves at least 5%), ETag revalidation, and the same
Cache-Control. Tracking endpoints are stubbed so no system waits on a backend.
"""

from __future__ import annotations

import gzip
import json
import mimetypes
import re
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"

# URL prefix -> directory, most specific first; mirrors the collector's layout
# (`web/` at `/`, `dist/` at `/dist/`) and adds the bench's own pages and peers.
MOUNTS: list[tuple[str, Path]] = [
    ("/bench/build/", BENCH / ".build"),
    ("/bench/", BENCH / "pages"),
    ("/peers/", BENCH / "node_modules"),
    ("/dist/", REPO / "dist"),
    ("/", REPO / "web"),
]

# Endpoints the systems send events to; answered at once, bodies discarded.
STUB_PATHS = {"/collect", "/i"}
STUB_PREFIXES = ("/stub/", "/anonymous/")

STATIC_CACHE = "public, max-age=3600"
HTML_CACHE = "no-cache"
GZIP_LEVEL = 6

EXTRA_TYPES = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".py": "text/x-python",
    ".mpy": "application/octet-stream",
    ".zip": "application/zip",
    ".whl": "application/zip",
    ".toml": "application/toml",
    ".map": "application/json",
}

GIF_1X1 = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00"
    b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@dataclass
class _Encoded:
    """A file's bytes as served: identity, plus its gzip form when worth it."""

    raw: bytes
    gz: bytes | None
    etag: str
    ctype: str


@dataclass
class FileCache:
    """Reads and gzips each file once per (path, mtime, size)."""

    entries: dict[tuple[str, int, int], _Encoded] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, path: Path) -> _Encoded:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
        with self.lock:
            hit = self.entries.get(key)
        if hit:
            return hit
        raw = render(path.read_bytes()) if path.suffix == ".html" else path.read_bytes()
        gz = gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0)
        enc = _Encoded(
            raw=raw,
            gz=gz if len(gz) < 0.95 * len(raw) else None,
            etag=f'"{st.st_mtime_ns:x}-{st.st_size:x}"',
            ctype=EXTRA_TYPES.get(path.suffix)
            or mimetypes.guess_type(path.name)[0]
            or "application/octet-stream",
        )
        with self.lock:
            self.entries[key] = enc
        return enc


_DIST_NAME = re.compile(rb"\{\{dist:([^}]+)\}\}")


def render(html: bytes) -> bytes:
    """A page with ``{{dist:NAME}}`` replaced by ``/dist/`` + the hashed name in
    ``dist/manifest.json``, as a server-rendered page writes its tags: the page itself needs
    no script and no request to learn the names."""
    if b"{{dist:" not in html:
        return html
    files = json.loads((REPO / "dist" / "manifest.json").read_text())
    return _DIST_NAME.sub(lambda m: ("/dist/" + files[m.group(1).decode()]).encode(), html)


def resolve(url_path: str) -> Path | None:
    """Map a URL path to a file under one of the mounts, or None."""
    for prefix, root in MOUNTS:
        if url_path.startswith(prefix):
            rel = url_path[len(prefix) :]
            target = (root / rel).resolve()
            if target.is_dir():
                target = target / "index.html"
            if root.resolve() in target.parents and target.is_file():
                return target
            return None
    return None


class BenchHandler(BaseHTTPRequestHandler):
    """Static files with equal gzip/cache headers; stub endpoints answer 204."""

    protocol_version = "HTTP/1.1"
    server_version = "bench"
    cache: FileCache

    def log_message(self, format, *args):  # noqa: A002 - silence access log
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _drain(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    def _is_stub(self, path: str) -> bool:
        return path in STUB_PATHS or path.startswith(STUB_PREFIXES)

    def do_POST(self):
        self._drain()
        path = urlsplit(self.path).path
        if path == "/anonymous/token":
            body = b'{"session_token":"x","access_token":"x","token_type":"Bearer","expires_in":60}'
            self._send(200, body, {"Content-Type": "application/json"})
        else:
            self._send(204 if self._is_stub(path) else 404)

    def do_OPTIONS(self):
        self._send(204, headers={"Access-Control-Allow-Origin": "*"})

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = unquote(urlsplit(self.path).path)
        if path == "/i":
            self._send(200, GIF_1X1, {"Content-Type": "image/gif", "Cache-Control": "no-store"})
            return
        if self._is_stub(path):
            self._send(204)
            return
        file = resolve(path)
        if file is None:
            self._send(404, b"not found", {"Content-Type": "text/plain"})
            return
        enc = self.cache.get(file)
        headers = {
            "Content-Type": enc.ctype,
            "ETag": enc.etag,
            "Cache-Control": HTML_CACHE if enc.ctype == "text/html" else STATIC_CACHE,
            "Vary": "Accept-Encoding",
        }
        if self.headers.get("If-None-Match") == enc.etag:
            self._send(304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
            return
        body = enc.raw
        if enc.gz is not None and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            body = enc.gz
            headers["Content-Encoding"] = "gzip"
        self._send(200, body, headers)


class BlackholeHandler(BaseHTTPRequestHandler):
    """The browser's proxy for every non-loopback request: refuses them all."""

    protocol_version = "HTTP/1.0"
    refused: list[str] = []

    def log_message(self, format, *args):  # noqa: A002
        pass

    def _refuse(self):
        if len(self.refused) < 100:
            self.refused.append(f"{self.command} {self.path}")
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_PUT = do_OPTIONS = do_CONNECT = _refuse


class _QuietServer(ThreadingHTTPServer):
    """A threaded server that ignores clients hanging up (closed browser contexts)."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


PORTS = range(8731, 8740)  # the bench's own port range


def _bind(host: str, port: int, handler, avoid: int | None = None) -> _QuietServer:
    """A server on `port`, or when that is taken on the next free port of PORTS."""
    for candidate in [port, *(p for p in PORTS if p not in (port, avoid))]:
        try:
            return _QuietServer((host, candidate), handler)
        except OSError:
            continue
    raise SystemExit(f"bench: no free port among {port} and {PORTS.start}-{PORTS.stop - 1}")


class Servers:
    """The bench server and the blackhole proxy, run in background threads."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8731, proxy_port: int = 8739):
        handler = type("Handler", (BenchHandler,), {"cache": FileCache()})
        self.http = _bind(host, port, handler, avoid=proxy_port)
        self.proxy = _bind(host, proxy_port, BlackholeHandler)
        self.origin = f"http://{host}:{self.http.server_address[1]}"
        self.proxy_url = f"http://{host}:{self.proxy.server_address[1]}"
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Servers:
        for srv in (self.http, self.proxy):
            t = threading.Thread(target=srv.serve_forever, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def __exit__(self, *exc) -> None:
        for srv in (self.http, self.proxy):
            srv.shutdown()
            srv.server_close()
