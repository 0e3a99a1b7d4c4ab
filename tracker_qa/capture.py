"""Capturing what a page sends to the collector, by routing: no collector server is needed.

Every request to the collector URL (``POST /collect`` with a JSON or ``text/plain`` body,
``GET /i?...`` pixels) is answered by the route itself and kept with its headers and its
decoded events, so tests can assert on exactly what left the browser.

Requests sent while a page goes away (``sendBeacon`` or ``fetch`` with ``keepalive`` after
``pagehide``) escape Playwright's routing in Chromium; a small script records them in the
tab's ``sessionStorage`` and reports them from the next page (or at once, when the tab is
closed), so they are captured too, marked ``on_exit`` (their answer is never observed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from playwright.sync_api import Page, Route

from tracker.transport import STRING_FIELDS

__all__ = [
    "Capture",
    "CapturedEvent",
    "CapturedRequest",
    "CollectorSpec",
    "Responder",
    "answer_headers",
    "collector_matcher",
    "decode_pixel",
]

CollectorSpec = str | Callable[[str], bool]
"""Which URLs are the collector: a path such as ``"/collect"`` (on any origin), a full URL
such as ``"https://c.example/t/collect"``, or a predicate over the request URL. The pixel
endpoint ``/i`` beside the collector's path is captured too."""

Responder = Callable[[Route, "CapturedRequest"], None]
"""Answers one captured request (see :mod:`tracker_qa.faults`); it must set ``status``."""

EXIT_BINDING = "__trackerQaExit"
EXIT_KEY = "__tracker_qa_exit__"
"""The sessionStorage key where requests sent on page exit wait to be reported."""

_EXIT_JS = """
(() => {
  const KEY = '%(key)s';
  const report = entries => {
    try { window.%(binding)s(JSON.stringify(entries)); } catch (e) { /* no binding yet */ }
  };
  try {
    const saved = sessionStorage.getItem(KEY);
    if (saved) {
      sessionStorage.removeItem(KEY);
      setTimeout(() => report(JSON.parse(saved)), 0);
    }
  } catch (e) { /* storage blocked: only the direct report is left */ }
  let leaving = false;
  addEventListener('pagehide', () => { leaving = true; }, true);
  addEventListener('pageshow', () => { leaving = false; }, true);
  const note = entry => {
    entry.id = Math.random().toString(36).slice(2) + Date.now().toString(36);
    entry.page = location.href;
    try {
      const list = JSON.parse(sessionStorage.getItem(KEY) || '[]');
      list.push(entry);
      sessionStorage.setItem(KEY, JSON.stringify(list));
    } catch (e) { /* storage blocked */ }
    report([entry]);
  };
  const text = body => (typeof body === 'string' ? body : null);
  const absolute = url => new URL(String(url), location.href).href;
  const beacon = navigator.sendBeacon;
  if (beacon) {
    navigator.sendBeacon = function (url, data) {
      const accepted = beacon.call(navigator, url, data);
      if (leaving) {
        const type = typeof data === 'string' ? 'text/plain;charset=UTF-8' : null;
        note({ kind: 'beacon', method: 'POST', url: absolute(url), body: text(data),
               headers: type ? { 'content-type': type } : {}, accepted: !!accepted });
      }
      return accepted;
    };
  }
  const fetch0 = window.fetch;
  window.fetch = function (input, init) {
    if (leaving && init && init.keepalive) {
      const headers = {};
      try { new Headers(init.headers || {}).forEach((v, k) => { headers[k] = v; }); } catch (e) {}
      note({ kind: 'fetch', method: String(init.method || 'GET').toUpperCase(),
             url: absolute(typeof input === 'string' ? input : input.url),
             body: text(init.body), headers: headers, accepted: true });
    }
    return fetch0.apply(this, arguments);
  };
})();
""" % {"key": EXIT_KEY, "binding": EXIT_BINDING}

# A 1x1 transparent GIF, what a pixel endpoint answers.
PIXEL_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


def _pixel_path(path: str) -> str:
    """``/i`` beside ``path`` (``/collect`` -> ``/i``, ``/t/collect`` -> ``/t/i``)."""
    return path[: path.rfind("/") + 1] + "i"


