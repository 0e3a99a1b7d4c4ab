"""The demo site, clicked through as a visitor would, on both runtimes."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from .support import (
    ANON_TOKEN_RE,
    READY_TIMEOUT_MS,
    UUID4_RE,
    TrackerPage,
    needs_interpreter,
    stored,
)


def _value(tp: TrackerPage, element_id: str):
    """The JSON value a demo page shows in an element (its data-value attribute)."""
    raw = tp.page.get_attribute(f"#{element_id}", "data-value")
    return None if raw in (None, "undefined") else json.loads(raw)


def test_user_token_demo_buttons_work(tp: TrackerPage):
    """index.html: the cookie token is shown, each button changes the tokens shown, and an
    invalid token is refused with a warning on the page."""
    page = tp.page
    tp.goto(f"/index.html?runtime={tp.runtime}")
    expect(page.locator("#status")).to_have_attribute("data-value", '"ready"')
    expect(page.locator("#user-token")).to_have_attribute("data-state", "set")
    cookie_token = tp.cookie_value("_ALGOLIA")
    assert ANON_TOKEN_RE.match(cookie_token or "")
    expect(page.locator("#user-token")).to_have_text(cookie_token or "")

    page.click("#btn-anon-memory")
    expect(page.locator("#user-token")).not_to_have_text(cookie_token or "")
    memory_token = _value(tp, "user-token")
    assert ANON_TOKEN_RE.match(memory_token) and memory_token != cookie_token
    assert tp.cookie_value("_ALGOLIA") == cookie_token

    page.click("#btn-anon-cookie")
    expect(page.locator("#user-token")).to_have_text(cookie_token or "")

    page.fill("#input-user-token", "user-42")
    page.click("#btn-set-user-token")
    expect(page.locator("#user-token")).to_have_text("user-42")
    page.fill("#input-auth-token", "customer-1234")
    page.click("#btn-set-auth-token")
    expect(page.locator("#authenticated-token")).to_have_text("customer-1234")

    warnings = page.locator("#warnings li")
    before = warnings.count()
    page.fill("#input-user-token", "not a token")
    page.click("#btn-set-user-token")
    expect(warnings).to_have_count(before + 1)
    expect(page.locator("#user-token")).to_have_text("user-42")


def test_identity_demo_keeps_ids_planted_by_old_libraries(tp: TrackerPage):
    """identity.html: after planting analytics.js cookies, then a search-insights cookie,
    the reloaded page reports the old ids kept."""
    page = tp.page
    tp.goto(f"/identity.html?runtime={tp.runtime}")
    for button in ("#btn-plant-ajs", "#btn-plant-algolia"):
        with page.expect_navigation():
            page.click(button)
        tp.wait_ready()
        expect(page.locator("#migration-state")).to_have_text("planted")
        expect(page.locator("#migration-kept")).to_have_attribute("data-value", "true")
        expected = _value(tp, "migration-expected")
        if "anonymousId" in expected:
            assert tp.call("getAnonymousId") == expected["anonymousId"]
            assert tp.js("return tracker.user().id()") == expected["userId"]
        else:
            assert tp.call("getUserToken") == expected["userToken"]


def test_pyscript_page_shows_identity_from_python(tp: TrackerPage):
    """pyscript.html: Python in the page imports tracker, shows the stored anonymousId and
    user token, and its identify button works."""
    needs_interpreter(tp.runtime)
    page = tp.page
    page.goto(f"{tp.base_url}/pyscript.html?runtime={tp.runtime}")
    expect(page.locator("#status")).to_have_text("ready", timeout=READY_TIMEOUT_MS)
    expect(page.locator("#py-runtime")).to_have_text(tp.runtime)
    anonymous_id = _value(tp, "anonymous-id")
    assert UUID4_RE.match(anonymous_id)
    assert stored(tp.cookie_value("ajs_anonymous_id")) == anonymous_id
    assert ANON_TOKEN_RE.match(_value(tp, "user-token"))
    assert _value(tp, "user-token") == tp.cookie_value("_ALGOLIA")
    page.click("#btn-identify")
    expect(page.locator("#user-id")).to_have_text("user-42")
    assert stored(tp.cookie_value("ajs_user_id")) == "user-42"


def _stored_rows(tp: TrackerPage) -> list[dict]:
    """The events the demo's "Stored by the collector" card shows, newest first."""
    values = tp.page.locator("#stored-events tr[data-message-id]").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-value'))"
    )
    return [json.loads(v) for v in values]


def test_consent_demo_shows_stored_events_lose_identifiers_when_withdrawn(tp: TrackerPage):
    """consent.html: after Accept, the page view the collector stored (shown live in the
    card) carries the anonymousId, an IP and a network id; after Withdraw, the next one
    carries none of them."""
    page = tp.page
    tp.goto(f"/consent.html?runtime={tp.runtime}")
    page.click("#btn-accept")
    page.click("#btn-page")
    anonymous_id = tp.js("return tracker.getAnonymousId();")
    assert UUID4_RE.match(anonymous_id or "")
    rows = page.locator("#stored-events tr[data-message-id]")
    expect(rows.first).to_contain_text(anonymous_id)
    accepted = _stored_rows(tp)[0]
    assert accepted["anonymousId"] == anonymous_id
    assert accepted["ip"] == "127.0.0.1" and UUID4_RE.match(accepted["network_userid"])

    page.click("#btn-withdraw")
    mid = tp.js("return tracker.page();")
    expect(page.locator(f'#stored-events tr[data-message-id="{mid}"]')).to_have_count(1)
    withdrawn = next(e for e in _stored_rows(tp) if e["messageId"] == mid)
    assert "anonymousId" not in withdrawn and "userToken" not in withdrawn
    assert withdrawn["ip"] is None and withdrawn["network_userid"] is None
