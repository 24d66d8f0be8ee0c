"""Joining Wi-Fi: saved credentials, then WPS where the port has it, then the setup page.

Like the original: station mode, a hostname, a dot every 0.5 s while
waiting, ``IP address: ...`` on success. Unlike it: WPS is used only if
this port's ``network.WLAN`` offers it (mainline MicroPython does not, so it
is detected, not assumed), the access-point page (``portal``) takes over
when both fail, and ``ensure()`` re-joins when the link drops later.
The open ``MicroPython-xxxxxx`` access point of a fresh ESP8266 is turned off.
"""

from tspush.device import ticks

try:
    from micropython import const  # a private const name is not interned (RAM)
except ImportError:  # CPython
    const = int

_POLL_MS = const(500)
_WPS_S = const(30)


class Wifi:
    def __init__(self, cfg, log, network=None, feed=None, config_path="config.json"):
        self.net = network if network is not None else __import__("network")
        self.cfg = cfg
        self.log = log
        self.feed = feed or (lambda: None)
        self.config_path = config_path
        self.sta = None
        self.joins = 0
        self.drops = 0
        name = cfg.get("hostname")
        if not name:  # tspush- and the chip id's last 6 hex digits
            try:
                import binascii

                import machine

                name = binascii.hexlify(machine.unique_id()).decode()[-6:]
            except (ImportError, AttributeError, OSError):
                name = "0000"
            name = "tspush-" + name
        self.hostname = name

    def _station(self):
        """The station interface, made once: hostname set, the open setup AP off."""
        if self.sta is None:
            net = self.net
            sta = self.sta = net.WLAN(net.STA_IF)
            sta.active(True)
            name = self.hostname
            setter = getattr(net, "hostname", None)
            try:
                if setter is not None:
                    setter(name)
                else:
                    sta.config(dhcp_hostname=name)
            except (OSError, ValueError, TypeError):
                pass
            try:
                ap = net.WLAN(net.AP_IF)
                if ap.active():
                    ap.active(False)
            except (OSError, AttributeError):
                pass
        return self.sta

    def rssi(self):
        """Signal in dBm, or None when not connected (the ESP8266 then says 31)."""
        sta = self.sta
        if sta is None or not sta.isconnected():
            return None
        try:
            v = sta.status("rssi")
        except (OSError, ValueError, TypeError, AttributeError):
            return None
        return None if v == 31 and ticks.port == "esp8266" else v

    def join(self, provision=True):
        """True when joined. Tries saved credentials, WPS, then (if allowed) the setup page."""
        sta = self._station()
        if sta.isconnected():
            return True
        ssid = self.cfg.get("ssid") or ""
        self.log.line(
            "Wi-Fi: joining %s as %s" % (repr(ssid) if ssid else "saved network", self.hostname)
        )
        if self._wait(self._connect, self.cfg.get("wifi_timeout_s", 120)):
            return True
        if self._wps():
            return True
        if provision and self.cfg.get("provision", True):
            from tspush.device import portal

            saved = portal.run(
                self.net,
                self.config_path,
                self.log,
                self.cfg.get("provision_timeout_s", 300),
                name=self.hostname,
                feed=self.feed,
                cfg=self.cfg,
            )
            if saved:
                from tspush.device import config

                new = config.update(self.config_path, {})
                self.cfg["ssid"] = new.get("ssid", "")
                self.cfg["password"] = new.get("password", "")
                self.sta = None
                sta = self._station()
                return self._wait(self._connect, self.cfg.get("wifi_timeout_s", 120))
        self.log.say(32)  # Wi-Fi: not joined; ... (core/says.py)
        return False

    def _connect(self):
        ssid = self.cfg.get("ssid") or ""
        sta = self._station()
        try:
            if ssid:
                sta.connect(ssid, self.cfg.get("password") or "")
            else:
                sta.connect()
        except (OSError, TypeError) as e:
            self.log.say(33, e)  # Wi-Fi: cannot start joining (...)
            return False
        return True

    def _wait(self, start, timeout_s):
        if not start():
            return False
        polls = int(timeout_s * 1000 // _POLL_MS)
        sta = self._station()
        for _ in range(polls):
            if sta.isconnected():
                self.joins += 1
                self.log.ip(sta.ifconfig()[0])
                return True
            why = None
            try:
                st = sta.status()
            except (OSError, TypeError):
                st = None
            for entry in self.log.text(36).split("|") if st is not None else ():
                name, _, words = entry.partition(":")  # STAT_ name:words, from flash
                code = getattr(self.net, name, None)
                if code is not None and st == code:
                    why = words
                    break
            if why:
                self.log.say(34, why)
                return False
            self.log.dot()
            self.feed()
            ticks.sleep_ms(_POLL_MS)
        if sta.isconnected():
            self.joins += 1
            self.log.ip(sta.ifconfig()[0])
            return True
        self.log.say(35, timeout_s)
        return False

    def _wps(self):
        wps = getattr(self.sta, "wps", None)
        if wps is None:
            self.log.say(37)  # no WPS in this build
            return False
        self.log.say(38)  # WPS: press the button

        def start():
            try:
                wps()
            except (OSError, TypeError) as e:
                self.log.say(39, e)
                return False
            return True

        return self._wait(start, _WPS_S)

    def ensure(self):
        """Re-join when the link dropped since the last cycle (the original never did)."""
        if self.sta is not None and self.sta.isconnected():
            return True
        if self.sta is not None and self.joins:
            self.drops += 1
            self.log.say(40)  # Wi-Fi: link lost; re-joining
        return self.join(provision=self.joins == 0)

    def off(self):
        if self.sta is not None:
            try:
                self.sta.active(False)
            except OSError:
                pass
            self.sta = None
