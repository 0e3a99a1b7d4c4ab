"""Page events reach delivery: listening starts once, with the first `init`, and a page
whose host cannot listen still works (with a warning)."""

from fakes import Env

from tracker.host import Host
from tracker.outbox import Outbox
from tracker.page_events import PageEvents


class _Delivery:
    def __init__(self):
        self.calls = []

    def kick(self):
        self.calls.append("kick")

    def online(self):
        self.calls.append("online")

    def page_hidden(self, kind):
        self.calls.append(kind)


def _setup(env, host=None):
    outbox = Outbox("tab1", env.clock.ms, lambda: None, lambda text: None, env.warnings.append)
    delivery = _Delivery()
    built = []

    def get_delivery():
        built.append(1)
        return delivery

    return PageEvents(host or env.host(), outbox, get_delivery), outbox, delivery, built


def test_listens_once_and_hands_each_event_to_delivery():
    env = Env(network=True)
    events, outbox, delivery, built = _setup(env)
    events.start()
    events.start()
    assert len(env.listeners) == 1
    assert built == [], "nothing waits, so delivery is not built"
    for kind in ("hidden", "pagehide", "online"):
        env.listeners[0](kind)
    assert delivery.calls == ["hidden", "pagehide", "online"]


def test_a_host_that_cannot_listen_warns_and_the_tracker_goes_on():
    env = Env(network=True)

    def refuse(listener):
        raise RuntimeError("no document")

    host = Host(env.clock.ms, env.random_bytes, env.warnings.append, env.jar, env.ls, listen=refuse)
    events, outbox, delivery, built = _setup(env, host)
    events.start()
    assert any("could not listen for page hide" in w for w in env.warnings)
    assert delivery.calls == []
