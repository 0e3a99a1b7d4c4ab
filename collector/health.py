"""``GET /healthz``: 200 ``{"ok": true}`` once the app is up and its database answers.

The ping runs in the threadpool: a database that is slow to answer must not stall the event
loop, and with it every other request."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from collector.settings import Settings
from collector.store import Store

__all__ = ["routes"]


def routes(settings: Settings, store: Store) -> list[BaseRoute]:
    """The health check route, bound to ``store``."""

    async def healthz(request: Request) -> JSONResponse:
        ok = await run_in_threadpool(store.ping)
        return JSONResponse({"ok": ok}, status_code=200 if ok else 503)

    return [Route("/healthz", healthz, methods=["GET", "HEAD"])]
