"""Assertions on what a page's tracking sent and stored, with failure messages that say what
leaked, in which request (or storage entry), under which mode.

Identifiers are found two ways: by field (``anonymousId``, ``userId``, tokens, traits,
``groupId``, a session the mode forbids, an IP under server anonymisation) and by value
(every identifier the test, the page's storage or earlier requests revealed, also when
URL-encoded, base64-encoded, hashed with md5/sha1/sha256 or stripped of a uuid's dashes, and
any uuid-shaped or ``anonymous-`` token value that is not the event's own messageId or session).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from .capture import Capture, CapturedEvent, CapturedRequest
from .state import CONSENT_KEY, SESSION_KEYS, USER_KEYS, PageState, decode_stored

__all__ = [
    "IDENTIFIER_FIELDS",
    "assert_delivered_once",
    "assert_no_identifier_leaked",
    "assert_nothing_stored",
    "assert_server_anonymisation",
    "known_identifiers",
]

IDENTIFIER_FIELDS = (
    "anonymousId",
    "userId",
    "userToken",
    "authenticatedUserToken",
    "traits",
    "groupId",
)
"""Event fields holding user identifiers: anonymous modes send none of them."""

_ID_VALUE_FIELDS = ("anonymousId", "userId", "userToken", "authenticatedUserToken", "groupId")
_MIN_SECRET = 4  # shorter values would match everywhere
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_CONSENT_WORDS = ("granted", "denied")
NETWORK_COOKIE = "trk_nuid"
"""The collector's network-user cookie: an anonymous request must not carry it."""
_OWN_EVENT = "this event's messageId or session id"
_OWN_REQUEST = "the messageId or session id of an event in this request"
_OWN_STORAGE = "the current session id"


@dataclass
class _Finding:
    where: str
    """The request (or ``storage``) the finding belongs to, for grouping."""
    what: str


def _mode_line(state: PageState | None, headline: str) -> str:
    if state is None:
        return headline + ":"
    return "%s under %s (page %s):" % (headline, state.describe_mode(), state.page_url)


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = json.dumps(text) if isinstance(value, str) else text
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _report(headline: str, findings: list[_Finding]) -> str:
    lines = [headline]
    current = None
    for finding in findings:
        if finding.where != current:
            current = finding.where
            lines.append("  " + current)
        lines.append("    - " + finding.what)
    return "\n".join(lines)


# -- identifiers the test knows about ----------------------------------------------------------


def known_identifiers(
    state: PageState | None = None,
    capture: Capture | None = None,
    identifiers: Iterable[str] = (),
) -> dict[str, str]:
    """Identifier values to look for, each with where it came from: the test's own,
    those in the page's storage and memory, and those earlier requests carried."""
    found: dict[str, str] = {}

    def add(value: Any, origin: str) -> None:
        if isinstance(value, str) and len(value) >= _MIN_SECRET and value not in found:
            found[value] = origin

    for value in identifiers:
        add(value, "an identifier the test named")
    if state is not None:
        for concept in ("userToken", "anonymousId", "userId", "groupId"):
            name = state.keys.get(concept, concept)
            add(state.cookie(concept), "the %s stored in cookie %s" % (concept, name))
            add(state.stored(concept), "the %s stored in localStorage %s" % (concept, name))
        add(state.user_token, "the page's user token")
        add(state.authenticated_user_token, "the page's authenticated user token")
        add(state.anonymous_id, "the page's anonymousId")
        add(state.user_id, "the page's userId")
        add(state.group_id, "the page's groupId")
        add(state.access_token, "the page's access token")
        for how, value in state.given:
            add(value, how)
    if capture is not None:
        for request in capture.requests:
            for event in request.events:
                for key in _ID_VALUE_FIELDS:
                    add(event.get(key), "the %s sent in request #%d" % (key, request.index))
    return found


_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")


