"""Where tracker state lives: one small interface, four implementations.

A store has `get(key) -> str | None`, `set(key, text, max_age_s) -> bool` and
`remove(key)`. `CookieStorage` and `LocalStorage` wrap whatever the host gives
(calls to it may throw: blocked, full or missing storage); they warn once and
carry on. `StateStore` combines them per the storage strategy with an
in-memory layer underneath, so the tracker always has a working value.
"""

import json

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional


__all__ = [
    "COOKIE",
    "LOCAL_STORAGE",
    "MAX_VALUE_CHARS",
    "STRATEGIES",
    "CookieStorage",
    "LocalStorage",
    "MemoryStorage",
    "Slot",
    "StateStore",
    "cookie_assignment",
    "decode_value",
    "http_date",
    "parse_cookies",
    "percent_decode",
    "percent_encode",
]

COOKIE = "cookie"
LOCAL_STORAGE = "localStorage"
STRATEGIES = {
    "cookieAndLocalStorage": (COOKIE, LOCAL_STORAGE),
    "cookie": (COOKIE,),
    "localStorage": (LOCAL_STORAGE,),
    "none": (),
}
MAX_VALUE_CHARS = 16384
"""Anything larger in a cookie or localStorage key of ours is garbage, not state."""

# Cookie-octets (RFC 6265) minus '%', which we use for escapes.
_COOKIE_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&'()*+-./:<=>?@[]^_`{|}~"
)
_HEXDIGITS = "0123456789ABCDEF"
_HEX_ANY = "0123456789abcdefABCDEF"
_DAYS = ("Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def percent_encode(text: str, safe: "Any" = None) -> str:
    """Escape what a cookie value (or, given `safe`, a URL part) may not hold, byte-wise as
    UTF-8 (like encodeURIComponent)."""
    keep = _COOKIE_SAFE if safe is None else safe
    out = []
    for byte in text.encode("utf-8"):
        if byte < 128 and chr(byte) in keep:
            out.append(chr(byte))
        else:
            out.append("%" + _HEXDIGITS[byte >> 4] + _HEXDIGITS[byte & 15])
    return "".join(out)


def percent_decode(text: str) -> str:
    """Undo `%XX` escapes; raises ValueError on bad escapes or bytes that are not UTF-8."""
    if "%" not in text:
        return text
    raw: "List[int]" = []
    i = 0
    n = len(text)
    while i < n:
        at = text.find("%", i)
        if at < 0:
            at = n
        if at > i:
            raw.extend(text[i:at].encode("utf-8"))
        if at == n:
            break
        digits = text[at + 1 : at + 3]
        if len(digits) != 2 or digits[0] not in _HEX_ANY or digits[1] not in _HEX_ANY:
            raise ValueError("bad escape %r" % text[at : at + 3])
        raw.append(int(digits, 16))
        i = at + 3
    try:
        return bytes(raw).decode("utf-8")
    except ValueError as exc:  # UnicodeDecodeError; the compiled build raises ValueError
        raise ValueError("not UTF-8: %s" % exc)  # noqa: B904 - MicroPython has no chaining


def parse_cookies(header: str) -> "dict[str, str]":
    """`document.cookie` text to {name: raw value}; the first cookie of a name wins."""
    jar: "Dict[str, str]" = {}
    for part in header.split(";"):
        name, sep, value = part.partition("=")
        name = name.strip()
        if sep and name and name not in jar:
            jar[name] = value.strip()
    return jar


def http_date(epoch_ms: float) -> str:
    """An RFC 1123 date for a cookie's Expires, computed without the platform's time module."""
    secs = int(epoch_ms // 1000)
    days, rem = divmod(secs, 86400)
    weekday = _DAYS[days % 7]
    # Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return "%s, %02d %s %04d %02d:%02d:%02d GMT" % (
        weekday,
        day,
        _MONTHS[month - 1],
        year,
        rem // 3600,
        rem % 3600 // 60,
        rem % 60,
    )


def cookie_assignment(
    name: str,
    value: str,
    max_age_s: "Optional[int]",
    now_ms: float,
    path: str = "/",
    domain: "Optional[str]" = None,
    same_site: "Optional[str]" = "Lax",
    secure: bool = False,
) -> str:
    """The `document.cookie = ...` text that stores `value` (already encoded) for `max_age_s`.

    Both Max-Age and Expires are written, as browsers that ignore one honour the other;
    `max_age_s` None makes a session cookie, 0 or less deletes it.
    """
    parts = [name + "=" + value]
    if max_age_s is not None:
        age = max_age_s if max_age_s > 0 else 0
        parts.append("Max-Age=%d" % age)
        parts.append("Expires=" + http_date(now_ms + age * 1000 if age else 0))
    parts.append("Path=" + (path or "/"))
    if domain:
        parts.append("Domain=" + domain)
    if same_site:
        parts.append("SameSite=" + same_site)
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def decode_value(text: str) -> "Any":
    """The state value stored as `text`: JSON when it looks like JSON, else the text itself.

    Reads both plain ids and JSON-quoted ones (analytics.js writes `"<uuid>"`).
    Raises ValueError for text that claims to be JSON but is not.
    """
    if text[:1] in ('"', "{", "["):
        return json.loads(text)
    return text


class _Guarded:
    """Shared failure handling: a storage call that raises warns once and is treated as absent."""

    label = "storage"

    def __init__(self, warn: "Callable[[str], None]") -> None:
        self._warn = warn
        self._warned = False

    def _failure(self, action: str, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            self._warn(
                "%s is not usable (%s failed: %s); keeping state in memory instead"
                % (self.label, action, _describe(exc))
            )


class MemoryStorage:
    """State kept for this page view only: the fallback under every strategy."""

    def __init__(self) -> None:
        self._items: "Dict[str, str]" = {}

    def get(self, key: str) -> "Optional[str]":
        return self._items.get(key)

    def set(self, key: str, text: str, max_age_s: "Optional[int]" = None) -> bool:
        self._items[key] = text
        return True

    def remove(self, key: str) -> None:
        self._items.pop(key, None)


class CookieStorage(_Guarded):
    """Cookies through a `document.cookie`-like jar (`read() -> str`, `write(text)`)."""

    label = "document.cookie"

    def __init__(
        self,
        jar: "Any",
        now_ms: "Callable[[], float]",
        warn: "Callable[[str], None]",
    ) -> None:
        _Guarded.__init__(self, warn)
        self._jar = jar
        self._now_ms = now_ms
        self._raw: "Optional[str]" = None
        self._parsed: "Dict[str, str]" = {}
        self.path = "/"
        self.domain: "Optional[str]" = None
        self.same_site: "Optional[str]" = "Lax"
        self.secure = False
        self.steady = False
        self._fresh = False

    def text(self) -> "Optional[str]":
        """Read `document.cookie` once; `value()` then answers from this reading.

        Within `steady_reads()` (one tracker call) and with nothing written since,
        the last reading is reused instead of asking the browser again.
        """
        if self._jar is None:
            return None
        if self.steady and self._fresh:
            return self._raw
        try:
            raw = self._jar.read()
        except Exception as exc:
            self._failure("reading", exc)
            raw = None
        if not isinstance(raw, str):
            self._raw = None
            self._parsed = {}
            return None
        if raw != self._raw:
            self._raw = raw
            self._parsed = parse_cookies(raw)
        self._fresh = True
        return raw

    def steady_reads(self) -> "CookieStorage":
        """`with cookies.steady_reads():` reuse one reading of `document.cookie` for the
        whole block, until a cookie is written."""
        return self

    def __enter__(self) -> None:
        self.steady = True
        self._fresh = False

    def __exit__(self, *exc: "Any") -> None:
        self.steady = False

    def _cookies(self) -> "dict[str, str]":
        self.text()
        return self._parsed

    def value(self, key: str) -> "Optional[str]":
        """The decoded value of cookie `key` as of the last `text()` reading."""
        value = self._parsed.get(key)
        return None if value is None else percent_decode(value)

    def get(self, key: str) -> "Optional[str]":
        self.text()
        return self.value(key)

    def set(self, key: str, text: str, max_age_s: "Optional[int]" = None) -> bool:
        return self._write(key, percent_encode(text), max_age_s)

    def remove(self, key: str) -> None:
        if key in self._cookies():
            self._write(key, "", 0)

    def _write(self, key: str, encoded: str, max_age_s: "Optional[int]") -> bool:
        if self._jar is None:
            return False
        text = cookie_assignment(
            key,
            encoded,
            max_age_s,
            self._now_ms(),
            self.path,
            self.domain,
            self.same_site,
            self.secure or self.same_site == "None",
        )
        self._fresh = False
        try:
            self._jar.write(text)
        except Exception as exc:
            self._failure("writing", exc)
            return False
        return True


class LocalStorage(_Guarded):
    """`window.localStorage` (get_item / set_item / remove_item); expiry is not its job."""

    label = "localStorage"

    def __init__(self, backend: "Any", warn: "Callable[[str], None]") -> None:
        _Guarded.__init__(self, warn)
        self._backend = backend

    def get(self, key: str) -> "Optional[str]":
        if self._backend is None:
            return None
        try:
            value = self._backend.get_item(key)
        except Exception as exc:
            self._failure("reading", exc)
            return None
        return value if isinstance(value, str) else None

    def set(self, key: str, text: str, max_age_s: "Optional[int]" = None) -> bool:
        if self._backend is None:
            return False
        try:
            self._backend.set_item(key, text)
        except Exception as exc:
            self._failure("writing", exc)
            return False
        return True

    def remove(self, key: str) -> None:
        if self._backend is None:
            return
        try:
            self._backend.remove_item(key)
        except Exception as exc:
            self._failure("removing", exc)


class Slot:
    """One piece of tracker state: its storage key, where it may live, and how long.

    `check(value)` says why a stored value is unusable (None when it is fine);
    `max_chars` bounds its encoded size (larger stored text is garbage, larger values refused).
    """

    def __init__(
        self,
        key: str,
        cookie: bool,
        local: bool,
        max_age_s: "Optional[int]",
        check: "Callable[[Any], Optional[str]]",
        kind: str,
        max_chars: int = MAX_VALUE_CHARS,
    ) -> None:
        self.key = key
        self.cookie = cookie
        self.local = local
        self.max_age_s = max_age_s
        self.check = check
        self.kind = kind
        self.max_chars = max_chars
        self.places: "Optional[tuple[str, list[Any]]]" = None


class StateStore:
    """Slots over cookie, localStorage and memory, combined per the storage strategy.

    Reads go cookie, then localStorage, then memory. The first usable value wins
    and is copied into the persistent places before it that lacked it (a cookie
    that expired is restored from localStorage) or held something else. Writes
    go to memory always and to the persistent places when `allow(slot)` says so.
    """

    def __init__(
        self,
        cookies: CookieStorage,
        local: LocalStorage,
        warn: "Callable[[str], None]",
        strategy: str = "cookieAndLocalStorage",
    ) -> None:
        self.cookies = cookies
        self.local = local
        self.memory = MemoryStorage()
        self.strategy = strategy
        self._warn = warn
        self._garbage_warned: "Any" = set()
        self._known: "dict[str, Any]" = {}
        self.allow: "Callable[[Slot], bool]" = _allow_all

    def places(self, slot: Slot, strategy: "Optional[str]" = None) -> "list[Any]":
        """The persistent stores `slot` lives in under `strategy` (default: the current one)."""
        if strategy is None:
            strategy = self.strategy
            cached = slot.places
            if cached is not None and cached[0] == strategy:
                return cached[1]
            slot.places = (strategy, self.places(slot, strategy))
            return slot.places[1]
        names = STRATEGIES[strategy]
        found: "List[Any]" = []
        if slot.cookie and COOKIE in names:
            found.append(self.cookies)
        if slot.local and LOCAL_STORAGE in names:
            found.append(self.local)
        return found

    def get(self, slot: Slot, memory: bool = True) -> "Any":
        """The slot's current value, or None; `memory=False` looks at persistent places only.

        While `document.cookie` reads the same as when the slot was last looked up (and
        found in its cookie, or nowhere), that answer stands: getters cost one read.
        """
        places = self.places(slot)
        cookie_text = None
        found = None
        stale = []
        known = None
        if places and places[0] is self.cookies:
            cookie_text = self.cookies.text()
            known = self._known.get(slot.key)
            if known is not None and (known[0] != cookie_text or known[1] != self.strategy):
                known = None
            if known is not None and known[2] is not None:
                return known[2]
        if known is None:
            for store in places:
                value = self._read(store, slot)
                if found is None and value is not None:
                    found = value
                elif value is None or value != found:
                    stale.append(store)
            if found is None and cookie_text is not None:
                self._known[slot.key] = (cookie_text, self.strategy, None)
        if found is None:
            text = self.memory.get(slot.key) if memory else None
            return None if text is None else decode_value(text)
        text = json.dumps(found)
        if stale and self.allow(slot):
            self._put(stale, slot, found, text)
        self.memory.set(slot.key, text)
        if cookie_text is not None and self.cookies not in stale:
            self._known[slot.key] = (cookie_text, self.strategy, found)
        return found

    def set(self, slot: Slot, value: "Any", json_text: "Optional[str]" = None) -> bool:
        """Store `value` (`json_text`: the same, already JSON-encoded); False, with a
        warning, when it is too large to be state."""
        text = json.dumps(value) if json_text is None else json_text
        if len(text) > slot.max_chars:
            self._warn(
                "%s is %d characters once encoded, over the %d limit; not stored"
                % (slot.key, len(text), slot.max_chars)
            )
            return False
        self._known.pop(slot.key, None)
        self.memory.set(slot.key, text)
        if self.allow(slot):
            self._put(self.places(slot), slot, value, text)
        return True

    def _put(self, stores: "list[Any]", slot: Slot, value: "Any", text: str) -> None:
        """Write `value` (JSON `text`) to `stores`: localStorage holds JSON, as analytics.js
        writes it; cookies hold strings as they are (search-insights' `_ALGOLIA`)."""
        plain = value if isinstance(value, str) else text
        for store in stores:
            store.set(slot.key, plain if store is self.cookies else text, slot.max_age_s)

    def remove(self, slot: Slot, keep_memory: bool = False) -> None:
        """Forget the slot everywhere it may be, whatever the strategy."""
        self._known.pop(slot.key, None)
        if not keep_memory:
            self.memory.remove(slot.key)
        if slot.cookie:
            self.cookies.remove(slot.key)
        if slot.local:
            self.local.remove(slot.key)

    def switch(self, strategy: str, slots: "list[Slot]") -> None:
        """Change strategy, moving each slot's value to its new places."""
        if strategy == self.strategy:
            return
        values = [(slot, self.get(slot)) for slot in slots]
        old = self.strategy
        self.strategy = strategy
        for slot, value in values:
            if value is None or not self.allow(slot):
                continue
            new_places = self.places(slot)
            for store in self.places(slot, old):
                if store not in new_places:
                    store.remove(slot.key)
            self.set(slot, value)

    def _read(self, store: "Any", slot: Slot) -> "Any":
        try:
            text = self.cookies.value(slot.key) if store is self.cookies else store.get(slot.key)
            if text is None:
                return None
            if len(text) > slot.max_chars:
                raise ValueError("%d characters" % len(text))
            value = decode_value(text)
        except Exception as exc:
            self._garbage(store, slot, _describe(exc))
            return None
        problem = slot.check(value)
        if problem:
            self._garbage(store, slot, problem)
            return None
        return value

    def _garbage(self, store: "Any", slot: Slot, problem: str) -> None:
        where = (store.label, slot.key)
        if where in self._garbage_warned:
            return
        self._garbage_warned.add(where)
        self._warn("ignoring unusable %s value of %s (%s)" % (store.label, slot.key, problem))


def _allow_all(slot: Slot) -> bool:
    return True


def _describe(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return name + (": " + text[:200] if text else "")
