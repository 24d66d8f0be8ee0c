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


TOK = "ab/cd+ef:gh/ij"


def test_redact_json_escaped_slash_and_unicode_forms():
    forms = auth.secret_forms(TOK)
    for echoed in (
        "ab\\/cd+ef:gh\\/ij",  # JSON with escaped slashes (PHP, Java, some Go)
        "\\u0061b\\/cd\\u002Bef\\u003agh/ij",  # \uXXXX for any character, any case
        "ab%2Fcd%2bef%3Agh%2Fij",  # percent-encoding
    ):
        out = auth.redact('{"message":"bad token ' + echoed + '!"}', forms)
        assert out == '{"message":"bad token ***!"}', out


def test_redact_non_ascii_token_escaped_by_json_and_percent():
    tok = "clé-💡-secret"
    forms = auth.secret_forms(tok)
    assert auth.redact("x " + "cl\\u00e9-\\ud83d\\udca1-secret y", forms) == "x *** y"
    assert auth.redact("x cl%C3%A9-%F0%9F%92%A1-secret y", forms) == "x *** y"


def test_redact_base64_of_any_user_and_token():
    import binascii

    forms = auth.secret_forms(TOK)
    for user in ("DESC", "metrics", "", "a-much-longer-user-name", "u1"):
        enc = binascii.b2a_base64((user + ":" + TOK).encode()).decode().strip()
        escaped = enc.replace("/", "\\/")
        for text in (enc, escaped, enc.replace("+", "-").replace("/", "_")):
            out = auth.redact("Basic " + text, forms)
            assert TOK not in out and enc not in out and escaped not in out
            assert "***" in out, (user, out)


def test_redact_leaves_other_text_and_partial_escapes_alone():
    forms = auth.secret_forms(TOK)
    text = "100% sure: ab\\/cd+ef no, \\u00 %2 ab%2Fcd"
    assert auth.redact(text, forms) == text


def test_drop_headers_cuts_echoed_request_headers():
    from tspush.core.echo import drop_headers

    reason = 'HTTP 400: points refused: {"error":"bad","request":{"Authorization":"Basic x"}}'
    out = drop_headers(reason)
    assert out.startswith('HTTP 400: points refused: {"error":"bad","request":{"')
    assert "Basic" not in out and "not kept" in out
    assert drop_headers("metric name too long") == "metric name too long"
