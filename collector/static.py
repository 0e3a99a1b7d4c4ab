"""Static files for the demo site and the build: exact content types, validators, caching, gzip.

Compressible files are gzipped once and kept in memory (keyed by mtime and size),
so the multi-megabyte runtime ``.wasm`` files cost one compression per build,
not one per visitor. The build may be loaded by pages of any origin (:data:`CORS_HEADERS`),
and its content-hashed names (:data:`HASHED_NAME`) are cached for a year.
"""

from __future__ import annotations

import errno
import gzip
import os
import re
import stat
import threading
from collections.abc import Iterable
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.datastructures import URL, Headers
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

__all__ = [
    "CONTENT_TYPES",
    "CORS_HEADERS",
    "HASHED_NAME",
    "IMMUTABLE",
    "GzipCache",
    "StaticDir",
    "content_type",
]

CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".wasm": "application/wasm",
    ".mpy": "application/octet-stream",
    ".bundle": "application/octet-stream",
    ".bin": "application/octet-stream",
    ".data": "application/octet-stream",
    ".zip": "application/zip",
    ".whl": "application/zip",
    ".tar": "application/x-tar",
    ".py": "text/x-python; charset=utf-8",
    ".toml": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".ts": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
"""Content type by file suffix; anything else is served as ``application/octet-stream``."""

COMPRESSIBLE = frozenset(
    {
        "text",
        "application/json",
        "application/wasm",
        "application/octet-stream",
        "application/x-tar",
        "image/svg+xml",
    }
)
"""Media types (or top-level types) worth gzipping; zip, wheels and images are already packed."""

GZIP_MIN_SIZE = 512
"""Below this many bytes gzip saves nothing worth a header."""

HASHED_NAME = re.compile(r"(?:^|/)[^/]+\.[0-9a-f]{10}(?:/|\.[^/.]+$)")
"""A path with a content-hashed file (``tracker-mpy.<hash>.zip``) or directory
(``pyodide.<hash>/…``) in it, as ``build.py`` names them: its content never changes."""

IMMUTABLE = "public, max-age=31536000, immutable"
"""Cache-Control for content that never changes under its URL."""

CORS_HEADERS: dict[str, str] = {
    "access-control-allow-origin": "*",
    "cross-origin-resource-policy": "cross-origin",
    "timing-allow-origin": "*",
}
"""Headers that let a page on any origin (also an opaque one: a sandboxed iframe) fetch,
import and time the build's files; they carry no cookies, so ``*`` is safe."""


def content_type(path: str | os.PathLike[str]) -> str:
    """The ``Content-Type`` to send for ``path``, decided by its suffix alone."""
    return CONTENT_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")


def _compressible(media_type: str) -> bool:
    bare = media_type.partition(";")[0].strip()
    return bare in COMPRESSIBLE or bare.partition("/")[0] in COMPRESSIBLE


