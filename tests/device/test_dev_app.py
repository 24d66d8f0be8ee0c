"""The app's cycle with the shims: true time, fixed schedule, faults contained, port paths.

``Virtual`` replaces ``ticks``' clocks so the schedule tests do not depend on
this machine's speed: sleeping and slow sensors advance a counter.
"""

import shimpath  # noqa: F401  (first: the hardware shims)

# isort: split

import json

import dht
import ds18x20
import machine
import network
import ntptime

from tspush.core.httpread import Response
from tspush.device import config, ticks
from tspush.device.app import App
from tspush.device.clock import Clock
from tspush.device.log import Log


class Out:
    def __init__(self):
        self.text = ""

    def __call__(self, s="", end="\n"):
        self.text += s + end


class FakeConn:
    host = "10.0.0.2"
    sent_bytes = 0

    def __init__(self, date=None):
        self.bodies = []
        self.date = date
        self.heads = 0
        self.fail = None

    def request(self, method, path, body=b"", headers=None, body_len=None):
        if self.fail is not None:
            e = self.fail
            self.fail = None
            raise e
        if method == "HEAD":
            self.heads += 1
            return Response(405, "", {"date": self.date} if self.date else {}, b"", False)
        self.bodies.append(b"".join(body) if not isinstance(body, bytes) else body)
        return Response(204, "No Content", {}, b"", False)

    def close(self):
        pass


class FakeTime:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


class Virtual:
    """``ticks_ms``/``sleep_ms``/``rtc_ms`` on a counter; ``undo()`` puts the real ones back."""

    def __init__(self, rtc_ms=1790000000000):
        self.ms = 0
        self.rtc0 = rtc_ms
        self.saved = (ticks.ticks_ms, ticks.sleep_ms, ticks.rtc_ms)
        ticks.ticks_ms = lambda: self.ms
        ticks.sleep_ms = self.sleep
        ticks.rtc_ms = lambda: self.rtc0 + self.ms

    def sleep(self, ms):
        self.ms += ms

    def undo(self):
        ticks.ticks_ms, ticks.sleep_ms, ticks.rtc_ms = self.saved


def fresh_dir(name):
    import os

    base = "/tmp/tspush-devtest"
    d = base + "/" + name
    for x in (base, d):
        try:
            os.mkdir(x)
        except OSError:
            pass
    for f in os.listdir(d):
        os.remove(d + "/" + f)
    return d


def make_app(date=None, **cfg):
    network.reset()
    machine.reset_state()
    ntptime.state["fail"] = False
    base = {
        "url": "http://10.0.0.2:4242/api/put",
        "spool_dir": "",
        "interval_s": 1,
        "watchdog_s": 0,
        "wifi_timeout_s": 2,
        "provision": False,
    }
    base.update(cfg)
    out = Out()
    app = App(config.check(base), Log([], out), network, ntptime, machine)
    app.setup()
    conn = FakeConn(date)
    app.link().conn = conn  # (made at the first push otherwise)
    return app, conn, out


def test_a_relay_board_at_rest_holds_no_connection_sender_or_wifi():
    network.reset()
    machine.reset_state()
    cfg = {"url": "http://10.0.0.2:4242/api/put", "spool_dir": "", "provision": False}
    app = App(config.check(cfg), Log([], Out()), network, ntptime, machine)
    app.setup()
    assert app.pusher is None and getattr(app, "wifi", None) is None  # made at the first push
    p = app.link()
    assert app.link() is p and app.pusher is p  # made once, kept
    assert (p.conn.host, p.conn.port, p.conn.tls, p.path) == ("10.0.0.2", 4242, False, "/api/put")
    assert p.conn.buf_bytes == 512 and p.conn.idle is not None and app.wifi is not None


def sent(conn):
    out = []
    for b in conn.bodies:
        out += json.loads(b)
    return out


