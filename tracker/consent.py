"""The visitor's remembered consent choice, and the browser's privacy signal.

`setConsent('granted' | 'denied')` writes the bare word to the `_trk_consent` cookie
(1 year, the tracker's cookie attributes, never an identifier) so the choice outlives the
page: on every later `init` a stored choice decides the mode before anything is written,
over `init`'s `anonymousTracking` and over Global Privacy Control / Do Not Track (which,
with `respectGlobalPrivacyControl`, starts a visitor who has not chosen cookieless).
"""

from .config import ONE_YEAR_S
from .storage import STRATEGIES

TYPE_CHECKING = False  # typing is absent on MicroPython; checkers treat this as True

if TYPE_CHECKING:
    from typing import Any, Optional, Tuple

    from .state import TrackerState

__all__ = ["CHOICES", "COOKIE_NAME", "DENIED", "DENIED_MODE", "GRANTED", "Consent"]

GRANTED = "granted"
DENIED = "denied"
CHOICES = (GRANTED, DENIED)
COOKIE_NAME = "_trk_consent"
DENIED_MODE = {"withServerAnonymisation": True}
"""The mode of a visitor who declined (or signals GPC): no ids, nothing stored, no IP kept."""
_DEFAULT_GRANTED_STRATEGY = "cookieAndLocalStorage"


class Consent:
    """Reads and records the choice, and says which mode and strategy it imposes."""

    def __init__(self, state: "TrackerState") -> None:
        self._state = state
        self._granted_strategy = _DEFAULT_GRANTED_STRATEGY

    @property
    def _cookie(self) -> str:
        return str(self._state.options["cookieNames"].get("consent", COOKIE_NAME))

    def get(self) -> "Optional[str]":
        """The stored choice, or None (no choice, or an unreadable cookie)."""
        try:
            value = self._state.cookies.get(self._cookie)
        except ValueError:
            return None
        return value if value in CHOICES else None

    def record(self, choice: "Any") -> bool:
        """Store `choice` ('granted', 'denied'; None forgets it); False, with a warning, for
        anything else. The mode is the caller's to apply (see `mode_for`)."""
        cookies = self._state.cookies
        if choice is None:
            cookies.remove(self._cookie)
            return True
        if choice not in CHOICES:
            self._state.warn("setConsent: the choice must be 'granted' or 'denied' (or null)")
            return False
        cookies.set(self._cookie, choice, ONE_YEAR_S)
        return True

    def configure(self, options: "Any") -> None:
        """Note the storage strategy `init` asked for: consent granted uses it (a page that
        starts cookieless with `none` gets `cookieAndLocalStorage` once the visitor agrees)."""
        strategy = options.get("stateStorageStrategy") if isinstance(options, dict) else None
        if strategy in STRATEGIES:
            self._granted_strategy = _DEFAULT_GRANTED_STRATEGY if strategy == "none" else strategy

    def mode_for(self, choice: str) -> "Tuple[Any, str]":
        """(anonymousTracking, stateStorageStrategy) that `choice` imposes."""
        if choice == GRANTED:
            return False, self._granted_strategy
        return dict(DENIED_MODE), "none"

    def impose(self, strategy: str) -> None:
        """Set the storage strategy, unless the remembered choice (or, with
        `respectGlobalPrivacyControl` and no choice, the browser's GPC/DNT signal) imposes
        its own mode; a remembered `denied` also removes the identifiers. Runs at start and
        at every `init`."""
        state = self._state
        choice = self.get()
        imposed = None
        if choice is not None:
            imposed = self.mode_for(choice)
        elif state.options["respectGlobalPrivacyControl"] and self.signalled():
            imposed = dict(DENIED_MODE), "none"
        if imposed is not None:
            state.options["anonymousTracking"], strategy = imposed
        state.set_strategy(strategy)
        if choice == DENIED:
            state.remove_identifiers(True, True)

    def signalled(self) -> bool:
        """Whether the browser sends Global Privacy Control or Do Not Track."""
        signal = getattr(self._state.host, "privacy_signal", None)
        if signal is None:
            return False
        try:
            return signal() is True
        except Exception as exc:
            self._state.warn("could not read the browser's privacy signal: %r" % exc)
            return False
