"""Anonymous sessions (Auth0 semantics, spec section 6): tokens, metadata, revocation, transfer.

``POST /anonymous/token`` starts a session and answers a session token and an access
token; ``PATCH /anonymous/session`` merges a metadata patch (and renews both tokens);
``DELETE /anonymous/session`` revokes it server-side; ``POST /anonymous/transfer`` links
it, once, to the account named by a login proof, which the site's backend gets from
``POST /auth/login-proof`` with the collector's API key. ``POST /demo/login`` stands in
for a site's login in the demo. Sessions live in the collector's database, so a revoked
session is refused everywhere at once.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from collector import tokens
from collector.endpoints import ANY_METHOD, Problem, by_method
from collector.payload import encode_event, parse_json, read_body
from collector.settings import Settings
from collector.store import Row, Store, Transaction

__all__ = [
    "TABLES",
    "SessionStore",
    "bearer",
    "merge_patch",
    "read_json",
    "routes",
]

TABLES = (
    "CREATE TABLE IF NOT EXISTS anonymous_sessions ("
    " session_id TEXT PRIMARY KEY,"
    " user_id TEXT NOT NULL,"
    " metadata TEXT NOT NULL,"
    " created_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL,"
    " revoked_at TEXT,"
    " transferred_to TEXT,"
    " transferred_at TEXT)",
    "CREATE INDEX IF NOT EXISTS anonymous_sessions_user ON anonymous_sessions (user_id)",
    "CREATE TABLE IF NOT EXISTS used_login_proofs (jti TEXT PRIMARY KEY,"
    " expires_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS accounts ("
    " user_id TEXT PRIMARY KEY, metadata TEXT NOT NULL, updated_at TEXT NOT NULL)",
    # The events feature owns this table (contract DDL, repeated here verbatim so a
    # transfer works whichever feature creates it first).
    "CREATE TABLE IF NOT EXISTS identity_links (anonymous_id TEXT PRIMARY KEY,"
    " user_id TEXT NOT NULL, linked_at TEXT NOT NULL)",
)

MAX_ID_CHARS = 200
_USERNAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,64}$")


def _unauthorized(error: str) -> Problem:
    return Problem(401, error, {"WWW-Authenticate": 'Bearer error="invalid_token"'})


def bearer(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>``; 401 when there is none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            401, "an Authorization: Bearer token is required", {"WWW-Authenticate": "Bearer"}
        )
    return token.strip()


async def read_json(request: Request, limit: int, max_depth: int) -> Any:
    """The request's JSON body (None when empty), read in chunks and refused with a 413 as soon
    as it passes ``limit`` bytes (chunked bodies included); 400 unless strict
    JSON that can be stored and answered again (no NaN or Infinity, no lone surrogate, at
    most ``max_depth`` levels deep)."""
    body = await read_body(request.stream(), request.headers.get("content-length"), limit)
    if not body.strip():
        return None
    try:
        value = parse_json(body.decode("utf-8"), max_depth)
        encode_event(value, "the body")
    except UnicodeDecodeError:
        raise Problem(400, "the body is not valid JSON: not UTF-8") from None
    except Problem as bad:
        raise Problem(bad.status, f"the body is not valid JSON: {bad.error}") from None
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Problem(400, f"{what} must be a JSON object")
    return value


def _id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_CHARS or not value.isprintable():
        raise Problem(400, f"{what} must be a string of 1 to {MAX_ID_CHARS} printable characters")
    return value


def metadata_size(metadata: dict[str, Any]) -> int:
    """Bytes of ``metadata`` as compact UTF-8 JSON (what the limit counts)."""
    return len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode())


def _dump(metadata: dict[str, Any]) -> str:
    return json.dumps(metadata, separators=(",", ":"), ensure_ascii=False)


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 JSON merge patch: objects merge recursively, ``null`` deletes a key."""
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            base = merged.get(key)
            merged[key] = merge_patch(base if isinstance(base, dict) else {}, value)
        else:
            merged[key] = value
    return merged


