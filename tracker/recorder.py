"""Recording events: `track`, `page`, `identify` and `group` calls checked, turned into events
with the identifiers the mode allows, and handed to the outbox for delivery."""

import json

from .events import build_event, event_context
from .profile import json_size
from .storage import MAX_VALUE_CHARS

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Dict, Optional

    from .delivery import Delivery
    from .outbox import Outbox
    from .profile import Profile
    from .session import Sessions
    from .state import TrackerState
    from .user_tokens import UserTokens

__all__ = ["Recorder"]


class Recorder:
    """Turns calls into events; every method warns and records nothing on bad input."""

    def __init__(
        self,
        state: "TrackerState",
        tokens: "UserTokens",
        profile: "Profile",
        sessions: "Sessions",
        outbox: "Outbox",
        delivery: "Delivery",
    ) -> None:
        self._state = state
        self._warn = state.warn
        self._tokens = tokens
        self._profile = profile
        self._sessions = sessions
        self._outbox = outbox
        self._delivery = delivery

    def track(self, event: "Any", properties: "Any", options: "Any") -> "Optional[str]":
        if not isinstance(event, str) or not event or len(event) > 256:
            self._warn("track: the event name must be a string of 1 to 256 characters")
            return None
        return self._event("track", event, properties, options)

    def page(self, category: "Any", name: "Any", properties: "Any", options: "Any"):
        """Segment argument order: category?, name?, properties?, options?."""
        if isinstance(category, dict):
            category, name, properties, options = None, None, category, name
        elif isinstance(name, dict):
            category, name, properties, options = None, category, name, properties
        elif name is None and category is not None:
            category, name = None, category
        for value in (category, name):
            if value is not None and not isinstance(value, str):
                self._warn("page: category and name must be strings")
                return None
        properties = {} if properties is None else properties
        if isinstance(properties, dict) and category is not None:
            properties = dict(properties)
            properties["category"] = category
        return self._event("page", name, properties, options)

    def identify(self, user_id: "Any", traits: "Any", options: "Any") -> "Optional[str]":
        """Segment `identify`: set the userId, merge traits, record the call."""
        parsed = self._identity_call("identify", "userId", user_id, traits, options)
        if parsed is None:
            return None
        user_id, traits, context = parsed
        self._profile.set_user(user_id, traits)
        return self.record("identify", None, {}, context, traits)

    def group(self, group_id: "Any", traits: "Any", options: "Any") -> "Optional[str]":
        """Segment `group`: set the group id and traits, record the call."""
        parsed = self._identity_call("group", "groupId", group_id, traits, options)
        if parsed is None:
            return None
        group_id, traits, context = parsed
        self._profile.set_entity("groupId", "groupTraits", group_id, traits)
        return self.record("group", None, {}, context, None)

    def _identity_call(
        self, method: str, what: str, an_id: "Any", traits: "Any", options: "Any"
    ) -> "Any":
        """(id, traits, context) of an identify or group call, or None after a warning.

        As in analytics.js, an object in the id's place is the traits.
        """
        if isinstance(an_id, dict) and traits is None:
            an_id, traits = None, an_id
        if an_id is not None:
            an_id = self._profile.coerce_id(an_id, method, what)
            if an_id is None:
                return None
        if traits is None:
            traits = {}
        if not self._profile.check_traits(traits, method):
            return None
        context = self._call_options(options, method)
        if context is None:
            return None
        return an_id, traits, context

    def _event(self, kind: str, name: "Any", properties: "Any", options: "Any"):
        if properties is None:
            properties = {}
        if not isinstance(properties, dict) or not 0 <= json_size(properties) <= MAX_VALUE_CHARS:
            self._warn(
                "%s: properties must be a JSON object of at most %d characters"
                % (kind, MAX_VALUE_CHARS)
            )
            return None
        context = self._call_options(options, kind)
        if context is None:
            return None
        return self.record(kind, name, properties, context, None)

    def _call_options(self, options: "Any", method: str) -> "Optional[dict[str, Any]]":
        """Apply `options.anonymousId` (it persists) and return the event's own context."""
        if options is None:
            return {}
        if not isinstance(options, dict):
            self._warn("%s: options must be an object" % method)
            return None
        if "anonymousId" in options:
            anonymous_id = self._profile.coerce_id(
                options["anonymousId"], method, "options.anonymousId"
            )
            if anonymous_id is None:
                return None
            self._state.set("anonymousId", anonymous_id)
        context = options.get("context") or {}
        if not isinstance(context, dict) or json_size(context) < 0:
            self._warn("%s: options.context must be a JSON object" % method)
            return None
        return dict(context)

    def record(
        self,
        kind: str,
        name: "Any",
        properties: "dict[str, Any]",
        context: "dict[str, Any]",
        traits: "Any",
    ) -> str:
        """Record one event and queue it for sending, reading `document.cookie` at most once."""
        state = self._state
        with state.cookies.steady_reads():
            ids: "Dict[str, Any]" = {}
            if state.sends_ids():
                ids = {
                    "anonymousId": self._profile.anonymous_id(),
                    "userId": state.get("userId"),
                    "userToken": self._tokens.user_token,
                    "authenticatedUserToken": self._tokens.authenticated,
                }
                if traits:
                    ids["traits"] = traits
                if kind == "group":
                    ids["groupId"] = state.get("groupId")
            current = self._sessions.step(True)
            full = event_context(self._page(), context, state.mode)
            if current is not None:
                full["session"] = {"id": current["id"], "index": current["index"]}
            message_id = state.new_id()
            event = build_event(
                kind,
                name,
                properties,
                message_id,
                state.host.now_ms(),
                state.options["appId"],
                ids,
                full,
            )
            self._outbox.add(event, json.dumps(event))
            self._delivery.kick()
            return message_id

    def _page(self) -> "Optional[dict[str, Any]]":
        page = self._state.host.page
        if page is None:
            return None
        try:
            return page()
        except Exception as exc:
            self._warn("could not read the page's url and title: %r" % exc)
            return None
