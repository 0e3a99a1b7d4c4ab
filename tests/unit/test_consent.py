"""Remembered consent (`setConsent` / `getConsent`) and Global Privacy Control / DNT."""

from fakes import Env

from tracker import dispatch
from tracker.identity import is_uuid4

USER_COOKIES = ("ajs_anonymous_id", "ajs_user_id", "_ALGOLIA", "_trk_ses")
USER_LS = ("ajs_anonymous_id", "ajs_user_id", "ajs_user_traits", "_trk_ses")
COOKIELESS = {"withServerAnonymisation": True}
BANNER = {"anonymousTracking": COOKIELESS, "stateStorageStrategy": "none"}


def _tracker(env, options=None, gpc=False):
    from tracker import Tracker

    host = env.host()
    host.privacy_signal = lambda: gpc
    t = Tracker(host)
    t.init(options)
    return t


def _ids_stored(env):
    cookies = [k for k in USER_COOKIES if env.jar.get(k) is not None]
    local = [k for k in USER_LS if k in env.ls.items]
    return cookies + local


def _identified(t):
    t.set_anonymous_user_token()
    t.identify("u1", {"plan": "pro"})


def test_no_choice_by_default():
    env = Env()
    t = _tracker(env)
    assert t.get_consent() is None
    assert env.jar.get("_trk_consent") is None


def test_granted_is_stored_as_the_word_for_a_year_with_cookie_attributes():
    env = Env()
    options = dict(BANNER)
    options["cookieSameSite"] = "Strict"
    options["cookiePath"] = "/"
    t = _tracker(env, options)
    assert t.set_consent("granted") == "granted"
    assert t.get_consent() == "granted"
    assert env.jar.get("_trk_consent") == "granted"
    attrs = env.jar.attributes("_trk_consent")
    assert attrs["max-age"] == str(365 * 24 * 3600)
    assert attrs["path"] == "/" and attrs["samesite"] == "Strict"
    assert "domain" not in attrs


def test_granted_applies_at_once_with_cookie_and_local_storage():
    env = Env()
    t = _tracker(env, BANNER)
    assert t.get_anonymous_id() is None
    t.set_consent("granted")
    mode = t.get_mode()
    assert mode["anonymous"] is False
    assert mode["stateStorageStrategy"] == "cookieAndLocalStorage"
    _identified(t)
    anonymous_id = t.get_anonymous_id()
    assert is_uuid4(anonymous_id)
    assert env.jar.get("ajs_anonymous_id") == anonymous_id
    assert "ajs_anonymous_id" in env.ls.items


def test_granted_uses_the_strategy_init_asked_for():
    env = Env()
    t = _tracker(env, {"anonymousTracking": True, "stateStorageStrategy": "cookie"})
    t.set_consent("granted")
    assert t.get_mode()["stateStorageStrategy"] == "cookie"
    t.get_anonymous_id()
    assert env.jar.get("ajs_anonymous_id") is not None
    assert "ajs_anonymous_id" not in env.ls.items


def test_denied_goes_cookieless_and_clears_user_data():
    env = Env()
    t = _tracker(env)
    _identified(t)
    t.set_authenticated_user_token("auth-1")
    before = t.get_anonymous_id()
    assert _ids_stored(env)
    assert t.set_consent("denied") == "denied"
    mode = t.get_mode()
    assert mode["withServerAnonymisation"] is True
    assert mode["stateStorageStrategy"] == "none"
    assert _ids_stored(env) == []
    assert env.jar.get("_trk_consent") == "denied"
    assert t.get_anonymous_id() is None and t.get_user_token() is None
    assert t.get_authenticated_user_token() is None and t.user().id() is None
    t.set_anonymous_user_token()
    t.identify("u2")
    t.track("After")
    assert _ids_stored(env) == []
    t.set_consent("granted")
    again = t.get_anonymous_id()
    assert is_uuid4(again) and again != before, "the declined visitor comes back as new"


def test_stored_choice_wins_over_init_on_the_next_page_load():
    env = Env()
    t = _tracker(env, BANNER)
    t.set_consent("granted")
    anonymous_id = t.get_anonymous_id()
    t2 = _tracker(env, BANNER)
    assert t2.get_consent() == "granted"
    assert t2.get_mode()["anonymous"] is False
    assert t2.get_anonymous_id() == anonymous_id

    t2.set_consent("denied")
    t3 = _tracker(env, {"anonymousTracking": False})
    assert t3.get_consent() == "denied"
    assert t3.get_mode()["withServerAnonymisation"] is True
    assert t3.get_anonymous_id() is None
    assert _ids_stored(env) == []