def collector_matcher(spec: CollectorSpec) -> Callable[[str], bool]:
    """A URL predicate for :data:`CollectorSpec`: the collector URL or its ``/i`` pixel."""
    if callable(spec):
        return spec
    if not isinstance(spec, str) or not spec:
        raise ValueError("the collector must be a path, a URL or a predicate, not %r" % (spec,))
    target = urlsplit(spec)
    origin = (target.scheme, target.netloc) if target.netloc else None
    path = target.path or "/"
    paths = {path, _pixel_path(path)}

    def matches(url: str) -> bool:
        parts = urlsplit(url)
        if origin is not None and (parts.scheme, parts.netloc) != origin:
            return False
        return parts.path in paths

    return matches


def decode_pixel(url: str) -> dict[str, Any]:
    """The event of a ``GET /i?...`` request: string fields raw, the others JSON-decoded."""
    event: dict[str, Any] = {}
    for key, raw in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key in STRING_FIELDS:
            event[key] = raw
            continue
        try:
            event[key] = json.loads(raw)
        except ValueError:
            event[key] = raw
    return event


@dataclass
class CapturedRequest:
    """One request the page sent to the collector, as the collector would have seen it."""

    index: int
    """Position among the captured requests, from 1 (failure messages say ``request #n``)."""
    method: str
    url: str
    headers: dict[str, str]
    """Every header the browser sent, names in lower case (``cookie`` included)."""
    body: str | None
    transport: str
    """``post`` (fetch), ``beacon`` (sendBeacon) or ``get`` (the ``/i`` pixel)."""
    page_url: str | None
    events: list[dict[str, Any]] = field(default_factory=list)
    decode_error: str | None = None
    status: int | None = None
    """The answer given: an HTTP status, 0 when the collector was made unreachable."""
    on_exit: bool = False
    """Sent while the page went away: the browser accepted it, no answer is observed."""
    at: float = field(default_factory=time.time)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def acknowledged(self) -> bool:
        """Whether the answer acknowledged the events (2xx)."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def delivered(self) -> bool:
        """Acknowledged, or handed to the browser on page exit (its answer is not seen)."""
        return self.acknowledged or self.on_exit

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def describe(self) -> str:
        """``request #2 POST http://h/collect (post, 3 events, answered 200)``."""
        count = len(self.events)
        if self.on_exit:
            answer = "sent on page exit, answer not observed"
        elif self.status is None:
            answer = "not answered yet"
        elif self.status == 0:
            answer = "collector unreachable"
        else:
            answer = "answered %d" % self.status
        return "request #%d %s %s (%s, %d event%s, %s)" % (
            self.index,
            self.method,
            self.url,
            self.transport,
            count,
            "" if count == 1 else "s",
            answer,
        )


@dataclass
class CapturedEvent:
    """One event of a captured request."""

    event: dict[str, Any]
    request: CapturedRequest
    position: int
    """Position inside its request, from 1."""

    @property
    def type(self) -> str | None:
        value = self.event.get("type")
        return value if isinstance(value, str) else None

    @property
    def name(self) -> str | None:
        """The track event's name or the page's name."""
        value = self.event.get("event", self.event.get("name"))
        return value if isinstance(value, str) else None

    @property
    def message_id(self) -> str | None:
        value = self.event.get("messageId")
        return value if isinstance(value, str) else None

    @property
    def properties(self) -> dict[str, Any]:
        value = self.event.get("properties")
        return value if isinstance(value, dict) else {}

    def describe(self) -> str:
        """``event 1 (track "Signed up", messageId 3f2c...)``."""
        label = self.type or "?"
        if self.name:
            label += " %s" % json.dumps(self.name)
        return "event %d (%s, messageId %s)" % (self.position, label, self.message_id)


def _ok(route: Route, request: CapturedRequest) -> None:
    """The default answer: 200 with a JSON receipt, or the GIF for a pixel."""
    request.status = 200
    if request.transport == "get":
        route.fulfill(status=200, body=PIXEL_GIF, headers=answer_headers(request, "image/gif"))
    else:
        body = json.dumps({"received": len(request.events)})
        route.fulfill(status=200, body=body, headers=answer_headers(request, "application/json"))


