"""Issue 16: the shop demo, as a guest who fills a cart, calls the protected cart API, logs in
and finds the cart on the account; and a session revoked on the server, on both runtimes."""

from __future__ import annotations

import json
import uuid
from typing import Any

from playwright.sync_api import expect

from .support import UUID4_RE, TrackerPage

KEY = "_trk_anon_session"


def _value(tp: TrackerPage, element_id: str) -> Any:
    raw = tp.page.get_attribute(f"#{element_id}", "data-value")
    return None if raw in (None, "undefined") else json.loads(raw)


def _expect_value(tp: TrackerPage, element_id: str, value: Any) -> None:
    expect(tp.page.locator(f"#{element_id}")).to_have_attribute(
        "data-value", json.dumps(value, separators=(",", ":"))
    )


def _open_shop(tp: TrackerPage) -> None:
    tp.goto(f"/shop.html?runtime={tp.runtime}")
    expect(tp.page.locator("#status")).to_have_attribute("data-value", '"ready"')
    expect(tp.page.locator("#session-id")).to_have_attribute("data-state", "set")


def test_guest_cart_login_and_transfer(tp: TrackerPage) -> None:
    """A guest's cart lives in the session's metadata, the cart API answers it for the access
    token, a reload resumes the session, and logging in moves the cart to the account."""
    page = tp.page
    _open_shop(tp)
    anonymous_id = _value(tp, "anonymous-id")
    assert UUID4_RE.match(anonymous_id)
    assert _value(tp, "session-user-id") == anonymous_id
    session_id = _value(tp, "session-id")
    stored = json.loads(tp.local_storage()[KEY])
    assert stored["user_id"] == anonymous_id and stored["session_id"] == session_id
    assert KEY not in tp.cookies()

    page.click("#btn-add-tea")
    _expect_value(tp, "cart", [{"sku": "tea", "qty": 1}])
    page.click("#btn-add-mug")
    cart = [{"sku": "tea", "qty": 1}, {"sku": "mug", "qty": 1}]
    _expect_value(tp, "cart", cart)

    page.click("#btn-fetch-cart")
    _expect_value(tp, "api-status", 200)
    _expect_value(tp, "api-cart", cart)
    token = tp.js("return tracker.getAccessToken();")
    assert token == json.loads(tp.local_storage()[KEY])["access_token"]

    tp.reload()
    expect(page.locator("#session-id")).to_have_attribute("data-value", json.dumps(session_id))
    _expect_value(tp, "cart", cart)

    username = f"alice-{tp.runtime}-{uuid.uuid4().hex[:8]}"  # one collector for all tests
    page.fill("#input-username", username)
    page.click("#btn-login")
    _expect_value(tp, "phase", "transferred")
    _expect_value(tp, "account-user", username)
    _expect_value(tp, "account-cart", cart)
    _expect_value(tp, "transferred", True)
    expect(page.locator("#account-events")).to_have_attribute("data-state", "set")
    events = _value(tp, "account-events")
    if tp.js("return fetch('/api/events?limit=1').then(r => r.ok);"):
        # the guest's events, stored under the anonymousId, are the account's now
        assert "page" in events and "Product Added" in events, events
    else:  # a collector without the events feature
        assert events == "unavailable"
    assert KEY not in tp.local_storage()
    assert tp.js("return tracker.getAccessToken();") is None
    # A second transfer of the same session changes nothing.
    repeat = tp.js(
        """return fetch('/demo/login', {method: 'POST', body: JSON.stringify({username: arg[1]})})
          .then(r => r.json())
          .then(r => fetch('/anonymous/transfer', {method: 'POST',
              headers: {Authorization: 'Bearer ' + arg[0]}, body: JSON.stringify(
                {login_proof: r.login_proof})}))
          .then(r => r.json());""",
        [stored["session_token"], username],
    )
    assert repeat["transferred"] is False and repeat["metadata"]["cart"] == cart


def test_revoked_session_is_refused_and_replaced(tp: TrackerPage) -> None:
    """DELETE /anonymous/session revokes the session: the cart API refuses its access token
    with 401, and the next page load starts a new session for the same anonymousId."""
    page = tp.page
    _open_shop(tp)
    session_id = _value(tp, "session-id")
    anonymous_id = _value(tp, "anonymous-id")
    session_token = json.loads(tp.local_storage()[KEY])["session_token"]
    status = tp.js(
        "return fetch('/anonymous/session', {method: 'DELETE', headers: "
        "{Authorization: 'Bearer ' + arg}}).then(r => r.status);",
        session_token,
    )
    assert status == 204
    page.click("#btn-fetch-cart")
    _expect_value(tp, "api-status", 401)
    tp.reload()
    expect(page.locator("#session-id")).to_have_attribute("data-state", "set")
    expect(page.locator("#session-id")).not_to_have_attribute("data-value", json.dumps(session_id))
    assert _value(tp, "session-user-id") == anonymous_id
    _expect_value(tp, "cart", [])
