"""Plain identity rules: uuid4, token and id validation."""

from fakes import Env

from tracker.identity import (
    anonymous_user_token,
    check_id,
    check_token,
    is_anonymous_token,
    is_uuid4,
    uuid4,
)


def test_uuid4_is_canonical_version_4():
    env = Env()
    ids = [uuid4(env.random_bytes) for _ in range(50)]
    for value in ids:
        assert is_uuid4(value), value
    assert len(set(ids)) == 50


def test_uuid4_sets_version_and_variant_bits_even_from_all_ones():
    value = uuid4(lambda n: b"\xff" * n)
    assert value == "ffffffff-ffff-4fff-bfff-ffffffffffff"


def test_anonymous_user_token_has_prefix_and_uuid():
    token = anonymous_user_token(Env().random_bytes)
    assert token.startswith("anonymous-")
    assert is_uuid4(token[len("anonymous-") :])
    assert check_token(token) is None


def test_token_rules_follow_search_insights():
    assert check_token("user-1_a=b/c+d") is None
    assert check_token("a" * 129) is None
    assert "at most 129" in check_token("a" * 130)
    assert "empty" in check_token("")
    assert "string" in check_token(42)
    assert "string" in check_token(None)
    assert check_token("has space") is not None
    assert check_token("é") is not None


def test_only_anonymous_prefixed_tokens_are_reusable():
    assert is_anonymous_token("anonymous-abc")
    assert not is_anonymous_token("anonymous-")
    assert not is_anonymous_token("user-1")
    assert not is_anonymous_token("anonymous-<script>")


def test_id_rules():
    assert check_id("ABC-123-XYZ", "anonymousId") is None
    assert check_id("x" * 256, "userId") is None
    assert check_id("x" * 257, "userId") is not None
    assert check_id("", "userId") is not None
    assert check_id("a\nb", "userId") is not None
    assert check_id({"a": 1}, "userId") is not None
