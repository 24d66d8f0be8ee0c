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
from tspush.core.errors import TspushError
from tspush.device import ticks

try:
    from micropython import const  # a private const name is not interned (RAM)
except ImportError:  # CPython
    const = int

_MAX_SLEEP_S = const(70 * 60)  # the ESP8266's RTC overflows at about 71 minutes
_RESTART_S = const(30)  # slow enough to reach the REPL, never a tight crash loop
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


def _module(name):
    try:
        return __import__(name)
    except ImportError:
        return None


class App:
    def __init__(self, cfg, log, network=None, ntp=None, machine=None, config_path="config.json"):
        self.cfg = cfg
        self.log = log
        self.network = network
        self.ntp = ntp if ntp is not None else _module("ntptime")
        self.machine = machine if machine is not None else _module("machine")
        self.config_path = config_path
        self.started_ms = ticks.ticks_ms()
        self.next_ms = self.started_ms  # when the next reading is due: a fixed schedule
        self.wdt = None
        self.cycle = 0
        self.st = {}  # kept in RTC memory: era, cycle, next wake
        self.sensor_errors = {}  # sensor name -> errors so far
        self.missed = 0  # reading times skipped because the board was busy too long
        self.memory_errors = 0

    # -- set-up ---------------------------------------------------------------

    def setup(self):
        # The spool first: its module is the largest and opening it reads the flash in
        # pieces of 2 KiB; the heap is not yet cut up by the other modules.
        spool = self._spool()
        from tspush.core.http import Connection, split_url
        from tspush.device import sensors, state
        from tspush.device.buffer import Buffer
        from tspush.device.clock import Clock
        from tspush.device.push import Pusher
        from tspush.device.wifi import Wifi

        cfg = self.cfg
        log = self.log
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
        self._watchdog()
        timeout_s = cfg["timeout_s"]
        if self.wdt is not None and ticks.port == "esp8266" and timeout_s > 4:
            timeout_s = 4
            log.say(_S_WD4)
        conn = Connection(host, port, tls, timeout_s=timeout_s, **opts)
        conn.idle = self.feed  # a slow server: readings stay on schedule, the watchdog fed
        self.wifi = Wifi(cfg, log, self.network, self.feed, self.config_path)
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
        self.sensors, problems = sensors.build(
            cfg["sensors"], {"wifi": self.wifi, "started_ms": self.started_ms}
        )
        for p in problems:
            log.say(_S_LEFT, p)
        self.buffer = Buffer(cfg["queue_max"], spool)
        if self.buffer.spool is not None:
            clock.load(cfg["spool_dir"] + "/eras.json")
        self.pusher = Pusher(cfg, log, conn, path)
        self.pusher.prepare = clock.stamp
        log.say(_S_CFG, (len(self.sensors), cfg["interval_s"], cfg["wifi_every"], host, path))
        if self.buffer.spool is not None:
            n = self.buffer.spool.pending("board")
            if n:
                log.say(_S_KEPT, n)
        gc.collect()
        if hasattr(gc, "mem_free"):
            log.say(_S_MREST, (getattr(gc, "mem_free")(), getattr(gc, "mem_alloc")()))

    def _spool(self):
        d = self.cfg["spool_dir"]
        if not d:
            return None
        from tspush.core import spool

        try:
            return spool.Spool(
                d,
                outputs=("board",),
                max_bytes=self.cfg["spool_max_bytes"],
                segment_bytes=self.cfg["spool_segment_bytes"],
                max_age_s=0,  # the board's clock may jump at the first NTP answer
                clock=self._spool_clock,
            )
        except TspushError as e:
            self.log.fail(e, self.log.text(_S_MSP))
            self.log.say(_S_RAM)
            return None

    def _spool_clock(self):
        return self.clock.unix_s() or 0

    def _watchdog(self):
        secs = self.cfg["watchdog_s"]
        wdt_cls = getattr(self.machine, "WDT", None)
        if not secs or wdt_cls is None:
            return
        try:
            timeout_ms = 5000 if ticks.port == "esp8266" else secs * 1000
            self.wdt = wdt_cls(timeout=timeout_ms)
            self.log.say(_S_WD, timeout_ms // 1000)
        except (OSError, ValueError, TypeError) as e:
            self.log.say(_S_WDNO, e)

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
                sp.append_records([head + record(p[0], p[1], ts, p[2]) for p in points])
                return
            except (MemoryError, TspushError, OSError) as e:
                err = e
                if not isinstance(e, MemoryError):
                    break
                self.memory_errors += 1
                self.pusher.conn.close()  # a kept TLS session holds its buffers
                gc.collect()
        self.buffer.dropped += len(points)
        self.log.fail(err, self.log.text(_S_WRF))
        self.log.say(_S_LOST, len(points))

    def push(self):
        """Join, set the clock if needed, send what waits; never a reading without its time."""
        log = self.log
        clock = self.clock
        if not self.wifi.ensure():
            return
        if clock.due():
            clock.sync(log)
        if not clock.valid():  # NTP is blocked on many LANs: the server's Date: will do
            log.say(_S_NTP)
            try:
                resp = self.pusher.conn.request("HEAD", self.pusher.path)
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
        self.pusher.push(self.buffer)
        if clock.lost > lost:
            log.say(_S_CUT, (clock.lost - lost, clock.lost))
        sp = self.buffer.spool
        n = self.buffer.dropped + (sp.dropped("board") if sp is not None else 0)
        if n:
            log.say(_S_LSF, n)
        if self.cfg["wifi_every"] > 1 and not self.cfg["deep_sleep"]:
            # Joining only every N samples: the radio sleeps in between (power).
            self.pusher.conn.close()
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
            self.wifi.off()
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
                self.pusher.conn.close()
                gc.collect()
                p = self.pusher
                p.max_points = max(1, p.max_points // 2)
                self.log.say(_S_MEM, (self.memory_errors, p.max_points))
            if cfg["cycles"] and self.cycle >= cfg["cycles"]:
                break
            self.sleep()
        if self.buffer.spool is not None:
            self.buffer.spool.close()
        gc.collect()
        if hasattr(gc, "mem_free"):
            self.log.say(_S_MEND, (getattr(gc, "mem_free")(), getattr(gc, "mem_alloc")()))
        self.log.line(
            "done: %d cycle(s), %d point(s) sent, %d waiting, %d bytes written"
            % (self.cycle, self.pusher.sent, self.buffer.pending(), self.pusher.conn.sent_bytes)
        )
        return self


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
    from tspush.device.log import Log

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
    if cfg["boot_delay_s"]:
        log.say(_S_START, cfg["boot_delay_s"])
        ticks.sleep_ms(cfg["boot_delay_s"] * 1000)
    app = App(cfg, log, network, ntp, machine, path)
    try:
        return app.run()
    except errors.ConfigError as e:  # made at first use (core/errorkinds.py)
        log.line("config error: %s" % e)
        while wait_forever:
            ticks.sleep_ms(60000)
            log.line("config error: %s" % e)
        return None
    except Exception as e:  # a bug or a broken driver: say it, then start afresh
        log.line("crash: %s: %s" % (type(e).__name__, e))
        ticks.print_exception(e)
        reset = getattr(app.machine, "reset", None)
        if not wait_forever or reset is None:
            raise
        log.say(_S_AGAIN, _RESTART_S)
        app.nap(_RESTART_S * 1000)
        reset()
