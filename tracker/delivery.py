"""Delivery rules: when waiting events are sent, and what each answer does to them.

Events recorded in one JS task go out together once that task is done. An event
leaves the outbox only when the collector answers 2xx; network errors, timeouts
and retryable statuses keep it and retry with exponential backoff and jitter;
any other status drops it with one warning, so one bad event never blocks the
rest. When the page is hidden everything waiting is sent at once, by
`sendBeacon` on `pagehide` when the method and mode allow it. In anonymous modes no
request carries cookies (`credentials: 'omit'`, and no `sendBeacon`, which always sends
them). `keepalive` bodies in flight together stay within the browser's budget
(`KEEPALIVE_BUDGET` UTF-8 bytes); a request past it goes without `keepalive`.
"""

from . import privacy
from .exchange import TIMED_OUT, exchange
from .transport import JSON, KEEPALIVE_BUDGET, TEXT, batch_requests, should_retry

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional

    from .host import Host
    from .outbox import Outbox

__all__ = ["BACKOFF_BASE_MS", "BACKOFF_MAX_MS", "Delivery", "backoff_ms"]

BACKOFF_BASE_MS = 1000
BACKOFF_MAX_MS = 60000


def backoff_ms(failures: int, jitter: float) -> int:
    """Wait before retry number `failures` (1, 2, ...): doubling from `BACKOFF_BASE_MS` up to
    `BACKOFF_MAX_MS`, scaled by `jitter` in [0.5, 1.5) so tabs do not retry in step."""
    delay = BACKOFF_BASE_MS * (2 ** min(max(failures - 1, 0), 16))
    return int(min(delay, BACKOFF_MAX_MS) * jitter)


