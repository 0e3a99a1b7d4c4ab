"""Segment-style anonymousId, userId, traits, group and reset on a fake page."""

import json

from fakes import Env

from tracker.identity import is_uuid4


def test_anonymous_id_is_created_at_init_and_stored_in_cookie_and_local_storage():
    env = Env()
    t = env.tracker()
    anonymous_id = env.jar.get("ajs_anonymous_id")
    assert is_uuid4(anonymous_id)
    assert env.ls.items["ajs_anonymous_id"] == '"%s"' % anonymous_id
    assert env.jar.attributes("ajs_anonymous_id")["max-age"] == str(365 * 24 * 3600)
    assert t.get_anonymous_id() == anonymous_id
    assert t.user().anonymous_id() == anonymous_id


def test_anonymous_id_survives_a_reload():
    env = Env()
    first = env.tracker().get_anonymous_id()
    assert env.tracker().get_anonymous_id() == first


def test_cookie_gone_but_local_storage_kept_restores_the_same_id():
    env = Env()
    first = env.tracker().get_anonymous_id()
    env.jar.cookies.clear()
    assert env.tracker().get_anonymous_id() == first
    assert env.jar.get("ajs_anonymous_id") == first


def test_both_cleared_gives_a_new_id():
    env = Env()
    first = env.tracker().get_anonymous_id()
    env.jar.cookies.clear()
    env.ls.items.clear()
    second = env.tracker().get_anonymous_id()
    assert is_uuid4(second) and second != first


def test_set_anonymous_id_persists_across_reload_by_every_route():
    env = Env()
    t = env.tracker()
    t.set_anonymous_id("ABC-123-XYZ")
    assert env.tracker().get_anonymous_id() == "ABC-123-XYZ"
    t.user().anonymous_id("DEF")
    assert env.tracker().get_anonymous_id() == "DEF"
    t.track("Email Clicked", {}, {"anonymousId": "GHI"})
    assert env.tracker().get_anonymous_id() == "GHI"
    assert env.tracker({"anonymousId": "JKL"}).get_anonymous_id() == "JKL"


def test_invalid_anonymous_ids_are_refused():
    env = Env()
    t = env.tracker()
    before = t.get_anonymous_id()
    for bad in ("", "x" * 300, {"id": 1}, "a\x00b", True):
        assert t.set_anonymous_id(bad) is None
        assert t.get_anonymous_id() == before
    assert len(env.warnings) == 5


def test_migration_keeps_analytics_js_and_search_insights_ids():
    env = Env()
    env.jar.set_raw("ajs_anonymous_id", "%2239ee7ea5-b6d8-4174-b612-04e1ef3fa952%22")
    env.jar.set_raw("ajs_user_id", "%22user-7%22")
    env.ls.items["ajs_user_traits"] = '{"plan": "pro"}'
    env.jar.set_raw("_ALGOLIA", "anonymous-11111111-1111-4111-8111-111111111111")
    t = env.tracker()
    assert t.get_anonymous_id() == "39ee7ea5-b6d8-4174-b612-04e1ef3fa952"
    assert t.user().id() == "user-7"
    assert t.user().traits() == {"plan": "pro"}
    assert t.set_anonymous_user_token() == "anonymous-11111111-1111-4111-8111-111111111111"


def test_migration_from_analytics_js_local_storage_only():
    env = Env()
    env.ls.items["ajs_anonymous_id"] = '"39ee7ea5-b6d8-4174-b612-04e1ef3fa952"'
    assert env.tracker().get_anonymous_id() == "39ee7ea5-b6d8-4174-b612-04e1ef3fa952"


def test_identify_sets_user_and_merges_traits():
    env = Env()
    t = env.tracker()
    anonymous_id = t.get_anonymous_id()
    t.identify("user_123", {"name": "Jane Kim"})
    t.identify("user_123", {"plan": "pro"})
    assert t.user().id() == "user_123"
    assert t.user().traits() == {"name": "Jane Kim", "plan": "pro"}
    assert t.get_anonymous_id() == anonymous_id
    assert env.jar.get("ajs_user_id") == "user_123"
    assert env.tracker().user().traits() == {"name": "Jane Kim", "plan": "pro"}


