"""Events before sending: ids per mode, options, the persisted buffer and its bounds."""

from fakes import Env

from tracker.identity import is_uuid4


def test_track_event_carries_message_id_timestamp_ids_and_session():
    env = Env()
    t = env.tracker({"appId": "shop"})
    t.set_user_token("tok")
    t.identify("u1")
    message_id = t.track("Clicked", {"x": 1}, {"context": {"ip": "0.0.0.0", "traits": {"t": 1}}})
    event = t.get_buffered_events()[-1]
    assert is_uuid4(message_id) and event["messageId"] == message_id
    assert event["type"] == "track" and event["event"] == "Clicked"
    assert event["timestamp"] == int(env.clock.ms())
    assert event["appId"] == "shop"
    assert event["anonymousId"] == t.get_anonymous_id()
    assert event["userId"] == "u1" and event["userToken"] == "tok"
    assert event["context"]["ip"] == "0.0.0.0"
    assert event["context"]["traits"] == {"t": 1}
    assert event["context"]["session"] == {"id": t.get_session_id(), "index": 1}


def test_context_traits_are_for_one_event_only():
    t = Env().tracker()
    t.track("a", {}, {"context": {"traits": {"plan": "x"}}})
    t.track("b")
    assert "traits" not in t.get_buffered_events()[-1]["context"]
    assert t.user().traits() == {}


def test_page_arguments_follow_segment():
    t = Env().tracker()
    t.page()
    t.page("Home")
    t.page("Docs", "Install", {"path": "/docs"})
    t.page({"path": "/x"})
    events = t.get_buffered_events()
    assert "name" not in events[0]
    assert events[1]["name"] == "Home"
    assert events[2]["name"] == "Install"
    assert events[2]["properties"] == {"path": "/docs", "category": "Docs"}
    assert events[3]["properties"] == {"path": "/x"}


def test_buffer_survives_a_reload():
    env = Env()
    first = env.tracker().track("a")
    again = env.tracker()
    assert [e["messageId"] for e in again.get_buffered_events()] == [first]


def test_bad_event_arguments_warn_and_record_nothing():
    env = Env()
    t = env.tracker()
    assert t.track("") is None
    assert t.track(42) is None
    assert t.track("a", "not an object") is None
    assert t.track("a", {"big": "x" * 20000}) is None
    assert t.track("a", {}, "nope") is None
    assert t.page(3) is None
    assert t.get_buffered_events() == []
    assert len(env.warnings) == 6


def test_garbage_buffer_in_local_storage_is_ignored():
    env = Env()
    env.ls.items["_trk_queue"] = '[{"no": "id"}]'
    t = env.tracker()
    t.track("a")
    assert len(t.get_buffered_events()) == 1


def test_full_buffer_drops_the_oldest_with_a_warning():
    env = Env()
    t = env.tracker({"maxQueueSize": 20})
    first = t.track("e0")
    for i in range(25):
        t.track("e%d" % (i + 1))
    events = t.get_buffered_events()
    assert len(events) == 20
    assert events[0]["messageId"] != first
    assert len([w for w in env.warnings if "buffer full" in w]) == 1


def test_buffer_is_saved_once_per_burst_when_the_host_can_defer():
    env = Env()
    deferred = []
    host = env.host()
    host.defer = deferred.append
    from tracker import Tracker

    t = Tracker(host)
    t.init()
    t.track("a")
    t.track("b")
    assert len(deferred) == 1
    assert "_trk_queue" not in env.ls.items
    deferred.pop()()
    assert [e["event"] for e in env.tracker().get_buffered_events()] == ["a", "b"]


def test_a_host_whose_defer_throws_still_saves_at_once():
    env = Env()
    host = env.host()

    def broken(fn):
        raise RuntimeError("no microtasks")

    host.defer = broken
    from tracker import Tracker

    t = Tracker(host)
    t.track("a")
    assert "_trk_queue" in env.ls.items
    assert "could not defer" in env.warnings[-1]


def test_recording_an_event_reads_the_cookie_jar_once():
    env = Env()
    t = env.tracker()
    t.identify("u1")
    env.clock.advance(5)
    before = env.jar.reads
    t.track("a")
    assert env.jar.reads == before + 1
    t.get_anonymous_id()
    t.get_anonymous_id()
    assert env.jar.reads == before + 3