def test_no_reading_leaves_without_its_time_and_the_first_sync_dates_the_early_ones():
    for spool in ("", fresh_dir("early")):
        app, conn, out = make_app(spool_dir=spool)
        t = FakeTime(100)  # RTC seconds since power-on: the clock is not set
        app.clock = Clock(ntptime, "pool.ntp.org", 3600, time_fn=t, offset_s=0)
        app.clock.era = "e1"
        app.pusher.prepare = app.clock.stamp
        ntptime.state["fail"] = True
        app.run_cycle()
        t.t = 110
        app.run_cycle()
        assert conn.bodies == [] and conn.heads == 2  # nothing sent; asked for a Date twice
        assert "warning: NTP pool.ntp.org did not answer" in out.text
        assert "time: not set yet: 2 reading(s) wait with their RTC time" in out.text
        ntptime.state["fail"] = False
        t.t = 120
        ntptime.state["then"] = lambda: setattr(t, "t", 1790000120)
        app.clock.last_sync_ms -= 60000  # the back-off has passed
        try:
            app.run_cycle()
        finally:
            ntptime.state.pop("then")
        got = sorted(p["timestamp"] for p in sent(conn))
        assert got == [1790000100, 1790000110, 1790000120], (spool, got)
        assert "time: 1790000120, set by NTP pool.ntp.org" in out.text
        assert "readings taken before the clock was set get RTC time + 1790000000 s" in out.text


def test_the_servers_date_header_sets_the_clock_when_ntp_is_blocked():
    v = Virtual(rtc_ms=5000)  # the RTC 5 s after power-on
    try:
        app, conn, out = make_app(date="Thu, 03 Dec 2026 21:05:09 GMT", spool_dir=fresh_dir("date"))
        ticks.rtc_ms = machine.rtc_ms
        machine.power_on()
        ntptime.state["fail"] = True
        app.run_cycle()
    finally:
        ntptime.state["fail"] = False
        v.undo()
    assert "time: no NTP time; asking the server for its clock (Date header)" in out.text
    assert "set by the server's Date header (Thu, 03 Dec 2026 21:05:09 GMT)" in out.text
    ts = sent(conn)[0]["timestamp"]
    assert ts in (1796331908, 1796331909, 1796331910), ts


def test_readings_keep_a_fixed_schedule_while_wifi_rejoins_and_a_sensor_is_slow():
    v = Virtual()
    try:
        app, conn, out = make_app(interval_s=2, cycles=8, wifi_timeout_s=6)
        taken = []
        slow = app.sensors[0]
        real_read = slow.read

        def read():
            taken.append(v.ms)
            v.ms += 700  # a slow sensor: 0.7 s per reading
            return real_read()

        slow.read = read
        network.state["polls_to_join"] = 14  # the first join takes 7 s
        app.setup = lambda: None  # keep the patched sensor and the fake connection
        app.run()
    finally:
        v.undo()
    # On the 2 s grid: while joining, a reading waits at most one 0.5 s poll (+ 0.7 s for the
    # slow sensor before it); never drifting, never skipped.
    assert [t - 2000 * i for i, t in enumerate(taken)] == [0, 200, 400, 100, 300, 0, 0, 0], taken
    assert len(sent(conn)) == 8
    assert "sampling:" not in out.text  # no reading time missed


def test_deep_sleep_keeps_the_schedule_in_the_rtc():
    v = Virtual()
    try:
        app, conn, out = make_app(
            deep_sleep=True, interval_s=60, wifi_every=3, spool_dir=fresh_dir("ds")
        )
        v.ms = 1500  # booting took 1.5 s
        try:
            app.run()
            raise AssertionError("deepsleep did not happen")
        except SystemExit:
            pass
        st = json.loads(machine.state["rtc"])
        assert machine.state["deepsleep"] == [60000 - 1500]  # wakes on the 60 s grid
        assert st["cycle"] == 1 and st["next"] == v.rtc0 + 60000 and st["era"]
        assert app.buffer.spool.pending("board") == 0 or True
        # The next boot, 2 s late (the boot itself): it reads at once, then sleeps 58 s.
        rtc = machine.state["rtc"]
        network.reset()
        machine.reset_state(rtc=rtc, reset_cause=machine.DEEPSLEEP_RESET)
        v.ms = 0
        v.rtc0 += 62000
        out2 = Out()
        cfg = dict(app.cfg)
        app2 = App(cfg, Log([], out2), network, ntptime, machine)
        try:
            app2.run()
        except SystemExit:
            pass
    finally:
        v.undo()
    assert "boot: last reset: DEEPSLEEP_RESET (waking from deep sleep)" in out2.text
    assert machine.state["deepsleep"] == [58000], machine.state["deepsleep"]
    assert json.loads(machine.state["rtc"])["era"] == st["era"]  # same RTC run
    assert app2.buffer.spool.pending("board") == 2  # on flash, for the third wake