def test_identify_with_traits_only_keeps_the_user():
    t = Env().tracker()
    t.identify("u1", {"a": 1})
    t.identify({"b": 2})
    assert t.user().id() == "u1"
    assert t.user().traits() == {"a": 1, "b": 2}


def test_identify_with_a_different_user_rotates_the_anonymous_id_and_replaces_traits():
    t = Env().tracker()
    t.identify("u1", {"a": 1})
    first = t.get_anonymous_id()
    t.identify("u2", {"b": 2})
    assert t.get_anonymous_id() != first
    assert is_uuid4(t.get_anonymous_id())
    assert t.user().traits() == {"b": 2}


def test_first_identify_does_not_rotate():
    t = Env().tracker()
    first = t.get_anonymous_id()
    t.identify("u1")
    assert t.get_anonymous_id() == first


def test_identify_option_anonymous_id_persists():
    env = Env()
    env.tracker().identify("user_123", {"name": "Jane Kim"}, {"anonymousId": "ABC-123-XYZ"})
    assert env.tracker().get_anonymous_id() == "ABC-123-XYZ"


def test_traits_empty_object_clears_the_cache():
    env = Env()
    t = env.tracker()
    t.identify("u1", {"a": 1})
    assert t.user().traits({}) == {}
    assert env.tracker().user().traits() == {}


def test_group_sets_id_and_traits():
    env = Env()
    t = env.tracker()
    t.group("g1", {"name": "Acme"})
    t.group("g1", {"plan": "big"})
    assert t.group().id() == "g1"
    assert t.group().traits() == {"name": "Acme", "plan": "big"}
    assert env.jar.get("ajs_group_id") == "g1"
    assert json.loads(env.ls.items["ajs_group_properties"]) == {"name": "Acme", "plan": "big"}
    assert t.group().traits({}) == {}


def test_reset_forgets_everything_and_a_new_anonymous_id_comes_on_next_use():
    env = Env()
    t = env.tracker()
    first = t.get_anonymous_id()
    t.identify("u1", {"a": 1})
    t.group("g1", {"b": 2})
    t.set_anonymous_user_token()
    t.set_authenticated_user_token("auth")
    t.reset()
    assert t.user().id() is None
    assert t.user().traits() == {}
    assert t.group().id() is None
    assert t.get_user_token() is None
    assert t.get_authenticated_user_token() is None
    for key in ("ajs_user_id", "ajs_group_id", "ajs_anonymous_id", "_ALGOLIA"):
        assert env.jar.get(key) is None, key
    for key in ("ajs_user_id", "ajs_user_traits", "ajs_group_properties", "ajs_anonymous_id"):
        assert key not in env.ls.items, key
    second = t.get_anonymous_id()
    assert is_uuid4(second) and second != first


def test_throwing_local_storage_still_gives_a_working_id_with_one_warning():
    env = Env(ls_failing=True)
    t = env.tracker()
    anonymous_id = t.get_anonymous_id()
    assert is_uuid4(anonymous_id)
    t.identify("u1", {"a": 1})
    assert t.user().traits() == {"a": 1}
    assert env.jar.get("ajs_anonymous_id") == anonymous_id
    assert len([w for w in env.warnings if "localStorage" in w]) == 1


def test_everything_blocked_keeps_identity_in_memory():
    env = Env(ls_failing=True, cookies_blocked=True)
    t = env.tracker()
    anonymous_id = t.get_anonymous_id()
    assert is_uuid4(anonymous_id)
    assert t.get_anonymous_id() == anonymous_id
    t.identify("u1")
    assert t.user().id() == "u1"


def test_oversized_traits_are_refused():
    env = Env()
    t = env.tracker()
    t.identify("u1", {"a": 1})
    t.identify("u1", {"big": "x" * 20000})
    assert t.user().traits() == {"a": 1}
    assert "traits" in env.warnings[-1]


def test_same_page_notices_cookie_changes_made_behind_its_back():
    env = Env()
    t = env.tracker()
    first = t.get_anonymous_id()
    env.jar.cookies.pop("ajs_anonymous_id")
    assert t.get_anonymous_id() == first
    assert env.jar.get("ajs_anonymous_id") == first
    env.jar.set_raw("ajs_anonymous_id", "other-id")
    assert t.get_anonymous_id() == "other-id"
    assert env.ls.items["ajs_anonymous_id"] == '"other-id"'