@functools.lru_cache(maxsize=256)
def _disguises(secret: str) -> tuple[tuple[str, str], ...]:
    """(form, how) pairs a page might send ``secret`` as, matched case-insensitively:
    URL-encoded, a uuid without its dashes, or its md5/sha1/sha256 hex digest (a hashed
    identifier still identifies the visitor)."""
    raw = secret.encode("utf-8")
    forms = [(quote(secret, safe=""), " (URL-encoded)")]
    dashless = secret.replace("-", "")
    if dashless != secret and len(dashless) >= 16:
        forms.append((dashless, " (without its dashes)"))
    for name in ("md5", "sha1", "sha256"):
        forms.append((hashlib.new(name, raw).hexdigest(), " (as its %s hash)" % name))
    return tuple((form.lower(), how) for form, how in forms)


def _base64_decoded(text: str) -> Iterator[str]:
    """The text inside every base64-looking run of ``text`` (standard or URL-safe alphabet)."""
    for run in _BASE64.findall(text):
        token = run.rstrip("=").replace("+", "-").replace("/", "_")
        try:
            decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, binascii.Error):
            continue
        yield decoded.decode("utf-8", "ignore")


def _contains(text: str, lowered: str, decoded: list[str], secret: str) -> str | None:
    """How ``text`` holds ``secret``: as is, disguised (see :func:`_disguises`; ``lowered``
    is the text in lower case) or base64-encoded (``decoded``: the text's base64 runs,
    decoded); None when it does not."""
    if secret in text:
        return ""
    for form, how in _disguises(secret):
        if form in lowered:
            return how
    if any(secret in plain for plain in decoded):
        return " (base64-encoded)"
    return None


def _match(
    text: str, secrets: dict[str, str], allowed: set[str], own: str, guess: bool = True
) -> str | None:
    """Why ``text`` holds an identifier, or None; ``own`` names the allowed ids; ``guess``:
    also flag values shaped like identifiers (uuids, emails), not only known ones."""
    lowered = text.lower()
    decoded = list(_base64_decoded(text))
    for secret, origin in secrets.items():
        how = None if secret in allowed else _contains(text, lowered, decoded, secret)
        if how is not None:
            return "contains %s%s" % (origin, how)
    if not guess:
        return None
    for email in _EMAIL.findall(text):
        if email not in allowed:
            return "holds %s, which looks like an email address" % email
    for candidate in _UUID.findall(text):
        if candidate not in allowed and ("anonymous-" + candidate) not in allowed:
            return "holds %s, which looks like a visitor identifier (a uuid that is not %s)" % (
                candidate,
                own,
            )
    return None


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) for every string (keys included) inside a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            sub = "%s.%s" % (path, key) if path else str(key)
            if isinstance(key, str):
                yield sub + " (key)", key
            yield from _walk(item, sub)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, "%s[%d]" % (path, i))
    elif isinstance(value, str):
        yield path, value


def _session_of(event: dict[str, Any]) -> tuple[str, Any] | None:
    if "session" in event:
        return "session", event["session"]
    context = event.get("context")
    if isinstance(context, dict) and "session" in context:
        return "context.session", context["session"]
    return None


def _field_leaks(event: dict[str, Any], state: PageState | None) -> tuple[list[str], set[str]]:
    """Identifier fields the mode forbids on ``event``: (messages, paths to skip)."""
    messages: list[str] = []
    skip: set[str] = set()
    for key in IDENTIFIER_FIELDS:
        if key in event:
            messages.append("carries %s = %s" % (key, _short(event[key])))
            skip.add(key)
    context = event.get("context")
    if isinstance(context, dict):
        if "traits" in context:
            messages.append("carries context.traits = %s" % _short(context["traits"]))
            skip.add("context.traits")
        if state is not None and state.server_anonymisation and "ip" in context:
            messages.append(
                "carries context.ip = %s, but server anonymisation keeps no IP"
                % _short(context["ip"])
            )
            skip.add("context.ip")
    session = _session_of(event)
    if session is not None and (state is None or not state.session_tracking):
        messages.append(
            "carries a session (%s = %s), but this mode keeps none"
            % (session[0], _short(session[1]))
        )
        skip.add(session[0])
    return messages, skip


def _skipped(path: str, skip: set[str]) -> bool:
    return any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in skip)


