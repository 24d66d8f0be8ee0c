"""Retry policy as a small value object, in the spirit of urllib3's ``Retry``.

``delay_s(attempt)`` grows ``backoff_s * factor**(attempt-1)``, capped at
``cap_s``, with up to ``jitter`` (a fraction) spread so many boards do not
hammer a server in step. A server's ``Retry-After`` wins when larger, but
never beyond ``cap_s``: one answer of ``Retry-After: 99999999999`` must not
stop a sender for years (nor overflow a thread's wait). The random source
is an argument so tests can pin it.

The value also counts consecutive failures (``attempt``); it is never
changed in place: ``increment()`` returns the successor, ``reset()`` the
value after a success, as urllib3's ``Retry.increment()`` does. ``wait_s(error=e)``
is how long a sender waits after the failure that stopped it (every sender:
``core.forward``, the board's ``device.push``).
"""


class Retry:
    """The policy and the count of consecutive failures; no __slots__ and no __repr__: on
    the board each costs RAM and buys nothing (MicroPython ignores __slots__)."""

    def __init__(
        self,
        backoff_s: float = 1.0,
        factor: float = 2.0,
        cap_s: float = 300.0,
        jitter: float = 0.2,
        auth_backoff_s: float = 300.0,
        attempt: int = 0,
    ):
        if backoff_s < 0 or factor < 1 or cap_s < 0 or not 0 <= jitter <= 1:
            raise ValueError(
                "retry: need backoff_s >= 0, factor >= 1, cap_s >= 0 and 0 <= jitter <= 1"
            )
        self.backoff_s = backoff_s
        self.factor = factor
        self.cap_s = cap_s
        self.jitter = jitter
        self.auth_backoff_s = auth_backoff_s
        self.attempt = attempt

    def increment(self, n: int = 1):
        """The state after one more failure (``n``: more), this value left as it is."""
        a = self.attempt + n
        return Retry(self.backoff_s, self.factor, self.cap_s, self.jitter, self.auth_backoff_s, a)

    def reset(self):
        """The state after a success: the same policy, no failures counted."""
        return self.increment(-self.attempt) if self.attempt else self

    def wait_s(self, retry_after_s=None, rand=None, error=None) -> float:
        """Seconds to wait now, after ``attempt`` consecutive failures; with ``error`` (what
        stopped a send, this value counting it): a rejected token waits ``auth_backoff_s``,
        anything else backs off, its ``Retry-After`` winning."""
        if error is not None:
            if error.reason == "token-rejected":  # AuthError, by its reason: no class to load
                return float(self.auth_backoff_s)
            retry_after_s = getattr(error, "retry_after_s", None)
        return self.delay_s(self.attempt, retry_after_s, rand)

    def delay_s(self, attempt: int, retry_after_s=None, rand=None) -> float:
        """Seconds to wait before try number ``attempt + 1`` (attempt >= 1)."""
        if attempt < 1:
            return 0.0
        d = self.backoff_s * (self.factor ** (attempt - 1))
        if d > self.cap_s:
            d = self.cap_s
        if self.jitter:
            if rand is None:
                import random

                rand = lambda: random.getrandbits(16) / 65536  # noqa: E731  (no module name)
            d = d * (1 - self.jitter + 2 * self.jitter * rand())
        if retry_after_s is not None and retry_after_s > d:
            d = float(retry_after_s)
            if d > self.cap_s:
                d = float(self.cap_s)
        return d
