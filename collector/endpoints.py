"""What every collector endpoint answers alike: JSON errors, and a JSON 405 for a method
the path does not take.

An endpoint raises :class:`Problem` for bad input; :func:`by_method` turns it into its
``{"error": ...}`` answer, so no handler repeats the try/except.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["ANY_METHOD", "Problem", "by_method", "problem_response"]

ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
"""Routes take every method, so that a wrong one gets a JSON 405 from :func:`by_method`."""


class Problem(Exception):
    """An error answer: an HTTP status and a message, sent as JSON ``{"error": ...}``."""

    def __init__(self, status: int, error: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.headers = headers or {}


def problem_response(problem: Problem) -> JSONResponse:
    """The JSON answer for ``problem``."""
    return JSONResponse({"error": problem.error}, problem.status, headers=problem.headers)


def by_method(
    **endpoints: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """One endpoint per HTTP method for a path; any other method gets a JSON 405. A
    :class:`Problem` an endpoint raises becomes its JSON error answer."""
    allowed = ", ".join(sorted(endpoints))

    async def endpoint(request: Request) -> Response:
        handler = endpoints.get(request.method)
        if handler is None:
            return JSONResponse(
                {"error": f"{request.method} not allowed here: use {allowed}"},
                405,
                headers={"Allow": allowed},
            )
        try:
            return await handler(request)
        except Problem as problem:
            return problem_response(problem)

    return endpoint
