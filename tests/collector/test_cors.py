"""CORS for the collector endpoints: allowed origins with credentials, preflight, refusals."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

SHOP = "https://shop.example"


def event() -> dict[str, Any]:
    return {"type": "track", "messageId": str(uuid.uuid4()), "event": "Clicked"}


def preflight(client: Any, path: str, origin: str, method: str = "POST") -> Any:
    headers = {
        "origin": origin,
        "access-control-request-method": method,
        "access-control-request-headers": "content-type,sp-anonymous",
    }
    return client.request("OPTIONS", path, headers)


@pytest.fixture
def shop_client(make_client: Any) -> Any:
    return make_client(allow_origins=(SHOP, "https://other.example"))


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/collect"), ("GET", "/i"), ("GET", "/api/events")]
)
def test_allowed_origin_gets_credentialed_cors(shop_client: Any, method: str, path: str) -> None:
    preflight_reply = preflight(shop_client, path, SHOP, method)
    assert preflight_reply.status == 204
    assert preflight_reply.headers["access-control-allow-origin"] == SHOP
    assert preflight_reply.headers["access-control-allow-credentials"] == "true"
    assert method in preflight_reply.headers["access-control-allow-methods"]
    allowed_headers = preflight_reply.headers["access-control-allow-headers"].lower()
    for header in ("content-type", "sp-anonymous", "authorization"):
        assert header in allowed_headers
    assert preflight_reply.headers["vary"] == "Origin"

    if method == "POST":
        reply = shop_client.post(path, event(), {"origin": SHOP})
    else:
        query = "?messageId=" + str(uuid.uuid4()) if path == "/i" else ""
        reply = shop_client.request(method, path + query, {"origin": SHOP})
    assert reply.status == 200
    assert reply.headers["access-control-allow-origin"] == SHOP
    assert reply.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in reply.headers["vary"]


def test_disallowed_origin_gets_no_cors_headers(shop_client: Any) -> None:
    evil = "https://evil.example"
    refused = preflight(shop_client, "/collect", evil)
    assert refused.status == 403
    assert refused.json() == {"error": "origin not allowed"}
    assert "access-control-allow-origin" not in refused.headers
    reply = shop_client.post("/collect", event(), {"origin": evil})
    assert reply.status == 200  # stored; the browser keeps the answer from the page
    assert "access-control-allow-origin" not in reply.headers
    assert "access-control-allow-credentials" not in reply.headers
    assert reply.headers["vary"] == "Origin"
    for origin in ("null", "https://shop.example.evil", "http://shop.example"):
        assert "access-control-allow-origin" not in preflight(shop_client, "/i", origin).headers


def test_default_allows_only_the_collectors_own_origin(client: Any) -> None:
    own = preflight(client, "/collect", "http://testserver")
    assert own.status == 204
    assert own.headers["access-control-allow-origin"] == "http://testserver"
    assert preflight(client, "/collect", SHOP).status == 403
    reply = client.post("/collect", event(), {"origin": SHOP})
    assert "access-control-allow-origin" not in reply.headers


def test_any_origin_is_echoed_with_star(make_client: Any) -> None:
    client = make_client(allow_origins=("*",))
    reply = client.post("/collect", event(), {"origin": "https://anyone.example"})
    assert reply.headers["access-control-allow-origin"] == "https://anyone.example"
    assert "access-control-allow-origin" not in preflight(client, "/collect", "null").headers


def test_json_api_prefixes_are_covered(shop_client: Any) -> None:
    for path in ("/api/stats", "/anonymous/token", "/anonymous/session"):
        reply = preflight(shop_client, path, SHOP, "PATCH")
        assert reply.status == 204, path
        assert reply.headers["access-control-allow-origin"] == SHOP
        assert "PATCH" in reply.headers["access-control-allow-methods"]
        assert "DELETE" in reply.headers["access-control-allow-methods"]


def test_errors_carry_cors_headers_too(shop_client: Any) -> None:
    reply = shop_client.post("/collect", b"{", {"origin": SHOP})
    assert reply.status == 400
    assert reply.headers["access-control-allow-origin"] == SHOP
    body = json.dumps(event()).encode()
    wrong = shop_client.request("POST", "/collect", {"origin": SHOP, "content-type": "x/y"}, body)
    assert wrong.status == 415
    assert wrong.headers["access-control-allow-origin"] == SHOP


def test_static_files_are_left_alone(shop_client: Any) -> None:
    for path in ("/dist/tracker.js", "/"):
        reply = shop_client.get(path, {"origin": SHOP})
        assert reply.status == 200
        assert reply.headers.get("access-control-allow-origin") != SHOP
        assert reply.headers.get("access-control-allow-credentials") is None
