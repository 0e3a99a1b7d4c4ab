"""Snowplow anonymous modes x storage strategies, run-time toggles, clearUserData, sessions."""

import json

from fakes import Env

from tracker.identity import is_uuid4

MODES = (False, True, {"withSessionTracking": True}, {"withServerAnonymisation": True})
STRATEGIES = ("cookieAndLocalStorage", "cookie", "localStorage", "none")
USER_COOKIES = ("ajs_anonymous_id", "ajs_user_id", "_ALGOLIA")
USER_LS = ("ajs_anonymous_id", "ajs_user_id", "ajs_user_traits")


def _exercise(mode, strategy):
    env = Env()
    t = env.tracker({"anonymousTracking": mode, "stateStorageStrategy": strategy})
    t.set_anonymous_user_token()
    t.identify("u1", {"plan": "pro"})
    t.track("Clicked", {"x": 1}, {"context": {"traits": {"t": 1}}})
    return env, t


def test_mode_by_strategy_table():
    for mode in MODES:
        for strategy in STRATEGIES:
            env, t = _exercise(mode, strategy)
            case = (mode, strategy)
            identified = mode is False
            cookies = strategy in ("cookieAndLocalStorage", "cookie")
            local = strategy in ("cookieAndLocalStorage", "localStorage")
            sessions = mode is False or (
                isinstance(mode, dict)
                and mode.get("withSessionTracking") is True
                and strategy != "none"
            )
            for key in USER_COOKIES:
                assert (env.jar.get(key) is not None) == (identified and cookies), (case, key)
            for key in USER_LS:
                assert (key in env.ls.items) == (identified and local), (case, key)
            assert (env.jar.get("_trk_ses") is not None) == (sessions and cookies), case
            assert ("_trk_ses" in env.ls.items) == (sessions and local), case
            assert ("_trk_queue" in env.ls.items) == local, case
            event = t.get_buffered_events()[-1]
            for key in ("anonymousId", "userId"):
                assert (key in event) == identified, (case, key)
            assert ("userToken" in event) == (identified and cookies), case
            assert ("traits" in event["context"]) == identified, case
            assert ("session" in event["context"]) == bool(sessions), case
            assert (t.get_session_id() is not None) == bool(sessions), case
            assert (t.get_anonymous_id() is not None) == identified, case
            assert (t.get_user_token() is not None) == (identified and cookies), case


def test_server_anonymisation_is_reported_for_request_headers():
    from tracker.privacy import request_headers

    assert request_headers({"withServerAnonymisation": True}) == {"SP-Anonymous": "*"}
    assert request_headers(True) == {}
    assert request_headers(False) == {}


def test_enabling_anonymous_tracking_leaves_stored_ids_in_place_and_stops_writes():
    env = Env()
    t = env.tracker()
    anonymous_id = t.get_anonymous_id()
    t.identify("u1")
    t.enable_anonymous_tracking()
    assert t.get_anonymous_id() is None
    assert t.user().id() is None
    assert env.jar.get("ajs_anonymous_id") == anonymous_id
    assert env.jar.get("ajs_user_id") == "u1"
    t.identify("u2")
    assert env.jar.get("ajs_user_id") == "u1"
    assert "userId" not in t.get_buffered_events()[-1]
    t.disable_anonymous_tracking()
    assert t.get_anonymous_id() == anonymous_id


def test_one_consent_switch_governs_algolia_tokens_too():
    env = Env()
    t = env.tracker()
    t.set_anonymous_user_token()
    t.enable_anonymous_tracking()
    assert t.get_user_token() is None
    env.jar.cookies.pop("_ALGOLIA")
    assert t.set_anonymous_user_token() is None
    assert env.jar.get("_ALGOLIA") is None


def test_consent_banner_flow():
    env = Env()
    t = env.tracker(
        {"anonymousTracking": {"withServerAnonymisation": True}, "stateStorageStrategy": "none"}
    )
    t.track("viewed")
    assert env.jar.cookies == {} and env.ls.items == {}
    assert t.get_anonymous_id() is None and t.get_session_id() is None
    t.disable_anonymous_tracking("cookieAndLocalStorage")
    anonymous_id = t.get_anonymous_id()
    assert is_uuid4(anonymous_id)
    assert env.jar.get("ajs_anonymous_id") == anonymous_id
    assert is_uuid4(t.get_session_id())
    assert env.jar.get("_trk_ses") is not None
    t.enable_anonymous_tracking({"withServerAnonymisation": True}, "none")
    t.clear_user_data()
    assert env.jar.cookies == {}
    assert env.ls.items == {}
    assert t.get_anonymous_id() is None
    t.disable_anonymous_tracking("cookieAndLocalStorage")
    assert t.get_anonymous_id() != anonymous_id


def test_session_tracking_with_strategy_none_is_full_anonymous():
    t = Env().tracker(
        {"anonymousTracking": {"withSessionTracking": True}, "stateStorageStrategy": "none"}
    )
    assert t.get_session_id() is None
    assert t.get_mode()["withSessionTracking"] is False


