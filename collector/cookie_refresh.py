"""Server-set identity cookies: the answer to ``POST /collect`` refreshes the tracker's ids.

Safari (ITP) caps cookies written by JavaScript at 7 days; a cookie set by a same-site
server's ``Set-Cookie`` keeps its full lifetime. So when the collector runs on the page's
own host (or, with ``cookie_refresh_domain``, under the same cookie domain as the tracker),
its answer to a non-anonymous request re-sets ``ajs_anonymous_id`` (1 year, as the tracker
and analytics.js write it) and an ``anonymous-`` ``_ALGOLIA`` token (``token_cookie_max_age``,
default 6 months = the tracker's default ``cookieDuration``) with the same name, value, path
``/`` and domain as the tracker's own cookie, so the browser keeps one cookie, now
server-set. Only values the request itself carried as cookies AND that the stored events
carry as their ids are refreshed; never for an anonymous request, a denied consent, a
cross-site request, or a name the request carried twice.
"""

from __future__ import annotations

import datetime as dt
import re
from email.utils import format_datetime
from urllib.parse import unquote, urlsplit

from starlette.requests import Request
from starlette.routing import BaseRoute

from collector.events import Batch
from collector.settings import Settings
from collector.store import Store, Transaction

__all__ = [
    "ANONYMOUS_ID_COOKIE",
    "ANONYMOUS_ID_MAX_AGE",
    "CONSENT_COOKIE",
    "TOKEN_COOKIE",
    "CookieRefresh",
    "event_hook",
    "page_host",
    "routes",
]

ANONYMOUS_ID_COOKIE = "ajs_anonymous_id"
TOKEN_COOKIE = "_ALGOLIA"
CONSENT_COOKIE = "_trk_consent"
ANONYMOUS_ID_MAX_AGE = 365 * 24 * 3600
"""The tracker's (and analytics.js's) lifetime for the anonymousId cookie."""

_RAW_VALUE = re.compile(r'^[!#-+\--:<-\[\]-~"]{1,256}$')
"""A cookie value we may echo back: cookie-octets (and DQUOTE), no separators."""
_SAME_SITE_FETCH = ("same-origin", "same-site")


def _raw_cookies(request: Request) -> dict[str, list[str]]:
    """Every cookie the request carried, by name, as sent (a name may come more than once)."""
    jar: dict[str, list[str]] = {}
    for header in request.headers.getlist("cookie"):
        for part in header.split(";"):
            name, sep, value = part.partition("=")
            if sep and name.strip():
                jar.setdefault(name.strip(), []).append(value.strip())
    return jar


def _decoded(raw: str) -> str | None:
    """A stored id as the tracker reads it: URL-decoded, JSON quotes removed."""
    try:
        value = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return None
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def page_host(request: Request) -> str | None:
    """The host of the page that sent the request: its Origin, else its Referer, else (a
    same-origin fetch that named neither) the collector's own host."""
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value and value != "null":
            return urlsplit(value).hostname
    if request.headers.get("sec-fetch-site") == "same-origin":
        return request.url.hostname
    return None


def _page_is_https(request: Request) -> bool:
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value and value != "null":
            return urlsplit(value).scheme == "https"
    return request.url.scheme == "https"


def _within(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


class CookieRefresh:
    """Decides, per stored batch, which identity cookies to re-set and writes the headers."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.cookie_refresh
        domain = settings.cookie_refresh_domain
        self.domain = domain.strip(".").lower() if domain else None
        self.token_max_age = settings.token_cookie_max_age

    def same_site(self, request: Request) -> bool:
        """Whether the page shares the tracker's cookies with the collector: the same host
        (no cookie domain: host-only cookies), or both under the configured domain."""
        if request.headers.get("sec-fetch-site", "same-origin") not in _SAME_SITE_FETCH:
            return False
        page = page_host(request)
        here = request.url.hostname
        if not page or not here:
            return False
        page, here = page.lower(), here.lower()
        if self.domain is None:
            return page == here
        return _within(page, self.domain) and _within(here, self.domain)

    def cookies(self, batch: Batch) -> list[tuple[str, str, int]]:
        """(name, raw value, max-age) of each cookie to refresh."""
        if not self.enabled or batch.anonymous or not batch.events:
            return []
        request = batch.request
        jar = _raw_cookies(request)
        if jar.get(CONSENT_COOKIE) == ["denied"] or not self.same_site(request):
            return []
        ids = {e.get("anonymousId") for e in batch.events}
        tokens = {e.get("userToken") for e in batch.events}
        found = []
        for name, wanted, max_age in (
            (ANONYMOUS_ID_COOKIE, ids, ANONYMOUS_ID_MAX_AGE),
            (TOKEN_COOKIE, tokens, self.token_max_age),
        ):
            values = jar.get(name, [])
            if len(values) != 1 or not _RAW_VALUE.match(values[0]):
                continue
            value = _decoded(values[0])
            if not value or value not in wanted:
                continue
            if name == TOKEN_COOKIE and not value.startswith("anonymous-"):
                continue
            found.append((name, values[0], max_age))
        return found

    def header(self, name: str, raw: str, max_age: int, batch: Batch) -> str:
        """One ``Set-Cookie`` value with the tracker's attributes (never HttpOnly: the
        tracker must still read it)."""
        expires = batch.received_at.astimezone(dt.UTC) + dt.timedelta(seconds=max_age)
        parts = [
            f"{name}={raw}",
            f"Max-Age={max_age}",
            "Expires=" + format_datetime(expires, usegmt=True),
            "Path=/",
        ]
        if self.domain:
            parts.append("Domain=" + self.domain)
        parts.append("SameSite=Lax")
        if _page_is_https(batch.request):
            parts.append("Secure")
        return "; ".join(parts)

    def stored(self, tx: Transaction, batch: Batch) -> None:
        """Nothing to store: the refresh is a header on the answer."""

    def headers(self, batch: Batch) -> list[tuple[str, str]]:
        return [
            ("Set-Cookie", self.header(name, raw, max_age, batch))
            for name, raw, max_age in self.cookies(batch)
        ]


def event_hook(settings: Settings, store: Store) -> CookieRefresh:
    """The hook ``collector.events`` calls for every stored batch."""
    return CookieRefresh(settings)


def routes(settings: Settings, store: Store) -> list[BaseRoute]:
    """No endpoints of its own: it answers through ``POST /collect``."""
    return []