def _merge_into_account(account: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
    """The account's metadata with the session's merged in (objects recursively, the
    session's values winning; lists such as a cart are appended to the account's)."""
    merged = dict(account)
    for key, value in session.items():
        base = merged.get(key)
        if isinstance(value, dict) and isinstance(base, dict):
            merged[key] = _merge_into_account(base, value)
        elif isinstance(value, list) and isinstance(base, list):
            merged[key] = base + value
        else:
            merged[key] = value
    return merged


class SessionStore:
    """The session, account and link rows; blocking calls, run off the event loop."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def now(self) -> str:
        return self.stamp(self.settings.clock())

    @staticmethod
    def stamp(seconds: float) -> str:
        """``seconds`` since the epoch as stored: ISO-8601 UTC to the millisecond."""
        stamp = datetime.fromtimestamp(seconds, UTC)
        return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _check_size(self, metadata: dict[str, Any]) -> None:
        limit = self.settings.metadata_max_bytes
        if metadata_size(metadata) > limit:
            raise Problem(413, f"metadata over {limit} bytes")

    def create(
        self, user_id: str, metadata: dict[str, Any], holder: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A new session for ``user_id``. When it already has a live session (not revoked,
        transferred or expired), only the holder of that session's token (``holder``: its
        verified claims) may open another: knowing an anonymous id is not enough."""
        self._check_size(metadata)
        session_id = str(uuid.uuid4())
        now = self.now()
        with self.store.transaction() as tx:
            if tx.dialect == "postgresql":
                # Serialise session starts for one user_id, so two cannot both see none live.
                tx.execute(
                    "SELECT pg_advisory_xact_lock(7317, CAST(? AS INTEGER))", (_lock_key(user_id),)
                )
            live = {
                row[0]
                for row in tx.execute(
                    "SELECT session_id FROM anonymous_sessions WHERE user_id = ?"
                    " AND revoked_at IS NULL AND transferred_to IS NULL AND updated_at > ?",
                    (user_id, self.stamp(self.settings.clock() - self.settings.session_ttl)),
                ).fetchall()
            }
            if live and (holder is None or holder.get("session_id") not in live):
                raise _unauthorized(
                    "this user_id has a live session: send its session token"
                    " (Authorization: Bearer) to start another"
                )
            tx.execute(
                "INSERT INTO anonymous_sessions (session_id, user_id, metadata, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?)",
                (session_id, user_id, _dump(metadata), now, now),
            )
        return {
            "session_id": session_id,
            "user_id": user_id,
            "created_at": now,
            "metadata": metadata,
        }

    @staticmethod
    def _row(tx: Transaction, session_id: str, lock: bool = False) -> Row | None:
        sql = "SELECT * FROM anonymous_sessions WHERE session_id = ?"
        if lock and tx.dialect == "postgresql":
            sql += " FOR UPDATE"
        return tx.execute(sql, (session_id,)).fetchone()

    @staticmethod
    def _live(row: Row | None, claims: dict[str, Any]) -> Row:
        """The session row behind verified token claims; 401 when gone or revoked."""
        if row is None or row["user_id"] != claims.get("user_id", claims.get("sub")):
            raise _unauthorized("unknown session")
        if row["revoked_at"] is not None:
            raise _unauthorized("session revoked")
        return row

    def live(self, claims: dict[str, Any], session_id: str) -> dict[str, Any]:
        """The session as a dict (metadata decoded) if it still exists and is not revoked."""
        with self.store.transaction() as tx:
            row = self._live(self._row(tx, session_id), claims)
        return _session(row)

    def update(self, claims: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
        with self.store.transaction() as tx:
            row = self._live(self._row(tx, claims["session_id"], lock=True), claims)
            if row["transferred_to"] is not None:
                raise Problem(409, "the session was transferred to an account; it is read-only")
            metadata = merge_patch(json.loads(row["metadata"]), patch)
            self._check_size(metadata)
            tx.execute(
                "UPDATE anonymous_sessions SET metadata = ?, updated_at = ? WHERE session_id = ?",
                (_dump(metadata), self.now(), row["session_id"]),
            )
        session = _session(row)
        session["metadata"] = metadata
        return session

    def revoke(self, claims: dict[str, Any]) -> None:
        with self.store.transaction() as tx:
            self._live(self._row(tx, claims["session_id"], lock=True), claims)
            tx.execute(
                "UPDATE anonymous_sessions SET revoked_at = ? WHERE session_id = ?",
                (self.now(), claims["session_id"]),
            )

    def transfer(
        self, claims: dict[str, Any], user_id: str, proof: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Link the session's anonymous user to ``user_id`` and merge its metadata into the
        account, in one transaction, once; a repeat for the same account changes nothing.
        ``proof`` (the login proof's claims) is spent in the same transaction: a replay gets
        403, and a transfer that fails leaves it unspent."""
        with self.store.transaction() as tx:
            row = self._live(self._row(tx, claims["session_id"], lock=True), claims)
            if proof is not None:
                self._spend(tx, proof)
            anonymous_id = row["user_id"]
            result = {
                "user_id": user_id,
                "anonymous_id": anonymous_id,
                "session_id": row["session_id"],
            }
            if row["transferred_to"] is not None:
                if row["transferred_to"] != user_id:
                    raise Problem(409, "the session was already transferred to another account")
                account = self._account(tx, user_id, lock=False)
                return {
                    **result,
                    "transferred": False,
                    "transferred_at": row["transferred_at"],
                    "metadata": account,
                }
            link = tx.execute(
                "SELECT user_id FROM identity_links WHERE anonymous_id = ?", (anonymous_id,)
            ).fetchone()
            if link is not None and link["user_id"] != user_id:
                raise Problem(409, "this anonymous user is already linked to another account")
            now = self.now()
            tx.execute(
                "INSERT INTO accounts (user_id, metadata, updated_at) VALUES (?, '{}', ?)"
                " ON CONFLICT DO NOTHING",
                (user_id, now),
            )
            account = _merge_into_account(
                self._account(tx, user_id, lock=True), json.loads(row["metadata"])
            )
            self._check_size(account)
            tx.execute(
                "UPDATE accounts SET metadata = ?, updated_at = ? WHERE user_id = ?",
                (_dump(account), now, user_id),
            )
            tx.execute(
                "UPDATE anonymous_sessions SET transferred_to = ?, transferred_at = ?"
                " WHERE session_id = ?",
                (user_id, now, row["session_id"]),
            )
            tx.execute(
                "INSERT INTO identity_links (anonymous_id, user_id, linked_at) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (anonymous_id, user_id, now),
            )
        return {**result, "transferred": True, "transferred_at": now, "metadata": account}

    def _spend(self, tx: Transaction, proof: dict[str, Any]) -> None:
        """Record the proof's ``jti`` (kept until the proof expires); 403 if already there."""
        tx.execute(
            "DELETE FROM used_login_proofs WHERE expires_at < ?", (int(self.settings.clock()),)
        )
        fresh = tx.execute(
            "INSERT INTO used_login_proofs (jti, expires_at) VALUES (?, ?)"
            " ON CONFLICT DO NOTHING RETURNING jti",
            (str(proof["jti"]), int(proof["exp"])),
        ).fetchone()
        if fresh is None:
            raise Problem(403, "login proof refused: already used (a proof is single-use)")

    @staticmethod
    def _account(tx: Transaction, user_id: str, lock: bool) -> dict[str, Any]:
        sql = "SELECT metadata FROM accounts WHERE user_id = ?"
        if lock and tx.dialect == "postgresql":
            sql += " FOR UPDATE"
        row = tx.execute(sql, (user_id,)).fetchone()
        return {} if row is None else dict(json.loads(row["metadata"]))


def _lock_key(user_id: str) -> int:
    """A signed 32-bit number for ``user_id``, for PostgreSQL's advisory lock."""
    return int.from_bytes(hashlib.sha256(user_id.encode()).digest()[:4], "big", signed=True)


def _session(row: Row) -> dict[str, Any]:
    return {
        "session_id": row["session_id"],
        "user_id": row["user_id"],
        "created_at": row["created_at"],
        "metadata": json.loads(row["metadata"]),
        "transferred_to": row["transferred_to"],
    }


def routes(settings: Settings, store: Store) -> list[BaseRoute]:
    """The anonymous-session endpoints, the login proof and (unless off) the demo login."""
    signer = tokens.signer(settings, store)
    sessions = SessionStore(settings, store)
    body_limit = settings.metadata_max_bytes + 4096

    async def json_object(request: Request, what: str, limit: int = body_limit) -> dict[str, Any]:
        """The request's body, which must be a JSON object (an empty body is ``{}``)."""
        return _object(await read_json(request, limit, settings.max_json_depth), what)

    def answer(session: dict[str, Any]) -> dict[str, Any]:
        user_id, session_id = session["user_id"], session["session_id"]
        return {
            "session_token": signer.session_token(
                user_id, session_id, session["created_at"], session["metadata"]
            ),
            "access_token": signer.access_token(user_id, session_id),
            "token_type": "Bearer",
            "expires_in": settings.access_ttl,
            "session_expires_in": settings.session_ttl,
            "user_id": user_id,
            "session_id": session_id,
            "metadata": session["metadata"],
        }

    def session_claims(request: Request) -> dict[str, Any]:
        try:
            return signer.verify(bearer(request), tokens.SESSION)
        except tokens.TokenError as exc:
            raise _unauthorized(f"session token refused: {exc}") from None

    def holder(request: Request, user_id: str) -> dict[str, Any] | None:
        """The claims of a valid session token for ``user_id`` the request carries, if any."""
        if "authorization" not in request.headers:
            return None
        try:
            claims = signer.verify(bearer(request), tokens.SESSION)
        except (tokens.TokenError, Problem):
            return None
        return claims if claims.get("user_id") == user_id else None

    async def start(request: Request) -> Response:
        body = await json_object(request, "the body")
        given = body.get("user_id")
        user_id = str(uuid.uuid4()) if given is None else _id(given, "user_id")
        metadata = _object(body.get("metadata"), "metadata")
        session = await run_in_threadpool(
            sessions.create, user_id, metadata, holder(request, user_id)
        )
        return JSONResponse(answer(session))

    async def patch(request: Request) -> Response:
        claims = session_claims(request)
        body = await json_object(request, "the metadata patch")
        wrapped = body.get("metadata")
        if set(body) == {"metadata"} and (wrapped is None or isinstance(wrapped, dict)):
            body = wrapped or {}
        session = await run_in_threadpool(sessions.update, claims, body)
        return JSONResponse(answer(session))

    async def delete(request: Request) -> Response:
        claims = session_claims(request)
        await run_in_threadpool(sessions.revoke, claims)
        return Response(status_code=204)

    async def transfer(request: Request) -> Response:
        claims = session_claims(request)
        body = await json_object(request, "the body")
        try:
            proof = signer.verify(str(body.get("login_proof") or ""), tokens.PROOF)
        except tokens.TokenError as exc:
            raise Problem(403, f"login proof refused: {exc}") from None
        user_id = proof["sub"]
        claimed = body.get("user_id")
        if claimed is not None and claimed != user_id:
            raise Problem(403, "the login proof is for another account")
        bound = proof.get("anonymous_id")
        if bound is not None and bound != claims["user_id"]:
            raise Problem(403, "the login proof is for another visitor's session")
        result = await run_in_threadpool(sessions.transfer, claims, user_id, proof)
        return JSONResponse(result)

    def issue_proof(api_key: str, body: dict[str, Any]) -> dict[str, Any]:
        """What ``/auth/login-proof`` answers the holder of ``api_key``."""
        if not signer.is_api_key(api_key):
            raise Problem(401, "a valid API key is required", {"WWW-Authenticate": "Bearer"})
        user_id = _id(body.get("user_id"), "user_id")
        anonymous_id = body.get("anonymous_id")
        if anonymous_id is not None:
            anonymous_id = _id(anonymous_id, "anonymous_id")
        return {
            "login_proof": signer.login_proof(user_id, anonymous_id),
            "token_type": tokens.PROOF,
            "expires_in": settings.proof_ttl,
            "user_id": user_id,
        }

    async def login_proof(request: Request) -> Response:
        api_key = bearer(request)
        body = await json_object(request, "the body", 16384)
        return JSONResponse(issue_proof(api_key, body))

    async def demo_login(request: Request) -> Response:
        """DEMO ONLY: logs anyone in as any username, no password. Off with --no-demo-login."""
        if not settings.demo_login:
            raise Problem(404, "the demo login is switched off")
        body = await json_object(request, "the body", 16384)
        username = body.get("username")
        if not isinstance(username, str) or not _USERNAME.match(username):
            raise Problem(400, "username must be 1 to 64 letters, digits or _.@+-")
        # What a site's backend does after checking a password: ask for a proof,
        # server to server, with the API key.
        proof_request = {"user_id": username, "anonymous_id": body.get("anonymous_id")}
        answer = issue_proof(signer.keys.api_key, proof_request)
        return JSONResponse({**answer, "demo": True})

    return [
        Route("/anonymous/token", by_method(POST=start), methods=ANY_METHOD),
        Route("/anonymous/session", by_method(PATCH=patch, DELETE=delete), methods=ANY_METHOD),
        Route("/anonymous/transfer", by_method(POST=transfer), methods=ANY_METHOD),
        Route("/auth/login-proof", by_method(POST=login_proof), methods=ANY_METHOD),
        Route("/demo/login", by_method(POST=demo_login), methods=ANY_METHOD),
    ]
