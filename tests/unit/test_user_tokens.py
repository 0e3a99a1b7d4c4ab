"""Algolia user tokens on a fake page: setAnonymousUserToken, set/get, onUserTokenChange."""

from fakes import Env

from tracker import dispatch
from tracker.identity import is_uuid4


def _is_anonymous_token(value):
    return isinstance(value, str) and value.startswith("anonymous-") and is_uuid4(value[10:])


def test_anonymous_token_is_written_to_the_algolia_cookie_for_cookie_duration():
    env = Env()
    t = env.tracker({"cookieDuration": 86400000})
    token = t.set_anonymous_user_token()
    assert _is_anonymous_token(token)
    assert t.get_user_token() == token
    assert env.jar.get("_ALGOLIA") == token
    assert env.jar.attributes("_ALGOLIA")["max-age"] == "86400"
    assert "expires" in env.jar.attributes("_ALGOLIA")


def test_default_cookie_duration_is_six_months():
    env = Env()
    env.tracker().set_anonymous_user_token()
    assert env.jar.attributes("_ALGOLIA")["max-age"] == "15552000"


def test_existing_anonymous_cookie_is_reused_not_rewritten():
    env = Env()
    env.jar.set_raw("_ALGOLIA", "anonymous-11111111-1111-4111-8111-111111111111")
    t = env.tracker()
    writes = len(env.jar.writes)
    assert t.set_anonymous_user_token() == "anonymous-11111111-1111-4111-8111-111111111111"
    assert [w for w in env.jar.writes[writes:] if w.startswith("_ALGOLIA")] == []


def test_non_anonymous_cookie_is_replaced_by_a_new_token():
    env = Env()
    env.jar.set_raw("_ALGOLIA", "user-42")
    token = env.tracker().set_anonymous_user_token()
    assert _is_anonymous_token(token)
    assert env.jar.get("_ALGOLIA") == token


def test_in_memory_token_is_new_every_call_and_writes_no_cookie():
    env = Env()
    t = env.tracker()
    first = t.set_anonymous_user_token(True)
    second = t.set_anonymous_user_token(True)
    assert _is_anonymous_token(first) and _is_anonymous_token(second)
    assert first != second
    assert env.jar.get("_ALGOLIA") is None


def test_blocked_cookies_make_set_anonymous_user_token_a_no_op():
    env = Env(cookies_blocked=True)
    t = env.tracker()
    assert t.set_anonymous_user_token() is None
    assert t.get_user_token() is None
    assert _is_anonymous_token(t.set_anonymous_user_token(True))


def test_cookie_that_ignores_writes_counts_as_no_cookies():
    env = Env(ignore_cookie_writes=True)
    t = env.tracker()
    assert t.set_anonymous_user_token() is None
    assert t.get_user_token() is None


def test_strategies_without_cookies_make_it_a_no_op():
    for strategy in ("localStorage", "none"):
        env = Env()
        t = env.tracker({"stateStorageStrategy": strategy})
        assert t.set_anonymous_user_token() is None, strategy
        assert env.jar.get("_ALGOLIA") is None


def test_invalid_tokens_are_refused_with_a_warning_and_state_kept():
    env = Env()
    t = env.tracker()
    t.set_user_token("good")
    for bad in ("", "a" * 130, "has space", 42, None, {"a": 1}, True):
        before = len(env.warnings)
        assert t.set_user_token(bad) is None
        assert t.get_user_token() == "good"
        assert len(env.warnings) == before + 1


def test_authenticated_user_token_set_get_and_clear():
    env = Env()
    t = env.tracker()
    assert t.set_authenticated_user_token("auth-1") == "auth-1"
    assert t.get_authenticated_user_token() == "auth-1"
    t.set_authenticated_user_token("bad token")
    assert t.get_authenticated_user_token() == "auth-1"
    t.set_authenticated_user_token(None)
    assert t.get_authenticated_user_token() is None


def test_init_options_set_initial_tokens():
    t = Env().tracker({"userToken": "u-1", "authenticatedUserToken": "a-1"})
    assert t.get_user_token() == "u-1"
    assert t.get_authenticated_user_token() == "a-1"


def test_on_user_token_change_called_after_each_change_and_immediately_on_request():
    env = Env()
    t = env.tracker()
    seen = []
    t.on_user_token_change(seen.append)
    assert seen == []
    t.set_user_token("a")
    token = t.set_anonymous_user_token()
    assert seen == ["a", token]
    later = []
    t.on_user_token_change(later.append, True)
    assert later == [token]


def test_callback_that_raises_is_reported_not_propagated():
    env = Env()
    t = env.tracker()

    def boom(token):
        raise RuntimeError("page bug")

    t.on_user_token_change(boom)
    assert t.set_user_token("a") == "a"
    assert "onUserTokenChange callback failed" in env.warnings[-1]


def test_cookie_names_and_attributes_are_configurable():
    env = Env()
    t = env.tracker(
        {
            "cookieNames": {"userToken": "my_tok"},
            "cookieDomain": "example.com",
            "cookiePath": "/shop",
            "cookieSameSite": "Strict",
            "cookieSecure": True,
        }
    )
    token = t.set_anonymous_user_token()
    assert env.jar.get("my_tok") == token
    attrs = env.jar.attributes("my_tok")
    assert attrs["domain"] == "example.com"
    assert attrs["path"] == "/shop"
    assert attrs["samesite"] == "Strict"
    assert "secure" in attrs


def test_bad_init_options_warn_and_keep_defaults():
    env = Env()
    t = env.tracker({"cookieDuration": "soon", "stateStorageStrategy": "disk", "nope": 1})
    assert t.options["cookieDuration"] == 15552000000
    assert t.options["stateStorageStrategy"] == "cookieAndLocalStorage"
    assert len(env.warnings) == 3


def test_a_cookie_duration_under_a_second_is_refused_not_a_deleted_cookie():
    env = Env()
    t = env.tracker({"cookieDuration": 500})
    assert t.options["cookieDuration"] == 15552000000
    assert "at least 1000" in env.warnings[-1]
    assert t.set_anonymous_user_token() is not None


def test_dispatch_maps_js_names_and_warns_on_unknown_methods():
    env = Env()
    t = env.tracker()
    assert dispatch.call(t, "setUserToken", ["tok"]) == "tok"
    assert dispatch.call(t, "getUserToken", []) == "tok"
    assert dispatch.call(t, "noSuchMethod", [1]) is None
    assert "unknown method 'noSuchMethod'" in env.warnings[-1]
    calls = []
    dispatch.call(
        t,
        "onUserTokenChange",
        [{"$fn": 7}, {"immediate": True}],
        lambda fn_id: lambda *args: calls.append((fn_id, args)),
    )
    assert calls == [(7, ("tok",))]
    assert dispatch.call(t, "user", []) == {
        "$accessor": "user",
        "methods": ["id", "anonymousId", "traits"],
    }
    assert "init" in dispatch.METHODS and "user.id" not in dispatch.METHODS


def test_only_the_token_cookie_is_written_and_reuse_writes_nothing():
    env = Env()
    t = env.tracker()
    before = len(env.jar.writes)
    token = t.set_anonymous_user_token()
    assert [w.split("=")[0] for w in env.jar.writes[before:]] == ["_ALGOLIA"]
    before = len(env.jar.writes)
    assert t.set_anonymous_user_token() == token
    assert env.jar.writes[before:] == []