def test_denied_on_load_writes_nothing_even_for_init_identities():
    env = Env()
    env.jar.set_raw("_trk_consent", "denied", 3600)
    t = _tracker(env, {"userToken": "tok-1", "anonymousId": "a-1"})
    t.set_anonymous_user_token()
    t.track("Hello")
    assert _ids_stored(env) == []
    event = t.get_buffered_events()[0]
    for key in ("anonymousId", "userId", "userToken", "session"):
        assert key not in event, key


def test_denied_on_load_removes_ids_left_by_another_tab():
    env = Env()
    env.jar.set_raw("_trk_consent", "denied", 3600)
    env.jar.set_raw("ajs_anonymous_id", "4f1c1d4e-1111-4222-8333-444455556666", 3600)
    env.ls.items["ajs_user_id"] = '"u1"'
    _tracker(env)
    assert _ids_stored(env) == []


def test_a_remembered_denied_holds_on_a_page_that_never_calls_init():
    from tracker import Tracker

    env = Env()
    env.jar.set_raw("_trk_consent", "denied", 3600)
    env.jar.set_raw("ajs_anonymous_id", "4f1c1d4e-1111-4222-8333-444455556666", 3600)
    t = Tracker(env.host())
    t.set_anonymous_user_token()
    t.track("Hello")
    assert _ids_stored(env) == []
    assert t.get_mode()["withServerAnonymisation"] is True
    assert t.get_anonymous_id() is None


def test_a_remembered_granted_holds_on_a_page_that_never_calls_init():
    from tracker import Tracker

    env = Env()
    env.jar.set_raw("_trk_consent", "granted", 3600)
    t = Tracker(env.host())
    assert t.get_mode()["anonymous"] is False
    assert is_uuid4(t.get_anonymous_id())


def test_gpc_starts_a_visitor_without_a_choice_cookieless():
    env = Env()
    t = _tracker(env, {"respectGlobalPrivacyControl": True}, gpc=True)
    mode = t.get_mode()
    assert mode["withServerAnonymisation"] is True
    assert mode["stateStorageStrategy"] == "none"
    _identified(t)
    assert _ids_stored(env) == []
    assert t.get_consent() is None


def test_gpc_is_ignored_unless_respected():
    env = Env()
    t = _tracker(env, {}, gpc=True)
    assert t.get_mode()["anonymous"] is False
    assert is_uuid4(t.get_anonymous_id())


def test_granted_overrides_gpc_now_and_on_later_loads():
    env = Env()
    options = {"respectGlobalPrivacyControl": True}
    t = _tracker(env, options, gpc=True)
    t.set_consent("granted")
    anonymous_id = t.get_anonymous_id()
    assert is_uuid4(anonymous_id)
    t2 = _tracker(env, options, gpc=True)
    assert t2.get_mode()["anonymous"] is False
    assert t2.get_anonymous_id() == anonymous_id


def test_gpc_leaves_ids_stored_before_in_place():
    env = Env()
    first = _tracker(env)
    anonymous_id = first.get_anonymous_id()
    t = _tracker(env, {"respectGlobalPrivacyControl": True}, gpc=True)
    assert t.get_anonymous_id() is None
    assert env.jar.get("ajs_anonymous_id") == anonymous_id


def test_a_failing_privacy_signal_warns_and_counts_as_none():
    from tracker import Tracker

    env = Env()
    host = env.host()

    def broken():
        raise RuntimeError("navigator is gone")

    host.privacy_signal = broken
    t = Tracker(host)
    t.init({"respectGlobalPrivacyControl": True})
    assert t.get_mode()["anonymous"] is False
    assert [w for w in env.warnings if "privacy signal" in w]


def test_bad_choices_warn_and_change_nothing():
    env = Env()
    t = _tracker(env)
    anonymous_id = t.get_anonymous_id()
    for bad in ("yes", "GRANTED", 1, True, {}, ""):
        count = len(env.warnings)
        assert t.set_consent(bad) is None
        assert len(env.warnings) == count + 1, bad
    assert t.get_consent() is None
    assert t.get_anonymous_id() == anonymous_id


