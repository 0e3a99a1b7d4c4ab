"""Segment identity (analytics.js semantics): anonymousId, userId, user traits and the group,
plus the `user()` and `group()` accessors."""

import json

from .identity import check_id
from .storage import MAX_VALUE_CHARS

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Optional

    from .state import TrackerState

__all__ = ["Group", "Profile", "User", "json_size"]


def json_size(value: "Any") -> int:
    """Encoded size of a JSON-able value; -1 when it cannot be encoded."""
    try:
        return len(json.dumps(value))
    except Exception:
        return -1


class Profile:
    """The visitor's Segment identity, kept in the slots of the shared state."""

    def __init__(self, state: "TrackerState") -> None:
        self._state = state
        self._warn = state.warn

    def anonymous_id(self) -> "Optional[str]":
        """The anonymousId, created and stored when missing; None while anonymous."""
        state = self._state
        if not state.sends_ids():
            return None
        value = state.get("anonymousId")
        if value is None:
            value = state.new_id()
            state.set("anonymousId", value)
        return value

    def set_anonymous_id(self, value: "Any", method: str = "setAnonymousId") -> "Optional[str]":
        """Override and persist the anonymousId (Segment `setAnonymousId`)."""
        value = self.coerce_id(value, method, "anonymousId")
        if value is None:
            return None
        self._state.set("anonymousId", value)
        return value if self._state.sends_ids() else None

    def coerce_id(self, value: "Any", method: str, what: str) -> "Optional[str]":
        """`value` as an id string (numbers become strings), or None after a warning."""
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        problem = check_id(value, what)
        if problem:
            self._warn("%s: %s; unchanged" % (method, problem))
            return None
        return value

    def check_traits(self, traits: "Any", method: str) -> bool:
        """Whether `traits` is a JSON object small enough to keep (else one warning)."""
        if not isinstance(traits, dict):
            self._warn("%s: traits must be an object" % method)
            return False
        size = json_size(traits)
        if size < 0 or size > MAX_VALUE_CHARS:
            self._warn(
                "%s: traits must be JSON data of at most %d characters" % (method, MAX_VALUE_CHARS)
            )
            return False
        return True

    def stored(self, name: str) -> "Any":
        """Slot `name`'s value, or None while anonymous tracking forbids identifiers."""
        return self._state.get(name) if self._state.sends_ids() else None

    def _stored_traits(self, name: str) -> "dict[str, Any]":
        value = self._state.get(name)
        return dict(value) if isinstance(value, dict) else {}

    def traits(self, name: str, value: "tuple", method: str) -> "dict[str, Any]":
        """`user().traits(t?)` / `group().traits(t?)`: replace the cache when given an
        object; the cached traits, or {} while anonymous tracking forbids them."""
        if value and self.check_traits(value[0], method):
            self._state.set(name, dict(value[0]))
        return self._stored_traits(name) if self._state.sends_ids() else {}

    def _id_changes(self, name: str, new_id: "Optional[str]") -> bool:
        current = self._state.get(name)
        return new_id is not None and current is not None and new_id != current

    def set_entity(
        self, id_name: str, traits_name: str, new_id: "Optional[str]", traits: "Any"
    ) -> None:
        """Store a user's or group's id and traits: traits merge into the cache unless
        the id changes (then they replace it)."""
        changed = self._id_changes(id_name, new_id)
        if new_id is not None:
            self._state.set(id_name, new_id)
        if traits is not None:
            merged = {} if changed else self._stored_traits(traits_name)
            merged.update(traits)
            self._state.set(traits_name, merged)

    def set_user(self, user_id: "Optional[str]", traits: "Any") -> None:
        """Set the userId (a different one rotates the anonymousId first) and traits."""
        if self._id_changes("userId", user_id):
            self._state.set("anonymousId", self._state.new_id())
        self.set_entity("userId", "userTraits", user_id, traits)

    def forget(self) -> None:
        """Forget userId, traits, group and anonymousId (a new one on next use)."""
        for name in ("userId", "userTraits", "groupId", "groupTraits", "anonymousId"):
            self._state.remove(name)


class User:
    """Segment's `analytics.user()`: accessors over the stored user state."""

    def __init__(self, profile: Profile) -> None:
        self._profile = profile

    def id(self, *value: "Any") -> "Optional[str]":
        """The userId; with an argument, set it (rotating the anonymousId if it changes)."""
        p = self._profile
        if value:
            user_id = p.coerce_id(value[0], "user().id", "userId")
            if user_id is not None:
                p.set_user(user_id, None)
        return p.stored("userId")

    def anonymous_id(self, *value: "Any") -> "Optional[str]":
        """The anonymousId; with an id set it, with None forget it (a new one on next use)."""
        p = self._profile
        if value:
            if value[0] is None:
                p._state.remove("anonymousId")
                return None
            return p.set_anonymous_id(value[0])
        return p.anonymous_id()

    def traits(self, *value: "Any") -> "dict[str, Any]":
        """The cached traits; with an object replace them (`traits({})` clears)."""
        return self._profile.traits("userTraits", value, "user().traits")


class Group:
    """Segment's `analytics.group()`: the current group id and traits."""

    def __init__(self, profile: Profile) -> None:
        self._profile = profile

    def id(self) -> "Optional[str]":
        return self._profile.stored("groupId")

    def traits(self, *value: "Any") -> "dict[str, Any]":
        """The group's cached traits; with an object replace them (`traits({})` clears)."""
        return self._profile.traits("groupTraits", value, "group().traits")
