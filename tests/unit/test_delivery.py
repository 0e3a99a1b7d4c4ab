"""Delivery with a fake transport: batching, every answer class, backoff, bounds, restarts, tabs."""

import json

from fakes import Env

from tracker.delivery import BACKOFF_MAX_MS, backoff_ms
from tracker.exchange import REQUEST_TIMEOUT_MS
from tracker.outbox import ADOPT_AFTER_MS
from tracker.storage import percent_decode

COLLECTOR = {"collectorUrl": "https://c.example/collect"}


def _page(options=None, **env_args):
    env = Env(network=True, **env_args)
    opts = dict(COLLECTOR)
    opts.update(options or {})
    t = env.tracker(opts)
    env.loop.run()
    return env, t


def _body(request):
    return json.loads(request.body)


def test_events_of_one_task_go_in_one_request_and_leave_on_2xx():
    env, t = _page()
    ids = [t.track("a"), t.track("b"), t.page("Home")]
    assert env.transport.requests == []
    env.loop.run()
    assert len(env.transport.requests) == 1
    request = env.transport.requests[0]
    assert request.method == "POST" and request.url == "https://c.example/collect"
    assert request.content_type == "application/json" and request.keepalive
    assert [e["messageId"] for e in _body(request)] == ids
    assert t.get_buffered_events() == []
    assert json.loads(env.ls.items["_trk_queue"]) == []


def test_events_carry_page_context_and_library():
    env, t = _page({"appId": "shop"})
    t.track("a", {}, {"context": {"ip": "203.0.113.9", "traits": {"plan": "pro"}}})
    env.loop.run()
    event = _body(env.transport.requests[0])[0]
    context = event["context"]
    assert context["page"] == {
        "url": "https://shop.example/p?q=1",
        "path": "/p",
        "referrer": "https://search.example/",
        "title": "Product",
    }
    assert context["userAgent"] == "FakeBrowser/1.0"
    assert context["library"]["name"] == "tracker"
    assert context["ip"] == "203.0.113.9" and context["traits"] == {"plan": "pro"}
    assert event["appId"] == "shop" and event["anonymousId"] == t.get_anonymous_id()
    assert isinstance(event["timestamp"], int)


def test_server_anonymisation_sends_header_no_ids_no_ip_and_never_beacons():
    env, t = _page(
        {"anonymousTracking": {"withServerAnonymisation": True}, "eventMethod": "beacon"}
    )
    t.identify("u1")
    t.track("a", {}, {"context": {"ip": "203.0.113.9", "traits": {"x": 1}}})
    env.loop.run()
    for request in env.transport.requests:
        assert request.headers == {"SP-Anonymous": "*"}
        assert request.content_type == "application/json"
        for event in _body(request):
            for key in ("anonymousId", "userId", "userToken", "traits"):
                assert key not in event
            assert "ip" not in event["context"] and "traits" not in event["context"]
            assert "session" not in event["context"]
    t.track("b")
    env.fire("pagehide")
    assert env.transport.beacons == []


def test_beacon_method_posts_text_plain_and_get_sends_one_pixel_per_event():
    env, t = _page({"eventMethod": "beacon"})
    t.track("a")
    env.loop.run()
    assert env.transport.requests[-1].content_type == "text/plain;charset=UTF-8"
    t.init({"eventMethod": "get"})
    ids = [t.track("b", {"n": 1}), t.track("c")]
    env.loop.run()
    pixels = env.transport.requests[-2:]
    for index, request in enumerate(pixels):
        mid = ids[index]
        assert request.method == "GET" and request.body is None
        assert request.url.startswith("https://c.example/i?")
        assert "messageId=" + mid in request.url
    query = dict(pair.split("=", 1) for pair in pixels[0].url.split("?", 1)[1].split("&"))
    assert json.loads(percent_decode(query["properties"])) == {"n": 1}
    assert t.get_buffered_events() == []


def test_network_errors_and_5xx_retry_with_growing_backoff_then_deliver_once():
    env, t = _page()
    env.transport.script = ["error", 503, 500]
    mid = t.track("a")
    env.loop.run()
    assert [e["messageId"] for e in t.get_buffered_events()] == [mid]
    env.loop.advance(0.4)  # the first retry waits at least half the base delay
    assert env.transport.requests == []
    env.loop.advance(120)
    assert env.transport.delivered_ids() == [mid]
    assert t.get_buffered_events() == []
    assert any("could not send events" in w for w in env.warnings)


