"""Where the collector finds its files and database, with defaults relative to the repo root."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from collector.sink import SinkSettings

__all__ = ["REPO_ROOT", "Settings"]

_CHECKOUT = Path(__file__).resolve().parent.parent
REPO_ROOT = _CHECKOUT if (_CHECKOUT / "build.py").is_file() else Path.cwd()
"""The repository root, found from this package's location; when the collector is installed
from the wheel (no clone around it), the working directory, where ``web/`` and ``dist/`` are
then looked up by default."""


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to know; built by ``__main__`` from flags or by tests directly."""

    db: Path | str = Path("tracker.db")
    """A SQLite file, or a ``postgresql://`` URL."""
    web_dir: Path = field(default_factory=lambda: REPO_ROOT / "web")
    dist_dir: Path = field(default_factory=lambda: REPO_ROOT / "dist")
    dist_max_age: int = 600
    """Seconds a browser may reuse an unversioned /dist/ file unasked (0: always revalidate)."""
    max_body_bytes: int = 1_000_000
    """Largest ``/collect`` body (or ``/i`` query) accepted; larger gets 413 without reading on."""
    max_batch_events: int = 500
    """Most events one ``/collect`` request may carry (413 past it)."""
    max_json_depth: int = 32
    """Deepest JSON nesting accepted, the outer list included (400 past it)."""
    max_api_limit: int = 1000
    """Most events one ``GET /api/events`` answer holds (a larger ``limit`` is lowered to it)."""
    trust_proxy: bool = False
    """Record the address in ``X-Forwarded-For`` (the one the proxy in front saw)."""
    gpc_anonymises: bool = False
    """Treat ``Sec-GPC: 1`` without a ``_trk_consent=granted`` cookie as ``SP-Anonymous``."""
    allow_origins: tuple[str, ...] = ()
    """Origins allowed to call the collector endpoints with credentials (its own always is)."""
    token_issuer: str = "tracker-collector"
    """The ``iss`` of every token the collector signs (and the only one it accepts)."""
    token_audience: str = "tracker-api"
    """The ``aud`` of anonymous access tokens: what resource servers check."""
    session_ttl: int = 7 * 24 * 3600
    """Seconds a session token stays valid; every renewal (PATCH) starts it again."""
    access_ttl: int = 3600
    """Seconds an access token stays valid (``expires_in``)."""
    proof_ttl: int = 120
    """Seconds a login proof stays valid: long enough for a redirect, no more."""
    token_scope: str = "read:cart"
    """The ``scope`` of anonymous access tokens (space-separated)."""
    metadata_max_bytes: int = 64 * 1024
    """Largest session or account metadata, as compact UTF-8 JSON; larger gets 413."""
    demo_login: bool = False
    """Serve ``POST /demo/login`` (a demo-only login with no password): anyone could log in
    as anyone, so it is off unless asked for (``python -m collector`` asks for it when it
    serves the bundled demo site)."""
    public_reads: bool = False
    """Answer ``GET /api/events`` and ``/api/stats`` without the API key (the demo's live cards
    read them); off, they need ``Authorization: Bearer <API key>``."""
    allowed_hosts: tuple[str, ...] = ()
    """``Host`` names answered (Starlette's TrustedHostMiddleware, against DNS rebinding);
    empty: no check (``__main__`` always gives the bind host and ``localhost`` at least)."""
    sink: SinkSettings | None = None
    """Write accepted events to this NATS JetStream log (``--sink``) instead of the database;
    ``collector.loader`` stores them."""
    clock: Callable[[], float] = field(default_factory=lambda: time.time)
    """Seconds since the epoch: token times and expiry checks (tests pass a fake)."""
    cookie_refresh: bool = True
    """Re-set the tracker's identity cookies from same-site answers (collector.cookie_refresh)."""
    cookie_refresh_domain: str | None = None
    """The tracker's ``cookieDomain`` when it sets one (None: host-only cookies, refreshed
    only when the page is on the collector's own host)."""
    token_cookie_max_age: int = 15552000
    """Lifetime (s) of a refreshed ``_ALGOLIA`` token: the tracker's default cookieDuration."""
