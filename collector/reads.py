"""Who may read what the collector stored: ``GET /api/events`` and ``/api/stats`` answer every
visitor's events, IPs and network cookies, so they need the API key, unless reads are public
(``--public-reads``, or the bundled demo, whose live cards read them from the page)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

from collector import tokens
from collector.endpoints import Problem
from collector.settings import Settings
from collector.store import Store

__all__ = ["read_guard"]


def read_guard(settings: Settings, store: Store) -> Callable[[Request], None]:
    """A check for a read endpoint: raises a 401 :class:`Problem` unless the request carries
    ``Authorization: Bearer <API key>`` (or reads are public)."""
    if settings.public_reads:
        return lambda request: None
    signer = tokens.signer(settings, store)

    def guard(request: Request) -> None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not signer.is_api_key(given.strip()):
            raise Problem(
                401,
                "reading collected data needs Authorization: Bearer <API key>",
                {"WWW-Authenticate": 'Bearer realm="tracker-collector"'},
            )

    return guard