class GzipCache:
    """Gzipped file bodies kept in memory, recomputed when a file's mtime or size changes."""

    def __init__(self, level: int = 6) -> None:
        self.level = level
        self._entries: dict[str, tuple[int, int, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, path: str, st: os.stat_result) -> bytes:
        """The gzipped body of ``path`` as of ``st`` (blocking: call from a worker thread)."""
        key = (st.st_mtime_ns, st.st_size)
        with self._lock:
            entry = self._entries.get(path)
        if entry is not None and entry[:2] == key:
            return entry[2]
        with open(path, "rb") as f:
            body = gzip.compress(f.read(), compresslevel=self.level, mtime=0)
        with self._lock:
            self._entries[path] = (*key, body)
        return body

    def warm(self, paths: Iterable[str]) -> None:
        """Compress ``paths`` ahead of the first request (run in a background thread)."""
        for path in paths:
            try:
                st = os.stat(path)
                if stat.S_ISREG(st.st_mode) and st.st_size >= GZIP_MIN_SIZE:
                    self.get(path, st)
            except OSError:
                continue


class StaticDir(StaticFiles):
    """Serve one directory (``index.html`` for directories), or a hint when it does not exist.

    ``cache_control`` applies to every file; a request with a ``v=`` query (a
    versioned URL) or, with ``hashed_immutable``, a path matching :data:`HASHED_NAME` is
    marked immutable for a year instead. ``headers`` go on every answer (404s too).
    """

    def __init__(
        self,
        directory: Path,
        *,
        cache_control: str,
        gzip_cache: GzipCache,
        missing_hint: str = "",
        headers: dict[str, str] | None = None,
        hashed_immutable: bool = False,
    ) -> None:
        super().__init__(directory=directory, html=True, check_dir=False, follow_symlink=True)
        self.root = directory
        self.cache_control = cache_control
        self.gzip_cache = gzip_cache
        self.missing_hint = missing_hint
        self.headers = dict(headers or {})
        self.hashed_immutable = hashed_immutable
        self.config_checked = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = self.get_path(scope)
        if scope["method"] == "OPTIONS" and self.headers:
            response: Response = Response(
                status_code=204,
                headers={
                    "allow": "GET, HEAD, OPTIONS",
                    "access-control-allow-methods": "GET, HEAD",
                },
            )
        else:
            response = await self.respond(path, scope)
            if self.hashed_immutable and HASHED_NAME.search(path.replace(os.sep, "/")):
                if response.status_code in (200, 304):
                    response.headers["cache-control"] = IMMUTABLE
        for key, value in self.headers.items():
            response.headers[key] = value
        await response(scope, receive, send)

    async def respond(self, path: str, scope: Scope) -> Response:
        """The response for ``path`` (relative to the directory) and this request."""
        if scope["method"] not in ("GET", "HEAD"):
            return PlainTextResponse("Method Not Allowed", 405, headers={"Allow": "GET, HEAD"})
        if not self.root.is_dir():
            return self.not_found(f"{self.root} does not exist.")
        try:
            full_path, st = await anyio.to_thread.run_sync(self.lookup_path, path)
        except ValueError:  # a NUL byte or the like: no such file
            return self.not_found()
        except OSError as exc:
            if isinstance(exc, PermissionError) or exc.errno == errno.ENAMETOOLONG:
                return self.not_found()
            raise
        if st is not None and stat.S_ISDIR(st.st_mode):
            if not scope["path"].endswith("/"):
                url = URL(scope=scope)
                return RedirectResponse(url.replace(path=url.path + "/"), status_code=307)
            full_path, st = await anyio.to_thread.run_sync(
                self.lookup_path, os.path.join(path, "index.html")
            )
        if st is None or not stat.S_ISREG(st.st_mode):
            return self.not_found()
        return await self.file(str(full_path), st, scope)

    async def file(self, full_path: str, st: os.stat_result, scope: Scope) -> Response:
        """A 200 (gzipped when worthwhile and accepted) or a 304 for the file at ``full_path``."""
        request = Headers(scope=scope)
        media_type = content_type(full_path)
        compressible = _compressible(media_type) and st.st_size >= GZIP_MIN_SIZE
        use_gzip = compressible and "gzip" in request.get("accept-encoding", "")
        etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}{"-gz" if use_gzip else ""}"'
        versioned = any(key == "v" for key, _ in _query_items(scope))
        headers = {
            "etag": etag,
            "last-modified": formatdate(st.st_mtime, usegmt=True),
            "cache-control": IMMUTABLE if versioned else self.cache_control,
        }
        if compressible:
            headers["vary"] = "Accept-Encoding"
        if _not_modified(request, etag, st.st_mtime):
            return Response(status_code=304, headers=headers)
        if use_gzip:
            body = await anyio.to_thread.run_sync(self.gzip_cache.get, full_path, st)
            headers["content-encoding"] = "gzip"
            return Response(body, media_type=media_type, headers=headers)
        return FileResponse(full_path, stat_result=st, media_type=media_type, headers=headers)

    def not_found(self, reason: str = "") -> PlainTextResponse:
        """A plain-text 404 that says why and, for the build directory, how to make it."""
        lines = ["Not Found", reason, self.missing_hint]
        return PlainTextResponse("\n".join(line for line in lines if line) + "\n", 404)


def _query_items(scope: Scope) -> list[tuple[str, str]]:
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"))


def _not_modified(request: Headers, etag: str, mtime: float) -> bool:
    """RFC 9110 conditional GET: ``If-None-Match`` wins; else ``If-Modified-Since``."""
    if_none_match = request.get("if-none-match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or etag in tags
    if_modified_since = request.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError):
            return False
        return int(mtime) <= since
    return False
