"""Signed tokens of anonymous sessions: session tokens, access tokens and login proofs.

All three are HS256 JWTs signed with one collector key (PyJWT, with the algorithm
pinned, so ``alg: none`` and algorithm swaps are refused). Each kind has its own
``aud`` and ``typ`` claim, so one kind can never be used as another. Expiry is
checked here against ``Settings.clock`` (PyJWT's own check reads the wall clock).

Keys: the secret comes from ``TRACKER_SECRET`` and the API key (for login proofs and
reading ``/api/*``) from ``TRACKER_API_KEY``; when unset each is generated once and kept
beside the database, in ``.collector-secret`` / ``.collector-api-key`` next to a SQLite file
(mode 0600; an existing one that another user owns or others can write is refused) or in
the table ``collector_keys`` of a PostgreSQL database, so every collector sharing that
database signs with the same key.
"""

from __future__ import annotations

import hmac
import os
import secrets
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from collector.settings import Settings
from collector.store import Store

__all__ = [
    "ACCESS",
    "ALGORITHM",
    "PROOF",
    "SESSION",
    "KeyFileError",
    "Keys",
    "Signer",
    "TokenError",
    "load_keys",
    "signer",
    "signing_key",
]

ALGORITHM = "HS256"
SESSION = "session"
ACCESS = "access"
PROOF = "login-proof"
SESSION_AUDIENCE = "anonymous-session"
PROOF_AUDIENCE = "login-proof"
_KEYS_TABLE = (
    "CREATE TABLE IF NOT EXISTS collector_keys (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
)
_REQUIRED = {
    SESSION: ["exp", "iat", "iss", "aud", "user_id", "session_id", "created_at", "metadata"],
    ACCESS: ["exp", "iat", "iss", "aud", "sub", "sid", "scope"],
    PROOF: ["exp", "iat", "iss", "aud", "sub", "jti"],
}


class KeyFileError(RuntimeError):
    """A key file the collector refuses to use: another user's, or writable by others."""


class TokenError(Exception):
    """A token that is not acceptable: forged, tampered, of another kind, or expired."""


@dataclass(frozen=True)
class Keys:
    """The signing secret and the API key, with where each came from (for the start-up line)."""

    secret: str
    api_key: str
    secret_from: str
    api_key_from: str


def _check_owner(path: Path, status: os.stat_result) -> None:
    """Refuse a key file that someone else could have planted or could change: one not owned
    by the user running the collector, or writable by its group or others."""
    if status.st_uid != os.geteuid():
        raise KeyFileError(
            f"{path} belongs to uid {status.st_uid}, not to this user ({os.geteuid()}):"
            " refusing a key someone else controls; remove it or set the key in the environment"
        )
    if status.st_mode & 0o022:
        raise KeyFileError(
            f"{path} is writable by others (mode {status.st_mode & 0o777:o}): refusing a key"
            " anyone could replace; chmod 600 it after checking its content, or remove it"
        )


