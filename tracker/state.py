"""What the tracker's components share: the host, the options in force, the slots and the store.

`Tracker` owns one `TrackerState`; the components (user tokens, profile, sessions,
recorder, delivery) read the options, mode and storage through it, so a reconfiguration
reaches all of them at once.
"""

from . import anonymous_tokens, privacy, session
from .config import DEFAULTS, ONE_YEAR_S
from .events import MAX_BUFFER_CHARS, check_buffer
from .identity import check_id, is_anonymous_token, uuid4
from .storage import COOKIE, STRATEGIES, CookieStorage, LocalStorage, Slot, StateStore

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Dict, Optional

    from .host import Host

__all__ = ["TrackerState", "make_slots"]


def _check_stored_id(value: "Any") -> "Optional[str]":
    return check_id(value, "id")


def _check_stored_token(value: "Any") -> "Optional[str]":
    return None if is_anonymous_token(value) else "not an anonymous- user token"


def _check_traits(value: "Any") -> "Optional[str]":
    return None if isinstance(value, dict) else "traits are not an object"


def make_slots(opts: "Dict[str, Any]") -> "Dict[str, Slot]":
    """Every piece of stored state (spec section 3) under the configured key names."""
    names = opts["cookieNames"]
    user = privacy.USER
    return {
        "userToken": Slot(
            names["userToken"],
            True,
            False,
            int(opts["cookieDuration"] // 1000),
            _check_stored_token,
            user,
        ),
        "anonymousId": Slot(names["anonymousId"], True, True, ONE_YEAR_S, _check_stored_id, user),
        "userId": Slot(names["userId"], True, True, ONE_YEAR_S, _check_stored_id, user),
        "userTraits": Slot(names["userTraits"], False, True, None, _check_traits, user),
        "groupId": Slot(names["groupId"], True, True, ONE_YEAR_S, _check_stored_id, user),
        "groupTraits": Slot(names["groupTraits"], False, True, None, _check_traits, user),
        "session": Slot(
            names["session"],
            True,
            True,
            int(opts["sessionTimeout"]),
            session.check_session,
            privacy.SESSION,
        ),
        "queue": Slot(
            names["queue"], False, True, None, check_buffer, privacy.BUFFER, MAX_BUFFER_CHARS
        ),
        "anonymousSession": Slot(
            names["anonymousSession"],
            False,
            True,
            None,
            anonymous_tokens.check_record,
            user,
            anonymous_tokens.MAX_RECORD_CHARS,
        ),
    }


class TrackerState:
    """Options, slots and the combined store over the host's cookies and localStorage."""

    def __init__(self, host: "Host") -> None:
        self.host = host
        self.warn = host.warn
        self.options: "Dict[str, Any]" = dict(DEFAULTS)
        self.cookies = CookieStorage(host.cookies, host.now_ms, host.warn)
        self.local = LocalStorage(host.local_storage, host.warn)
        self.store = StateStore(self.cookies, self.local, host.warn)
        self.store.allow = self.may_store
        self.slots: "Dict[str, Slot]" = {}
        self.apply_options()

    def apply_options(self) -> None:
        """Cookie attributes and slot names from the options in force."""
        opts = self.options
        cookies = self.cookies
        cookies.path = opts["cookiePath"]
        cookies.domain = opts["cookieDomain"]
        cookies.same_site = opts["cookieSameSite"]
        secure = opts["cookieSecure"]
        cookies.secure = self.host.secure if secure is None else secure
        self.slots = make_slots(opts)

    @property
    def mode(self) -> "Any":
        """The `anonymousTracking` setting in force."""
        return self.options["anonymousTracking"]

    def may_store(self, slot: Slot) -> bool:
        return privacy.may_store(self.mode, self.store.strategy, slot.kind)

    def sends_ids(self) -> bool:
        """Whether user identifiers may be sent and stored (no anonymous mode)."""
        return privacy.sends_user_ids(self.mode)

    def new_id(self) -> str:
        return uuid4(self.host.random_bytes)

    def get(self, name: str) -> "Any":
        """The stored value of slot `name` (whatever the mode)."""
        return self.store.get(self.slots[name])

    def set(self, name: str, value: "Any") -> bool:
        return self.store.set(self.slots[name], value)

    def remove(self, name: str) -> None:
        self.store.remove(self.slots[name])

    def load_queue(self) -> "Any":
        """The stored event buffer's text, when the strategy keeps one (else None)."""
        slot = self.slots["queue"]
        return self.store.get(slot, memory=False) if self.store.places(slot) else None

    def save_queue(self, text: str) -> None:
        """Store the event buffer's text where the strategy keeps it."""
        slot = self.slots["queue"]
        if self.store.places(slot):
            self.store.set(slot, None, text)

    def remove_identifiers(self, keep_user: bool, keep_session: bool) -> None:
        """Remove every identifier from cookies and localStorage (from memory too, unless
        its kind is kept); the event buffer stays."""
        for slot in self.slots.values():
            if slot.kind == privacy.BUFFER:
                continue
            keep = keep_session if slot.kind == privacy.SESSION else keep_user
            self.store.remove(slot, keep_memory=keep)

    def remove_user_cookies(self) -> None:
        """Remove the cookies of user identifiers (whatever set them: the collector too)."""
        for slot in self.slots.values():
            if slot.kind == privacy.USER and slot.cookie:
                self.cookies.remove(slot.key)

    def set_strategy(self, strategy: str) -> None:
        """Move state to the places `strategy` uses; leaving localStorage for cookies resets
        the session (Snowplow: cookie-first strategies do not see the localStorage session)."""
        old = self.store.strategy
        if strategy == old:
            return
        self.store.switch(strategy, list(self.slots.values()))
        self.options["stateStorageStrategy"] = strategy
        if old == "localStorage" and COOKIE in STRATEGIES[strategy]:
            self.store.remove(self.slots["session"])