def answer_headers(request: CapturedRequest, content_type: str) -> dict[str, str]:
    """Headers letting a credentialed cross-origin fetch read the answer."""
    origin = request.headers.get("origin")
    headers = {"content-type": content_type, "cache-control": "no-store"}
    if origin:
        headers["access-control-allow-origin"] = origin
        headers["access-control-allow-credentials"] = "true"
        headers["vary"] = "Origin"
    return headers


class Capture:
    """The requests a page (and its context's other pages) sent to the collector.

    Created by the ``tracker_capture`` fixture before the test opens its page. ``requests``
    holds every attempt, ``events`` the events of acknowledged requests (what a collector
    stored); ``flush()`` and ``wait_for_events()`` let the page's tracker catch up.
    """

    def __init__(
        self, page: Page, collector: CollectorSpec = "/collect", global_name: str = "tracker"
    ) -> None:
        self.page = page
        self.global_name = global_name
        self.collector = collector
        self.requests: list[CapturedRequest] = []
        self.responder: Responder = _ok
        self._matches = collector_matcher(collector)
        self._routed = False
        self._exit_ids: set[str] = set()

    # -- routing -------------------------------------------------------------------------

    def start(self) -> Capture:
        """Route the collector's URLs of this page's browser context to the capture."""
        if not self._routed:
            context = self.page.context
            context.route(self._matches, self._handle)
            context.expose_binding(EXIT_BINDING, self._on_exit)
            context.add_init_script(_EXIT_JS)
            self._routed = True
        return self

    def stop(self) -> None:
        if self._routed:
            self._routed = False
            try:
                self.page.context.unroute(self._matches, self._handle)
            except Exception:  # the context may already be closed at teardown
                pass

    def _handle(self, route: Route) -> None:
        request = route.request
        if request.method == "OPTIONS":  # a CORS preflight: allow, do not record
            route.fulfill(status=204, headers=self._preflight(route))
            return
        captured = self._record(route)
        try:
            self.responder(route, captured)
        except Exception:
            if captured.status is None:
                captured.status = 0
            raise

    def _on_exit(self, source: Any, entries_json: str) -> None:
        """Requests a page sent while going away, reported by the exit script."""
        try:
            entries = json.loads(entries_json)
        except ValueError:
            return
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or entry.get("id") in self._exit_ids:
                continue
            url = str(entry.get("url", ""))
            if not self._matches(url):
                continue
            self._exit_ids.add(str(entry.get("id")))
            given = entry.get("headers")
            headers: dict[str, Any] = given if isinstance(given, dict) else {}
            captured = CapturedRequest(
                index=len(self.requests) + 1,
                method=str(entry.get("method", "POST")),
                url=url,
                headers={str(k).lower(): str(v) for k, v in headers.items()},
                body=entry.get("body") if isinstance(entry.get("body"), str) else None,
                transport="beacon" if entry.get("kind") == "beacon" else "post",
                page_url=entry.get("page"),
                on_exit=bool(entry.get("accepted", True)),
            )
            self._decode(captured)
            self.requests.append(captured)

    def _preflight(self, route: Route) -> dict[str, str]:
        headers = route.request.headers
        return {
            "access-control-allow-origin": headers.get("origin", "*"),
            "access-control-allow-credentials": "true",
            "access-control-allow-methods": "GET, POST, OPTIONS",
            "access-control-allow-headers": headers.get("access-control-request-headers", "*"),
            "access-control-max-age": "600",
        }

    def _record(self, route: Route) -> CapturedRequest:
        request = route.request
        try:
            headers = {k.lower(): v for k, v in request.all_headers().items()}
        except Exception:
            headers = {k.lower(): v for k, v in request.headers.items()}
        method = request.method
        body: str | None = None
        if method != "GET":
            try:
                body = request.post_data
            except Exception:  # a body that is not text
                body = None
        if method == "GET":
            transport = "get"
        elif request.resource_type in ("ping", "beacon"):
            transport = "beacon"
        else:
            transport = "post"
        try:
            page_url: str | None = request.frame.url
        except Exception:  # beacons sent while the page goes away have no frame any more
            page_url = None
        captured = CapturedRequest(
            index=len(self.requests) + 1,
            method=method,
            url=request.url,
            headers=headers,
            body=body,
            transport=transport,
            page_url=page_url,
        )
        self._decode(captured)
        self.requests.append(captured)
        return captured

    @staticmethod
    def _decode(captured: CapturedRequest) -> None:
        if captured.method == "GET":
            event = decode_pixel(captured.url)
            captured.events = [event] if event else []
            return
        if not captured.body:
            captured.decode_error = "empty body"
            return
        try:
            data = json.loads(captured.body)
        except ValueError as exc:
            captured.decode_error = "body is not JSON (%s)" % exc
            return
        items = data if isinstance(data, list) else [data]
        captured.events = [e for e in items if isinstance(e, dict)]
        if len(captured.events) != len(items):
            captured.decode_error = "body holds something other than event objects"

    # -- reading -------------------------------------------------------------------------

    def mark(self) -> int:
        """A position to read from later: ``capture.since(mark)``."""
        return len(self.requests)

    def since(self, mark: int) -> list[CapturedRequest]:
        return self.requests[mark:]

    def clear(self) -> None:
        """Forget what was captured so far (numbering continues)."""
        self.requests.clear()

    @property
    def delivered_requests(self) -> list[CapturedRequest]:
        return [r for r in self.requests if r.delivered]

    @property
    def events(self) -> list[CapturedEvent]:
        """Events of acknowledged requests (and of those sent on page exit), in the order
        they arrived."""
        return _events(self.delivered_requests)

    @property
    def attempted_events(self) -> list[CapturedEvent]:
        """Events of every request, acknowledged or not (retries appear more than once)."""
        return _events(self.requests)

    def events_named(self, name: str) -> list[CapturedEvent]:
        """Delivered track events called ``name`` (or page views named ``name``)."""
        return [e for e in self.events if e.name == name]

    def of_type(self, kind: str) -> list[CapturedEvent]:
        """Delivered events of ``type`` ``track``, ``page``, ``identify`` or ``group``."""
        return [e for e in self.events if e.type == kind]

    # -- waiting -------------------------------------------------------------------------

    def wait_ready(self, timeout_ms: float = 60_000) -> None:
        """Wait until the page's tracker resolved ``tracker.ready``."""
        from .state import wait_ready

        wait_ready(self.page, self.global_name, timeout_ms)

    def flush(self, timeout_ms: float = 60_000) -> list[CapturedEvent]:
        """Call the page's ``tracker.flush()`` and wait for it; returns the delivered events."""
        self.wait_ready(timeout_ms)
        self.page.evaluate("g => window[g].ready.then(() => window[g].flush())", self.global_name)
        return self.events

    def wait_for_events(
        self,
        count: int = 1,
        where: Callable[[CapturedEvent], bool] | None = None,
        timeout_ms: float = 15_000,
    ) -> list[CapturedEvent]:
        """Wait until ``count`` delivered events (matching ``where``) arrived; returns them."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            found = [e for e in self.events if where is None or where(e)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    "expected %d event%s at the collector within %d ms, got %d; captured:\n%s"
                    % (
                        count,
                        "" if count == 1 else "s",
                        timeout_ms,
                        len(found),
                        self.summary() or "  (no request reached the collector)",
                    )
                )
            self.page.wait_for_timeout(50)

    def summary(self, requests: Iterable[CapturedRequest] | None = None) -> str:
        """One line per request and event, for failure messages."""
        lines = []
        for request in self.requests if requests is None else requests:
            lines.append("  " + request.describe())
            for position, event in enumerate(request.events, 1):
                lines.append("    " + CapturedEvent(event, request, position).describe())
        return "\n".join(lines)


def _events(requests: Iterable[CapturedRequest]) -> list[CapturedEvent]:
    return [
        CapturedEvent(event, request, position)
        for request in requests
        for position, event in enumerate(request.events, 1)
    ]
