"""Storage: cookie text in and out, and the combined store over failing or garbage storage."""

from fakes import Env, raises

from tracker.storage import (
    CookieStorage,
    LocalStorage,
    Slot,
    StateStore,
    cookie_assignment,
    decode_value,
    http_date,
    parse_cookies,
    percent_decode,
    percent_encode,
)


def _id_check(value):
    return None if isinstance(value, str) and len(value) < 100 else "bad id"


def _slot(cookie=True, local=True):
    return Slot("ajs_anonymous_id", cookie, local, 3600, _id_check, "user")


def _store(env, strategy="cookieAndLocalStorage"):
    cookies = CookieStorage(env.jar, env.clock.ms, env.warnings.append)
    local = LocalStorage(env.ls, env.warnings.append)
    return StateStore(cookies, local, env.warnings.append, strategy)


def test_http_date_matches_known_dates():
    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert http_date(951782400000) == "Tue, 29 Feb 2000 00:00:00 GMT"
    assert http_date(1795530234325) == "Tue, 24 Nov 2026 14:23:54 GMT"


def test_cookie_assignment_has_max_age_and_expires():
    text = cookie_assignment("_ALGOLIA", "anonymous-x", 15552000, 0, "/", None, "Lax", False)
    assert text == (
        "_ALGOLIA=anonymous-x; Max-Age=15552000; Expires=Tue, 30 Jun 1970 00:00:00 GMT; "
        "Path=/; SameSite=Lax"
    )
    secure = cookie_assignment("a", "b", None, 0, "/p", "example.com", "None", True)
    assert secure == "a=b; Path=/p; Domain=example.com; SameSite=None; Secure"


def test_parse_cookies_first_wins_and_tolerates_junk():
    jar = parse_cookies("a=1; b=x=y;junk; ;a=2; c=")
    assert jar == {"a": "1", "b": "x=y", "c": ""}


def test_percent_round_trip_and_bad_escapes():
    text = 'a b;"é€'
    assert percent_decode(percent_encode(text)) == text
    assert percent_encode("anonymous-1+2/3=") == "anonymous-1+2/3="
    assert raises(ValueError, percent_decode, "%FF%FE")
    assert raises(ValueError, percent_decode, "%2")
    assert raises(ValueError, percent_decode, "%zz")


def test_decode_value_reads_plain_and_json_quoted():
    assert decode_value("abc") == "abc"
    assert decode_value('"abc"') == "abc"
    assert decode_value('{"a": 1}') == {"a": 1}
    assert raises(ValueError, decode_value, '{"a": ')


def test_analytics_js_quoted_cookie_reads_as_plain_id():
    env = Env()
    env.jar.set_raw("ajs_anonymous_id", "%2239ee7ea5-b6d8-4174-b612-04e1ef3fa952%22")
    assert _store(env).get(_slot()) == "39ee7ea5-b6d8-4174-b612-04e1ef3fa952"


def test_cookie_wins_and_is_mirrored_to_local_storage():
    env = Env()
    env.jar.set_raw("ajs_anonymous_id", "from-cookie")
    env.ls.items["ajs_anonymous_id"] = '"from-ls"'
    assert _store(env).get(_slot()) == "from-cookie"
    assert env.ls.items["ajs_anonymous_id"] == '"from-cookie"'


def test_value_only_in_local_storage_is_restored_into_the_cookie():
    env = Env()
    env.ls.items["ajs_anonymous_id"] = '"kept"'
    assert _store(env).get(_slot()) == "kept"
    assert env.jar.get("ajs_anonymous_id") == "kept"
    assert "Max-Age=3600" in env.jar.writes[-1]


def test_strategies_write_only_their_places():
    for strategy, in_cookie, in_ls in (
        ("cookieAndLocalStorage", True, True),
        ("cookie", True, False),
        ("localStorage", False, True),
        ("none", False, False),
    ):
        env = Env()
        store = _store(env, strategy)
        store.set(_slot(), "v")
        assert (env.jar.get("ajs_anonymous_id") == "v") == in_cookie, strategy
        assert ("ajs_anonymous_id" in env.ls.items) == in_ls, strategy
        assert store.get(_slot()) == "v", strategy


def test_throwing_local_storage_warns_once_and_memory_keeps_the_value():
    env = Env(ls_failing=True)
    store = _store(env, "localStorage")
    store.set(_slot(), "v")
    store.set(_slot(), "w")
    assert store.get(_slot()) == "w"
    assert len(env.warnings) == 1
    assert "localStorage is not usable" in env.warnings[0]


def test_blocked_cookies_fall_back_to_local_storage():
    env = Env(cookies_blocked=True)
    store = _store(env)
    store.set(_slot(), "v")
    assert env.ls.items["ajs_anonymous_id"] == '"v"'
    assert _store(env).get(_slot()) == "v"


def test_cookie_that_ignores_writes_still_leaves_a_working_value():
    env = Env(ignore_cookie_writes=True)
    store = _store(env, "cookie")
    store.set(_slot(), "v")
    assert env.jar.get("ajs_anonymous_id") is None
    assert store.get(_slot()) == "v"


def test_garbage_is_ignored_with_one_warning_and_overwritten_from_a_good_copy():
    for garbage in ("%FF%FE", "%22unterminated", "x" * 100_000, "%7B%22a%22%3A"):
        env = Env()
        env.jar.set_raw("ajs_anonymous_id", garbage)
        env.ls.items["ajs_anonymous_id"] = '"good"'
        store = _store(env)
        assert store.get(_slot()) == "good", garbage
        assert store.get(_slot()) == "good", garbage
        assert env.jar.get("ajs_anonymous_id") == "good", garbage
        assert len(env.warnings) == 1, (garbage, env.warnings)


def test_oversized_values_are_refused():
    env = Env()
    store = _store(env)
    assert not store.set(_slot(), "x" * 20000)
    assert store.get(_slot()) is None
    assert "not stored" in env.warnings[0]


def test_switching_strategy_moves_values():
    env = Env()
    store = _store(env, "cookie")
    store.set(_slot(), "v")
    store.switch("localStorage", [_slot()])
    assert env.jar.get("ajs_anonymous_id") is None
    assert env.ls.items["ajs_anonymous_id"] == '"v"'
    store.switch("none", [_slot()])
    assert env.ls.items == {}
    assert store.get(_slot()) == "v"


def test_remove_clears_every_place_whatever_the_strategy():
    env = Env()
    env.jar.set_raw("ajs_anonymous_id", "c")
    env.ls.items["ajs_anonymous_id"] = '"l"'
    store = _store(env, "none")
    store.remove(_slot())
    assert env.jar.get("ajs_anonymous_id") is None
    assert env.ls.items == {}
