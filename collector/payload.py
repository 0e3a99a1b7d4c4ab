"""Event payloads read safely: bounded body size, strict UTF-8, bounded JSON depth, checked shape.

Everything here raises :class:`Problem` (a status and a message for the client) on bad
input, never anything else, so no request can turn into a 500. JSON nesting is measured
after parsing without recursion, and input deep enough to exhaust the parser's recursion
limit is answered as too deep, not as a crash.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

from collector.endpoints import Problem
from tracker.transport import STRING_FIELDS

__all__ = [
    "STRING_FIELDS",
    "check_events",
    "encode_event",
    "events_from_body",
    "event_from_query",
    "parse_json",
    "read_body",
    "session_of",
]

MAX_MESSAGE_ID = 100
"""Longest ``messageId`` accepted, in characters."""
MAX_IDENTIFIER = 500
"""Longest ``anonymousId``/``userId``/``type``/``session.id``: indexed columns have a row size
limit in PostgreSQL (about 2700 bytes), and 500 characters stay under it in any UTF-8."""


_JSONISH = re.compile(r"[\[{]|-?\d|true$|false$|null$")


_CLOSE = {"Connection": "close"}
"""On a refused body: the server closes the connection instead of draining the rest."""


async def read_body(
    chunks: AsyncIterator[bytes], content_length: str | None, max_bytes: int
) -> bytes:
    """The request body, read chunk by chunk and abandoned as soon as it passes ``max_bytes``
    (answered 413 with ``Connection: close``, so the rest is never read)."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise Problem(400, "Content-Length is not a number") from None
        if declared > max_bytes:
            raise Problem(
                413, f"body of {declared} bytes is over the {max_bytes}-byte limit", _CLOSE
            )
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise Problem(413, f"body is over the {max_bytes}-byte limit", _CLOSE)
        parts.append(chunk)
    return b"".join(parts)


def json_depth(value: Any, limit: int) -> int:
    """How deeply ``value`` nests lists and dicts, counted without recursion up to ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, list | dict) else []
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, list | dict):
                stack.append((child, depth + 1))
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def parse_json(text: str, max_depth: int) -> Any:
    """Strict JSON nested at most ``max_depth`` deep, or :class:`Problem`: no NaN, no
    Infinity, no number overflowing to it (a stored event must encode back to JSON).

    The parser stops input nested deeper than the interpreter's recursion limit with a
    ``RecursionError`` (answered as too deep, like any depth past ``max_depth``).
    """
    too_deep = Problem(400, f"JSON nested deeper than {max_depth} levels")
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:
        raise Problem(400, f"invalid JSON: {exc}") from None
    if json_depth(value, max_depth) > max_depth:
        raise too_deep
    return value


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, f"body is not UTF-8 (byte {exc.start})") from None


def events_from_body(body: bytes, max_depth: int, max_events: int) -> list[dict[str, Any]]:
    """The events of a ``/collect`` body: one event object or a list of them, checked."""
    if not body.strip():
        raise Problem(400, "empty body: send an event object or a list of events")
    parsed = parse_json(_text(body).removeprefix("\ufeff"), max_depth)
    events = parsed if isinstance(parsed, list) else [parsed]
    if len(events) > max_events:
        raise Problem(413, f"{len(events)} events in one request; at most {max_events}")
    return check_events(events)


def _query_value(key: str, value: str, max_depth: int) -> Any:
    """A ``/i`` value: strings travel raw, anything else as JSON (tracker/transport.py)."""
    if key in STRING_FIELDS or not _JSONISH.match(value):
        return value
    try:
        return parse_json(value, max_depth)
    except Problem as bad:
        if value[:1] in "[{":
            raise Problem(400, f"parameter {key!r}: {bad.error}") from None
        return value


def event_from_query(query: bytes, max_depth: int, max_bytes: int) -> dict[str, Any]:
    """The one event a ``GET /i`` carries in its query string, checked."""
    if len(query) > max_bytes:
        raise Problem(413, f"query is over the {max_bytes}-byte limit")
    try:
        pairs = parse_qsl(
            query.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except UnicodeDecodeError:
        raise Problem(400, "query is not UTF-8") from None
    except ValueError as exc:
        raise Problem(400, f"bad query: {exc}") from None
    event: dict[str, Any] = {}
    for key, value in pairs:
        if key in event:
            raise Problem(400, f"parameter {key!r} given twice")
        event[key] = _query_value(key, value, max_depth - 1)
    return check_events([event])[0]


def _identifier(value: Any, name: str, where: str, longest: int) -> None:
    """A string stored in its own (indexed) column: no NUL, bounded length."""
    if not isinstance(value, str):
        raise Problem(400, f"{where}: {name} must be a string")
    if "\x00" in value:
        raise Problem(400, f"{where}: {name} contains a NUL character")
    if len(value) > longest:
        raise Problem(400, f"{where}: {name} is longer than {longest} characters")


def check_events(events: list[Any]) -> list[dict[str, Any]]:
    """``events`` if every one is a valid event; else :class:`Problem` naming the first fault."""
    if not events:
        raise Problem(400, "no events: send an event object or a non-empty list")
    for index, event in enumerate(events):
        where = f"event {index}"
        if not isinstance(event, dict):
            raise Problem(400, f"{where} is not an object")
        message_id = event.get("messageId")
        if message_id is None:
            raise Problem(400, f"{where}: messageId is missing")
        if not isinstance(message_id, str) or not message_id:
            raise Problem(400, f"{where}: messageId must be a non-empty string")
        _identifier(message_id, "messageId", where, MAX_MESSAGE_ID)
        for key in ("type", "anonymousId", "userId"):
            if event.get(key) is not None:
                _identifier(event[key], key, where, MAX_IDENTIFIER)
        _check_context(event, where)
    return events


def encode_event(event: dict[str, Any], where: str) -> str:
    """The event as stored (compact JSON), or :class:`Problem` if it cannot be stored as
    UTF-8 text (a lone surrogate such as ``"\\ud800"`` parses but has no UTF-8 form)."""
    text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Problem(400, f"{where}: a string holds a lone UTF-16 surrogate") from None
    return text


def session_of(event: dict[str, Any]) -> Any:
    """The event's session: ``context.session`` as the tracker sends it, or a top-level one."""
    context = event.get("context")
    if isinstance(context, dict) and "session" in context:
        return context["session"]
    return event.get("session")


def _check_context(event: dict[str, Any], where: str) -> None:
    context = event.get("context")
    if context is not None and not isinstance(context, dict):
        raise Problem(400, f"{where}: context must be an object")
    context = context or {}
    ip = context.get("ip")
    if ip is not None:
        if not isinstance(ip, str):
            raise Problem(400, f"{where}: context.ip must be a string")
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise Problem(400, f"{where}: context.ip is not an IP address") from None
    session = session_of(event)
    if session is not None:
        if not isinstance(session, dict):
            raise Problem(400, f"{where}: session must be an object")
        if session.get("id") is not None:
            _identifier(session["id"], "session.id", where, MAX_IDENTIFIER)