def test_readings_go_on_while_the_setup_page_waits():
    from tspush.device import portal

    app, conn, out = make_app(interval_s=1)
    before = app.cycle
    path = fresh_dir("portal") + "/config.json"
    cfg = {}
    assert not portal.run(
        network, path, app.log, 3, port=0, feed=app.feed, bind="127.0.0.1", cfg=cfg
    )
    assert app.cycle - before >= 2  # due readings taken from the page's wait loop
    assert app.buffer.ram_count() == app.cycle - before
    assert len(cfg["ap_password"]) == 12 and cfg["ap_password"] in out.text


def test_watchdog_fed_during_every_wait_and_the_esp8266_limit():
    v = Virtual()
    try:
        ticks.port = "esp8266"
        app, conn, out = make_app(watchdog_s=30, interval_s=12)
        app.run_cycle()
        app.sleep()
    finally:
        ticks.port = "linux"
        v.undo()
    assert machine.state["wdt"][0] == ("start", 5000)
    assert "watchdog: 5 s" in out.text
    assert (
        "network: connect and TLS waits cut to 4 s (the ESP8266 watchdog resets after 5 s)"
        in out.text
    )
    assert app.pusher.conn is conn
    feeds = [i for i in range(len(machine.state["wdt"])) if machine.state["wdt"][i] == "feed"]
    assert len(feeds) >= 12  # 12 s of sleep fed at least once a second
    ticks.port = "esp32"
    try:
        app, conn, out = make_app(watchdog_s=30)
    finally:
        ticks.port = "linux"
    assert machine.state["wdt"][0] == ("start", 30000)  # ESP32: as configured
    assert "waits cut" not in out.text


def test_sensor_errors_are_contained_counted_and_named():
    dht.state["fail"] = "checksum"
    ds18x20.state["fail"] = "crc"
    try:
        app, conn, out = make_app(
            cycles=3,
            tags={"room": "lab"},
            sensors=[
                {"type": "dht", "pin": 4},
                {"type": "ds18b20", "pin": 5},
                {"type": "constant"},
            ],
        )
        app.run_cycle()
        ds18x20.state["fail"] = "gone"
        app.run_cycle()
    finally:
        dht.state["fail"] = False
        ds18x20.state["fail"] = None
    assert machine.state["resets"] == 0
    assert "sensor: DHT22 on pin 4: bad reading (checksum error): check the data wire" in out.text
    assert (
        "sensor: DS18B20 on pin 5: bus error (Exception: CRC error): check the wiring" in out.text
    )
    assert "bus error (OneWireError: )" in out.text
    assert "this reading is skipped, the other sensors go on (2 error(s) so far)" in out.text
    pts = sent(conn)
    assert [p["value"] for p in pts if p["metric"] == "universe"] == [42, 42]
    errs = [(p["tags"]["sensor"], p["value"]) for p in pts if p["metric"] == "board.sensor_errors"]
    assert sorted(errs) == [
        ("DHT22_on_pin_4", 1),
        ("DHT22_on_pin_4", 2),
        ("DS18B20_on_pin_5", 1),
        ("DS18B20_on_pin_5", 2),
    ]
    assert all(p["tags"]["room"] == "lab" for p in pts)


def test_no_rssi_when_not_connected_and_the_esp8266_sentinel():
    from tspush.device.wifi import Wifi

    for port, rssi, want in (("esp8266", 31, None), ("esp32", -61, -61), ("esp8266", -70, -70)):
        network.reset(rssi=rssi)
        ticks.port = port
        try:
            w = Wifi({"ssid": "home"}, Log([], Out()), network)
            assert w.rssi() is None  # not joined yet
            assert w.join(provision=False)
            assert w.rssi() == want, (port, rssi)
        finally:
            ticks.port = "linux"


def test_out_of_memory_in_a_cycle_is_counted_and_halves_the_batch_and_keeps_readings():
    v = Virtual()
    try:
        app, conn, out = make_app(spool_dir=fresh_dir("oom"), max_points=8, cycles=3)
        real = app.pusher.push
        calls = []

        def push(buffer):  # the second cycle runs out of memory after its reading is stored
            calls.append(1)
            if len(calls) == 2:
                raise MemoryError("memory allocation failed")
            return real(buffer)

        app.pusher.push = push
        app.setup = lambda: None
        app.run()
    finally:
        v.undo()
    assert app.memory_errors == 1
    assert "error: out of memory while running cycle 2" in out.text
    assert (
        "memory: 1 time(s) so far; the readings taken are kept; batches now at most 4" in out.text
    )
    assert app.pusher.max_points in (4, 8)  # halved, grows back once sending works
    assert len(sent(conn)) == 3 and [len(json.loads(b)) for b in conn.bodies] == [1, 2]


