"""The deliberately leaky demo page (web/leaky.html) fails the assertions with messages that
say what leaked, in which request or storage entry, and under which mode; on both runtimes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page

from tracker_qa import (
    Capture,
    PageState,
    assert_delivered_once,
    assert_no_identifier_leaked,
    assert_nothing_stored,
    assert_server_anonymisation,
)

MODE = 'anonymousTracking={"withServerAnonymisation": true}, stateStorageStrategy=none'


@dataclass
class Leaky:
    """The leaky page with one variant loaded: the id it leaks, its captured requests (flushed)
    and the tracker's state read from the page."""

    visitor: str
    capture: Capture
    state: PageState

    def leaked(self) -> str:
        """The message assert_no_identifier_leaked fails with."""
        return failure(lambda: assert_no_identifier_leaked(self.capture, self.state))


def failure(check: Callable[[], None]) -> str:
    with pytest.raises(AssertionError) as caught:
        check()
    return str(caught.value)


@pytest.fixture
def open_leaky(
    page: Page, runtime: str, tracker_capture: Capture, tracker_state: Callable[[], PageState]
) -> Callable[[str], Leaky]:
    """``open_leaky(leak)`` loads the leaky page and lets its events reach the capture."""

    def open_page(leak: str) -> Leaky:
        page.goto(f"/leaky.html?leak={leak}&runtime={runtime}")
        tracker_capture.flush()
        visitor = page.evaluate("window.visitor")
        assert isinstance(visitor, str) and len(visitor) == 36
        return Leaky(visitor, tracker_capture, tracker_state())

    return open_page


def test_id_in_an_event_property(open_leaky: Callable[[str], Leaky]) -> None:
    leaky = open_leaky("property")
    visitor, message = leaky.visitor, leaky.leaked()
    assert message.startswith("user identifiers leaked to the collector (1 finding) under " + MODE)
    assert "request #1 POST " in message and "/collect (post, 1 event, answered 200)" in message
    assert re.search(
        r'event 1 \(page "Leaky", messageId [0-9a-f-]{36}\): properties\.visitor', message
    )
    assert f'= "{visitor}" holds {visitor}, which looks like a visitor identifier' in message
    # the rest of the page is right: nothing stored, header sent, every event delivered once
    assert_nothing_stored(leaky.state)
    assert_server_anonymisation(leaky.capture)
    assert_delivered_once(leaky.capture, state=leaky.state)


def test_id_in_the_page_url(open_leaky: Callable[[str], Leaky]) -> None:
    leaky = open_leaky("url")
    message = leaky.leaked()
    assert "(2 findings)" in message
    assert "context.page.url = " in message and f"&ab={leaky.visitor}" in message
    assert "header referer: " in message


def test_id_copied_to_storage(open_leaky: Callable[[str], Leaky]) -> None:
    leaky = open_leaky("storage")
    visitor, state = leaky.visitor, leaky.state
    assert_no_identifier_leaked(leaky.capture, state)
    message = failure(lambda: assert_nothing_stored(state))
    assert message.startswith("stored where the mode and storage strategy forbid it under " + MODE)
    assert (
        f'localStorage ab_visitor = "{visitor}" (not a key of the tracker, written by the page)'
        in message
    )
    # once the test knows the id, the message says where it came from
    message = failure(lambda: assert_nothing_stored(state, identifiers=[visitor]))
    assert "contains an identifier the test named" in message


def test_anonymous_mode_forgotten(open_leaky: Callable[[str], Leaky]) -> None:
    leaky = open_leaky("mode")
    message = leaky.leaked()
    assert message.startswith(
        "expected an anonymous mode, but the tracker is not anonymous: events carry user "
        "identifiers under anonymousTracking=false, stateStorageStrategy=cookieAndLocalStorage"
    )
    assert f'carries anonymousId = "{leaky.visitor}"' in message
    message = failure(lambda: assert_server_anonymisation(leaky.capture))
    assert "1 of 1 requests to the collector lack SP-Anonymous: *" in message
    assert "has no SP-Anonymous header" in message


def test_login_copied_into_a_property(open_leaky: Callable[[str], Leaky]) -> None:
    leaky = open_leaky("login")
    assert ("the userId passed to identify()", "user-42") in leaky.state.given
    assert all("userId" not in e.event for e in leaky.capture.events)  # the tracker is right
    message = leaky.leaked()
    assert 'properties.author = "user-42" contains the userId passed to identify()' in message