def _file_key(path: Path) -> str:
    """The key kept in ``path``, created (0600) with a random value when missing."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path) as f:
            _check_owner(path, os.fstat(f.fileno()))
            value = f.read().strip()
        if not value:
            raise KeyFileError(f"{path} is empty; delete it to generate a new key") from None
        return value
    with os.fdopen(fd, "w") as f:
        value = secrets.token_urlsafe(48)
        f.write(value + "\n")
    return value


def _table_key(store: Store, name: str) -> str:
    """The key ``name`` in ``collector_keys``, inserted with a random value when missing."""
    with store.transaction() as tx:
        tx.execute(
            "INSERT INTO collector_keys (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (name, secrets.token_urlsafe(48)),
        )
        row = tx.execute("SELECT value FROM collector_keys WHERE name = ?", (name,)).fetchone()
    assert row is not None
    return str(row["value"])


def load_keys(store: Store) -> Keys:
    """The secret and API key: from the environment, else kept beside the database."""
    found: dict[str, tuple[str, str]] = {}
    for name, env, filename in (
        ("secret", "TRACKER_SECRET", ".collector-secret"),
        ("api_key", "TRACKER_API_KEY", ".collector-api-key"),
    ):
        value = os.environ.get(env, "")
        if value:
            found[name] = (value, f"${env}")
        elif store.dialect == "postgresql":
            store.ensure([_KEYS_TABLE])
            found[name] = (_table_key(store, name), f"table collector_keys, name '{name}'")
        elif store.db == ":memory:":
            found[name] = (secrets.token_urlsafe(48), "memory (this process only)")
        else:
            path = store.path.resolve().parent / filename
            found[name] = (_file_key(path), str(path))
    return Keys(
        secret=found["secret"][0],
        api_key=found["api_key"][0],
        secret_from=found["secret"][1],
        api_key_from=found["api_key"][1],
    )


def signing_key(secret: str) -> bytes:
    """The HS256 key: the secret itself (UTF-8), so any service holding ``TRACKER_SECRET``
    verifies the tokens with a plain ``jwt.decode``. At least 32 bytes is advised (RFC 7518
    3.2); a generated secret has 64."""
    return secret.encode("utf-8")


class Signer:
    """Issues and verifies the three kinds of token with the settings' issuer, audience,
    lifetimes and clock."""

    def __init__(self, settings: Settings, keys: Keys) -> None:
        if settings.token_audience in (SESSION_AUDIENCE, PROOF_AUDIENCE):
            raise ValueError(f"token_audience must not be {settings.token_audience!r}")
        self.settings = settings
        self.keys = keys
        self._key = signing_key(keys.secret)
        self._audience = {
            SESSION: SESSION_AUDIENCE,
            ACCESS: settings.token_audience,
            PROOF: PROOF_AUDIENCE,
        }

    def is_api_key(self, given: str) -> bool:
        """Whether ``given`` is the collector's API key (compared in constant time)."""
        return bool(given) and hmac.compare_digest(given.encode(), self.keys.api_key.encode())

    def now(self) -> int:
        """Whole seconds since the epoch, on the settings' clock."""
        return int(self.settings.clock())

    def _issue(self, kind: str, ttl: int, claims: dict[str, Any]) -> str:
        now = self.now()
        payload = {
            **claims,
            "iss": self.settings.token_issuer,
            "aud": self._audience[kind],
            "typ": kind,
            "iat": now,
            "exp": now + ttl,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM)

    def session_token(
        self, user_id: str, session_id: str, created_at: str, metadata: dict[str, Any]
    ) -> str:
        """A session token: who, which session, since when, its metadata; ``session_ttl``."""
        return self._issue(
            SESSION,
            self.settings.session_ttl,
            {
                "user_id": user_id,
                "session_id": session_id,
                "created_at": created_at,
                "metadata": metadata,
            },
        )

    def access_token(self, user_id: str, session_id: str) -> str:
        """An OAuth-style access token for resource servers: ``sub`` is the anonymous user."""
        return self._issue(
            ACCESS,
            self.settings.access_ttl,
            {"sub": user_id, "sid": session_id, "scope": self.settings.token_scope},
        )

    def login_proof(self, user_id: str, anonymous_id: str | None = None) -> str:
        """A short-lived proof that the site logged ``user_id`` in (optionally bound to the
        visitor's anonymous id, so it transfers only that visitor's session)."""
        claims: dict[str, Any] = {"sub": user_id, "jti": uuid.uuid4().hex}
        if anonymous_id is not None:
            claims["anonymous_id"] = anonymous_id
        return self._issue(PROOF, self.settings.proof_ttl, claims)

    def verify(self, token: str, kind: str) -> dict[str, Any]:
        """The claims of ``token`` if it is a valid, unexpired token of ``kind``; else
        :class:`TokenError` saying why."""
        if not isinstance(token, str) or not token:
            raise TokenError("missing token")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._audience[kind],
                issuer=self.settings.token_issuer,
                options={
                    "require": _REQUIRED[kind],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidAudienceError:
            raise TokenError(f"not a {kind} token") from None
        except jwt.InvalidSignatureError:
            raise TokenError("bad signature") from None
        except jwt.PyJWTError as exc:
            raise TokenError(f"invalid token ({exc})") from None
        if claims.get("typ") != kind:
            raise TokenError(f"not a {kind} token")
        exp = claims["exp"]
        if isinstance(exp, bool) or not isinstance(exp, int | float) or exp <= self.now():
            raise TokenError("token expired")
        return claims


_signers: weakref.WeakKeyDictionary[Store, Signer] = weakref.WeakKeyDictionary()


def signer(settings: Settings, store: Store) -> Signer:
    """The app's one signer (built on first use per store, so every feature shares its keys)."""
    found = _signers.get(store)
    if found is None or found.settings is not settings:
        found = Signer(settings, load_keys(store))
        _signers[store] = found
    return found
