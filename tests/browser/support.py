"""Helpers for the browser tests: test pages, the page log, and a page driver."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

from playwright.sync_api import ConsoleMessage, Error, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

# Pyodide needs several seconds to start on a busy 2-core machine; MicroPython well under one.
READY_TIMEOUT_MS = 60_000

# The tracker's storage keys (spec section 3), as the page sees them.
USER_KEYS = {
    "_ALGOLIA",
    "ajs_anonymous_id",
    "ajs_user_id",
    "ajs_user_traits",
    "ajs_group_id",
    "ajs_group_properties",
}
SESSION_KEY = "_trk_ses"
QUEUE_KEY = "_trk_queue"
TRACKER_KEYS = USER_KEYS | {SESSION_KEY, QUEUE_KEY}

UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
UUID4_RE = re.compile(rf"^{UUID4}$")
ANON_TOKEN_RE = re.compile(rf"^anonymous-{UUID4}$")

STUB = "window.{g} = window.{g} || function () {{ ({g}.q = {g}.q || []).push(arguments); }};"


# --- page log --------------------------------------------------------------------------------


class PageLog:
    """Uncaught page errors and console messages seen by one page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[Error] = []
        self.messages: list[tuple[str, str]] = []
        page.on("pageerror", self._error)
        page.on("console", self._console)

    def _error(self, error: Error) -> None:
        self.errors.append(error)

    def _console(self, msg: ConsoleMessage) -> None:
        self.messages.append((msg.type, msg.text))

    @property
    def warnings(self) -> list[str]:
        return [text for kind, text in self.messages if kind == "warning"]

    def warnings_about(self, needle: str) -> list[str]:
        return [w for w in self.warnings if needle in w]

    def assert_no_page_errors(self) -> None:
        assert not self.errors, "uncaught errors in the page: " + "; ".join(
            f"{e.name}: {e.message}" for e in self.errors
        )


# --- test pages ------------------------------------------------------------------------------


def needs_interpreter(runtime: str) -> None:
    """Skip a scenario about fetching a Python runtime's files: the compiled tracker is all in
    tracker.js and fetches nothing else."""
    if runtime == "compiled":
        import pytest

        pytest.skip("the compiled tracker fetches no runtime files")


