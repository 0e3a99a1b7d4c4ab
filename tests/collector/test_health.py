"""``GET /healthz``."""

from __future__ import annotations

from typing import Any


def test_healthz_ok(client: Any) -> None:
    reply = client.get("/healthz")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == {"ok": True}


def test_healthz_503_when_database_gone(client: Any) -> None:
    client.app.state.store.close()
    reply = client.get("/healthz")
    assert reply.status == 503
    assert reply.json() == {"ok": False}
