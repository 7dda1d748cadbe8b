"""Session tokens and the origin check: pure code, a fixed clock."""

from __future__ import annotations

import base64
import json

import pytest

from voicebot.channels.webrtc.tokens import (
    TokenError,
    issue_token,
    normalize_origin,
    origin_allowed,
    verify_token,
)

SECRET = "a-secret-of-enough-length"
NOW = 1_800_000_000


def test_a_token_round_trips_its_claims() -> None:
    tok = issue_token(SECRET, customer_id="c-42", customer_name="Alex Doe", language="de", origin="https://Shop.example:443", ttl_s=120, now=NOW)
    c = verify_token(tok, SECRET, now=NOW + 60)
    assert (c.customer_id, c.customer_name, c.language, c.origin) == ("c-42", "Alex Doe", "de", "https://shop.example")
    assert c.expires_at == NOW + 120 and c.token_id


@pytest.mark.parametrize("mutate,reason", [
    (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), "bad_signature"),
    (lambda t: "v1." + base64.urlsafe_b64encode(json.dumps({"sub": "admin", "iat": NOW, "exp": NOW + 99}).encode()).decode().rstrip("=") + "." + t.split(".")[2], "bad_signature"),
    (lambda t: "garbage", "malformed"),
    (lambda t: "", "missing"),
    (lambda t: t + "x" * 3000, "malformed"),
])  # fmt: skip
def test_forged_or_damaged_tokens_are_refused(mutate, reason) -> None:  # type: ignore[no-untyped-def]
    tok = issue_token(SECRET, customer_id="c-1", now=NOW)
    with pytest.raises(TokenError) as err:
        verify_token(mutate(tok), SECRET, now=NOW)
    assert err.value.reason == reason


def test_a_token_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(TokenError, match="forged"):
        verify_token(issue_token("another-secret-0123456789", now=NOW), SECRET, now=NOW)


def test_expiry_and_lifetime_are_enforced() -> None:
    tok = issue_token(SECRET, ttl_s=60, now=NOW)
    assert verify_token(tok, SECRET, now=NOW + 64).issued_at == NOW  # within the 5 s leeway
    with pytest.raises(TokenError) as err:
        verify_token(tok, SECRET, now=NOW + 66)
    assert err.value.reason == "expired"
    with pytest.raises(TokenError) as err:
        verify_token(issue_token(SECRET, ttl_s=7200, now=NOW), SECRET, now=NOW, max_ttl_s=3600)
    assert err.value.reason == "too_long_lived"


def test_bad_claims_and_secrets_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="language"):
        issue_token(SECRET, language="xx")
    with pytest.raises(ValueError, match="16 bytes"):
        issue_token("short")


def test_origin_allow_list() -> None:
    assert normalize_origin("HTTPS://Shop.Example:443/") == "https://shop.example"
    assert origin_allowed("https://shop.example", ("https://shop.example:443",), None)
    assert origin_allowed("http://127.0.0.1:8080", (), "http://127.0.0.1:8080")  # own origin (the demo page)
    assert not origin_allowed("http://127.0.0.1:9999", (), "http://127.0.0.1:8080")
    assert not origin_allowed("https://evil.example", ("https://shop.example",), "http://127.0.0.1:8080")
    assert not origin_allowed(None, ("https://shop.example",), None)
    assert not origin_allowed("null", ("https://shop.example",), None)
