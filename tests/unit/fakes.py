"""Fake host pieces for unit tests, portable to MicroPython: clock, randomness,
a `document.cookie` jar that honours Max-Age, localStorage, and failing variants."""

import random

from tracker.host import Host
from tracker.storage import parse_cookies


class Clock:
    """A clock that only moves when told to."""

    def __init__(self, now_ms=1_700_000_000_000.0):
        self.now = now_ms

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds * 1000


class CookieJar:
    """`document.cookie` semantics: assignments with attributes in, `a=b; c=d` out."""

    def __init__(self, clock, blocked=False, ignore_writes=False):
        self.clock = clock
        self.blocked = blocked
        self.ignore_writes = ignore_writes
        self.cookies = {}  # name -> (value, expires_ms or None, attributes)
        self.writes = []

    def read(self):
        if self.blocked:
            raise RuntimeError("SecurityError: cookies are disabled")
        now = self.clock()
        live = []
        for name, (value, expires, _attrs) in self.cookies.items():
            if expires is None or expires > now:
                live.append(name + "=" + value)
        return "; ".join(live)

    def write(self, assignment):
        if self.blocked:
            raise RuntimeError("SecurityError: cookies are disabled")
        self.writes.append(assignment)
        if self.ignore_writes:
            return
        parts = [p.strip() for p in assignment.split(";")]
        name, _, value = parts[0].partition("=")
        attrs = {}
        for part in parts[1:]:
            key, _, val = part.partition("=")
            attrs[key.lower()] = val
        expires = None
        if "max-age" in attrs:
            expires = self.clock() + int(attrs["max-age"]) * 1000
        if expires is not None and expires <= self.clock():
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = (value, expires, attrs)

    def set_raw(self, name, value, max_age_s=None):
        """Plant a cookie as another library (or the user) would have."""
        expires = None if max_age_s is None else self.clock() + max_age_s * 1000
        self.cookies[name] = (value, expires, {})

    def get(self, name):
        return parse_cookies(self.read()).get(name)

    def attributes(self, name):
        return self.cookies[name][2]


class LocalStorage:
    """`window.localStorage`; `failing=True` makes every call throw (Safari private mode)."""

    def __init__(self, failing=False, quota_chars=None):
        self.items = {}
        self.failing = failing
        self.quota_chars = quota_chars

    def get_item(self, key):
        if self.failing:
            raise RuntimeError("SecurityError: localStorage is disabled")
        return self.items.get(key)

    def set_item(self, key, value):
        if self.failing:
            raise RuntimeError("SecurityError: localStorage is disabled")
        if self.quota_chars is not None and len(value) > self.quota_chars:
            raise RuntimeError("QuotaExceededError")
        self.items[key] = value

    def remove_item(self, key):
        if self.failing:
            raise RuntimeError("SecurityError: localStorage is disabled")
        self.items.pop(key, None)


class Env:
    """A fake page: clock, cookie jar, localStorage and the warnings the tracker logged."""

    def __init__(self, cookies_blocked=False, ignore_cookie_writes=False, ls_failing=False, seed=1):
        self.clock = Clock()
        self.jar = CookieJar(self.clock, cookies_blocked, ignore_cookie_writes)
        self.ls = LocalStorage(ls_failing)
        self.warnings = []
        self._random = random.Random(seed) if hasattr(random, "Random") else None
        if self._random is None:
            random.seed(seed)

    def random_bytes(self, n):
        source = self._random if self._random is not None else random
        return bytes([source.getrandbits(8) for _ in range(n)])

    def host(self):
        return Host(self.clock, self.random_bytes, self.warnings.append, self.jar, self.ls)

    def tracker(self, options=None):
        """A new tracker on this page (like a reload: memory is fresh, storage is kept)."""
        from tracker import Tracker

        t = Tracker(self.host())
        t.init(options)
        return t


def raises(exc_type, fn, *args):
    """True when fn(*args) raises exc_type (pytest.raises is not on MicroPython)."""
    try:
        fn(*args)
    except exc_type:
        return True
    return False