def test_switching_from_local_storage_to_cookies_resets_the_session():
    env = Env()
    t = env.tracker(
        {"anonymousTracking": {"withSessionTracking": True}, "stateStorageStrategy": "localStorage"}
    )
    first = t.get_session_id()
    t.enable_anonymous_tracking({"withSessionTracking": True}, "cookieAndLocalStorage")
    assert t.get_session_id() != first
    kept = t.get_session_id()
    t.enable_anonymous_tracking({"withSessionTracking": True}, "cookie")
    assert t.get_session_id() == kept


def test_session_times_out_after_idle_and_counts_up():
    env = Env()
    t = env.tracker({"sessionTimeout": 60})
    first = t.get_session_id()
    assert t.get_session_index() == 1
    env.clock.advance(30)
    t.track("a")
    env.clock.advance(45)
    assert t.get_session_id() == first
    env.clock.advance(61)
    second = t.get_session_id()
    assert second != first and is_uuid4(second)
    assert t.get_session_index() == 2
    assert env.tracker({"sessionTimeout": 60}).get_session_id() == second


def test_session_cookie_lifetime_is_the_session_timeout():
    env = Env()
    env.tracker({"sessionTimeout": 120})
    assert env.jar.attributes("_trk_ses")["max-age"] == "120"


def test_clear_user_data_removes_every_identifier_and_memory_unless_preserved():
    for preserve_session in (False, True):
        for preserve_user in (False, True):
            env = Env()
            t = env.tracker()
            anonymous_id = t.get_anonymous_id()
            session_id = t.get_session_id()
            t.identify("u1", {"a": 1})
            t.group("g1")
            t.set_anonymous_user_token()
            t.clear_user_data(preserve_session, preserve_user)
            case = (preserve_session, preserve_user)
            assert env.jar.cookies == {}, case
            assert set(env.ls.items) == {"_trk_queue"}, case
            for event in json.loads(env.ls.items["_trk_queue"]):
                assert not set(event).intersection(
                    ["anonymousId", "userId", "userToken", "traits"]
                ), case
                assert "session" not in event["context"], case
            assert (t.get_anonymous_id() == anonymous_id) == preserve_user, case
            assert (t.get_user_token() is not None) == preserve_user, case
            assert (t.get_session_id() == session_id) == preserve_session, case


def test_bad_mode_arguments_warn_and_change_nothing():
    env = Env()
    t = env.tracker()
    t.enable_anonymous_tracking("yes")
    t.enable_anonymous_tracking({"withSesionTracking": True})
    t.disable_anonymous_tracking("disk")
    assert t.get_mode()["anonymous"] is False
    assert len(env.warnings) == 3


def test_clear_user_data_keeps_waiting_events_without_the_identifiers():
    env = Env()
    t = env.tracker()
    t.identify("u1", {"a": 1})
    message_id = t.track("Order Completed", {"total": 3})
    t.clear_user_data()
    for stored in json.loads(env.ls.items["_trk_queue"]):
        assert "userId" not in stored and "anonymousId" not in stored
    event = [e for e in t.get_buffered_events() if e["messageId"] == message_id][0]
    assert event["properties"] == {"total": 3}
    for key in ("anonymousId", "userId", "userToken"):
        assert key not in event
    assert "session" not in event["context"]


def test_clear_user_data_preserve_user_keeps_identifiers_on_waiting_events():
    t = Env().tracker()
    t.identify("u1")
    t.track("a")
    t.clear_user_data(False, True)
    event = t.get_buffered_events()[-1]
    assert event["userId"] == "u1"
    assert "session" not in event["context"]


def test_a_burst_of_activity_stores_the_session_once():
    env = Env()
    t = env.tracker()
    writes = len(env.jar.writes)
    t.track("a")
    t.track("b")
    assert [w for w in env.jar.writes[writes:] if w.startswith("_trk_ses")] == []
    env.clock.advance(2)
    t.track("c")
    assert len([w for w in env.jar.writes[writes:] if w.startswith("_trk_ses")]) == 1


def test_clear_user_data_scrubs_other_tabs_waiting_events_before_they_are_sent():
    env = Env(network=True)
    env.transport.default = 0
    options = {"collectorUrl": "https://c.example/collect"}
    tab_a = env.tracker(options)
    tab_b = env.tracker(options)
    tab_b.identify("u-b", {"plan": "pro"})
    b_id = tab_b.track("in tab b")
    env.loop.run()
    tab_a.clear_user_data()
    for stored in json.loads(env.ls.items["_trk_queue"]):
        for key in ("anonymousId", "userId", "userToken", "traits"):
            assert key not in stored, (key, stored)
        assert "session" not in stored["context"]
    env.transport.default = 200
    tab_b.flush()
    env.loop.run()
    sent = [e for r in env.transport.requests for e in json.loads(r.body)]
    last_b = [e for e in sent if e["messageId"] == b_id][-1]
    for key in ("anonymousId", "userId", "traits", "$clr", "$tab", "$seen"):
        assert key not in last_b, key
    assert b_id in env.transport.delivered_ids()