def build_page(
    runtime: str,
    statements: Sequence[str] = (),
    *,
    global_name: str = "tracker",
    after: Sequence[str] = (),
    body: str = "",
    tag_attrs: str = "",
) -> str:
    """An HTML page with the spec's stub snippet running ``statements`` before the
    tracker loads, the one script tag, then the page's own later ``after`` script."""
    stub = STUB.format(g=global_name)
    lines = "\n    ".join([stub, *statements])
    gattr = f' data-global="{global_name}"' if global_name != "tracker" else ""
    # the compiled tracker is the default: its pages carry the tag as users copy it
    runtime_attr = "" if runtime == "compiled" else f' data-runtime="{runtime}"'
    later = ""
    if after:
        later = "<script>\n    " + "\n    ".join(after) + "\n  </script>\n"
    return (
        '<!doctype html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>t</title>\n'
        f"<script>\n    {lines}\n  </script>\n"
        f'<script src="/dist/tracker.js"{runtime_attr}{gattr}{tag_attrs} async>'
        "</script>\n"
        f"{later}</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def stored(raw: str | None) -> str | None:
    """A stored id as the tracker means it: URL-decoded and without JSON quotes."""
    if raw is None:
        return None
    value = unquote(raw)
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = json.loads(value)
    return value


class TrackerPage:
    """One test's page with the tracker on it, on one runtime."""

    def __init__(self, page: Page, base_url: str, runtime: str, log: PageLog) -> None:
        self.page = page
        self.base_url = base_url
        self.runtime = runtime
        self.log = log
        self.global_name = "tracker"

    @property
    def context(self) -> Any:
        return self.page.context

    def serve(self, name: str, html: str) -> str:
        """Serve ``html`` at ``/t/<name>.html`` on the collector's origin; returns its URL."""
        self.page.route(
            f"**/t/{name}.html",
            lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"),
        )
        return f"{self.base_url}/t/{name}.html"

    def open(
        self,
        *statements: str,
        name: str = "page",
        global_name: str = "tracker",
        after: Sequence[str] = (),
        body: str = "",
        ready: bool = True,
    ) -> None:
        """Serve a page built by :func:`build_page`, load it, and wait for ``ready``."""
        html = build_page(self.runtime, statements, global_name=global_name, after=after, body=body)
        self.global_name = global_name
        self.page.goto(self.serve(name, html))
        if ready:
            self.wait_ready()

    def seed_local_storage(self, items: dict[str, str]) -> None:
        """Put ``items`` into this origin's localStorage before the tracker's page loads
        (through a blank page on the same origin)."""
        self.page.goto(self.serve("blank", "<!doctype html><title>blank</title>"))
        self.page.evaluate(
            "items => { for (const [k, v] of Object.entries(items)) localStorage.setItem(k, v); }",
            items,
        )

    def add_cookies(self, cookies: dict[str, str]) -> None:
        """Set cookies (raw values) on this origin before the page loads."""
        self.context.add_cookies(
            [{"name": k, "value": v, "url": self.base_url} for k, v in cookies.items()]
        )

    def goto(self, path: str, ready: bool = True) -> None:
        self.page.goto(self.base_url + path)
        if ready:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Wait for ``tracker.ready``; on a timeout fail with what the page went through."""
        g = self.global_name
        try:
            self.page.wait_for_function(
                "g => !!(window[g] && window[g].ready)", arg=g, timeout=READY_TIMEOUT_MS
            )
            resolved = self.page.evaluate(
                """([g, ms]) => Promise.race([
                  window[g].ready.then(() => true),
                  new Promise(resolve => setTimeout(() => resolve(false), ms)),
                ])""",
                [g, READY_TIMEOUT_MS],
            )
            if not resolved:
                raise PlaywrightTimeoutError("ready never resolved")
        except PlaywrightTimeoutError:
            raise AssertionError(
                f"{g}.ready did not resolve within {READY_TIMEOUT_MS} ms on {self.runtime}\n"
                + self.diagnose()
            ) from None

    def diagnose(self) -> str:
        """The page's URL, state, /dist/ fetches and console, for a failure message."""
        try:
            state = self.page.evaluate(
                """g => ({
                  readyState: document.readyState,
                  global: typeof window[g],
                  hasReady: !!(window[g] && window[g].ready),
                  queued: window[g] && window[g].q ? window[g].q.length : null,
                  fetches: performance.getEntriesByType('resource')
                    .filter(e => e.name.includes('/dist/'))
                    .map(e => `${e.name.replace(location.origin, '')} ${e.responseStatus} `
                              + `${Math.round(e.duration)}ms`),
                })""",
                self.global_name,
            )
        except Exception as exc:  # the page itself may be gone
            state = f"(page state unavailable: {exc})"
        console = "\n  ".join(f"{kind}: {text[:300]}" for kind, text in self.log.messages[-30:])
        errors = "; ".join(f"{e.name}: {e.message}" for e in self.log.errors)
        return (
            f"url: {self.page.url}\nstate: {state}\npage errors: {errors or 'none'}\n"
            f"console:\n  {console or '(nothing)'}"
        )

    def reload(self, ready: bool = True) -> None:
        self.page.reload()
        if ready:
            self.wait_ready()

    def js(self, expression: str, arg: Any = None) -> Any:
        """Evaluate a JS function body (``return ...``) with ``tracker`` and ``arg`` in scope."""
        return self.page.evaluate(
            "([__g, arg]) => { const tracker = window[__g]; " + expression + " }",
            [self.global_name, arg],
        )

    def call(self, method: str, *args: Any) -> Any:
        """``tracker.<method>(...args)`` as a direct call, its value returned."""
        return self.page.evaluate(
            "([g, m, args]) => window[g][m](...args)", [self.global_name, method, list(args)]
        )

    def command(self, method: str, *args: Any) -> Any:
        """``tracker('<method>', ...args)`` in the command form."""
        return self.page.evaluate(
            "([g, m, args]) => window[g](m, ...args)", [self.global_name, method, list(args)]
        )

    def wait_for(self, expression: str, timeout_ms: int = 10_000) -> Any:
        """Wait until the JS ``expression`` (``tracker`` in scope) is truthy; returns it."""
        handle = self.page.wait_for_function(
            "g => { const tracker = window[g]; return (" + expression + "); }",
            arg=self.global_name,
            timeout=timeout_ms,
        )
        return handle.json_value()

    def wait_for_warnings(self, count: int, needle: str = "", settle_ms: int = 300) -> list[str]:
        """Wait until at least ``count`` console warnings containing ``needle`` arrived,
        then a little longer so that extra ones would show; returns them all."""
        deadline = time.monotonic() + 10
        while len(self.log.warnings_about(needle)) < count and time.monotonic() < deadline:
            self.page.wait_for_timeout(50)
        self.page.wait_for_timeout(settle_ms)
        return self.log.warnings_about(needle)

    def cookies(self) -> dict[str, Any]:
        """The browser's real cookie jar for this context, by name."""
        return {c["name"]: c for c in self.context.cookies()}

    def cookie_value(self, name: str) -> str | None:
        c = self.cookies().get(name)
        return None if c is None else str(c["value"])

    def local_storage(self) -> dict[str, str]:
        return dict(self.page.evaluate("() => Object.assign({}, window.localStorage)"))

    def document_cookie(self) -> str:
        return str(self.page.evaluate("() => document.cookie"))