def test_backoff_doubles_up_to_a_cap_with_jitter():
    assert backoff_ms(1, 1.0) == 1000
    assert backoff_ms(2, 1.0) == 2000
    assert backoff_ms(3, 0.5) == 2000
    assert backoff_ms(30, 1.0) == BACKOFF_MAX_MS


def test_retry_codes_keep_and_other_4xx_drop_with_one_warning_without_blocking():
    env, t = _page()
    env.transport.script = [400]
    t.track("bad")
    env.loop.run()
    assert t.get_buffered_events() == []
    warnings = [w for w in env.warnings if "HTTP 400" in w]
    assert len(warnings) == 1 and "dropped" in warnings[0]
    for status in (408, 425, 429, 502):
        env.transport.script = [status]
        mid = t.track("kept")
        env.loop.run()
        assert [e["messageId"] for e in t.get_buffered_events()] == [mid], status
        env.loop.advance(120)
        assert t.get_buffered_events() == []
    good = t.track("good")
    env.loop.run()
    assert env.transport.delivered_ids()[-1] == good


def test_retry_status_options_override_the_defaults():
    env, t = _page({"retryStatusCodes": [404], "dontRetryStatusCodes": [503]})
    env.transport.script = [404]
    t.track("a")
    env.loop.run()
    assert len(t.get_buffered_events()) == 1
    env.loop.advance(120)
    env.transport.script = [503]
    t.track("b")
    env.loop.run()
    assert t.get_buffered_events() == []


def test_a_hung_request_times_out_and_is_retried():
    env, t = _page()
    env.transport.script = ["hang"]
    mid = t.track("a")
    env.loop.run()
    env.loop.advance(REQUEST_TIMEOUT_MS / 1000 + 120)
    assert env.transport.delivered_ids() == [mid]
    assert t.get_buffered_events() == []


def test_an_answer_after_the_timeout_still_acknowledges_its_events():
    env, t = _page({"dontRetryStatusCodes": [0]})
    env.transport.script = ["hang"]
    mid = t.track("a")
    env.loop.run()
    env.loop.advance(REQUEST_TIMEOUT_MS / 1000 + 0.5)
    assert len(t.get_buffered_events()) == 1  # a timeout retries even when 0 would drop
    request, on_done = env.transport.hung[0]
    on_done(200)
    on_done(500)
    assert t.get_buffered_events() == [] and mid in request.ids
    assert json.loads(env.ls.items["_trk_queue"]) == []
    env.loop.advance(120)
    assert len(env.transport.requests) == 1


def test_flush_resolves_when_empty_and_when_the_collector_is_unreachable():
    env, t = _page()
    done = []
    t.flush(lambda: done.append("empty"))
    assert done == ["empty"]
    env.transport.default = 0
    t.track("a")
    t.flush(lambda: done.append("down"))
    env.loop.run()
    assert done == ["empty", "down"] and len(t.get_buffered_events()) == 1
    env.transport.default = 200
    t.flush(lambda: done.append("sent"))
    env.loop.run()
    assert done[-1] == "sent" and t.get_buffered_events() == []


def test_flush_without_a_collector_resolves_and_keeps_events():
    env = Env(network=True)
    t = env.tracker()
    t.track("a")
    done = []
    t.flush(lambda: done.append(1))
    env.loop.run()
    assert done == [1] and len(t.get_buffered_events()) == 1
    assert env.transport.requests == []


def test_max_queue_size_drops_the_oldest_with_one_warning():
    env, t = _page({"maxQueueSize": 3})
    env.transport.default = 0
    ids = [t.track("e%d" % i) for i in range(6)]
    kept = [e["messageId"] for e in t.get_buffered_events()]
    assert kept == ids[-3:]
    assert len([w for w in env.warnings if "maxQueueSize 3" in w]) == 1


def test_events_left_by_an_earlier_page_load_are_sent_on_the_next_one():
    env, t = _page()
    env.transport.default = 0
    ids = [t.track("a"), t.track("b")]
    env.loop.run()
    env.transport.default = 200
    again = env.reload(COLLECTOR)
    assert set(env.transport.delivered_ids()) == set(ids)
    assert again.get_buffered_events() == []