def _allowed_values(event: dict[str, Any], state: PageState | None) -> set[str]:
    """The event's own ids that may look like identifiers: its messageId, its session."""
    allowed = set()
    if isinstance(event.get("messageId"), str):
        allowed.add(event["messageId"])
    session = _session_of(event)
    if (
        session is not None
        and isinstance(session[1], dict)
        and (state is None or state.session_tracking)
    ):
        sid = session[1].get("id")
        if isinstance(sid, str):
            allowed.add(sid)
    return allowed


def _request_findings(
    request: CapturedRequest,
    state: PageState | None,
    secrets: dict[str, str],
    allow: set[str],
    check_cookie_header: bool,
) -> list[_Finding]:
    where = request.describe()
    findings: list[_Finding] = []
    request_allowed = set(allow)
    for position, event in enumerate(request.events, 1):
        label = CapturedEvent(event, request, position).describe()
        messages, skip = _field_leaks(event, state)
        for message in messages:
            findings.append(_Finding(where, "%s %s" % (label, message)))
        allowed = _allowed_values(event, state) | allow
        request_allowed |= allowed
        for path, text in _walk(event, ""):
            if _skipped(path.replace(" (key)", ""), skip) or path == "messageId":
                continue
            why = _match(text, secrets, allowed, _OWN_EVENT)
            if why:
                findings.append(
                    _Finding(where, "%s: %s = %s %s" % (label, path, _short(text), why))
                )
    if request.decode_error:
        why = _match(request.body or "", secrets, request_allowed, _OWN_REQUEST)
        if why:
            findings.append(_Finding(where, "the body (%s) %s" % (request.decode_error, why)))
    if request.method != "GET":  # a pixel's query string is its event, checked above
        url = unquote(unquote(request.url))
        why = _match(url, secrets, request_allowed, _OWN_REQUEST)
        if why:
            findings.append(_Finding(where, "the URL %s" % why))
    for name, value in sorted(request.headers.items()):
        if name == "cookie" and not check_cookie_header:
            findings.extend(_cookie_findings(where, value, state, secrets, request_allowed))
            continue
        why = _match(unquote(value), secrets, request_allowed, _OWN_REQUEST)
        if why:
            findings.append(_Finding(where, "header %s: %s %s" % (name, _short(value), why)))
    return findings


def _cookie_findings(
    where: str,
    header: str,
    state: PageState | None,
    secrets: dict[str, str],
    allowed: set[str],
) -> list[_Finding]:
    """Identifiers in the ``Cookie`` header: anonymous requests go without credentials, so
    the tracker's own identifier cookies (which the mode leaves in the jar) and the
    collector's network cookie must not ride along; other cookies are checked for known
    identifiers."""
    keys = state.keys if state is not None else {}
    carriers = {keys.get(k, k) for k in USER_KEYS + SESSION_KEYS} | {NETWORK_COOKIE}
    findings = []
    for pair in header.split(";"):
        name, _, value = pair.strip().partition("=")
        if not name:
            continue
        if name in carriers:
            findings.append(
                _Finding(
                    where,
                    "header cookie: %s=%s is sent (an anonymous request must omit credentials)"
                    % (name, _short(value)),
                )
            )
            continue
        why = _match(unquote(value), secrets, allowed, _OWN_REQUEST, guess=False)
        if why:
            findings.append(_Finding(where, "header cookie: %s=%s %s" % (name, _short(value), why)))
    return findings


