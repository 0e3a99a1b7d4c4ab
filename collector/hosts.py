"""The Host check against DNS rebinding: a page on a name the attacker controls, resolved to
the collector's address, must not reach it; only the names the collector serves are answered.

Starlette's ``TrustedHostMiddleware`` decides; its refusal is answered as JSON ``{"error"}``
(400) like every other collector error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["TrustedHosts"]

_PASSED = "collector.host_ok"
_REFUSAL = json.dumps(
    {"error": "this collector does not serve that Host name (see --allowed-host)"}
).encode()


class TrustedHosts(TrustedHostMiddleware):
    """``TrustedHostMiddleware`` (no www redirect) with a JSON 400 for a refused ``Host``."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        async def passed(scope: Scope, receive: Receive, send: Send) -> None:
            scope[_PASSED] = True
            await app(scope, receive, send)

        super().__init__(passed, allowed_hosts=allowed_hosts, www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def answer(message: Message) -> None:
            if scope.get(_PASSED):
                await send(message)
            elif message["type"] == "http.response.start":
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_REFUSAL)).encode()),
                ]
                await send({"type": message["type"], "status": 400, "headers": headers})
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                await send({"type": message["type"], "body": _REFUSAL})

        await super().__call__(scope, receive, answer)
