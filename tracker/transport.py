"""The transports' contract: how waiting events become HTTP requests, and what answers mean.

Plain functions over plain values. The host sends a `Request` (the browser with
`fetch` or `sendBeacon`, tests with a fake) and reports the HTTP status, 0 for a
network error or a timeout.
"""

import json

from .storage import percent_encode

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional

__all__ = [
    "JSON",
    "KEEPALIVE_BUDGET",
    "MAX_BATCH_EVENTS",
    "STRING_FIELDS",
    "TEXT",
    "Request",
    "batch_requests",
    "pixel_url",
    "query_string",
    "should_retry",
    "utf8_length",
]

JSON = "application/json"
TEXT = "text/plain;charset=UTF-8"
MAX_BATCH_EVENTS = 50
"""Events in one POST at most."""
KEEPALIVE_BUDGET = 60000
"""UTF-8 bytes of `keepalive` bodies in flight together at most (browsers refuse past 64 KiB):
also the body size of one POST at most."""

STRING_FIELDS = frozenset(
    (
        "type",
        "messageId",
        "appId",
        "event",
        "name",
        "anonymousId",
        "userId",
        "userToken",
        "authenticatedUserToken",
        "groupId",
    )
)
"""Top-level event fields that are strings: a `get` pixel carries them raw (anything else as
JSON), so a decoder never JSON-decodes them."""

_RETRY_ALWAYS = (0, 408, 425, 429)
_QUERY_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~")


class Request:
    """One request to the collector, carrying the messageIds of the events in it."""

    def __init__(
        self,
        method: str,
        url: str,
        body: "Optional[str]",
        content_type: "Optional[str]",
        headers: "Dict[str, str]",
        ids: "List[str]",
    ) -> None:
        self.method = method
        self.url = url
        self.body = body
        self.content_type = content_type
        self.headers = headers
        self.ids = ids
        self.size = 0 if body is None else utf8_length(body)
        """The body's length in UTF-8 bytes, what the browser's keepalive budget counts."""
        self.keepalive = self.size <= KEEPALIVE_BUDGET
        self.credentials = "include"
        """`fetch`'s credentials: "omit" in anonymous modes, so no cookie goes along."""
        self.read_body = False
        """Whether the sender wants the answer's body (`send` then passes it as text)."""


def utf8_length(text: str) -> int:
    """`text`'s length in UTF-8 bytes, counted per code point where `str.encode` is missing
    (a JS string's surrogate pair counts 2 + 2)."""
    try:
        return len(text.encode("utf-8"))
    except Exception:  # no str.encode (compiled to JS), or a lone surrogate
        size = 0
        for ch in text:
            code = ord(ch)
            if code < 0x80:
                size += 1
            elif code < 0x800 or 0xD800 <= code <= 0xDFFF:
                size += 2
            elif code < 0x10000:
                size += 3
            else:
                size += 4
        return size


def should_retry(status: int, retry: "Any" = (), dont_retry: "Any" = ()) -> bool:
    """Whether an answer keeps the events for a later attempt (else 2xx acknowledges and
    anything else drops them). Defaults: network errors, 408, 425, 429 and 5xx retry."""
    if status in dont_retry:
        return False
    if status in retry or status in _RETRY_ALWAYS:
        return True
    return 500 <= status <= 599


def pixel_url(collector_url: str) -> str:
    """`/i` beside the collector's path: `/collect` -> `/i`, `https://c.example/t/collect`
    -> `https://c.example/t/i`."""
    base = collector_url.split("?", 1)[0].split("#", 1)[0]
    scheme = base.find("//")
    cut = base.rfind("/")
    if scheme >= 0 and cut <= scheme + 1:  # "https://host" with no path
        return base + "/i"
    if cut < 0:
        return "/i"
    return base[: cut + 1] + "i"


def query_string(event: "Dict[str, Any]") -> str:
    """One event as query parameters: strings as they are, anything else as JSON."""
    parts = []
    for key in sorted(event):
        value = event[key]
        text = value if isinstance(value, str) else json.dumps(value)
        parts.append(percent_encode(key, _QUERY_SAFE) + "=" + percent_encode(text, _QUERY_SAFE))
    return "&".join(parts)


def batch_requests(
    method: str,
    url: str,
    entries: "List[Any]",
    headers: "Dict[str, str]",
    content_type: str = JSON,
) -> "List[Request]":
    """Requests for `entries` (objects with `id`, `event` and `wire`, the event's JSON):
    `get` gives one `/i` request per event; otherwise JSON lists of at most
    `MAX_BATCH_EVENTS` events and `KEEPALIVE_BUDGET` UTF-8 bytes (a larger event alone)."""
    if method == "get":
        pixel = pixel_url(url)
        joiner = "&" if "?" in pixel else "?"
        return [
            Request("GET", pixel + joiner + query_string(e.event), None, None, headers, [e.id])
            for e in entries
        ]
    requests = []
    bodies: "List[str]" = []
    ids: "List[str]" = []
    size = 2
    for entry in entries:
        extra = utf8_length(entry.wire) + 1
        if bodies and (len(bodies) >= MAX_BATCH_EVENTS or size + extra > KEEPALIVE_BUDGET):
            requests.append(
                Request("POST", url, "[" + ",".join(bodies) + "]", content_type, headers, ids)
            )
            bodies, ids, size = [], [], 2
        bodies.append(entry.wire)
        ids.append(entry.id)
        size += extra
    if bodies:
        requests.append(
            Request("POST", url, "[" + ",".join(bodies) + "]", content_type, headers, ids)
        )
    return requests
