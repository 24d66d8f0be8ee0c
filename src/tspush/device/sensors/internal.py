"""The board about itself: free heap, Wi-Fi signal, uptime, last reset cause."""

import gc

from tspush.device import ticks


class Internal:
    def __init__(self, spec, ctx):
        self.prefix = spec.get("metric", "board")
        self.app = ctx.get("app")  # its Wi-Fi is made at the first push
        self.started_ms = ctx.get("started_ms", 0)
        self.name = "internal"

    def read(self):
        p = self.prefix
        out = []
        free = getattr(gc, "mem_free", None)
        if free is not None:
            out.append((p + ".heap_free_bytes", free()))
        out.append((p + ".uptime_s", ticks.ticks_diff(ticks.ticks_ms(), self.started_ms) // 1000))
        wifi = getattr(self.app, "wifi", None)
        if wifi is not None:
            rssi = wifi.rssi()
            if isinstance(rssi, int):
                out.append((p + ".rssi_dbm", rssi))
        try:
            import machine

            out.append((p + ".reset_cause", machine.reset_cause()))
        except (ImportError, AttributeError):
            pass
        return out
