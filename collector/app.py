"""The ASGI app: feature routes first, then the build at ``/dist/`` and the demo site at ``/``.

Each endpoint group is one module with ``routes(settings, store) -> list[BaseRoute]``
listed in :data:`FEATURES`; adding ``/collect`` or the token endpoints later means
writing that module and adding it to the tuple.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.routing import BaseRoute, Mount

from collector import anonymous, cart, cookie_refresh, events, health, stats
from collector.cors import CorsMiddleware
from collector.hosts import TrustedHosts
from collector.settings import Settings
from collector.sink import JetStreamSink
from collector.static import CORS_HEADERS, GzipCache, StaticDir, content_type
from collector.store import Store

__all__ = ["FEATURES", "Feature", "create_app"]


class Feature(Protocol):
    """A module that contributes endpoints."""

    def routes(self, settings: Settings, store: Store) -> list[BaseRoute]: ...


# A feature module may also hold ``TABLES``: the statements creating its tables (Store.ensure),
# and ``event_hook(settings, store) -> events.EventHook``: what it does with each stored batch.


FEATURES: tuple[Feature, ...] = (health, events, anonymous, cart, stats, cookie_refresh)
"""Endpoint modules, matched in this order before the static mounts."""

BUILD_HINT = (
    "Is the build missing or stale? Run `.venv/bin/python build.py` at the repo root, "
    "or point --dist at a build (e.g. node_modules/tracker/dist from the npm package)."
)


def create_app(settings: Settings | None = None, *, warm_cache: bool = True) -> Starlette:
    """Build the app; the database is opened (and migrated) now so a bad ``--db`` fails at once."""
    settings = settings or Settings()
    store = Store(settings.db, [t for feature in FEATURES for t in getattr(feature, "TABLES", ())])
    gzip_cache = GzipCache()
    dist_cache = (
        f"public, max-age={settings.dist_max_age}" if settings.dist_max_age > 0 else "no-cache"
    )
    hooks: list[events.EventHook] = [
        feature.event_hook(settings, store)
        for feature in FEATURES
        if hasattr(feature, "event_hook")
    ]
    sink = JetStreamSink(settings.sink) if settings.sink is not None else None
    routes: list[BaseRoute] = []
    for feature in FEATURES:
        if feature is events:
            routes += events.routes(settings, store, hooks=hooks, sink=sink)
        else:
            routes += feature.routes(settings, store)
    routes += [
        Mount(
            "/dist",
            StaticDir(
                settings.dist_dir,
                cache_control=dist_cache,
                gzip_cache=gzip_cache,
                missing_hint=BUILD_HINT,
                headers=CORS_HEADERS,
                hashed_immutable=True,
            ),
        ),
        Mount("/", StaticDir(settings.web_dir, cache_control="no-cache", gzip_cache=gzip_cache)),
    ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if warm_cache:
            paths = list(_files(settings.dist_dir))
            threading.Thread(target=gzip_cache.warm, args=(paths,), daemon=True).start()
        if sink is not None:
            await sink.start()
        try:
            yield
        finally:
            if sink is not None:
                await sink.close()
            store.close()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            *(
                [Middleware(TrustedHosts, allowed_hosts=settings.allowed_hosts)]
                if settings.allowed_hosts
                else []
            ),
            Middleware(CorsMiddleware, allow_origins=settings.allow_origins),
            # Dynamic responses only: StaticDir gzips its files itself and GZip skips those.
            Middleware(
                GZipMiddleware,
                minimum_size=512,
                compresslevel=6,
                exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/wasm"),
            ),
        ],
    )
    app.state.settings = settings
    app.state.store = store
    return app


def _files(directory: os.PathLike[str] | str) -> list[str]:
    """Every compressible file under ``directory`` (following symlinks), for cache warming."""
    found = []
    for root, _dirs, names in os.walk(directory, followlinks=True):
        for name in names:
            path = os.path.join(root, name)
            if content_type(path) not in ("application/zip", "image/png", "image/x-icon"):
                found.append(path)
    return found
