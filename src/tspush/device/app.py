"""The board's loop: sample on a fixed schedule, store, join Wi-Fi and push every N samples.

What the original sketch did (banner, Wi-Fi dots, ``POST host/api/put``,
``http: 204``, every 10 s), plus what it lacked: every reading on flash at
once, with its true time (NTP, or the server's ``Date:``; readings taken
before the clock is set are dated from their RTC era, see ``clock``), a
re-join when Wi-Fi drops, back-off, deep sleep, a watchdog fed by every
wait, and readings taken on schedule even while Wi-Fi joins (``feed``). A
failing sensor is counted and skipped, never a reset. The TLS mode is
stated at every boot, and never silently insecure.

Hardware modules (``network``, ``ntptime``, ``machine``) are arguments so
the very same code runs under the MicroPython unix port with test shims.
"""

import gc
import sys

from tspush.core import errors
from tspush.core.auth import redact
from tspush.core.errors import TspushError, words
from tspush.device import ticks

try:
    from micropython import const  # a private const name is not interned (RAM)
except ImportError:  # CPython
    const = int

_MAX_SLEEP_S = const(70 * 60)  # the ESP8266's RTC overflows at about 71 minutes
_RESTART_S = const(30)  # slow enough to reach the REPL, never a tight crash loop
_MIN_VALID_S = const(1704067200)  # 2024-01-01: a clock before it was never set
# Line numbers in core/says.py (the rarer log lines, read from flash when needed)
_S_RST = const(1)
_S_BOOT = const(2)
_S_TLS0 = const(3)
_S_WD4 = const(4)
_S_LEFT = const(5)
_S_CFG = const(6)
_S_KEPT = const(7)
_S_MREST = const(8)
_S_MSP = const(9)
_S_RAM = const(10)
_S_WD = const(11)
_S_WDNO = const(12)
_S_MISS = const(13)
_S_WIRE = const(14)
_S_SENS = const(15)
_S_DROP = const(16)
_S_WRF = const(17)
_S_LOST = const(18)
_S_NTP = const(19)
_S_NODATE = const(20)
_S_ASKT = const(21)
_S_UNSET = const(22)
_S_RTC = const(23)
_S_CUT = const(24)
_S_LSF = const(25)
_S_SLEEP = const(26)
_S_MEM = const(27)
_S_MEND = const(28)
_S_FIX = const(29)
_S_START = const(30)
_S_AGAIN = const(31)


