"""Anonymous sessions: signed tokens (decoded with PyJWT), expiry on an injected clock,
tampering, ``alg: none``, revocation, the metadata limit, the cart resource server, and a
transfer to an account that happens once and only with the account's login proof."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import jwt
import pytest

from collector.tokens import signing_key

SECRET = "collector-test-secret-long-enough-for-hs256"
API_KEY = "collector-test-api-key"
KEY = signing_key(SECRET)
ANON = "0b6f1a52-8f3e-4c57-9d5e-2f1d6c1b7a90"


class FakeClock:
    """Seconds since the epoch, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(make_client: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TRACKER_SECRET", SECRET)
    monkeypatch.setenv("TRACKER_API_KEY", API_KEY)
    return make_client(clock=clock, metadata_max_bytes=2048)


def call(client: Any, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    return client.request(method, path, headers, raw)


def start(client: Any, **body: Any) -> dict[str, Any]:
    reply = call(client, "POST", "/anonymous/token", body)
    assert reply.status == 200, reply.text
    return dict(reply.json())


def proof(client: Any, user_id: str, **extra: Any) -> str:
    reply = call(client, "POST", "/auth/login-proof", {"user_id": user_id, **extra}, API_KEY)
    assert reply.status == 200, reply.text
    return str(reply.json()["login_proof"])


def transfer(client: Any, session_token: str, login_proof: Any, **extra: Any) -> Any:
    """POST /anonymous/transfer with the session token and a login proof."""
    body = {"login_proof": login_proof, **extra}
    return call(client, "POST", "/anonymous/transfer", body, session_token)


def decode(token: str, audience: str) -> dict[str, Any]:
    return dict(
        jwt.decode(
            token,
            KEY,
            algorithms=["HS256"],
            audience=audience,
            issuer="tracker-collector",
            options={"verify_exp": False, "verify_iat": False},
        )
    )


def assert_error(reply: Any, status: int) -> str:
    assert reply.status == status, (reply.status, reply.text)
    assert reply.headers["content-type"] == "application/json"
    error = reply.json()["error"]
    assert isinstance(error, str) and error
    return error


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# --- tokens ----------------------------------------------------------------------------


def test_token_answer_and_claims(api: Any, clock: FakeClock) -> None:
    answer = start(api, user_id=ANON, metadata={"cart": [{"sku": "tea", "qty": 1}]})
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
    assert answer["user_id"] == ANON
    session = decode(answer["session_token"], "anonymous-session")
    assert session["user_id"] == ANON and session["session_id"] == answer["session_id"]
    assert session["metadata"] == {"cart": [{"sku": "tea", "qty": 1}]}
    assert session["created_at"].startswith("2027-01-15T08:00:00")
    assert session["iss"] == "tracker-collector"
    assert session["exp"] == int(clock.now) + 7 * 24 * 3600
    access = decode(answer["access_token"], "tracker-api")
    assert access["sub"] == ANON and access["aud"] == "tracker-api"
    assert access["iat"] == int(clock.now) and access["exp"] == int(clock.now) + 3600
    assert access["scope"] == "read:cart"
    assert jwt.get_unverified_header(answer["access_token"])["alg"] == "HS256"


def test_user_id_generated_when_absent_and_sessions_distinct(api: Any) -> None:
    first = start(api)
    second = start(api, user_id=ANON)
    # another session for an anonymous id with a live one takes that session's token
    body = {"user_id": ANON}
    third = call(api, "POST", "/anonymous/token", body, second["session_token"]).json()
    assert first["user_id"] != ANON and len(first["user_id"]) == 36
    assert second["session_id"] != third["session_id"]
    assert decode(first["access_token"], "tracker-api")["sub"] == first["user_id"]


def test_bad_requests_get_400(api: Any) -> None:
    assert_error(call(api, "POST", "/anonymous/token", b"{not json"), 400)
    assert_error(call(api, "POST", "/anonymous/token", [1, 2]), 400)
    assert_error(call(api, "POST", "/anonymous/token", {"user_id": 5}), 400)
    assert_error(call(api, "POST", "/anonymous/token", {"user_id": ""}), 400)
    assert_error(call(api, "POST", "/anonymous/token", {"metadata": "cart"}), 400)
    token = start(api)["session_token"]
    assert_error(call(api, "PATCH", "/anonymous/session", b"\xff\xfe", token), 400)
    assert_error(call(api, "PATCH", "/anonymous/session", ["x"], token), 400)


def test_metadata_limit_gets_413(api: Any) -> None:
    big = {"blob": "x" * 2100}
    assert_error(call(api, "POST", "/anonymous/token", {"metadata": big}), 413)
    answer = start(api, metadata={"blob": "x" * 1000})
    token = answer["session_token"]
    assert_error(call(api, "PATCH", "/anonymous/session", {"more": "y" * 1100}, token), 413)
    # nothing was stored: the metadata is still the first one
    reply = call(api, "PATCH", "/anonymous/session", {}, token)
    assert reply.json()["metadata"] == {"blob": "x" * 1000}
    assert_error(call(api, "POST", "/anonymous/token", b"{" + b" " * 10000 + b"}"), 413)


# --- refused tokens --------------------------------------------------------------------


def test_missing_forged_tampered_and_alg_none_tokens_get_401(api: Any) -> None:
    answer = start(api, user_id=ANON, metadata={"cart": []})
    token = answer["session_token"]
    header, payload, signature = token.split(".")
    claims = decode(token, "anonymous-session")
    tampered = f"{header}.{b64({**claims, 'user_id': 'someone-else'})}.{signature}"
    forged = jwt.encode(
        claims, signing_key("not-the-secret-but-32-bytes-long-anyway"), algorithm="HS256"
    )
    none = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    with pytest.warns(jwt.InsecureKeyLengthWarning):
        swapped_alg = jwt.encode(claims, KEY, algorithm="HS512")
    for bad in (tampered, forged, none, swapped_alg, "garbage", f"{header}.{payload}."):
        assert_error(call(api, "PATCH", "/anonymous/session", {"x": 1}, bad), 401)
        assert_error(call(api, "DELETE", "/anonymous/session", None, bad), 401)
        assert_error(call(api, "POST", "/anonymous/transfer", {}, bad), 401)
    reply = call(api, "PATCH", "/anonymous/session", {"x": 1})
    assert_error(reply, 401)
    assert reply.headers["www-authenticate"].startswith("Bearer")
    # the genuine token still works
    assert call(api, "PATCH", "/anonymous/session", {"x": 1}, token).status == 200


def test_one_kind_of_token_is_never_another(api: Any) -> None:
    answer = start(api, user_id=ANON)
    login = proof(api, "alice")
    # an access token or a login proof is not a session token
    assert_error(call(api, "PATCH", "/anonymous/session", {}, answer["access_token"]), 401)
    assert_error(call(api, "DELETE", "/anonymous/session", None, login), 401)
    # a session token or a login proof is not an access token
    assert_error(call(api, "GET", "/api/cart", None, answer["session_token"]), 401)
    assert_error(call(api, "GET", "/api/cart", None, login), 401)
    # an access or session token is not a login proof
    for not_proof in (answer["access_token"], answer["session_token"]):
        reply = transfer(api, answer["session_token"], not_proof)
        assert_error(reply, 403)


def test_tokens_expire_on_the_injected_clock(api: Any, clock: FakeClock) -> None:
    answer = start(api, metadata={"cart": ["tea"]})
    clock.now += 3599
    assert call(api, "GET", "/api/cart", None, answer["access_token"]).status == 200
    clock.now += 1
    assert "expired" in assert_error(
        call(api, "GET", "/api/cart", None, answer["access_token"]), 401
    )
    # the session token lives longer; renewing it gives a working access token
    renewed = call(api, "PATCH", "/anonymous/session", {}, answer["session_token"]).json()
    assert call(api, "GET", "/api/cart", None, renewed["access_token"]).json()["cart"] == ["tea"]
    clock.now += 7 * 24 * 3600
    for token in (answer["session_token"], renewed["session_token"]):
        assert_error(call(api, "PATCH", "/anonymous/session", {}, token), 401)


def test_revoked_session_refuses_every_token(api: Any) -> None:
    answer = start(api, metadata={"cart": ["tea"]})
    renewed = call(api, "PATCH", "/anonymous/session", {}, answer["session_token"]).json()
    reply = call(api, "DELETE", "/anonymous/session", None, answer["session_token"])
    assert reply.status == 204 and reply.body == b""
    for session_token in (answer["session_token"], renewed["session_token"]):
        assert "revoked" in assert_error(
            call(api, "PATCH", "/anonymous/session", {}, session_token), 401
        )
        assert_error(call(api, "DELETE", "/anonymous/session", None, session_token), 401)
    for access_token in (answer["access_token"], renewed["access_token"]):
        assert_error(call(api, "GET", "/api/cart", None, access_token), 401)
    reply = transfer(api, answer["session_token"], proof(api, "alice"))
    assert_error(reply, 401)


def test_tokens_from_another_issuer_or_audience_are_refused(make_client: Any, api: Any) -> None:
    other = make_client(token_issuer="someone-else")
    token = start(other)["access_token"]
    assert_error(call(api, "GET", "/api/cart", None, token), 401)
    elsewhere = make_client(token_audience="other-api")
    token = start(elsewhere)["access_token"]
    assert_error(call(api, "GET", "/api/cart", None, token), 401)


# --- metadata and the cart ---------------------------------------------------------------


def test_patch_merges_metadata_and_cart_reads_it(api: Any) -> None:
    answer = start(api, user_id=ANON, metadata={"cart": [], "prefs": {"lang": "en", "x": 1}})
    reply = call(
        api,
        "PATCH",
        "/anonymous/session",
        {"cart": [{"sku": "tea"}], "prefs": {"x": None, "theme": "dark"}},
        answer["session_token"],
    )
    assert reply.status == 200
    renewed = reply.json()
    assert renewed["metadata"] == {
        "cart": [{"sku": "tea"}],
        "prefs": {"lang": "en", "theme": "dark"},
    }
    assert decode(renewed["session_token"], "anonymous-session")["metadata"] == renewed["metadata"]
    assert renewed["session_id"] == answer["session_id"]
    # the wrapped form {"metadata": patch} is accepted too
    reply = call(
        api,
        "PATCH",
        "/anonymous/session",
        {"metadata": {"coupon": "TEA10"}},
        answer["session_token"],
    )
    assert reply.json()["metadata"]["coupon"] == "TEA10"
    # the old access token reads the current cart: metadata lives on the server
    cart = call(api, "GET", "/api/cart", None, answer["access_token"])
    assert cart.status == 200
    assert cart.json() == {
        "user_id": ANON,
        "session_id": answer["session_id"],
        "scope": "read:cart",
        "cart": [{"sku": "tea"}],
    }


def test_cart_needs_a_bearer_access_token(api: Any) -> None:
    reply = call(api, "GET", "/api/cart")
    assert_error(reply, 401)
    assert reply.headers["www-authenticate"] == "Bearer"
    assert_error(api.request("GET", "/api/cart", {"authorization": "Basic abc"}), 401)


# --- login proof and transfer ------------------------------------------------------------


def test_login_proof_needs_the_api_key(api: Any, clock: FakeClock) -> None:
    assert_error(call(api, "POST", "/auth/login-proof", {"user_id": "alice"}), 401)
    reply = call(api, "POST", "/auth/login-proof", {"user_id": "alice"}, "wrong-key")
    assert_error(reply, 401)
    assert_error(call(api, "POST", "/auth/login-proof", {}, API_KEY), 400)
    claims = decode(proof(api, "alice"), "login-proof")
    assert claims["sub"] == "alice" and claims["typ"] == "login-proof"
    assert claims["exp"] - claims["iat"] == 120


def test_transfer_links_and_merges_once(api: Any, clock: FakeClock) -> None:
    answer = start(api, user_id=ANON, metadata={"cart": [{"sku": "tea"}], "lang": "en"})
    token = answer["session_token"]
    first = transfer(api, token, proof(api, "alice"))
    assert first.status == 200, first.text
    result = first.json()
    assert result["user_id"] == "alice" and result["anonymous_id"] == ANON
    assert result["transferred"] is True
    assert result["metadata"] == {"cart": [{"sku": "tea"}], "lang": "en"}
    clock.now += 5
    again = transfer(api, token, proof(api, "alice"))
    assert again.status == 200
    assert again.json()["transferred"] is False
    assert again.json()["metadata"] == result["metadata"]
    assert again.json()["transferred_at"] == result["transferred_at"]
    with api.app.state.store.transaction() as tx:
        links = tx.execute("SELECT anonymous_id, user_id FROM identity_links").fetchall()
        account = tx.execute("SELECT metadata FROM accounts WHERE user_id = 'alice'").fetchone()
    assert [tuple(row) for row in links] == [(ANON, "alice")]
    assert json.loads(account["metadata"]) == result["metadata"]
    # the transferred session is read-only now
    assert_error(call(api, "PATCH", "/anonymous/session", {"cart": []}, token), 409)


def test_second_guest_session_merges_into_the_same_account(api: Any) -> None:
    one = start(api, user_id=ANON, metadata={"cart": [{"sku": "tea"}]})
    two = start(api, user_id="7c9e6679-7425-40de-944b-e07fc1f90ae7", metadata={"cart": ["mug"]})
    for answer in (one, two):
        reply = transfer(api, answer["session_token"], proof(api, "alice"))
        assert reply.status == 200
    assert reply.json()["metadata"] == {"cart": [{"sku": "tea"}, "mug"]}


def test_forged_expired_or_foreign_proof_gets_403_and_moves_nothing(
    api: Any, clock: FakeClock
) -> None:
    answer = start(api, user_id=ANON, metadata={"cart": ["tea"]})
    token = answer["session_token"]
    real = proof(api, "alice")
    forged_claims = {**decode(real, "login-proof"), "sub": "bob"}
    header, _, signature = real.split(".")
    bad_proofs = [
        jwt.encode(
            forged_claims, signing_key("a-guessed-secret-that-is-32-bytes-long"), algorithm="HS256"
        ),
        f"{header}.{b64(forged_claims)}.{signature}",
        f"{b64({'alg': 'none'})}.{b64(forged_claims)}.",
        "",
        None,
    ]
    for bad in bad_proofs:
        reply = transfer(api, token, bad)
        assert_error(reply, 403)
    # a genuine proof for alice, with the visitor claiming to be bob
    reply = transfer(api, token, real, user_id="bob")
    assert_error(reply, 403)
    # a proof bound to another visitor's anonymous id
    bound = proof(api, "alice", anonymous_id="someone-else")
    assert_error(transfer(api, token, bound), 403)
    # an expired proof
    clock.now += 121
    assert_error(transfer(api, token, real), 403)
    with api.app.state.store.transaction() as tx:
        assert tx.execute("SELECT count(*) FROM identity_links").fetchone()[0] == 0  # type: ignore[index]
        assert tx.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0  # type: ignore[index]
    # the session is untouched and can still be transferred properly
    fresh = proof(api, "alice", anonymous_id=ANON)
    reply = transfer(api, token, fresh)
    assert reply.status == 200 and reply.json()["transferred"] is True


def test_transferred_session_cannot_move_to_another_account(api: Any) -> None:
    token = start(api, user_id=ANON, metadata={"cart": ["tea"]})["session_token"]
    transfer(api, token, proof(api, "alice"))
    reply = transfer(api, token, proof(api, "bob"))
    assert_error(reply, 409)
    # nor can another session of the same anonymous user
    other = start(api, user_id=ANON)["session_token"]
    reply = transfer(api, other, proof(api, "bob"))
    assert_error(reply, 409)
    with api.app.state.store.transaction() as tx:
        users = tx.execute("SELECT user_id FROM accounts").fetchall()
        links = tx.execute("SELECT user_id FROM identity_links").fetchall()
    assert [r[0] for r in users] == ["alice"] and [r[0] for r in links] == ["alice"]


def test_expired_session_is_never_transferred(api: Any, clock: FakeClock) -> None:
    token = start(api, user_id=ANON, metadata={"cart": ["tea"]})["session_token"]
    clock.now += 7 * 24 * 3600
    reply = transfer(api, token, proof(api, "alice"))
    assert_error(reply, 401)


# --- demo login ----------------------------------------------------------------------------


def test_demo_login_issues_a_proof_and_can_be_switched_off(api: Any, make_client: Any) -> None:
    answer = start(api, user_id=ANON, metadata={"cart": ["tea"]})
    reply = call(api, "POST", "/demo/login", {"username": "alice", "anonymous_id": ANON})
    assert reply.status == 200 and reply.json()["demo"] is True
    login = reply.json()["login_proof"]
    assert decode(login, "login-proof")["anonymous_id"] == ANON
    reply = transfer(api, answer["session_token"], login)
    assert reply.status == 200 and reply.json()["user_id"] == "alice"
    assert_error(call(api, "POST", "/demo/login", {"username": "a b"}), 400)
    off = make_client(demo_login=False)
    assert_error(call(off, "POST", "/demo/login", {"username": "alice"}), 404)


# --- keys ------------------------------------------------------------------------------------


def test_keys_generated_once_and_kept_beside_the_database(
    make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRACKER_SECRET", raising=False)
    monkeypatch.delenv("TRACKER_API_KEY", raising=False)
    first = make_client()
    answer = start(first)
    store = first.app.state.store
    if store.dialect == "sqlite":
        directory = store.path.resolve().parent
        for name in (".collector-secret", ".collector-api-key"):
            assert stat.S_IMODE(os.stat(directory / name).st_mode) == 0o600
        api_key = (directory / ".collector-api-key").read_text().strip()
    else:
        with store.transaction() as tx:
            row = tx.execute("SELECT value FROM collector_keys WHERE name = 'api_key'").fetchone()
        api_key = row["value"]
    # a restarted collector on the same database accepts the old tokens and API key
    second = make_client()
    assert call(second, "GET", "/api/cart", None, answer["access_token"]).status == 200
    reply = call(second, "POST", "/auth/login-proof", {"user_id": "alice"}, api_key)
    assert reply.status == 200


def test_other_methods_get_a_json_405(api: Any) -> None:
    for method, path, allowed in (
        ("GET", "/anonymous/token", "POST"),
        ("POST", "/anonymous/session", "DELETE, PATCH"),
        ("GET", "/anonymous/transfer", "POST"),
        ("PUT", "/auth/login-proof", "POST"),
        ("POST", "/api/cart", "GET, HEAD"),
    ):
        reply = call(api, method, path, {})
        assert_error(reply, 405)
        assert reply.headers["allow"] == allowed


def test_flags_reach_the_settings() -> None:
    from collector.__main__ import parse_args, wants_demo_login

    args = parse_args([])
    assert (args.session_ttl, args.access_ttl, args.proof_ttl) == (7 * 24 * 3600, 3600, 120)
    assert wants_demo_login(args) is True and args.metadata_max_bytes == 64 * 1024
    args = parse_args(
        ["--no-demo-login", "--access-ttl", "60", "--token-audience", "shop-api"]
        + ["--metadata-max-bytes", "1000", "--token-scope", "read:cart write:cart"]
    )
    assert wants_demo_login(args) is False and args.access_ttl == 60
    assert args.token_audience == "shop-api" and args.metadata_max_bytes == 1000
    assert args.token_scope == "read:cart write:cart"


def test_hostile_json_gets_400_and_leaves_the_session_usable(api: Any) -> None:
    """Deep nesting, NaN/Infinity, a number overflowing to infinity and a lone surrogate are
    refused with a JSON 400 on every endpoint that reads a body, and nothing is stored."""
    token = start(api, user_id=ANON, metadata={"cart": ["tea"]})["session_token"]
    hostile = [
        b"[" * 1500 + b"]" * 1500,
        b'{"x": ' + b"[" * 40 + b"]" * 40 + b"}",
        b'{"metadata": {"n": NaN}}',
        b'{"metadata": {"n": Infinity}}',
        b'{"metadata": {"n": 1e999}}',
        b'{"metadata": {"s": "\\ud800"}}',
        b'{"metadata": {"s": "caf\xe9"}}',
    ]
    for raw in hostile:
        assert "JSON" in assert_error(call(api, "POST", "/anonymous/token", raw), 400), raw
        assert_error(call(api, "PATCH", "/anonymous/session", raw, token), 400)
        assert_error(call(api, "POST", "/anonymous/transfer", raw, token), 400)
        assert_error(call(api, "POST", "/demo/login", raw), 400)
    reply = call(api, "PATCH", "/anonymous/session", {"lang": "en"}, token)
    assert reply.status == 200, reply.text
    claims = decode(reply.json()["session_token"], "anonymous-session")
    assert claims["metadata"] == {"cart": ["tea"], "lang": "en"}


def test_demo_login_is_off_for_a_site_of_ones_own(tmp_path: Path) -> None:
    """The passwordless demo login comes with the bundled demo site only: serving another
    site needs --demo-login to get it, and --no-demo-login always wins."""
    from collector.__main__ import parse_args, wants_demo_login

    assert wants_demo_login(parse_args(["--web", str(tmp_path)])) is False
    assert wants_demo_login(parse_args(["--web", str(tmp_path), "--demo-login"])) is True
    assert wants_demo_login(parse_args(["--no-demo-login"])) is False
    from collector import Settings

    assert Settings().demo_login is False


CLOCKLESS: Any = {"verify_exp": False, "verify_iat": False, "verify_nbf": False}
"""The tests' tokens are issued on a fake clock."""


def test_tokens_verify_with_the_secret_itself(api: Any) -> None:
    """Another service holding TRACKER_SECRET checks a token with a plain jwt.decode."""
    answer = start(api, user_id=ANON)
    claims = jwt.decode(
        answer["access_token"],
        SECRET,
        algorithms=["HS256"],
        audience="tracker-api",
        options=CLOCKLESS,
    )
    assert claims["sub"] == ANON
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            answer["access_token"],
            "another-secret-of-32-bytes-or-more!",
            algorithms=["HS256"],
            audience="tracker-api",
        )