def assert_no_identifier_leaked(
    capture: Capture,
    state: PageState | None = None,
    *,
    identifiers: Iterable[str] = (),
    allow: Iterable[str] = (),
    since: int = 0,
    check_cookie_header: bool = False,
    require_requests: bool = True,
) -> None:
    """No user identifier in any captured event, URL or header, and the page in an
    anonymous mode.

    ``state``: the page's state (read from the capture's page when omitted); ``identifiers``:
    values the test knows identify the visitor (a login, an email); ``allow``: values that
    look like identifiers but are not (a product uuid in a URL); ``since``: check only the
    requests after ``capture.mark()``. The ``Cookie`` header must carry none of the tracker's
    identifier cookies nor the collector's ``trk_nuid`` (anonymous requests omit
    credentials), and no other cookie a known identifier; ``check_cookie_header`` checks the
    whole header like any other (any value that looks like an identifier).
    """
    if state is None:
        from .state import read_state

        state = read_state(capture.page, capture.global_name)
    requests = capture.since(since)
    if require_requests and not requests:
        raise AssertionError(
            _mode_line(state, "no request reached the collector to check")
            + "\n  call tracker_capture.flush() (or wait_for_events()) first, or pass "
            "require_requests=False"
        )
    secrets = known_identifiers(state, capture, identifiers)
    allowed = set(allow)
    findings: list[_Finding] = []
    for request in requests:
        findings.extend(_request_findings(request, state, secrets, allowed, check_cookie_header))
    if not state.anonymous:
        headline = _mode_line(
            state,
            "expected an anonymous mode, but the tracker is not anonymous: events carry user "
            "identifiers",
        )
        raise AssertionError(_report(headline, findings) if findings else headline)
    if findings:
        count = len(findings)
        headline = _mode_line(
            state,
            "user identifiers leaked to the collector (%d finding%s)"
            % (count, "" if count == 1 else "s"),
        )
        raise AssertionError(_report(headline, findings))


# -- storage ---------------------------------------------------------------------------------


def _storage_rule(concept: str, place: str, state: PageState) -> str | None:
    """Why the mode and strategy forbid ``concept`` in ``place`` (cookie/localStorage)."""
    strategy = state.strategy
    if concept == CONSENT_KEY:
        return None
    if strategy == "none":
        return "stateStorageStrategy=none keeps everything in memory"
    if strategy == "cookie" and place == "localStorage":
        return "stateStorageStrategy=cookie keeps nothing in localStorage"
    if strategy == "localStorage" and place == "cookie":
        return "stateStorageStrategy=localStorage sets no cookie"
    if state.anonymous and concept in USER_KEYS:
        return "anonymous modes store no user identifier"
    if state.anonymous and concept in SESSION_KEYS and not state.session_tracking:
        return "this anonymous mode keeps no session"
    return None


def _places(state: PageState) -> Iterator[tuple[str, str, str]]:
    for name, value in sorted(state.all_cookies.items()):
        yield "cookie", name, value
    for name, value in sorted(state.all_local_storage.items()):
        yield "localStorage", name, value
    for name, value in sorted(state.all_session_storage.items()):
        yield "sessionStorage", name, value


def assert_nothing_stored(
    state: PageState,
    *,
    baseline: PageState | None = None,
    capture: Capture | None = None,
    identifiers: Iterable[str] = (),
    allow: Iterable[str] = (),
) -> None:
    """Nothing in cookies or localStorage where the mode and storage strategy forbid it,
    and (in anonymous modes) no identifier copied by the page into storage of its own.

    ``baseline``: the state read before the mode changed; entries it already held with the
    same value are tolerated (anonymous modes leave earlier identifiers where they are, until
    ``clearUserData()``). ``capture``: identifiers seen in its requests are looked for too.
    """
    by_name = {name: concept for concept, name in state.keys.items()}
    before: set[tuple[str, str, str]] = set(_places(baseline)) if baseline is not None else set()
    secrets = known_identifiers(baseline, capture, identifiers)
    for value, origin in known_identifiers(state, None, ()).items():
        secrets.setdefault(value, origin)
    allowed = set(allow)
    findings: list[_Finding] = []
    for place, name, value in _places(state):
        entry = (place, name, value)
        if entry in before:
            continue
        concept = by_name.get(name)
        shown = "%s %s = %s" % (place, name, _short(value))
        if concept is not None and place != "sessionStorage":
            if concept == CONSENT_KEY:
                word = decode_stored(value)
                if word not in _CONSENT_WORDS:
                    findings.append(
                        _Finding(
                            "storage",
                            "%s: the consent cookie must hold only 'granted' or 'denied'" % shown,
                        )
                    )
                continue
            rule = _storage_rule(concept, place, state)
            if rule:
                findings.append(_Finding("storage", "%s (%s): %s" % (shown, concept, rule)))
            continue
        if not state.anonymous:
            continue
        own = {state.session_id} if state.session_tracking and state.session_id else set()
        why = _match(unquote(value), secrets, allowed | own, _OWN_STORAGE)
        if why:
            findings.append(
                _Finding(
                    "storage",
                    "%s (not a key of the tracker, written by the page) %s" % (shown, why),
                )
            )
    if findings:
        headline = _mode_line(state, "stored where the mode and storage strategy forbid it")
        raise AssertionError(_report(headline, findings))


