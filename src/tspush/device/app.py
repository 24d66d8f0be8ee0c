"""The board's loop: sample, buffer, join Wi-Fi and push every N samples, sleep.

What the original sketch did (banner, Wi-Fi dots, ``POST host/api/put``,
``http: 204``, every 10 s), plus what it lacked: readings kept in RAM and
flash while the network or the server is down, timestamps from NTP, a
re-join when Wi-Fi drops, back-off, deep sleep, a watchdog. The TLS mode is
stated at every boot, and never silently insecure.

Hardware modules (``network``, ``ntptime``, ``machine``) are arguments so
the very same code runs under the MicroPython unix port with test shims.
"""

import gc
import sys

from tspush.core.errors import ConfigError, TspushError
from tspush.device import ticks

MAX_DEEP_SLEEP_S = 70 * 60  # the ESP8266's RTC overflows at about 71 minutes
AXTLS_MIN_FREE_BYTES = 20000
CRASH_RESTART_S = 30  # slow enough to reach the REPL, never a tight crash loop


def board_name():
    machine = getattr(sys.implementation, "_machine", "")
    return sys.platform + (" (" + machine + ")" if machine else "")


def read_ca(path):
    """The CA certificate(s) in ``path`` (DER, or PEM converted to DER): a list of DER."""
    import binascii

    f = open(path, "rb")
    try:
        data = f.read()
    finally:
        f.close()
    if not data.startswith(b"-----BEGIN"):
        return [data]
    out = []
    body = []
    inside = False
    for line in data.split(b"\n"):
        line = line.strip()
        if line.startswith(b"-----BEGIN CERTIFICATE"):
            inside = True
            body = []
        elif line.startswith(b"-----END CERTIFICATE"):
            inside = False
            out.append(binascii.a2b_base64(b"".join(body)))
        elif inside:
            body.append(line)
    if not out:
        raise ValueError("no CERTIFICATE block")
    return out


def tls_options(cfg, log, platform=None):
    """Connection keyword arguments for ``cfg``'s URL; says the TLS mode in the log."""
    from tspush.core.http import split_url

    platform = platform or sys.platform
    tls, host, _, _ = split_url(cfg["url"])
    if not tls:
        log.line("TLS: none: plain HTTP to %s (for a tspush serve relay on your LAN)" % host)
        return {}
    verify = cfg["tls_verify"]
    if verify == "none":
        log.warn(
            "TLS: the server's certificate is NOT verified (tls_verify=none): anyone on the "
            "path can read the token and the readings; use a CA or a relay"
        )
        return {"insecure": True}
    pins = []
    fps = cfg["fingerprint"]
    if fps:
        from tspush.core.fingerprint import parse

        for fp in fps if isinstance(fps, list) else [fps]:
            pins.append(parse(fp, "fingerprint"))
    if verify == "pin":
        log.line("TLS: server accepted only with the pinned certificate (%d pin(s))" % len(pins))
        return {"pins": pins}
    if platform == "esp8266":
        raise ConfigError(
            "the ESP8266's TLS (axTLS) cannot verify a certificate: push over http:// to a "
            "'tspush serve' relay on your LAN, or set tls_verify to none (insecure)",
            "tls_verify",
        )
    try:
        ca = read_ca(cfg["tls_ca"])
    except (OSError, ValueError) as e:
        raise ConfigError(
            "%s cannot be read (%s): copy the CA certificate there (tspush deploy does)"
            % (cfg["tls_ca"], e),
            "tls_ca",
        )
    extra = " and %d pin(s)" % len(pins) if pins else ""
    log.line("TLS: verify the server with CA %s%s" % (cfg["tls_ca"], extra))
    return {"ca_der": ca, "pins": pins}


