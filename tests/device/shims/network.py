"""Shim of MicroPython's ``network`` for tests: a Wi-Fi radio driven by ``state``.

On a board ``network`` is C in the firmware and holds no heap; here it sits in
the image whose heap ``bench/bench_board.py`` measures, so the tests' helper
``reset`` and WPS are in ``network_more``, loaded by ``__getattr__`` at first use.
"""

STA_IF = 0
AP_IF = 1
STAT_IDLE = 0
STAT_CONNECTING = 1
STAT_WRONG_PASSWORD = 2
STAT_NO_AP_FOUND = 3
STAT_GOT_IP = 5


def fresh():
    """The radio's state at power-on. Tests change it (``reset(**kw)``): how many polls a
    join takes, which password works, WPS offered..."""
    return {
        "polls_to_join": 1,  # isconnected() calls before the link is up
        "password": None,  # None: any password works
        "saved": ("home", "pw"),  # credentials the radio remembers
        "wps": False,  # offer WLAN.wps()
        "wps_gives": ("wpsnet", "wpspw"),
        "ip": "127.0.0.1",
        "rssi": -61,
        "hostname": None,
        "connects": [],
        "drop": False,  # link is down until the next connect()
        "down": [],  # [from, to] host Unix seconds: no access point in reach
    }


state = fresh()
_radios = {}


def hostname(name=None):
    if name is None:
        return state.get("hostname")
    state["hostname"] = name


class WLAN:
    def __new__(cls, iface=STA_IF):
        r = _radios.get(iface)
        if r is None:
            r = object.__new__(cls)
            r._active = iface == AP_IF  # a fresh ESP8266 starts its open AP
            r._linked = False
            r._polls = 0
            r._status = STAT_IDLE
            r._cfg = {}
            if state["wps"]:  # only some ports offer WPS: present or absent, as on a board
                r.wps = lambda: __getattr__("wps")(r)
            _radios[iface] = r
        return r

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)
        if not on:
            self._linked = False

    def config(self, **kw):
        self._cfg.update(kw)

    def connect(self, ssid=None, password=None):
        if ssid is None:
            if not state["saved"]:
                raise OSError("no saved credentials")
            ssid, password = state["saved"]
        state["connects"].append(ssid)
        state["drop"] = False
        self._polls = 0
        self._linked = False
        want = state["password"]
        self._status = (
            STAT_WRONG_PASSWORD if want is not None and password != want else STAT_CONNECTING
        )

    def status(self, what=None):
        if what == "rssi":
            return state["rssi"]
        return self._status

    def isconnected(self):
        import time

        now = time.time()
        for w in state["down"]:
            if w[0] <= now < w[1]:
                self._linked = False
                return False
        if state["drop"]:
            self._linked = False
            return False
        if self._linked:
            return True
        if self._status == STAT_CONNECTING:
            self._polls += 1
            if self._polls >= state["polls_to_join"]:
                self._linked = True
                self._status = STAT_GOT_IP
        return self._linked

    def ifconfig(self):
        return (state["ip"], "255.255.255.0", "127.0.0.1", "127.0.0.1")

    def disconnect(self):
        self._linked = False


def __getattr__(name):
    import network_more

    return getattr(network_more, name)