# -- delivery --------------------------------------------------------------------------------


def assert_delivered_once(
    capture: Capture,
    message_ids: Iterable[str | None] | None = None,
    *,
    state: PageState | None = None,
) -> None:
    """Every event reached the collector exactly once (by ``messageId``): no event
    acknowledged twice, each of ``message_ids`` (what ``track``/``page`` returned) among the
    delivered ones, and with ``state`` nothing left waiting in the page's buffer.

    A copy sent by ``sendBeacon`` on page exit and sent again (and acknowledged) by the next
    page is the tracker's documented at-least-once path, deduplicated by the collector: it
    does not count as a duplicate."""
    acknowledged: dict[str, list[CapturedEvent]] = {}
    seen: set[str] = set()
    problems: list[_Finding] = []
    for event in capture.events:
        if event.message_id is None:
            problems.append(
                _Finding(event.request.describe(), "%s has no messageId" % event.describe())
            )
            continue
        seen.add(event.message_id)
        if event.request.acknowledged:
            acknowledged.setdefault(event.message_id, []).append(event)
    for seen_id, copies in acknowledged.items():
        if len(copies) > 1:
            where = ", ".join(
                "request #%d event %d" % (c.request.index, c.position) for c in copies
            )
            problems.append(
                _Finding(
                    "duplicates",
                    "messageId %s acknowledged %d times: %s" % (seen_id, len(copies), where),
                )
            )
    buffered = {e.get("messageId"): e for e in (state.buffered_events if state is not None else [])}
    for message_id in message_ids or ():
        if message_id is None:
            problems.append(
                _Finding(
                    "missing",
                    "a call returned no messageId (the tracker refused it; "
                    "see the console warning)",
                )
            )
        elif message_id not in seen:
            if message_id in buffered:
                why = "still waits in the page's buffer"
            elif state is not None:
                why = "and is not in the page's buffer either: lost"
            else:
                why = "(pass state= to see whether it still waits in the page's buffer)"
            problems.append(
                _Finding(
                    "missing", "messageId %s never reached the collector %s" % (message_id, why)
                )
            )
    if state is not None and buffered and not problems:
        problems.append(
            _Finding(
                "missing",
                "%d event%s still wait in the page's buffer: %s"
                % (
                    len(buffered),
                    "" if len(buffered) == 1 else "s",
                    ", ".join(str(k) for k in buffered),
                ),
            )
        )
    if not seen and not problems:
        problems.append(
            _Finding(
                "missing", "no event reached the collector (call tracker_capture.flush() first?)"
            )
        )
    if problems:
        headline = _mode_line(state, "events were not delivered exactly once")
        raise AssertionError(
            _report(headline, problems) + "\ncaptured:\n" + (capture.summary() or "  (nothing)")
        )


def assert_server_anonymisation(capture: Capture, *, since: int = 0) -> None:
    """Every request to the collector carries ``SP-Anonymous: *`` (the collector then keeps
    no IP and sets no network cookie)."""
    requests = capture.since(since)
    if not requests:
        raise AssertionError(
            "no request reached the collector to check for SP-Anonymous: * (call "
            "tracker_capture.flush() first?)"
        )
    findings = []
    for request in requests:
        value = request.header("sp-anonymous")
        if value == "*":
            continue
        what = (
            "has no SP-Anonymous header"
            if value is None
            else ("has SP-Anonymous: %s instead of *" % value)
        )
        if request.transport == "beacon":
            what += " (sendBeacon cannot send headers: this mode must send by fetch)"
        findings.append(_Finding(request.describe(), what))
    if findings:
        raise AssertionError(
            _report(
                "%d of %d requests to the collector lack SP-Anonymous: * under server "
                "anonymisation:" % (len(findings), len(requests)),
                findings,
            )
        )