def test_out_of_memory_while_storing_retries_once_then_counts_the_loss():
    app, conn, out = make_app(spool_dir=fresh_dir("oomstore"))
    sp = app.buffer.spool
    real = sp.append_records
    fails = [1]

    def append_records(recs):
        if fails[0]:
            fails[0] -= 1
            raise MemoryError("memory allocation failed")
        return real(recs)

    sp.append_records = append_records
    app.sample()  # the first try fails, the second stores
    assert sp.pending("board") == 1 and app.memory_errors == 1 and app.buffer.dropped == 0
    fails[0] = 2
    app.sample()  # both tries fail: lost, and said so
    assert sp.pending("board") == 1 and app.memory_errors == 3 and app.buffer.dropped == 1
    assert "spool: 1 reading(s) of this cycle are lost (counted)" in out.text


def listening_socket():
    """A loopback socket that listens and never accepts: ``(socket, port)``."""
    import os
    import socket

    for _ in range(50):
        s = socket.socket()
        port = 20000 + int.from_bytes(os.urandom(2), "little") % 40000
        try:
            s.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
            s.listen(4)
            return s, port
        except OSError:
            s.close()
    raise AssertionError("no free port")


def test_a_slow_server_neither_stops_the_readings_nor_starves_the_watchdog():
    """The server takes the request and never answers: readings go on while the board waits."""
    import sys

    if sys.implementation.name != "micropython":
        return  # CPython's sockets wait inside recv(); the poll() loop is MicroPython's
    srv, port = listening_socket()  # the kernel takes the connection; nobody answers
    try:
        network.reset()
        machine.reset_state()
        out = Out()
        cfg = config.check(
            {
                "url": "http://127.0.0.1:%d/api/put" % port,
                "spool_dir": "",
                "interval_s": 1,
                "watchdog_s": 30,
                "timeout_s": 4,
                "provision": False,
            }
        )
        app = App(cfg, Log([], out), network, ntptime, machine)
        app.setup()
        app.run_cycle()  # one reading, then a POST that waits 4 s for an answer
    finally:
        srv.close()
    assert "error: timeout while sending" in out.text
    assert app.cycle >= 3, out.text  # readings at 1 s, 2 s, 3 s were taken while waiting
    assert machine.state["wdt"].count("feed") >= 3
    assert app.buffer.ram_count() == app.cycle  # kept for the next try


def test_a_full_spool_drops_the_oldest_and_every_drop_is_counted():
    app, conn, out = make_app(
        spool_dir=fresh_dir("full"), spool_max_bytes=1024, spool_segment_bytes=256, max_points=50
    )
    for _ in range(40):  # offline: 40 readings of about 60 bytes, into 1 KiB of flash
        app.sample()
    app.push()
    got = len(sent(conn))
    lost = app.buffer.spool.dropped("board")
    assert lost > 0 and got + lost == 40, (got, lost)
    assert "warning: %d reading(s) lost so far: the oldest go when the spool" % lost in out.text


def test_wifi_drop_is_repaired():
    app, conn, out = make_app()
    app.run_cycle()
    network.state["drop"] = True
    app.run_cycle()
    assert "Wi-Fi: link lost; re-joining" in out.text
    assert len(conn.bodies) == 2


