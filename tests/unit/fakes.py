"""Fake host pieces for unit tests, portable to MicroPython: clock, randomness,
a `document.cookie` jar that honours Max-Age, localStorage, and failing variants."""

import random

from tracker.host import Host
from tracker.storage import parse_cookies


class Clock:
    """A clock that only moves when told to."""

    def __init__(self, now_ms=1_700_000_000_000.0):
        self.now = now_ms

    def ms(self):
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
        self.reads = 0

    def read(self):
        self.reads += 1
        if self.blocked:
            raise RuntimeError("SecurityError: cookies are disabled")
        now = self.clock.ms()
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
            expires = self.clock.ms() + int(attrs["max-age"]) * 1000
        if expires is not None and expires <= self.clock.ms():
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = (value, expires, attrs)

    def set_raw(self, name, value, max_age_s=None):
        """Plant a cookie as another library (or the user) would have."""
        expires = None if max_age_s is None else self.clock.ms() + max_age_s * 1000
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


class Loop:
    """A JS event loop in miniature: tasks queued by `defer` and answers, timers by clock."""

    def __init__(self, clock):
        self.clock = clock
        self.tasks = []
        self.timers = []  # [due_ms, order, fn]
        self._order = 0

    def defer(self, fn):
        self.tasks.append(fn)

    def schedule(self, fn, delay_ms):
        self._order += 1
        self.timers.append([self.clock.ms() + delay_ms, self._order, fn])

    def run(self):
        """Run queued tasks (and what they queue) until none is left."""
        for _ in range(10000):
            if not self.tasks:
                return
            self.tasks.pop(0)()
        raise AssertionError("the loop does not settle")

    def advance(self, seconds):
        """Move the clock, firing due timers in order, running tasks after each."""
        end = self.clock.ms() + seconds * 1000
        self.run()
        while True:
            due = [t for t in self.timers if t[0] <= end]
            if not due:
                break
            first = min(due, key=lambda t: (t[0], t[1]))
            self.timers.remove(first)
            if first[0] > self.clock.ms():
                self.clock.now = first[0]
            first[2]()
            self.run()
        self.clock.now = end


class Transport:
    """A fake collector connection. Each request takes the next scripted answer: a status,
    "hang" (never answered), "error" (send raises); afterwards `default`. Answers arrive as
    loop tasks, like `fetch` promises. `beacon_ok` is what `sendBeacon` returns.
    `responder(request)`, when set, answers instead: `(status, body text)`, "hang" or None
    (None: the script answers). A body reaches `on_done` when `request.read_body` is set."""

    def __init__(self, loop):
        self.loop = loop
        self.script = []
        self.default = 200
        self.requests = []
        self.answered = []
        self.beacons = []
        self.beacon_ok = True
        self.hung = []
        self.responder = None

    def send(self, request, on_done):
        answer = self.responder(request) if self.responder is not None else None
        if answer is None:
            answer = self.script.pop(0) if self.script else self.default
        if answer == "error":
            raise OSError("network is down")
        self.requests.append(request)
        if answer == "hang":
            self.hung.append((request, on_done))
            return

        status, body = answer if isinstance(answer, tuple) else (answer, "")

        def reply():
            self.answered.append((request, status))
            if getattr(request, "read_body", False):
                on_done(status, body)
            else:
                on_done(status)

        self.loop.defer(reply)

    def beacon(self, url, body):
        if self.beacon_ok:
            self.beacons.append((url, body))
        return self.beacon_ok

    def delivered_ids(self):
        """messageIds of requests answered 2xx, in order, with repeats."""
        return [i for r, status in self.answered if 200 <= status <= 299 for i in r.ids]


class Env:
    """A fake page: clock, cookie jar, localStorage and the warnings the tracker logged.

    With `network=True` the host can also send (`transport`), defer and schedule (`loop`),
    and page events reach the tracker (`hide()`, `pagehide()`, `online()`).
    """

    def __init__(
        self,
        cookies_blocked=False,
        ignore_cookie_writes=False,
        ls_failing=False,
        seed=1,
        network=False,
    ):
        self.clock = Clock()
        self.jar = CookieJar(self.clock, cookies_blocked, ignore_cookie_writes)
        self.ls = LocalStorage(ls_failing)
        self.warnings = []
        self.network = network
        self.loop = Loop(self.clock)
        self.transport = Transport(self.loop)
        self.listeners = []
        self._random = random.Random(seed) if hasattr(random, "Random") else None
        if self._random is None:
            random.seed(seed)

    def random_bytes(self, n):
        source = self._random if self._random is not None else random
        if hasattr(source, "getrandbits"):
            return bytes([source.getrandbits(8) for _ in range(n)])
        return bytes([source.randint(0, 255) for _ in range(n)])  # compiled: no getrandbits

    def host(self):
        if not self.network:
            return Host(self.clock.ms, self.random_bytes, self.warnings.append, self.jar, self.ls)
        return Host(
            self.clock.ms,
            self.random_bytes,
            self.warnings.append,
            self.jar,
            self.ls,
            defer=self.loop.defer,
            send=self.transport.send,
            beacon=self.transport.beacon,
            schedule=self.loop.schedule,
            listen=self.listeners.append,
            page=self.page,
        )

    def page(self):
        return {
            "url": "https://shop.example/p?q=1",
            "path": "/p",
            "referrer": "https://search.example/",
            "title": "Product",
            "userAgent": "FakeBrowser/1.0",
        }

    def fire(self, kind):
        """A page event (`hidden`, `pagehide`, `online`) for every tracker on this page."""
        for listener in list(self.listeners):
            listener(kind)
        self.loop.run()

    def reload(self, options=None):
        """The page goes away (pagehide) and loads again with the same storage."""
        self.fire("pagehide")
        self.listeners = []
        t = self.tracker(options)
        self.loop.run()
        return t

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
