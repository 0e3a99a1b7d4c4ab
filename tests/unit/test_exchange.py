"""One request, one outcome: answers, failed sends, timeouts, and transports that misbehave."""

from fakes import Env

from tracker.exchange import NO_ANSWER, REQUEST_TIMEOUT_MS, TIMED_OUT, exchange
from tracker.host import Host
from tracker.transport import JSON, Request

TIMEOUT_S = REQUEST_TIMEOUT_MS / 1000


def _request(read_body=False):
    request = Request("POST", "https://c.example/collect", "[]", JSON, {}, ["m1"])
    request.read_body = read_body
    return request


def _send(env, request=None, late=None, host=None):
    """Exchange one request on `env`'s page; returns the outcomes and late answers heard."""
    outcomes = []
    lates = []

    def on_late(status, body):
        lates.append((status, body))

    exchange(
        host or env.host(),
        request or _request(),
        lambda status, body: outcomes.append((status, body)),
        "events",
        on_late if late else None,
    )
    return outcomes, lates


def test_the_answer_is_the_outcome_and_the_timeout_then_does_nothing():
    env = Env(network=True)
    env.transport.script = [(200, '{"ok": true}')]
    outcomes, lates = _send(env, _request(read_body=True), late=True)
    assert outcomes == []
    env.loop.run()
    assert outcomes == [(200, '{"ok": true}')]
    env.loop.advance(TIMEOUT_S + 1)
    assert outcomes == [(200, '{"ok": true}')] and lates == [] and env.warnings == []


def test_a_transport_that_throws_fails_at_once_with_a_warning_and_no_timer():
    env = Env(network=True)
    env.transport.script = ["error"]
    outcomes, lates = _send(env, late=True)
    assert outcomes == [(NO_ANSWER, None)] and lates == []
    assert len(env.warnings) == 1 and "could not send events" in env.warnings[0]
    assert env.loop.timers == []


def test_a_host_that_cannot_send_fails_at_once():
    env = Env()
    outcomes, _ = _send(env)
    assert outcomes == [(NO_ANSWER, None)]
    assert len(env.warnings) == 1 and "cannot send" in env.warnings[0]


def test_a_transport_that_never_answers_times_out():
    env = Env(network=True)
    env.transport.script = ["hang"]
    outcomes, _ = _send(env)
    env.loop.advance(TIMEOUT_S - 1)
    assert outcomes == []
    env.loop.advance(1)
    assert outcomes == [(TIMED_OUT, None)] and env.warnings == []


def test_without_a_timer_a_silent_transport_leaves_the_request_open():
    env = Env(network=True)
    env.transport.script = ["hang"]
    plain = env.host()
    host = Host(env.clock.ms, env.random_bytes, env.warnings.append, send=plain.send)
    outcomes, _ = _send(env, host=host)
    env.loop.advance(TIMEOUT_S * 10)
    assert outcomes == []
    env.transport.hung[0][1](204)
    assert outcomes == [(204, None)]


def test_a_second_answer_is_ignored():
    env = Env(network=True)
    outcomes = []

    def twice(request, on_done):
        on_done(200, "first")
        on_done(500, "second")

    host = Host(env.clock.ms, env.random_bytes, env.warnings.append, send=twice)
    exchange(host, _request(), lambda s, b: outcomes.append((s, b)), "events")
    assert outcomes == [(200, "first")]


def test_an_answer_after_the_timeout_goes_to_late_once_or_nowhere():
    for wants_late in (True, False):
        env = Env(network=True)
        env.transport.script = ["hang"]
        outcomes, lates = _send(env, late=wants_late)
        env.loop.advance(TIMEOUT_S + 1)
        on_done = env.transport.hung[0][1]
        on_done(200, "late")
        on_done(200, "again")
        assert outcomes == [(TIMED_OUT, None)]
        assert lates == ([(200, "late")] if wants_late else [])


def test_a_status_that_is_not_a_number_counts_as_no_answer():
    env = Env(network=True)
    env.transport.script = ["hang"]
    outcomes, _ = _send(env)
    env.transport.hung[0][1](None)
    assert outcomes == [(NO_ANSWER, None)]


def test_a_timer_that_cannot_be_scheduled_warns_and_the_answer_still_counts():
    env = Env(network=True)
    env.transport.script = ["hang"]
    plain = env.host()

    def broken(fn, delay_ms):
        raise RuntimeError("no timers")

    host = Host(
        env.clock.ms, env.random_bytes, env.warnings.append, send=plain.send, schedule=broken
    )
    outcomes, _ = _send(env, host=host)
    assert len(env.warnings) == 1 and "timeout" in env.warnings[0]
    env.transport.hung[0][1](200)
    assert outcomes == [(200, None)]
