"""Anonymous sessions against a fake collector: tokens for the anonymousId, storage per mode,
renewal before expiry, metadata updates, transfer, and tokens dropped by reset and clear."""

import json

from fakes import Env

from tracker import dispatch
from tracker.anonymous_api import endpoint

OPTIONS = {"collectorUrl": "https://c.example/t/collect"}
KEY = "_trk_anon_session"


class Collector:
    """The collector's anonymous-session endpoints, answering through the fake transport."""

    def __init__(self, env):
        self.env = env
        self.sessions = {}  # session token -> session dict
        self.revoked = False
        self.issued = 0
        self.calls = []
        self.down = False
        env.transport.responder = self.respond

    def _answer(self, session):
        self.issued += 1
        token = "session-%d" % self.issued
        self.sessions[token] = session
        return {
            "session_token": token,
            "access_token": "access-%d" % self.issued,
            "token_type": "Bearer",
            "expires_in": 3600,
            "session_expires_in": 7 * 24 * 3600,
            "user_id": session["user_id"],
            "session_id": session["session_id"],
            "metadata": session["metadata"],
        }

    def respond(self, request):
        if "/anonymous/" not in request.url:
            return None
        if self.down:
            return 0
        body = json.loads(request.body) if request.body else {}
        auth = request.headers.get("Authorization", "")
        self.calls.append((request.method, request.url, body, auth))
        if request.url.endswith("/anonymous/token"):
            session = {
                "user_id": body.get("user_id", "server-made-id"),
                "session_id": "sid-%d" % (len(self.calls)),
                "metadata": body.get("metadata", {}),
            }
            return 200, json.dumps(self._answer(session))
        session = self.sessions.get(auth[len("Bearer ") :])
        if session is None or self.revoked:
            return 401, json.dumps({"error": "session token refused: session revoked"})
        if request.method == "PATCH":
            merged = dict(session["metadata"])
            merged.update(body)
            session["metadata"] = merged
            return 200, json.dumps(self._answer(session))
        if body.get("login_proof") != "proof-alice":
            return 403, json.dumps({"error": "login proof refused: bad signature"})
        result = {"user_id": "alice", "anonymous_id": session["user_id"], "transferred": True}
        return 200, json.dumps(result)


def _page(options=None, **env_args):
    env = Env(network=True, **env_args)
    collector = Collector(env)
    opts = dict(OPTIONS)
    opts.update(options or {})
    t = env.tracker(opts)
    env.loop.run()
    return env, collector, t


def _call(env, fn, *args):
    """Run an asynchronous tracker call to its end; returns what its callback got."""
    got = []
    fn(*(args + (got.append,)))
    env.loop.run()
    assert len(got) == 1, got
    return got[0]


def _stored(env):
    text = env.ls.items.get(KEY)
    return None if text is None else json.loads(text)


def test_endpoint_sits_beside_the_collector_url():
    assert endpoint("https://c.example/t/collect", "anonymous/token") == (
        "https://c.example/t/anonymous/token"
    )
    assert endpoint("/collect", "anonymous/session") == "/anonymous/session"
    assert endpoint("https://c.example", "anonymous/token") == "https://c.example/anonymous/token"


def test_start_sends_the_anonymous_id_and_keeps_the_tokens_in_local_storage():
    env, collector, t = _page()
    answer = _call(env, t.start_anonymous_session, {"cart": ["tea"]})
    method, url, body, auth = collector.calls[0]
    assert (method, url, auth) == ("POST", "https://c.example/t/anonymous/token", "")
    assert body == {"user_id": t.get_anonymous_id(), "metadata": {"cart": ["tea"]}}
    request = env.transport.requests[-1]
    assert request.content_type == "application/json"
    assert answer["access_token"] == "access-1" and answer["resumed"] is False
    assert answer["user_id"] == t.get_anonymous_id()
    stored = _stored(env)
    assert stored["session_token"] == "session-1" and stored["access_token"] == "access-1"
    assert stored["expires_at"] == int(env.clock.now) + 3600 * 1000
    assert KEY not in env.jar.cookies
    assert _call(env, t.get_access_token) == "access-1"
    assert len(collector.calls) == 1
    assert env.warnings == []


def test_tokens_are_renewed_before_they_expire():
    env, collector, t = _page()
    _call(env, t.start_anonymous_session, None)
    env.loop.advance(0.8 * 3600 - 1)
    assert len(collector.calls) == 1
    env.loop.advance(2)
    method, _url, body, auth = collector.calls[1]
    assert (method, body, auth) == ("PATCH", {}, "Bearer session-1")
    assert _call(env, t.get_access_token) == "access-2"
    assert _stored(env)["session_token"] == "session-2"
    env.loop.advance(0.8 * 3600 + 1)
    assert _call(env, t.get_access_token) == "access-3"


