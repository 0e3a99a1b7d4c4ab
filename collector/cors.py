"""CORS with credentials for the collector endpoints, by path, for the ``--allow-origin`` origins.

Pages on an allowed origin may send events and call the JSON APIs with cookies
(``credentials: 'include'``); any other origin gets no CORS headers, so its browser
blocks the answer. The collector's own origin is always allowed. ``/dist/`` is not
handled here (it is public, ``*``).
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ALLOW_HEADERS", "ALLOW_METHODS", "CORS_PATHS", "CORS_PREFIXES", "CorsMiddleware"]

CORS_PATHS = ("/collect", "/i")
"""Endpoints answered with CORS."""
CORS_PREFIXES = ("/api/", "/anonymous/")
"""Path prefixes answered with CORS (the JSON APIs, whichever feature adds them)."""

ALLOW_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS = "Content-Type, SP-Anonymous, Authorization"
MAX_AGE = "600"


def covered(path: str) -> bool:
    """Whether ``path`` is one of the collector endpoints that answer CORS."""
    return path in CORS_PATHS or path.startswith(CORS_PREFIXES)


class CorsMiddleware:
    """Adds CORS headers for allowed origins and answers their preflight requests."""

    def __init__(self, app: ASGIApp, allow_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.any_origin = "*" in allow_origins
        self.allow_origins = frozenset(o.rstrip("/") for o in allow_origins if o != "*")

    def allowed(self, origin: str, scope: Scope, headers: Headers) -> bool:
        """An origin given by ``--allow-origin`` (or ``*``), or the collector's own."""
        if origin in self.allow_origins or (self.any_origin and origin != "null"):
            return True
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
        return origin == own

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not covered(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin is not None and self.allowed(origin, scope, headers)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self.preflight(origin if allowed else None)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                reply = MutableHeaders(scope=message)
                reply.add_vary_header("Origin")
                if allowed and origin is not None:
                    reply["access-control-allow-origin"] = origin
                    reply["access-control-allow-credentials"] = "true"
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def preflight(origin: str | None) -> Response:
        """204 with what an allowed origin may send, or 403 without CORS headers."""
        if origin is None:
            response: Response = JSONResponse({"error": "origin not allowed"}, status_code=403)
        else:
            response = Response(
                status_code=204,
                headers={
                    "access-control-allow-origin": origin,
                    "access-control-allow-credentials": "true",
                    "access-control-allow-methods": ALLOW_METHODS,
                    "access-control-allow-headers": ALLOW_HEADERS,
                    "access-control-max-age": MAX_AGE,
                },
            )
        response.headers["vary"] = "Origin"
        return response
