"""What requests to the collector carry in anonymous modes, and how much keepalive they use."""

import json

from fakes import Env

from tracker.transport import KEEPALIVE_BUDGET, batch_requests, utf8_length

COLLECTOR = {"collectorUrl": "https://c.example/collect"}
ANONYMOUS_MODES = (True, {"withSessionTracking": True}, {"withServerAnonymisation": True}, {})


def _page(options=None):
    env = Env(network=True)
    opts = dict(COLLECTOR)
    opts.update(options or {})
    t = env.tracker(opts)
    env.loop.run()
    return env, t


def test_full_tracking_sends_credentials_anonymous_modes_omit_them():
    for method in ("post", "get", "beacon"):
        env, t = _page({"eventMethod": method})
        t.track("a")
        env.loop.run()
        assert [r.credentials for r in env.transport.requests] == ["include"]
        for mode in ANONYMOUS_MODES:
            env, t = _page({"eventMethod": method, "anonymousTracking": mode})
            t.track("a")
            env.loop.run()
            assert env.transport.requests, (method, mode)
            assert [r.credentials for r in env.transport.requests] == ["omit"], (method, mode)


def test_switching_to_an_anonymous_mode_omits_credentials_from_then_on():
    env, t = _page()
    t.enable_anonymous_tracking({"withSessionTracking": True})
    t.track("a")
    env.loop.run()
    assert [r.credentials for r in env.transport.requests] == ["omit"]
    t.disable_anonymous_tracking()
    t.track("b")
    env.loop.run()
    assert env.transport.requests[-1].credentials == "include"


def test_anonymous_modes_never_beacon_on_page_exit():
    for mode in ANONYMOUS_MODES:
        for method in ("post", "beacon"):
            env, t = _page({"eventMethod": method, "anonymousTracking": mode})
            env.transport.default = "hang"
            t.track("a")
            env.loop.run()
            t.track("b")
            env.fire("pagehide")
            assert env.transport.beacons == [], (method, mode)
            last = env.transport.requests[-1]
            assert last.keepalive and last.credentials == "omit", (method, mode)


def test_full_tracking_still_beacons_on_page_exit():
    env, t = _page()
    env.transport.default = "hang"
    t.track("a")
    env.loop.run()
    t.track("b")
    env.fire("pagehide")
    assert len(env.transport.beacons) == 1


def test_utf8_length_counts_bytes_not_characters():
    assert utf8_length("") == 0
    assert utf8_length("abc") == 3
    assert utf8_length("é") == 2
    assert utf8_length("日本") == 6
    assert utf8_length("a😀") == 5


class _Entry:
    def __init__(self, n, text):
        self.id = "id%d" % n
        self.event = {"messageId": self.id, "text": text}
        self.wire = '{"messageId": "%s", "text": "%s"}' % (self.id, text)


def test_batches_are_sized_in_utf8_bytes():
    entries = [_Entry(n, "日" * 2000) for n in range(40)]
    requests = batch_requests("post", "https://c.example/collect", entries, {})
    assert len(requests) > 1
    for request in requests:
        assert utf8_length(request.body) <= KEEPALIVE_BUDGET
    assert [i for r in requests for i in r.ids] == [e.id for e in entries]


def test_keepalive_requests_in_flight_stay_under_64_kib_in_bytes():
    env, t = _page()
    env.transport.default = "hang"
    for n in range(60):
        t.track("big", {"text": "日本語" * 400, "n": n})
    env.loop.run()
    requests = env.transport.requests
    assert len(requests) > 1
    assert sum(utf8_length(r.body) for r in requests if r.keepalive) <= KEEPALIVE_BUDGET
    assert 65536 > KEEPALIVE_BUDGET
    sent = [e["messageId"] for r in requests for e in json.loads(r.body)]
    assert sorted(sent) == sorted(e["messageId"] for e in t.get_buffered_events())