def test_an_overdue_token_is_renewed_when_asked_for_and_offline_keeps_the_valid_one():
    env, collector, t = _page()
    _call(env, t.start_anonymous_session, None)
    env.clock.advance(0.9 * 3600)  # the timer did not fire (a sleeping laptop)
    collector.down = True
    assert _call(env, t.get_access_token) == "access-1"  # still valid for a while
    collector.down = False
    assert _call(env, t.get_access_token) == "access-2"
    assert env.warnings == []


def test_reload_resumes_the_stored_session():
    env, collector, t = _page()
    _call(env, t.start_anonymous_session, {"cart": ["tea"]})
    t2 = env.reload(OPTIONS)
    assert _call(env, t2.get_access_token) == "access-1"
    answer = _call(env, t2.start_anonymous_session, {"cart": []})
    assert answer["resumed"] is True and answer["metadata"] == {"cart": ["tea"]}
    assert [c[0] for c in collector.calls] == ["POST", "PATCH"]


def _reload_with_a_revoked_session():
    """A page whose stored session the collector no longer knows, reloaded."""
    env, collector, t = _page()
    _call(env, t.start_anonymous_session, None)
    collector.revoked = True
    t2 = env.reload(OPTIONS)
    collector.revoked = False
    collector.sessions.clear()
    return env, collector, t2


def test_a_revoked_stored_session_is_replaced_on_start():
    env, collector, t2 = _reload_with_a_revoked_session()
    answer = _call(env, t2.start_anonymous_session, {"cart": []})
    assert answer["resumed"] is False and answer["session_token"] == "session-2"
    assert [c[0] for c in collector.calls] == ["POST", "PATCH", "POST"]
    assert env.warnings == []


def test_update_metadata_patches_with_the_session_token():
    env, collector, t = _page()
    _call(env, t.start_anonymous_session, {"cart": []})
    answer = _call(env, t.update_session_metadata, {"cart": ["tea", "mug"]})
    method, _url, body, auth = collector.calls[-1]
    assert (method, body, auth) == ("PATCH", {"cart": ["tea", "mug"]}, "Bearer session-1")
    assert answer["metadata"] == {"cart": ["tea", "mug"]}
    assert _stored(env)["access_token"] == "access-2"


def test_transfer_sends_the_proof_and_drops_the_tokens():
    env, collector, t = _page()
    _call(env, t.start_anonymous_session, {"cart": ["tea"]})
    result = _call(env, t.transfer_anonymous_session, "proof-alice")
    method, url, body, auth = collector.calls[-1]
    assert (method, url) == ("POST", "https://c.example/t/anonymous/transfer")
    assert body == {"login_proof": "proof-alice"} and auth == "Bearer session-1"
    assert result["user_id"] == "alice" and result["anonymous_id"] == t.get_anonymous_id()
    assert _stored(env) is None
    assert _call(env, t.get_access_token) is None


def test_refused_transfer_keeps_the_session_and_warns_once():
    env, collector, t = _page()
    _call(env, t.start_anonymous_session, None)
    assert _call(env, t.transfer_anonymous_session, "proof-bob") is None
    assert len(env.warnings) == 1 and "403" in env.warnings[0]
    assert "bad signature" in env.warnings[0]
    assert _call(env, t.get_access_token) == "access-1"


def test_revoked_session_drops_the_tokens_on_update():
    env, collector, t = _page()
    _call(env, t.start_anonymous_session, None)
    collector.revoked = True
    assert _call(env, t.update_session_metadata, {"cart": []}) is None
    assert len(env.warnings) == 1 and "401" in env.warnings[0]
    assert _stored(env) is None
    assert _call(env, t.get_access_token) is None


def test_reset_and_clear_user_data_drop_the_tokens():
    env, collector, t = _page()
    _call(env, t.start_anonymous_session, None)
    t.reset()
    assert _stored(env) is None and _call(env, t.get_access_token) is None
    _call(env, t.start_anonymous_session, None)
    assert _stored(env) is not None
    t.clear_user_data()
    assert _stored(env) is None and _call(env, t.get_access_token) is None


def test_an_answer_arriving_after_reset_is_not_kept():
    env, collector, t = _page()
    got = []
    t.start_anonymous_session(None, got.append)
    t.reset()
    env.loop.run()
    assert got == [None]
    assert _stored(env) is None and _call(env, t.get_access_token) is None


