"""The outbox: events waiting for the collector, kept in memory and in the shared stored buffer.

Several tabs of one visitor share the stored buffer (`_trk_queue`). Each stored event
names the tab that owns it (`$tab`) and when that tab last vouched for it (`$seen`);
a tab sends only its own events, adopts those of tabs that went away (released on
page hide, or silent for `ADOPT_AFTER_MS`), and writes by merging: it keeps every
stored event of other tabs and replaces only its own. So no tab overwrites another's
unsent events, and while tabs live each event is sent by one tab. A tab that clears the
visitor's identifiers scrubs the other tabs' stored events too and marks them (`$clr`); their
owners scrub their copies in memory at their next write, before sending them.
"""

import json

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional

__all__ = ["ADOPT_AFTER_MS", "DEFAULT_MAX_SIZE", "Entry", "Outbox"]

ADOPT_AFTER_MS = 30000
"""A stored event whose tab has not vouched for it this long is taken over by another tab."""
DEFAULT_MAX_SIZE = 1000
_DONE_MEMORY = 5000
_TAB = "$tab"
_SEEN = "$seen"
_CLEARED = "$clr"


def _is_event(value: "Any") -> bool:
    return isinstance(value, dict) and isinstance(value.get("messageId"), str)


class Entry:
    """One waiting event: its messageId, the event, its JSON as sent, owner tab, state."""

    def __init__(self, event: "Dict[str, Any]", wire: str, owner: "Optional[str]", seen: float):
        self.id = event["messageId"]
        self.event = event
        self.wire = wire
        self.owner = owner
        self.seen = seen
        self.sending = False

    def stored(self, transform: "Optional[Callable[[Dict[str, Any]], None]]" = None) -> str:
        """The event's JSON with its owner and last-vouched time, as kept in storage;
        `transform` changes a copy of the event first (the one in memory stays)."""
        wire = self.wire
        if transform is not None:
            event = dict(self.event)
            if isinstance(event.get("context"), dict):
                event["context"] = dict(event["context"])
            transform(event)
            wire = json.dumps(event)
        return "%s,%s:%s,%s:%d}" % (
            wire[:-1],
            json.dumps(_TAB),
            json.dumps(self.owner),
            json.dumps(_SEEN),
            int(self.seen),
        )