class Delivery:
    """Sends the outbox's events through the host and applies the answers.

    `options()` returns the tracker's current options (collectorUrl, eventMethod,
    anonymousTracking, retryStatusCodes, dontRetryStatusCodes).
    """

    def __init__(self, outbox: "Outbox", host: "Host", options: "Callable[[], Dict[str, Any]]"):
        self.outbox = outbox
        self.host = host
        self._options = options
        self._warn = host.warn
        self._pending = False
        self._in_flight = 0
        self._keepalive_bytes = 0
        self._round_failed = False
        self._failures = 0
        self._retry_at = 0.0
        self._timer = False
        self._waiters: "List[Callable[[], Any]]" = []
        self._warned_status: "Dict[int, bool]" = {}
        self._exited = False
        self.on_answer: "Optional[Callable[[], Any]]" = None
        """Called at every answer of the collector (its Set-Cookie headers are in by then)."""

    # -- when to send ------------------------------------------------------------------

    def kick(self) -> None:
        """Save and send once the caller's JS task is done (one request per task's events)."""
        self._exited = False
        if self._pending:
            return
        self._pending = True
        defer = self.host.defer
        if defer is not None:
            try:
                defer(self._after_task)
                return
            except Exception as exc:
                self._warn("could not defer sending events: %r" % exc)
        self._after_task()

    def _after_task(self) -> None:
        self._pending = False
        self.send()

    def flush(self, done: "Optional[Callable[[], Any]]" = None) -> None:
        """Send everything now, ignoring backoff; `done()` runs once the outbox is empty or
        the collector proved unreachable (or at once with no collector to send to)."""
        if done is not None:
            self._waiters.append(done)
        self._retry_at = 0.0
        self.send()
        if self._in_flight == 0:
            self._settle(False)

    def page_hidden(self, kind: str) -> None:
        """The page was hidden (`hidden`) or is going away (`pagehide`): send what waits.
        Browsers fire `pagehide` before the `hidden` of a page being left: what went by
        beacon then is not sent again."""
        self._retry_at = 0.0
        if kind == "pagehide":
            self._exited = True
            self._send_on_exit()
            self.outbox.release()
        elif not self._exited:
            self.send()

    def online(self) -> None:
        """The browser is back online: retry at once."""
        self._retry_at = 0.0
        self.send()

    # -- sending -----------------------------------------------------------------------

    def _target(self) -> "Optional[str]":
        url = self._options().get("collectorUrl")
        if not url or self.host.send is None:
            return None
        return url

    def _requests(self, entries: "List[Any]", exiting: bool) -> "List[Any]":
        opts = self._options()
        mode = opts.get("anonymousTracking")
        method = opts.get("eventMethod") or "post"
        anonymous = privacy.is_anonymous(mode)
        beacon_body = (method == "beacon" or exiting) and not anonymous
        requests = batch_requests(
            method if method == "get" else "post",
            opts["collectorUrl"],
            entries,
            privacy.request_headers(mode),
            TEXT if beacon_body else JSON,
        )
        for request in requests:
            if anonymous:
                request.credentials = "omit"
        return requests

    def _start(self, request: "Any", on_done: "Callable[[int, Any], Any]") -> "Any":
        """Count `request` against the keepalive budget (without keepalive past it); the
        returned outcome handler gives its bytes back (at its answer, failure or timeout)."""
        counted = 0
        if request.keepalive:
            if self._keepalive_bytes + request.size > KEEPALIVE_BUDGET:
                request.keepalive = False
            else:
                counted = request.size
                self._keepalive_bytes += counted

        def answered(status: int, body: "Any" = None) -> None:
            self._keepalive_bytes -= counted
            on_done(status, body)

        return answered

    def send(self) -> None:
        """Save the buffer (taking in what other tabs changed), then send a round of waiting
        events unless one is in flight or a retry is not due."""
        self.outbox.save()
        if self._in_flight or self._target() is None:
            return
        if self._retry_at and self.host.now_ms() < self._retry_at:
            return
        entries = self.outbox.ready()
        if not entries:
            self._settle(False)
            return
        self._retry_at = 0.0
        self._round_failed = False
        requests = self._requests(entries, False)
        for entry in entries:
            entry.sending = True
        self._in_flight = len(requests)
        for request in requests:
            self._dispatch(request)

    def _dispatch(self, request: "Any") -> None:
        def answered(status: int, body: "Any") -> None:
            self._answer(request, status, False)

        def late(status: int, body: "Any") -> None:
            self._answer(request, status, True)

        exchange(self.host, request, self._start(request, answered), "events", late)

    def _answer(self, request: "Any", status: int, late: bool) -> None:
        """Apply one request's outcome; a `late` answer (after its timeout) still
        acknowledges or drops its events, but its round is over."""
        if status != TIMED_OUT and self.on_answer is not None:
            self.on_answer()
        opts = self._options()
        retry = opts.get("retryStatusCodes") or ()
        dont_retry = opts.get("dontRetryStatusCodes") or ()
        if 200 <= status <= 299:
            self.outbox.finish(request.ids)
        elif status == TIMED_OUT or should_retry(status, retry, dont_retry):
            if not late:
                self._round_failed = True
                self._release(request.ids)
        else:
            self.outbox.finish(request.ids)
            if status not in self._warned_status:
                self._warned_status[status] = True
                self._warn(
                    "the collector refused %d event(s) with HTTP %d; dropped (not retried)"
                    % (len(request.ids), status)
                )
        if late:
            self.outbox.save()
            return
        self._in_flight -= 1
        if self._in_flight:
            return
        if self._round_failed:
            self._failed_round()
        else:
            self._failures = 0
            if self.outbox.ready():
                self.send()
            else:
                self.outbox.save()
                self._settle(False)

    def _release(self, ids: "List[str]") -> None:
        wanted = set(ids)
        for entry in self.outbox.entries:
            if entry.id in wanted:
                entry.sending = False

    def _failed_round(self) -> None:
        """Keep everything, vouch for it, and retry after the backoff."""
        self._failures += 1
        self.outbox.vouch()
        self.outbox.save()
        delay = backoff_ms(self._failures, 0.5 + self._jitter())
        self._retry_at = self.host.now_ms() + delay
        self._settle(True)
        self._arm(delay)

    def _arm(self, delay: float) -> None:
        """One timer at a time that sends once the retry is due (re-armed if it is not yet)."""
        schedule = self.host.schedule
        if schedule is None or self._timer:
            return
        self._timer = True

        def retry() -> None:
            self._timer = False
            left = self._retry_at - self.host.now_ms()
            if self._retry_at and left > 0:
                self._arm(left)
            else:
                self.send()

        try:
            schedule(retry, delay)
        except Exception as exc:
            self._timer = False
            self._warn("could not schedule a retry: %r" % exc)

    def _jitter(self) -> float:
        return self.host.random_bytes(1)[0] / 256.0

    def _settle(self, unreachable: bool) -> None:
        """Run the flush callbacks once the outbox is empty or the collector failed."""
        if not self._waiters:
            return
        if not (unreachable or not self.outbox.entries or self._target() is None):
            return
        waiters = self._waiters
        self._waiters = []
        for done in waiters:
            try:
                done()
            except Exception as exc:
                self._warn("flush callback failed: %r" % exc)

    def _send_on_exit(self) -> None:
        """Send what is not in flight by beacon (fetch keepalive when refused or not allowed);
        no answer will come: the events stay stored until a later page sees them acknowledged."""
        if self._target() is None:
            return
        entries = self.outbox.ready()
        if not entries:
            return
        for request in self._requests(entries, True):
            beacon = self.host.beacon
            if request.content_type == TEXT and beacon is not None:
                try:
                    if beacon(request.url, request.body):
                        continue
                except Exception as exc:
                    self._warn("sendBeacon failed: %r" % exc)
            send = self.host.send
            try:
                if send is not None:
                    send(request, self._start(request, _ignore))
            except Exception as exc:
                self._warn("could not send events: %r" % exc)


def _ignore(status: "Any", body: "Any" = None) -> None:
    """The answer to a request sent while the page goes away: nobody is left to hear it."""
