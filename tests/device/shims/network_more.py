"""The ``network`` shim's test helper and WPS (see network.py)."""

from network import _radios, fresh, state


def reset(**kw):
    state.clear()
    state.update(fresh())
    state.update(kw)
    _radios.clear()


def wps(radio):
    """``WLAN.wps()`` where the port offers it: the router hands over its credentials."""
    state["saved"] = state["wps_gives"]
    radio.connect()
