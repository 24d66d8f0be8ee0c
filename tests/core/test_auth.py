"""Authorization headers and token redaction."""

from tspush.core import auth


def test_basic_like_original_but_rfc_case():
    # the original: "basic " + base64("DESC:" + TOKEN)
    assert auth.header(auth.BASIC, "s3cret") == "Basic REVTQzpzM2NyZXQ="
    assert auth.header(auth.BASIC, "s3cret", user="metrics") == "Basic bWV0cmljczpzM2NyZXQ="


def test_bearer_and_none():
    assert auth.header(auth.BEARER, "tok") == "Bearer tok"
    assert auth.header(auth.NONE, "tok") is None
    assert auth.header(auth.BASIC, "") is None


def test_redact_clear_and_base64_forms():
    forms = auth.secret_forms("s3cret")
    text = "bad header: Basic REVTQzpzM2NyZXQ= token=s3cret raw=czNjcmV0"
    out = auth.redact(text, forms)
    assert "s3cret" not in out
    assert "REVTQzpzM2NyZXQ=" not in out
    assert "czNjcmV0" not in out
    assert out.count("***") == 3


def test_redact_bytes_and_none():
    assert auth.redact(b"x s3cret y", ["s3cret"]) == "x *** y"
    assert auth.redact(None, ["a"]) == ""
    assert auth.secret_forms("") == []


def test_header_pairs_for_every_scheme():
    assert auth.header_pair(auth.BASIC, "t") == ("Authorization", "Basic REVTQzp0")
    assert auth.header_pair(auth.TOKEN, "t") == ("Authorization", "Token t")
    assert auth.header_pair(auth.WARP10, "t") == ("X-Warp10-Token", "t")
    assert auth.header_pair(auth.NONE, "t") is None
