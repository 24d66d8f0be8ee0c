"""Unix time on the board: NTP, each port's epoch, and points taken before sync.

ESP8266 and ESP32 count from 2000 (``time.gmtime(0)`` says 2000), rp2 and
unix from 1970: ``unix_s`` adds the difference, so what is sent is Unix time,
as an int (ESP8266 floats lose whole minutes at today's values).

A clock before 2024 is not set yet. Points read then carry the monotonic
``ticks_ms`` of their reading; ``stamp`` gives them a timestamp once NTP has
answered. If it never does, they go out without one, as the original's did,
and the server stamps them on arrival.
"""

from tspush.device import ticks

EPOCH_2000_S = 946684800
MIN_VALID_S = 1704067200  # 2024-01-01: anything before means "never set"


def epoch_offset_s(time_mod):
    return EPOCH_2000_S if time_mod.gmtime(0)[0] == 2000 else 0


class Clock:
    """``time_fn`` and ``ntp`` (the ``ntptime`` module) are arguments so tests pass their own."""

    def __init__(self, ntp=None, host="pool.ntp.org", every_s=3600, time_fn=None, offset_s=None):
        import time

        self.ntp = ntp
        self.host = host
        self.every_s = every_s
        self.time_fn = time_fn or time.time
        self.offset_s = epoch_offset_s(time) if offset_s is None else offset_s
        self.last_sync_ms = None
        self.synced = False
        self.failures = 0

    def unix_s(self):
        """Unix seconds as an int, or None while the clock is not set."""
        t = int(self.time_fn()) + self.offset_s
        return t if t >= MIN_VALID_S else None

    def valid(self):
        return self.unix_s() is not None

    def due(self):
        if self.ntp is None:
            return False
        if self.last_sync_ms is None:
            return True
        return ticks.ticks_diff(ticks.ticks_ms(), self.last_sync_ms) >= self.every_s * 1000

    def sync(self, log=None):
        """Ask NTP once; True when the clock is now valid. Never raises for network trouble."""
        if self.ntp is None:
            return self.valid()
        try:
            if self.host:
                self.ntp.host = self.host
            self.ntp.settime()
        except (OSError, OverflowError, IndexError) as e:
            self.failures += 1
            self.last_sync_ms = ticks.ticks_ms()
            if log is not None:
                log.warn("NTP %s did not answer (%s): timestamps wait" % (self.host, e))
            return self.valid()
        self.last_sync_ms = ticks.ticks_ms()
        self.synced = True
        if log is not None:
            log.line("time: %d (NTP %s)" % (self.unix_s() or 0, self.host))
        return self.valid()

    def stamp(self, points, read_ms):
        """Give each unstamped point ``now - age``; return how many were stamped."""
        now_s = self.unix_s()
        if now_s is None:
            return 0
        now_ms = ticks.ticks_ms()
        n = 0
        for i in range(len(points)):
            p = points[i]
            if p.ts is None:
                age_s = ticks.ticks_diff(now_ms, read_ms[i]) // 1000
                p.ts = now_s - age_s
                n += 1
        return n
