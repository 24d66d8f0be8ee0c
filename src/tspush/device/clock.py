"""Unix time on the board: NTP or the server's ``Date:``, each port's epoch, and RTC eras.

ESP8266 and ESP32 count from 2000 (``time.gmtime(0)`` says 2000), rp2 and
unix from 1970: ``unix_s`` adds the difference, so what is sent is Unix time,
as an int (ESP8266 floats lose whole minutes at today's values).

A clock before 2024 is not set yet. The RTC keeps counting through deep
sleep and soft resets; a power cut restarts it from 2000. One such run is an
"era", named by a random id kept in RTC memory. A reading taken while the
clock is not set is stored with its era and raw RTC seconds; when the clock
is set in that era, ``offsets[era]`` (true time minus RTC time) is kept on
flash, and ``stamp`` gives such readings their true time just before they
are sent. A reading whose era ended (power lost) before any sync has no
knowable time: it is never sent, and counted.
"""

from tspush.core.errors import words
from tspush.device import ticks

try:
    from micropython import const  # a private const name is not interned (RAM)
except ImportError:  # CPython
    const = int

EPOCH_2000_S = 946684800
_MIN_VALID_S = const(1704067200)  # 2024-01-01: anything before means "never set"


class Clock:
    """``time_fn`` (raw RTC seconds) and ``ntp`` (``ntptime``) are arguments for tests."""

    def __init__(self, ntp=None, host="pool.ntp.org", every_s=3600, time_fn=None, offset_s=None):
        import time

        self.ntp = ntp
        self.host = host
        self.every_s = every_s
        self.time_fn = time_fn
        if offset_s is None:  # ESP8266 and ESP32 count from 2000
            offset_s = EPOCH_2000_S if time.gmtime(0)[0] == 2000 else 0
        self.offset_s = offset_s
        self.last_sync_ms = None
        self.synced = False
        self.failures = 0
        self.era = ""
        self.offsets = {}  # era -> true Unix seconds minus raw RTC seconds
        self.lost = 0  # readings whose time cannot be known

    def raw_s(self):
        t = self.time_fn() if self.time_fn is not None else ticks.rtc_ms() // 1000
        return int(t)

    def unix_s(self):
        """Unix seconds as an int, or None while the clock is not set."""
        t = self.raw_s() + self.offset_s
        return t if t >= _MIN_VALID_S else None

    def valid(self):
        return self.unix_s() is not None

    def due(self):
        """NTP again: every ``every_s``; after failures, 5 s doubling up to ``every_s``."""
        if self.ntp is None or not self.host:
            return False
        if self.last_sync_ms is None:
            return True
        wait_s = self.every_s
        if self.failures:
            wait_s = min(wait_s, 5 << min(self.failures - 1, 16))
        return ticks.ticks_diff(ticks.ticks_ms(), self.last_sync_ms) >= wait_s * 1000

    def sync(self, log=None):
        """Ask NTP once; True when the clock is now valid. Never raises for network trouble."""
        if self.ntp is None or not self.host:
            return self.valid()
        before = self.raw_s()
        self.last_sync_ms = ticks.ticks_ms()
        try:
            self.ntp.host = self.host
            self.ntp.settime()
        except (OSError, OverflowError, IndexError) as e:
            self.failures += 1
            if log is not None:
                wait_s = min(self.every_s, 5 << min(self.failures - 1, 16))
                more = "" if self.valid() else log.text(48)  # "; readings wait on flash..."
                log.say(47, (self.host, e, wait_s, more))  # warning: NTP ... did not answer
            return self.valid()
        self.failures = 0
        self._set(before, "NTP " + self.host, log)
        return self.valid()

    def set_from_date(self, value, log=None, machine=None):
        """Set the RTC from an HTTP ``Date:`` header (the relay's clock) when NTP failed."""
        w = (value or "").split()  # Thu, 03 Dec 2026 21:00:00 GMT
        if len(w) != 6 or w[5] != "GMT" or machine is None:
            return False
        before = self.raw_s()
        try:
            h, mi, s = [int(x) for x in w[4].split(":")]
            m = "JanFebMarAprMayJunJulAugSepOctNovDec".find(w[2]) // 3 + 1
            if m < 1:
                return False
            machine.RTC().datetime((int(w[3]), m, int(w[1]), 0, h, mi, s, 0))
        except (AttributeError, OSError, ValueError, TypeError):
            return False
        self._set(before, words(49, value), log)  # the server's Date header (...)
        return self.valid()

    def _set(self, before, source, log):
        was = self.synced or before + self.offset_s >= _MIN_VALID_S
        self.synced = True
        now = self.unix_s()
        if now is None:
            return
        if not was and self.era and self.era not in self.offsets:
            self.offsets[self.era] = now - before
        if log is not None:
            log.line("time: %d, set by %s" % (now, source))

    def stamp(self, records):
        """Give stored readings taken before the clock was set their time: ``(records, lost)``.

        Such a record is ``@ERA RAW {json}``; the others pass unchanged. ``lost``
        are ``(json, reason)`` pairs: their era ended before any sync.
        """
        for r in records:  # the usual batch holds none: given back as it is, no copy made
            if r[:1] == b"@":
                break
        else:
            return records, []
        out = []
        lost = []
        for r in records:
            if r[:1] != b"@":
                out.append(r)
                continue
            era, raw, js = bytes(r[1:]).split(b" ", 2)
            off = self.offsets.get(era.decode())
            if off is None:
                lost.append((js, words(67, raw.decode())))  # taken at RTC ... s before a power cut
                continue
            out.append(('{"timestamp":%d,' % (int(raw) + off)).encode() + js[1:])
        self.lost += len(lost)
        return out, lost

    def load(self, path):
        import json

        try:
            f = open(path)
            try:
                self.offsets = json.loads(f.read())
            finally:
                f.close()
        except (OSError, ValueError):
            self.offsets = {}

    def save(self, path):
        import json

        from tspush.core.spool import write_atomic

        keys = list(self.offsets)
        for k in keys[:-8]:  # a few eras: readings older than that are long gone
            if k != self.era:
                del self.offsets[k]
        write_atomic(path, json.dumps(self.offsets).encode())