def test_page_hide_sends_by_beacon_and_falls_back_to_fetch_keepalive():
    env, t = _page()
    env.transport.default = 0
    mid = t.track("a")
    env.loop.run()
    env.fire("pagehide")
    assert len(env.transport.beacons) == 1
    url, body = env.transport.beacons[0]
    assert url == "https://c.example/collect" and json.loads(body)[0]["messageId"] == mid
    env2, t2 = _page()
    env2.transport.beacon_ok = False
    env2.transport.default = 0
    t2.track("b")
    env2.loop.run()
    sent = len(env2.transport.requests)
    env2.fire("pagehide")
    assert env2.transport.beacons == [] and len(env2.transport.requests) == sent + 1
    assert env2.transport.requests[-1].keepalive


def test_leaving_page_sends_by_beacon_once_not_again_when_hidden_follows():
    env, t = _page()
    env.transport.default = 0
    t.track("a")
    env.loop.run()
    sent = len(env.transport.requests)
    env.fire("pagehide")
    env.fire("hidden")
    assert len(env.transport.beacons) == 1 and len(env.transport.requests) == sent


def test_hidden_page_sends_at_once_despite_backoff():
    env, t = _page()
    env.transport.script = [503]
    mid = t.track("a")
    env.loop.run()
    env.fire("hidden")
    assert env.transport.delivered_ids() == [mid]


def test_two_tabs_keep_each_others_unsent_events_and_send_their_own_once():
    env = Env(network=True)
    env.transport.default = 0
    tab_a = env.tracker(COLLECTOR)
    tab_b = env.tracker(COLLECTOR)
    a_ids = [tab_a.track("a1"), tab_a.track("a2")]
    env.loop.run()
    b_ids = [tab_b.track("b1")]
    env.loop.run()
    stored = [e["messageId"] for e in json.loads(env.ls.items["_trk_queue"])]
    assert sorted(stored) == sorted(a_ids + b_ids)
    env.transport.default = 200
    tab_a.flush()
    tab_b.flush()
    env.loop.run()
    delivered = env.transport.delivered_ids()
    assert sorted(delivered) == sorted(a_ids + b_ids)
    assert json.loads(env.ls.items["_trk_queue"]) == []


def test_a_crashed_tabs_events_are_adopted_after_a_while():
    env = Env(network=True)
    env.transport.default = 0
    crashed = env.tracker(COLLECTOR)
    mid = crashed.track("lost?")
    env.loop.run()
    env.listeners = [env.listeners[0]]  # the crashed tab never fires pagehide
    survivor = env.tracker(COLLECTOR)
    env.transport.default = 200
    env.loop.run()
    assert mid not in env.transport.delivered_ids()
    env.clock.advance(ADOPT_AFTER_MS / 1000 + 1)
    survivor.flush()
    env.loop.run()
    assert env.transport.delivered_ids().count(mid) == 1


def test_clear_user_data_scrubs_waiting_events_and_keeps_them():
    env, t = _page()
    env.transport.default = 0
    t.identify("u1")
    t.track("a")
    env.loop.run()
    t.clear_user_data()
    env.loop.run()
    stored = json.loads(env.ls.items["_trk_queue"])
    assert len(stored) == 2
    for event in stored:
        assert "userId" not in event and "anonymousId" not in event


def test_garbage_in_the_stored_buffer_is_ignored_with_a_warning():
    env = Env(network=True)
    env.ls.items["_trk_queue"] = '[{"no": "id"}, 7, {"messageId": "x", "$tab": null}]'
    env.tracker(COLLECTOR)
    env.loop.run()
    assert env.transport.delivered_ids() == ["x"]
    assert any("2 stored event(s)" in w for w in env.warnings)
    env.ls.items["_trk_queue"] = "{not json"
    t2 = env.tracker(COLLECTOR)
    t2.track("a")
    env.loop.run()
    assert any("_trk_queue" in w for w in env.warnings)
    assert t2.get_buffered_events() == []


def test_pixel_url_sits_beside_the_collector_path():
    from tracker.transport import pixel_url

    assert pixel_url("/collect") == "/i"
    assert pixel_url("https://c.example/collect") == "https://c.example/i"
    assert pixel_url("https://c.example/t/collect?x=1") == "https://c.example/t/i"
    assert pixel_url("https://c.example") == "https://c.example/i"
    assert pixel_url("collect") == "/i"
