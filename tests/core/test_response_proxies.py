"""Auth proxies in front of engines: a refused token is an AuthError, never 'points refused'."""

from mpcompat import raises
from tspush.core import auth, response
from tspush.core.errors import AuthError, Rejected

# vmauth 1.79 (Debian) answers an unknown Basic token with 400 and echoes the header
VMAUTH_400 = b'cannot find the provided auth token "Basic REVTQzp3cm9uZw==" in config\n'


def test_vmauth_unknown_token_is_auth_error_with_token_redacted():
    e = raises(
        AuthError,
        response.classify,
        400,
        VMAUTH_400,
        {},
        auth.secret_forms("wrong"),
        "https://h/api/put",
    )
    assert e.status == 400
    assert "token was rejected" in str(e)
    assert "REVTQzp3cm9uZw==" not in str(e) and "wrong" not in str(e)
    assert "REVTQzp3cm9uZw==" not in e.body


def test_vmauth_missing_header_is_auth_error():
    e = raises(AuthError, response.classify, 401, b"missing `Authorization` request header\n")
    assert e.status == 401


def test_plain_400_is_still_rejected_points():
    body = b'{"error":{"code":400,"message":"Unable to parse the given JSON"}}'
    e = raises(Rejected, response.classify, 400, body)
    assert "Unable to parse" in str(e)