def test_tls_mode_is_stated_and_esp8266_cannot_verify():
    from mpcompat import raises
    from tspush.core.errors import ConfigError
    from tspush.device.tlsmode import min_free, tls_options

    out = Out()
    cfg = config.check({"url": "https://db.example/api/put"})
    e = raises(ConfigError, tls_options, cfg, Log([], out), "esp8266")
    assert e.key == "tls_verify" and "relay" in str(e)
    ticks.port = "esp8266"  # the port decision, as a board makes it
    try:
        e = raises(ConfigError, tls_options, cfg, Log([], out))
        assert min_free(cfg) == 20000  # axTLS crashes when the heap runs out
    finally:
        ticks.port = "esp32"
    try:
        assert min_free(cfg) == 0  # mbedTLS raises MemoryError instead
        # the ESP32 goes on to read its CA file (there is none here), no axTLS refusal
        e32 = raises(ConfigError, tls_options, cfg, Log([], out))
    finally:
        ticks.port = "linux"
    assert e.key == "tls_verify" and e32.key == "tls_ca"
    insecure = config.check({"url": "https://db.example/api/put", "tls_verify": "none"})
    assert tls_options(insecure, Log([], out), "esp8266") == {"insecure": True}
    assert "warning: TLS: the server's certificate is NOT verified" in out.text
    e = raises(
        ConfigError,
        tls_options,
        config.check({"url": "https://x/api/put", "tls_ca": "/nonexistent.der"}),
        Log([], out),
        "esp32",
    )
    assert e.key == "tls_ca"


def test_radio_off_between_pushes_when_joining_every_n_samples():
    app, conn, out = make_app(wifi_every=2)
    app.run_cycle()
    app.run_cycle()
    assert len(conn.bodies) == 1
    assert not network.WLAN(network.STA_IF).active()
    app.run_cycle()
    app.run_cycle()
    assert len(conn.bodies) == 2
    assert network.state["connects"] == ["home", "home"]
    assert "link lost" not in out.text


def test_the_relay_records_are_the_opentsdb_encoders_bytes_and_bad_readings_are_judged_the_same():
    """The app stores readings without loading core.point/opentsdb: same bytes, same verdicts."""
    from tspush.core.opentsdb import encode_point
    from tspush.core.point import Point, check
    from tspush.device.app import _bad, record

    tags = {"board": "d1-mini", "room": "lab.1/a_b"}
    cases = [
        ("env.temp", 21.5, 1790000000, tags),
        ("universe", 42, None, tags),
        ("x", -0.0001, 1790000001, {}),
        ("h\u00e9", 3, 1790000002, {"k": "v"}),  # a letter outside ASCII: core.point decides
    ]
    for metric, value, ts, t in cases:
        assert _bad(metric, value, ts, t) is None, metric
        assert record(metric, value, ts, t) == encode_point(Point(metric, value, ts, t))
    bad = [
        ("has space", 1, tags),
        ("", 1, tags),
        ("m", True, tags),
        ("m", float("nan"), tags),
        ("m", float("inf"), tags),
        ("m", "12", tags),
        ("m", 1, {"k": 'a"b'}),
        ("m", 1, {"": "v"}),
        ("m", 1, {"k": 5}),
    ]
    for metric, value, t in bad:
        err = _bad(metric, value, 1790000000, t)
        want = check(Point(metric, value, 1790000000, t))
        assert err is not None and str(err) == str(want), (metric, value, t)


def test_out_of_memory_at_set_up_is_a_crash_that_makes_no_error_class():
    # A board short of heap at boot: the MemoryError is logged as a crash (then a restart),
    # and telling it from a config error must not make the config error classes
    # (core/errorkinds.py), which a full heap has no room for.
    import sys

    import tspush.device.app as app_mod

    network.reset()
    machine.reset_state()
    d = fresh_dir("oomsetup")
    path = d + "/config.json"
    cfg = config.check({"url": "http://10.0.0.2:4242/api/put", "spool_dir": ""})
    cfg["complete"] = True
    f = open(path, "w")
    f.write(json.dumps(cfg))
    f.close()
    real = App.setup

    def setup(self):
        raise MemoryError("memory allocation failed, allocating 184 bytes")

    App.setup = setup
    import tspush.core as core
    from tspush.core import errors as errors_mod

    kinds = sys.modules.pop("tspush.core.errorkinds", None)
    if hasattr(core, "errorkinds"):  # as never imported: not on the package either
        delattr(core, "errorkinds")
    made_before = errors_mod.__dict__.pop("ConfigError", None)  # as on a fresh boot
    caught = None
    try:
        app_mod.main(path, network, ntptime, machine, wait_forever=False)
    except MemoryError as e:  # after the crash line (no restart when not waiting forever)
        caught = e
    finally:
        App.setup = real
        made = "tspush.core.errorkinds" in sys.modules
        if kinds is not None:
            sys.modules["tspush.core.errorkinds"] = kinds
            core.errorkinds = kinds
        if made_before is not None:
            errors_mod.__dict__["ConfigError"] = made_before
    assert caught is not None and "184 bytes" in str(caught)
    assert not made
