"""``GET /api/cart``: a resource server that anonymous visitors call with their access token.

It stands for any existing API: it accepts only a valid access token (signature,
``aud``, ``iss``, ``exp``, and a session that was not revoked) and answers the
session's cart, kept in the session's metadata under ``cart``.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from collector import tokens
from collector.anonymous import SessionStore, bearer
from collector.endpoints import ANY_METHOD, Problem, by_method
from collector.settings import Settings
from collector.store import Store

__all__ = ["routes"]


def routes(settings: Settings, store: Store) -> list[BaseRoute]:
    """The cart route, bound to the app's signer and database; a refused token is a
    :class:`Problem` that :func:`by_method` answers as JSON."""
    signer = tokens.signer(settings, store)
    sessions = SessionStore(settings, store)

    async def cart(request: Request) -> Response:
        try:
            claims = signer.verify(bearer(request), tokens.ACCESS)
        except tokens.TokenError as exc:
            raise Problem(
                401,
                f"access token refused: {exc}",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None
        session = await run_in_threadpool(sessions.live, claims, claims["sid"])
        items: Any = session["metadata"].get("cart", [])
        return JSONResponse(
            {
                "user_id": claims["sub"],
                "session_id": session["session_id"],
                "scope": claims["scope"],
                "cart": items,
            }
        )

    return [Route("/api/cart", by_method(GET=cart, HEAD=cart), methods=ANY_METHOD)]