def test_garbage_in_the_consent_cookie_is_no_choice():
    env = Env()
    env.jar.set_raw("_trk_consent", "maybe%ZZ", 3600)
    t = _tracker(env, BANNER)
    assert t.get_consent() is None
    assert t.get_mode()["stateStorageStrategy"] == "none"
    env.jar.set_raw("_trk_consent", "%22granted%22", 3600)
    assert t.get_consent() is None


def test_none_forgets_the_choice():
    env = Env()
    t = _tracker(env, BANNER)
    t.set_consent("denied")
    assert t.set_consent(None) is None
    assert t.get_consent() is None
    assert env.jar.get("_trk_consent") is None
    assert t.get_mode()["anonymous"] is True, "the mode stays until the next load"
    t2 = _tracker(env, {"anonymousTracking": True})
    assert t2.get_mode()["withServerAnonymisation"] is False


def test_clear_user_data_and_reset_keep_the_choice():
    env = Env()
    t = _tracker(env)
    t.set_consent("granted")
    t.clear_user_data()
    t.reset()
    assert t.get_consent() == "granted"


def test_renamed_consent_cookie():
    env = Env()
    t = _tracker(env, {"cookieNames": {"consent": "site_consent"}})
    t.set_consent("denied")
    assert env.jar.get("site_consent") == "denied"
    assert env.jar.get("_trk_consent") is None


def test_denied_requests_carry_sp_anonymous():
    env = Env(network=True)
    from tracker import Tracker

    t = Tracker(env.host())
    t.init({"collectorUrl": "https://shop.example/collect"})
    t.set_consent("denied")
    t.track("Declined")
    env.loop.run()
    request = env.transport.requests[-1]
    assert request.headers.get("SP-Anonymous") == "*"
    assert "anonymousId" not in request.body


def test_js_names_dispatch():
    env = Env()
    t = _tracker(env)
    assert "setConsent" in dispatch.METHODS and "getConsent" in dispatch.METHODS
    assert dispatch.call(t, "setConsent", ["denied"]) == "denied"
    assert dispatch.call(t, "getConsent", []) == "denied"
    count = len(env.warnings)
    assert dispatch.call(t, "setConsent", []) is None
    assert len(env.warnings) == count + 1
    assert dispatch.call(t, "getConsent", []) == "denied"


def test_a_refresh_arriving_after_denied_is_removed_again():
    """A request sent before the visitor declined carried the ids; the collector's answer
    re-sets them (Set-Cookie refresh) after the clear: the tracker removes them again."""
    from tracker import Tracker

    env = Env(network=True)
    t = Tracker(env.host())
    t.init({"collectorUrl": "https://shop.example/collect"})
    anonymous_id = t.get_anonymous_id()
    t.set_anonymous_user_token()
    token = t.get_user_token()
    send = env.transport.send

    def send_then_refresh(request, on_done):
        def answered(status):
            env.jar.set_raw("ajs_anonymous_id", anonymous_id, 3600)
            env.jar.set_raw("_ALGOLIA", token, 3600)
            on_done(status)

        send(request, answered)

    t.delivery.host.send = send_then_refresh
    t.track("Before")
    env.loop.run()
    assert env.jar.get("ajs_anonymous_id") == anonymous_id, "refreshes are fine while tracked"
    t.track("In flight")
    t.set_consent("denied")
    env.loop.run()
    assert env.jar.get("ajs_anonymous_id") is None
    assert env.jar.get("_ALGOLIA") is None
    t.set_consent("granted")
    env.loop.run()
    assert is_uuid4(t.get_anonymous_id()) and t.get_anonymous_id() != anonymous_id


def test_ids_stored_after_a_clear_while_tracking_stay_when_going_anonymous():
    """Only a clear made while anonymous makes answers remove id cookies: ids created while
    tracking stay where they are in a later anonymous mode (Snowplow)."""
    from tracker import Tracker

    env = Env(network=True)
    t = Tracker(env.host())
    t.init({"collectorUrl": "https://shop.example/collect"})
    t.clear_user_data()
    anonymous_id = t.get_anonymous_id()
    t.enable_anonymous_tracking()
    t.track("Anonymous")
    env.loop.run()
    assert env.transport.answered
    assert env.jar.get("ajs_anonymous_id") == anonymous_id
