"""Faults to test a site's tracking against: the collector down, failing or slow, storage
that throws, cookies blocked.

Collector faults change how the capture answers (they apply at once, also to retries);
storage and cookie faults are scripts run before the page's own, so set them up before
``page.goto``.
"""

from __future__ import annotations

import json

from playwright.sync_api import Page, Route

from .capture import Capture, CapturedRequest, Responder, answer_headers

__all__ = ["Faults"]

_STORAGE_ACCESS_JS = """
(kinds => {
  for (const kind of kinds) {
    Object.defineProperty(window, kind, {
      configurable: true,
      get() { throw new DOMException('The operation is insecure.', 'SecurityError'); },
    });
  }
})(%s);
"""

_STORAGE_WRITE_JS = """
(() => {
  const full = () => {
    throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
  };
  Storage.prototype.setItem = full;
})();
"""

_COOKIES_BLOCKED_JS = """
(raise => {
  Object.defineProperty(Document.prototype, 'cookie', {
    configurable: true,
    get() {
      if (raise) throw new DOMException('Access is denied for this document.', 'SecurityError');
      return '';
    },
    set(value) {
      if (raise) throw new DOMException('Access is denied for this document.', 'SecurityError');
    },
  });
  Object.defineProperty(Navigator.prototype, 'cookieEnabled', {
    configurable: true, get() { return false; },
  });
})(%s);
"""


class Faults:
    """Fault switches for one test's page and its capture (the ``tracker_faults`` fixture)."""

    def __init__(self, page: Page, capture: Capture) -> None:
        self.page = page
        self.capture = capture
        self._default: Responder = capture.responder

    # -- the collector -------------------------------------------------------------------

    def collector_down(self) -> None:
        """Requests to the collector fail as a refused connection (the tracker sees a
        network error and keeps the events for a retry)."""

        def down(route: Route, request: CapturedRequest) -> None:
            request.status = 0
            route.abort("connectionrefused")

        self.capture.responder = down

    def collector_error(self, status: int = 500, body: str = '{"error": "injected"}') -> None:
        """The collector answers ``status`` (5xx, 408, 429 are retried; other 4xx drop the
        events)."""

        def error(route: Route, request: CapturedRequest) -> None:
            request.status = status
            route.fulfill(
                status=status, body=body, headers=answer_headers(request, "application/json")
            )

        self.capture.responder = error

    def collector_slow(self, delay_ms: int, status: int = 200) -> None:
        """The collector answers after ``delay_ms`` (the page keeps running meanwhile)."""

        def slow(route: Route, request: CapturedRequest) -> None:
            self.page.wait_for_timeout(delay_ms)
            request.status = status
            route.fulfill(
                status=status,
                body=json.dumps({"received": len(request.events)}),
                headers=answer_headers(request, "application/json"),
            )

        self.capture.responder = slow

    def collector_ok(self) -> None:
        """Back to normal: every request acknowledged with 200."""
        self.capture.responder = self._default

    # -- the browser ---------------------------------------------------------------------

    def storage_throws(
        self,
        *,
        on: str = "access",
        kinds: tuple[str, ...] = (
            "localStorage",
            "sessionStorage",
        ),
    ) -> None:
        """Storage that throws, from the next page load on: ``on="access"`` makes reading
        ``window.localStorage`` itself throw a SecurityError (storage disabled);
        ``on="write"`` makes every ``setItem`` throw a QuotaExceededError (storage full)."""
        if on == "access":
            self.page.context.add_init_script(_STORAGE_ACCESS_JS % json.dumps(list(kinds)))
        elif on == "write":
            self.page.context.add_init_script(_STORAGE_WRITE_JS)
        else:
            raise ValueError("storage_throws: on must be 'access' or 'write', not %r" % (on,))

    def cookies_blocked(self, *, throw: bool = False) -> None:
        """Cookies blocked, from the next page load on: ``document.cookie`` reads ``""`` and
        ignores writes (``throw=True``: both throw a SecurityError, as in sandboxed frames);
        ``navigator.cookieEnabled`` is false."""
        self.page.context.add_init_script(_COOKIES_BLOCKED_JS % json.dumps(throw))
