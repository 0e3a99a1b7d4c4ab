"""The collector's anonymous-session endpoints (spec section 6), called with JSON.

`POST anonymous/token` starts a session, `PATCH anonymous/session` renews its tokens and
merges metadata, `POST anonymous/transfer` moves it to an account; all sit beside the
collector's URL and answer JSON.
"""

import json

from . import privacy

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Optional

    from .state import TrackerState

__all__ = ["call", "endpoint", "is_json_object", "refusal"]


def endpoint(collector_url: str, path: str) -> str:
    """`path` beside the collector's: `https://c.example/t/collect` + `anonymous/token` ->
    `https://c.example/t/anonymous/token` (the directory `pixel_url` puts `/i` in)."""
    from .transport import pixel_url  # imported on first use, like the rest of sending

    return pixel_url(collector_url)[:-1] + path


def call(
    state: "TrackerState",
    method: str,
    path: str,
    body: "Dict[str, Any]",
    session_token: "Optional[str]",
    answered: "Callable[[int, Any], Any]",
) -> None:
    """Send `body` as JSON to the endpoint `path` (with the session token as Bearer when
    given); `answered(status, json or None)` once, status 0 when the collector is
    unreachable (a network error or a timeout)."""
    from .exchange import TIMED_OUT, exchange
    from .transport import JSON, Request

    headers = privacy.request_headers(state.mode)
    if session_token is not None:
        headers["Authorization"] = "Bearer " + session_token
    url = endpoint(state.options["collectorUrl"], path)
    request = Request(method, url, json.dumps(body), JSON, headers, [])
    request.read_body = True
    if privacy.is_anonymous(state.mode):
        request.credentials = "omit"

    def outcome(status: int, text: "Any") -> None:
        answered(0 if status == TIMED_OUT else status, _parse(text))

    exchange(state.host, request, outcome, "%s %s" % (method, url))


def _parse(text: "Any") -> "Any":
    if not isinstance(text, str) or not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def refusal(status: int, answer: "Any") -> str:
    """Why a call failed, for a warning: unreachable, or the status and the answer's error."""
    if status == 0:
        return "the collector is unreachable"
    error = answer.get("error") if isinstance(answer, dict) else None
    return "the collector answered %d%s" % (status, " (%s)" % error if error else "")


def is_json_object(value: "Any") -> bool:
    """A dict of plain JSON values (checked by type: MicroPython's json encodes anything)."""
    return isinstance(value, dict) and _plain(value, 0)


def _plain(value: "Any", depth: int) -> bool:
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if depth > 32:
        return False
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    return False
