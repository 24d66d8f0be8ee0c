"""Back-off policy values."""

from mpcompat import raises
from tspush.core.retry import Retry


def test_exponential_with_cap_no_jitter():
    r = Retry(backoff_s=1, factor=2, cap_s=10, jitter=0)
    assert [r.delay_s(a) for a in range(0, 7)] == [0.0, 1, 2, 4, 8, 10, 10]


def test_jitter_bounds_and_retry_after():
    r = Retry(backoff_s=10, factor=2, cap_s=100, jitter=0.5)
    assert r.delay_s(1, rand=lambda: 0.0) == 5.0
    assert r.delay_s(1, rand=lambda: 1.0) == 15.0
    assert r.delay_s(1, retry_after_s=60, rand=lambda: 0.5) == 60.0
    assert r.delay_s(1, retry_after_s=1, rand=lambda: 0.5) == 10.0
    d = r.delay_s(3)
    assert 20 <= d <= 60


def test_retry_after_is_capped_by_cap_s():
    # one hostile or broken answer must not stop a sender for years
    r = Retry(backoff_s=1, factor=2, cap_s=300, jitter=0.2)
    assert r.delay_s(1, retry_after_s=99999999999, rand=lambda: 0.5) == 300.0
    assert r.delay_s(1, retry_after_s=86400, rand=lambda: 0.5) == 300.0
    assert r.delay_s(1, retry_after_s=120, rand=lambda: 0.5) == 120.0
    assert r.delay_s(9, retry_after_s=10**30, rand=lambda: 1.0) <= 300.0 * 1.2


def test_bad_policy():
    raises(ValueError, Retry, -1)
    raises(ValueError, Retry, 1, 0.5)
    raises(ValueError, Retry, 1, 2, 10, 2)


def test_increment_returns_the_successor_and_leaves_the_value():
    r = Retry(backoff_s=1, factor=2, cap_s=10, jitter=0, auth_backoff_s=7)
    r2 = r.increment().increment()
    assert (r.attempt, r2.attempt) == (0, 2)
    assert r2.wait_s() == 2 and r.wait_s() == 0.0
    assert r2.wait_s(retry_after_s=5) == 5.0
    assert r2.auth_backoff_s == 7 and r2.cap_s == 10
    assert r2.reset().attempt == 0 and r.reset() is r