class App:
    def __init__(self, cfg, log, network=None, ntp=None, machine=None, config_path="config.json"):
        self.cfg = cfg
        self.log = log
        self.network = network
        if ntp is None:  # firmware modules (C on a board); absent on some ports
            try:
                ntp = __import__("ntptime")
            except ImportError:
                pass
        if machine is None:
            try:
                machine = __import__("machine")
            except ImportError:
                pass
        self.ntp = ntp
        self.machine = machine
        self.config_path = config_path
        self.started_ms = ticks.ticks_ms()
        self.next_ms = self.started_ms  # when the next reading is due: a fixed schedule
        self.wdt = None
        self.cycle = 0
        self.st = {}  # kept in RTC memory: era, cycle, next wake
        self.sensor_errors = {}  # sensor name -> errors so far
        self.missed = 0  # reading times skipped because the board was busy too long
        self.memory_errors = 0
        self.pusher = None  # made at the first push (link): a board at rest holds none of it
        # (and self.wifi, made with it: the Wi-Fi object and its module)

    # -- set-up ---------------------------------------------------------------

    def setup(self):
        # The modules first (main() loaded most already), then the spool: the transient
        # blocks of its opening (256-byte reads) and of the lines below come after them.
        cfg = self.cfg
        log = self.log
        from tspush.core import spool as spool_mod
        from tspush.core.http import split_url
        from tspush.device import sensors, state

        spool = None
        if cfg["spool_dir"]:
            try:
                spool = spool_mod.Spool(
                    cfg["spool_dir"],
                    outputs=("board",),
                    max_bytes=cfg["spool_max_bytes"],
                    segment_bytes=cfg["spool_segment_bytes"],
                    max_age_s=0,  # the board's clock may jump at the first NTP answer
                    clock=lambda: getattr(self, "clock").unix_s() or 0,  # (made below)
                )
            except TspushError as e:
                log.fail(e, log.text(_S_MSP))
                log.say(_S_RAM)
        # A collection between the steps of set-up: the next step's long-lived blocks fill
        # the holes the last one's short-lived blocks left, instead of going above them and
        # leaving holes behind (measured: 0.7 KiB less need at rest, about 1 KiB per push,
        # docs/benchmarks.md; a few ms each on an ESP8266, once a boot).
        gc.collect()
        try:  # why the board started: by name, so a watchdog reset is not a mystery
            code = self.machine.reset_cause()
            why = "code %s" % code
            for entry in log.text(_S_RST).split("|"):  # the causes' names, from flash
                name, _, words = entry.partition(":")
                if getattr(self.machine, name, None) == code:
                    why = "%s (%s)" % (name, words)
                    break
            log.say(_S_BOOT, why)
        except AttributeError:
            pass
        tls, host, port, path = split_url(cfg["url"])
        opts = {}
        if tls:  # loaded for https only: a relay client (ESP8266) interns none of its names
            opts = ticks.need("tspush.device.tlsmode tls_options")(cfg, log)
            opts["min_free_bytes"] = ticks.need("tspush.device.tlsmode min_free")(cfg)
        else:
            log.say(_S_TLS0, host)
            # no TLS records to fill: a smaller buffer is found more easily in a fragmented heap
            opts["buf_bytes"] = 512
        secs = cfg["watchdog_s"]
        wdt_cls = getattr(self.machine, "WDT", None) if secs else None
        if wdt_cls is not None:
            try:
                timeout_ms = 5000 if ticks.port == "esp8266" else secs * 1000
                self.wdt = wdt_cls(timeout=timeout_ms)
                log.say(_S_WD, timeout_ms // 1000)
            except (OSError, ValueError, TypeError) as e:
                log.say(_S_WDNO, e)
        timeout_s = cfg["timeout_s"]
        if self.wdt is not None and ticks.port == "esp8266" and timeout_s > 4:
            timeout_s = 4
            log.say(_S_WD4)
        self.link_args = (host, port, tls, timeout_s, opts, path)
        if not tls:  # (made again at the first push)
            _forget("tspush.core", "http")
        gc.collect()
        self.clock = clock = Clock(self.ntp, cfg["ntp_host"], cfg["ntp_every_s"])
        st = self.st = state.load()
        # A new RTC run ("era") at power-on, where RTC memory comes back empty; without RTC
        # memory (rp2, unix) the count cannot be proven to have run on: a new one each boot.
        if not st.get("era") or state._rtc() is None:
            import binascii
            import os

            st["era"] = binascii.hexlify(os.urandom(4)).decode()
            st.pop("next", None)
        clock.era = st["era"]
        self.sensor_errors = st.setdefault("errs", {})  # counted on through deep sleep
        state.save(st)
        _forget("tspush.device", "state")  # deep sleep imports it again; its RAM is back
        gc.collect()
        self.sensors, problems = sensors.build(
            cfg["sensors"], {"app": self, "started_ms": self.started_ms}
        )
        for p in problems:
            log.say(_S_LEFT, p)
        self.buffer = Buffer(cfg["queue_max"], spool)
        if self.buffer.spool is not None:
            clock.load(cfg["spool_dir"] + "/eras.json")
        if tls:  # the connection now, while holes are few: the handshake wants large blocks
            self.link()
        log.say(_S_CFG, (len(self.sensors), cfg["interval_s"], cfg["wifi_every"], host, path))
        if self.buffer.spool is not None:
            n = self.buffer.spool.pending("board")
            if n:
                log.say(_S_KEPT, n)
        gc.collect()
        if hasattr(gc, "mem_free"):
            log.say(_S_MREST, (getattr(gc, "mem_free")(), getattr(gc, "mem_alloc")()))

    def link(self):
        """Wi-Fi, the connection and its ``Pusher``, made at the first push (a TLS board: at
        set-up): a relay board at rest holds none of them (4.4 KiB, docs/benchmarks.md)."""
        p = self.pusher
        if p is None:
            from tspush.core.http import Connection
            from tspush.device.push import Pusher
            from tspush.device.wifi import Wifi

            if getattr(self, "wifi", None) is None:
                self.wifi = Wifi(self.cfg, self.log, self.network, self.feed, self.config_path)
            host, port, tls, timeout_s, opts, path = self.link_args
            conn = Connection(host, port, tls, timeout_s=timeout_s, **opts)
            conn.idle = self.feed  # a slow server: readings stay on schedule, the watchdog fed
            p = Pusher(self.cfg, self.log, conn, path)
            p.prepare = self.clock.stamp
            self.pusher = p
        return p

    def feed(self):
        """Called by every wait (Wi-Fi, setup page): feed the watchdog, take a reading when due."""
        if self.wdt is not None:
            self.wdt.feed()
        if self.due():
            self.sample()

    def due(self):
        if self.cfg["cycles"] and self.cycle >= self.cfg["cycles"]:
            return False
        return ticks.ticks_diff(ticks.ticks_ms(), self.next_ms) >= 0

    def nap(self, ms):
        """Sleep ``ms``, feeding the watchdog at least every second."""
        while ms > 0:
            step = 1000 if ms > 1000 else ms
            ticks.sleep_ms(step)
            ms -= step
            if self.wdt is not None:
                self.wdt.feed()

    # -- one cycle ------------------------------------------------------------

    def sample(self):
        """Read every sensor at its slot; a failing one is counted, logged and skipped."""
        every_ms = int(self.cfg["interval_s"] * 1000)
        late_ms = ticks.ticks_diff(ticks.ticks_ms(), self.next_ms)
        skip = late_ms // every_ms if late_ms > 0 else 0
        self.next_ms = ticks.ticks_add(self.next_ms, (skip + 1) * every_ms)
        if skip:
            self.missed += skip
            self.log.say(_S_MISS, (skip, late_ms))
        self.cycle += 1  # first: a cycle that fails still counts (no endless retry loop)
        clock = self.clock
        ts = clock.unix_s()
        raw = clock.raw_s()
        tags = self.cfg["tags"]
        points = []  # (metric, value, tags): core.point is loaded only to explain a bad one
        for s in self.sensors:
            try:
                readings = s.read()
            except Exception as e:  # drivers raise plain Exception ("checksum error")
                n = self.sensor_errors.get(s.name, 0) + 1
                self.sensor_errors[s.name] = n
                why = str(e)
                if not isinstance(e, TspushError):
                    why = self.log.text(_S_WIRE, (s.name, e, type(e).__name__))
                self.log.say(_S_SENS, (why, n))
                t = dict(tags)
                # the name as an OpenTSDB tag value: "DHT22 on pin 4" -> "DHT22_on_pin_4"
                t["sensor"] = "".join(
                    c if c.isalpha() or c.isdigit() or c in "-_./" else "_" for c in s.name
                )
                points.append(("board.sensor_errors", n, t))
                continue
            for r in readings:
                t = tags
                if len(r) > 2:
                    t = dict(tags)
                    t.update(r[2])
                err = _bad(r[0], r[1], ts, t)
                if err is not None:
                    self.log.say(_S_DROP, (s.name, err))
                    continue
                points.append((r[0], r[1], t))
        self.store(points, ts, raw)
        return points

    def store(self, points, ts, raw):
        """To flash at once, one append per cycle; before the clock is set, with era + RTC time."""
        sp = self.buffer.spool
        if sp is None:  # RAM only: Points, stamped when the clock is set
            pt = ticks.need("tspush.core.point Point")
            self.buffer.add([pt(p[0], p[1], ts, p[2]) for p in points], raw)
            return
        head = b"" if ts is not None else ("@%s %d " % (self.clock.era, raw)).encode()
        for _ in (1, 2):  # out of memory: free what can be freed, and once more
            try:
                recs = []  # (a loop: a comprehension is one more function held in RAM)
                for p in points:
                    recs.append(head + record(p[0], p[1], ts, p[2]))
                sp.append_records(recs)
                return
            except (MemoryError, TspushError, OSError) as e:
                err = e
                if not isinstance(e, MemoryError):
                    break
                self.memory_errors += 1
                if self.pusher is not None:
                    self.pusher.conn.close()  # a kept TLS session holds its buffers
                gc.collect()
        self.buffer.dropped += len(points)
        self.log.fail(err, self.log.text(_S_WRF))
        self.log.say(_S_LOST, len(points))

    def push(self):
        """Join, set the clock if needed, send what waits; never a reading without its time."""
        log = self.log
        clock = self.clock
        gc.collect()
        p = self.link()  # first: its long-lived blocks before the join's short-lived ones
        if not self.wifi.ensure():
            return
        if clock.due():
            clock.sync(log)
        if not clock.valid():  # NTP is blocked on many LANs: the server's Date: will do
            log.say(_S_NTP)
            try:
                resp = p.conn.request("HEAD", p.path)
                if not clock.set_from_date(resp.headers.get("date"), log, self.machine):
                    log.say(_S_NODATE)
            except TspushError as e:
                log.fail(e, log.text(_S_ASKT))
        if not clock.valid():
            log.say(_S_UNSET, self.buffer.pending())
            return
        if clock.era in clock.offsets and self.st.get("saved") != clock.era:
            if self.buffer.spool is not None:
                clock.save(self.cfg["spool_dir"] + "/eras.json")
            self.st["saved"] = clock.era
            off = clock.offsets[clock.era]
            n = self.buffer.stamp(off)
            log.say(_S_RTC, (off, " (%d in RAM)" % n if n else ""))
        lost = clock.lost
        gc.collect()
        p.push(self.buffer)
        _forget("tspush.core", "answer")  # the delivery engine: its RAM is back till next push
        if clock.lost > lost:
            log.say(_S_CUT, (clock.lost - lost, clock.lost))
        sp = self.buffer.spool
        n = self.buffer.dropped + (sp.dropped("board") if sp is not None else 0)
        if n:
            log.say(_S_LSF, n)
        if self.cfg["wifi_every"] > 1 and not self.cfg["deep_sleep"]:
            # Joining only every N samples: the radio sleeps in between (power).
            p.conn.close()
            self.wifi.off()

    def run_cycle(self):
        """One reading now, then the network part when it is this cycle's turn."""
        self.next_ms = ticks.ticks_ms()
        before = self.cycle
        self.sample()
        n = self.cfg["wifi_every"]
        last = self.cfg["cycles"] and self.cycle >= self.cfg["cycles"]
        if self.cycle // n != before // n or last:
            self.push()

    def sleep(self):
        """Until the next reading is due: deep sleep (RTC keeps the schedule), or naps."""
        cfg = self.cfg
        left_ms = ticks.ticks_diff(self.next_ms, ticks.ticks_ms())
        if left_ms <= 0:  # a reading is due already (a long join): no sleep at all
            return
        if cfg["deep_sleep"] and self.machine is not None and hasattr(self.machine, "deepsleep"):
            from tspush.device import state

            if left_ms > _MAX_SLEEP_S * 1000:
                left_ms = _MAX_SLEEP_S * 1000
            self.st["cycle"] = self.cycle
            self.st["next"] = ticks.rtc_ms() + left_ms
            state.save(self.st)
            if self.buffer.spool is not None:
                self.buffer.spool.close()
            self.log.say(_S_SLEEP, left_ms)
            wifi = getattr(self, "wifi", None)
            if wifi is not None:
                wifi.off()
            self.machine.deepsleep(left_ms)
        self.nap(left_ms)

    def run(self):
        self.setup()
        cfg = self.cfg
        if cfg["deep_sleep"]:
            self.cycle = self.st.get("cycle", 0)
            wake = self.st.get("next")
            if wake is not None:  # the schedule lives on in the RTC through deep sleep
                d = wake - ticks.rtc_ms()
                if -10 * cfg["interval_s"] * 1000 < d < _MAX_SLEEP_S * 1000:
                    self.next_ms = ticks.ticks_add(ticks.ticks_ms(), d)
        pushed = self.cycle
        n = cfg["wifi_every"]
        while True:
            try:
                if self.due():
                    self.sample()
                last = cfg["cycles"] and self.cycle >= cfg["cycles"]
                if self.cycle // n != pushed // n or last:
                    pushed = self.cycle
                    self.push()
            except MemoryError as e:
                # Count it, free what a kept TLS session holds, halve the batches; the
                # readings taken are on flash already (or in RAM without a spool).
                self.memory_errors += 1
                self.log.fail(e, "running cycle %d" % self.cycle)
                p = self.pusher
                if p is not None:  # (else it ran out while making it: nothing to halve yet)
                    p.conn.close()
                    p.max_points = max(1, p.max_points // 2)
                gc.collect()
                n = p.max_points if p is not None else cfg["max_points"]
                self.log.say(_S_MEM, (self.memory_errors, n))
            if cfg["cycles"] and self.cycle >= cfg["cycles"]:
                break
            self.sleep()
        if self.buffer.spool is not None:
            self.buffer.spool.close()
        gc.collect()
        if hasattr(gc, "mem_free"):
            self.log.say(_S_MEND, (getattr(gc, "mem_free")(), getattr(gc, "mem_alloc")()))
        p = self.pusher
        self.log.line(
            "done: %d cycle(s), %d point(s) sent, %d waiting, %d bytes written"
            % (self.cycle, p.sent if p else 0, self.buffer.pending(), p.conn.sent_bytes if p else 0)
        )
        return self


EPOCH_2000_S = 946684800


class Clock:
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

    ``time_fn`` (raw RTC seconds) and ``ntp`` (``ntptime``) are arguments for tests.
    (Here, not in a module of its own: a module costs a board about 250 bytes of heap
    before its contents.)
    """

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


# Exception ``reason`` -> the words the log uses: one string, read on failure only
# (a dict of short strings would hold RAM and intern a dozen names on a board).
CAUSES = (
    "dns:DNS|connect:connect|timeout:timeout|tls:TLS|pin-mismatch:pin mismatch|"
    "protocol:bad HTTP answer|token-rejected:token rejected|retryable:server error|"
    "rejected:points rejected|too-large:body too large|server:server error|"
    "out-of-memory:out of memory|network:network"
)


def cause_of(e):
    """The short cause name of an exception, for the log and for counters."""
    if isinstance(e, MemoryError):
        return "out of memory"
    reason = getattr(e, "reason", None)
    if isinstance(reason, str):
        for entry in CAUSES.split("|"):
            key, _, words = entry.partition(":")
            if key == reason:
                return words
    if isinstance(e, OSError):
        return "network"
    return "error"


class Log:
    """The serial log, in the spirit of the original sketch, with named causes.

    A person watching ``tspush monitor`` sees the banner, the Wi-Fi dots,
    ``IP address: ...``, ``POST host/api/put``, ``http: 204``; failures say
    which cause (DNS, connect, TLS, pin mismatch, token rejected, server error,
    out of memory) and what to check, instead of a bare negative number. Every
    line goes through ``auth.redact``: the token is never printed. Lines go to
    ``out`` (``print`` on the board). (Here, not in a module of its own: a
    module costs a board about 250 bytes of heap before its contents.)
    """

    def __init__(self, secrets=(), out=None):
        self.secrets = list(secrets)
        self.out = out or print
        self._dots = False

    def line(self, text):
        if self._dots:
            self._dots = False
            self.out("")
        self.out(redact(str(text), self.secrets))

    def dot(self):
        self._dots = True
        try:
            self.out(".", end="")
        except TypeError:
            self.out(".")

    def banner(self, version, board):
        self.line("")
        self.line("IOT Metrics with tspush %s on %s" % (version, board))

    def ip(self, addr):
        self.line("IP address: %s" % addr)

    def post(self, host, path, n_points, n_bytes):
        rule = "-" * 40
        self.line(rule)
        self.line("POST %s%s (%d points, %d bytes)" % (host, path, n_points, n_bytes))
        self.line(rule)

    def http(self, status, body=b""):
        self.line("http: %d" % status)
        if body:
            text = body.decode() if isinstance(body, (bytes, bytearray)) else str(body)
            self.line("response: %s" % text[:200])

    def fail(self, e, doing=""):
        cause = cause_of(e)
        where = (" while " + doing) if doing else ""
        self.line("error: %s%s: %s" % (cause, where, e))
        return cause

    def text(self, code, args=()):
        """Line ``code`` of ``core/says.py`` with ``args`` (``errors.words``)."""
        return words(code, args)

    def say(self, code, args=()):
        self.line(self.text(code, args))

    def warn(self, text):
        self.line("warning: %s" % text)


class Buffer:
    """Where readings wait: the flash spool, or without one (``spool_dir = ""``) a bounded
    RAM queue.

    With a spool (the normal case) every cycle's readings go to flash at once
    (``App.store``), in the agent's record format (``tspush.core.spool``); they
    survive reboot, power loss and deep sleep there, and ``device.push`` takes
    batches from it. Without one, readings wait in RAM with the raw RTC seconds
    of their reading, so they can be stamped when the clock is set; when RAM is
    full the oldest reading is dropped and counted; ``device.pushram`` sends
    them (loaded only then). (Here, not in a module of its own: a
    module costs a board about 250 bytes of heap before its contents.)
    """

    def __init__(self, queue_max=200, spool=None):
        self.queue_max = queue_max
        self.spool = spool
        self.points = []
        self.read_s = []
        self.dropped = 0

    def add(self, points, read_s):
        for p in points:
            self.points.append(p)
            self.read_s.append(read_s)
        over = len(self.points) - self.queue_max
        if over > 0:
            del self.points[:over]
            del self.read_s[:over]
            self.dropped += over

    def ram_count(self):
        return len(self.points)

    def pending(self):
        n = len(self.points)
        if self.spool is not None:
            n += self.spool.pending("board")
        return n

    def stamp(self, offset_s):
        """Readings taken before the clock was set hold raw RTC seconds: add the era's offset."""
        n = 0
        for i in range(len(self.points)):
            p = self.points[i]
            if p.ts is None:
                # a new Point (points are never changed), made without a new name (RAM)
                self.points[i] = p.__class__(p.metric, p.value, self.read_s[i] + offset_s, p.tags)
                n += 1
        return n


# Characters of a name every rule set takes (core.point's _ASCII_OK): such names
# need no JSON escaping. A name with any other character is judged by core.point.
NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./"


def _bad(metric, value, ts, tags):
    """None when the reading may be stored, else core.prepare's PointError saying why.

    The common case (plain names, a finite int or float) is decided here, so a
    relay board never loads core.point and its rule sets (RAM on an ESP8266).
    """
    ok = type(value) in (int, float) and value - value == 0  # not bool, NaN or infinite
    for name in (metric,) + tuple(tags) + tuple(tags.values()) if ok else ():
        if not isinstance(name, str) or not name:
            ok = False
            break
        for c in name:
            if c not in NAME_CHARS:
                ok = False
                break
    if ok:
        return None
    pt = ticks.need("tspush.core.point Point")(metric, value, ts, tags)
    try:  # the one prepare step every entry point takes
        ticks.need("tspush.core.prepare Preparer")().prepare(pt)
    except TspushError as e:
        return e
    return None


def record(metric, value, ts, tags):
    """The spool record of one checked reading: ``core.opentsdb.encode_point``'s bytes.

    A name that passed ``_bad`` on the fast path holds no character JSON escapes;
    any other is escaped by ``core.opentsdb`` (loaded for such names only).
    """
    names = (metric,) + tuple(tags) + tuple(tags.values())
    for name in names:
        for c in name:
            if c not in NAME_CHARS:
                pt = ticks.need("tspush.core.point Point")(metric, value, ts, tags)
                return ticks.need("tspush.core.opentsdb encode_point")(pt)
    t = ",".join('"%s":"%s"' % (k, tags[k]) for k in tags)
    v = repr(value) if isinstance(value, float) else str(value)
    if ts is None:
        return ('{"metric":"%s","value":%s,"tags":{%s}}' % (metric, v, t)).encode()
    return ('{"metric":"%s","timestamp":%d,"value":%s,"tags":{%s}}' % (metric, ts, v, t)).encode()


def _forget(package, name):
    """Drop a submodule so the GC can take its RAM back (the board imports it again if needed)."""
    sys.modules.pop(package + "." + name, None)
    try:
        delattr(sys.modules[package], name)
    except (KeyError, AttributeError):
        pass


def _complete(path):
    """``path`` as it is when deploy checked and completed it ("complete": true), else None."""
    import json

    try:
        f = open(path)
        try:
            cfg = json.loads(f.read())
        finally:
            f.close()
    except (OSError, ValueError):
        return None
    if isinstance(cfg, dict) and cfg.get("complete") is True:
        return cfg
    return None


def main(path="config.json", network=None, ntp=None, machine=None, wait_forever=True):
    """Entry point for ``main.py``: a config error is printed and waited on, not crash-looped."""
    from tspush import __version__

    # The modules a board's cycle needs, first, while the heap is whole: their long-lived
    # blocks (and the name pool's growth to 320 entries, one 2.3 KB block) lie together,
    # before the config's and the log's short-lived blocks cut the heap into holes. The
    # smallest heap that works fell by 0.75 KiB at rest and for a push (docs/benchmarks.md).
    # (Wi-Fi, core.http and device.push: at the first push, App.link.)
    from tspush.core import spool  # noqa: F401
    from tspush.device import sensors  # noqa: F401

    gc.collect()  # (see App.setup: long-lived blocks into the holes of short-lived ones)
    log = Log()
    chip = getattr(sys.implementation, "_machine", "")  # the board's name, as the banner says
    log.banner(__version__, sys.platform + (" (" + chip + ")" if chip else ""))
    try:
        cfg = _complete(path)
        if cfg is None:  # not as deploy wrote it: check it key by key, fill in defaults
            from tspush.device import config

            cfg = config.load(path)
            # The checks and defaults are not needed again: give their RAM back.
            _forget("tspush.device", "config")
            del config
        gc.collect()
    except errors.ConfigError as e:  # made at first use (core/errorkinds.py)
        log.line("config error: %s" % e)
        log.say(_S_FIX)
        while wait_forever:
            ticks.sleep_ms(60000)
            log.line("config error: %s" % e)
        return None
    from tspush.core.auth import secret_forms

    log = Log(secret_forms(cfg["token"] or None, cfg["user"]) + [cfg["password"]])
    gc.collect()
    if cfg["boot_delay_s"]:
        log.say(_S_START, cfg["boot_delay_s"])
        ticks.sleep_ms(cfg["boot_delay_s"] * 1000)
    app = App(cfg, log, network, ntp, machine, path)
    try:
        return app.run()
    except Exception as e:  # a bug or a broken driver: say it, then start afresh
        # ConfigError is made at first use (core/errorkinds.py): never with a full heap
        if not isinstance(e, MemoryError) and isinstance(e, errors.ConfigError):
            log.line("config error: %s" % e)
            while wait_forever:
                ticks.sleep_ms(60000)
                log.line("config error: %s" % e)
            return None
        log.line("crash: %s: %s" % (type(e).__name__, e))
        ticks.print_exception(e)
        reset = getattr(app.machine, "reset", None)
        if not wait_forever or reset is None:
            raise
        log.say(_S_AGAIN, _RESTART_S)
        app.nap(_RESTART_S * 1000)
        reset()