def _tls_min_free(cfg):
    """axTLS (ESP8266) crashes the board when the heap runs out; mbedTLS raises MemoryError."""
    if cfg["tls_min_free_bytes"]:
        return cfg["tls_min_free_bytes"]
    return AXTLS_MIN_FREE_BYTES if sys.platform == "esp8266" else 0


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
        self.wdt = None
        self.cycle = 0
        self.sensor_failures = 0
        self.never_synced_said = False

    # -- set-up ---------------------------------------------------------------

    def setup(self):
        from tspush.core.http import Connection, split_url
        from tspush.device import sensors
        from tspush.device.buffer import Buffer
        from tspush.device.clock import Clock
        from tspush.device.push import Pusher
        from tspush.device.wifi import Wifi

        cfg = self.cfg
        log = self.log
        opts = tls_options(cfg, log)
        tls, host, port, path = split_url(cfg["url"])
        conn = Connection(
            host,
            port,
            tls,
            timeout_s=cfg["timeout_s"],
            min_free_bytes=_tls_min_free(cfg) if tls else 0,
            **opts,
        )
        self.wifi = Wifi(cfg, log, self.network, self.feed, self.config_path)
        self.clock = Clock(self.ntp, cfg["ntp_host"], cfg["ntp_every_s"])
        self.sensors, problems = sensors.build(
            cfg["sensors"], {"wifi": self.wifi, "started_ms": self.started_ms}
        )
        for p in problems:
            log.line("sensor: left out: %s" % p)
        self.buffer = Buffer(cfg["queue_max"], self._spool())
        self.pusher = Pusher(cfg, log, conn, path)
        self._watchdog()
        log.line(
            "config: %d sensor(s), every %s s, push every %d sample(s) to %s%s"
            % (len(self.sensors), cfg["interval_s"], cfg["wifi_every"], host, path)
        )
        if self.buffer.spool is not None:
            n = self.buffer.spool.pending("board")
            if n:
                log.line("spool: %d reading(s) kept from before, to send" % n)
        gc.collect()
        if hasattr(gc, "mem_free"):
            log.line(
                "memory: %d bytes free, %d in use at rest"
                % (getattr(gc, "mem_free")(), getattr(gc, "mem_alloc")())
            )

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
            self.log.fail(e, "opening the spool")
            self.log.line("spool: readings are kept in RAM only")
            return None

    def _spool_clock(self):
        return self.clock.unix_s() or 0

    def _watchdog(self):
        secs = self.cfg["watchdog_s"]
        wdt_cls = getattr(self.machine, "WDT", None)
        if not secs or wdt_cls is None:
            return
        try:
            timeout_ms = 5000 if sys.platform == "esp8266" else secs * 1000
            self.wdt = wdt_cls(timeout=timeout_ms)
            self.log.line("watchdog: %d s" % (timeout_ms // 1000))
        except (OSError, ValueError, TypeError) as e:
            self.log.line("watchdog: not available (%s)" % e)

    def feed(self):
        if self.wdt is not None:
            self.wdt.feed()

    # -- one cycle ------------------------------------------------------------

    def sample(self):
        """Read every sensor; a failing one is reported and skipped."""
        from tspush.core.point import Point, check

        ts = self.clock.unix_s()
        now_ms = ticks.ticks_ms()
        tags = self.cfg["tags"]
        points = []
        for s in self.sensors:
            try:
                readings = s.read()
            except (TspushError, OSError, ValueError) as e:
                self.sensor_failures += 1
                # the message names the sensor and what to check (sensors.fail)
                self.log.line("sensor: skipped this cycle: %s" % e)
                continue
            for r in readings:
                t = tags
                if len(r) > 2:
                    t = dict(tags)
                    t.update(r[2])
                p = Point(r[0], r[1], ts, t)
                err = check(p)
                if err is not None:
                    self.log.line("sensor: %s: reading dropped: %s" % (s.name, err))
                    continue
                points.append(p)
        self.buffer.add(points, now_ms)
        return points

    def run_cycle(self):
        cfg = self.cfg
        log = self.log
        self.feed()
        self.cycle += 1  # first: a cycle that fails still counts (no endless retry loop)
        self.sample()
        last = cfg["cycles"] and self.cycle >= cfg["cycles"]
        if self.cycle % cfg["wifi_every"] and not last:
            return
        if not self.wifi.ensure():
            self.buffer.to_spool()
            return
        if self.clock.due():
            self.clock.sync(log)
        stamped = self.clock.stamp(self.buffer.points, self.buffer.read_ms)
        if stamped:
            log.line("time: stamped %d reading(s) taken before the clock was set" % stamped)
        unstamped = not self.clock.valid() and self.buffer.unstamped() > 0
        if unstamped and not self.never_synced_said:
            log.warn(
                "time: never synced: sending readings without timestamps (the server "
                "stamps them on arrival)"
            )
            self.never_synced_said = True
        self.buffer.to_spool(unstamped)
        gc.collect()
        self.pusher.push(self.buffer, unstamped)
        if self.buffer.dropped:
            log.line("buffer: %d oldest reading(s) dropped so far (RAM full)" % self.buffer.dropped)
        if cfg["wifi_every"] > 1 and not cfg["deep_sleep"]:
            # Joining only every N samples: the radio sleeps in between (power).
            self.pusher.conn.close()
            self.wifi.off()

    def sleep(self):
        cfg = self.cfg
        if cfg["deep_sleep"] and self.machine is not None and hasattr(self.machine, "deepsleep"):
            self.buffer.to_spool(True)
            from tspush.device import state

            state.save({"cycle": self.cycle})
            secs = cfg["interval_s"]
            if secs > MAX_DEEP_SLEEP_S:
                secs = MAX_DEEP_SLEEP_S
            self.log.line("sleep: deep sleep %d s" % secs)
            self.wifi.off()
            self.machine.deepsleep(int(secs * 1000))
        left_ms = int(cfg["interval_s"] * 1000)
        while left_ms > 0:
            step = 1000 if left_ms > 1000 else left_ms
            ticks.sleep_ms(step)
            left_ms -= step
            self.feed()

    def run(self):
        self.setup()
        if self.cfg["deep_sleep"]:
            from tspush.device import state

            self.cycle = state.load().get("cycle", 0)
        while True:
            try:
                self.run_cycle()
            except MemoryError as e:
                self.log.fail(e, "running a cycle")
                self.pusher.conn.close()  # a kept TLS session holds its buffers: free them
                gc.collect()
            if self.cfg["cycles"] and self.cycle >= self.cfg["cycles"]:
                break
            self.sleep()
        if self.buffer.spool is not None:
            self.buffer.to_spool(True)
            self.buffer.spool.close()
        gc.collect()
        if hasattr(gc, "mem_free"):
            self.log.line(
                "memory: %d bytes free, %d in use after the last cycle"
                % (getattr(gc, "mem_free")(), getattr(gc, "mem_alloc")())
            )
        self.log.line(
            "done: %d cycle(s), %d point(s) sent, %d waiting, %d bytes written"
            % (self.cycle, self.pusher.sent, self.buffer.pending(), self.pusher.conn.sent_bytes)
        )
        return self


def _forget(package, name):
    """Drop a submodule so the GC can take its RAM back (the board imports it again if needed)."""
    sys.modules.pop(package + "." + name, None)
    try:
        delattr(sys.modules[package], name)
    except (KeyError, AttributeError):
        pass


def main(path="config.json", network=None, ntp=None, machine=None, wait_forever=True):
    """Entry point for ``main.py``: a config error is printed and waited on, not crash-looped."""
    from tspush import __version__
    from tspush.device import config
    from tspush.device.log import Log

    log = Log()
    log.banner(__version__, board_name())
    try:
        cfg = config.load(path)
        # The checks and defaults are not needed again: give their RAM back.
        _forget("tspush.device", "config")
        del config
        gc.collect()
    except ConfigError as e:
        log.line("config error: %s" % e)
        log.line("fix config.json (tspush deploy, or mpremote); Ctrl-C gives the REPL")
        while wait_forever:
            ticks.sleep_ms(60000)
            log.line("config error: %s" % e)
        return None
    from tspush.core.auth import secret_forms

    log = Log(secret_forms(cfg["token"] or None, cfg["user"]) + [cfg["password"]])
    if cfg["boot_delay_s"]:
        log.line("starting in %d s (Ctrl-C for the REPL)" % cfg["boot_delay_s"])
        ticks.sleep_ms(cfg["boot_delay_s"] * 1000)
    app = App(cfg, log, network, ntp, machine, path)
    try:
        return app.run()
    except ConfigError as e:
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
        log.line("restarting in %d s (Ctrl-C for the REPL)" % CRASH_RESTART_S)
        ticks.sleep_ms(CRASH_RESTART_S * 1000)
        reset()