class Outbox:
    """This tab's waiting events, oldest first, bounded by `max_size`.

    `load()` returns the stored buffer (a list of event objects) or None; `save(text)`
    stores the JSON text of the whole buffer. Both may fail: the in-memory list stays.
    `tab` is None where the host cannot tell when a page goes away: then nothing is
    owned and every load takes over whatever is stored.
    """

    def __init__(
        self,
        tab: "Optional[str]",
        now_ms: "Callable[[], float]",
        load: "Callable[[], Any]",
        save: "Callable[[str], Any]",
        warn: "Callable[[str], None]",
    ) -> None:
        self.tab = tab
        self._now_ms = now_ms
        self._load = load
        self._save = save
        self._warn = warn
        self.max_size = DEFAULT_MAX_SIZE
        self.entries: "List[Entry]" = []
        self._done: "Dict[str, bool]" = {}
        self._full_warned = False
        self._garbage_warned = False
        self.scrub: "Optional[Callable[[Dict[str, Any]], None]]" = None
        """Removes every identifier from an event: applied to this tab's events that another
        tab's `clearUserData` marked in storage."""

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, event: "Dict[str, Any]", wire: "Optional[str]" = None) -> None:
        """Queue a new event (`wire`: its JSON, when already encoded)."""
        if wire is None:
            wire = json.dumps(event)
        self.entries.append(Entry(event, wire, self.tab, self._now_ms()))
        self._bound()

    def _bound(self) -> None:
        excess = len(self.entries) - self.max_size
        if excess <= 0:
            self._full_warned = False
            return
        dropped = [e for e in self.entries if not e.sending][:excess]
        for entry in dropped:
            self.entries.remove(entry)
            self._forget(entry.id)
        if dropped and not self._full_warned:
            self._full_warned = True
            self._warn(
                "event buffer full (maxQueueSize %d, the collector has not acknowledged them);"
                " dropping the oldest" % self.max_size
            )

    def adopt(self) -> bool:
        """Take over stored events no live tab vouches for; True when any were taken."""
        stored = self._stored()
        if not stored:
            return False
        now = self._now_ms()
        mine = {e.id for e in self.entries}
        taken = []
        for event in stored:
            owner = event.pop(_TAB, None)
            seen = event.pop(_SEEN, 0)
            event.pop(_CLEARED, None)
            mid = event["messageId"]
            if mid in mine or mid in self._done:
                continue
            if owner is not None and owner != self.tab:
                if isinstance(seen, (int, float)) and now - seen < ADOPT_AFTER_MS:
                    continue
            taken.append(Entry(event, json.dumps(event), self.tab, now))
            mine.add(mid)
        if not taken:
            return False
        self.entries = taken + self.entries
        self._bound()
        return True

    def _stored(self) -> "List[Dict[str, Any]]":
        try:
            stored = self._load()
        except Exception as exc:
            self._warn("could not read the stored event buffer: %r" % exc)
            return []
        if not isinstance(stored, list):
            return []
        events = [dict(e) for e in stored if _is_event(e)]
        if len(events) < len(stored) and not self._garbage_warned:
            self._garbage_warned = True
            self._warn(
                "ignoring %d stored event(s) of the buffer that are not events"
                % (len(stored) - len(events))
            )
        return events

    def ready(self) -> "List[Entry]":
        """Events not in flight, oldest first."""
        return [e for e in self.entries if not e.sending]

    def finish(self, ids: "List[str]") -> None:
        """Forget events the collector acknowledged (or refused for good)."""
        gone = set(ids)
        self.entries = [e for e in self.entries if e.id not in gone]
        for mid in ids:
            self._forget(mid)

    def _forget(self, mid: str) -> None:
        if len(self._done) >= _DONE_MEMORY:
            self._done = {}
        self._done[mid] = True

    def vouch(self) -> None:
        """Renew this tab's claim on its events (it is alive and still retrying them)."""
        now = self._now_ms()
        for entry in self.entries:
            entry.seen = now
            entry.owner = self.tab

    def release(self) -> None:
        """Give up ownership (the page is going away): the next page load adopts at once."""
        for entry in self.entries:
            entry.owner = None
        self.save()

    def save(self, transform: "Optional[Callable[[Dict[str, Any]], None]]" = None) -> None:
        """Store this tab's events merged with the other tabs' stored events. `transform`
        (clearing identifiers) applies to the stored copies of every event, and marks the
        other tabs' events so that their owners apply `scrub` to theirs."""
        mine = {}
        for entry in self.entries:
            mine[entry.id] = entry
        kept = []
        for event in self._stored():
            mid = event["messageId"]
            if mid in mine:
                if event.get(_CLEARED) and self.scrub is not None:
                    self._scrub(mine[mid])
                continue
            if mid in self._done:
                continue
            if self.tab is not None and event.get(_TAB) == self.tab:
                continue
            if transform is not None:
                transform(event)
                event[_CLEARED] = True
            kept.append(json.dumps(event))
        try:
            self._save("[" + ",".join(kept + [e.stored(transform) for e in self.entries]) + "]")
        except Exception as exc:
            self._warn("could not store the event buffer: %r" % exc)

    def _scrub(self, entry: "Entry") -> None:
        if self.scrub is not None:
            self.scrub(entry.event)
            entry.wire = json.dumps(entry.event)

    def events(self) -> "List[Dict[str, Any]]":
        """The waiting events, oldest first."""
        return [e.event for e in self.entries]

    def rewrite(self, change: "Callable[[Dict[str, Any]], None]") -> None:
        """Apply `change` to every waiting event (e.g. scrub identifiers) and re-encode."""
        for entry in self.entries:
            change(entry.event)
            entry.wire = json.dumps(entry.event)
