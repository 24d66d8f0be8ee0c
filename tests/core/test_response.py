"""Response classes shared by every transport."""

from mpcompat import raises
from tspush.core import response
from tspush.core.errors import AuthError, Rejected, ResponseError, Retryable, TooLarge


def test_2xx_is_ok():
    assert response.classify(204, b"") is None
    assert response.classify(200, b"{}") is None


def test_details_body_lists_failed_points():
    body = (
        '{"success":1,"failed":2,"errors":[{"datapoint":{"metric":"a","value":1},'
        '"error":"Unable to parse value to a number"},{"datapoint":{"metric":"b"},'
        '"error":"Missing tags"}]}'
    )
    e = raises(Rejected, response.classify, 400, body)
    assert e.success == 1
    assert len(e.failed) == 2
    assert e.failed[0][1] == {"metric": "a", "value": 1}
    assert "Missing tags" in str(e) and "2 point(s) refused" in str(e)


def test_opentsdb_error_object():
    body = '{"error":{"code":400,"message":"One or more data points had errors","details":"x"}}'
    e = raises(Rejected, response.classify, 400, body)
    assert "One or more data points had errors" in str(e)


def test_auth_is_not_drop_and_redacts_echo():
    body = 'cannot authorize request with auth tokens ["http_auth:Basic REVTQzpzM2NyZXQ="]'
    e = raises(AuthError, response.classify, 401, body, None, ["REVTQzpzM2NyZXQ=", "s3cret"])
    assert "REVTQzpzM2NyZXQ=" not in str(e) and "REVTQzpzM2NyZXQ=" not in e.body
    assert "token was rejected" in str(e)
    raises(AuthError, response.classify, 403, "")


def test_413_and_retryable():
    raises(TooLarge, response.classify, 413, "")
    e = raises(Retryable, response.classify, 429, "slow down", {"Retry-After": "7"})
    assert e.retry_after_s == 7 and "Retry-After: 7s" in str(e)
    e = raises(Retryable, response.classify, 503, "", {"retry-after": "Wed, 21 Oct 2015"})
    assert e.retry_after_s is None
    e = raises(ResponseError, response.classify, 404, "not found", url="http://h/api/put")
    assert type(e) is ResponseError and "/api/put" in str(e)