def test_anonymous_mode_keeps_tokens_in_memory_and_sends_no_id():
    env, collector, t = _page({"anonymousTracking": {"withServerAnonymisation": True}})
    answer = _call(env, t.start_anonymous_session, None)
    assert collector.calls[0][2] == {}
    assert env.transport.requests[-1].headers["SP-Anonymous"] == "*"
    assert answer["user_id"] == "server-made-id"
    assert _stored(env) is None
    assert _call(env, t.get_access_token) == "access-1"


def test_strategy_none_keeps_tokens_in_memory_only():
    env, collector, t = _page({"stateStorageStrategy": "none"})
    _call(env, t.start_anonymous_session, None)
    assert _stored(env) is None and env.jar.cookies == {}
    assert _call(env, t.get_access_token) == "access-1"


def test_failures_warn_once_and_answer_none():
    env, collector, t = _page({"collectorUrl": None})
    assert _call(env, t.start_anonymous_session, None) is None
    assert len(env.warnings) == 1 and "collectorUrl" in env.warnings[0]
    env, collector, t = _page()
    for bad in ("cart", ["x"], {"x": lambda: None}):
        env.warnings[:] = []
        assert _call(env, t.start_anonymous_session, bad) is None
        assert len(env.warnings) == 1 and "metadata" in env.warnings[0]
    env.warnings[:] = []
    assert _call(env, t.update_session_metadata, {"cart": []}) is None
    assert len(env.warnings) == 1 and "startAnonymousSession" in env.warnings[0]
    env.warnings[:] = []
    collector.down = True
    assert _call(env, t.start_anonymous_session, None) is None
    assert len(env.warnings) == 1 and "unreachable" in env.warnings[0]
    env.warnings[:] = []
    t.start_anonymous_session(None, "not a function")
    assert len(env.warnings) == 1 and "callback" in env.warnings[0]


def test_a_request_that_never_answers_times_out():
    env, collector, t = _page()
    env.transport.responder = lambda request: "hang"
    got = []
    t.start_anonymous_session(None, got.append)
    env.loop.advance(16)
    assert got == [None] and len(env.warnings) == 1 and "unreachable" in env.warnings[0]


def test_js_commands_reach_the_component():
    env, collector, t = _page()
    got = []
    dispatch.call(t, "startAnonymousSession", [{"metadata": {"cart": ["tea"]}}, got.append])
    env.loop.run()
    dispatch.call(t, "updateSessionMetadata", [{"cart": []}, got.append])
    env.loop.run()
    dispatch.call(t, "getAccessToken", [got.append])
    env.loop.run()
    dispatch.call(t, "transferAnonymousSession", ["proof-alice", got.append])
    env.loop.run()
    assert [g["session_token"] for g in got[:2]] == ["session-1", "session-2"]
    assert got[2] == "access-2" and got[3]["user_id"] == "alice"
    dispatch.call(t, "startAnonymousSession", ["nope", got.append])
    assert got[4] is None and len(env.warnings) == 1
    for name in ("startAnonymousSession", "getAccessToken", "updateSessionMetadata"):
        assert name in dispatch.METHODS
    import tracker

    for name in ("start_anonymous_session", "get_access_token", "transfer_anonymous_session"):
        assert name in tracker.API and callable(getattr(tracker, name))


def test_starts_at_the_same_time_share_one_session():
    env, collector, t = _page()
    got = []
    t.start_anonymous_session({"cart": []}, got.append)
    t.start_anonymous_session({"cart": []}, got.append)
    env.loop.run()
    assert len(collector.calls) == 1 and len(got) == 2
    assert got[0]["session_token"] == got[1]["session_token"] == "session-1"


def test_a_start_while_a_replaced_session_is_being_created_joins_it():
    env, collector, t2 = _reload_with_a_revoked_session()
    respond = collector.respond

    def hang_creates(request):
        if request.url.endswith("/anonymous/token"):
            return "hang"
        return respond(request)

    env.transport.responder = hang_creates
    got = []
    t2.start_anonymous_session({"cart": []}, got.append)
    env.loop.run()  # the stored session is refused; a new one is being created
    t2.start_anonymous_session({"cart": []}, got.append)
    env.loop.run()
    creates = [r for r in env.transport.requests if r.url.endswith("/anonymous/token")]
    assert len(creates) == 2  # the first page's, and one for both starts of the second
    env.transport.responder = respond
    request, on_done = env.transport.hung.pop()
    status, body = respond(request)
    on_done(status, body)
    env.loop.run()
    assert len(got) == 2 and got[0]["session_token"] == got[1]["session_token"]
