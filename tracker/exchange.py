"""One request to the collector and its one outcome: the first answer, or a failure.

Event delivery and the anonymous session's calls send the same way: through the host's
`send`, with a timeout from the host's `schedule`. A transport may misbehave (throw,
never answer, answer twice, answer after the timeout); the caller still hears exactly
one outcome per request.
"""

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .host import Host

__all__ = ["NO_ANSWER", "REQUEST_TIMEOUT_MS", "TIMED_OUT", "exchange"]

REQUEST_TIMEOUT_MS = 15000
"""A request unanswered this long has failed (a late answer goes to `late` when given)."""
NO_ANSWER = 0
"""The outcome of a network error, or of a request the host could not send."""
TIMED_OUT = -1
"""The outcome of a request still unanswered after `REQUEST_TIMEOUT_MS`."""

_WAITING = 0
_TIMED_OUT = 1
_DONE = 2


def exchange(
    host: "Host",
    request: "Any",
    outcome: "Callable[[int, Any], Any]",
    what: str,
    late: "Optional[Callable[[int, Any], Any]]" = None,
) -> None:
    """Send `request` and call `outcome(status, body)` exactly once: the first answer's HTTP
    status and body, `NO_ANSWER` when sending fails (after a warning naming `what`), or
    `TIMED_OUT`. An answer after the timeout goes to `late(status, body)` if given; any
    other answer is ignored."""
    state = [_WAITING]

    def answered(status: "Any", body: "Any" = None) -> None:
        code = status if isinstance(status, int) else NO_ANSWER
        if state[0] == _WAITING:
            state[0] = _DONE
            outcome(code, body)
        elif state[0] == _TIMED_OUT:
            state[0] = _DONE
            if late is not None:
                late(code, body)

    def expire() -> None:
        if state[0] == _WAITING:
            state[0] = _TIMED_OUT
            outcome(TIMED_OUT, None)

    send = host.send
    try:
        if send is None:
            raise OSError("the host cannot send")
        send(request, answered)
    except Exception as exc:
        host.warn("could not send %s: %r" % (what, exc))
        answered(NO_ANSWER)
        return
    schedule = host.schedule
    if schedule is None:
        return
    try:
        schedule(expire, REQUEST_TIMEOUT_MS)
    except Exception as exc:
        host.warn("could not schedule a request timeout: %r" % exc)
